"""What the networks are: stages, blocks, layers, shortcuts, parameters and multiply-adds, counted from the
modules the other tabs run (the paper's Table 1, Fig. 3, Fig. 5 and Table 3, computed).

Each network is built on PyTorch's ``meta`` device (shapes only, no memory, no weights needed) and run once
on a 1x3x224x224 input (32x32 for the CIFAR nets), counted by ``macs``.
"""
from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
from torch import nn

from ..base.paper import FIG3, TABLE1, TABLE3, TABLE6_PARAMS, net_label
from ..base.settings import ANATOMY_FILE
from ..base.stored import Stored
from ..base.stored import read as read_stored
from ..nets import cifar
from .macs import MacCounter, count_macs, params

IMAGENET_DEPTHS = (18, 34, 50, 101, 152)
CIFAR_DEPTHS = (20, 32, 44, 56, 110)


def network_names() -> list[str]:
    names = [f"resnet{d}" for d in IMAGENET_DEPTHS] + ["resnet34-A", "resnet34-C", "plain34", "vgg19"]
    for d in CIFAR_DEPTHS:
        names += [f"cifar-plain{d}", f"cifar-resnet{d}", f"cifar-resnet{d}-B", f"cifar-resnet{d}-C"]
    return names


def cifar_parts(name: str) -> tuple[bool, int, str]:
    """"cifar-resnet56-B" -> (residual, depth, shortcut option): (True, 56, "B"); option A when unnamed."""
    arch, _, option = name.removeprefix("cifar-").partition("-")
    return arch.startswith("resnet"), int(arch.removeprefix("plain").removeprefix("resnet")), option or "A"


def label(name: str) -> str:
    if name.startswith("cifar-"):
        residual, depth, option = cifar_parts(name)
        opt = f", shortcut option {option}" if residual else ""
        return f"CIFAR-10 {net_label('residual' if residual else 'plain', depth)}{opt}"
    if name == "vgg19":
        return "VGG-19 (torchvision)"
    if name == "plain34":
        return "plain-34 (ResNet-34 without its shortcuts)"
    arch, _, option = name.partition("-")
    return f"ResNet-{arch[6:]} (torchvision{', shortcut option ' + option if option else ''})"


# -- building ------------------------------------------------------------------------------------------------
@functools.cache
def _blocks() -> tuple[type[nn.Module], type[nn.Module], type[nn.Module]]:
    """torchvision's basic and bottleneck blocks, and the plain block made from the basic one. Imported at the
    first count, not with this module: importing torchvision takes ~1 s (it imports ``torch._dynamo``), and
    the app's start needs only the names and labels above."""
    from torchvision.models.resnet import BasicBlock, Bottleneck

    class PlainBasicBlock(BasicBlock):
        """torchvision's basic block without its shortcut: the paper's plain-34 block (Fig. 3, middle)."""

        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.downsample = None

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))))

    return BasicBlock, Bottleneck, PlainBasicBlock


def _residual_blocks() -> tuple[type[nn.Module], ...]:
    basic, bottleneck, _ = _blocks()
    return basic, bottleneck, cifar.BasicBlock


def _with_shortcut_option(model: nn.Module, option: str) -> nn.Module:
    """torchvision builds option B. A: zero-padding where the shape changes; C: a projection in every block."""
    for layer in (model.layer1, model.layer2, model.layer3, model.layer4):
        for block in layer:
            planes = block.conv2.out_channels
            if option == "A" and block.downsample is not None:
                conv = block.downsample[0]
                block.downsample = cifar.ShortcutA(conv.in_channels, conv.out_channels, conv.stride[0])
            elif option == "C" and block.downsample is None:
                block.downsample = nn.Sequential(nn.Conv2d(planes, planes, 1, bias=False), nn.BatchNorm2d(planes))
    return model


def build(name: str) -> nn.Module:
    """The module a name stands for (random weights; call under ``torch.device("meta")`` to count)."""
    if name not in network_names():
        raise ValueError(f"unknown network {name!r}; choose one of {', '.join(network_names())}")
    if name.startswith("cifar-"):
        residual, depth, option = cifar_parts(name)
        return cifar.cifar_net(depth, residual=residual, shortcut=option)
    import torchvision

    if name == "vgg19":
        return torchvision.models.vgg19()
    if name == "plain34":
        return torchvision.models.ResNet(_blocks()[2], [3, 4, 6, 3])
    arch, _, option = name.partition("-")
    model = getattr(torchvision.models, arch)()
    return _with_shortcut_option(model, option) if option else model


