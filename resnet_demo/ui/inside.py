"""The "Inside trained nets" tab: the lesion study, the loss landscape, and how small F(x) is, on this
project's trained CIFAR-10 checkpoints (resnet_demo.inside has the method and the papers)."""
from __future__ import annotations

import functools
import json
import os
import statistics
import time
from pathlib import Path
from typing import Any

import gradio as gr
import torch

from .. import imagenet, inside, plots
from ..cifar import cifar_net, load_checkpoint
from ..data import normalize
from .common import bundled_data

STORED = Path(__file__).resolve().parents[2] / "assets" / "inside"
PAIRS = (20, 56)
MAX_LESION_IMAGES = 500  # live; the stored study uses all 1,000 bundled test images (80 s at 3 draws on Zen 4)
MAX_SLICE_IMAGES = 500
MAX_POINTS = 41
LIVE_DRAWS = 3
TIME_LIMIT_S = float(os.environ.get("RESNET_DEMO_INSIDE_LIMIT_S", "180"))
CAP = inside.CAP
RATIO_IMAGES = 500

VEIT = ("**Veit, Wilber, Belongie (2016)**, Fig. 3 and 5, ResNet-110 on CIFAR-10: deleting one block leaves the "
        "error close to the intact net's except at the downsampling blocks, and the error grows smoothly as more "
        "blocks are deleted; deleting any layer of a plain VGG-style net sends it to chance. Their reading: a "
        "residual net behaves like an ensemble of many paths of different lengths, not one deep chain.")
LI = ("**Li, Xu, Taylor, Studer, Goldstein (2018)**, Fig. 5: around a trained ResNet-56 (CIFAR-10) the loss surface "
      "is smooth and nearly convex; around plain-56 (their ResNet-56 with the shortcuts removed) it is chaotic, "
      "with sharp non-convex regions — their explanation for why deep plain nets are hard to train.")


@functools.lru_cache(maxsize=2)
def _stored(name: str) -> dict[str, Any]:
    path = STORED / name
    return json.loads(path.read_text()) if path.exists() else {}


