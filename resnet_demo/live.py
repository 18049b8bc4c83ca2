"""Live degradation demo: plain and residual nets at a shallow and a deep depth, trained side by side.

Four ``train.Trainer``s with the same seed and the same batches. ``run_live`` steps trainers in turn in
this process; ``Workers`` (what the app uses) runs them in two worker processes of one torch thread each,
kept warm between runs: at width 8 and 16x16 the ops are too small for two threads to share one, so two
processes stepping two nets each use both cores (``benchmarks/live_preset.py`` measures both designs).
The curves shown are cut at the iteration every net has reached, so they are iteration-matched at every
moment. The presets are scaled down (small inputs, narrow nets, a subset) so the effect shows on 2 CPU
cores in under a minute.
"""
from __future__ import annotations

import atexit
import dataclasses
import math
import os
import socket
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .data import CifarData
from .runs import final
from .train import TrainConfig, Trainer


@dataclass(frozen=True)
class Preset:
    label: str
    config: TrainConfig   # everything but arch, depth, batch_norm and seed
    train_images: int     # first N of the bundled subset (class-balanced)
    test_images: int


PRESETS = {
    # Chosen with benchmarks/live_preset.py (issue #13), 10 seeds per setting, by how often the verdict rule
    # holds: lr 0.05 with augmentation, 300 iterations 6/10; no augmentation 7/10; lr 0.1 0/10 (the deep
    # residual net lags its shallow twin most at high lr); this one 10/10 and the shortest. Augmentation
    # fights fitting the training set, which is what the verdict measures; the lr step at 200 settles the
    # final training errors the verdict compares.
    "1 minute": Preset("1 minute (16x16 inputs, width 8, 250 iterations, lr 0.03 /10 at 200, no augmentation)",
                       TrainConfig(width=8, image_size=16, batch_size=64, lr=0.03, iterations=250, milestones=(200,),
                                   augment=False, eval_every=125, log_every=10, smoothing=50,
                                   train_eval_images=1000),
                       train_images=5000, test_images=1000),
    "3 minutes": Preset("3 minutes (32x32 inputs, width 8, 500 iterations, lr 0.05, /10 at 400)",
                        TrainConfig(width=8, image_size=32, batch_size=64, lr=0.05, iterations=500,
                                    milestones=(400,), eval_every=100, log_every=10, smoothing=50,
                                    train_eval_images=1000),
                        train_images=5000, test_images=1000),
}
DEFAULT_PRESET = "1 minute"


def make_trainers(data: CifarData, preset: str, depths: tuple[int, int], batch_norm: bool, seed: int,
                  zero_init_residual: bool = False, which: tuple[int, ...] = (0, 1, 2, 3)) -> list[Trainer]:
    """plain-shallow, plain-deep, residual-shallow, residual-deep (those of them in ``which``): same seed,
    same batches."""
    p = PRESETS[preset]
    subset = data.subset(p.train_images, p.test_images)
    trainers = []
    for i, (arch, depth) in enumerate((a, d) for a in ("plain", "residual") for d in depths):
        if i not in which:
            continue
        cfg = dataclasses.replace(p.config, arch=arch, depth=depth, batch_norm=batch_norm, seed=seed,
                                  zero_init_residual=zero_init_residual and arch == "residual")
        t = Trainer(cfg, subset, command=f"live demo: preset {preset!r}, seed {seed}")
        t.run["name"] = f"live {t.run['name']}" + ("" if batch_norm else " (no BN)")
        t.run["preset"] = preset
        trainers.append(t)
    return trainers


