"""The paper's CIFAR-10 networks (He et al. 2015, section 4.2), plain and residual.

Depth 6n+2: a 3x3 conv stem, three stages of n blocks on 32/16/8 feature maps with 16/32/64 filters
(scaled by width/16), stride 2 in the first block of stages 2 and 3, global average pooling and a
10-way linear layer. Each block is two 3x3 convs, BN after each, ReLU; a residual block adds its input
before the second ReLU. Modules are registered in forward order (stem conv, stem BN, blocks, linear),
so iterating ``model.modules()`` visits the weight layers in the order the data flows through them.
"""
from __future__ import annotations

import functools
import math
import re
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..base.settings import CHECKPOINTS_DIR
from .variants import PREACT, VariantBlock

SHORTCUTS = (
    "A",
    "B",
    "C",
)  # the paper's options (Table 3): zero-padding, projection where the shape changes, projection everywhere


def is_6n_plus_2(depth: int) -> bool:
    """Whether the paper's CIFAR nets come in this depth: 6n+2 layers, n >= 1 (8, 14, 20, 32, 44, 56, 110...)."""
    return depth >= 8 and (depth - 2) % 6 == 0


def block_label(depth: int, index: int) -> str:
    """Block ``index`` (0-based, the code's ``blocks.index``) of a 6n+2-layer CIFAR net as the app names it in
    every tab, the way the Anatomy tab reads Table 1: "stage 2, block 1 of 9" (three stages of n blocks)."""
    n = (depth - 2) // 6
    return f"stage {index // n + 1}, block {index % n + 1} of {n}"


def _norm(channels: int, batch_norm: bool) -> nn.Module:
    # An Identity stands in for BN when it is off, so hooks on "the layer's response" work either way.
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


class ShortcutA(nn.Module):
    """Option A: identity with stride-2 subsampling and zero-padded extra channels; no parameters."""

    def __init__(self, in_planes: int, planes: int, stride: int) -> None:
        super().__init__()
        self.stride = stride
        self.extra = planes - in_planes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x[:, :, :: self.stride, :: self.stride]
        # zero channels split before and after, as in the common reference implementation
        return F.pad(x, (0, 0, 0, 0, self.extra // 2, self.extra - self.extra // 2))


class BasicBlock(nn.Module):
    """Two 3x3 convs with BN; with ``residual`` the input is added before the last ReLU."""

    def __init__(
        self,
        in_planes: int,
        planes: int,
        *,
        stride: int = 1,
        residual: bool = True,
        shortcut: str = "A",
        batch_norm: bool = True,
    ) -> None:
        super().__init__()
        self.residual = residual
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = _norm(planes, batch_norm)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = _norm(planes, batch_norm)
        self.shortcut: nn.Module = nn.Identity()
        reshapes = stride != 1 or in_planes != planes
        if residual and (reshapes or shortcut == "C"):
            if shortcut == "A":
                self.shortcut = ShortcutA(in_planes, planes, stride)
            else:  # a 1x1 projection (+BN): option B where the shape changes, option C in every block
                self.shortcut = nn.Sequential(
                    nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), _norm(planes, batch_norm)
                )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        if self.residual:
            out = out + self.shortcut(x)
        return F.relu(out)


def _reset_parameters(m: nn.Conv2d | nn.Linear, generator: torch.Generator) -> None:
    """``m.reset_parameters()`` (torch's default init for Conv2d and Linear) drawing from ``generator``."""
    nn.init.kaiming_uniform_(m.weight, a=math.sqrt(5), generator=generator)
    if m.bias is not None:
        fan_in, _ = nn.init._calculate_fan_in_and_fan_out(m.weight)
        bound = 1 / math.sqrt(fan_in) if fan_in > 0 else 0
        nn.init.uniform_(m.bias, -bound, bound, generator=generator)


class CifarNet(nn.Module):
    def __init__(
        self,
        *,
        depth: int,
        residual: bool = True,
        shortcut: str = "A",
        batch_norm: bool = True,
        width: int = 16,
        num_classes: int = 10,
        generator: torch.Generator | None = None,
        unit: str = "original",
        shortcut_kind: str = "identity",
        gate_bias: float = 0.0,
    ) -> None:
        super().__init__()
        variant = (unit, shortcut_kind) != ("original", "identity")  # He et al. 2016's units: variants.py
        if variant and not (residual and batch_norm and shortcut == "A"):
            raise ValueError("unit and shortcut kinds other than the original apply to residual nets with BN")
        if not is_6n_plus_2(depth):
            raise ValueError(f"depth must be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110, ...), got {depth}")
        if shortcut not in SHORTCUTS:
            raise ValueError(f"shortcut must be one of {SHORTCUTS}, got {shortcut!r}")
        if width < 1:
            raise ValueError(f"width must be positive, got {width}")
        n = (depth - 2) // 6
        planes = [width, 2 * width, 4 * width]  # 16/32/64 at width 16
        self.conv = nn.Conv2d(3, planes[0], 3, padding=1, bias=False)
        self.bn = _norm(planes[0], batch_norm)
        blocks, in_planes = [], planes[0]
        for stage, p in enumerate(planes):
            for i in range(n):
                stride = 2 if stage > 0 and i == 0 else 1
                blocks.append(
                    VariantBlock(in_planes, p, stride=stride, shortcut=shortcut_kind, unit=unit, gate_bias=gate_bias)
                    if variant else
                    BasicBlock(in_planes, p, stride=stride, residual=residual, shortcut=shortcut, batch_norm=batch_norm)
                )
                in_planes = p
        self.blocks = nn.Sequential(*blocks)
        # pre-activation units end without an activation: the net adds one before pooling (He et al. 2016, §4.1)
        self.post = nn.BatchNorm2d(planes[-1]) if unit in PREACT else None
        self.fc = nn.Linear(planes[-1], num_classes)
        if generator is not None:
            # The constructors above drew from torch's process-wide RNG, which concurrent requests share.
            # Redo their draws, in the same order, from the caller's own generator: the weights are then
            # exactly those of torch.manual_seed(seed) + construction (tested), whatever else runs meanwhile.
            for m in self.modules():
                if isinstance(m, (nn.Conv2d, nn.Linear)):
                    _reset_parameters(m, generator)
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                # He et al. 2015 ("Delving deep", the paper's [13]): std = sqrt(2 / (k*k*c_in))
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu", generator=generator)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for m in self.modules():  # a gate's bias starts where the unit asks (re-drawn above with the convs)
            if isinstance(m, VariantBlock) and hasattr(m, "gate"):
                nn.init.constant_(m.gate.bias, m.gate_bias)

    def stem(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.bn(self.conv(x)))  # (B, w, H, W)

    def head(self, x: torch.Tensor) -> torch.Tensor:
        if self.post is not None:
            x = F.relu(self.post(x))
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))  # (B, 4w, H/4, W/4) -> logits

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


