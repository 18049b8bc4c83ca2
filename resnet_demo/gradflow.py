"""Per-layer gradient magnitudes, read with tensor hooks during one backward pass, and the paper's
Fig. 7 response statistics.

Hooks: a forward hook on each weight layer registers a *tensor* hook on that layer's output (module
full-backward hooks break on in-place ops and ``out += identity``). The forward hooks are removed when
the pass ends; the tensor hooks die with the graph. Nothing is left on the model.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .cifar import weight_layers
from .data import normalize
from .threads import flush_denormals
from .train import TrainConfig, Trainer


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


@torch.inference_mode()
def layer_responses(model: nn.Module, images: torch.Tensor, batch: int = 250) -> tuple[list[str], list[float]]:
    """The paper's Fig. 7: the std of each 3x3 conv's response after its BN, before the ReLU or addition,
    in evaluation mode (BN's running statistics, as a trained net is used; nothing in the model changes),
    over ``images`` (normalised). Returns (conv names, forward order; stds)."""
    flush_denormals()
    was_training = model.training
    model.eval()
    convs = [(name, m) for name, m in weight_layers(model)
             if isinstance(m, nn.Conv2d) and m.kernel_size == (3, 3) and norm_after(model, name) is not None]
    sums: dict[str, list[float]] = {name: [0.0, 0.0, 0.0] for name, _ in convs}  # n, sum, sum of squares

    def on_response(name: str):
        def hook(_m: nn.Module, _inp: Any, out: torch.Tensor) -> None:
            acc = sums[name]
            acc[0] += out.numel()
            acc[1] += out.sum(dtype=torch.float64).item()
            acc[2] += out.square().sum(dtype=torch.float64).item()
        return hook

    handles = [norm_after(model, name).register_forward_hook(on_response(name)) for name, _ in convs]
    try:
        for i in range(0, len(images), batch):
            model(images[i:i + batch])
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    stds = []
    for name, _ in convs:
        n, total, squares = sums[name]
        mean = total / n
        stds.append(math.sqrt(max(squares / n - mean * mean, 0.0) * n / (n - 1)))
    return [name for name, _ in convs], stds


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


CHECKPOINTS = (0, 10, 25, 50, 100, 200, 400)  # training steps at which the profile is read


def probe_batch(data, seed: int, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """A fixed batch of real test images (chosen by ``seed``), normalised."""
    g = torch.Generator().manual_seed(seed)
    idx = torch.randperm(len(data.x_test), generator=g)[:size]
    return normalize(data.x_test[idx]), data.y_test[idx]


def trace(data, depth: int, batch_norm: bool, seed: int, steps: int, *, batch_size: int = 64,
          should_stop=lambda: False):
    """Train a plain and a residual net of ``depth`` (same seed, same batches) for ``steps`` SGD steps,
    yielding {"step", "plain": Profile, "residual": Profile, "diverged": {...}} at each checkpoint <= steps."""
    lr = 0.1 if batch_norm else 0.01  # without BN the paper's 0.1 sends deep nets to NaN at once
    trainers = {}
    for arch in ("plain", "residual"):
        cfg = TrainConfig(arch=arch, depth=depth, batch_norm=batch_norm, seed=seed, batch_size=batch_size, lr=lr,
                          iterations=max(steps, 1), milestones=(), eval_every=0, log_every=10**9)
        trainers[arch] = Trainer(cfg, data)
    x, y = probe_batch(data, seed)
    diverged: dict[str, str] = {}
    marks = [c for c in CHECKPOINTS if c < steps] + [steps]
    for mark in marks:
        for arch, t in trainers.items():
            while t.iteration < mark and arch not in diverged:
                if should_stop():
                    return
                try:
                    t.step()
                except FloatingPointError as e:
                    diverged[arch] = str(e)
        profiles = {arch: profile(t.model, x.contiguous(memory_format=t.memory_format), y)
                    for arch, t in trainers.items()}
        yield {"step": mark, **profiles, "diverged": dict(diverged), "lr": lr}


def describe(depth: int, batch_norm: bool, step: int, plain: Profile, residual: Profile) -> str:
    """A sentence computed from the numbers on screen."""
    rp, rr = first_last_ratio(plain.grad_rms), first_last_ratio(residual.grad_rms)

    def trend(r: float) -> str:
        if not math.isfinite(r):
            return "is not finite"
        if r < 0.01:
            return f"shrinks {1 / r:.2g}× toward the input (vanishing)"
        if r < 0.5:
            return f"shrinks {1 / r:.2g}× toward the input"
        if r > 100:
            return f"grows {r:.2g}× toward the input (exploding)"
        if r > 2:
            return f"grows {r:.2g}× toward the input"
        return "stays within a factor of 2 from output to input"

    when = "at initialisation" if step == 0 else f"after {step} SGD steps"
    bn = "With BN" if batch_norm else "Without BN"
    return (f"{bn}, {when}: per value (RMS), the first layer gets **{rp:.2g}×** the gradient of the last "
            f"convolution in "
            f"plain-{depth} and **{rr:.2g}×** in ResNet-{depth}. In the plain net the gradient {trend(rp)}; in "
            f"the residual net it {trend(rr)}.")
