"""The Gradient-flow tab: per-layer gradient magnitudes, plain vs residual, BN on/off, through training."""
from __future__ import annotations

import copy
import functools
import os
import statistics
import threading
import time
from typing import Any

import gradio as gr
import torch

from .. import gradflow, imagenet, plots
from ..cifar import load_checkpoint
from ..data import normalize
from ..image_input import InputError, load_input
from ..threads import on_inference_thread
from .common import bundled_data, upload_path

TIME_LIMIT_S = float(os.environ.get("RESNET_DEMO_GRADFLOW_LIMIT_S", "240"))
LIVE = threading.Semaphore(1)  # one live run at a time: stored answers never wait behind one
LIVE_WAIT_S = 60.0
DEPTHS = (20, 32, 44, 56, 110)
STORED_DEPTHS = (20, 56, 110)

PAPER_41 = ("**The paper (§4.1)** on plain nets trained with BN: the forward signals have non-zero variances and "
            "“the backward propagated gradients exhibit healthy norms with BN”, so their degradation is "
            "“unlikely to be caused by vanishing gradients”. BN does not make a deep plain net's gradients "
            "*uniform*, though: at initialisation they can grow toward the input (Yang et al. 2019, “A Mean "
            "Field Theory of Batch Normalization”). Compare with the numbers above, and watch how they change as "
            "training goes on.")


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


@functools.lru_cache(maxsize=1)
def stored_runs() -> dict[str, Any]:
    return gradflow.load_stored()


def stored(depth: int, batch_norm: bool, steps: int, seed: int) -> dict[str, Any] | None:
    """The stored trajectory for these settings, cut at ``steps`` (a copy), or None where none is stored."""
    record = stored_runs()["runs"].get(gradflow.stored_key(depth, batch_norm, seed))
    if record is None or steps not in record["steps"]:
        return None
    n = record["steps"].index(steps) + 1
    out = {**record, "steps": record["steps"][:n], "nets": {}}
    for arch in gradflow.Race.ARCHS:
        net = out["nets"][arch] = {k: v[:n] if isinstance(v, list) else v for k, v in record["nets"][arch].items()}
        if (v := net["diverged"]) and v["step"] > steps:
            net["diverged"] = None
    return out


def _check(depth: Any, steps: Any, seed: Any) -> tuple[int, int, int]:
    try:
        depth, steps, seed = int(depth), int(steps), int(seed or 0)
    except (TypeError, ValueError):
        raise gr.Error("Depth, steps and seed must be whole numbers.") from None
    if depth not in DEPTHS:
        raise gr.Error(f"Depth must be one of {', '.join(map(str, DEPTHS))}.")
    if steps not in gradflow.CHECKPOINTS:
        raise gr.Error(f"Training steps must be one of {', '.join(map(str, gradflow.CHECKPOINTS))}.")
    if not 0 <= seed < 2**31:
        raise gr.Error("The seed must be between 0 and 2³¹−1.")
    return depth, steps, seed


def _table(record: dict[str, Any]) -> str:
    """Loss and first/last ratio at every profiled step, both nets: what the figure's slider moves through."""
    rows = ["| step | loss plain | loss ResNet | first ÷ last conv, plain | first ÷ last conv, ResNet |",
            "|---|---|---|---|---|"]
    for i, step in enumerate(record["steps"]):
        cells = []
        for key in ("loss", "ratio"):
            for arch in gradflow.Race.ARCHS:
                r = record["nets"][arch]
                if i >= len(r["grad_rms"]):
                    cells.append("diverged")
                elif key == "loss":
                    cells.append(f"{r['loss'][i]:.3f}")
                else:
                    cells.append(f"{gradflow.first_last_ratio(r['grad_rms'][i]):.3g}")
        rows.append(f"| {step} | " + " | ".join(cells) + " |")
    return "\n".join(rows)


def _summary(record: dict[str, Any], footer: str) -> str:
    return f"{gradflow.describe(record, record['steps'][-1])}\n\n{_table(record)}\n\n{footer}"


def _out(record: dict[str, Any], footer: str) -> tuple[Any, str, dict[str, Any]]:
    """The figure, the summary and the JSON value: a snapshot of the record (a live one keeps growing), with
    "plain"/"residual" = each net's per-layer gradient norms at the last step (null where it had diverged), as
    docs/architecture.md promises for /grad_flow."""
    out = copy.deepcopy(record)
    for arch in gradflow.Race.ARCHS:
        p = gradflow.at(record, arch, record["steps"][-1])
        out[arch] = None if p is None else p.grad_norms
    return plots.grad_trajectory(record), _summary(record, footer), out


def _stored_footer(record: dict[str, Any]) -> str:
    meta = stored_runs()["meta"]
    return (f"*Stored result (lr {record['lr']}, batch {record['batch_size']}, seed {record['seed']}): computed by "
            f"`{meta.get('command', 'scripts/gradflow_trajectories.py')}` on {meta.get('device', 'a CPU')} in "
            f"{record.get('wall_seconds', '?')} s; move the slider under the figure through the steps.*")


