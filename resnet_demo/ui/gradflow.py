"""The Gradient-flow tab: per-layer gradient magnitudes, plain vs residual, BN on/off, through training."""
from __future__ import annotations

import threading
from typing import Any

import gradio as gr

from ..base import paper
from ..base.settings import GRADFLOW_FILE, settings
from ..base.stored import how_computed
from ..base.threads import on_inference_thread
from ..experiments import gradflow, responses
from ..nets.data import bundled
from ..serving import classifiers, weights
from ..serving.images import InputError, load_input
from ..views import classify_text, gradflow_text, plots
from . import links, shortcuts
from .common import upload_path

LIVE = threading.Semaphore(1)  # one live run at a time: stored answers never wait behind one
LIVE_WAIT_S = 60.0
DEPTHS = (20, 32, 44, 56, 110)


def _check(depth: Any, steps: Any, seed: Any) -> tuple[int, int, int]:
    try:
        depth, steps, seed = int(depth), int(steps), int(seed or 0)
    except (TypeError, ValueError):
        raise gr.Error("Depth, steps and seed must be whole numbers.") from None
    if depth not in DEPTHS:
        raise gr.Error(f"Depth must be one of {', '.join(map(str, DEPTHS))}.")
    if steps not in gradflow.STEPS:
        raise gr.Error(f"Training steps must be one of {', '.join(map(str, gradflow.STEPS))}.")
    if not 0 <= seed < 2**31:
        raise gr.Error("The seed must be between 0 and 2³¹−1.")
    return depth, steps, seed


def _out(record: dict[str, Any], footer: str) -> tuple[Any, str, dict[str, Any]]:
    """The figure, the summary and the JSON value."""
    return plots.grad_trajectory(record), gradflow_text.summary(record, footer), gradflow.snapshot(record)


def _stored_footer(record: dict[str, Any]) -> str:
    return ("*Pick a step under “Step shown” to see the gradients at that point of training.*"
            + how_computed(gradflow_text.stored_provenance(record)))


def _step_choices(record: dict[str, Any] | None):
    """The "Step shown" radio follows the record: its steps, the last one picked; hidden with no record."""
    if not record:
        return gr.update(choices=[], value=None, visible=False)
    return gr.update(choices=[str(s) for s in record["steps"]], value=str(record["steps"][-1]), visible=True)


def _show_step(record: dict[str, Any] | None, step: str | None):
    """Redraw the figure at the picked step (the record is the JSON value the tab already holds: no training)."""
    if not record or step is None:
        return gr.skip()
    return plots.grad_trajectory(record, int(step))


def show_stored(depth: Any, batch_norm: bool, steps: Any, seed: Any):
    """Settings changed: the stored result at once where there is one; else no figure, what a live run would cost,
    and the button says so (it asks before anything trains)."""
    depth, steps, seed = _check(depth, steps, seed)
    record = gradflow.stored(depth, bool(batch_norm), steps, seed)
    if record is None:
        label = _live_label(depth, steps)
        text = (f"*Depth {depth}, BN {'on' if batch_norm else 'off'}, seed {seed} is not stored (stored: depths "
                f"{', '.join(map(str, gradflow.stored_depths()))} with seed 0, instant). Press **{label}** to train "
                "it here.*" + how_computed(
                    "The time is measured on this server: from the last live run's cost per layer and step once one "
                    "has run, and during a run from its own first steps."))
        return None, text, None, gr.update(value=label)
    return (*_out(record, _stored_footer(record)), gr.update(value=STORED_LABEL))


STORED_LABEL = "Show gradient flow"


# Seconds per layer and training step of the plain/residual pair, measured by the last live run on this server
# (none before the first): what the button's estimate uses. Never the stored runs' machine: it may be 2x off.
MEASURED: dict[str, float] = {}


def _live_label(depth: int, steps: int) -> str:
    rate = MEASURED.get("s_per_layer_step")
    if rate is None:
        return "Train live (timed after its first steps)"
    return f"Train live (about {max(5, round(rate * depth * steps / 5) * 5):.0f} s here)"


