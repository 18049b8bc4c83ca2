import dataclasses
import math
import os
import time

import pytest

from resnet_demo.base.threads import torch_threads
from resnet_demo.experiments import degradation
from resnet_demo.nets import data, runs
from resnet_demo.serving import live
from resnet_demo.serving import workers as workers_module
from resnet_demo.views import plots


@pytest.fixture
def tiny_preset(monkeypatch):
    base = live.PRESETS[live.DEFAULT_PRESET]
    preset = dataclasses.replace(base, config=dataclasses.replace(base.config, iterations=24, eval_every=12,
                                                                  log_every=4, smoothing=5),
                                 train_images=512, test_images=100)
    monkeypatch.setitem(live.PRESETS, "tiny", preset)
    return "tiny"


def test_generator_yields_increasing_iterations_and_valid_runs(tiny_preset):
    trainers = live.make_trainers(data.load_bundled(), live.Job.of(tiny_preset, (8, 14), True, 3))
    snaps = list(live.run_live(trainers, every_s=0.0))
    its = [s.iteration for s in snaps]
    assert its == sorted(its) and its[-1] == 24 and len(set(its)) == len(its)
    final = snaps[-1]
    assert final.stopped is None
    assert [(r["arch"], r["depth"]) for r in final.runs] == [("plain", 8), ("plain", 14), ("residual", 8),
                                                                ("residual", 14)]
    for r in final.runs:
        runs.validate(r)
        assert r["seed"] == 3 and r["iterations"][-1] == 24 and r["image_size"] == 16
    # iteration-matched: every run has the same x values
    assert len({tuple(r["iterations"]) for r in final.runs}) == 1


def test_stop_ends_the_run_between_steps(tiny_preset):
    trainers = live.make_trainers(data.load_bundled(), live.Job.of(tiny_preset, (8, 14), True, 0))
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) > 3

    snaps = list(live.run_live(trainers, should_stop=should_stop, every_s=0.0))
    assert snaps[-1].stopped == "stopped"
    assert all(t.iteration == 3 for t in trainers)


def test_time_limit_ends_the_run(tiny_preset):
    trainers = live.make_trainers(data.load_bundled(), live.Job.of(tiny_preset, (8, 14), True, 0))
    snaps = list(live.run_live(trainers, time_limit_s=0.0))
    assert "time limit" in snaps[-1].stopped and trainers[0].iteration == 0


def _run(arch, depth, final_train):
    return {"name": f"{arch}-{depth}", "arch": arch, "depth": depth, "width": 8, "batch_norm": True,
            "shortcut": "A", "dataset": "t", "image_size": 16, "batch_size": 64, "seed": 0, "device": "cpu",
            "wall_seconds": 1.0, "command": "", "iterations": [10, 20], "train_error": [0.9, final_train],
            "test_error": [None, 0.5]}


def _margin(a, b, n=3200, seed_sd=0.0):
    """Twice the noise of a gap between two training errors, each the mean over n images (50 batches of 64 here),
    written out: binomial sampling of both, and the seed spread of the gap."""
    return 2 * math.sqrt(100 ** 2 * (a * (1 - a) / n + b * (1 - b) / n) + seed_sd ** 2)


def test_verdict_follows_the_numbers():
    """Sampling noise: the mean of the last 50 batches of 64 images, binomial (no seed spread passed)."""
    text = degradation.verdict([_run("plain", 20, 0.30), _run("plain", 56, 0.423), _run("residual", 20, 0.25),
                         _run("residual", 56, 0.15)])
    assert f"plain-56 ended 12.3 points above plain-20 (noise ±{_margin(0.30, 0.423):.1f}): degradation" in text
    assert "last batches" in text
    assert (f"ResNet-56 ended 10.0 points below ResNet-20 (noise ±{_margin(0.25, 0.15):.1f}): the deeper residual "
            "net trains better") in text
    assert "ResNet-56 is 27.3 points below plain-56" in text
    assert "seed-to-seed spread is not measured for this setting" in text
    flipped = degradation.verdict([_run("plain", 20, 0.40), _run("plain", 56, 0.35), _run("residual", 20, 0.30),
                            _run("residual", 56, 0.302)])
    assert f"plain-56 ended 5.0 points below plain-20 (noise ±{_margin(0.40, 0.35):.1f}): no degradation" in flipped
    assert ("ResNet-56 and ResNet-20 are within noise of each other (+0.20 points, within noise "
            f"(±{_margin(0.30, 0.302):.2f}))") in flipped
    gaps = degradation.gaps([_run("plain", 20, 0.30), _run("plain", 56, 0.423), _run("residual", 20, 0.25),
                      _run("residual", 56, 0.239)])
    assert gaps == pytest.approx({"plain_gap": 12.3, "residual_gap": -1.1, "residual_advantage": 18.4})


