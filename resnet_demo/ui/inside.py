"""The "Inside trained nets" tab: the lesion study, the loss landscape, and how small F(x) is, on this
project's trained CIFAR-10 checkpoints (``lesion``, ``landscape`` and ``responses`` have the methods)."""
from __future__ import annotations

from typing import Any

import gradio as gr

from ..base import paper
from ..base.settings import INSIDE_DIR, settings
from ..base.stored import how_computed
from ..experiments import landscape, lesion, responses
from ..nets.data import bundled, normalize
from ..views import plots_inside
from . import links

MAX_LESION_IMAGES = 500  # live; the stored study uses all 1,000 bundled test images
MAX_SLICE_IMAGES = 500
MAX_POINTS = 41
LIVE_DRAWS = 3


def _pairs() -> list[int]:
    """The depths with a trained plain net and ResNet (the loss slice compares the two)."""
    return [d for d, archs in lesion.available().items() if len(archs) == 2]


def _depth(depth: Any, choices) -> int:
    try:
        depth = int(depth)
    except (TypeError, ValueError):
        depth = None
    if depth not in choices:
        raise gr.Error(f"Depth must be one of {', '.join(map(str, choices))}.")
    return depth


def _lesion_choices() -> list[tuple[str, int]]:
    return [(str(d) if len(archs) == 2 else f"{d} (ResNet only)", d) for d, archs in lesion.available().items()]


def _count(value: Any, what: str, low: int, high: int) -> int:
    try:
        value = int(value)
    except (TypeError, ValueError):
        raise gr.Error(f"The number of {what} must be a whole number.") from None
    if not low <= value <= high:
        raise gr.Error(f"The number of {what} must be between {low} and {high}.")
    return value


def _run(job, fewer: str):
    """A live job on the trained nets; its time limit and a missing checkpoint as clear messages."""
    try:
        return job()
    except lesion.TimeLimit as e:
        raise gr.Error(f"{e}; try {fewer}.") from None
    except FileNotFoundError as e:
        raise gr.Error(f"{e}.") from None


# -- lesion study -----------------------------------------------------------------------------------------------


def _lesion_outputs(pair: dict[str, Any], depth: int, footer: str):
    return (
        plots_inside.lesion_single(pair, depth),
        plots_inside.lesion_k(pair, depth),
        lesion.summary(pair, depth) + footer,
        {"depth": depth, **pair},
    )


def lesion_stored(depth: Any):
    depth = _depth(depth, list(lesion.available()))
    stored = lesion.stored()
    pair = stored.data["pairs"].get(str(depth)) if stored else None
    if pair is None:
        return None, None, "*No stored lesion study of this depth yet: run `python -m scripts.inside_trained`.*", None
    m = stored.data["setup"]
    trend = lesion.depth_trend(stored.data["pairs"])
    footer = ("\n\n" + trend if trend else "") + how_computed(
        f"Stored: {pair['residual']['images']} bundled test images, {m['draws']} draws per k (seed {m['seed']}); "
        f"computed by {stored.provenance.line()}"
    )
    return _lesion_outputs(pair, depth, footer)


def run_lesion(depth: Any, images: Any, progress=gr.Progress()):
    available = lesion.available()
    depth, images = _depth(depth, list(available)), _count(images, "test images", 50, MAX_LESION_IMAGES)
    data = bundled()
    x, y = normalize(data.x_test[:images]), data.y_test[:images]  # class-balanced subset, first N
    bar = lambda f, desc: progress(f, desc=desc)  # noqa: E731
    pair, took = _run(lambda: lesion.compute(depth, x, y, LIVE_DRAWS, settings().inside_limit_s, bar),
                      "fewer images")
    footer = f"\n\n*Computed live: {images} bundled test images, {LIVE_DRAWS} draws per k, in {took:.1f} s.*"
    return _lesion_outputs(pair, depth, footer)


# -- loss landscape ---------------------------------------------------------------------------------------------