def show_stored(depth: Any, batch_norm: bool, steps: Any, seed: Any):
    """Settings changed: the stored result at once where there is one, else an empty figure and what to do."""
    depth, steps, seed = _check(depth, steps, seed)
    record = stored(depth, bool(batch_norm), steps, seed)
    if record is None:
        return (None, f"*Depth {depth}, BN {'on' if batch_norm else 'off'}, seed {seed}: not stored (the stored "
                      f"runs are depths {', '.join(map(str, STORED_DEPTHS))}, seed 0). Press **Show gradient "
                      f"flow** to compute it live; the time it will take is shown once the first step is "
                      f"measured.*", None)
    return _out(record, _stored_footer(record))


def first_view():
    """The tab's default result, shown when the page loads: depth 56 with BN, stored."""
    return show_stored(56, True, gradflow.CHECKPOINTS[-1], 0)


def plan(steps: int, step_s: float, profile_s: float, budget_s: float) -> tuple[int, float]:
    """The largest checkpoint up to ``steps`` whose estimated remaining time (after the step-0 profile and steps 1
    and 2, which are done) fits ``budget_s``, and that estimate: each further step costs ``step_s`` (both nets),
    each further profile ``profile_s``."""
    best = (0, 0.0)
    for mark in gradflow.marks(steps)[1:]:
        estimate = step_s * (mark - 2) + profile_s * len([m for m in gradflow.marks(mark) if m > 0])
        if estimate > budget_s:
            break
        best = (mark, estimate)
    return best


def grad_flow(depth: Any, batch_norm: bool, steps: Any, seed: Any):
    """Stored settings: the stored trajectory at once. Others: trained live, streamed at every checkpoint."""
    depth, steps, seed = _check(depth, steps, seed)
    batch_norm = bool(batch_norm)
    record = stored(depth, batch_norm, steps, seed)
    if record is not None:
        yield _out(record, _stored_footer(record))
        return
    if not LIVE.acquire(timeout=LIVE_WAIT_S):
        raise gr.Error(f"Another live gradient-flow run has been going for over {LIVE_WAIT_S:.0f} s; "
                       f"try again in a few minutes, or pick a stored setting (depth "
                       f"{', '.join(map(str, STORED_DEPTHS))}, seed 0).")
    try:
        yield from _live(depth, batch_norm, steps, seed)
    finally:
        LIVE.release()


def _live(depth: int, batch_norm: bool, steps: int, seed: int):
    t0 = time.perf_counter()
    race = gradflow.Race(bundled_data(), depth, batch_norm, seed)
    record = gradflow.new_record(race, "live")
    gradflow.record_step(record, race, race.profile())
    record["seconds"] = round(time.perf_counter() - t0, 2)
    if steps == 0:
        yield _out(record, f"*Computed live in {record['seconds']} s.*")
        return
    yield _out(record, "*Training… measuring the cost of one step.*")
    race.advance(1)  # the first step pays one-off costs (allocations, lazy initialisation): measure the second
    t1 = time.perf_counter()
    race.advance(2)
    step_s = time.perf_counter() - t1
    profile_s = step_s  # a profile is one forward and backward pass of each net on a batch of the same size
    target, estimate = plan(steps, step_s, profile_s, TIME_LIMIT_S - (time.perf_counter() - t0))
    record["estimate_s"] = round(time.perf_counter() - t0 + estimate, 1)
    if target < steps:
        gr.Warning(f"{steps} steps would take past the {TIME_LIMIT_S:.0f} s limit on this machine "
                   f"({step_s:.2f} s per step for both nets): training to {target} instead.")
    if target == 0:
        return
    started = time.perf_counter()
    for mark in gradflow.marks(target)[1:]:
        if not race.advance(mark, should_stop=lambda: time.perf_counter() - t0 > TIME_LIMIT_S):
            gr.Warning(f"Stopped at the time limit ({TIME_LIMIT_S:.0f} s); showing the last step reached.")
            return
        gradflow.record_step(record, race, race.profile())
        record["seconds"] = round(time.perf_counter() - t0, 2)
        if mark < target:
            left = max(estimate - (time.perf_counter() - started), 0)
            footer = (f"*Training… step {mark} of {target}, {record['seconds']:.0f} s so far, about {left:.0f} s "
                      f"left (estimated {record['estimate_s']:.0f} s in all from the measured {step_s:.2f} s per "
                      f"step).*")
        else:
            footer = (f"*Computed live (lr {race.lr}, batch {gradflow.BATCH}, seed {seed}) in {record['seconds']:.1f} s; "
                      f"estimated {record['estimate_s']:.0f} s after the first step.*")
        yield _out(record, footer)