def input_size(name: str) -> int:
    return 32 if name.startswith("cifar-") else 224


# -- counting ------------------------------------------------------------------------------------------------
@dataclass
class Layer:
    name: str
    what: str                 # e.g. "3×3 conv, 64, /2"
    output: list[int]         # C, H, W (or features)
    params: int
    macs: int


@dataclass
class Block:
    name: str
    shortcut: str             # "identity", "projection (...)", "zero-padding (option A)", "none (plain)", "—"
    layers: list[Layer]
    params: int
    macs: int


@dataclass
class Stage:
    name: str
    output_size: str          # "56×56"
    blocks_layout: str        # "[3×3, 64; 3×3, 64] × 3"
    blocks: list[Block] = field(default_factory=list)
    params: int = 0
    macs: int = 0


@dataclass
class Anatomy:
    model: str
    label: str
    input_size: int
    params: int
    macs: int
    weight_layers: int        # convs and linear layers on the main path (shortcut projections not counted)
    stages: list[Stage]
    paper: dict[str, Any] | None

    def json(self) -> dict[str, Any]:
        """The ``/architecture`` JSON: totals and per stage (name, output_size, blocks, params, macs)."""
        return {"model": self.model, "label": self.label, "params": self.params, "macs": self.macs,
                "weight_layers": self.weight_layers, "input_size": self.input_size,
                "stages": [{"name": s.name, "output_size": s.output_size, "blocks": s.blocks_layout,
                            "params": s.params, "macs": s.macs} for s in self.stages],
                "paper": self.paper}


def _what(m: nn.Module) -> str:
    if isinstance(m, nn.Conv2d):
        k = m.kernel_size[0]
        return f"{k}×{k} conv, {m.out_channels}" + (f", /{m.stride[0]}" if m.stride[0] > 1 else "")
    if isinstance(m, nn.BatchNorm2d):
        return "BN"
    if isinstance(m, nn.MaxPool2d):
        k = m.kernel_size if isinstance(m.kernel_size, int) else m.kernel_size[0]
        s = m.stride if isinstance(m.stride, int) else m.stride[0]
        return f"{k}×{k} max pool" + (f", /{s}" if s > 1 else "")
    if isinstance(m, nn.AdaptiveAvgPool2d):
        size = m.output_size if isinstance(m.output_size, tuple) else (m.output_size, m.output_size)
        return "global average pool" if tuple(size) == (1, 1) else f"adaptive average pool to {size[0]}×{size[1]}"
    if isinstance(m, nn.Linear):
        return f"fc {m.out_features}"
    if isinstance(m, cifar.ShortcutA):
        return "zero-padding shortcut" + (f", /{m.stride}" if m.stride > 1 else "")
    return type(m).__name__


SHOWN = (nn.Conv2d, nn.BatchNorm2d, nn.MaxPool2d, nn.AdaptiveAvgPool2d, nn.Linear, cifar.ShortcutA)


def _shortcut(block: nn.Module) -> str:
    basic, bottleneck, plain = _blocks()
    torchvision_block = isinstance(block, (basic, bottleneck))
    sc = getattr(block, "downsample" if torchvision_block else "shortcut", None)
    if isinstance(block, plain) or (isinstance(block, cifar.BasicBlock) and not block.residual):
        return "none (plain)"
    if sc is None or isinstance(sc, nn.Identity):
        return "identity"
    if isinstance(sc, cifar.ShortcutA):
        return "zero-padding (option A)" + (f", /{sc.stride}" if sc.stride > 1 else "")
    conv = sc[0]
    return f"projection (1×1 conv, {conv.out_channels}" + (f", /{conv.stride[0]})" if conv.stride[0] > 1 else ")")


def _layout(block: nn.Module) -> str:
    convs = [
        m for n, m in block.named_modules() if isinstance(m, nn.Conv2d) and not n.startswith(("downsample", "shortcut"))
    ]
    return "[" + "; ".join(f"{c.kernel_size[0]}×{c.kernel_size[0]}, {c.out_channels}" for c in convs) + "]"