def landscape_stored():
    stored = landscape.stored()
    if not stored:
        return None, None, None, None, "*No stored loss surfaces yet: run `python -m scripts.inside_trained`.*"
    m, nets, axis = stored.data["setup"], stored.data["nets"], stored.data["axis"]
    figs = {}
    for arch in ("plain", "residual"):
        title = paper.net_label(arch, m["depth"])
        figs[arch] = (plots_inside.loss_surface(axis, nets[arch]["loss"], title=title, cap=landscape.CAP),
                      plots_inside.loss_contour(axis, nets[arch]["loss"], title=title, cap=landscape.CAP))
    verdict, table = landscape.summary(stored)
    cap = landscape.CAP
    footer = how_computed(
        f"{m['points']}×{m['points']} points over α, β ∈ [−{m['span']}, {m['span']}], training loss (eval mode) on "
        f"{stored.provenance.notes['data']}, directions seed {m['seed']}; same axes and colour scale for both nets, "
        f"loss above {cap:g} drawn at {cap:g}; computed by {stored.provenance.line()}"
    )
    (plain_s, plain_c), (res_s, res_c) = figs["plain"], figs["residual"]
    return plain_s, res_s, plain_c, res_c, f"{verdict}\n\n{table}{footer}"


def loss_slice(depth: Any, images: Any, points: Any, progress=gr.Progress()):
    depth = _depth(depth, _pairs())
    images = _count(images, "training images", 16, MAX_SLICE_IMAGES)
    points = _count(points, "points", 3, MAX_POINTS)
    if points % 2 == 0:
        points += 1  # odd: the trained weights themselves (α = 0) are on the slice
    data = bundled()
    x, y = normalize(data.x_train[:images]), data.y_train[:images]
    bar = lambda f, desc: progress(f, desc=desc)  # noqa: E731
    results, took = _run(lambda: landscape.compute(depth, x, y, points, settings().inside_limit_s, bar),
                         "fewer images or points")
    text = (
        landscape.slice_summary(results, depth) + f"\n\n*Computed live: {points} points, {images} bundled "
        f"training images, eval mode, direction seed 0, in {took:.1f} s.*"
    )
    return plots_inside.loss_slice(results, depth), text, {"depth": depth, **results}


# -- how small is F(x) ------------------------------------------------------------------------------------------


def block_ratios():
    series, sentence = responses.trained_ratios()
    text = (
        sentence + how_computed(
            f"{responses.RATIO_IMAGES} bundled test images; trained nets in eval mode; the net at initialisation "
            "(seed 0) with each batch's own BN statistics, as training sees it."
        )
    )
    return plots_inside.block_ratios(series), text, series


def first_view():
    return (*lesion_stored(56), *landscape_stored(), *block_ratios())


def build() -> list[gr.components.Component]:
    """The tab; returns the components ``first_view`` fills when the page loads."""
    gr.Markdown(
        "### Inside trained nets\nThree experiments that came after the paper and explain *why* residual "
        "nets train, run on this project's trained CIFAR-10 checkpoints (plain and residual, "
        "`assets/checkpoints/`). Stored results show at once; each can be recomputed live."
    )
    lesion_out = _build_lesion()
    landscape_out = _build_landscape()
    ratio_out = _build_ratios()
    stored_files = [str(p) for p in sorted(INSIDE_DIR.glob("*.json"))]
    if stored_files:
        gr.File(stored_files, label="Download the stored results (JSON: lesion study, loss surfaces, F(x) ratios)",
                file_count="multiple", interactive=False)
    return [*lesion_out, *landscape_out, *ratio_out]


def _build_lesion() -> list[gr.components.Component]:
    """1. The lesion study: stored by depth, recomputed live on fewer images; returns its outputs."""
    with gr.Accordion("1. Lesion study: delete blocks from a trained net", open=True,
                      elem_id=links.elem_id("inside", "lesion")):
        gr.Markdown(paper.VEIT)
        with gr.Row():
            depth = gr.Dropdown(_lesion_choices(), value=56, label="Nets (plain and ResNet of this depth)",
                                min_width=160)
            images = gr.Slider(50, MAX_LESION_IMAGES, value=200, step=50, label="Test images (live)", min_width=200)
            go_lesion = gr.Button("Recompute live", min_width=140)
            back_lesion = gr.Button("Back to the stored study", min_width=140, variant="secondary")
        lesion_text = gr.Markdown()
        with gr.Row(equal_height=True):
            with gr.Column(min_width=340):
                single = gr.Plot(label="One block deleted")
            with gr.Column(min_width=340):
                k_plot = gr.Plot(label="k random blocks deleted")
        lesion_json = gr.JSON(visible=False)
    lesion_out = [single, k_plot, lesion_text, lesion_json]
    go_lesion.click(
        run_lesion,
        [depth, images],
        lesion_out,
        show_progress="minimal",  # the stored result stays on screen until the new one arrives
        api_name="lesion",
        concurrency_id="inside",
        concurrency_limit=1,
        time_limit=int(settings().inside_limit_s) + 30,
    )
    depth.change(lesion_stored, depth, lesion_out, api_name=False, concurrency_id="inside_stored", concurrency_limit=8)
    back_lesion.click(lesion_stored, depth, lesion_out, api_name=False, concurrency_id="inside_stored",
                      concurrency_limit=8)
    return lesion_out


