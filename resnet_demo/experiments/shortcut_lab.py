"""The shortcut lab (He, Zhang, Ren, Sun, "Identity Mappings in Deep Residual Networks", ECCV 2016): why the
shortcut should be the identity. For each variant of the CIFAR net (``nets.variants``: a shortcut kind with the
original unit, or a unit kind with the identity shortcut), the gradient that reaches the input of every unit,
at initialisation and after a few SGD steps, beside what the shortcut path alone multiplies it by (the closed
form: 1 for the identity, λ^k through k units of constant scaling).

``stored()`` holds every variant's profile at depths 56 and 110 (``python -m scripts.shortcut_lab``);
``compute()`` profiles one variant now.
"""
from __future__ import annotations

import dataclasses
import math
import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch

from ..base.settings import SHORTCUT_LAB_FILE, SHORTCUT_TRAINING_FILE
from ..base.stored import Stored
from ..base.stored import read as read_stored
from ..base.threads import flush_denormals
from ..nets.data import bundled
from ..nets.runs import final
from ..nets.trainer import TrainConfig, Trainer
from ..nets.variants import shortcut_path_factor, unit_input_gradients
from ..serving.live import DEFAULT_PRESET, PRESETS
from .gradflow import BATCH, probe_batch
from .noise import Diff, diff


@dataclass(frozen=True)
class Variant:
    key: str
    label: str
    unit: str
    shortcut: str
    formula: str  # the unit as He et al. 2016 write it
    gate_bias: float = 0.0  # b_g, where a gate starts (Table 1 tries 0 to −10)


VARIANTS = {v.key: v for v in (
    Variant("identity", "identity shortcut, original unit", "original", "identity", "x_{l+1} = ReLU(x_l + F(x_l))"),
    Variant("scale", "constant scaling, λ = 0.5 on the shortcut", "original", "scale",
            "x_{l+1} = ReLU(0.5·x_l + F(x_l))"),
    Variant("scale-both", "constant scaling, 0.5 on both", "original", "scale-both",
            "x_{l+1} = ReLU(0.5·x_l + 0.5·F(x_l))"),
    Variant("exclusive-gate", "exclusive gating, b_g = 0", "original", "exclusive-gate",
            "x_{l+1} = ReLU((1 − g(x_l))·x_l + g(x_l)·F(x_l)), g = sigmoid(1×1 conv + b_g), b_g = 0 at the start"),
    Variant("exclusive-gate-6", "exclusive gating, b_g = −6", "original", "exclusive-gate",
            "x_{l+1} = ReLU((1 − g(x_l))·x_l + g(x_l)·F(x_l)), g = sigmoid(1×1 conv + b_g), b_g = −6 at the start",
            gate_bias=-6.0),
    Variant("shortcut-gate", "shortcut-only gating, b_g = 0", "original", "shortcut-gate",
            "x_{l+1} = ReLU((1 − g(x_l))·x_l + F(x_l)), g = sigmoid(1×1 conv + b_g), b_g = 0 at the start"),
    Variant("shortcut-gate-6", "shortcut-only gating, b_g = −6", "original", "shortcut-gate",
            "x_{l+1} = ReLU((1 − g(x_l))·x_l + F(x_l)), g = sigmoid(1×1 conv + b_g), b_g = −6 at the start",
            gate_bias=-6.0),
    Variant("conv1x1", "1×1 convolution shortcut", "original", "conv1x1", "x_{l+1} = ReLU(W·x_l + F(x_l))"),
    Variant("dropout", "dropout shortcut (0.5)", "original", "dropout",
            "x_{l+1} = ReLU(m·x_l + F(x_l)), m ~ Bernoulli(0.5)"),
    Variant("bn-after-add", "BN after addition", "bn-after-add", "identity", "x_{l+1} = ReLU(BN(x_l + F(x_l)))"),
    Variant("relu-before-add", "ReLU before addition", "relu-before-add", "identity",
            "x_{l+1} = x_l + ReLU(F(x_l))"),
    Variant("relu-preact", "ReLU-only pre-activation", "relu-preact", "identity", "x_{l+1} = x_l + F(ReLU(x_l))"),
    Variant("full-preact", "full pre-activation", "full-preact", "identity",
            "x_{l+1} = x_l + F(x_l), F = conv(ReLU(BN(conv(ReLU(BN(x))))))"),
)}
DEPTHS = (56, 110)
STEPS = (0, 50)  # profiled at initialisation and after a few SGD steps
SPREAD_SEEDS = (0, 1, 2, 3, 4)  # the first unit's share at initialisation over these seeds: its noise
LR = 0.1


