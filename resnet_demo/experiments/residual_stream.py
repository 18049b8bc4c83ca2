"""The residual stream on one image: what each block of a classifier does to *this* input, and what the
answer becomes when that block alone is deleted — Veit et al.'s lesion study (``lesion.py``) on one photo.

A block is y = relu(F(x) + shortcut(x)) (residual) or y = relu(F(x)) (plain), F(x) its branch up to the
last BN. Per block, on the intact forward pass:
- ratio: RMS(F(x)) / RMS(x) for a residual block (how large the change it adds is next to its input, as
  ``responses.block_ratios``); for a plain block RMS(y - x) / RMS(x) where the shape allows (how much it
  changes what it was given), else None;
- deleted: a residual block becomes relu(shortcut(x)) (the downsampling blocks keep their projection or
  zero-padding shortcut); a plain block becomes the identity where the shape allows, else it cannot be deleted.

All single deletions share the work before the deleted block: the forward pass carries a batch whose row 0 is
the intact stream and whose row k is the stream with the k-th deletable block deleted; each block adds one
row as the pass reaches it, so a block runs once for every row opened before it (ResNet-50: 136 block
calls in batches of 1 to 16 instead of 16 forward passes). Nothing in the model is changed: no hooks, no
swapped modules — the blocks' own submodules are called — so the shared model serves other requests
meanwhile. Works on torchvision's float ResNets and this project's CIFAR nets; int8 blocks are fused and
refused (``NotDecomposable`` names the float weights to use instead).
"""
from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..base.paper import net_label
from ..base.threads import flush_denormals, torch_threads
from ..nets.cifar import BasicBlock as CifarBlock
from ..nets.cifar import block_label

MAPS = 4  # channels shown per block in "inside one block": those of y with the most energy


class NotDecomposable(ValueError):
    """The model's blocks cannot be taken apart (int8: conv, BN and ReLU fused into one quantized op)."""


@dataclass(frozen=True)
class Block:
    name: str            # the module's qualified name: "layer3.2" (torchvision), "blocks.12" (CIFAR)
    stage: int           # 1-based
    module: nn.Module
    residual: bool
    downsampling: bool   # halves the feature map (stride 2)
    shortcut: str        # "identity", "projection", "zero-padding" or "none" (plain)
    reshapes: bool       # output shape differs from input shape (channels or size)


def blocks_of(model: nn.Module) -> list[Block]:
    """The residual (or plain) blocks of a torchvision ResNet or a CIFAR net, in forward order."""
    out = []
    if hasattr(model, "layer1"):  # torchvision
        for s in range(1, 5):
            for j, m in enumerate(getattr(model, f"layer{s}")):
                conv = m.conv2 if hasattr(m, "conv3") else m.conv1  # torchvision strides the 3x3 conv
                down = m.downsample is not None
                out.append(Block(f"layer{s}.{j}", s, m, True, conv.stride != (1, 1),
                                 "projection" if down else "identity", down))
        return out
    if not hasattr(model, "blocks"):
        raise NotDecomposable(f"{type(model).__name__} has no residual blocks this view knows")
    stage, width = 0, None
    for i, m in enumerate(model.blocks):
        if not isinstance(m, CifarBlock):
            raise NotDecomposable(f"block {i} is a {type(m).__name__}, not a CIFAR BasicBlock")
        if m.conv2.out_channels != width:
            stage, width = stage + 1, m.conv2.out_channels
        reshapes = m.conv1.stride != (1, 1) or m.conv1.in_channels != m.conv2.out_channels
        kind = "none" if not m.residual else (
            "identity" if isinstance(m.shortcut, nn.Identity) else
            "zero-padding" if type(m.shortcut).__name__ == "ShortcutA" else "projection")
        out.append(Block(f"blocks.{i}", stage, m, m.residual, m.conv1.stride != (1, 1), kind, reshapes))
    return out


