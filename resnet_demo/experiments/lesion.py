"""The lesion study (Veit, Wilber, Belongie 2016, "Residual Networks Behave Like Ensembles of Relatively
Shallow Networks") on this project's trained CIFAR-10 nets: delete blocks and measure test error.

In a residual block the residual branch is removed and the shortcut kept (the block outputs
relu(shortcut(x)) = shortcut(x), its input being non-negative); a plain block is replaced by the identity
where its input and output shapes agree (the downsampling blocks cannot be deleted from a plain net).

Every function here works on a model it may change temporarily (blocks): pass a private copy
(``private_copy``), never the one other requests use.
"""
from __future__ import annotations

import copy
import math
import statistics
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..base.paper import net_label
from ..base.settings import INSIDE_DIR
from ..base.stored import Stored
from ..base.stored import read as read_stored
from ..base.threads import flush_denormals
from ..nets.cifar import BasicBlock, checkpoint_stem, checkpoints, trained
from .noise import Diff, binomial_sigma, diff

BATCH = 250


def private_copy(model: nn.Module) -> nn.Module:
    """A copy with its own parameters and buffers, in eval mode (the CIFAR nets are ~3.4 MB at depth 56)."""
    return copy.deepcopy(model).eval()


def blocks(model: nn.Module) -> list[BasicBlock]:
    return list(model.blocks)


def deletable(block: BasicBlock) -> bool:
    """Residual blocks always (the shortcut stays); plain blocks only where input and output shapes agree."""
    return block.residual or (block.conv1.stride == (1, 1) and block.conv1.in_channels == block.conv2.out_channels)


class Deleted(nn.Module):
    """What a deleted block becomes: its shortcut (residual), or the identity (plain)."""

    def __init__(self, block: BasicBlock) -> None:
        super().__init__()
        if not deletable(block):
            raise ValueError("a plain block that changes the shape cannot be replaced by the identity")
        self.shortcut = block.shortcut if block.residual else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.shortcut(x))


@contextmanager
def deleted(model: nn.Module, indices: Iterable[int]) -> Iterator[nn.Module]:
    """The model with the blocks at ``indices`` deleted, restored on exit."""
    saved = {i: model.blocks[i] for i in indices}
    try:
        for i, block in saved.items():
            model.blocks[i] = Deleted(block)
        yield model
    finally:
        for i, block in saved.items():
            model.blocks[i] = block


def loss_and_error(
    model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = BATCH
) -> tuple[float, float]:
    """Mean cross-entropy and top-1 error, eval mode, over normalised ``images``."""
    flush_denormals()
    model.eval()
    total, wrong = 0.0, 0
    for i in range(0, len(images), batch):
        logits = model(images[i : i + batch])
        total += F.cross_entropy(logits, labels[i : i + batch], reduction="sum").item()
        wrong += (logits.argmax(1) != labels[i : i + batch]).sum().item()
    return total / len(images), wrong / len(images)


def error(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = BATCH) -> float:
    """Top-1 error in eval mode over normalised ``images``."""
    return loss_and_error(model, images, labels, batch)[1]


def random_deletions(model: nn.Module, ks: Iterable[int], draws: int, seed: int) -> list[tuple[int, list[int]]]:
    """(k, sorted block indices) for ``draws`` random sets of k deletable blocks per k, from a seeded generator
    (k larger than the number of deletable blocks is skipped: ResNet-20 has 9 blocks, plain-20 7 deletable)."""
    pool = [i for i, b in enumerate(blocks(model)) if deletable(b)]
    g = torch.Generator().manual_seed(seed)
    out = []
    for k in (k for k in ks if k <= len(pool)):
        for _ in range(draws):
            pick = torch.randperm(len(pool), generator=g)[:k].tolist()
            out.append((k, sorted(pool[j] for j in pick)))
    return out


def _single_deletions(model: nn.Module, bs: list[BasicBlock], images: torch.Tensor, labels: torch.Tensor,
                      batch: int, tick: Callable[[], None]) -> tuple[int, list[int]]:
    """Wrong answers of the intact net, and of the net with each block deleted alone (0 where it cannot be)."""
    wrong_single, wrong_base = [0] * len(bs), 0
    for i0 in range(0, len(images), batch):
        x, y = images[i0 : i0 + batch], labels[i0 : i0 + batch]
        h = model.stem(x)
        for i, block in enumerate(bs):
            if deletable(block):
                out = Deleted(block)(h)
                for later in bs[i + 1 :]:
                    out = later(out)
                wrong_single[i] += (model.head(out).argmax(1) != y).sum().item()
            tick()
            h = block(h)
        wrong_base += (model.head(h).argmax(1) != y).sum().item()
        tick()
    return wrong_base, wrong_single


