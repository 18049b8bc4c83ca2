"""How large the layers' responses are: the paper's Fig. 7 (the standard deviation of each 3×3 layer's
response) on this project's trained CIFAR-10 nets, and how small the residual F(x) is next to x, block by
block (RMS(F(x)) / RMS(x): F(x) the residual branch's output, after its second BN and before the addition,
x the block's input). Each with the sentence computed from it."""
from __future__ import annotations

import copy
import functools
import math
import statistics
from typing import Any

import torch
from torch import nn

from ..base.paper import net_label
from ..base.settings import INSIDE_DIR
from ..base.stored import Stored
from ..base.stored import read as read_stored
from ..base.threads import flush_denormals
from ..nets import cifar
from ..nets.cifar import load_checkpoint, weight_layers
from ..nets.data import bundled, normalize
from .gradflow import norm_after, run_hooked
from .noise import Z

RESPONSES_FILE = INSIDE_DIR / "responses.json"
RATIO_IMAGES = 500  # bundled test images the F(x) ratios are measured on
RESPONSE_IMAGES = 500


@torch.inference_mode()
def layer_responses(model: nn.Module, images: torch.Tensor, batch: int = 250) -> tuple[list[str], list[float]]:
    """The paper's Fig. 7: the std of each 3x3 conv's response after its BN, before the ReLU or addition,
    in evaluation mode (BN's running statistics, as a trained net is used; nothing in the model changes),
    over ``images`` (normalised). Returns (conv names, forward order; stds)."""
    flush_denormals()
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
    run_hooked(model, images, batch, handles, train_mode=False)  # puts the model's mode back
    stds = []
    for name, _ in convs:
        n, total, squares = sums[name]
        mean = total / n
        stds.append(math.sqrt(max(squares / n - mean * mean, 0.0) * n / (n - 1)))
    return [name for name, _ in convs], stds


TRAINED = ("plain20", "plain56", "resnet20", "resnet56")  # the checkpoints Fig. 7 is computed on, when present


def stored() -> Stored | None:
    """Fig. 7 and the F(x) ratios as ``python -m scripts.inside_trained --what responses`` stored them
    (assets/inside/responses.json; a test recomputes them and compares), so that a page load computes
    nothing; None when the file is absent."""
    return read_stored(RESPONSES_FILE)


def compute() -> dict[str, dict[str, list[float]]]:
    """Fig. 7 and the F(x) ratios measured now on this project's checkpoints (what ``stored`` holds): {"fig7":
    {net: stds}, "ratios": {net: ratios}}."""
    return {"fig7": _fig7(), "ratios": _ratios()}


def stored_part(key: str) -> dict[str, list[float]] | None:
    """One series of the stored file ("fig7" or "ratios"), None where there is none."""
    s = stored()
    return s.data.get(key) if s else None


def trained_responses() -> tuple[dict[str, list[float]], str]:
    """Fig. 7 on this project's trained checkpoints (stored, else measured): {net: stds} and the sentence."""
    series = stored_part("fig7") or _fig7()
    return series, responses_sentence(series)


def trained_ratios() -> tuple[dict[str, list[float]], str]:
    """The F(x) ratios of the trained nets and of one at initialisation (stored, else measured), and the sentence."""
    series = stored_part("ratios") or _ratios()
    return series, ratios_sentence(series)


@functools.lru_cache(maxsize=1)
def _fig7() -> dict[str, list[float]]:
    """Fig. 7 on this project's trained checkpoints, in eval mode, over RESPONSE_IMAGES bundled test images:
    {net: stds}."""
    checkpoints = cifar.checkpoints()
    data = bundled()
    images = normalize(data.x_test[:RESPONSE_IMAGES])  # class-balanced; millions of values per layer: a stable std
    series: dict[str, list[float]] = {}
    for stem in TRAINED:
        path = checkpoints.get(f"cifar-{stem}")
        if path is None:
            continue
        model, meta = load_checkpoint(path)
        _, stds = layer_responses(model, images)
        series[net_label(meta["config"]["arch"], meta["config"]["depth"])] = stds
    return series


def rank_comparison(series: dict[str, list[float]]) -> dict[int, dict[str, Any]]:
    """The paper's own comparison in Fig. 7 (bottom): each net's layer stds sorted, compared rank by rank, for each
    depth with both nets: {depth: {"smaller", "ranks", "called", "margin", "median_residual", "median_plain"}}.
    Were the nets alike, the count of ranks where the ResNet's is smaller would be binomial(n, 1/2): it is
    called beyond Z of that s.d. (the app's noise rule)."""
    out = {}
    for d in (20, 56):
        p, r = series.get(net_label("plain", d)), series.get(net_label("residual", d))
        if not p or not r or len(p) != len(r):
            continue
        n = len(r)
        k = sum(a < b for a, b in zip(sorted(r), sorted(p)))
        margin = Z * math.sqrt(n) / 2
        out[d] = {"smaller": k, "ranks": n, "called": abs(k - n / 2) > margin, "margin": margin,
                  "median_residual": statistics.median(r), "median_plain": statistics.median(p)}
    return out


