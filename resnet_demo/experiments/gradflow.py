"""Per-layer gradient magnitudes, read with tensor hooks during one backward pass: at initialisation and
through training (a plain and a residual net racing on the same batches), stored or live, and what the
Gradient-flow tab says about them.

Hooks: a forward hook on each weight layer registers a *tensor* hook on that layer's output (module
full-backward hooks break on in-place ops and ``out += identity``). The forward hooks are removed when
the pass ends; the tensor hooks die with the graph. Nothing is left on the model.
"""
from __future__ import annotations

import copy
import math
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..base.settings import GRADFLOW_FILE
from ..base.stored import read as read_stored
from ..base.threads import flush_denormals
from ..nets.cifar import weight_layers
from ..nets.data import normalize
from ..nets.trainer import TrainConfig, Trainer


def norm_after(model: nn.Module, conv_name: str) -> nn.Module | None:
    """The BN (or its Identity stand-in) right after a conv: conv->bn, convK->bnK, shortcut/downsample .0->.1."""
    modules = dict(model.named_modules())
    m = re.fullmatch(r"(.*?)conv(\d*)", conv_name)
    if m:
        return modules.get(f"{m.group(1)}bn{m.group(2)}")
    m = re.fullmatch(r"(.*)\.0", conv_name)
    if m:
        return modules.get(f"{m.group(1)}.1")
    return None


@dataclass
class Profile:
    layers: list[str]                    # weight layer names, forward order
    grad_norms: list[float]              # ||dL/d(output)|| per layer (L2 norm of the whole tensor)
    grad_rms: list[float] = field(default_factory=list)           # the same per element: norm / sqrt(numel)
    weight_grad_norms: list[float] = field(default_factory=list)  # ||dL/dW|| (empty when not computed)
    loss: float = float("nan")


