"""Inside trained nets: three experiments that came after the paper, run on this project's CIFAR checkpoints.

- Lesion study (Veit, Wilber, Belongie 2016, "Residual Networks Behave Like Ensembles of Relatively Shallow
  Networks"): delete blocks from a trained net and measure test error. In a residual block the residual
  branch is removed and the shortcut kept (the block outputs relu(shortcut(x)) = shortcut(x), its input
  being non-negative); a plain block is replaced by the identity where its input and output shapes agree
  (the downsampling blocks cannot be deleted from a plain net).
- Loss landscape (Li, Xu, Taylor, Studer, Goldstein 2018, "Visualizing the Loss Landscape of Neural Nets"):
  the loss at theta + a*d1 (+ b*d2) for random directions normalised filter by filter (each filter of d
  scaled to the norm of the same filter of theta; BN parameters and biases left at zero in the direction),
  evaluated in eval mode, as their code does.
- How small is F(x): per residual block, RMS(F(x)) / RMS(x), F(x) the residual branch's output (after its
  second BN, before the addition) and x the block's input.

Every function here works on a model it may change temporarily (weights, blocks): pass a private copy
(``private_copy``), never the one other requests use.
"""
from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from .cifar import BasicBlock
from .gradflow import run_hooked
from .threads import flush_denormals

BATCH = 250
CAP = 10.0  # loss surfaces: drawn up to this loss (Li et al. clip their plots too), and measured where below it


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