def run_live(trainers: list[Trainer], *, should_stop: Callable[[], bool] = lambda: False,
             time_limit_s: float = 300.0, every_s: float = 1.0) -> Iterator[dict[str, Any]]:
    """Step the trainers in turn; yield a snapshot at most every ``every_s`` seconds and at the end.

    A snapshot: {"runs": [RUN...], "iteration", "total", "elapsed_s", "images_per_s", "stopped": reason|None}.
    """
    t0 = last = time.perf_counter()
    total = trainers[0].cfg.iterations
    images = 0
    stopped = None
    while trainers[0].iteration < total:
        if should_stop():
            stopped = "stopped"
            break
        if time.perf_counter() - t0 > time_limit_s:
            stopped = f"time limit ({time_limit_s:.0f} s) reached"
            break
        for t in trainers:
            try:
                t.step()
            except FloatingPointError as e:  # divergence (e.g. no BN, high lr): report it, keep the rest
                t.run["diverged"] = str(e)
                stopped = f"{t.run['name']} diverged"
            images += t.cfg.batch_size
        if stopped:
            break
        now = time.perf_counter()
        if now - last >= every_s and trainers[0].iteration < total:
            last = now
            yield _snapshot(trainers, total, now - t0, images, None)
    yield _snapshot(trainers, total, time.perf_counter() - t0, images, stopped)


def _snapshot(trainers: list[Trainer], total: int, elapsed: float, images: int, stopped: str | None) -> dict:
    return {"runs": [t.run for t in trainers], "iteration": trainers[0].iteration, "total": total,
            "elapsed_s": elapsed, "images_per_s": images / max(elapsed, 1e-9), "stopped": stopped}


# -- worker processes -------------------------------------------------------------------------------
# Which trainers each worker steps: a deep and a shallow net in each, so both take about as long.
SPLIT = ((1, 2), (0, 3))  # plain-deep + residual-shallow | plain-shallow + residual-deep
PACKAGE_PARENT = Path(__file__).resolve().parents[1]
# Below the server's own threads: a classify request (or a browser on the same machine) comes first and
# training takes the rest of the cores, instead of all of them sharing alike.
WORKER_NICE = 10


def worker_main(fd: int, threads: int) -> None:
    """A worker process (``Workers`` starts it): waits for a job on the socket ``fd``, trains its trainers
    with ``run_live``, sends every snapshot, then ("end",). Any message during a job stops it between two
    steps. Ends at ("quit",) or when the app's end of the socket closes (the app exited or was killed): a
    worker never outlives the app."""
    import torch  # noqa: PLC0415

    from .data import load_bundled  # noqa: PLC0415

    torch.set_num_threads(threads)
    os.nice(WORKER_NICE)
    conn = Connection(fd)
    data = load_bundled()
    try:
        while True:
            msg = conn.recv()
            if msg[0] == "quit":
                return
            if msg[0] != "job":  # a stop that came after its job had ended
                continue
            key, preset, args, which, every_s = msg[1:]
            PRESETS[key] = preset  # the app's preset, whatever this process's module defines
            told: list[str] = []

            def should_stop() -> bool:
                if not told and conn.poll():
                    told.append(conn.recv()[0])
                return bool(told)

            try:
                trainers = make_trainers(data, key, *args, which=which)
                for snap in run_live(trainers, should_stop=should_stop, time_limit_s=math.inf, every_s=every_s):
                    conn.send(("snap", snap))
                conn.send(("end",))
            except (EOFError, OSError):  # the socket to the app: handled below
                raise
            except Exception:  # noqa: BLE001 (reported to the app, which raises it there)
                conn.send(("error", traceback.format_exc(limit=5)))
            if told == ["quit"]:
                return
    except (EOFError, OSError, KeyboardInterrupt):  # the app closed its end (or was killed)
        return


class WorkerError(RuntimeError):
    pass