def profile(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, weight_grads: bool = True) -> Profile:
    """One forward and backward pass that reads every layer's output gradient and weight gradient, in the
    model's current mode. ``weight_grads=False`` leaves parameters untouched (for shared, frozen models): the
    graph is then built from the input instead. BN running statistics are left as they were."""
    flush_denormals()
    layers = weight_layers(model)
    grads: dict[str, tuple[float, int]] = {}
    handles = []
    buffers = {name: b.clone() for name, b in model.named_buffers()}  # a train-mode pass updates BN's

    def on_output(name: str):
        def hook(_m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
            if out.requires_grad:
                out.register_hook(lambda g: grads.__setitem__(name, (g.detach().norm().item(), g.numel())))
        return hook

    for name, layer in layers:
        handles.append(layer.register_forward_hook(on_output(name)))
    try:
        if weight_grads:
            model.zero_grad(set_to_none=True)
            x = images
        else:
            x = images.detach().clone().requires_grad_(True)
        with torch.enable_grad():
            loss = F.cross_entropy(model(x), labels)
            loss.backward() if weight_grads else torch.autograd.backward(loss, inputs=[x])
    finally:
        for h in handles:
            h.remove()
        with torch.no_grad():
            for name, b in model.named_buffers():
                b.copy_(buffers[name])
    names = [n for n, _ in layers]
    out = Profile(names, [grads[n][0] for n in names], [grads[n][0] / math.sqrt(grads[n][1]) for n in names],
                  loss=loss.item())
    if weight_grads:
        out.weight_grad_norms = [m.weight.grad.norm().item() for _, m in layers]
        model.zero_grad(set_to_none=True)
    return out


def run_hooked(model: nn.Module, images: torch.Tensor, batch: int, handles: list, *, train_mode: bool) -> None:
    """Run ``images`` through the model in batches, in train or eval mode, then remove ``handles`` (the hooks
    that read what the pass computes) and put the mode and the buffers (BN statistics) back as they were."""
    buffers = {name: t.clone() for name, t in model.named_buffers()}
    was_training = model.training
    model.train(train_mode)
    try:
        for i in range(0, len(images), batch):
            model(images[i:i + batch])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
        for name, t in model.named_buffers():
            t.copy_(buffers[name])


def layer_grad_norms(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> list[tuple[str, float]]:
    """(layer name, L2 norm of dLoss/d(layer output)) for every weight layer, forward order (docs/architecture.md)."""
    p = profile(model, images, labels, weight_grads=False)
    return list(zip(p.layers, p.grad_norms))


def first_last_ratio(rms: list[float]) -> float:
    """The gradient's RMS per value at the first weight layer's output over that at the last convolution's
    (the layer before global pooling and the classifier). Per value, because the tensors differ in size
    (CIFAR: 16x32x32 values per image at the first conv, 64x8x8 at the last, 10 logits): their norms would
    differ by the square root of that for the same per-value gradient. Not the classifier's: global
    average pooling divides its gradient among the 8x8 positions, a factor of the map size, not of depth."""
    last = rms[-2] if len(rms) > 1 else rms[-1]
    return rms[0] / last if last > 0 else float("inf")


STEPS = (0, 10, 25, 50, 100, 200, 400)  # training steps at which the profile is read
BATCH = 64


def probe_batch(data, seed: int, size: int = BATCH) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch of real test images (chosen by ``seed``), normalised."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.x_test), generator=g)[:size]
    return normalize(data.x_test[idx]), data.y_test[idx]


def marks(steps: int) -> list[int]:
    """The steps at which a run of ``steps`` steps is profiled: the STEPS below it, and its end."""
    return [c for c in STEPS if c < steps] + [steps]


def finite(p: Profile) -> bool:
    return all(math.isfinite(v) for v in (p.loss, *p.grad_norms, *p.weight_grad_norms))


class Race:
    """A plain and a residual net of one depth, built from one seed and trained on the same batches, profiled
    on one fixed batch of test images. A net whose loss (in training or in the profile) or gradients turn
    non-finite has *diverged*: it is not trained or profiled again, and ``diverged`` says at which step."""

    ARCHS = ("plain", "residual")

    def __init__(self, data, depth: int, batch_norm: bool, seed: int, *, batch_size: int = BATCH) -> None:
        self.depth, self.batch_norm, self.seed = depth, batch_norm, seed
        self.lr = 0.1 if batch_norm else 0.01  # without BN the paper's 0.1 sends deep nets to NaN at once
        self.trainers = {
            arch: Trainer(TrainConfig(arch=arch, depth=depth, batch_norm=batch_norm, seed=seed,
                                      batch_size=batch_size, lr=self.lr, iterations=STEPS[-1],
                                      milestones=(), eval_every=0, log_every=10**9), data)
            for arch in self.ARCHS}
        self.x, self.y = probe_batch(data, seed)
        self.diverged: dict[str, dict[str, Any]] = {}
        self.step = 0
        self.layers = [n for n, _ in weight_layers(self.trainers["plain"].model)]

    def advance(self, to: int, should_stop=lambda: False) -> bool:
        """Train every net that has not diverged up to step ``to``; False if ``should_stop`` cut it short."""
        for arch, t in self.trainers.items():
            while t.iteration < to and arch not in self.diverged:
                if should_stop():
                    return False
                try:
                    t.step()
                except FloatingPointError as e:
                    self.diverged[arch] = {"step": t.iteration, "why": str(e)}
        self.step = to
        return True

    def profile(self) -> dict[str, Profile | None]:
        """Each net's profile at the current step (None once it has diverged)."""
        out: dict[str, Profile | None] = {}
        for arch, t in self.trainers.items():
            p = None
            if arch not in self.diverged:
                p = profile(t.model, self.x.contiguous(memory_format=t.memory_format), self.y)
                if not finite(p):
                    self.diverged[arch] = {"step": self.step,
                                           "why": f"its loss or gradients on the probe batch were not finite "
                                                  f"at step {self.step} (loss {p.loss:.3g}, lr {self.lr})"}
                    p = None
            out[arch] = p
        return out


def new_record(race: Race, source: str) -> dict[str, Any]:
    """A trajectory as the tab, the API and the stored file hold it: per net, one list entry per profiled step
    (``steps``); a diverged net's lists stop at its last finite profile."""
    return {"depth": race.depth, "batch_norm": race.batch_norm, "seed": race.seed, "lr": race.lr,
            "batch_size": BATCH, "source": source, "layers": race.layers, "steps": [],
            "nets": {arch: {"grad_norms": [], "grad_rms": [], "weight_grad_norms": [], "loss": [], "diverged": None}
                     for arch in Race.ARCHS}}


def record_step(record: dict[str, Any], race: Race, profiles: dict[str, Profile | None]) -> None:
    record["steps"].append(race.step)
    for arch, p in profiles.items():
        r = record["nets"][arch]
        if p is not None:
            r["grad_norms"].append(p.grad_norms)
            r["grad_rms"].append(p.grad_rms)
            r["weight_grad_norms"].append(p.weight_grad_norms)
            r["loss"].append(p.loss)
        r["diverged"] = race.diverged.get(arch)


def compute(data, depth: int, batch_norm: bool, seed: int, steps: int, *,
               source: str = "live") -> Iterator[dict[str, Any]]:
    """Train the pair for ``steps`` steps, yielding the record (the same dict, grown) at each of ``marks``."""
    race = Race(data, depth, batch_norm, seed)
    record = new_record(race, source)
    for mark in marks(steps):
        race.advance(mark)
        record_step(record, race, race.profile())
        yield record


def at(record: dict[str, Any], arch: str, step: int) -> Profile | None:
    """One net's profile at ``step`` of a record (None where it had diverged or was not profiled)."""
    r = record["nets"][arch]
    i = record["steps"].index(step)
    if i >= len(r["grad_rms"]):
        return None
    return Profile(record["layers"], r["grad_norms"][i], r["grad_rms"][i], r["weight_grad_norms"][i], r["loss"][i])


def record_key(depth: int, batch_norm: bool, seed: int) -> str:
    return f"depth{depth}-{'bn' if batch_norm else 'nobn'}-seed{seed}"


# -- what the tab shows -----------------------------------------------------------------------------------
def stored_records() -> dict[str, dict[str, Any]]:
    """The stored trajectories (``python -m scripts.gradflow_trajectories``): {record_key: record}."""
    s = read_stored(GRADFLOW_FILE)
    return s.data["runs"] if s else {}


def stored_depths() -> tuple[int, ...]:
    """The depths the stored file holds with seed 0 and BN both on and off (what the tab answers at once)."""
    runs = stored_records()
    depths = {r["depth"] for r in runs.values()}
    return tuple(sorted(d for d in depths if all(record_key(d, bn, 0) in runs for bn in (True, False))))


def stored(depth: int, batch_norm: bool, steps: int, seed: int) -> dict[str, Any] | None:
    """The stored trajectory for these settings, cut at ``steps`` (a copy), or None where none is stored."""
    record = stored_records().get(record_key(depth, batch_norm, seed))
    if record is None or steps not in record["steps"]:
        return None
    n = record["steps"].index(steps) + 1
    out = {**record, "steps": record["steps"][:n], "nets": {}}
    for arch in Race.ARCHS:
        net = out["nets"][arch] = {k: v[:n] if isinstance(v, list) else v for k, v in record["nets"][arch].items()}
        if (v := net["diverged"]) and v["step"] > steps:
            net["diverged"] = None
    return out


def snapshot(record: dict[str, Any]) -> dict[str, Any]:
    """The JSON value of /grad_flow: a copy of the record (a live one keeps growing), with "plain"/"residual" =
    each net's per-layer gradient norms at the last step (null where it had diverged), as
    docs/architecture.md promises."""
    out = copy.deepcopy(record)
    for arch in Race.ARCHS:
        p = at(record, arch, record["steps"][-1])
        out[arch] = None if p is None else p.grad_norms
    return out


def plan(steps: int, step_s: float, profile_s: float, budget_s: float) -> tuple[int, float]:
    """The largest checkpoint up to ``steps`` whose estimated remaining time (after the step-0 profile and steps 1
    and 2, which are done) fits ``budget_s``, and that estimate: each further step costs ``step_s`` (both nets),
    each further profile ``profile_s``."""
    best = (0, 0.0)
    for mark in marks(steps)[1:]:
        estimate = step_s * (mark - 2) + profile_s * len([m for m in marks(mark) if m > 0])
        if estimate > budget_s:
            break
        best = (mark, estimate)
    return best


@dataclass
class LiveUpdate:
    """One moment of a live run (``live``): the record so far and where the run is. ``phase``: "profiled" (step
    0 only was asked), "measuring" (step 0 shown while a step is timed), "planned" (it will train fewer steps
    than asked: ``warning`` says why), "training", "done" (``warning``: stopped early, if it was)."""
    record: dict[str, Any]
    phase: str
    step_s: float | None = None   # both nets' cost of one SGD step, measured on this run
    target: int = 0               # the step it will train to (within the time limit)
    left_s: float | None = None   # the estimate of the time still to go
    warning: str | None = None


def live(data, depth: int, batch_norm: bool, steps: int, seed: int, limit_s: float,
         rates: dict[str, float]) -> Iterator[LiveUpdate]:
    """Train the plain/residual race live to ``steps`` (or the last checkpoint that fits ``limit_s``, timed on
    this run's second step), yielding the record at every checkpoint. ``rates["s_per_layer_step"]`` is set to
    the measured cost, so the next estimate on this server starts from it."""
    t0 = time.perf_counter()
    race = Race(data, depth, batch_norm, seed)
    record = new_record(race, "live")
    record_step(record, race, race.profile())
    record["seconds"] = round(time.perf_counter() - t0, 2)
    if steps == 0:
        yield LiveUpdate(record, "profiled")
        return
    yield LiveUpdate(record, "measuring")
    race.advance(1)  # the first step pays one-off costs (allocations, lazy initialisation): measure the second
    t1 = time.perf_counter()
    race.advance(2)
    step_s = time.perf_counter() - t1
    rates["s_per_layer_step"] = step_s / depth
    profile_s = step_s  # a profile is one forward and backward pass of each net on a batch of the same size
    target, estimate = plan(steps, step_s, profile_s, limit_s - (time.perf_counter() - t0))
    record["estimate_s"] = round(time.perf_counter() - t0 + estimate, 1)
    if target < steps:
        yield LiveUpdate(record, "done" if target == 0 else "planned", step_s, target, estimate,
                         f"{steps} steps would take past the {limit_s:.0f} s limit on this machine ({step_s:.2f} s "
                         f"per step for both nets): training to {target} instead.")
    if target == 0:
        return
    started = time.perf_counter()
    for mark in marks(target)[1:]:
        if not race.advance(mark, should_stop=lambda: time.perf_counter() - t0 > limit_s):
            yield LiveUpdate(record, "done", step_s, target, 0.0,
                             f"Stopped at the time limit ({limit_s:.0f} s); showing the last step reached.")
            return
        record_step(record, race, race.profile())
        record["seconds"] = round(time.perf_counter() - t0, 2)
        left = max(estimate - (time.perf_counter() - started), 0)
        yield LiveUpdate(record, "training" if mark < target else "done", step_s, target, left)


def hookable_copy(model: torch.nn.Module) -> torch.nn.Module:
    """The module tree copied, its parameters and buffers shared (not copied: ResNet-152 has 240 MB of
    them): hooks go on the copy's modules, so requests that share the cached model never see them. Safe
    because the profile neither writes parameters (weight_grads=False) nor buffers (eval mode)."""
    memo = {id(t): t for t in (*model.parameters(), *model.buffers())}
    return copy.deepcopy(model, memo)


def imagenet_profile(image, model_name: str) -> tuple[Any, int, Profile]:
    """A pretrained ImageNet classifier's gradient profile on one image, the loss being the cross-entropy of
    its own top label: (classifier, that label's index, profile). Torch work: call it on the inference
    thread, as Classify does (resnet_demo/base/threads.py)."""
    from ..serving.classifiers import MODELS  # noqa: PLC0415 (torchvision's models load with it, on first use)

    clf = MODELS.get(model_name)
    x = clf.preprocess(image).unsqueeze(0)
    model = hookable_copy(clf.model)
    with torch.no_grad():  # not inference_mode: the label is the loss's target, which backward keeps
        label = model(x).argmax(1)
    return clf, int(label), profile(model, x, label, weight_grads=False)
