"""The launched app through gradio_client: the API endpoints documented in README."""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from conftest import free_port, photo
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from resnet_demo.base.settings import settings
from resnet_demo.serving import live

pytestmark = pytest.mark.slow  # every test here talks to a launched app


@pytest.fixture(scope="module")
def app_url(torch_home):
    base = live.PRESETS[live.DEFAULT_PRESET]
    live.PRESETS["tiny"] = dataclasses.replace(
        base, config=dataclasses.replace(base.config, iterations=12, eval_every=6, log_every=3, smoothing=3),
        train_images=256, test_images=64)
    from resnet_demo.ui import build_demo

    demo = build_demo()
    demo.queue(max_size=16)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True,
                            max_file_size=settings().max_bytes)
    yield url
    demo.close()
    del live.PRESETS["tiny"]


@pytest.fixture(scope="module")
def client(app_url):
    return Client(app_url, verbose=False)


def test_classify_upload_returns_top5_from_the_categories(client):
    from torchvision.models import ResNet18_Weights

    label, heat, details = client.predict(handle_file(str(photo())), "", "resnet18", api_name="/classify")
    confidences = label["confidences"]
    assert len(confidences) == 5
    cats = set(ResNet18_Weights.IMAGENET1K_V1.meta["categories"])
    assert all(c["label"] in cats for c in confidences)
    probs = [c["confidence"] for c in confidences]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    assert label["label"] == confidences[0]["label"]
    assert "11.69 M" in details and "69.758%" in details  # params and acc@1 from weights.meta
    assert heat is not None


def test_classify_int8_opt_in_reports_backend_and_accuracy_cost(client):
    from torchvision.models.quantization import ResNet50_QuantizedWeights

    label, heat, details = client.predict(handle_file(str(photo())), "", "resnet50.int8", api_name="/classify")
    assert len(label["confidences"]) == 5 and heat is not None
    cats = set(ResNet50_QuantizedWeights.DEFAULT.meta["categories"])
    assert all(c["label"] in cats for c in label["confidences"])
    assert "torch int8" in details and "0.58 points top-1" in details
    _, _, details = client.predict(handle_file(str(photo())), "", "resnet50", api_name="/classify")
    assert "ONNX Runtime" in details


@pytest.mark.parametrize("upload,url,message", [
    (None, "", "Upload an image or paste an image URL"),
    (None, "http://169.254.169.254/latest/meta-data/", "Refused"),
    (None, "file:///etc/passwd", "http:// and https://"),
    ("text", "", "not an image we can read"),
])
def test_classify_refusals_are_clear_messages(client, tmp_path, upload, url, message):
    if upload == "text":
        path = tmp_path / "notes.jpg"
        path.write_text("definitely not a picture")
        upload = handle_file(str(path))
    with pytest.raises(AppError, match=message):
        client.predict(upload, url, "resnet18", api_name="/classify")
    # and the server keeps serving
    label, _, _ = client.predict(handle_file(str(photo())), "", "resnet18", api_name="/classify")
    assert len(label["confidences"]) == 5


def test_cifar_models_state_their_measured_error_schedule_and_what_they_see(client):
    from resnet_demo.nets import cifar, runs
    from resnet_demo.nets.cifar import load_checkpoint

    _, meta = load_checkpoint(cifar.checkpoints()["cifar-resnet20"])
    (run,) = [r for r in runs.stored_runs() if r["name"] == meta["run_name"]]
    _, heat, details = client.predict(handle_file(str(photo())), "", "cifar-resnet20", api_name="/classify")
    assert f"{100 * meta['test_error']:.2f}% on the 10,000 test images of a JPEG re-encoded copy" in details
    assert f"{run['recipe']['iterations']:,} iterations of batch 128" in details
    assert "sees the whole image" in details and "centre crop" not in details
    _, _, details = client.predict(handle_file(str(photo())), "", "resnet18", api_name="/classify")
    assert "centre crop" in details and "whole image" not in details


def test_missing_weights_name_the_file_not_the_servers_folder(client, torch_home):
    """The client reads which file is missing and why, in words; where it belongs on the server is for the log."""
    with pytest.raises(AppError, match=r"resnet101-cd907fc2\.pth.*downloads are turned off") as e:
        client.predict(handle_file(str(photo())), "", "resnet101", api_name="/classify")
    assert str(torch_home) not in str(e.value) and "hub/checkpoints" not in str(e.value)


