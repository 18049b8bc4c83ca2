import numpy as np
import pytest
import torch
from conftest import SEEDED, photo
from PIL import Image

from resnet_demo.base import settings
from resnet_demo.serving import classifiers, gradcam, weights
from resnet_demo.views import classify_text


def test_every_resnet_and_weights_variant_is_offered():
    names = classifiers.model_names()
    for arch in ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152"):
        assert arch in names
    for arch in ("resnet50", "resnet101", "resnet152"):  # V1 and V2 where both exist; DEFAULT is V2
        assert weights.weights_of(arch).name == "IMAGENET1K_V2"
        assert weights.weights_of(f"{arch}.IMAGENET1K_V1").name == "IMAGENET1K_V1"
    assert weights.weights_of("resnet18").name == "IMAGENET1K_V1"
    assert "80.9% top-1" in classify_text.describe_key("resnet50")  # from weights.meta


def test_the_stored_model_list_is_what_torchvision_says():
    """The app lists and labels its ImageNet models from assets/imagenet_models.json (no torchvision import at
    start-up); it must equal torchvision's weights enums (after a torchvision upgrade: scripts/imagenet_catalog.py)."""
    assert weights.read_catalog() == weights.catalog_from_torchvision()
    for key in weights.IMAGENET_KEYS + weights.INT8_KEYS:
        w = weights.weights_of(key)
        assert f"{w.meta['_metrics']['ImageNet-1K']['acc@1']:.1f}% top-1" in classify_text.describe_key(key)
    with pytest.raises(weights.UnknownModel):
        weights.weights_of("resnet50.IMAGENET1K_V9")


@pytest.mark.parametrize("key", SEEDED)
def test_predict_through_the_real_loading_path(torch_home, key):
    top = classifiers.predict(Image.open(photo()), key)
    cats = weights.weights_of(key).meta["categories"]
    assert len(top) == 5 and all(label in cats for label, _ in top)
    probs = [p for _, p in top]
    assert probs == sorted(probs, reverse=True) and sum(probs) <= 1 + 1e-6
    # the same answer as torchvision's own builder fed the same file
    ref = __import__("torchvision").models.get_model(key, weights=None)
    ref.load_state_dict(torch.load(weights.weights_path(weights.weights_of(key)), weights_only=True))
    x = weights.weights_of(key).transforms()(Image.open(photo()).convert("RGB")).unsqueeze(0)
    with torch.no_grad():
        p = ref.eval()(x).softmax(1)[0]
    assert [cats[i] for i in p.topk(5).indices] == [label for label, _ in top]