@torch.inference_mode()
def study(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    *,
    ks: Iterable[int] = range(1, 11),
    draws: int = 5,
    seed: int = 0,
    batch: int = BATCH,
    progress: Callable[[float], None] | None = None,
) -> dict[str, Any]:
    """{"baseline", "single": [{"block", "error", "downsampling"}], "k_removed": [{"k", "error", "errors"}]}.

    Single deletions reuse the work before the deleted block: per batch, the input of block i is kept while i
    advances, and only the blocks after it run again (same operations, same batches as a whole forward pass
    of the lesioned net, so the same numbers). A block that cannot be deleted has error null."""
    flush_denormals()
    model.eval()
    bs = blocks(model)
    sets = random_deletions(model, ks, draws, seed)
    n = len(images)
    total = len(range(0, n, batch)) * (len(bs) + 1 + len(sets))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done / total)

    wrong_base, wrong_single = _single_deletions(model, bs, images, labels, batch, tick)
    k_errors: dict[int, list[float]] = {}
    for k, idx in sets:
        with deleted(model, idx):
            k_errors.setdefault(k, []).append(error(model, images, labels, batch))
        for _ in range(0, n, batch):
            tick()
    return {
        "baseline": wrong_base / n,
        "single": [
            {
                "block": i,
                "error": wrong_single[i] / n if deletable(b) else None,
                "downsampling": b.conv1.stride != (1, 1),
            }
            for i, b in enumerate(bs)
        ],
        "k_removed": [{"k": k, "error": sum(e) / len(e), "errors": e} for k, e in k_errors.items()],
        "images": n,
        "draws": draws,
        "seed": seed,
    }


def stored() -> Stored | None:
    """The stored lesion study (``python -m scripts.inside_trained``): data {"setup", "pairs": {depth: {arch:
    ...}}} and its provenance; None when the file is absent."""
    return read_stored(INSIDE_DIR / "lesion.json")


def same_shape_errors(result: dict[str, Any]) -> list[float]:
    """A study's one-block-deleted errors at the blocks that keep the shape (not the downsampling ones)."""
    return [s["error"] for s in result["single"] if s["error"] is not None and not s["downsampling"]]


def median_rise(result: dict[str, Any]) -> float:
    """How much deleting one shape-keeping block raises the error, median over those blocks (a fraction)."""
    return statistics.median(same_shape_errors(result)) - result["baseline"]


def available() -> dict[int, tuple[str, ...]]:
    """The depths the study can run on, from the shipped checkpoints: {depth: ("residual", "plain")}, or
    ("residual",) where no plain net of that depth is kept (ResNet-110: the sweep trains no plain-110)."""
    keys, out = checkpoints(), {}
    for key in keys:
        if key.startswith("cifar-resnet"):
            depth = int(key.removeprefix("cifar-resnet"))
            out[depth] = ("residual", "plain") if f"cifar-{checkpoint_stem('plain', depth)}" in keys else ("residual",)
    return dict(sorted(out.items()))


def rise(result: dict[str, Any]) -> Diff:
    """The median rise in points (``median_rise``) with its noise: both errors on the same ``images``, taken
    unpaired (the study stores rates, not answers), at the larger of the two errors' binomial σ."""
    e = result["baseline"]
    sigma = math.sqrt(2) * binomial_sigma(max(e, 0.5 - abs(0.5 - e)), result["images"])
    return diff(100 * median_rise(result), ("test images", sigma))


TEST_SET = ("bundled test images — a sample of the 10,000 the Depth tab uses, so an intact error here can differ "
            "from the Depth tab's by sampling alone")