def first_view():
    """The tab's default result, shown when the page loads: depth 56 with BN, stored."""
    return show_stored(56, True, gradflow.STEPS[-1], 0)[:3]


def grad_flow(depth: Any, batch_norm: bool, steps: Any, seed: Any):
    """Stored settings: the stored trajectory at once. Others: trained live, streamed at every checkpoint."""
    depth, steps, seed = _check(depth, steps, seed)
    batch_norm = bool(batch_norm)
    record = gradflow.stored(depth, batch_norm, steps, seed)
    if record is not None:
        yield _out(record, _stored_footer(record))
        return
    if not LIVE.acquire(timeout=LIVE_WAIT_S):
        raise gr.Error(f"Another live gradient-flow run has been going for over {LIVE_WAIT_S:.0f} s; "
                       f"try again in a few minutes, or pick a stored setting (depth "
                       f"{', '.join(map(str, gradflow.stored_depths()))}, seed 0).")
    try:
        yield from _live(depth, batch_norm, steps, seed)
    finally:
        LIVE.release()


def _live(depth: int, batch_norm: bool, steps: int, seed: int):
    limit_s = settings().gradflow_limit_s
    shown = None
    for update in gradflow.live(bundled(), depth, batch_norm, steps, seed, limit_s, MEASURED):
        if update.warning:
            gr.Warning(update.warning)
        if update.record["steps"] != shown or update.phase == "measuring":  # a new checkpoint (or step 0 while timing)
            shown = list(update.record["steps"])
            yield _out(update.record, gradflow_text.live_note(update, seed))


def imagenet_profile(upload: Any, url: str | None, model_name: str):
    if model_name not in weights.IMAGENET_KEYS:
        raise gr.Error(
            f"Gradient flow profiles the fp32 ImageNet ResNets: choose one of "
            f"{', '.join(weights.IMAGENET_KEYS)} ({model_name!r} is not one)."
        )
    try:
        image, _ = load_input(upload_path(upload), url)
    except InputError as e:
        raise gr.Error(str(e)) from None
    try:
        clf, label, prof = on_inference_thread(gradflow.imagenet_profile, image, model_name)
    except (weights.WeightsUnavailable, weights.UnknownModel) as e:
        raise gr.Error(str(e)) from None
    fig = plots.grad_flow(
        prof.layers[:-1],
        {f"{model_name} (pretrained)": prof.grad_rms[:-1]},
        x_title="conv layer (input → output)",
        title=f"Gradient RMS per conv layer<br><sup>loss: cross-entropy of the top label '{clf.labels[label]}'</sup>",
        y_title="gradient RMS per value (log)",
    )
    return fig, gradflow_text.imagenet_sentence(model_name, prof)


def build() -> tuple[list[gr.components.Component], list[gr.components.Component]]:
    """The tab; returns the components ``first_view`` and ``fig7`` fill when the page loads (see build_demo)."""
    outputs = _build_race()
    _build_imagenet()
    shortcuts.build()
    gr.Markdown(
        "### Fig. 7: layer responses of the trained nets\nThe std of each 3×3 layer's response (after BN, "
        "before the ReLU or the addition), as the paper measures it. Only trained nets say something here: "
        "at initialisation BN makes every response ~1 by construction.",
        elem_id=links.elem_id("gradflow", "fig7"),
    )
    sentence = gr.Markdown()
    figure = gr.Plot(label="Fig. 7")
    return outputs, [sentence, figure]


