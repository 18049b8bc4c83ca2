"""The live demo's worker processes: two processes of one torch thread each that train its four nets.

Started at the first live run and kept warm (started with ``subprocess``, never a fork of the threaded
server, nor multiprocessing's spawn, which re-runs the caller's main script); each talks to the app over a
socket pair and exits when that socket closes, so a worker never outlives the app. The curves the app
shows are cut at the iteration every net has reached.
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
from multiprocessing.connection import Connection, wait
from typing import Any

from ..base.settings import ROOT
from .live import Job, Net, Snapshot, StopCheck, make_trainers, run_live

# Which trainers each worker steps: a deep and a shallow net in each, so both take about as long.
SPLIT = ((1, 2), (0, 3))  # plain-deep + residual-shallow | plain-shallow + residual-deep
NETS_SPLIT = ((0, 2), (1, 3))  # the shortcut lab's nets, all at one depth: alternately (one or two per worker)
PACKAGE_PARENT = ROOT  # on the workers' PYTHONPATH
# Below the server's own threads: a classify request (or a browser on the same machine) comes first and
# training takes the rest of the cores, instead of all of them sharing alike.
WORKER_NICE = 10


def split(job: Job) -> tuple[tuple[int, ...], ...]:
    """Which of the job's nets each worker steps (a worker with none sits this run out)."""
    if not job.nets:
        return SPLIT
    return tuple(tuple(i for i in part if i < job.count) for part in NETS_SPLIT)


def worker_main(fd: int, threads: int) -> None:
    """A worker process (``Workers`` starts it): waits for a job on the socket ``fd``, trains its trainers
    with ``run_live``, sends every snapshot, then ("end",). Any message during a job stops it between two
    steps. Ends at ("quit",) or when the app's end of the socket closes (the app exited or was killed): a
    worker never outlives the app."""
    import torch  # noqa: PLC0415

    from ..nets.data import load_bundled  # noqa: PLC0415

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
            job, every_s = msg[1:]
            told: list[str] = []

            def should_stop() -> bool:
                if not told and conn.poll():
                    told.append(conn.recv()[0])
                return bool(told)

            try:
                trainers = make_trainers(data, job)
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
        self._atexit = False

    @property
    def ready(self) -> bool:
        return len(self._procs) == self.processes and all(p.poll() is None for p in self._procs)

    def pids(self) -> list[int]:
        return [p.pid for p in self._procs]

    def _start(self) -> None:
        """New processes (never a fork of one that runs server threads; and not multiprocessing's spawn,
        which re-runs the caller's main script in the child), each talking over its own socket pair."""
        self.close()
        if not self._atexit:  # registered at the first start, not at import
            atexit.register(self.close)
            self._atexit = True
        env = dict(os.environ, OMP_NUM_THREADS=str(self.threads),
                   PYTHONPATH=os.pathsep.join(filter(None, [str(PACKAGE_PARENT), os.environ.get("PYTHONPATH")])))
        for _ in range(self.processes):
            ours, theirs = socket.socketpair()
            code = ("import sys; from resnet_demo.serving.workers import worker_main; "
                    "worker_main(int(sys.argv[1]), int(sys.argv[2]))")
            proc = subprocess.Popen(
                [sys.executable, "-c", code, str(theirs.fileno()), str(self.threads)],
                env=env,
                pass_fds=[theirs.fileno()],
                stdin=subprocess.DEVNULL,
            )
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

    def run(
        self,
        preset: str,
        depths: tuple[int, int],
        batch_norm: bool,
        seed: int,
        zero_init_residual: bool = False,
        *,
        nets: tuple[Net, ...] = (),
        should_stop: Callable[[], bool] = lambda: False,
        time_limit_s: float = 300.0,
        every_s: float = 1.0,
    ) -> Iterator[Snapshot]:
        """``run_live``'s snapshots for the trainers of ``make_trainers`` (the four of the degradation demo, or
        the shortcut lab's ``nets``), trained by the workers; each snapshot cut at the iteration all have
        reached. The first run starts the workers (a few seconds, counted in its elapsed time)."""
        if not self.lock.acquire(timeout=10):
            raise WorkerError("another live run is still using the training processes")
        running: set[int] = set()
        try:
            if not self.ready:
                self._start()
            job = dataclasses.replace(Job.of(preset, depths, batch_norm, seed, zero_init_residual), nets=tuple(nets))
            parts = split(job)
            for i, (conn, which) in enumerate(zip(self._conns, parts)):
                if which:
                    conn.send(("job", dataclasses.replace(job, which=which), every_s / 2))
                    running.add(i)
            latest: list[Snapshot | None] = [None] * len(self._conns)
            stopped: str | None = None
            check = StopCheck(should_stop, time_limit_s)
            last = check.t0
            while running:
                stopped = self._receive(running, latest, stopped)
                now = time.perf_counter()
                if not stopped and running and (stopped := check.reason()):
                    self._stop(running)
                if running and now - last >= every_s and not stopped and all(
                        snap for snap, which in zip(latest, parts) if which):
                    snap = _merge(latest, parts, check.elapsed(), None)
                    if snap.iteration < snap.total:  # the run's end is yielded once, below, when all ended
                        last = now
                        yield snap
            yield _merge(latest, parts, check.elapsed(), stopped)
        except GeneratorExit:  # the caller gave up (a closed page): end the job, keep the workers
            self._stop(running)
            self._drain(running)
            raise
        except BaseException:
            self.close()  # an error: never leave a job running
            raise
        finally:
            self.lock.release()

    def _receive(self, running: set[int], latest: list[Snapshot | None], stopped: str | None) -> str | None:
        """Read what the workers sent: snapshots into ``latest``; an end takes the worker out of ``running`` (and
        a net that diverged there stops the other); an error, or a worker lost, raises WorkerError. Returns why
        the run stopped early, if it did."""
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
                if latest[i].stopped and not stopped:  # a net diverged: stop the other worker
                    stopped = latest[i].stopped
                    self._stop(running)
            else:
                latest[i] = msg[1]
        return stopped

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


def _merge(latest: list[Snapshot | None], split: tuple[tuple[int, ...], ...], elapsed: float,
           stopped: str | None) -> Snapshot:
    """The workers' snapshots as one: the runs in the job's order, cut at the iteration every net has reached."""
    parts = [p for p, which in zip(latest, split) if which]
    runs: list[dict[str, Any] | None] = [None] * sum(len(which) for which in split)
    for part, which in zip(parts, [w for w in split if w]):
        for i, run in zip(which, part.runs):
            runs[i] = run
    upto = min(part.iteration for part in parts)
    images = sum(p.iteration * r["batch_size"] for p in parts for r in p.runs)
    return Snapshot([_cut(r, upto) for r in runs], upto, parts[0].total, elapsed, images / max(elapsed, 1e-9), stopped)


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
