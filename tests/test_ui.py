"""Tab functions called as Gradio calls them, for behaviour the API cannot reach (Stop has no endpoint)."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from resnet_demo.serving import live
from resnet_demo.ui import depth


@pytest.fixture
def tiny_preset():
    base = live.PRESETS[live.DEFAULT_PRESET]
    live.PRESETS["tiny-ui"] = dataclasses.replace(
        base, config=dataclasses.replace(base.config, iterations=6, eval_every=3, log_every=3, smoothing=3),
        train_images=128, test_images=32)
    yield "tiny-ui"
    del live.PRESETS["tiny-ui"]


def test_stop_reaches_a_run_still_waiting_in_the_queue(tiny_preset):
    me, other = SimpleNamespace(session_hash="me"), SimpleNamespace(session_hash="other")
    depth.STOPS.arm(me)      # the click, before the run joins the queue
    depth.STOPS.arm(other)
    depth.STOPS.stop(me)     # pressed while the run waits
    outputs = list(depth.train_live(tiny_preset, 8, 14, True, 0, False, me))
    assert len(outputs) == 1 and "Stopped before it started" in outputs[0][1]
    # another session's run is not affected, and the next run of this session trains again
    assert "Verdict" in list(depth.train_live(tiny_preset, 8, 14, True, 0, False, other))[-1][1]
    depth.STOPS.arm(me)
    last = list(depth.train_live(tiny_preset, 8, 14, True, 0, False, me))[-1]
    assert "Verdict" in last[1] and [r["iterations"][-1] for r in last[-1]["runs"]] == [6] * 4
    assert len(depth.STOPS) == 0


def test_stop_without_a_run_does_not_stop_the_next_one(tiny_preset):
    me = SimpleNamespace(session_hash="idle")
    depth.STOPS.stop(me)
    last = list(depth.train_live(tiny_preset, 8, 14, True, 0, False, me))[-1]
    assert "Verdict" in last[1]


def test_fig7_sentence_is_computed_from_the_responses():
    """The paper's own comparison (Fig. 7 bottom): sorted stds rank by rank; a count of smaller ranks is called
    only beyond twice its s.d. under no difference (binomial(n, 1/2): sqrt(n)/2)."""
    from resnet_demo.experiments import responses

    n = 30
    many = {"plain-20": [1.0 + i for i in range(n)], "ResNet-20": [0.5 + i for i in range(n)],
            "plain-56": [2.0] * n, "ResNet-56": [1.0] * n}
    smaller = responses.responses_sentence(many)
    assert f"depth 20: ResNet's is smaller at {n} of {n} ranks (beyond noise: ±{2 * n ** 0.5 / 2:.1f}" in smaller
    assert "medians 15.000 against 15.500" in smaller and "as the paper found" in smaller
    few = responses.responses_sentence({"plain-20": [1.0, 2.0], "ResNet-20": [0.5, 0.5]})
    assert "smaller at 2 of 2 ranks (within noise" in few  # 2 of 2 could be chance
    assert "not smaller beyond noise at every depth here" in few and "as the paper found" not in few
    assert "hold ResNet-20 so far" in responses.responses_sentence({"ResNet-20": [1.0]})


def test_gradflow_plan_picks_the_largest_checkpoint_that_fits():
    from resnet_demo.experiments import gradflow

    # after step 2: mark m costs (m - 2) steps and one profile per checkpoint in (0, m]
    assert gradflow.plan(400, 1.0, 0.5, 99.0) == (50, pytest.approx(48 + 1.5))  # 100 would need 98 + 2
    assert gradflow.plan(400, 0.01, 0.01, 100.0) == (400, pytest.approx(3.98 + 0.06))
    assert gradflow.plan(400, 10.0, 1.0, 5.0) == (0, 0.0)


def test_gradflow_stored_settings_answer_from_the_file_cut_at_the_steps(monkeypatch):
    from resnet_demo.experiments import gradflow as core
    from resnet_demo.ui import gradflow

    fig, text, record, button = gradflow.show_stored(56, True, 25, 0)
    assert button["value"] == "Show gradient flow"
    full = core.stored_records()[core.record_key(56, True, 0)]
    assert record["source"] == "stored" and record["steps"] == [0, 10, 25]
    assert record["nets"]["plain"]["grad_rms"] == full["nets"]["plain"]["grad_rms"][:3]
    assert fig.layout.title.text == "Training step 25" and fig.data[2].name == "plain-56, step 25"
    radio = gradflow._step_choices(record)
    assert radio["choices"] == ["0", "10", "25"] and radio["value"] == "25"  # the "Step shown" control
    at10 = gradflow._show_step(record, "10")
    assert at10.layout.title.text == "Training step 10"
    assert list(at10.data[2].y) == full["nets"]["plain"]["grad_rms"][1][:-1]
    rp = core.first_last_ratio(record["nets"]["plain"]["grad_rms"][-1])
    assert (
        "after 25 SGD steps" in text
        and f"**{rp:.2g}×** the last convolution's in plain-56" in text
        and "Stored result" in text
    )
    # it asks first; before any live run on this server it gives no time: one from another machine may be 2x off
    monkeypatch.setattr(gradflow, "MEASURED", {})
    none_fig, text, none, button = gradflow.show_stored(32, True, 100, 0)  # depth 32 is not stored
    assert none_fig is None and none is None and "not stored" in text
    assert button["value"] == "Train live (timed after its first steps)" and button["value"] in text
    monkeypatch.setattr(gradflow, "MEASURED", {"s_per_layer_step": 0.01})  # measured here by a live run
    assert gradflow.show_stored(32, True, 100, 0)[3]["value"] == "Train live (about 30 s here)"  # 0.01 x 32 x 100
    with pytest.raises(Exception, match="Training steps must be one of"):
        gradflow.show_stored(56, True, 30, 0)


def test_gradflow_live_run_streams_and_estimates(monkeypatch):
    from resnet_demo.ui import gradflow

    outs = list(gradflow.grad_flow(20, True, 10, 1))  # seed 1: not stored
    steps = [o[2]["steps"][-1] for o in outs]
    assert steps[0] == 0 and steps[-1] == 10
    final = outs[-1][2]
    assert final["source"] == "live" and final["steps"] == [0, 10] and final["estimate_s"] > 0
    assert "Computed live" in outs[-1][1]
    monkeypatch.setenv("RESNET_DEMO_GRADFLOW_LIMIT_S", "0")  # no step fits: it stops after the measured one
    outs = list(gradflow.grad_flow(20, True, 400, 1))
    assert outs[-1][2]["steps"] == [0]


def test_the_articles_example_is_set_up_as_the_article_runs_it():
    """#25: one click fills the URL and picks the weights resnet50(pretrained=True) loaded (V1); the URL is a public
    https address the fetcher accepts (not fetched here: tests reach loopback only)."""
    from urllib.parse import urlparse

    from torchvision.models import ResNet50_Weights

    from resnet_demo.serving import classifiers
    from resnet_demo.ui import classify

    image, url, model = classify.article_example()
    assert image is None and url == classify.ARTICLE_URL and model == classify.ARTICLE_MODEL
    assert model in classifiers.model_names()  # offered in the model box
    # torchvision documents pretrained=True as the V1 weights (the legacy alias)
    assert model == f"resnet50.{ResNet50_Weights.IMAGENET1K_V1.name}"
    from resnet_demo.views import classify_text

    assert "ResNet50_Weights.IMAGENET1K_V1" in classify_text.code_snippet(model)
    parts = urlparse(url)
    assert parts.scheme == "https" and parts.hostname == "raw.githubusercontent.com" and parts.path.endswith(".png")


def test_paper_tab_draws_the_stored_figures_beside_their_claims():
    import xml.etree.ElementTree as ET

    from resnet_demo.nets.runs import stored_runs
    from resnet_demo.ui import paper

    runs = stored_runs()
    for claim_id, draw in paper.FIGURES.items():
        svg = ET.fromstring(draw(runs, label="the claim's sentence"))
        assert svg.get("role") == "img" and svg.get("aria-label") == "the claim's sentence"
        lines = svg.findall(".//{http://www.w3.org/2000/svg}polyline")
        dashed = [line for line in lines if line.get("stroke-dasharray")]
        assert len(lines) >= 4 and 0 < len(dashed) < len(lines), claim_id  # training dashed, test solid
        legend = [t.text for t in svg.iter("{http://www.w3.org/2000/svg}text")]
        if claim_id == "no-degradation":  # every stored run, training and test
            assert all(f"{name} {what}" in legend for name in (r["name"] for r in runs) for what in ("train", "test"))


def test_classify_opens_with_an_example_already_classified_offline():
    import json
    from pathlib import Path

    import numpy as np
    from PIL import Image

    from resnet_demo.base.settings import FIRST_VIEW_DIR
    from resnet_demo.serving import classifiers, first_view
    from resnet_demo.serving.images import load_input
    from resnet_demo.ui import classify

    labels, heat, details = classify.first_view()
    assert Path(heat).is_file() and first_view.PHOTO in details
    image, _ = load_input(str(classify.EXAMPLES / first_view.PHOTO), None)
    pred = classifiers.classify(image, first_view.MODEL)  # an independent call of the same model
    ref = pred.top
    assert list(labels) == [label for label, _ in ref]
    assert [labels[label] for label, _ in ref] == pytest.approx([p for _, p in ref], rel=1e-4)
    assert "Stored by `python -m scripts.classify_first_view`" in details  # read from assets/first_view/
    stored = json.loads((FIRST_VIEW_DIR / "result.json").read_text())
    assert stored["info"] == json.loads(json.dumps(pred.info)) and stored["labels"] == pred.labels
    assert tuple(stored["image_size"]) == pred.image_size and tuple(stored["box"]) == pred.box
    _, overlay, _ = first_view.compute()  # the stored heatmap is today's, up to JPEG's loss
    shown = np.asarray(Image.open(FIRST_VIEW_DIR / "gradcam.jpg").convert("RGB"), dtype=np.float32)
    assert shown.shape[:2] == overlay.size[::-1]
    assert np.abs(shown - np.asarray(overlay, dtype=np.float32)).mean() < 3
    assert max(labels, key=labels.get) == "cat"  # the example is Chelsea the cat: the offline model gets it
    assert f"The example photo {first_view.PHOTO} through {first_view.MODEL}" in details
    assert "| model time |" in details and "| the 10 classes it knows | airplane, automobile, bird" in details
    assert classify.first_view()[1] == heat and classify._first_result.cache_info().hits >= 1  # reused


def test_classify_requests_run_their_torch_work_on_one_thread(monkeypatch):
    """Requests arrive on many server threads; their torch work all runs on the one inference thread (a
    second thread with an OpenMP team of its own would slow every torch call: see resnet_demo/base/threads.py)."""
    import threading

    from resnet_demo.base import threads
    from resnet_demo.serving import classifiers
    from resnet_demo.ui import classify

    ran_on = []
    real = classifiers.classify

    def spy(*args, **kwargs):
        ran_on.append(threading.current_thread().name)
        return real(*args, **kwargs)

    monkeypatch.setattr(classifiers, "classify", spy)
    photo = str(classify.EXAMPLES / "coffee.png")
    results = []
    callers = [
        threading.Thread(target=lambda: results.append(classify.classify(photo, None, "cifar-resnet20")))
        for _ in range(3)
    ]
    for t in callers:
        t.start()
    for t in callers:
        t.join(timeout=60)
    assert len(results) == 3 and all(len(r[0]) == 5 for r in results)
    assert len(ran_on) == 3 and {name.rsplit("_", 1)[0] for name in ran_on} == {threads.INFERENCE_THREAD}
    assert len(set(ran_on)) == 1


def test_on_inference_thread_passes_results_errors_and_context():
    import contextvars
    import threading

    from resnet_demo.base import threads

    var = contextvars.ContextVar("request", default=None)
    var.set("mine")
    assert threads.on_inference_thread(lambda: (threading.current_thread().name, var.get()))[1] == "mine"
    with pytest.raises(ZeroDivisionError):
        threads.on_inference_thread(lambda: 1 / 0)
    nested = threads.on_inference_thread(lambda: threads.on_inference_thread(threading.current_thread))  # no deadlock
    assert nested.name.startswith(threads.INFERENCE_THREAD)


def test_cifar_models_run_on_one_torch_thread_and_leave_the_callers_count():
    """A CIFAR net at batch 1 runs on one torch thread (faster than two: threads.py); the setting is the calling
    thread's for the call only, and other threads' counts never change."""
    import threading

    import torch
    from PIL import Image

    from resnet_demo.base import threads
    from resnet_demo.serving import classifiers

    clf = classifiers.MODELS.get("cifar-resnet20")
    seen = []
    trunk = clf.trunk

    def watching(x):
        seen.append(torch.get_num_threads())
        return trunk(x)

    before = torch.get_num_threads()
    clf.trunk = watching
    try:
        other = []
        worker = threading.Thread(target=lambda: other.append(torch.get_num_threads()))
        classifiers.classify(Image.new("RGB", (40, 30), "red"), "cifar-resnet20")
        threads.on_inference_thread(classifiers.classify, Image.new("RGB", (40, 30), "blue"), "cifar-resnet20")
        worker.start()
        worker.join()
    finally:
        clf.trunk = trunk
    assert seen == [1, 1]
    assert torch.get_num_threads() == before and other == [before]
    with threads.torch_threads(None):
        assert torch.get_num_threads() == before


def test_the_page_opens_no_heartbeat_and_keeps_few_streams():
    """Any gr.State makes Gradio hold a heartbeat connection open for every visitor (the page never goes idle):
    the block-by-block view keeps its streams server-side, the last Recent.size of them."""
    from resnet_demo.ui import build_demo

    assert build_demo().get_config_file()["connect_heartbeat"] is False
    from resnet_demo.serving.recent import Recent

    store = Recent(size=2)
    keys = [store.put(n) for n in range(3)]
    assert len(set(keys)) == 3 and len(keys[0]) >= 20
    assert store.get(keys[0]) is None and store.get(keys[1]) == 1 and store.get(keys[2]) == 2
    assert store.get("") is None and store.get(None) is None


def test_a_finished_live_run_never_says_what_is_left():
    from resnet_demo.ui.common import live_status

    running = live_status(live.Snapshot([], 50, 250, 10.0, 900.0, None), "four nets")
    assert "about 40 s left (measured on this run)" in running
    done = live_status(live.Snapshot([], 250, 250, 55.6, 900.0, None), "four nets")
    assert "left" not in done and done.startswith("Done: **250/250** iterations in 56 s")
    stopped = live_status(live.Snapshot([], 80, 250, 9.0, 900.0, "Stop pressed"), "four nets")
    assert "left" not in stopped and "ended early: Stop pressed" in stopped