@functools.lru_cache(maxsize=4)
def _checkpoint(stem: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    path = imagenet.cifar_checkpoints().get(f"cifar-{stem}")
    if path is None:
        raise gr.Error(f"assets/checkpoints/{stem}.pt is not in this copy of the app.")
    return load_checkpoint(path)  # shared, never changed: every experiment works on a private copy


def _pair(depth: Any) -> int:
    try:
        depth = int(depth)
    except (TypeError, ValueError):
        raise gr.Error(f"Depth must be one of {', '.join(map(str, PAIRS))}.") from None
    if depth not in PAIRS:
        raise gr.Error(f"Depth must be one of {', '.join(map(str, PAIRS))}.")
    return depth


def _count(value: Any, what: str, low: int, high: int) -> int:
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise gr.Error(f"The number of {what} must be a whole number.") from None
    if not low <= value <= high:
        raise gr.Error(f"The number of {what} must be between {low} and {high}.")
    return value


def _per_net(depth: int, order: tuple[str, str], doing: str, fewer: str, progress, work) -> tuple[dict[str, Any], float]:
    """``work(model, report)`` on a private copy of each trained net of the pair, in ``order``, with one progress
    bar over both and the time limit checked at every report; returns ({arch: result}, seconds)."""
    t0 = time.perf_counter()
    out = {}
    for n, arch in enumerate(order):
        stem = f"{'resnet' if arch == 'residual' else 'plain'}{depth}"
        model = inside.private_copy(_checkpoint(stem)[0])

        def report(f: float, n=n, stem=stem) -> None:
            if time.perf_counter() - t0 > TIME_LIMIT_S:
                raise gr.Error(f"Stopped at the {TIME_LIMIT_S:.0f} s limit; try {fewer}.")
            progress((n + f) / 2, desc=f"{doing} {stem}")
        out[arch] = work(model, report)
    return out, time.perf_counter() - t0


# -- lesion study -----------------------------------------------------------------------------------------------

def _lesion_summary(pair: dict[str, Any], depth: int, footer: str) -> str:
    parts, rise = [], {}
    for arch, label in (("residual", f"ResNet-{depth}"), ("plain", f"plain-{depth}")):
        r = pair[arch]
        same_shape = [s["error"] for s in r["single"] if s["error"] is not None and not s["downsampling"]]
        down = [s["error"] for s in r["single"] if s["error"] is not None and s["downsampling"]]
        median = statistics.median(same_shape)
        rise[arch] = median - r["baseline"]
        k_last = r["k_removed"][-1] if r["k_removed"] else None
        text = (f"**{label}** (intact {100 * r['baseline']:.1f}%): one block deleted, median "
                f"**{100 * median:.1f}%** over the {len(same_shape)} blocks that keep the shape")
        if down:
            text += f", {', '.join(f'{100 * e:.1f}%' for e in down)} at the downsampling blocks"
        elif arch == "plain":
            text += " (its downsampling blocks change the shape: they cannot be deleted)"
        if k_last:
            text += f"; {k_last['k']} random blocks deleted: **{100 * k_last['error']:.1f}%** (mean of {len(k_last['errors'])} draws)"
        parts.append(text + ".")
    verdict = (f"Deleting one block costs the residual net a median **{100 * rise['residual']:.1f} points** and the "
               f"plain net **{100 * rise['plain']:.1f} points**")
    if rise["residual"] < 0.05 and rise["plain"] > 0.2:
        verdict += " — the residual net barely notices, the plain net breaks, as Veit et al. found."
    elif rise["residual"] < 0.5 * rise["plain"]:
        verdict += (" — the residual net suffers far less than the plain net, though it is not unharmed (Veit et al. "
                    "deleted blocks from ResNet-110, with more blocks to share the work).")
    else:
        verdict += " — not the clear gap Veit et al. found."
    return "\n\n".join([*parts, verdict, footer])


def _lesion_outputs(pair: dict[str, Any], depth: int, footer: str):
    return (plots.lesion_single(pair, depth), plots.lesion_k(pair, depth), _lesion_summary(pair, depth, footer),
            {"depth": depth, **pair})


def lesion_stored(depth: Any):
    depth = _pair(depth)
    stored = _stored("lesion.json")
    pair = stored.get("pairs", {}).get(str(depth))
    if pair is None:
        return None, None, "*No stored lesion study yet: run `python scripts/inside_trained.py`.*", None
    m = stored["meta"]
    footer = (f"*Stored: {pair['residual']['images']} bundled test images, {m['draws']} draws per k (seed {m['seed']}); "
              f"computed by `{m['command']}` on {m['device']} in {m['wall_seconds']} s.*")
    return _lesion_outputs(pair, depth, footer)


def lesion(depth: Any, images: Any, progress=gr.Progress()):
    depth, images = _pair(depth), _count(images, "test images", 50, MAX_LESION_IMAGES)
    data = bundled_data()
    x, y = normalize(data.x_test[:images]), data.y_test[:images]  # class-balanced subset, first N
    pair, took = _per_net(depth, ("residual", "plain"), "deleting blocks of", "fewer images", progress,
                          lambda model, report: inside.lesion_study(model, x, y, draws=LIVE_DRAWS, seed=0, progress=report))
    footer = f"*Computed live: {images} bundled test images, {LIVE_DRAWS} draws per k, in {took:.1f} s.*"
    return _lesion_outputs(pair, depth, footer)


# -- loss landscape ---------------------------------------------------------------------------------------------

def landscape_stored():
    stored = _stored("landscape.json")
    if not stored:
        return None, None, None, None, "*No stored loss surfaces yet: run `python scripts/inside_trained.py`.*"
    m, nets = stored["meta"], stored["nets"]
    depth = m["depth"]
    centre = len(stored["axis"]) // 2
    rows, figs = [], []
    for arch, label in (("plain", f"plain-{depth}"), ("residual", f"ResNet-{depth}")):
        z = nets[arch]["loss"]
        r = nets[arch]["roughness"]
        flat = [v for row in z for v in row]
        rows.append(f"| {label} | {z[centre][centre]:.3f} | {max(flat):.3g} | {100 * r['below_cap_share']:.0f}% | "
                    f"{100 * r['nonconvex_share']:.0f}% | {r['local_minima']} | {r['bumpiness']:.3f} |")
        figs.append((plots.loss_surface(stored["axis"], z, title=label, cap=CAP),
                     plots.loss_contour(stored["axis"], z, title=label, cap=CAP)))
    rp, rr = nets["plain"]["roughness"], nets["residual"]["roughness"]
    smoother = rr["nonconvex_share"] < rp["nonconvex_share"] and rr["bumpiness"] < rp["bumpiness"]
    verdict = (f"Ours, where the loss is below {CAP:g}: ResNet-{depth}'s surface is non-convex at "
               f"{100 * rr['nonconvex_share']:.0f}% of the points against plain-{depth}'s "
               f"{100 * rp['nonconvex_share']:.0f}%, with {rr['local_minima']} strict local "
               f"minim{'um' if rr['local_minima'] == 1 else 'a'} against {rp['local_minima']} and bumpiness {rr['bumpiness']:.3f} against {rp['bumpiness']:.3f}; its basin "
               f"below {CAP:g} covers {100 * rr['below_cap_share']:.0f}% of the grid against "
               f"{100 * rp['below_cap_share']:.0f}% — "
               + ("smoother around the residual net, as Li et al. found." if smoother else
                  "not the clear contrast of Li et al.'s Fig. 5 (our nets are trained far shorter than theirs)."))
    table = "\n".join([f"| net | loss at the centre | highest on the grid | grid below {CAP:g} | non-convex points "
                       "| local minima | bumpiness (mean abs. Laplacian ÷ loss range) |", "|---|---|---|---|---|---|---|",
                       *rows])
    footer = (f"*{m['points']}×{m['points']} points over α, β ∈ [−{m['span']}, {m['span']}], training loss (eval mode) on "
              f"{m['data']}, directions seed {m['seed']}; same axes and colour scale for both nets, loss above "
              f"{CAP:g} drawn at {CAP:g}; computed by `{m['command']}` on {m['device']} in {m['wall_seconds']} s.*")
    (plain_s, plain_c), (res_s, res_c) = figs
    return plain_s, res_s, plain_c, res_c, f"{verdict}\n\n{table}\n\n{footer}"


def loss_slice(depth: Any, images: Any, points: Any, progress=gr.Progress()):
    depth = _pair(depth)
    images = _count(images, "training images", 16, MAX_SLICE_IMAGES)
    points = _count(points, "points", 3, MAX_POINTS)
    if points % 2 == 0:
        points += 1  # odd: the trained weights themselves (α = 0) are on the slice
    data = bundled_data()
    x, y = normalize(data.x_train[:images]), data.y_train[:images]
    results, took = _per_net(depth, ("plain", "residual"), "walking along the direction,", "fewer images or points",
                             progress, lambda model, report: inside.loss_slice(model, x, y, points=points, span=1.0,
                                                                               seed=0, progress=report))
    mid = points // 2
    parts = []
    for arch, label in (("plain", f"plain-{depth}"), ("residual", f"ResNet-{depth}")):
        r = results[arch]
        parts.append(f"{label}: loss **{r['loss'][mid]:.3f}** at the trained weights, **{r['loss'][0]:.3g}** and "
                     f"**{r['loss'][-1]:.3g}** at α = −1 and +1 ({max(r['loss'][0], r['loss'][-1]) / r['loss'][mid]:.1f}× "
                     f"the centre at the steeper end)")
    text = ("; ".join(parts) + f".\n\n*Computed live: {points} points, {images} bundled training images, eval mode, "
            f"direction seed 0, in {took:.1f} s.*")
    return plots.loss_slice(results, depth), text, {"depth": depth, **results}


# -- how small is F(x) ------------------------------------------------------------------------------------------

@functools.lru_cache(maxsize=1)
def _ratios() -> tuple[dict[str, list[float]], str]:
    data = bundled_data()
    x = normalize(data.x_test[:RATIO_IMAGES])
    series = {}
    for depth in PAIRS:
        try:
            model, _ = _checkpoint(f"resnet{depth}")
        except gr.Error:
            continue
        series[f"ResNet-{depth} trained"] = inside.block_ratios(inside.private_copy(model), x)
    fresh = cifar_net(56, generator=torch.Generator().manual_seed(0))
    series["ResNet-56 at init"] = inside.block_ratios(fresh, x, train_mode=True)
    medians = {name: statistics.median(values) for name, values in series.items()}
    parts = [f"{name}: median **{medians[name]:.2f}**, {sum(v < 1 for v in values)} of {len(values)} blocks below 1"
             for name, values in series.items()]
    verdict = ""
    if "ResNet-56 trained" in medians:
        trained, init = medians["ResNet-56 trained"], medians["ResNet-56 at init"]
        verdict = (" The residual branches of the trained net add " +
                   ("less than the signal they are added to in most blocks" if trained < 1 else
                    "as much as or more than the signal they are added to in most blocks") +
                   f": F(x) is {'small' if trained < 0.5 else 'not small'} next to x "
                   f"(median {trained:.2f}) — each block makes a correction to its input rather than "
                   "replacing it, the paper's Fig. 7 finding (“residual functions might be generally closer to zero "
                   "than the non-residual functions”) seen from the ratio.")
        change = trained / init
        verdict += (f" At initialisation the median is {init:.2f}: training left the branches "
                    + ("about as small as BN made them at the start" if 0.9 <= change <= 1.1 else
                       f"{'smaller' if change < 1 else 'larger'} than at the start ({change:.2f}×)") + ".")
    text = ("; ".join(parts) + "." + verdict +
            f"\n\n*{RATIO_IMAGES} bundled test images; trained nets in eval mode; the net at initialisation (seed 0) with "
            "each batch's own BN statistics, as training sees it.*")
    return series, text


def block_ratios():
    series, text = _ratios()
    return plots.block_ratios(series), text, series


def first_view():
    return (*lesion_stored(56), *landscape_stored(), *block_ratios())


def build() -> list[gr.components.Component]:
    """The tab; returns the components ``first_view`` fills when the page loads."""
    gr.Markdown("### Inside trained nets\nThree experiments that came after the paper and explain *why* residual "
                "nets train, run on this project's trained CIFAR-10 checkpoints (plain and residual, "
                "`assets/checkpoints/`). Stored results show at once; each can be recomputed live.")
    with gr.Accordion("1. Lesion study: delete blocks from a trained net", open=True):
        gr.Markdown(VEIT)
        with gr.Row():
            depth = gr.Dropdown(list(PAIRS), value=56, label="Nets (plain and ResNet of this depth)", min_width=160)
            images = gr.Slider(50, MAX_LESION_IMAGES, value=200, step=50, label="Test images (live)", min_width=200)
            go_lesion = gr.Button("Recompute live", min_width=140)
        lesion_text = gr.Markdown()
        with gr.Row(equal_height=True):
            with gr.Column(min_width=340):
                single = gr.Plot(label="One block deleted")
            with gr.Column(min_width=340):
                k_plot = gr.Plot(label="k random blocks deleted")
        lesion_json = gr.JSON(visible=False)
    with gr.Accordion("2. Loss landscape around the trained weights", open=True):
        gr.Markdown(LI)
        land_text = gr.Markdown()
        with gr.Row(equal_height=True):  # side by side where there is room, stacked on a phone
            with gr.Column(min_width=340):
                surface_plain = gr.Plot(label="Loss surface, plain")
            with gr.Column(min_width=340):
                surface_res = gr.Plot(label="Loss surface, ResNet")
        with gr.Row(equal_height=True):
            with gr.Column(min_width=340):
                contour_plain = gr.Plot(label="Contours, plain")
            with gr.Column(min_width=340):
                contour_res = gr.Plot(label="Contours, ResNet")
        gr.Markdown("**A live 1-D slice**: the loss and error along one filter-normalised direction.")
        with gr.Row():
            slice_depth = gr.Dropdown(list(PAIRS), value=20, label="Nets", min_width=120)
            slice_images = gr.Slider(16, MAX_SLICE_IMAGES, value=128, step=16, label="Training images", min_width=200)
            points = gr.Slider(3, MAX_POINTS, value=21, step=2, label="Points", min_width=160)
            go_slice = gr.Button("Compute the slice", min_width=140)
        slice_text = gr.Markdown()
        slice_plot = gr.Plot(label="1-D slice")
        slice_json = gr.JSON(visible=False)
    with gr.Accordion("3. How small is F(x)?", open=True):
        gr.Markdown("The paper's reason for residual learning: “if an identity mapping were optimal, it would be "
                    "easier to push the residual to zero”. Measured: per residual block, RMS(F(x)) ÷ RMS(x), F(x) "
                    "the branch's output (after its second BN, before the addition), x the block's input.")
        ratio_text = gr.Markdown()
        ratio_plot = gr.Plot(label="RMS(F(x)) / RMS(x)")
        ratio_json = gr.JSON(visible=False)
        go_ratio = gr.Button("Recompute", visible=False)
    lesion_out = [single, k_plot, lesion_text, lesion_json]
    go_lesion.click(lesion, [depth, images], lesion_out, api_name="lesion", concurrency_id="inside",
                    concurrency_limit=1, time_limit=int(TIME_LIMIT_S) + 30)
    depth.change(lesion_stored, depth, lesion_out, api_name=False, concurrency_id="inside_stored",
                 concurrency_limit=8)
    go_slice.click(loss_slice, [slice_depth, slice_images, points], [slice_plot, slice_text, slice_json],
                   api_name="loss_slice", concurrency_id="inside", concurrency_limit=1,
                   time_limit=int(TIME_LIMIT_S) + 30)
    go_ratio.click(block_ratios, None, [ratio_plot, ratio_text, ratio_json], api_name="block_ratios",
                   concurrency_id="inside_stored", concurrency_limit=8)
    return [*lesion_out, surface_plain, surface_res, contour_plain, contour_res, land_text, ratio_plot, ratio_text,
            ratio_json]