def stem(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    if hasattr(model, "layer1"):
        return model.maxpool(model.relu(model.bn1(model.conv1(x))))
    return model.stem(x)


def head(model: nn.Module, h: torch.Tensor) -> torch.Tensor:
    if hasattr(model, "layer1"):
        return model.fc(torch.flatten(model.avgpool(h), 1))
    return model.head(h)


def branch(block: Block, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(F(x), shortcut(x)) of a residual block, (F(x), None) of a plain one: F up to the last BN."""
    m = block.module
    f = F.relu(m.bn1(m.conv1(x)))
    if hasattr(m, "conv3"):  # torchvision Bottleneck: 1x1, 3x3, 1x1
        f = m.bn3(m.conv3(F.relu(m.bn2(m.conv2(f)))))
    else:
        f = m.bn2(m.conv2(f))
    if not block.residual:
        return f, None
    if hasattr(m, "downsample"):
        return f, (x if m.downsample is None else m.downsample(x))
    return f, m.shortcut(x)


def deletable(block: Block) -> bool:
    return block.residual or not block.reshapes


def _rms(t: torch.Tensor) -> float:
    return t.double().square().mean().sqrt().item()


@dataclass
class Stream:
    """One image through one model, block by block; ``json()`` is what the API returns."""
    model: str
    label: str
    probability: float
    blocks: list[dict[str, Any]]
    maps: dict[str, dict[str, Any]] = field(repr=False)  # block name -> the feature maps "inside one block" shows
    net: str = ""  # how the app names the net ("ResNet-50", "plain-56")
    block_calls: int = 0  # blocks run in the shared pass (rows summed over blocks)

    def json(self) -> dict[str, Any]:
        return {"model": self.model, "net": self.net, "label": self.label, "probability": self.probability,
                "blocks": self.blocks}


@torch.inference_mode()
def residual_stream(model: nn.Module, x: torch.Tensor, labels: list[str], *, key: str = "", net: str = "",
                    maps: int = MAPS) -> Stream:
    """``x``: one preprocessed image, (1, 3, H, W). See the module's docstring for what is measured."""
    flush_denormals()
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"one image at a time: expected (1, 3, H, W), got {tuple(x.shape)}")
    bs = blocks_of(model)
    rows = stem(model, x)  # row 0: intact; row k: the k-th deletable block deleted
    deleted_at: list[int] = []
    ratios: list[float | None] = []
    inside: dict[str, dict[str, Any]] = {}
    calls = 0
    for i, b in enumerate(bs):
        calls += len(rows)
        f, s = branch(b, rows)
        y = F.relu(f + s) if b.residual else F.relu(f)
        x0 = rows[0]
        if b.residual:
            ratios.append(_rms(f[0]) / _rms(x0))
        else:
            ratios.append(None if b.reshapes else _rms(y[0] - x0) / _rms(x0))
        inside[b.name] = _maps(x0, f[0], None if s is None else s[0], y[0], maps)
        if deletable(b):
            gone = F.relu(s[:1]) if b.residual else rows[:1]
            rows = torch.cat([y, gone])
            deleted_at.append(i)
        else:
            rows = y
    probs = head(model, rows).double().softmax(1)
    top = int(probs[0].argmax())
    row_of = {i: k + 1 for k, i in enumerate(deleted_at)}
    blocks = []
    for i, b in enumerate(bs):
        entry = {"name": b.name, "stage": b.stage, "downsampling": b.downsampling, "shortcut": b.shortcut,
                 "ratio": ratios[i], "deletable": deletable(b), "label_if_deleted": None,
                 "probability_if_deleted": None, "probability_of_label_if_deleted": None}
        if i in row_of:
            p = probs[row_of[i]]
            j = int(p.argmax())
            entry.update(label_if_deleted=labels[j], probability_if_deleted=float(p[j]),
                         probability_of_label_if_deleted=float(p[top]))
        blocks.append(entry)
    return Stream(key, labels[top], float(probs[0, top]), blocks, inside, net, calls)


def _maps(x: torch.Tensor, f: torch.Tensor, s: torch.Tensor | None, y: torch.Tensor, k: int) -> dict[str, Any]:
    """The ``k`` channels of the block's output with the most energy, as (k, h, w) float32 arrays: what the
    block adds to (shortcut(x)), F(x), and their sum before the ReLU (residual); x, F(x) and y (plain)."""
    pre = f + s if s is not None else f
    energy = y.square().mean((1, 2))
    channels = energy.topk(min(k, len(energy))).indices.sort().values
    first = s if s is not None else (x if x.shape == y.shape else None)
    panels = {"x": None if first is None else first[channels].float().numpy(), "F": f[channels].float().numpy(),
              "y": (pre if s is not None else y)[channels].float().numpy()}
    return {"channels": channels.tolist(), "residual": s is not None, "panels": panels,
            "x_is_shortcut": s is not None and s.shape != x.shape}


def net_name(key: str) -> str:
    """"ResNet-50" for "resnet50" or "resnet50.IMAGENET1K_V1"; "ResNet-56" / "plain-56" for the CIFAR nets."""
    stem_ = key.split(".")[0].removeprefix("cifar-")
    for prefix, arch in (("resnet", "residual"), ("plain", "plain")):
        if stem_.startswith(prefix) and stem_[len(prefix):].isdigit():
            return net_label(arch, int(stem_[len(prefix):]))
    return key


def twin(key: str) -> str | None:
    """The CIFAR checkpoint of the other kind at the same depth ("cifar-resnet56" <-> "cifar-plain56"), if shipped."""
    from ..nets.cifar import checkpoints

    if not key.startswith("cifar-"):
        return None
    other = key.replace("resnet", "plain") if "resnet" in key else key.replace("plain", "resnet")
    return other if other != key and other in checkpoints() else None


def on_image(image: Image.Image, key: str) -> Stream:
    """``residual_stream`` for a Classify model (loaded through its cache) on an RGB image, preprocessed
    exactly as Classify does."""
    from ..serving.classifiers import MODELS
    from ..serving.weights import INT8_KEYS, float_twin, weights_of

    if key in INT8_KEYS:
        raise NotDecomposable(
            f"{key} runs int8 blocks whose conv, BN and ReLU are fused into one quantized operation, so F(x) "
            f"cannot be read or removed. Choose {float_twin(key)}, the float weights it was quantized from "
            f"({weights_of(key).meta['unquantized'].name}).")
    clf = MODELS.get(key)
    with torch_threads(clf.threads):
        x = clf.preprocess(image.convert("RGB")).unsqueeze(0)
        return residual_stream(clf.model, x, clf.labels, key=key, net=net_name(key))


def summary(stream: Stream) -> str:
    """What the block-by-block view of one image shows, computed from it."""
    bs = stream.blocks
    gone = [b for b in bs if b["deletable"]]
    kept = [b for b in gone if b["label_if_deleted"] == stream.label]
    text = (f"**{stream.net}** says **{stream.label}** ({100 * stream.probability:.1f}%). Deleting any one of its "
            f"{len(bs)} blocks keeps **{stream.label}** on top in **{len(kept)} of {len(gone)}**")
    if len(gone) < len(bs):
        text += f" ({len(bs) - len(gone)} change the feature map's shape and cannot be deleted from a plain net)"
    text += "."
    drops = sorted(gone, key=lambda b: b["probability_of_label_if_deleted"])
    if drops:
        worst = drops[: min(3, len(drops))]
        down = [b for b in worst if b["downsampling"] or b["shortcut"] == "projection"]
        names = ", ".join(f"{b['name']} ({100 * b['probability_of_label_if_deleted']:.1f}%)" for b in worst)
        text += f" The deletions that cost **{stream.label}** most: {names}"
        which = "is a block that reshapes" if len(down) == 1 else "are blocks that reshape"
        text += (f" — {len(down)} of them {which} the stream (downsampling or projection), where the shortcut is "
                 "not the identity." if down else ".")
    ratios = [b["ratio"] for b in bs if b["ratio"] is not None]
    if ratios:
        what = "RMS(F(x)) / RMS(x)" if bs[0]["shortcut"] != "none" else "RMS(y − x) / RMS(x)"
        median = statistics.median(ratios)
        text += (f" Median {what} over the blocks: **{median:.2f}** — "
                 + ("each block adds a correction smaller than what it is given." if median < 1 else
                    "the blocks change their input by as much as it is, or more."))
    return text


def compare(residual: Stream, plain: Stream) -> str:
    """One sentence for a residual net and its plain twin on the same image."""
    def kept(s: Stream) -> tuple[int, int]:
        gone = [b for b in s.blocks if b["deletable"]]
        return sum(b["label_if_deleted"] == s.label for b in gone), len(gone)

    kr, nr = kept(residual)
    kp, np_ = kept(plain)
    text = (f"One block deleted: **{residual.net}** keeps its answer in {kr} of {nr} cases, **{plain.net}** in "
            f"{kp} of {np_}")
    share_r, share_p = kr / max(nr, 1), kp / max(np_, 1)
    if share_r > share_p:
        plain_part = "mostly not" if share_p < 0.5 else "less often"
        return (text + f" — the residual net's blocks can be taken out one at a time; the plain net's {plain_part}, "
                "as Veit et al. found over a test set.")
    return text + " — on this image the residual net is not the more robust one (Veit et al. measured a test set)."


def block_sentence(stream: Stream, name: str) -> str:
    """What "inside one block" shows for block ``name``, computed from its maps."""
    b = next(b for b in stream.blocks if b["name"] == name)
    m = stream.maps[name]
    shown = ", ".join(str(c) for c in m["channels"])
    label = f"{block_label(2 * len(stream.blocks) + 2, int(name.rsplit('.', 1)[1]))} ({name})"  # the app's numbering
    if m["residual"]:
        first = f"shortcut(x) (x through its {b['shortcut']} shortcut)" if m["x_is_shortcut"] else "x"
        ratio = b["ratio"]
        added = "shortcut(x)" if m["x_is_shortcut"] else "x"
        reading = (f"F(x) is a small correction: F(x) + {added} looks like {added}" if ratio < 0.5 else
                   "F(x) is as large as x: the sum differs visibly from x" if ratio < 1.5 else
                   "F(x) outweighs x: the block rewrites its input")
        return (f"Block {label}, channels {shown} (the {len(m['channels'])} with the most energy in its output): "
                f"{first}, F(x), and F(x) + {added} before the block's ReLU, on one colour scale. "
                f"RMS(F(x)) / RMS(x) = {ratio:.2f}: {reading}.")
    lead = "x" if m["panels"]["x"] is not None else "(x has another shape: not shown)"
    return (f"Plain block {label}, channels {shown}: {lead}, F(x), and y = relu(F(x)) on one colour scale — a plain "
            "block has no shortcut: its output replaces its input.")