class Workers:
    """Two worker processes of one torch thread each, started at first use, reused, stopped with the app
    (``close``, also at exit; and a worker whose socket to the app closes ends itself). One job at a time."""

    def __init__(self, processes: int = 2, threads: int = 1) -> None:
        self.processes, self.threads = processes, threads
        self._procs: list[subprocess.Popen] = []
        self._conns: list[Connection] = []
        self.lock = threading.Lock()
        atexit.register(self.close)

    @property
    def ready(self) -> bool:
        return len(self._procs) == self.processes and all(p.poll() is None for p in self._procs)

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def _start(self) -> None:
        """New processes (never a fork of one that runs server threads; and not multiprocessing's spawn,
        which re-runs the caller's main script in the child), each talking over its own socket pair."""
        self.close()
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")])))
        for _ in range(self.processes):
            ours, theirs = socket.socketpair()
            code = "import sys; from resnet_demo.live import worker_main; worker_main(int(sys.argv[1]), int(sys.argv[2]))"
            proc = subprocess.Popen([sys.executable, "-c", code, str(theirs.fileno()), str(self.threads)], env=env,
                                    pass_fds=[theirs.fileno()], stdin=subprocess.DEVNULL)
            theirs.close()
            self._procs.append(proc)
            self._conns.append(Connection(ours.detach()))

    def close(self) -> None:
        for conn in self._conns:
            try:
                conn.send(("quit",))
            except OSError:
                pass
        for proc in self._procs:
            try:
                proc.wait(timeout=2)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=2)
        for conn in self._conns:
            conn.close()
        self._procs, self._conns = [], []

    def run(self, preset: str, depths: tuple[int, int], batch_norm: bool, seed: int, zero_init_residual: bool = False,
            *, should_stop: Callable[[], bool] = lambda: False, time_limit_s: float = 300.0,
            every_s: float = 1.0) -> Iterator[dict[str, Any]]:
        """``run_live``'s snapshots for the four trainers of ``make_trainers``, trained by the workers; each
        snapshot cut at the iteration all four have reached. The first run starts the workers (a few
        seconds, counted in its elapsed time)."""
        if not self.lock.acquire(timeout=10):
            raise WorkerError("another live run is still using the training processes")
        running: set[int] = set()
        try:
            if not self.ready:
                self._start()
            args = (depths, batch_norm, seed, zero_init_residual)
            for conn, which in zip(self._conns, SPLIT):
                conn.send(("job", preset, PRESETS[preset], args, which, every_s / 2))
            running.update(range(len(self._conns)))
            latest: list[dict[str, Any] | None] = [None] * len(self._conns)
            stopped: str | None = None
            t0 = last = time.perf_counter()
            while running:
                for conn in wait([self._conns[i] for i in running], timeout=0.05):
                    i = self._conns.index(conn)
                    try:
                        msg = conn.recv()
                    except (EOFError, OSError):
                        raise WorkerError("a training process ended unexpectedly") from None
                    if msg[0] == "error":
                        raise WorkerError(msg[1])
                    if msg[0] == "end":
                        running.discard(i)
                        if latest[i]["stopped"] and not stopped:  # a net diverged: stop the other worker
                            stopped = latest[i]["stopped"]
                            self._stop(running)
                    else:
                        latest[i] = msg[1]
                now = time.perf_counter()
                if not stopped and running:
                    if should_stop():
                        stopped = "stopped"
                        self._stop(running)
                    elif now - t0 > time_limit_s:
                        stopped = f"time limit ({time_limit_s:.0f} s) reached"
                        self._stop(running)
                if running and now - last >= every_s and all(latest) and not stopped:
                    snap = _merge(latest, now - t0, None)
                    if snap["iteration"] < snap["total"]:  # the run's end is yielded once, below, when all ended
                        last = now
                        yield snap
            yield _merge(latest, time.perf_counter() - t0, stopped)
        except GeneratorExit:  # the caller gave up (a closed page): end the job, keep the workers
            self._stop(running)
            self._drain(running)
            raise
        except BaseException:
            self.close()  # an error: never leave a job running
            raise
        finally:
            self.lock.release()

    def _stop(self, running: set[int]) -> None:
        for i in running:
            try:
                self._conns[i].send(("stop",))
            except OSError:  # that worker is gone: reading from it says so
                pass

    def _drain(self, running: set[int], timeout_s: float = 5.0) -> None:
        """Read what the stopped workers still send until each has ended its job (else stop them)."""
        deadline = time.perf_counter() + timeout_s
        try:
            while running and time.perf_counter() < deadline:
                for conn in wait([self._conns[i] for i in running], timeout=0.1):
                    if conn.recv()[0] in ("end", "error"):
                        running.discard(self._conns.index(conn))
        except (EOFError, OSError):
            pass
        if running:
            self.close()