def _build_race() -> list[gr.components.Component]:
    """The plain/residual race: its settings, the figure, the sentences and the step picker; returns the outputs
    ``first_view`` fills."""
    gr.Markdown(
        "### What happens to the gradient in a deep plain net?\nThe paper (§4.1) says deep plain nets with BN "
        "do *not* fail because their gradients vanish: BN keeps them at non-zero norms, so the degradation has "
        "another cause. Here you can watch them. For a plain and a residual net of the same depth, "
        "built from the same seed, the loss gradient at every weight layer's output, as RMS per value so "
        "that layers of different sizes compare (read with backward hooks, one batch of 64 real CIFAR-10 "
        "images), at initialisation and as training goes on.",
        elem_id=links.elem_id("gradflow", "gradients"),
    )
    with gr.Row():
        stored = gradflow.stored_depths()
        depth = gr.Dropdown([(f"{d} · {'stored' if d in stored else 'trains live'}", d)
                             for d in DEPTHS], value=56, label="Depth")
        batch_norm = gr.Checkbox(True, label="BatchNorm")
        steps = gr.Dropdown(
            list(gradflow.STEPS), value=gradflow.STEPS[-1], label="Training steps (0 = at initialisation)"
        )
        seed = gr.Number(0, label="Seed (0 is stored; others train live)", precision=0, minimum=0,
                         maximum=2**31 - 1)
        button = gr.Button(STORED_LABEL, variant="primary")
    summary = gr.Markdown()
    shown = gr.Radio([], label="Step shown", visible=False)  # keyboard: each step is a Tab stop, Space picks it
    plot = gr.Plot(label="Gradient flow, step by step", show_label=False)
    gr.Markdown(paper.SECTION_41)
    stored_files = [str(p) for p in (GRADFLOW_FILE, responses.RESPONSES_FILE) if p.exists()]
    if stored_files:
        gr.File(stored_files, label="Download the stored results (JSON: the trajectories, Fig. 7)",
                file_count="multiple", interactive=False)
    result = gr.JSON(label="Per-layer norms", visible=False)
    outputs = [plot, summary, result]
    button.click(
        grad_flow,
        [depth, batch_norm, steps, seed],
        outputs,
        api_name="grad_flow",
        concurrency_id="gradflow",
        concurrency_limit=4,
        time_limit=int(settings().gradflow_limit_s + LIVE_WAIT_S) + 60,
    )
    for control in (depth, batch_norm, steps, seed):  # .input: a reader's change, not the reset's (it fills them)
        control.input(
            show_stored,
            [depth, batch_norm, steps, seed],
            [*outputs, button],
            api_name=False,
            concurrency_id="gradflow_stored",
            concurrency_limit=8,
        )

    # for a teacher after live runs: the stored default again (its settings, so the controls agree with it)
    reset = gr.Button("Back to the stored result", size="sm", variant="secondary")
    reset.click(lambda: (56, True, gradflow.STEPS[-1], 0, *first_view(), gr.update(value=STORED_LABEL)), None,
                [depth, batch_norm, steps, seed, *outputs, button], api_name=False, queue=False)
    result.change(_step_choices, result, shown, api_name=False, queue=False)
    shown.input(_show_step, [result, shown], plot, api_name=False, queue=False)
    return outputs


def _build_imagenet() -> None:
    """ImageNet mode: a pretrained torchvision ResNet's gradient profile on the reader's image."""
    with gr.Accordion("ImageNet mode: a pretrained torchvision ResNet on your image", open=False):
        with gr.Row():
            image = gr.Image(label="Image", type="filepath", sources=["upload", "clipboard"], height=240)
            with gr.Column():
                url = gr.Textbox(label="…or an image URL", max_lines=1)
                model = gr.Dropdown(
                    [(classify_text.describe_key(k), k) for k in weights.IMAGENET_KEYS],
                    value=classifiers.DEFAULT_MODEL, label="Model",
                )
                go = gr.Button("Profile")
        im_text = gr.Markdown()
        im_plot = gr.Plot()
        go.click(
            imagenet_profile,
            [image, url, model],
            [im_plot, im_text],
            api_name="grad_flow_imagenet",
            preprocess=False,
            concurrency_id="classify",
            time_limit=120,
        )


def fig7():
    """Filled when the page loads (computed once per process, cached), not while the app starts."""
    series, sentence = responses.trained_responses()
    if not series:
        return sentence, gr.update(visible=False)
    return sentence, plots.layer_responses(
        series, title="Fig. 7: std of 3×3 responses<br><sup>dashed: plain · solid: ResNet</sup>"
    )
