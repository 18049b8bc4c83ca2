"""Live degradation demo: plain and residual nets at a shallow and a deep depth, trained side by side.

Four ``train.Trainer``s with the same seed and the same batches step in turn, so the four curves are
iteration-matched at every moment. The presets are scaled down (small inputs, narrow nets, a subset) so
the effect shows on 2 CPU cores in about a minute; ``benchmarks/live_preset.py`` measures that it does.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
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
    # lr 0.05: at 0.1 the deep residual net lags its shallow twin for longer (benchmarks/live_preset.py)
    "1 minute": Preset("1 minute (16x16 inputs, width 8, 300 iterations, lr 0.05)",
                       TrainConfig(width=8, image_size=16, batch_size=64, lr=0.05, iterations=300, milestones=(),
                                   eval_every=100, log_every=10, smoothing=50, train_eval_images=1000),
                       train_images=5000, test_images=1000),
    "3 minutes": Preset("3 minutes (32x32 inputs, width 8, 500 iterations, lr 0.05, /10 at 400)",
                        TrainConfig(width=8, image_size=32, batch_size=64, lr=0.05, iterations=500,
                                    milestones=(400,), eval_every=100, log_every=10, smoothing=50,
                                    train_eval_images=1000),
                        train_images=5000, test_images=1000),
}
DEFAULT_PRESET = "1 minute"


def make_trainers(data: CifarData, preset: str, depths: tuple[int, int], batch_norm: bool, seed: int,
                  zero_init_residual: bool = False) -> list[Trainer]:
    """plain-shallow, plain-deep, residual-shallow, residual-deep: same seed, same batches."""
    p = PRESETS[preset]
    subset = data.subset(p.train_images, p.test_images)
    trainers = []
    for arch in ("plain", "residual"):
        for depth in depths:
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
    measured = all(r.get("train_error_measured") for r in runs)
    how = " (measured on 1,000 training images at the end)" if measured else " (mean of the last batches)"
    return f"Training error{how}: {plain}; {residual}. {tail}"


def _short(run: dict[str, Any]) -> str:
    return ("ResNet" if run["arch"] == "residual" else "plain") + f"-{run['depth']}"
