"""The Gradient-flow tab: per-layer gradient magnitudes, plain vs residual, BN on/off, through training."""
from __future__ import annotations

import copy
import functools
import os
import statistics
import time
from typing import Any

import gradio as gr
import torch

from .. import gradflow, imagenet, plots
from ..cifar import load_checkpoint
from ..data import normalize
from ..image_input import InputError, load_input
from .common import bundled_data, upload_path

TIME_LIMIT_S = float(os.environ.get("RESNET_DEMO_GRADFLOW_LIMIT_S", "240"))

PAPER_41 = ("**The paper (§4.1)** on plain nets trained with BN: the forward signals have non-zero variances and "
            "“the backward propagated gradients exhibit healthy norms with BN”, so their degradation is "
            "“unlikely to be caused by vanishing gradients”. BN does not make a deep plain net's gradients "
            "*uniform*, though: at initialisation they can grow toward the input (Yang et al. 2019, “A Mean "
            "Field Theory of Batch Normalization”). Compare with the numbers above, and watch how they change as "
            "training goes on.")


def _figures(layers: list[str], p: gradflow.Profile, r: gradflow.Profile, depth: int, step: int,
             p0: gradflow.Profile | None, r0: gradflow.Profile | None):
    # the classifier is left out of this plot: its gradient is per logit, after global pooling (see
    # gradflow.first_last_ratio), and on a log axis it would flatten the conv layers' profile
    series = {f"plain-{depth}": p.grad_rms[:-1], f"ResNet-{depth}": r.grad_rms[:-1]}
    if step and p0 is not None and r0 is not None:
        series = {f"plain-{depth} (step 0)": p0.grad_rms[:-1], f"ResNet-{depth} (step 0)": r0.grad_rms[:-1],
                  f"plain-{depth} (step {step})": p.grad_rms[:-1], f"ResNet-{depth} (step {step})": r.grad_rms[:-1]}
    out_fig = plots.grad_flow(layers[:-1], series, title=f"RMS of ∂loss/∂(layer output) per conv layer, step {step}",
                              y_title="gradient RMS per value (log)", x_title="conv layer (input → output)")
    w_fig = plots.grad_flow(layers, {f"plain-{depth}": p.weight_grad_norms, f"ResNet-{depth}": r.weight_grad_norms},
                            title=f"‖∂loss/∂W‖ per layer, step {step}", y_title="weight-gradient norm (log)")
    return out_fig, w_fig


TRAINED = ("plain20", "plain56", "resnet20", "resnet56")  # the checkpoints Fig. 7 is computed on, when present


@functools.lru_cache(maxsize=1)
def trained_responses() -> tuple[dict[str, list[float]], str]:
    """Fig. 7 on this project's trained checkpoints, in eval mode, over 500 of the bundled test images:
    {net: stds} and a sentence computed from them (computed once per process: the files do not change)."""
    checkpoints = imagenet.cifar_checkpoints()
    data = bundled_data()
    images = normalize(data.x_test[:500])  # class-balanced; millions of values per layer: a stable std
    series: dict[str, list[float]] = {}
    for stem in TRAINED:
        path = checkpoints.get(f"cifar-{stem}")
        if path is None:
            continue
        model, meta = load_checkpoint(path)
        _, stds = gradflow.layer_responses(model, images)
        series[f"{'ResNet' if stem.startswith('resnet') else 'plain'}-{meta['config']['depth']}"] = stds
    return series, _responses_sentence(series)


def _responses_sentence(series: dict[str, list[float]]) -> str:
    pairs = [(f"plain-{d}", f"ResNet-{d}") for d in (20, 56) if f"plain-{d}" in series and f"ResNet-{d}" in series]
    if not pairs:
        have = ", ".join(series) or "none"
        return (f"Fig. 7 compares trained plain and residual nets of one depth; the checkpoints in "
                f"assets/checkpoints/ hold {have} so far.")
    parts = []
    for plain, res in pairs:
        mp, mr = statistics.mean(series[plain]), statistics.mean(series[res])
        parts.append(f"{res}'s responses average **{mr:.2f}** against {plain}'s **{mp:.2f}** "
                     f"({mr / mp:.2f}×)")
    verdict = ("smaller in the residual nets, as the paper found (“ResNets have generally smaller responses "
               "than their plain counterparts”)" if all(statistics.mean(series[r]) < statistics.mean(series[p])
                                                       for p, r in pairs)
               else "not smaller in every residual net here, unlike the paper's Fig. 7")
    return "Trained nets, evaluation mode, 500 test images: " + "; ".join(parts) + f" — {verdict}."


def grad_flow(depth: float, batch_norm: bool, steps: float, seed: float):
    depth, steps, seed = int(depth), int(steps), int(seed or 0)
    if depth not in (20, 32, 44, 56, 110):
        raise gr.Error("Depth must be one of 20, 32, 44, 56, 110.")
    if not 0 <= steps <= gradflow.CHECKPOINTS[-1]:
        raise gr.Error(f"Steps must be between 0 and {gradflow.CHECKPOINTS[-1]}.")
    t0 = time.perf_counter()
    first: dict[str, Any] = {}
    step = -1
    for snap in gradflow.trace(bundled_data(), depth, bool(batch_norm), seed, steps,
                               should_stop=lambda: time.perf_counter() - t0 > TIME_LIMIT_S):
        p, r, step = snap["plain"], snap["residual"], snap["step"]
        first = first or snap
        figs = _figures(p.layers, p, r, depth, step, first["plain"], first["residual"])
        text = gradflow.describe(depth, bool(batch_norm), step, p, r)
        if snap["diverged"]:
            text += " " + " ".join(f"**{a} diverged:** {why}." for a, why in snap["diverged"].items())
        if step < steps:
            text += f"\n\n*Training… step {step} of {steps} ({time.perf_counter() - t0:.0f} s).*"
        else:
            text += f"\n\n*lr {snap['lr']}, batch 64, seed {seed}; {time.perf_counter() - t0:.1f} s.*"
        result = {"layers": p.layers, "plain": p.grad_norms, "residual": r.grad_norms, "step": step,
                  "plain_rms": p.grad_rms, "residual_rms": r.grad_rms,
                  "weight_plain": p.weight_grad_norms, "weight_residual": r.weight_grad_norms}
        yield *figs, text, result
    if step != steps:
        gr.Warning(f"Stopped at the time limit ({TIME_LIMIT_S:.0f} s); showing the last step reached.")