def units(depth: int) -> int:
    """Residual units in a CIFAR net of depth 6n + 2: 3n."""
    return (depth - 2) // 2


def _config(v: Variant, depth: int, seed: int, steps: int) -> TrainConfig:
    return TrainConfig(depth=depth, seed=seed, batch_size=BATCH, lr=LR, iterations=max(steps, 1), milestones=(),
                       eval_every=0, log_every=10**9, unit=v.unit, shortcut_kind=v.shortcut, gate_bias=v.gate_bias)


def compute(key: str, depth: int, steps: int = STEPS[-1], seed: int = 0, data=None) -> dict[str, Any]:
    """One variant's profile: the gradient RMS at every unit's input and the last unit's output (``grads``, one
    list per profiled step in ``steps``), the loss there, and the first unit's share of the last one's
    (``ratio``); the same along the shortcuts alone (``direct``, ``direct_ratio``: He et al. 2016's direct term,
    ``unit_input_gradients(direct=True)``), beside its closed form (``closed_form``; None where learned or
    random)."""
    flush_denormals()
    v, data = VARIANTS[key], data or bundled()
    t0 = time.perf_counter()
    trainer = Trainer(_config(v, depth, seed, steps), data)
    x, y = probe_batch(data, seed)
    out = {"variant": key, "depth": depth, "seed": seed, "units": units(depth), "steps": [], "grads": [],
           "ratio": [], "direct": [], "direct_ratio": [], "loss": [], "diverged": None,
           "closed_form": shortcut_path_factor(v.shortcut, units(depth))}
    for mark in (0, steps) if steps else (0,):
        while trainer.iteration < mark:
            try:
                trainer.step()
            except FloatingPointError as e:
                out["diverged"] = {"step": trainer.iteration, "why": str(e)}
                break
        if out["diverged"]:
            break
        trainer.model.train()  # BN on the batch's own statistics, as training sees it
        trainer.model.zero_grad(set_to_none=True)
        g = unit_input_gradients(trainer.model, x, y)
        d = unit_input_gradients(trainer.model, x, y, direct=True)
        with torch.no_grad():
            loss = torch.nn.functional.cross_entropy(trainer.model(x), y).item()
        trainer.model.zero_grad(set_to_none=True)
        out["steps"].append(mark)
        out["grads"].append(g)
        out["ratio"].append(g[0] / g[-1] if g[-1] else float("inf"))
        out["direct"].append(d)
        out["direct_ratio"].append(d[0] / d[-1] if d[-1] else float("inf"))
        out["loss"].append(loss)
    out["seconds"] = round(time.perf_counter() - t0, 2)
    return out


def stored() -> Stored | None:
    """Every variant's profile at DEPTHS and STEPS (``python -m scripts.shortcut_lab``); None when absent."""
    return read_stored(SHORTCUT_LAB_FILE)


def stored_profile(key: str, depth: int) -> dict[str, Any] | None:
    s = stored()
    return s.data["profiles"].get(f"{key}-{depth}") if s else None


def at_step(p: dict[str, Any], step: int) -> dict[str, Any]:
    """A profile cut at ``step`` (a copy): what the lab shows for that many training steps."""
    n = p["steps"].index(step) + 1 if step in p["steps"] else len(p["steps"])
    return {**p, **{k: p[k][:n] for k in ("steps", "grads", "ratio", "direct", "direct_ratio", "loss")}}


TRAIN_DEPTH = 56


def training_setup() -> dict[str, Any]:
    """The live demo's default preset, as the variants are trained at its scale (``train``)."""
    p = PRESETS[DEFAULT_PRESET]
    return {"preset": DEFAULT_PRESET, "depth": TRAIN_DEPTH, "train_images": p.train_images,
            "test_images": p.test_images, **dataclasses.asdict(p.config)}


