"""The loss landscape (Li, Xu, Taylor, Studer, Goldstein 2018, "Visualizing the Loss Landscape of Neural
Nets") around this project's trained CIFAR-10 nets.

The loss at theta + a*d1 (+ b*d2) for random directions normalised filter by filter (each filter of d
scaled to the norm of the same filter of theta; BN parameters and biases left at zero in the direction),
evaluated in eval mode, as their code does. Every function here moves the weights of the model it is
given and puts them back: pass a private copy (``lesion.private_copy``), never the one other requests use.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from ..base.paper import net_label
from ..base.settings import INSIDE_DIR
from ..base.stored import Stored
from ..base.stored import read as read_stored
from ..base.threads import flush_denormals
from .lesion import loss_and_error, per_net

CAP = 10.0  # loss surfaces: drawn up to this loss (Li et al. clip their plots too), and measured where below it


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


def stored() -> Stored | None:
    """The stored 2-D surfaces (``python -m scripts.inside_trained``): data {"setup", "axis", "nets"} and its
    provenance; None when absent."""
    return read_stored(INSIDE_DIR / "landscape.json")


def summary(stored: Stored) -> tuple[str, str]:
    """What the stored surfaces (``scripts/inside_trained.py``) show, beside Li et al.'s finding, and a table of
    the roughness measures: (sentence, Markdown table)."""
    m, nets = stored.data["setup"], stored.data["nets"]
    depth = m["depth"]
    centre = len(stored.data["axis"]) // 2
    rows = []
    for arch in ("plain", "residual"):
        z, r = nets[arch]["loss"], nets[arch]["roughness"]
        flat = [v for row in z for v in row]
        rows.append(f"| {net_label(arch, depth)} | {z[centre][centre]:.3f} | {max(flat):.3g} | "
                    f"{100 * r['below_cap_share']:.0f}% | {100 * r['nonconvex_share']:.0f}% | {r['local_minima']} | "
                    f"{r['bumpiness']:.3f} |")
    rp, rr = nets["plain"]["roughness"], nets["residual"]["roughness"]
    minima = f"minim{'um' if rr['local_minima'] == 1 else 'a'}"
    verdict = (f"Ours, where the loss is below {CAP:g}: ResNet-{depth}'s surface is non-convex at "
               f"{100 * rr['nonconvex_share']:.0f}% of the points against plain-{depth}'s "
               f"{100 * rp['nonconvex_share']:.0f}%, with {rr['local_minima']} strict local {minima} against "
               f"{rp['local_minima']} and bumpiness {rr['bumpiness']:.3f} against {rp['bumpiness']:.3f}; its basin "
               f"below {CAP:g} covers {100 * rr['below_cap_share']:.0f}% of the grid against "
               f"{100 * rp['below_cap_share']:.0f}%. Less bumpy around the residual net, but not the “nearly convex” "
               "surface of Li et al.'s Fig. 5, and one pair of random directions gives no noise to judge these "
               "differences by, so none is called (our nets are also trained far shorter than theirs).")
    table = "\n".join([f"| net | loss at the centre | highest on the grid | grid below {CAP:g} | non-convex points "
                       "| local minima | bumpiness (mean abs. Laplacian ÷ loss range) |",
                       "|---|---|---|---|---|---|---|", *rows])
    table += ("\n\nWhat the columns measure, on the grid points where the loss is below "
              f"{CAP:g}: **grid below {CAP:g}** — how much of the plotted square is inside the basin; **non-convex "
              "points** — where the surface curves down in some direction (a negative eigenvalue of the "
              "finite-difference Hessian), i.e. not bowl-shaped; **local minima** — points lower than all 8 "
              "neighbours (one, at the centre, is a clean bowl); **bumpiness** — how much the surface wrinkles "
              "between neighbouring points (mean absolute Laplacian) relative to its overall rise (loss range). "
              "For the last three, lower means smoother.")
    return verdict, table


def slice_summary(results: dict[str, dict[str, Any]], depth: int) -> str:
    """Sentences for a 1-D slice (``loss_slice`` for "plain" and "residual"): each net's rise from its trained
    weights to the steeper end, absolute and relative to its centre, and whether the two measures agree. One
    direction gives no noise to judge a difference by, so neither net is called flatter."""
    parts, rise, rel = [], {}, {}
    for arch in ("plain", "residual"):
        loss = results[arch]["loss"]
        mid = loss[len(loss) // 2]
        top = max(loss[0], loss[-1])
        rise[arch], rel[arch] = top - mid, top / mid
        parts.append(f"{net_label(arch, depth)}: loss **{mid:.3f}** at the trained weights, **{loss[0]:.3g}** "
                     f"and **{loss[-1]:.3g}** at α = −1 and +1: it rises **{top - mid:.3g}** at the steeper end, "
                     f"{top / mid:.1f}× its centre")
    p, r = net_label("plain", depth), net_label("residual", depth)
    less_abs = r if rise["residual"] < rise["plain"] else p
    less_rel = r if rel["residual"] < rel["plain"] else p
    if less_abs == less_rel:
        reading = (f" Along this direction {less_abs}'s loss rises less, both in absolute terms and relative to its "
                   "centre.")
    else:
        reading = (f" The two measures disagree: {less_abs}'s loss rises less in absolute terms, {less_rel}'s less "
                   "relative to its own centre (their centre losses differ).")
    reading += (" This is one random direction, and how much the rise changes from direction to direction is not "
                "measured here, so neither net is called flatter (the app calls a difference only beyond twice its "
                "noise); the stored 2-D surfaces above sample two directions.")
    return "; ".join(parts) + "." + reading


def compute(depth: int, images: torch.Tensor, labels: torch.Tensor, points: int, limit_s: float,
                   progress: Callable[[float, str], None]) -> tuple[dict[str, Any], float]:
    """The 1-D loss slice of the trained plain net and ResNet of that depth, live: ({arch: slice}, seconds)."""
    return per_net(depth, ("plain", "residual"), "walking along the direction,", limit_s, progress,
                   lambda model, report: loss_slice(model, images, labels, points=points, span=1.0, seed=0,
                                                    progress=report))