def hookable_copy(model: torch.nn.Module) -> torch.nn.Module:
    """The module tree copied, its parameters and buffers shared (not copied: ResNet-152 has 240 MB of
    them): hooks go on the copy's modules, so requests that share the cached model never see them. Safe
    because the profile neither writes parameters (weight_grads=False) nor buffers (eval mode)."""
    memo = {id(t): t for t in (*model.parameters(), *model.buffers())}
    return copy.deepcopy(model, memo)


def imagenet_profile(upload: Any, url: str | None, model_name: str):
    if model_name not in imagenet.IMAGENET:
        raise gr.Error(f"Gradient flow profiles the fp32 ImageNet ResNets: choose one of "
                       f"{', '.join(imagenet.IMAGENET)} ({model_name!r} is not one).")
    try:
        image, _ = load_input(upload_path(upload), url)
    except InputError as e:
        raise gr.Error(str(e)) from None
    try:
        clf = imagenet.MODELS.get(model_name)
    except (imagenet.WeightsUnavailable, imagenet.UnknownModel) as e:
        raise gr.Error(str(e)) from None
    x = clf.preprocess(image).unsqueeze(0)
    model = hookable_copy(clf.model)
    with torch.no_grad():  # not inference_mode: the label is the loss's target, which backward keeps
        label = model(x).argmax(1)
    prof = gradflow.profile(model, x, label, weight_grads=False)
    ratio = gradflow.first_last_ratio(prof.grad_rms)
    fig = plots.grad_flow(prof.layers[:-1], {f"{model_name} (pretrained)": prof.grad_rms[:-1]},
                          x_title="conv layer (input → output)",
                          title=f"RMS of ∂loss/∂(layer output), loss = cross-entropy of the top label "
                                f"'{clf.labels[int(label)]}'", y_title="gradient RMS per value (log)")
    text = (f"Pretrained {model_name}, evaluation mode: per value (RMS), the first layer gets **{ratio:.2g}×** "
            f"the gradient of the last of its {len(prof.layers) - 1} convolutions.")
    return fig, text


def build() -> list[gr.components.Component]:
    """The tab; returns the Fig. 7 components, which ``fig7`` fills when the page loads (see build_demo)."""
    gr.Markdown("### Do gradients vanish in deep plain nets?\nFor a plain and a residual net of the same depth, "
                "built from the same seed, the loss gradient at every weight layer's output, as RMS per value so "
                "that layers of different sizes compare (read with backward hooks, one batch of 64 real CIFAR-10 "
                "images), at initialisation and as training goes on.")
    with gr.Row():
        depth = gr.Dropdown([20, 32, 44, 56, 110], value=56, label="Depth")
        batch_norm = gr.Checkbox(True, label="BatchNorm")
        steps = gr.Slider(0, gradflow.CHECKPOINTS[-1], value=0, step=1, label="Training steps (0 = at initialisation)")
        seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
        button = gr.Button("Show gradient flow", variant="primary")
    summary = gr.Markdown()
    out_plot = gr.Plot(label="Gradient w.r.t. each layer's output")
    w_plot = gr.Plot(label="Weight gradients")
    gr.Markdown(PAPER_41)
    result = gr.JSON(label="Per-layer norms", visible=False)
    button.click(grad_flow, [depth, batch_norm, steps, seed], [out_plot, w_plot, summary, result],
                 api_name="grad_flow", concurrency_id="gradflow", concurrency_limit=1,
                 time_limit=int(TIME_LIMIT_S) + 60)

    with gr.Accordion("ImageNet mode: a pretrained torchvision ResNet on your image", open=False):
        with gr.Row():
            image = gr.Image(label="Image", type="filepath", sources=["upload", "clipboard"], height=240)
            with gr.Column():
                url = gr.Textbox(label="…or an image URL", max_lines=1)
                model = gr.Dropdown([(imagenet.describe_key(k), k) for k in imagenet.IMAGENET], value="resnet50",
                                    label="Model")
                go = gr.Button("Profile")
        im_text = gr.Markdown()
        im_plot = gr.Plot()
        go.click(imagenet_profile, [image, url, model], [im_plot, im_text], api_name="grad_flow_imagenet",
                 preprocess=False, concurrency_id="classify", time_limit=120)

    gr.Markdown("### Fig. 7: layer responses of the trained nets\nThe std of each 3×3 layer's response (after BN, "
                "before the ReLU or the addition), as the paper measures it. Only trained nets say something here: "
                "at initialisation BN makes every response ~1 by construction.")
    sentence = gr.Markdown()
    figure = gr.Plot(label="Fig. 7")
    return [sentence, figure]


def fig7():
    """Filled when the page loads (computed once per process, cached), not while the app starts."""
    series, sentence = trained_responses()
    if not series:
        return sentence, gr.update(visible=False)
    return sentence, plots.layer_responses(series, title="Std of 3×3 layer responses, trained on CIFAR-10 "
                                                         "(dashed: plain, solid: ResNet)")
