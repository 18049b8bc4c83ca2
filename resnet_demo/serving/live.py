"""Live degradation demo: plain and residual nets at a shallow and a deep depth, trained side by side.

Four ``trainer.Trainer``s with the same seed and the same batches. ``run_live`` steps trainers in turn in
this process; ``workers.Workers`` (what the app uses) runs them in two worker processes of one torch thread
each, kept warm between runs: at width 8 and 16x16 the ops are too small for two threads to share one, so
two processes stepping two nets each use both cores (``benchmarks/live_preset.py`` measures both designs).
The curves shown are cut at the iteration every net has reached, so they are iteration-matched at every
moment. The presets are scaled down (small inputs, narrow nets, a subset) so the effect shows on 2 CPU
cores in under a minute.
"""
from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from ..base.settings import LIVE_PRESETS_FILE
from ..base.stored import Provenance
from ..base.stored import read as read_stored
from ..nets.data import CifarData
from ..nets.trainer import TrainConfig, Trainer


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


def measured(preset: str) -> tuple[dict[str, Any], Provenance] | None:
    """What ``benchmarks/live_preset.py`` measured for a preset (assets/live_presets.json): over how many seeds
    the plain pair degraded, the range of ResNet-deep minus ResNet-shallow final training error, and the
    seed-to-seed standard deviation of each gap the verdict compares (``gap_sd``: a gap within twice it is
    "too close to call", degradation.verdict); None where it was not measured."""
    s = read_stored(LIVE_PRESETS_FILE)
    entry = s.data["presets"].get(preset) if s else None
    return (entry, s.provenance) if entry else None


@dataclass(frozen=True)
class Net:
    """A residual net of the shortcut lab (He et al. 2016's units and shortcuts, ``nets.variants``), named."""
    name: str
    unit: str = "original"
    shortcut_kind: str = "identity"
    gate_bias: float = 0.0


@dataclass(frozen=True)
class Job:
    """One live run, as the app sends it to the workers: the preset itself (not its name, so a worker trains
    what the app asked for whatever its own module defines), the depths, BN, the seed, and which of the
    trainers this process steps: the four of the degradation demo (plain-shallow, plain-deep, residual-shallow,
    residual-deep), or, where ``nets`` names them, the shortcut lab's nets at the deep depth with BN."""
    preset_key: str
    preset: Preset
    depths: tuple[int, int]
    batch_norm: bool
    seed: int
    zero_init_residual: bool = False
    which: tuple[int, ...] = (0, 1, 2, 3)
    nets: tuple[Net, ...] = ()

    @property
    def count(self) -> int:
        """How many nets the whole run trains."""
        return len(self.nets) or 4

    @classmethod
    def of(cls, preset_key: str, depths: tuple[int, int], batch_norm: bool, seed: int,
           zero_init_residual: bool = False) -> Job:
        return cls(preset_key, PRESETS[preset_key], tuple(depths), batch_norm, seed, zero_init_residual)


@dataclass(frozen=True)
class Snapshot:
    """A live run at one moment: its RUNs (cut at the iteration every net has reached), where it is, and why it
    ended early (None while it runs, or when it ran to the end)."""
    runs: list[dict[str, Any]]
    iteration: int
    total: int
    elapsed_s: float
    images_per_s: float
    stopped: str | None = None


class StopCheck:
    """The one stop rule of a live run, in this process or in the workers: a Stop press (``should_stop``) or the
    time limit, checked between steps; ``reason`` says which, or None to go on."""

    def __init__(self, should_stop: Callable[[], bool], time_limit_s: float) -> None:
        self.should_stop, self.time_limit_s = should_stop, time_limit_s
        self.t0 = time.perf_counter()

    def elapsed(self) -> float:
        return time.perf_counter() - self.t0

    def reason(self) -> str | None:
        if self.should_stop():
            return "stopped"
        if self.elapsed() > self.time_limit_s:
            return f"time limit ({self.time_limit_s:.0f} s) reached"
        return None


def _configs(job: Job) -> list[tuple[TrainConfig, str | None]]:
    """Every net of the job, in order: its config and, for the shortcut lab's nets, its name."""
    p = job.preset
    if job.nets:
        return [(dataclasses.replace(p.config, arch="residual", depth=job.depths[1], batch_norm=True, seed=job.seed,
                                     unit=n.unit, shortcut_kind=n.shortcut_kind, gate_bias=n.gate_bias), n.name)
                for n in job.nets]
    return [(dataclasses.replace(p.config, arch=arch, depth=depth, batch_norm=job.batch_norm, seed=job.seed,
                                 zero_init_residual=job.zero_init_residual and arch == "residual"), None)
            for arch in ("plain", "residual") for depth in job.depths]


def make_trainers(data: CifarData, job: Job) -> list[Trainer]:
    """The job's trainers (those in ``job.which``): same seed, same batches."""
    p = job.preset
    subset = data.subset(p.train_images, p.test_images)
    trainers = []
    for i, (cfg, name) in enumerate(_configs(job)):
        if i not in job.which:
            continue
        t = Trainer(cfg, subset, command=f"live demo: preset {job.preset_key!r}, seed {job.seed}")
        t.run["name"] = f"live {name or t.run['name']}" + ("" if cfg.batch_norm else " (no BN)")
        t.run["preset"] = job.preset_key
        trainers.append(t)
    return trainers


def run_live(trainers: list[Trainer], *, should_stop: Callable[[], bool] = lambda: False,
             time_limit_s: float = 300.0, every_s: float = 1.0) -> Iterator[Snapshot]:
    """Step the trainers in turn; yield a snapshot at most every ``every_s`` seconds and at the end."""
    check = StopCheck(should_stop, time_limit_s)
    last = check.t0
    total = trainers[0].cfg.iterations
    images = 0
    stopped = None
    while trainers[0].iteration < total:
        if stopped := check.reason():
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
            yield _snapshot(trainers, total, check.elapsed(), images, None)
    yield _snapshot(trainers, total, check.elapsed(), images, stopped)


def _snapshot(trainers: list[Trainer], total: int, elapsed: float, images: int, stopped: str | None) -> Snapshot:
    return Snapshot([t.run for t in trainers], trainers[0].iteration, total, elapsed, images / max(elapsed, 1e-9),
                    stopped)


class StopFlags:
    """One stop flag per session, so that Stop reaches that session's run whether it is running or still
    waiting in the queue: ``arm`` at the click (and again when the run starts, which gets the same flag to check
    between steps), ``stop`` from the Stop button, and ``release`` when the run ends."""

    def __init__(self) -> None:
        self._flags: dict[str, threading.Event] = {}
        self._lock = threading.Lock()

    def arm(self, session: str) -> threading.Event:
        with self._lock:
            return self._flags.setdefault(session, threading.Event())

    def stop(self, session: str) -> None:
        with self._lock:
            flag = self._flags.get(session)
        if flag is not None:
            flag.set()

    def release(self, session: str, flag: threading.Event) -> None:
        with self._lock:
            if self._flags.get(session) is flag:
                del self._flags[session]

    def __len__(self) -> int:
        with self._lock:
            return len(self._flags)