@pytest.mark.parametrize("name", ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"])
def test_preprocessing_is_exactly_the_weights_transforms(torch_home, name):
    clf = classifiers.MODELS.get("resnet50")
    img = Image.open(photo(name)).convert("RGB")
    assert torch.equal(clf.preprocess(img), weights.weights_of("resnet50").transforms()(img))


def test_grad_cam_has_the_image_size_and_unit_range(torch_home):
    img = Image.open(photo()).convert("RGB")
    pred = classifiers.classify(img, "resnet18")
    cam = pred.heatmap()
    assert cam.shape == (img.height, img.width) and cam.dtype == np.float32
    assert cam.min() >= 0 and cam.max() <= 1 and cam.max() > 0.5
    left, top, right, bottom = pred.box
    assert cam[:, :left].max() == 0 and cam[:, right:].max() == 0  # nothing outside the centre crop
    assert gradcam.overlay(img, cam, pred.box).size == img.size


def test_grad_cam_matches_a_hook_based_reference(torch_home):
    """Independent reference: hooks on layer4 of a private copy, autograd through the whole net."""
    clf = classifiers.MODELS.get("resnet18")
    img = Image.open(photo()).convert("RGB")
    pred = classifiers.classify(img, "resnet18")
    model = __import__("copy").deepcopy(clf.model).requires_grad_(True)
    acts = []
    model.layer4.register_forward_hook(lambda _m, _i, o: acts.append(o))
    logits = model(clf.preprocess(img).unsqueeze(0))
    (g,) = torch.autograd.grad(logits[0, logits[0].argmax()], acts[0])
    ref = torch.relu((g.mean((2, 3), keepdim=True) * acts[0]).sum(1))[0]
    assert torch.allclose(pred.cam_map, (ref / ref.max()).detach(), atol=1e-4)


def test_extreme_aspect_ratios_do_not_blow_up_memory(torch_home):
    for size in ((10000, 10), (10, 10000), (1, 1)):
        top = classifiers.predict(Image.new("RGB", size, (120, 60, 30)), "resnet18")
        assert len(top) == 5
    img = Image.open(photo()).convert("RGB")
    assert classifiers.limit_aspect(img) is img  # ordinary photos are untouched


def test_missing_weights_offline_name_the_file_and_log_the_folder(torch_home, monkeypatch, caplog):
    """The visitor reads which file and why, in words; the folder it belongs in goes to the log, not the page."""
    monkeypatch.setenv("RESNET_DEMO_OFFLINE", "1")
    with pytest.raises(weights.WeightsUnavailable) as e:
        classifiers.predict(Image.open(photo()), "resnet34")
    assert "resnet34-b627a593.pth" in str(e.value) and "downloads are turned off" in str(e.value)
    assert str(torch_home) not in str(e.value)
    assert str(torch_home / "hub" / "checkpoints") in caplog.text
    assert len(classifiers.predict(Image.open(photo()), "resnet18")) == 5  # the others keep working


class _FakeResponse:
    def __init__(self, body: bytes):
        self.body, self.headers = body, {"Content-Length": str(len(body))}

    def read(self, n):
        chunk, self.body = self.body[:n], self.body[n:]
        return chunk

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_download_checks_the_hash_and_reports_progress(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("RESNET_DEMO_OFFLINE", raising=False)
    w = weights.weights_of("resnet18")
    monkeypatch.setattr(weights.urllib.request, "urlopen", lambda url, timeout: _FakeResponse(b"x" * (3 << 20)))
    seen = []
    with pytest.raises(weights.WeightsUnavailable, match="corrupt"):
        weights.ensure_weights(w, progress=lambda done, total: seen.append((done, total)))
    assert seen[-1] == (3 << 20, 3 << 20) and len(seen) == 3
    assert not weights.weights_path(w).exists() and not list(weights.weights_path(w).parent.glob("*.partial"))


def test_unknown_model_is_refused():
    with pytest.raises(weights.UnknownModel):
        classifiers.predict(Image.new("RGB", (8, 8)), "vgg16")


def test_model_cache_is_bounded(torch_home):
    cache = classifiers.ModelCache(1)
    cache.get("resnet18")
    cache.get("resnet50")
    assert cache.loaded() == ["resnet50"]


def test_download_lands_in_the_torchvision_cache(tmp_path, monkeypatch):
    import hashlib
    from types import SimpleNamespace

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.delenv("RESNET_DEMO_OFFLINE", raising=False)
    body = b"weights" * 1000
    digest = hashlib.sha256(body).hexdigest()
    w = SimpleNamespace(url=f"https://download.pytorch.org/models/tiny-{digest[:8]}.pth", meta={"_file_size": 0})
    urls = []
    monkeypatch.setattr(weights.urllib.request, "urlopen", lambda url, timeout: urls.append(url) or _FakeResponse(body))
    path = weights.ensure_weights(w)
    assert path == tmp_path / "hub" / "checkpoints" / f"tiny-{digest[:8]}.pth" and path.read_bytes() == body
    assert weights.ensure_weights(w) == path and len(urls) == 1  # cached: no second download


@pytest.mark.parametrize("name", ["chelsea.png", "coffee.png"])
def test_int8_opt_in_matches_torchvisions_quantized_model(torch_home, name):
    """What we own: the int8 trunk we call plus our float head. Against the same quantized model's own
    trunk with a float head, equal (same kernels on the same CPU, whatever its ISA). Against torchvision's
    whole int8 model, whose fc layer also rounds its input and its output to int8, within two steps of the
    fc's output scale: FBGEMM rounds differently on AVX2 and AVX-512, by at most a step. The stand-in
    weights are calibrated on real photos, so no layer saturates (seeded by conftest.torch_home)."""
    import torch.nn.functional as F

    key = "resnet50.int8"
    w = weights.weights_of(key)
    img = Image.open(photo(name)).convert("RGB")
    pred = classifiers.classify(img, key)
    clf = classifiers.MODELS.get(key)
    with torch.inference_mode():
        ours = clf.head(clf.trunk(clf.preprocess(img).unsqueeze(0)))[0]
    ref = __import__("torchvision").models.quantization.resnet50(weights=None, quantize=True)
    ref.load_state_dict(torch.load(weights.weights_path(w), weights_only=True))
    ref.eval()
    feats = []
    hook = ref.layer4.register_forward_hook(lambda _m, _i, out: feats.append(out.dequantize()))
    with torch.inference_mode():
        int8 = ref(w.transforms()(img).unsqueeze(0))[0]
    hook.remove()
    float_head = F.linear(torch.flatten(F.adaptive_avg_pool2d(feats[0], 1), 1), ref.fc.weight().dequantize(),
                          ref.fc.bias())[0]
    assert torch.allclose(ours, float_head, rtol=1e-5, atol=1e-4)
    step = float(ref.fc.scale)
    lowest, highest = -int(ref.fc.zero_point) * step, (255 - int(ref.fc.zero_point)) * step  # quint8 output
    assert lowest < float(int8.min()) and float(int8.max()) < highest, "int8 logits clip: stand-in not calibrated"
    assert float((ours - int8).abs().max()) <= 2 * step
    cats = w.meta["categories"]
    assert cats[int(int8.argmax())] in [label for label, _ in pred.top[:2]]
    assert pred.top[0][0] == cats[int(ours.argmax())]
    assert pred.cam_map.shape == (7, 7) and float(pred.cam_map.max()) == 1.0
    # the accuracy cost comes from torchvision's metadata, not typed in
    fp32 = w.meta["unquantized"].meta["_metrics"]["ImageNet-1K"]["acc@1"]
    int8 = w.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    assert f"{fp32 - int8:.2f} points" in pred.info["accuracy cost of int8 (published)"]
    label = classify_text.describe_key(key)
    assert f"{int8:.1f}% top-1" in label and f"fp32 {fp32:.1f}%" in label
    assert key in classifiers.model_names() and key not in weights.IMAGENET_KEYS  # not offered to gradient flow


def test_the_code_snippet_reproduces_the_cifar_result_and_names_real_torchvision_objects(tmp_path, monkeypatch):
    """#25, "use it in your own code": the CIFAR snippet, run as a user would (from the repository, on a photo),
    prints the label and probability Classify shows; the ImageNet snippets import what they name."""
    import contextlib
    import io
    import shutil

    from conftest import ROOT, photo

    shutil.copy(photo(), tmp_path / "photo.jpg")
    src = classify_text.code_snippet("cifar-resnet56").replace("assets/checkpoints/", f"{ROOT}/assets/checkpoints/")
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(src, "snippet", "exec"), {})
    from PIL import Image

    label, p = classifiers.classify(Image.open(tmp_path / "photo.jpg").convert("RGB"), "cifar-resnet56").top[0]
    assert out.getvalue().strip() == f"{label} {p:.1%}"
    for key in ("resnet50.IMAGENET1K_V1", "resnet152", "resnet50.int8"):
        snippet = classify_text.code_snippet(key)
        imports = "\n".join(line for line in snippet.splitlines() if line.startswith(("from ", "import ")))
        exec(imports, {})  # the enums and builders it names exist in this torchvision
        assert "weights.transforms()" in snippet and "pretrained" not in snippet
    assert "ResNet50_Weights.IMAGENET1K_V1" in classify_text.code_snippet("resnet50.IMAGENET1K_V1")


def test_readme_and_methods_name_every_offline_model():
    """README's /classify model list and docs/methods.md's Classify paragraph name every shipped CIFAR-10 checkpoint
    (so promoting a new one, as ResNet-110 of the depth sweep, cannot leave them out of date)."""
    readme = (settings.ROOT / "README.md").read_text()
    methods = " ".join((settings.ROOT / "docs" / "methods.md").read_text().split())
    for key in (k for k in classifiers.model_names() if k.startswith("cifar-")):
        assert key in readme, f"README's /classify model names lack {key}"
        assert f"`{key}`" in methods, f"docs/methods.md's Classify paragraph lacks {key}"


def test_the_model_list_marks_models_whose_weights_are_absent(torch_home, monkeypatch):
    """#41: a model whose weights are not on the server does not look as available as the rest."""
    assert classify_text.describe_key("resnet18").endswith("top-1 ImageNet")  # seeded: nothing to say
    assert classify_text.describe_key("resnet152").endswith(" · weights not on this server")  # offline (tests)
    monkeypatch.delenv("RESNET_DEMO_OFFLINE")
    size = weights.weights_of("resnet152").meta["_file_size"]
    assert classify_text.describe_key("resnet152").endswith(f" · download on first use, ~{size:.0f} MB")
    assert "download" not in classify_text.describe_key("cifar-resnet56")


def test_the_code_note_speaks_of_the_code_beside_it():
    """#41: the default CIFAR model's code is this project's loader; its note must not explain torchvision's enums."""
    assert "load_checkpoint" in classify_text.code_snippet("cifar-resnet56")
    assert "load_checkpoint" in classify_text.snippet_note("cifar-resnet56")
    assert "weights enums" not in classify_text.snippet_note("cifar-resnet56")
    assert "weights enums" in classify_text.snippet_note("resnet50") and "ResNet50_Weights" in \
        classify_text.code_snippet("resnet50")