def hookable_copy(model: torch.nn.Module) -> torch.nn.Module:
    """The module tree copied, its parameters and buffers shared (not copied: ResNet-152 has 240 MB of
    them): hooks go on the copy's modules, so requests that share the cached model never see them. Safe
    because the profile neither writes parameters (weight_grads=False) nor buffers (eval mode)."""
    memo = {id(t): t for t in (*model.parameters(), *model.buffers())}
    return copy.deepcopy(model, memo)


def _imagenet_profile(image, model_name: str):
    """The torch work of one request, run on the inference thread as Classify's is (resnet_demo/threads.py)."""
    clf = imagenet.MODELS.get(model_name)
    x = clf.preprocess(image).unsqueeze(0)
    model = hookable_copy(clf.model)
    with torch.no_grad():  # not inference_mode: the label is the loss's target, which backward keeps
        label = model(x).argmax(1)
    return clf, label, gradflow.profile(model, x, label, weight_grads=False)


def imagenet_profile(upload: Any, url: str | None, model_name: str):
    if model_name not in imagenet.IMAGENET_KEYS:
        raise gr.Error(f"Gradient flow profiles the fp32 ImageNet ResNets: choose one of "
                       f"{', '.join(imagenet.IMAGENET_KEYS)} ({model_name!r} is not one).")
    try:
        image, _ = load_input(upload_path(upload), url)
    except InputError as e:
        raise gr.Error(str(e)) from None
    try:
        clf, label, prof = on_inference_thread(_imagenet_profile, image, model_name)
    except (imagenet.WeightsUnavailable, imagenet.UnknownModel) as e:
        raise gr.Error(str(e)) from None
    ratio = gradflow.first_last_ratio(prof.grad_rms)
    fig = plots.grad_flow(prof.layers[:-1], {f"{model_name} (pretrained)": prof.grad_rms[:-1]},
                          x_title="conv layer (input → output)",
                          title=f"Gradient RMS per conv layer<br><sup>loss: cross-entropy of the top label "
                                f"'{clf.labels[int(label)]}'</sup>", y_title="gradient RMS per value (log)")
    text = (f"Pretrained {model_name}, evaluation mode: per value (RMS), the first layer gets **{ratio:.2g}×** "
            f"the gradient of the last of its {len(prof.layers) - 1} convolutions.")
    return fig, text


def build() -> tuple[list[gr.components.Component], list[gr.components.Component]]:
    """The tab; returns the components ``first_view`` and ``fig7`` fill when the page loads (see build_demo)."""
    gr.Markdown("### Do gradients vanish in deep plain nets?\nFor a plain and a residual net of the same depth, "
                "built from the same seed, the loss gradient at every weight layer's output, as RMS per value so "
                "that layers of different sizes compare (read with backward hooks, one batch of 64 real CIFAR-10 "
                "images), at initialisation and as training goes on.")
    with gr.Row():
        depth = gr.Dropdown(list(DEPTHS), value=56, label="Depth")
        batch_norm = gr.Checkbox(True, label="BatchNorm")
        steps = gr.Dropdown(list(gradflow.CHECKPOINTS), value=gradflow.CHECKPOINTS[-1],
                            label="Training steps (0 = at initialisation)")
        seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
        button = gr.Button("Show gradient flow", variant="primary")
    summary = gr.Markdown()
    plot = gr.Plot(label="Gradient flow, step by step", show_label=False)
    gr.Markdown(PAPER_41)
    result = gr.JSON(label="Per-layer norms", visible=False)
    outputs = [plot, summary, result]
    button.click(grad_flow, [depth, batch_norm, steps, seed], outputs, api_name="grad_flow",
                 concurrency_id="gradflow", concurrency_limit=4, time_limit=int(TIME_LIMIT_S + LIVE_WAIT_S) + 60)
    for control in (depth, batch_norm, steps, seed):
        control.change(show_stored, [depth, batch_norm, steps, seed], outputs, api_name=False,
                       concurrency_id="gradflow_stored", concurrency_limit=8)

    with gr.Accordion("ImageNet mode: a pretrained torchvision ResNet on your image", open=False):
        with gr.Row():
            image = gr.Image(label="Image", type="filepath", sources=["upload", "clipboard"], height=240)
            with gr.Column():
                url = gr.Textbox(label="…or an image URL", max_lines=1)
                model = gr.Dropdown([(imagenet.describe_key(k), k) for k in imagenet.IMAGENET_KEYS], value="resnet50",
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
    return outputs, [sentence, figure]


def fig7():
    """Filled when the page loads (computed once per process, cached), not while the app starts."""
    series, sentence = trained_responses()
    if not series:
        return sentence, gr.update(visible=False)
    return sentence, plots.layer_responses(series, title="Fig. 7: std of 3×3 responses<br><sup>dashed: plain · "
                                                         "solid: ResNet</sup>")