def test_no_verdict_before_the_nets_learn_or_within_the_seed_spread():
    early = [_run("plain", 20, 0.88), _run("plain", 56, 0.902), _run("residual", 20, 0.87), _run("residual", 56, 0.89)]
    text = degradation.verdict(early)  # the case seen: stopped at 45 of 250, all near chance
    assert text.startswith("Too early for a verdict") and "degradation" not in text and "plain-20 88%" in text
    runs = [_run("plain", 20, 0.30), _run("plain", 56, 0.423), _run("residual", 20, 0.25), _run("residual", 56, 0.27)]
    noisy = degradation.verdict(runs, noise={"plain_gap": 3.0, "residual_gap": 1.5, "residual_advantage": 2.0})
    margin = _margin(0.30, 0.423, seed_sd=3.0)
    assert f"plain-56 ended 12.3 points above plain-20 (noise ±{margin:.1f}): degradation" in noisy  # 12.3 > 2σ
    assert ("ResNet-56 and ResNet-20 are within noise of each other (+2.00 points, within noise "
            f"(±{_margin(0.25, 0.27, seed_sd=1.5):.2f}))") in noisy
    assert "not measured" not in noisy
    wide = degradation.verdict(runs, noise={"plain_gap": 7.0})
    assert "plain-56 and plain-20 are within noise of each other" in wide and "degradation" not in wide


def test_verdict_says_when_the_residual_result_did_not_appear_and_the_nets_are_early():
    """The case seen (#39): all four at 55-88% training error, ResNet-56 4.5 points above ResNet-20."""
    runs = [_run("plain", 20, 0.55), _run("plain", 56, 0.80), _run("residual", 20, 0.56), _run("residual", 56, 0.62)]
    text = degradation.verdict(runs, noise={"plain_gap": 3.7, "residual_gap": 2.2, "residual_advantage": 3.6})
    assert "degradation, the deeper plain net trains worse" in text
    assert "ResNet-56 ended 6.0 points above ResNet-20" in text
    assert "the paper's residual result, the deeper net training at least as well, did not appear in this run" in text
    assert "still early in training (plain-20 55%, plain-56 80%, ResNet-20 56%, ResNet-56 62% training error" in text


def test_stored_figure_has_a_trace_per_curve():
    rs = [_run("plain", 20, 0.3), _run("residual", 56, 0.2)]
    full = plots.error_curves(rs)
    # where a curve runs above the axis (both start at 90%, the axis ends at 60%), a ▲ at the top edge marks it
    above = [t for t in full.data if t.name.endswith("above the axis")]
    assert [(t.name, list(t.customdata), t.marker.symbol) for t in above] == [
        ("plain-20 above the axis", [90.0], "triangle-up-open"),
        ("residual-56 above the axis", [90.0], "triangle-up-open")]
    assert full.layout.yaxis.range[1] == plots.error_top(rs) < 90 and all(t.showlegend is False for t in above)
    fig = plots.error_curves(rs)
    fig.data = [t for t in fig.data if t not in above]
    assert [(t.name, t.line.dash) for t in fig.data] == [("plain-20", "dash"), ("plain-20", None),
                                                         ("residual-56", "dash"), ("residual-56", None)]
    assert [t.xaxis for t in fig.data] == ["x", "x", "x2", "x2"]  # plain on top, residual below
    # one legend entry a net, its test line (the subtitle says dashed = training); both toggle together
    assert [t.showlegend for t in fig.data] == [False, None, False, None]
    assert [t.legendgroup for t in fig.data] == ["plain-20", "plain-20", "residual-56", "residual-56"]
    no_test = plots.error_curves([{**rs[0], "test_error": [None] * len(rs[0]["test_error"])}])
    assert [(t.name, t.showlegend) for t in no_test.data if "above" not in t.name] == [("plain-20", True)]  # the line