def _build_landscape() -> list[gr.components.Component]:
    """2. The loss landscape: the stored surfaces (filled on page load, returned) and a live 1-D slice."""
    with gr.Accordion("2. Loss landscape around the trained weights", open=True,
                      elem_id=links.elem_id("inside", "landscape")):
        gr.Markdown(paper.LI)
        land_text = gr.Markdown()
        with gr.Row(equal_height=True):  # side by side where there is room, stacked on a phone
            with gr.Column(min_width=340):
                contour_plain = gr.Plot(label="Contours, plain")
            with gr.Column(min_width=340):
                contour_res = gr.Plot(label="Contours, ResNet")
        gr.Markdown("The same two surfaces in 3-D (drag to turn them). Where the loss is above the colour scale's "
                    "top the surface is cut away, so the holes at the corners are the region the contour maps "
                    "show in their top colour.")
        with gr.Row(equal_height=True):
            with gr.Column(min_width=340):
                surface_plain = gr.Plot(label="Loss surface, plain")
            with gr.Column(min_width=340):
                surface_res = gr.Plot(label="Loss surface, ResNet")
        gr.Markdown("**A live 1-D slice**: the loss and error along one filter-normalised direction, on the same "
                    "nets as the surfaces above by default.")
        with gr.Row():
            slice_depth = gr.Dropdown(_pairs(), value=56, label="Nets", min_width=120)
            slice_images = gr.Slider(16, MAX_SLICE_IMAGES, value=128, step=16, label="Training images", min_width=200)
            points = gr.Slider(3, MAX_POINTS, value=21, step=2, label="Points", min_width=160)
            go_slice = gr.Button("Compute the slice", min_width=140)
        with gr.Column(visible=False) as slice_box:  # shown once there is a slice to show
            slice_text = gr.Markdown()
            slice_plot = gr.Plot(label="1-D slice")
        slice_json = gr.JSON(visible=False)
    go_slice.click(lambda: gr.update(visible=True), None, slice_box, api_name=False, queue=False).then(
        loss_slice,
        [slice_depth, slice_images, points],
        [slice_plot, slice_text, slice_json],
        api_name="loss_slice",
        concurrency_id="inside",
        concurrency_limit=1,
        time_limit=int(settings().inside_limit_s) + 30,
    )
    return [surface_plain, surface_res, contour_plain, contour_res, land_text]


def _build_ratios() -> list[gr.components.Component]:
    """3. How small F(x) is: the ratios per block (filled on page load, returned)."""
    with gr.Accordion("3. How small is F(x)?", open=True, elem_id=links.elem_id("inside", "ratios")):
        gr.Markdown(
            "The paper's reason for residual learning: “if an identity mapping were optimal, it would be "
            "easier to push the residual to zero”. Measured: per residual block, RMS(F(x)) ÷ RMS(x), F(x) "
            "the branch's output (after its second BN, before the addition), x the block's input."
        )
        ratio_text = gr.Markdown()
        ratio_plot = gr.Plot(label="RMS(F(x)) / RMS(x)")
        ratio_json = gr.JSON(visible=False)
        go_ratio = gr.Button("Recompute", visible=False)
    go_ratio.click(
        block_ratios,
        None,
        [ratio_plot, ratio_text, ratio_json],
        api_name="block_ratios",
        concurrency_id="inside_stored",
        concurrency_limit=8,
    )
    return [ratio_plot, ratio_text, ratio_json]