def _stages(name: str, model: nn.Module) -> list[tuple[str, list[tuple[str, nn.Module]], bool]]:
    """(stage name, [(qualified name, module)], whether its modules are residual blocks) in forward order."""
    if name.startswith("cifar-"):
        n = len(model.blocks) // 3
        blocks = list(model.blocks.named_children())
        stages = [("conv1", [("conv", model.conv), ("bn", model.bn)], False)]
        for i in range(3):
            stages.append((f"stage {i + 1}", [(f"blocks.{k}", b) for k, b in blocks[i * n : (i + 1) * n]], True))
        return stages + [("head", [("fc", model.fc)], False)]
    if name == "vgg19":
        stages, current, index = [], [], 1
        for k, m in model.features.named_children():
            if isinstance(m, (nn.Conv2d, nn.MaxPool2d)):
                current.append((f"features.{k}", m))
            if isinstance(m, nn.MaxPool2d):
                stages.append((f"conv{index}_x", current, False))
                current, index = [], index + 1
        head = [("avgpool", model.avgpool)] + [
            (f"classifier.{k}", m) for k, m in model.classifier.named_children() if isinstance(m, nn.Linear)
        ]
        return stages + [("head", head, False)]
    stages = [
        ("conv1", [("conv1", model.conv1), ("bn1", model.bn1)], False),
        (
            "conv2_x",
            [("maxpool", model.maxpool)] + [(f"layer1.{k}", b) for k, b in model.layer1.named_children()],
            True,
        ),
    ]
    for i, layer in enumerate((model.layer2, model.layer3, model.layer4), start=3):
        stages.append((f"conv{i}_x", [(f"layer{i - 1}.{k}", b) for k, b in layer.named_children()], True))
    return stages + [("head", [("avgpool", model.avgpool), ("fc", model.fc)], False)]


def stored() -> Stored | None:
    """Every network's counts as ``python -m scripts.anatomy_counts`` stored them (assets/anatomy.json; a
    test recounts them all and compares), so that a page load counts nothing; None when the file is absent."""
    return read_stored(ANATOMY_FILE)


def _stored_data() -> dict[str, Any]:
    s = stored()
    return s.data if s else {}


def _from_dict(d: dict[str, Any]) -> Anatomy:
    stages = [Stage(s["name"], s["output_size"], s["blocks_layout"],
                    [Block(b["name"], b["shortcut"], [Layer(**layer) for layer in b["layers"]], b["params"], b["macs"])
                     for b in s["blocks"]], s["params"], s["macs"]) for s in d["stages"]]
    return Anatomy(d["model"], d["label"], d["input_size"], d["params"], d["macs"], d["weight_layers"], stages,
                   d["paper"])


@functools.lru_cache(maxsize=64)
def anatomy(name: str) -> Anatomy:
    """Every count for one network: stored (``stored``) where it is, else counted now (``compute``)."""
    entry = _stored_data().get("networks", {}).get(name)
    return _from_dict(entry) if entry is not None else compute(name)


@functools.lru_cache(maxsize=64)
def compute(name: str) -> Anatomy:
    """Every count for one network, counted from its module on the meta device (~0.2 s on 2 vCPU)."""
    with torch.device("meta"):
        model = build(name).eval()
    size = input_size(name)
    macs, shapes = count_macs(model, size)

    def layer(qualified: str, m: nn.Module) -> Layer:
        return Layer(qualified, _what(m), shapes.get(qualified, []), params(m), macs.get(qualified, 0))

    blocks_of = _residual_blocks()
    stages = []
    for stage_name, members, residual in _stages(name, model):
        blocks = []
        for qualified, m in members:
            is_block = residual and isinstance(m, blocks_of)
            if is_block:
                layers = [layer(f"{qualified}.{n}", sub) for n, sub in m.named_modules() if isinstance(sub, SHOWN)]
                blocks.append(Block(qualified, _shortcut(m), layers, params(m), macs.get(qualified, 0)))
            else:
                blocks.append(Block(qualified, "—", [layer(qualified, m)], params(m), macs.get(qualified, 0)))
        shape = shapes.get(members[-1][0], [])
        out = f"{shape[1]}×{shape[2]}" if len(shape) == 3 else "1×1"
        main = [m for _, m in members if isinstance(m, blocks_of)]
        if main:
            extra = [_what(m) for _, m in members if not isinstance(m, blocks_of)]
            layout = "; ".join(extra + [f"{_layout(main[0])} × {len(main)}"])
        else:
            described = [_what(m) for _, m in members if not isinstance(m, nn.BatchNorm2d)]
            layout = _compress(described)
        stages.append(
            Stage(stage_name, out, layout, blocks, sum(b.params for b in blocks), sum(b.macs for b in blocks))
        )
    weight_layers = sum(
        1
        for n, m in model.named_modules()
        if isinstance(m, (nn.Conv2d, nn.Linear)) and ".downsample" not in n and ".shortcut" not in n
    )
    return Anatomy(name, label(name), size, params(model), macs["<global>"], weight_layers, stages, _paper(name))