def cifar_net(
    depth: int,
    residual: bool = True,
    shortcut: str = "A",
    batch_norm: bool = True,
    width: int = 16,
    num_classes: int = 10,
    generator: torch.Generator | None = None,
    unit: str = "original",
    shortcut_kind: str = "identity",
    gate_bias: float = 0.0,
) -> nn.Module:
    """A plain or residual CIFAR net of depth 6n+2 (docs/architecture.md); initial weights drawn from
    ``generator`` when given (per-request randomness), else from torch's global RNG. ``unit`` and
    ``shortcut_kind`` build He et al. 2016's variants (``variants``; ``gate_bias`` is b_g, where a gate starts);
    the defaults are the paper's nets, built exactly as before."""
    return CifarNet(
        depth=depth,
        residual=residual,
        shortcut=shortcut,
        batch_norm=batch_norm,
        width=width,
        num_classes=num_classes,
        generator=generator,
        unit=unit,
        shortcut_kind=shortcut_kind,
        gate_bias=gate_bias,
    )


def weight_layers(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every conv and linear layer, in forward order, with its qualified name."""
    return [(name, m) for name, m in model.named_modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


CHECKPOINT_FORMAT = "resnet_demo.cifar/1"  # a format tag, kept when the module moved to nets/


def save_checkpoint(model: nn.Module, path, *, run: dict) -> None:
    """A state dict with what rebuilds and describes it (architecture, classes, normalisation, test error)."""
    from .data import CLASSES, MEAN, STD  # noqa: PLC0415 (data imports PIL; keep cifar light)

    keys = ("arch", "depth", "width", "batch_norm", "shortcut", "image_size")
    test_errors = [e for e in run["test_error"] if e is not None]
    state = {
        k: v.detach().to("cpu", memory_format=torch.contiguous_format).clone() for k, v in model.state_dict().items()
    }
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "config": {k: run[k] for k in keys},
            "classes": list(CLASSES),
            "mean": list(MEAN),
            "std": list(STD),
            "run_name": run["name"],
            "dataset": run["dataset"],
            "iterations": run["iterations"][-1] if run["iterations"] else 0,
            "test_error": test_errors[-1] if test_errors else None,
            "state_dict": state,
        },
        path,
    )


def load_checkpoint(path) -> tuple[nn.Module, dict]:
    """Rebuild a network saved by ``save_checkpoint``; returns (model in eval mode, metadata)."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    if ckpt.get("format") != CHECKPOINT_FORMAT:
        raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint")
    c = ckpt["config"]
    model = cifar_net(
        c["depth"],
        residual=c["arch"] == "residual",
        shortcut=c["shortcut"] or "A",
        batch_norm=c["batch_norm"],
        width=c["width"],
        num_classes=len(ckpt["classes"]),
    )
    model.load_state_dict(ckpt["state_dict"])
    meta = {k: v for k, v in ckpt.items() if k != "state_dict"}
    return model.eval(), meta


def checkpoint_stem(arch: str, depth: int) -> str:
    """The file stem of a CIFAR net's checkpoint and run ("resnet56" for arch "residual", "plain56")."""
    return f"{'resnet' if arch == 'residual' else 'plain'}{depth}"


def checkpoints(directory: Path = CHECKPOINTS_DIR) -> dict[str, Path]:
    """The offline CIFAR-10 models shipped in ``assets/checkpoints`` (key ``cifar-<file stem>``), plain before
    residual, then by depth (resnet110 after resnet56, not before resnet20 as a sort by name puts it)."""
    def order(p: Path) -> tuple[str, int, str]:
        kind, depth = re.fullmatch(r"(\D*)(\d*)(?:\D.*)?", p.stem).groups()
        return kind, int(depth or 0), p.stem

    return {f"cifar-{p.stem}": p for p in sorted(directory.glob("*.pt"), key=order)}


@functools.lru_cache(maxsize=8)
def trained(stem: str) -> tuple[nn.Module, dict]:
    """A shipped checkpoint by file stem ("resnet56"), loaded once per process and shared: never change it
    (experiments work on ``lesion.private_copy``). FileNotFoundError when this copy of the app lacks it."""
    path = checkpoints().get(f"cifar-{stem}")
    if path is None:
        raise FileNotFoundError(f"assets/checkpoints/{stem}.pt is not in this copy of the app")
    return load_checkpoint(path)