def summary(pair: dict[str, Any], depth: int) -> str:
    """What a lesion study of a plain/residual pair (or of a residual net alone) shows, computed from it by the noise
    rule, beside Veit et al.'s finding."""
    parts, rises = [], {}
    for arch in (a for a in ("residual", "plain") if a in pair):
        label = net_label(arch, depth)
        r = pair[arch]
        same_shape = same_shape_errors(r)
        down = [s["error"] for s in r["single"] if s["error"] is not None and s["downsampling"]]
        median = statistics.median(same_shape)
        rises[arch] = rise(r)
        k_last = r["k_removed"][-1] if r["k_removed"] else None
        text = (
            f"**{label}** (intact {100 * r['baseline']:.1f}% on {r['images']:,} {TEST_SET}): one block "
            f"deleted, median **{100 * median:.1f}%** over the {len(same_shape)} blocks that keep the shape"
        )
        if down:
            text += f", {', '.join(f'{100 * e:.1f}%' for e in down)} at the downsampling blocks"
        elif arch == "plain":
            text += " (its downsampling blocks change the shape: they cannot be deleted)"
        if k_last:
            text += (f"; {k_last['k']} random blocks deleted: **{100 * k_last['error']:.1f}%** "
                     f"(mean of {len(k_last['errors'])} draws)")
        parts.append(text + ".")
    res = rises["residual"]
    verdict = f"One block deleted, median rise: {net_label('residual', depth)} **{res.text()}**"
    if "plain" not in rises:
        verdict += (" — within noise of its intact error, as Veit et al. found for ResNet-110." if not res.called
                    else " — more than the near-intact error Veit et al. found for ResNet-110.")
        verdict += f" No plain-{depth} was trained to set beside it."
        return "\n\n".join([*parts, verdict])
    plain = rises["plain"]
    gap = diff(plain.value - res.value, ("both", math.hypot(plain.sigma, res.sigma)))
    verdict += f"; {net_label('plain', depth)} **{plain.text()}**"
    if not res.called and plain.sign > 0:
        verdict += " — the residual net stays within noise of intact, the plain net breaks, as Veit et al. found."
    elif gap.sign > 0:
        verdict += (" — the residual net suffers less than the plain net beyond noise, but it is not unharmed "
                    "(Veit et al. deleted blocks from ResNet-110, with more blocks to share the work).")
    else:
        verdict += " — not the gap Veit et al. found."
    verdict += " Veit et al.'s plain baseline was a VGG-style net; ours is the ResNet's plain twin."
    return "\n\n".join([*parts, verdict])


def depth_trend(pairs: dict[str, dict[str, Any]]) -> str:
    """One sentence over the residual nets of a stored study: the median rise at each depth, and each step in depth
    by the noise rule; "" with fewer than two depths."""
    rises = {int(d): rise(p["residual"]) for d, p in pairs.items() if "residual" in p}
    if len(rises) < 2:
        return ""
    depths = sorted(rises)
    listed = ", ".join(f"{net_label('residual', d)} {rises[d].value:+.1f}" for d in depths)
    steps = [(a, b, diff(rises[b].value - rises[a].value, ("both", math.hypot(rises[a].sigma, rises[b].sigma))))
             for a, b in zip(depths, depths[1:])]
    said = "; ".join(f"{net_label('residual', a)} → {b}: {d.text()}" for a, b, d in steps)
    falls = all(d.sign < 0 for *_, d in steps)
    return (f"One block deleted, median rise by depth: {listed} points. Step by step: {said} — "
            + ("the deeper the net, the less any one block matters." if falls
               else "not falling beyond noise at every step in depth."))


class TimeLimit(RuntimeError):
    """A job on the trained nets ran past its time limit (checked at every progress report)."""


def per_net(depth: int, order: tuple[str, ...], doing: str, limit_s: float,
            progress: Callable[[float, str], None], work) -> tuple[dict[str, Any], float]:
    """``work(model, report)`` on a private copy of each trained net of that depth (``cifar.trained``: raises
    FileNotFoundError where a checkpoint is missing), in ``order``, with one progress fraction over them all and
    the time limit checked at every report; returns ({arch: result}, seconds)."""
    t0 = time.perf_counter()
    out = {}
    for n, arch in enumerate(order):
        stem = checkpoint_stem(arch, depth)
        model = private_copy(trained(stem)[0])

        def report(f: float, n=n, stem=stem) -> None:
            if time.perf_counter() - t0 > limit_s:
                raise TimeLimit(f"Stopped at the {limit_s:.0f} s limit")
            progress((n + f) / len(order), f"{doing} {stem}")

        out[arch] = work(model, report)
    return out, time.perf_counter() - t0


def compute(depth: int, images: torch.Tensor, labels: torch.Tensor, draws: int, limit_s: float,
                 progress: Callable[[float, str], None]) -> tuple[dict[str, Any], float]:
    """The lesion study of every trained net of that depth (ResNet first), live: ({arch: study}, seconds)."""
    return per_net(depth, available()[depth], "deleting blocks of", limit_s, progress,
                   lambda model, report: study(model, images, labels, draws=draws, seed=0, progress=report))
