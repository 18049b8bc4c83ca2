import dataclasses

import pytest

from resnet_demo import data, live, plots, runs


@pytest.fixture
def tiny_preset(monkeypatch):
    base = live.PRESETS[live.DEFAULT_PRESET]
    preset = dataclasses.replace(base, config=dataclasses.replace(base.config, iterations=24, eval_every=12,
                                                                  log_every=4, smoothing=5),
                                 train_images=512, test_images=100)
    monkeypatch.setitem(live.PRESETS, "tiny", preset)
    return "tiny"


def test_generator_yields_increasing_iterations_and_valid_runs(tiny_preset):
    trainers = live.make_trainers(data.load_bundled(), tiny_preset, (8, 14), True, seed=3)
    snaps = list(live.run_live(trainers, every_s=0.0))
    its = [s["iteration"] for s in snaps]
    assert its == sorted(its) and its[-1] == 24 and len(set(its)) == len(its)
    final = snaps[-1]
    assert final["stopped"] is None
    assert [(r["arch"], r["depth"]) for r in final["runs"]] == [("plain", 8), ("plain", 14), ("residual", 8),
                                                                ("residual", 14)]
    for r in final["runs"]:
        runs.validate(r)
        assert r["seed"] == 3 and r["iterations"][-1] == 24 and r["image_size"] == 16
    # iteration-matched: every run has the same x values
    assert len({tuple(r["iterations"]) for r in final["runs"]}) == 1


def test_stop_ends_the_run_between_steps(tiny_preset):
    trainers = live.make_trainers(data.load_bundled(), tiny_preset, (8, 14), True, seed=0)
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 3

    snaps = list(live.run_live(trainers, should_stop=should_stop, every_s=0.0))
    assert snaps[-1]["stopped"] == "stopped"
    assert all(t.iteration == 3 for t in trainers)


def test_time_limit_ends_the_run(tiny_preset):
    trainers = live.make_trainers(data.load_bundled(), tiny_preset, (8, 14), True, seed=0)
    snaps = list(live.run_live(trainers, time_limit_s=0.0))
    assert "time limit" in snaps[-1]["stopped"] and trainers[0].iteration == 0


def _run(arch, depth, final_train):
    return {"name": f"{arch}-{depth}", "arch": arch, "depth": depth, "width": 8, "batch_norm": True,
            "shortcut": "A", "dataset": "t", "image_size": 16, "batch_size": 64, "seed": 0, "device": "cpu",
            "wall_seconds": 1.0, "command": "", "iterations": [10, 20], "train_error": [0.9, final_train],
            "test_error": [None, 0.5]}


def test_verdict_follows_the_numbers():
    text = live.verdict([_run("plain", 20, 0.30), _run("plain", 56, 0.423), _run("residual", 20, 0.25),
                         _run("residual", 56, 0.239)])
    assert "plain-56 ended 12.3 points above plain-20: degradation" in text and "last batches" in text
    assert "ResNet-56 ended 1.1 points below ResNet-20" in text
    assert "ResNet-56 is 18.4 points below plain-56" in text
    flipped = live.verdict([_run("plain", 20, 0.40), _run("plain", 56, 0.35), _run("residual", 20, 0.30),
                            _run("residual", 56, 0.302)])
    assert "plain-56 ended 5.0 points below plain-20: no degradation" in flipped
    assert "ResNet-56 ended level with ResNet-20" in flipped
    gaps = live.gaps([_run("plain", 20, 0.30), _run("plain", 56, 0.423), _run("residual", 20, 0.25),
                      _run("residual", 56, 0.239)])
    assert gaps == pytest.approx({"plain_gap": 12.3, "residual_gap": -1.1, "residual_advantage": 18.4})


def test_stored_figure_has_a_trace_per_curve():
    rs = [_run("plain", 20, 0.3), _run("residual", 56, 0.2)]
    fig = plots.error_curves(rs)
    names = [t.name for t in fig.data]
    assert names == ["plain-20 train", "plain-20 test", "residual-56 train", "residual-56 test"]
    assert [t.xaxis for t in fig.data] == ["x", "x", "x2", "x2"]  # plain left, residual right


def test_measured_training_error_is_preferred_for_the_verdict():
    rs = [_run("plain", 20, 0.30), _run("plain", 56, 0.423), _run("residual", 20, 0.25), _run("residual", 56, 0.239)]
    for r, measured in zip(rs, (0.2, 0.5, 0.1, 0.12)):
        r["train_error_measured"] = [None, measured]
    assert live.final_train_error(rs[0]) == 0.2
    text = live.verdict(rs)
    assert "measured on 1,000 training images" in text and "plain-56 ended 30.0 points above plain-20" in text
