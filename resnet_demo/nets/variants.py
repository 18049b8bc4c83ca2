"""The residual units and shortcuts of the follow-up paper, He, Zhang, Ren, Sun, "Identity Mappings in Deep
Residual Networks" (ECCV 2016): a unit computes y = h(x) + F(x) and x_next = f(y); Fig. 2 varies the shortcut h
(with the original unit), Fig. 4 varies where BN and ReLU sit (with the identity shortcut).

Shortcuts (``SHORTCUT_KINDS``; s(x) is x, or option A's subsampled, zero-padded x where the shape changes):

- "identity": s(x) + F(x) (the paper's choice);
- "scale": λ·s(x) + F(x); "scale-both": λ·s(x) + (1 − λ)·F(x) (λ = 0.5);
- "exclusive-gate": g ⊙ F(x) + (1 − g) ⊙ s(x), g = sigmoid(1×1 conv of x + b), b initialised to ``gate_bias``;
- "shortcut-gate": F(x) + (1 − g) ⊙ s(x) (gating the shortcut only);
- "conv1x1": a 1×1 convolution of x (stride where the shape changes) + F(x);
- "dropout": m ⊙ s(x) + F(x), m a fresh Bernoulli(1 − 0.5) mask in training (no 1/(1 − p) rescaling) and its
  expectation 0.5 in evaluation: the paper reads this shortcut as a scale λ whose expectation is 0.5.

Units (``UNIT_KINDS``; c1, c2 the two 3×3 convs, B BN, R ReLU):

- "original": x_next = R(h + B(c2(R(B(c1 x)))));
- "bn-after-add": x_next = R(B(h + c2(R(B(c1 x)))));
- "relu-before-add": x_next = h + R(B(c2(R(B(c1 x)))));
- "relu-preact": x_next = h + B(c2(R(B(c1(R x)))));
- "full-preact": x_next = h + c2(R(B(c1(R(B x))))).

The app's default nets (``cifar.BasicBlock``: original unit, identity/option-A shortcut) are not built from
these: ``cifar.cifar_net`` uses ``VariantBlock`` only when another kind is asked for, so every checkpoint and
stored run stays exactly as it was.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

SHORTCUT_KINDS = ("identity", "scale", "scale-both", "exclusive-gate", "shortcut-gate", "conv1x1", "dropout")
UNIT_KINDS = ("original", "bn-after-add", "relu-before-add", "relu-preact", "full-preact")
PREACT = ("relu-preact", "full-preact")  # no activation after the addition: the net ends with BN + ReLU


def _subsample_pad(x: torch.Tensor, stride: int, extra: int) -> torch.Tensor:
    """Option A: every ``stride``-th pixel, ``extra`` zero channels split before and after (cifar.ShortcutA)."""
    x = x[:, :, ::stride, ::stride]
    return F.pad(x, (0, 0, 0, 0, extra // 2, extra - extra // 2)) if extra else x


class VariantBlock(nn.Module):
    """One residual unit with a chosen shortcut and a chosen place for BN and ReLU (module docstring)."""

    def __init__(self, in_planes: int, planes: int, *, stride: int = 1, shortcut: str = "identity",
                 unit: str = "original", scale: float = 0.5, gate_bias: float = 0.0, drop: float = 0.5) -> None:
        super().__init__()
        if shortcut not in SHORTCUT_KINDS:
            raise ValueError(f"shortcut must be one of {SHORTCUT_KINDS}, got {shortcut!r}")
        if unit not in UNIT_KINDS:
            raise ValueError(f"unit must be one of {UNIT_KINDS}, got {unit!r}")
        self.kind, self.unit, self.scale, self.gate_bias = shortcut, unit, scale, gate_bias
        self.generator: torch.Generator | None = None  # the dropout shortcut's masks: a request's own RNG
        self.residual = True
        self.stride, self.extra = stride, planes - in_planes
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        # BN layers where the unit puts them: bn1 before or after conv1, bn2 after conv2 or after the addition
        self.bn1 = nn.BatchNorm2d(in_planes if unit == "full-preact" else planes)
        self.bn2 = nn.BatchNorm2d(planes)
        if shortcut in ("exclusive-gate", "shortcut-gate"):
            self.gate = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=True)
            nn.init.constant_(self.gate.bias, gate_bias)
        if shortcut == "conv1x1":
            self.project = nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False)
        self.drop = drop
        self.direct = False  # True: the backward pass skips F (and the gates), as He et al. 2016's direct term

    def branch(self, x: torch.Tensor) -> torch.Tensor:
        """F(x), the residual branch, as the unit orders its BN and ReLU."""
        if self.unit == "full-preact":
            return self.conv2(F.relu(self.bn2(self.conv1(F.relu(self.bn1(x))))))
        if self.unit == "relu-preact":
            return self.bn2(self.conv2(F.relu(self.bn1(self.conv1(F.relu(x))))))
        out = self.conv2(F.relu(self.bn1(self.conv1(x))))
        if self.unit == "bn-after-add":
            return out  # its BN comes after the addition
        out = self.bn2(out)
        return F.relu(out) if self.unit == "relu-before-add" else out

    def combine(self, x: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        """h(x) + F(x) as the shortcut kind weighs them."""
        if self.kind == "conv1x1":
            return self.project(x) + f
        s = _subsample_pad(x, self.stride, self.extra)
        if self.kind == "identity":
            return s + f
        if self.kind == "scale":
            return self.scale * s + f
        if self.kind == "scale-both":
            return self.scale * s + (1 - self.scale) * f
        if self.kind == "dropout":
            keep = 1 - self.drop
            mask = torch.bernoulli(torch.full_like(s, keep), generator=self.generator) if self.training else keep
            return mask * s + f
        g = torch.sigmoid(self.gate(x))
        if self.direct:
            g = g.detach()
        if self.kind == "exclusive-gate":
            return g * f + (1 - g) * s
        return f + (1 - g) * s  # shortcut-gate

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        f = self.branch(x)
        y = self.combine(x, f.detach() if self.direct else f)
        if self.unit == "original":
            return F.relu(y)
        if self.unit == "bn-after-add":
            return F.relu(self.bn2(y))
        return y  # relu-before-add and the pre-activation units: nothing after the addition


# -- the gradient argument (He et al. 2016, §3): with identity shortcuts dL/dx_l = dL/dx_L (1 + ...), the last
# unit's gradient reaching every unit directly; with a scaled one the direct path carries prod(λ) instead ------


def shortcut_path_factor(kind: str, units: int, scale: float = 0.5) -> float | None:
    """What the shortcut path alone multiplies the gradient by on its way back through ``units`` units: 1 for the
    identity, λ^units for constant scaling (on the shortcut or on both); None where it depends on learned weights
    (gates, 1×1 convs) or on a random mask (dropout: λ = 0.5 in expectation)."""
    if kind == "identity":
        return 1.0
    if kind in ("scale", "scale-both"):
        return scale ** units
    return None


def _skip_branches(net: nn.Module) -> list:
    """Make every unit's backward pass skip its residual branch (and its gate): only the shortcut path, and what
    sits on it after the addition (a ReLU, a BN), carries the gradient back. The forward pass is unchanged.
    Returns the hooks to remove; ``VariantBlock.direct`` is reset by the caller."""
    handles = []
    for b in net.blocks:
        if isinstance(b, VariantBlock):
            b.direct = True
        else:  # cifar.BasicBlock: F ends at bn2
            handles.append(b.bn2.register_forward_hook(lambda _m, _a, out: out.detach()))
    return handles


def unit_input_gradients(net: nn.Module, images: torch.Tensor, labels: torch.Tensor, *,
                         direct: bool = False) -> list[float]:
    """RMS per value of dL/dx_l at the input x_l of every unit, in forward order, and at the last unit's output
    (one more value): what reaches each unit on the way back. With ``direct``, only what comes back along the
    shortcuts (the first term of He et al. 2016's Eqn. 5/8; ``_skip_branches``). The model's mode is left as it
    was given."""
    inputs: list[torch.Tensor] = []

    def keep(_m: nn.Module, args: tuple) -> None:
        args[0].retain_grad()
        inputs.append(args[0])

    handles = [b.register_forward_pre_hook(keep) for b in net.blocks]
    if direct:
        handles += _skip_branches(net)
    try:
        out = net.blocks(net.stem(images))
        out.retain_grad()
        F.cross_entropy(net.head(out), labels).backward()
    finally:
        for h in handles:
            h.remove()
        for b in net.blocks:
            if isinstance(b, VariantBlock):
                b.direct = False
    return [t.grad.pow(2).mean().sqrt().item() for t in (*inputs, out)]
