import signal
import subprocess
import sys
import threading
import time

import pytest
import torch

from resnet_demo.nets import data, runs
from resnet_demo.nets.cifar import cifar_net, load_checkpoint
from resnet_demo.nets.train import main
from resnet_demo.nets.trainer import TrainConfig, Trainer

ROOT = __import__("conftest").ROOT


@pytest.fixture(scope="module")
def small():
    return data.load_bundled().subset(640, 200)


def tiny(**kw) -> TrainConfig:
    base = dict(depth=8, width=8, batch_size=32, iterations=60, milestones=(40,), eval_every=30, log_every=10,
                smoothing=10, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_tiny_run_lowers_the_loss(small):
    t = Trainer(tiny(iterations=80, augment=False), small)
    losses = [m["loss"] for m in t.steps()]
    assert sum(losses[-10:]) / 10 < 0.85 * sum(losses[:10]) / 10
    assert t.iteration == 80


def test_generator_metrics_and_run(small):
    t = Trainer(tiny(), small)
    metrics = list(t.steps())
    assert [m["iteration"] for m in metrics] == list(range(1, 61))
    assert [m["lr"] for m in metrics][38:42] == pytest.approx([0.1, 0.1, 0.01, 0.01])  # lr /10 at the milestone
    evals = [m for m in metrics if m["test_error"] is not None]
    assert [m["iteration"] for m in evals] == [30, 60]
    run = runs.validate(t.run)
    assert run["iterations"] == [10, 20, 30, 40, 50, 60]
    assert run["test_error"][2] == evals[0]["test_error"] and run["test_error"][0] is None
    assert metrics[-1]["done"]


def test_same_seed_same_batches_across_architectures(small):
    a, b = Trainer(tiny(arch="plain"), small), Trainer(tiny(arch="residual"), small)
    for _ in range(3):
        a.step(), b.step()
    assert torch.equal(a.order, b.order) and a.cursor == b.cursor
    assert torch.equal(a.gen.get_state(), b.gen.get_state())


@pytest.mark.parametrize("kw", [dict(arch="residual"), dict(arch="plain"), dict(shortcut="B"), dict(batch_norm=False)])
def test_initial_weights_come_from_the_runs_own_generator(kw):
    """Same weights as torch.manual_seed(seed) + construction (so stored runs reproduce), without touching
    or reading torch's process-wide RNG."""
    torch.manual_seed(5)
    want = cifar_net(20, residual=kw.get("arch", "residual") == "residual", shortcut=kw.get("shortcut", "A"),
                     batch_norm=kw.get("batch_norm", True))
    torch.manual_seed(1234)
    got = cifar_net(20, residual=kw.get("arch", "residual") == "residual", shortcut=kw.get("shortcut", "A"),
                    batch_norm=kw.get("batch_norm", True), generator=torch.Generator().manual_seed(5))
    for (name, a), b in zip(want.state_dict().items(), got.state_dict().values()):
        assert torch.equal(a, b), name


def test_concurrent_runs_with_one_seed_match_a_run_alone(small):
    """Two requests with the same seed in different threads, while a third thread draws from torch's global
    RNG (as another request's code might): each gets the weights and batches it gets when run alone."""
    def run() -> tuple[dict, list[float]]:
        t = Trainer(tiny(iterations=6, eval_every=0), small)
        init = {k: v.clone() for k, v in t.model.state_dict().items()}
        return init, [m["loss"] for m in t.steps()]

    alone_init, alone_losses = run()
    results, stop = [], threading.Event()

    def noise() -> None:
        while not stop.is_set():
            torch.rand(100)
            torch.manual_seed(int(time.time() * 1e6) % 2**31)

    noisy = threading.Thread(target=noise)
    noisy.start()
    try:
        workers = [threading.Thread(target=lambda: results.append(run())) for _ in range(2)]
        for w in workers:
            w.start()
        for w in workers:
            w.join(timeout=120)
    finally:
        stop.set()
        noisy.join()
    assert len(results) == 2
    for init, losses in results:
        assert all(torch.equal(init[k], alone_init[k]) for k in alone_init)
        assert losses == alone_losses


def test_should_stop_ends_the_generator(small):
    t = Trainer(tiny(iterations=1000), small)
    n = 0
    for _ in t.steps(should_stop=lambda: n >= 5):
        n += 1
    assert t.iteration == 5


def test_resume_gives_the_same_run_as_no_interruption(small):
    full = Trainer(tiny(), small)
    list(full.steps())
    first = Trainer(tiny(), small)
    for m in first.steps():
        if m["iteration"] == 25:
            break
    state = first.state_dict()
    second = Trainer(tiny(), small)
    second.load_state_dict(state)
    list(second.steps())
    assert second.run["train_error"] == full.run["train_error"]
    assert second.run["test_error"] == full.run["test_error"]


def test_error_based_warmup_ends_once_the_smoothed_error_is_below_the_threshold(small):
    """The paper's ResNet-110 warm-up: lr/10 until the training error (mean of the last `smoothing` batches)
    is below the threshold, then the schedule; the iteration is stored in the run and survives a resume."""
    cfg = tiny(warmup_until_error=0.8, milestones=(1000,))
    t = Trainer(cfg, small)
    metrics = list(t.steps())
    ended = t.run["warmup_ended_at"]
    errors = [m["train_error"] for m in metrics]
    first_below = next(i for i, m in enumerate(metrics, 1) if i >= cfg.smoothing and errors[i - 1] < 0.8)
    assert ended == first_below < cfg.iterations
    assert all(m["lr"] == pytest.approx(0.01) for m in metrics[:ended])
    assert metrics[ended]["lr"] == pytest.approx(0.1)
    assert t.run["recipe"]["warmup_until_error"] == 0.8
    assert "warmup_until_error" not in Trainer(tiny(), small).run["recipe"]  # runs without it keep their recipe

    resumed = Trainer(cfg, small)
    for _ in range(ended + 1):
        resumed.step()
    state = resumed.state_dict()
    again = Trainer(cfg, small)
    again.load_state_dict(state)
    assert not again.warming_up() and again.step()["lr"] == pytest.approx(0.1)


def test_scaled_schedule():
    cfg = TrainConfig().scaled(0.05)
    assert cfg.iterations == 3200 and cfg.milestones == (1600, 2400)
    assert TrainConfig().lr_at(0) == 0.1 and TrainConfig().lr_at(32000) == pytest.approx(0.01)
    assert TrainConfig().lr_at(48000) == pytest.approx(0.001)


@pytest.mark.slow
def test_cli_writes_a_valid_run_and_checkpoint(tmp_path):
    out, ckpt = tmp_path / "run.json", tmp_path / "model.pt"
    rc = main(["--depth", "8", "--width", "8", "--batch-size", "32", "--iterations", "30", "--eval-every", "15",
               "--log-every", "5", "--device", "cpu", "--out", str(out), "--save", str(ckpt), "--quiet"])
    assert rc == 0
    run = runs.load_run(out)
    assert run["depth"] == 8 and run["iterations"][-1] == 30
    assert run["command"].startswith("python -m resnet_demo.nets.train")
    model, meta = load_checkpoint(ckpt)
    assert meta["test_error"] == runs.final(run["test_error"])
    assert model(torch.zeros(1, 3, 32, 32)).shape == (1, 10)
    assert not (tmp_path / "model.pt.resume.pt").exists()


@pytest.mark.slow
def test_cli_ctrl_c_keeps_progress_and_resumes(tmp_path):
    out = tmp_path / "run.json"
    args = [sys.executable, "-m", "resnet_demo.nets.train", "--depth", "8", "--width", "4", "--batch-size", "16",
            "--iterations", "2000", "--eval-every", "100", "--log-every", "10", "--device", "cpu", "--threads", "1",
            "--out", str(out), "--quiet"]
    proc = subprocess.Popen(args, cwd=ROOT, stderr=subprocess.PIPE, text=True)
    resume = tmp_path / "run.json.resume.pt"
    deadline = time.time() + 180
    while not resume.exists() and time.time() < deadline:
        time.sleep(0.1)
    assert resume.exists(), "no resume file after the first evaluation"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "--resume" in err
    stopped = runs.load_run(out)
    assert 100 <= stopped["iterations"][-1] < 2000
    state = torch.load(resume, weights_only=False)
    assert state["iteration"] == stopped["iterations"][-1] or state["iteration"] > stopped["iterations"][-1]
    # a different recipe must not silently continue from this file
    other = args[:9] + ["--iterations", "50"] + args[11:] + ["--resume"]
    rc = subprocess.run(other, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert rc.returncode != 0 and "different configuration" in rc.stderr
    rc = subprocess.run(args + ["--resume"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert rc.returncode == 0, rc.stderr
    assert f"resumed at iteration {state['iteration']}" in rc.stderr
    done = runs.load_run(out)
    assert done["iterations"][-1] == 2000
    assert done["iterations"][: len(stopped["iterations"])] == stopped["iterations"]  # history kept
    assert not resume.exists()


class _Reader:
    """Collects a child's stream in a thread, so a test can wait for a line (a condition, not a fixed
    sleep: a slow machine only waits longer) and still read everything after the child exits."""

    def __init__(self, stream) -> None:
        self.chunks: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self.thread.start()

    def _read(self, stream) -> None:
        while ch := stream.read(1):
            self.chunks.append(ch)

    def text(self) -> str:
        return "".join(self.chunks)

    def wait_for(self, text: str, deadline_s: float) -> None:
        end = time.monotonic() + deadline_s
        while text not in self.text():
            assert time.monotonic() < end, f"no {text!r} within {deadline_s} s: {self.text()[-500:]!r}"
            assert self.thread.is_alive(), f"the process closed its output first: {self.text()[-500:]!r}"
            time.sleep(0.05)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_cli_stops_cleanly_as_a_scripts_background_job(tmp_path, sig):
    """scripts/stored_runs.sh runs the CLI as background jobs, which start with SIGINT ignored: Ctrl-C
    (the terminal signals the whole group) and kill must still save the run and the resume file."""
    out = tmp_path / "run.json"
    args = [sys.executable, "-m", "resnet_demo.nets.train", "--depth", "8", "--width", "4", "--batch-size", "16",
            "--iterations", "100000", "--eval-every", "0", "--log-every", "1", "--device", "cpu", "--threads", "1",
            "--out", str(out)]
    proc = subprocess.Popen(
        args,
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    err = _Reader(proc.stderr)
    try:
        err.wait_for("train err", deadline_s=120)  # the progress bar: training has begun
        proc.send_signal(sig)
        proc.wait(timeout=60)
    finally:
        proc.kill()
        err.thread.join(timeout=10)
    assert proc.returncode == 130, err.text()
    assert runs.load_run(out)["iterations"] and (tmp_path / "run.json.resume.pt").exists()