def _merge(parts: list[dict[str, Any]], elapsed: float, stopped: str | None) -> dict[str, Any]:
    runs: list[dict[str, Any] | None] = [None] * 4
    for part, which in zip(parts, SPLIT):
        for i, run in zip(which, part["runs"]):
            runs[i] = run
    upto = min(part["iteration"] for part in parts)
    images = sum(p["iteration"] * r["batch_size"] for p in parts for r in p["runs"])
    return {"runs": [_cut(r, upto) for r in runs], "iteration": upto, "total": parts[0]["total"],
            "elapsed_s": elapsed, "images_per_s": images / max(elapsed, 1e-9), "stopped": stopped}


def _cut(run: dict[str, Any], upto: int) -> dict[str, Any]:
    """The run with only the points at iterations <= upto."""
    keep = sum(1 for it in run["iterations"] if it <= upto)
    if keep == len(run["iterations"]):
        return run
    out = dict(run)
    for key in ("iterations", "train_error", "test_error", "train_error_measured"):
        if key in out:
            out[key] = out[key][:keep]
    return out


WORKERS = Workers()


def final_train_error(run: dict[str, Any]) -> float | None:
    """The error on the fixed training sample at the last evaluation when measured, else the smoothed
    batch error (the dashed curve)."""
    measured = final(run.get("train_error_measured") or [])
    return measured if measured is not None else final(run["train_error"])


def gaps(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Final training-error gaps in points (percent): plain deep-shallow, residual deep-shallow,
    plain-deep minus residual-deep. ``runs`` in make_trainers order."""
    ps, pd, rs, rd = (100 * final_train_error(r) for r in runs)
    return {"plain_gap": pd - ps, "residual_gap": rd - rs, "residual_advantage": pd - rd}


def verdict(runs: list[dict[str, Any]]) -> str:
    """A sentence computed from the four runs' final training errors (never a canned conclusion)."""
    ps, pd, rs, rd = runs
    if any(final_train_error(r) is None for r in runs):
        return "Not enough iterations yet for a verdict."
    g = gaps(runs)

    def compare(deep: dict, shallow: dict, gap: float) -> str:
        if abs(gap) < 0.5:
            return f"{_short(deep)} ended level with {_short(shallow)} ({gap:+.1f} points)"
        side = "above" if gap > 0 else "below"
        return f"{_short(deep)} ended {abs(gap):.1f} points {side} {_short(shallow)}"

    plain = compare(pd, ps, g["plain_gap"])
    residual = compare(rd, rs, g["residual_gap"])
    if g["plain_gap"] > 0.5:
        plain += ": degradation, the deeper plain net trains worse"
    elif g["plain_gap"] < -0.5:
        plain += ": no degradation in this run"
    adv = g["residual_advantage"]
    tail = (f"{_short(rd)} is {abs(adv):.1f} points {'below' if adv > 0 else 'above'} {_short(pd)}"
            " at the same depth and iteration.")
    measured = all(final(r.get("train_error_measured") or []) is not None for r in runs)  # none if stopped early
    how = " (measured on 1,000 training images at the end)" if measured else " (mean of the last batches)"
    return f"Training error{how}: {plain}; {residual}. {tail}"


def _short(run: dict[str, Any]) -> str:
    return ("ResNet" if run["arch"] == "residual" else "plain") + f"-{run['depth']}"