def _compress(items: list[str]) -> str:
    """["3×3 conv, 64", "3×3 conv, 64", "2×2 max pool, /2"] -> "[3×3 conv, 64] × 2, 2×2 max pool, /2"."""
    out: list[str] = []
    i = 0
    while i < len(items):
        j = i
        while j < len(items) and items[j] == items[i]:
            j += 1
        out.append(f"[{items[i]}] × {j - i}" if j - i > 1 else items[i])
        i = j
    return "; ".join(out)


def _paper(name: str) -> dict[str, Any] | None:
    """What the paper says about this network, with its source; None where it says nothing."""
    out: dict[str, Any] = {}
    arch = name.partition("-")[0]
    if name.startswith("cifar-"):
        _, depth, _ = cifar_parts(name)
        if "resnet" in name and not name.endswith(("-B", "-C")) and depth in TABLE6_PARAMS["mparams"]:
            return {"source": TABLE6_PARAMS["source"], "params": round(TABLE6_PARAMS["mparams"][depth] * 1e6)}
        return None
    if arch.startswith("resnet") and "-" not in name:
        depth = int(arch[6:])
        out.update(source=TABLE1["source"], macs=round(TABLE1["gmacs"][depth] * 1e9), output_size=TABLE1["output_size"])
    if name in FIG3["gmacs"]:
        out.setdefault("source", FIG3["source"])
        out["macs"] = round(FIG3["gmacs"][name] * 1e9)
        out["macs_source"] = FIG3["source"]
    if name in TABLE3["top1"]:
        out["top1_error_10crop"] = TABLE3["top1"][name]
        out["top1_source"] = TABLE3["source"]
    return out or None


def stride_on_first_1x1_macs(name: str) -> int:
    """ResNet-50/101/152 as the paper draws them (stride 2 on the first 1x1 conv of a stage), where
    torchvision (v1.5) strides the 3x3: the multiply-adds that layout costs, for comparison (stored, else
    counted)."""
    value = _stored_data().get("stride_on_first_1x1_macs", {}).get(name)
    return value if value is not None else count_stride_on_first_1x1_macs(name)


@functools.lru_cache(maxsize=8)
def count_stride_on_first_1x1_macs(name: str) -> int:
    with torch.device("meta"):
        model = build(name).eval()
    for layer in (model.layer2, model.layer3, model.layer4):
        first = layer[0]
        first.conv1.stride, first.conv2.stride = (2, 2), (1, 1)
    macs, _ = count_macs(model, 224)
    return macs["<global>"]


def block_comparison() -> list[dict[str, Any]]:
    """The paper's Fig. 5 at conv2_x (56×56): a basic block on 64-d against a bottleneck on 256-d (stored, else
    counted)."""
    return _stored_data().get("block_comparison") or count_block_comparison()


@functools.lru_cache(maxsize=1)
def count_block_comparison() -> list[dict[str, Any]]:
    basic, bottleneck, _ = _blocks()
    out = []
    for what, block in (
        ("basic block (ResNet-18/34): 3×3, 64 → 3×3, 64, on 64-d", basic(64, 64)),
        ("bottleneck (ResNet-50/101/152): 1×1, 64 → 3×3, 64 → 1×1, 256, on 256-d", bottleneck(256, 64)),
    ):
        block = block.to("meta").eval()
        counter = MacCounter(block)
        with counter, torch.no_grad():
            block(torch.empty(1, block.conv1.in_channels, 56, 56, device="meta"))
        out.append({"block": what, "params": params(block), "macs": counter.macs()["<global>"]})
    return out


def counts() -> dict[str, Any]:
    """What assets/anatomy.json holds, counted now: every network the tab offers, the paper's stride layout for
    ResNet-50/101/152, and Fig. 5's two blocks."""
    return {"networks": {name: asdict(compute(name)) for name in network_names()},
            "stride_on_first_1x1_macs": {f"resnet{d}": count_stride_on_first_1x1_macs(f"resnet{d}")
                                         for d in (50, 101, 152)},
            "block_comparison": count_block_comparison()}
