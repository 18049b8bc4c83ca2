"""The shortcut lab, a section of the Gradient-flow tab (He et al. 2016, "Identity Mappings in Deep Residual
Networks"): each unit drawn with its formula, the gradient profiles of up to four variants (stored, else computed),
their stored training over seeds, and a live run of the chosen variants side by side (``/shortcut_lab``,
``/train_variants``)."""
from __future__ import annotations

from typing import Any

import gradio as gr

from ..base.settings import settings
from ..base.stored import how_computed
from ..base.threads import on_inference_thread
from ..experiments import shortcut_lab as lab
from ..serving import live, workers
from ..views import plots, shortcut_text, unit_svg
from . import links
from .common import STARTING_WORKERS, STOPPED_IN_QUEUE, RunStops, live_status

LAB_DEFAULT = ("identity", "scale", "conv1x1", "full-preact")
# The live run's default: two nets at depth 56 cost less than the degradation demo's four at 20, 20, 56 and 56
# (2 × 56 against 152 depth-units a step): 0.74× that demo's time, four variants 1.56× (docs/performance.md).
LIVE_DEFAULT = ("identity", "scale")
UPDATE_S = 2.5  # a new figure at most this often (as the Depth tab's live run)
STOPS = RunStops()


def _keys(keys: Any) -> list[str]:
    keys = list(dict.fromkeys(k for k in (keys or []) if k in lab.VARIANTS))  # known, each once, in order
    if not 1 <= len(keys) <= 4:
        raise gr.Error(f"Pick one to four variants of {', '.join(lab.VARIANTS)}.")
    return keys


def shortcut_lab(keys: Any, depth: Any, steps: Any):
    """/shortcut_lab: the figure, the summary and the JSON of up to four variants' gradient profiles, stored where
    they are (seed 0), else computed now."""
    keys = _keys(keys)
    try:
        depth, steps = int(depth), int(steps)
    except (TypeError, ValueError):
        raise gr.Error("Depth and steps must be whole numbers.") from None
    if depth not in lab.DEPTHS or steps not in lab.STEPS:
        raise gr.Error(f"Depth must be one of {lab.DEPTHS} and steps one of {lab.STEPS}.")
    profiles, computed = [], []
    for key in keys:
        p = lab.stored_profile(key, depth)
        if p is None:
            p = on_inference_thread(lab.compute, key, depth, steps)
            computed.append(key)
        profiles.append(lab.at_step(p, steps))
    results = [r for r in lab.trained() if r.key in keys]
    text = (shortcut_text.summary(profiles) + "\n\n**Trained over seeds**\n\n" + shortcut_text.training_table(results)
            + how_computed(shortcut_text.provenance(computed)))
    labels = {k: v.label for k, v in lab.VARIANTS.items()}
    training = {r.key: {"seeds": r.seeds, "diverged": r.diverged, "train_error_mean": r.train_mean,
                        "train_error_sd": r.train_sd, "test_error_mean": r.test_mean, "test_error_sd": r.test_sd}
                for r in results}
    return plots.shortcut_profiles(profiles, labels), text, {"profiles": profiles, "training": training}


def train_variants(keys: Any, seed: Any, request: gr.Request):
    """/train_variants: the chosen variants (one to four) trained side by side at the live demo's scale (its
    default preset, depth 56, the bundled subset), the same seed and batches; a figure every few seconds, and at
    the end a verdict by the noise rule against the variants' stored seed spread."""
    keys = _keys(keys)
    try:
        seed = int(seed or 0)
    except (TypeError, ValueError):
        raise gr.Error("The seed must be a whole number.") from None
    if not 0 <= seed < 2**31:
        raise gr.Error("The seed must be between 0 and 2³¹−1.")
    flag = STOPS.start(request)
    if flag is None:  # Stop was pressed while this run waited in the queue
        yield gr.skip(), STOPPED_IN_QUEUE, None
        return
    nets = tuple(live.Net(k, v.unit, v.shortcut, v.gate_bias) for k, v in ((k, lab.VARIANTS[k]) for k in keys))
    labels = [lab.VARIANTS[k].label for k in keys]
    try:
        if not workers.WORKERS.ready:
            yield gr.skip(), STARTING_WORKERS, None
        for snap in workers.WORKERS.run(live.DEFAULT_PRESET, (lab.TRAIN_DEPTH, lab.TRAIN_DEPTH), True, seed,
                                        nets=nets, should_stop=flag.is_set, time_limit_s=settings().train_limit_s,
                                        every_s=UPDATE_S):
            fig = plots.variant_curves(snap.runs, labels, title=f"Live, seed {seed}: depth {lab.TRAIN_DEPTH}, "
                                       f"{len(keys)} variant{'s' * (len(keys) > 1)}")
            fig.update_xaxes(range=[-0.02 * snap.total, 1.03 * snap.total])
            done = snap.iteration >= snap.total or snap.stopped
            status = live_status(snap)
            if done:
                status += "\n\n" + shortcut_text.live_verdict(snap.runs, keys, snap.iteration >= snap.total)
            yield fig, status, {"runs": snap.runs, "elapsed_s": round(snap.elapsed_s, 2)}
    except workers.WorkerError as e:
        raise gr.Error(f"Live training failed: {str(e).strip().splitlines()[-1]}") from None
    finally:
        STOPS.release(request, flag)