def rank_text(d: int, c: dict[str, Any]) -> str:
    return (f"depth {d}: ResNet's is smaller at {c['smaller']} of {c['ranks']} ranks ("
            + ("beyond noise" if c["called"] else "within noise")
            + f": ±{c['margin']:.1f} around {c['ranks'] / 2:g} if the nets did not differ); medians "
              f"{c['median_residual']:.3f} against {c['median_plain']:.3f}")


def responses_sentence(series: dict[str, list[float]]) -> str:
    ranks = rank_comparison(series)
    if not ranks:
        have = ", ".join(series) or "none"
        return (f"Fig. 7 compares trained plain and residual nets of one depth; the checkpoints in "
                f"assets/checkpoints/ hold {have} so far.")
    smaller = all(c["called"] and c["smaller"] > c["ranks"] / 2 for c in ranks.values())
    verdict = ("smaller in the residual nets beyond noise, as the paper found (“ResNets have generally smaller "
               "responses than their plain counterparts”)" if smaller
               else "not smaller beyond noise at every depth here, unlike the paper's Fig. 7")
    return ("Trained nets, evaluation mode, 500 bundled test images, each net's stds sorted and compared rank by rank "
            "as in the paper's Fig. 7 (bottom): " + "; ".join(rank_text(d, c) for d, c in ranks.items())
            + f" — {verdict}.")


@torch.inference_mode()
def block_ratios(model: nn.Module, images: torch.Tensor, *, train_mode: bool = False, batch: int = 250) -> list[float]:
    """Per residual block, RMS(F(x)) / RMS(x) over ``images``: F(x) the branch's output (after bn2, before the
    addition), x the block's input; sums of squares accumulated over all batches. ``train_mode`` uses each
    batch's own BN statistics (a net at initialisation, as training sees it); the model's buffers are put
    back, so nothing in it changes."""
    flush_denormals()
    bs = list(model.blocks)
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


@functools.lru_cache(maxsize=1)
def _ratios() -> dict[str, list[float]]:
    """``block_ratios`` of the trained ResNet-20 and -56 (eval mode) and of a ResNet-56 at initialisation (seed 0,
    each batch's own BN statistics, as training sees it), over RATIO_IMAGES bundled test images."""
    x = normalize(bundled().x_test[:RATIO_IMAGES])
    series = {}
    for depth in (20, 56):
        try:
            model, _ = cifar.trained(f"resnet{depth}")
        except FileNotFoundError:
            continue
        series[f"ResNet-{depth} trained"] = block_ratios(copy.deepcopy(model).eval(), x)
    fresh = cifar.cifar_net(56, generator=torch.Generator().manual_seed(0))
    series["ResNet-56 at init"] = block_ratios(fresh, x, train_mode=True)
    return series


def ratios_sentence(series: dict[str, list[float]]) -> str:
    medians = {name: statistics.median(values) for name, values in series.items()}
    parts = [f"{name}: median **{medians[name]:.2f}**, {sum(v < 1 for v in values)} of {len(values)} blocks below 1"
             for name, values in series.items()]
    verdict = ""
    if "ResNet-56 trained" in medians and "ResNet-56 at init" in medians:
        trained, init = medians["ResNet-56 trained"], medians["ResNet-56 at init"]
        verdict = (f" In the trained ResNet-56 most branches add less than the signal they are added to (median "
                   f"{trained:.2f}): each block corrects its input rather than replacing it. But at initialisation "
                   f"the median is already {init:.2f}, so this ratio does not show that training makes F small; "
                   "and the paper's words (“the residual functions might be generally closer to zero than the "
                   "non-residual functions”) compare with plain nets, which this ratio cannot (Fig. 7, in the "
                   "Gradient flow tab, does).")
    if "ResNet-20 trained" in medians:
        above = sum(v > 1 for v in series["ResNet-20 trained"])
        verdict += (f" In the trained ResNet-20 the median is {medians['ResNet-20 trained']:.2f}, with {above} of "
                    f"{len(series['ResNet-20 trained'])} blocks above 1.")
    return "; ".join(parts) + "." + verdict