def test_grad_flow_endpoint(client):
    _, summary, result = client.predict(110, False, 400, 0, api_name="/grad_flow")  # stored: answered at once
    assert result["source"] == "stored" and result["steps"] == [0, 10, 25, 50, 100, 200, 400]
    assert len(result["layers"]) == len(result["nets"]["plain"]["grad_rms"][0]) == 110
    assert result["layers"][0] == "conv" and result["layers"][-1] == "fc"
    assert "plain-110" in summary and "ResNet-110" in summary
    _, summary, result = client.predict(20, True, 0, 3, api_name="/grad_flow")  # seed 3: computed live
    assert result["source"] == "live" and result["steps"] == [0] and "Computed live" in summary
    with pytest.raises(AppError, match="not in the list of choices: \\[0, 10, 25, 50, 100, 200, 400\\]"):
        client.predict(20, True, 7, 0, api_name="/grad_flow")  # Gradio's dropdown refuses it, with the choices


def test_inside_trained_nets_endpoints(client):
    *_, summary, result = client.predict(20, 100, api_name="/lesion")
    for arch in ("residual", "plain"):
        r = result[arch]
        deletable = 9 if arch == "residual" else 7  # plain-20's 2 downsampling blocks cannot be deleted
        assert 0 <= r["baseline"] <= 1 and len(r["single"]) == 9
        assert [e["k"] for e in r["k_removed"]] == list(range(1, deletable + 1))
    assert [s["error"] is None for s in result["plain"]["single"]] == [i in (3, 6) for i in range(9)]
    assert "Computed live: 100 bundled test images" in summary
    _, text, result = client.predict(20, 32, 5, api_name="/loss_slice")
    assert result["residual"]["alphas"] == [-1.0, -0.5, 0.0, 0.5, 1.0] and len(result["plain"]["loss"]) == 5
    assert "at the trained weights" in text
    _, text, series = client.predict(api_name="/block_ratios")
    assert len(series["ResNet-56 trained"]) == 27 and len(series["ResNet-56 at init"]) == 27
    with pytest.raises(AppError, match="greater than maximum value 41"):  # Gradio's slider bound, then ours
        client.predict(20, 32, 400, api_name="/loss_slice")


def test_grad_flow_imagenet_profiles_fp32_models_and_refuses_the_others(client):
    from resnet_demo.serving import classifiers

    _, text = client.predict(handle_file(str(photo())), "", "resnet18", api_name="/grad_flow_imagenet")
    assert "Pretrained resnet18" in text and "last of its 20 convolutions" in text  # 17 + 3 projections
    model = classifiers.MODELS.get("resnet18").model
    assert all(not m._forward_hooks for m in model.modules()), "hooks left on the shared model"
    for name in ("resnet50.int8", "cifar-resnet20", "vgg16"):
        with pytest.raises(AppError, match="fp32 ImageNet ResNets"):
            client.predict(handle_file(str(photo())), "", name, api_name="/grad_flow_imagenet")


def test_a_soak_of_200_requests_leaves_the_temp_folders_bounded(client):
    """Every classify writes a heatmap file and every live run two downloads: the folders they go to hold
    at most their slot count, and Gradio's cache gains one copy per distinct file, not one per request."""
    from gradio.utils import get_upload_folder

    from resnet_demo.ui import classify, depth

    def cached_heatmaps() -> int:
        return len(list(Path(get_upload_folder()).rglob("gradcam.jpg")))

    upload = handle_file(str(photo()))
    client.predict(upload, "", "cifar-resnet20", api_name="/classify")
    before = cached_heatmaps()
    for _ in range(200):
        client.predict(upload, "", "cifar-resnet20", api_name="/classify")
    assert 0 < len(classify.HEATMAPS.files()) <= classify.HEATMAPS.slots
    assert cached_heatmaps() == before  # the same heatmap 200 times: Gradio keeps one copy (by content)
    for seed in range(3):
        client.submit("tiny", 8, 32, True, seed, False, api_name="/train_live").result(timeout=120)
    files = depth.DOWNLOADS.files()  # (other tests in this process may have run live runs before)
    assert {f"live-runs-seed{s}.{ext}" for s in range(3) for ext in ("csv", "json")} <= {f.name for f in files}
    assert len(files) <= 2 * depth.DOWNLOADS.slots


def test_paper_endpoint(client):
    """/paper: the claims as JSON, the same the tab shows (#25)."""
    from resnet_demo.views import claims

    got = client.predict(api_name="/paper")
    assert got == json.loads(json.dumps([c.json() for c in claims.claims()])) and len(got) >= 10