def test_measured_training_error_is_preferred_for_the_verdict():
    rs = [_run("plain", 20, 0.30), _run("plain", 56, 0.423), _run("residual", 20, 0.25), _run("residual", 56, 0.239)]
    for r, measured in zip(rs, (0.2, 0.5, 0.1, 0.12)):
        r["train_error_measured"] = [None, measured]
    assert degradation.final_train_error(rs[0]) == 0.2
    text = degradation.verdict(rs)
    assert "measured on 1,000 training images" in text and "plain-56 ended 30.0 points above plain-20" in text
    for r in rs:  # stopped before any evaluation: the batch errors, and the sentence says so
        r["train_error_measured"] = [None, None]
    assert "mean of the last batches" in degradation.verdict(rs) and degradation.final_train_error(rs[0]) == 0.30


# -- the worker processes the app trains in -------------------------------------------------------
@pytest.fixture(scope="module")
def workers():
    w = workers_module.Workers()
    yield w
    w.close()


def _alive(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.slow
def test_workers_train_exactly_what_one_process_trains(tiny_preset, workers):
    """Two processes of one thread each, two nets each: the same curves, to the last bit, as the four
    trainers stepped in turn in one process on one thread (same seed, same batches)."""
    snaps = list(workers.run(tiny_preset, (8, 14), True, 3, every_s=0.0))
    with torch_threads(1):
        trainers = live.make_trainers(data.load_bundled(), live.Job.of(tiny_preset, (8, 14), True, 3))
        ref = list(live.run_live(trainers, every_s=0))
    final = snaps[-1]
    assert final.stopped is None and final.iteration == 24 and len(snaps) > 2
    for mine, theirs in zip(final.runs, ref[-1].runs):
        assert mine["name"] == theirs["name"]
        for key in ("iterations", "train_error", "test_error", "train_error_measured"):
            assert mine[key] == theirs[key], (mine["name"], key)
    for snap in snaps:  # every snapshot is cut at the iteration all four reached: iteration-matched curves
        assert len({tuple(r["iterations"]) for r in snap.runs}) == 1
        assert all(it <= snap.iteration for it in snap.runs[0]["iterations"])
    assert [s.iteration for s in snaps] == sorted(s.iteration for s in snaps)
    assert [s.iteration for s in snaps].count(24) == 1  # the end comes once (the app writes downloads then)


@pytest.mark.slow
def test_workers_stop_within_two_seconds_and_stay_warm(workers):
    pids = None
    stop = []
    snaps = workers.run(live.DEFAULT_PRESET, (20, 56), True, 0, should_stop=lambda: bool(stop), every_s=0.2)
    for snap in snaps:
        if pids is None:
            pids = workers.pids()
        if snap.iteration >= 3 and not stop:
            stop.append(time.perf_counter())
    ended = time.perf_counter() - stop[0]
    assert snap.stopped == "stopped" and snap.iteration < 300 and ended < 2.0
    assert len({tuple(r["iterations"]) for r in snap.runs}) == 1
    # the same processes serve the next run
    last = list(workers.run(live.DEFAULT_PRESET, (20, 56), True, 0, time_limit_s=0.0))[-1]
    assert "time limit" in last.stopped and workers.pids() == pids and all(map(_alive, pids))


def test_a_closed_generator_ends_the_job_and_the_next_run_is_clean(tiny_preset, workers):
    snaps = workers.run(live.DEFAULT_PRESET, (20, 56), True, 0, every_s=0.1)
    next(snaps)
    snaps.close()  # a page closed mid-run: the job ends, its leftovers are read, the workers stay
    final = list(workers.run(tiny_preset, (8, 14), True, 1, every_s=0.0))[-1]
    assert final.iteration == 24 and all(r["seed"] == 1 and r["depth"] in (8, 14) for r in final.runs)


@pytest.mark.slow
def test_a_worker_that_dies_is_reported_and_replaced(tiny_preset, workers):
    import signal

    snaps = workers.run(live.DEFAULT_PRESET, (20, 56), True, 0, every_s=0.1)
    next(snaps)
    victim = workers.pids()[0]
    os.kill(victim, signal.SIGKILL)
    with pytest.raises(workers_module.WorkerError, match="ended unexpectedly"):
        for _ in snaps:
            pass
    assert not any(map(_alive, [victim]))
    final = list(workers.run(tiny_preset, (8, 14), True, 0, every_s=0.0))[-1]
    assert final.iteration == 24 and victim not in workers.pids()


def test_a_diverging_net_stops_both_workers(tiny_preset, workers, monkeypatch):
    p = live.PRESETS[tiny_preset]
    monkeypatch.setitem(live.PRESETS, "explodes", dataclasses.replace(
        p, config=dataclasses.replace(p.config, lr=1e6, iterations=200)))
    final = list(workers.run("explodes", (8, 14), False, 0, every_s=0.0))[-1]
    assert final.stopped.endswith("diverged") and final.iteration < 200
    assert any("diverged" in r for r in final.runs)
    assert len({tuple(r["iterations"]) for r in final.runs}) == 1


@pytest.mark.slow
def test_workers_end_when_the_app_is_killed(tmp_path):
    """No orphans: a worker whose app dies (SIGKILL: no atexit, no cleanup) ends by itself."""
    import subprocess
    import sys
    import textwrap

    script = tmp_path / "app.py"
    script.write_text(textwrap.dedent("""
        import sys
        from resnet_demo.serving import live, workers
        snaps = workers.WORKERS.run(live.DEFAULT_PRESET, (20, 56), True, 0, every_s=0.1)
        next(snaps)
        print(*workers.WORKERS.pids(), flush=True)
        sys.stdin.read()  # until killed
    """))
    env = dict(os.environ, PYTHONPATH=str(workers_module.PACKAGE_PARENT))
    app = subprocess.Popen([sys.executable, str(script)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                           env=env)
    try:
        pids = [int(p) for p in app.stdout.readline().split()]
        assert len(pids) == 2 and all(map(_alive, pids))
        app.kill()
        app.wait(timeout=30)
        deadline = time.perf_counter() + 10
        while any(map(_alive, pids)) and time.perf_counter() < deadline:
            time.sleep(0.1)
        assert not any(map(_alive, pids))
    finally:
        app.kill()


@pytest.mark.slow
def test_workers_train_the_shortcut_labs_nets_as_one_process_does(tiny_preset, workers):
    """Three of the shortcut lab's nets (an uneven split: two in one worker, one in the other) at the deep depth:
    the same curves as one process stepping them in turn, each built as its variant."""
    nets = (live.Net("identity"), live.Net("scale", shortcut_kind="scale"),
            live.Net("gate", shortcut_kind="shortcut-gate", gate_bias=-6.0))
    snaps = list(workers.run(tiny_preset, (8, 14), True, 3, nets=nets, every_s=0.0))
    job = dataclasses.replace(live.Job.of(tiny_preset, (8, 14), True, 3), nets=nets, which=(0, 1, 2))
    with torch_threads(1):
        ref = list(live.run_live(live.make_trainers(data.load_bundled(), job), every_s=0))
    final = snaps[-1]
    assert final.stopped is None and final.iteration == 24
    assert [r["name"] for r in final.runs] == ["live identity", "live scale", "live gate"]
    assert [(r["arch"], r["depth"], r["recipe"].get("shortcut_kind"), r["recipe"].get("gate_bias"))
            for r in final.runs] == [("residual", 14, None, None), ("residual", 14, "scale", None),
                                     ("residual", 14, "shortcut-gate", -6.0)]
    for mine, theirs in zip(final.runs, ref[-1].runs):
        for key in ("iterations", "train_error", "test_error", "train_error_measured"):
            assert mine[key] == theirs[key], (mine["name"], key)
    assert all(len({tuple(r["iterations"]) for r in s.runs}) == 1 for s in snaps)
