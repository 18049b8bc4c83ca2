"""Tab functions called as Gradio calls them, for behaviour the API cannot reach (Stop has no endpoint)."""
from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import pytest

from resnet_demo import live
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
    depth.arm(me)      # the click, before the run joins the queue
    depth.arm(other)
    depth.stop(me)     # pressed while the run waits
    outputs = list(depth.train_live(tiny_preset, 8, 14, True, 0, False, me))
    assert len(outputs) == 1 and "Stopped before it started" in outputs[0][1]
    # another session's run is not affected, and the next run of this session trains again
    assert "Verdict" in list(depth.train_live(tiny_preset, 8, 14, True, 0, False, other))[-1][1]
    depth.arm(me)
    last = list(depth.train_live(tiny_preset, 8, 14, True, 0, False, me))[-1]
    assert "Verdict" in last[1] and [r["iterations"][-1] for r in last[-1]["runs"]] == [6] * 4
    assert depth._stop_flags == {}


def test_stop_without_a_run_does_not_stop_the_next_one(tiny_preset):
    me = SimpleNamespace(session_hash="idle")
    depth.stop(me)
    last = list(depth.train_live(tiny_preset, 8, 14, True, 0, False, me))[-1]
    assert "Verdict" in last[1]


def test_fig7_sentence_is_computed_from_the_responses():
    from resnet_demo.ui import gradflow

    smaller = gradflow._responses_sentence({"plain-20": [1.0, 2.0], "ResNet-20": [0.5, 0.5],
                                            "plain-56": [2.0, 2.0], "ResNet-56": [1.0, 1.0]})
    assert "ResNet-20's responses average **0.50** against plain-20's **1.50** (0.33×)" in smaller
    assert "as the paper found" in smaller
    larger = gradflow._responses_sentence({"plain-20": [0.5], "ResNet-20": [1.0]})
    assert "not smaller in every residual net here" in larger and "as the paper found" not in larger
    assert "hold ResNet-20 so far" in gradflow._responses_sentence({"ResNet-20": [1.0]})