def build() -> None:
    """Why the identity? Up to four of He et al. 2016's shortcuts and units: their gradient profiles side by side,
    and a live run of them."""
    with gr.Accordion("Why must the shortcut be the identity? The shortcut lab (He et al. 2016)", open=False,
                      elem_id=links.elem_id("gradflow", "shortcuts")):
        gr.Markdown(
            "He, Zhang, Ren and Sun's follow-up paper (*Identity Mappings in Deep Residual Networks*, ECCV 2016, "
            "§3) splits the gradient reaching a unit into two terms: one that comes straight back along the "
            "shortcuts, and one through the weight layers. With identity shortcuts the first term is the last "
            "unit's gradient itself; a shortcut scaled by λ multiplies it by λ once per unit. Pick up to four "
            "variants and see both terms in a real net, then train them. Each unit below: F's layers top to "
            "bottom, the shortcut (dashed where it is not the identity) and what follows the addition.")
        gr.HTML(unit_svg.gallery(), padding=True)
        with gr.Row():
            keys = gr.CheckboxGroup([(v.label, k) for k, v in lab.VARIANTS.items()], value=list(LAB_DEFAULT),
                                    label="Variants (one to four)")
        with gr.Row():
            depth = gr.Dropdown(list(lab.DEPTHS), value=56, label="Depth")
            steps = gr.Dropdown(list(lab.STEPS), value=lab.STEPS[-1], label="Training steps (0 = at initialisation)")
            go = gr.Button("Compare the variants", variant="primary")
        text = gr.Markdown()
        figure = gr.Plot(label="Gradient reaching each unit")
        result = gr.JSON(visible=False)
        gr.Markdown(
            "#### Train them live\nTrains the chosen variants side by side at depth 56 on the bundled CIFAR-10 "
            "subset, same seed and same batches, at the live demo's scale (its default preset, 250 iterations). "
            "Two variants take about three quarters of the Depth tab's live run, four about 1.5× as long (measured "
            f"on this project's 2-vCPU machine). The default pair: "
            f"{' and '.join(lab.VARIANTS[k].label for k in LIVE_DEFAULT)}.",
            elem_id=links.elem_id("gradflow", "shortcuts-live"))
        with gr.Row():
            live_keys = gr.CheckboxGroup([(v.label, k) for k, v in lab.VARIANTS.items()], value=list(LIVE_DEFAULT),
                                         label="Variants to train (one to four)")
        with gr.Row():
            seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
            start = gr.Button("Train live", variant="primary")
            stop_button = gr.Button("Stop", variant="stop")
        with gr.Column(visible=False) as live_box:  # shown when a run starts: no empty figure before
            status = gr.Markdown()
            curves = gr.Plot(label="Live training of the variants")
        runs = gr.JSON(visible=False)
    go.click(shortcut_lab, [keys, depth, steps], [figure, text, result], api_name="shortcut_lab",
             concurrency_id="gradflow", concurrency_limit=4, time_limit=int(settings().gradflow_limit_s) + 60)
    start.click(STOPS.arm, None, live_box, api_name=False, queue=False).then(
        train_variants, [live_keys, seed], [curves, status, runs], api_name="train_variants",
                show_progress="hidden", concurrency_id="train", concurrency_limit=1,
                time_limit=int(settings().train_limit_s) + 60)
    stop_button.click(STOPS.stop, None, None, api_name=False, queue=False)