def train(key: str, seed: int, data=None) -> dict[str, Any]:
    """One variant trained at the live demo's scale (its default preset, depth 56): the final training error (the
    preset's fixed sample of training images, no augmentation), test error, and whether it diverged."""
    v, p, t0 = VARIANTS[key], PRESETS[DEFAULT_PRESET], time.perf_counter()
    cfg = dataclasses.replace(p.config, depth=TRAIN_DEPTH, seed=seed, unit=v.unit, shortcut_kind=v.shortcut,
                              gate_bias=v.gate_bias)
    trainer = Trainer(cfg, (data or bundled()).subset(p.train_images, p.test_images))
    diverged = None
    try:
        for _ in trainer.steps():
            pass
    except FloatingPointError as e:
        diverged = {"step": trainer.iteration, "why": str(e)}
    run = trainer.run
    return {"seed": seed, "train_error": None if diverged else final(run.get("train_error_measured") or []),
            "test_error": None if diverged else final(run["test_error"]), "iterations": trainer.iteration,
            "diverged": diverged, "seconds": round(time.perf_counter() - t0, 1)}


def stored_training() -> Stored | None:
    """Every variant trained over seeds at the live scale (``python -m scripts.shortcut_training``)."""
    return read_stored(SHORTCUT_TRAINING_FILE)


@dataclass(frozen=True)
class Trained:
    """One variant over its seeds at the live scale: mean and s.d. of the final errors (points), how many seeds
    ended (a diverged run has no final error), and its training and test error against the identity's
    (``vs_identity``, ``test_vs_identity``: the difference of means with the standard error of that difference as
    its noise)."""
    key: str
    seeds: int
    diverged: int
    train_mean: float | None
    train_sd: float | None
    test_mean: float | None
    test_sd: float | None
    vs_identity: Diff | None
    test_vs_identity: Diff | None = None


def _vs(mean: float | None, sd: float | None, n: int, base: tuple[float | None, float | None], nb: int) -> Diff | None:
    if mean is None or sd is None or base[0] is None or base[1] is None:
        return None
    return diff(mean - base[0], ("seeds", math.sqrt(sd ** 2 / n + base[1] ** 2 / nb)))


def _mean_sd(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    return 100 * statistics.mean(values), (100 * statistics.stdev(values) if len(values) > 1 else None)


def trained() -> list[Trained]:
    """Every stored variant's training results, the identity's first (empty without the stored file)."""
    s = stored_training()
    if s is None:
        return []
    runs = s.data["runs"]

    def stats(key: str):
        ended = [r for r in runs[key] if r["train_error"] is not None]
        return ended, _mean_sd([r["train_error"] for r in ended]), _mean_sd([r["test_error"] for r in ended])

    base, train0, test0 = stats("identity")
    out = []
    for key in runs:
        ended, (tm, tsd), (em, esd) = stats(key)
        vs = vs_test = None
        if key != "identity":
            vs = _vs(tm, tsd, len(ended), train0, len(base))
            vs_test = _vs(em, esd, len(ended), test0, len(base))
        out.append(Trained(key, len(runs[key]), len(runs[key]) - len(ended), tm, tsd, em, esd, vs, vs_test))
    return out


@dataclass(frozen=True)
class Gap:
    """How many decades (powers of ten) one variant's first-unit share lies below the identity's at
    initialisation, over SPREAD_SEEDS: the difference of the mean log10 shares, with its standard error (``noise``)
    and the geometric means themselves."""
    decades: float
    noise: Diff
    identity: float
    other: float


def gap(key: str, depth: int, measure: str = "direct_ratio") -> Gap | None:
    """``key``'s share (``measure``: "direct_ratio" along the shortcuts alone, "ratio" through every path) against
    the identity's, from the stored spread over seeds; None without it. A share of exactly 0 in every seed (no
    path left open) lies infinitely many decades below; a mix of zeros and others has no mean log: None."""
    s = stored()
    spread = s.data.get("spread", {}) if s else {}
    a, b = spread.get(f"identity-{depth}"), spread.get(f"{key}-{depth}")
    if not a or not b or min(a[measure]) <= 0:
        return None
    la = [math.log10(v) for v in a[measure]]
    if all(v == 0 for v in b[measure]):
        sigma = math.sqrt(statistics.variance(la) / len(la))
        return Gap(math.inf, diff(math.inf, ("seeds", sigma)), 10 ** statistics.mean(la), 0.0)
    if min(b[measure]) <= 0:
        return None
    lb = [math.log10(v) for v in b[measure]]
    sigma = math.sqrt(statistics.variance(la) / len(la) + statistics.variance(lb) / len(lb))
    d = statistics.mean(la) - statistics.mean(lb)
    return Gap(d, diff(d, ("seeds", sigma)), 10 ** statistics.mean(la), 10 ** statistics.mean(lb))