def test_residual_stream_endpoint(client):
    """/residual_stream (#26): the figure, the summary and the JSON; a CIFAR net comes with its twin; refusals are
    clear messages and the server keeps serving."""
    from resnet_demo.experiments import residual_stream as rs

    fig, text, data = client.predict(handle_file(str(photo())), "", "cifar-resnet20", api_name="/residual_stream")
    want = rs.on_image(Image.open(photo()), "cifar-resnet20").json()
    assert json.loads(json.dumps(want)) == {k: v for k, v in data.items() if k != "twin"}
    assert data["twin"]["net"] == "plain-20" and len(data["blocks"]) == len(data["twin"]["blocks"]) == 9
    assert set(data["blocks"][0]) >= {"name", "downsampling", "ratio", "deletable", "label_if_deleted",
                                      "probability_if_deleted"}
    assert "ResNet-20" in text and "plain-20" in text and fig is not None
    _, _, data = client.predict(handle_file(str(photo())), "", "resnet18", api_name="/residual_stream")
    assert data["net"] == "ResNet-18" and len(data["blocks"]) == 8 and "twin" not in data
    for upload, url, model, message in [(None, "", "resnet18", "Upload an image or paste an image URL"),
                                        (None, "http://127.0.0.1:1/x.png", "resnet18", "Refused"),
                                        (handle_file(str(photo())), "", "resnet50.int8", "Choose resnet50,")]:
        with pytest.raises(AppError, match=message):
            client.predict(upload, url, model, api_name="/residual_stream")
    _, _, data = client.predict(handle_file(str(photo())), "", "cifar-plain20", api_name="/residual_stream")
    assert data["net"] == "plain-20" and data["twin"]["net"] == "ResNet-20"  # the model asked for, then its twin


def test_architecture_endpoint(client):
    *_, counts = client.predict("resnet50", api_name="/architecture")
    assert counts["model"] == "resnet50" and counts["params"] == 25_557_032 and isinstance(counts["macs"], int)
    assert [s["name"] for s in counts["stages"]] == ["conv1", "conv2_x", "conv3_x", "conv4_x", "conv5_x", "head"]
    assert all(isinstance(s["params"], int) and isinstance(s["macs"], int) for s in counts["stages"])
    assert counts["paper"]["macs"] == 3_800_000_000 and "Table 1" in counts["paper"]["source"]
    *_, counts = client.predict("cifar-plain56", api_name="/architecture")
    assert counts["params"] == 853_018 and counts["paper"] is None  # Table 6 lists residual nets only
    with pytest.raises(AppError, match="not in the list of choices"):  # Gradio checks the dropdown first
        client.predict("resnet9000", api_name="/architecture")


def test_train_live_endpoint(client):
    job = client.submit("tiny", 8, 32, True, 1, False, api_name="/train_live")
    outputs = job.result(timeout=120)
    result = outputs[-1]
    assert set(result) == {"runs", "elapsed_s"} and result["elapsed_s"] > 0
    assert [r["iterations"][-1] for r in result["runs"]] == [12] * 4
    assert "Verdict" in outputs[1]


def _rss_mb() -> float:
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def test_bad_files_through_classify_get_a_prediction_or_a_clear_error(client, tmp_path):
    import badfiles

    cases = badfiles.build()
    assert len(cases) >= 30
    rss_before = None
    for i, (name, (data, expected)) in enumerate(sorted(cases.items())):
        path = tmp_path / name
        path.write_bytes(data)
        upload = handle_file(str(path))
        if expected == "ok":
            label, _, _ = client.predict(upload, "", "resnet18", api_name="/classify")
            assert len(label["confidences"]) == 5, name
        else:
            with pytest.raises(AppError) as err:
                client.predict(upload, "", "resnet18", api_name="/classify")
            message = str(err.value)
            assert "upstream" not in message.lower() and "traceback" not in message.lower(), (name, message)
        if i == 4:
            rss_before = _rss_mb()  # after warm-up
    label, _, _ = client.predict(handle_file(str(photo())), "", "resnet18", api_name="/classify")
    assert len(label["confidences"]) == 5  # still serving
    assert _rss_mb() - rss_before < 400, "memory grew while serving bad files"


def test_shortcut_lab_endpoint(client):
    """/shortcut_lab (#43): the stored profiles of the variants asked for, their closed forms, and a refusal."""
    _, text, lab = client.predict(["identity", "scale"], 56, 50, api_name="/shortcut_lab")
    assert [p["variant"] for p in lab["profiles"]] == ["identity", "scale"]
    assert all(p["steps"] == [0, 50] and len(p["grads"][0]) == 28 for p in lab["profiles"])
    assert lab["profiles"][1]["closed_form"] == pytest.approx(0.5 ** 27) and "λ^27" in text
    with pytest.raises(AppError, match="one to four"):
        client.predict([], 56, 0, api_name="/shortcut_lab")