@torch.inference_mode()
def lesion_study(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, ks: Iterable[int] = range(1, 11),
                 draws: int = 5, seed: int = 0, batch: int = BATCH,
                 progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """{"baseline", "single": [{"block", "error", "downsampling"}], "k_removed": [{"k", "error", "errors"}]}.

    Single deletions reuse the work before the deleted block: per batch, the input of block i is kept while i
    advances, and only the blocks after it run again (same operations, same batches as a whole forward pass
    of the lesioned net, so the same numbers). A block that cannot be deleted has error null."""
    flush_denormals()
    model.eval()
    bs = blocks(model)
    sets = random_deletions(model, ks, draws, seed)
    n = len(images)
    wrong_single = [0] * len(bs)
    wrong_base = 0
    total = len(range(0, n, batch)) * (len(bs) + 1 + len(sets))
    done = 0

    def tick() -> None:
        nonlocal done
        done += 1
        if progress is not None:
            progress(done / total)

    for i0 in range(0, n, batch):
        x, y = images[i0:i0 + batch], labels[i0:i0 + batch]
        h = model.stem(x)
        for i, block in enumerate(bs):
            if deletable(block):
                out = Deleted(block)(h)
                for later in bs[i + 1:]:
                    out = later(out)
                wrong_single[i] += (model.head(out).argmax(1) != y).sum().item()
            tick()
            h = block(h)
        wrong_base += (model.head(h).argmax(1) != y).sum().item()
        tick()
    k_errors: dict[int, list[float]] = {}
    for k, idx in sets:
        with deleted(model, idx):
            k_errors.setdefault(k, []).append(error(model, images, labels, batch))
        for _ in range(0, n, batch):
            tick()
    return {
        "baseline": wrong_base / n,
        "single": [{"block": i, "error": wrong_single[i] / n if deletable(b) else None,
                    "downsampling": b.conv1.stride != (1, 1)} for i, b in enumerate(bs)],
        "k_removed": [{"k": k, "error": sum(e) / len(e), "errors": e} for k, e in k_errors.items()],
        "images": n, "draws": draws, "seed": seed,
    }


# -- loss landscape -------------------------------------------------------------------------------------------

def filter_normalized_direction(model: nn.Module, generator: torch.Generator) -> dict[str, torch.Tensor]:
    """Li et al.'s direction: Gaussian, then each filter (a slice along dim 0 of a conv or linear weight) scaled
    to the norm of the same filter of the weights; parameters of one dimension (BN, biases) get zero."""
    out = {}
    for name, p in model.named_parameters():
        if p.dim() <= 1:
            out[name] = torch.zeros_like(p)
            continue
        d = torch.randn(p.shape, generator=generator, dtype=p.dtype)
        dims = tuple(range(1, p.dim()))
        d *= torch.linalg.vector_norm(p.detach(), dim=dims, keepdim=True) / (
            torch.linalg.vector_norm(d, dim=dims, keepdim=True) + 1e-10)
        out[name] = d
    return out


@torch.inference_mode()
def loss_and_error(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, batch: int = BATCH) -> tuple[float, float]:
    """Mean cross-entropy and top-1 error, eval mode, over normalised ``images``."""
    flush_denormals()
    model.eval()
    total, wrong = 0.0, 0
    for i in range(0, len(images), batch):
        logits = model(images[i:i + batch])
        total += F.cross_entropy(logits, labels[i:i + batch], reduction="sum").item()
        wrong += (logits.argmax(1) != labels[i:i + batch]).sum().item()
    return total / len(images), wrong / len(images)


@contextmanager
def moved(model: nn.Module, directions: list[dict[str, torch.Tensor]]) -> Iterator[Callable[..., None]]:
    """Yields ``go(*coords)``, which sets the weights to theta + sum(c_i * d_i); theta is restored on exit."""
    params = dict(model.named_parameters())
    theta = {name: p.detach().clone() for name, p in params.items()}

    @torch.no_grad()
    def go(*coords: float) -> None:
        for name, p in params.items():
            p.copy_(theta[name])
            for c, d in zip(coords, directions):
                if c:
                    p.add_(d[name], alpha=c)
    try:
        yield go
    finally:
        with torch.no_grad():
            for name, p in params.items():
                p.copy_(theta[name])


def axis(points: int, span: float) -> list[float]:
    """``points`` evenly spaced coordinates from -span to span (0 included when ``points`` is odd)."""
    return [(-span + 2 * span * i / (points - 1)) if points > 1 else 0.0 for i in range(points)]


def loss_slice(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, points: int = 21, span: float = 1.0,
               seed: int = 0, progress: Callable[[float], None] | None = None) -> dict[str, Any]:
    """The loss and error along one filter-normalised direction (seeded): {"alphas", "loss", "error"}."""
    flush_denormals()
    d = filter_normalized_direction(model, torch.Generator().manual_seed(seed))
    alphas, losses, errors = axis(points, span), [], []
    with moved(model, [d]) as go:
        for i, a in enumerate(alphas):
            go(a)
            loss, err = loss_and_error(model, images, labels)
            losses.append(loss)
            errors.append(err)
            if progress is not None:
                progress((i + 1) / len(alphas))
    return {"alphas": alphas, "loss": losses, "error": errors, "seed": seed, "images": len(images)}


def surface_rows(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, *, points: int, span: float,
                 seed: int, rows: Iterable[int] | None = None) -> Iterator[tuple[int, list[float]]]:
    """The 2-D surface, row by row: (row index j, loss at (alpha_i, beta_j) for every i). The two directions
    are drawn from one generator seeded with ``seed``, d1 then d2."""
    flush_denormals()
    g = torch.Generator().manual_seed(seed)
    d1 = filter_normalized_direction(model, g)
    d2 = filter_normalized_direction(model, g)
    coords = axis(points, span)
    with moved(model, [d1, d2]) as go:
        for j in (range(points) if rows is None else rows):
            row = []
            for a in coords:
                go(a, coords[j])
                row.append(loss_and_error(model, images, labels)[0])
            yield j, row


def roughness(z: list[list[float]], cap: float = CAP) -> dict[str, float]:
    """Shape numbers for a loss surface on a regular grid, over the part of it drawn (interior points whose 3x3
    neighbourhood is all at or below ``cap``; far out the loss explodes and would swamp everything): the share
    of those points where the finite-difference Hessian has a negative eigenvalue (non-convex there; Li et al.
    map the same thing with the ratio of the extreme Hessian eigenvalues), the number of strict local minima,
    the mean absolute discrete Laplacian over the loss range there (bumpiness), and the share of the whole
    grid at or below ``cap`` (how wide the basin is)."""
    t = [[float(v) for v in row] for row in z]
    n, m = len(t), len(t[0])
    negative, minima, lap, seen = 0, 0, [], []
    for j in range(1, n - 1):
        for i in range(1, m - 1):
            around = [t[j + dj][i + di] for dj in (-1, 0, 1) for di in (-1, 0, 1)]
            if max(around) > cap:
                continue
            c = t[j][i]
            fxx = t[j][i + 1] - 2 * c + t[j][i - 1]
            fyy = t[j + 1][i] - 2 * c + t[j - 1][i]
            fxy = (t[j + 1][i + 1] - t[j + 1][i - 1] - t[j - 1][i + 1] + t[j - 1][i - 1]) / 4
            lam_min = (fxx + fyy) / 2 - math.sqrt(((fxx - fyy) / 2) ** 2 + fxy ** 2)
            negative += lam_min < 0
            minima += all(c < v for k, v in enumerate(around) if k != 4)
            lap.append(abs(fxx + fyy))
            seen += around
    spread = (max(seen) - min(seen)) if seen else 0.0
    return {"points": len(lap), "nonconvex_share": negative / len(lap) if lap else float("nan"),
            "local_minima": minima, "bumpiness": sum(lap) / len(lap) / spread if lap and spread else float("nan"),
            "below_cap_share": sum(v <= cap for row in t for v in row) / (n * m)}


# -- how small is F(x) ------------------------------------------------------------------------------------------

@torch.inference_mode()
def block_ratios(model: nn.Module, images: torch.Tensor, *, train_mode: bool = False, batch: int = BATCH) -> list[float]:
    """Per residual block, RMS(F(x)) / RMS(x) over ``images``: F(x) the branch's output (after bn2, before the
    addition), x the block's input; sums of squares accumulated over all batches. ``train_mode`` uses each
    batch's own BN statistics (a net at initialisation, as training sees it); the model's buffers are put
    back, so nothing in it changes."""
    flush_denormals()
    bs = blocks(model)
    sums = [[0.0, 0, 0.0, 0] for _ in bs]  # sum F^2, n F, sum x^2, n x
    handles = []
    for k, b in enumerate(bs):
        def on_input(_m, inp, k=k):
            x = inp[0]
            sums[k][2] += x.double().square().sum().item()
            sums[k][3] += x.numel()

        def on_branch(_m, _inp, out, k=k):
            sums[k][0] += out.double().square().sum().item()
            sums[k][1] += out.numel()
        handles += [b.register_forward_pre_hook(on_input), b.bn2.register_forward_hook(on_branch)]
    run_hooked(model, images, batch, handles, train_mode=train_mode)
    return [math.sqrt(f / nf) / math.sqrt(x / nx) for f, nf, x, nx in sums]
