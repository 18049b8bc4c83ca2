"""The Depth tab: stored plain-vs-residual error curves (the paper's Fig. 6) and live training."""
from __future__ import annotations

import functools
import json
import os
import threading
from typing import Any

import gradio as gr

from .. import live, plots
from ..cifar import cifar_net, count_params
from ..runs import CIFAR10_TEST_ERROR, final, milestones_text, stored_runs, to_csv
from .common import TempSlots

TIME_LIMIT_S = float(os.environ.get("RESNET_DEMO_TRAIN_LIMIT_S", "300"))  # hard cap on one live run
UPDATE_S = 1.0  # a new figure at most this often

# Stop sets the flag of the session that pressed it; that session's run checks it between steps.
_stop_flags: dict[str, threading.Event] = {}
_stop_lock = threading.Lock()


@functools.lru_cache(maxsize=1)
def _stored() -> tuple[dict[str, Any], ...]:
    return tuple(stored_runs())  # files shipped with the app: read once, not on every checkbox toggle


def results_table(runs: list[dict[str, Any]]) -> str:
    """Our runs beside the paper's Table 6: every number read from the runs, the modules or runs.py."""
    paper = CIFAR10_TEST_ERROR["resnet"]
    lines = ["| run | params | our iterations | final training error | final test error | the paper's test error "
             "(64k iterations) | device | wall time |", "|---|---|---|---|---|---|---|---|"]
    for r in runs:
        tr, te = final(r["train_error"]), final(r["test_error"])
        net = cifar_net(r["depth"], residual=r["arch"] == "residual", shortcut=r["shortcut"] or "A",
                        batch_norm=r["batch_norm"], width=r["width"])
        theirs = f"{paper[r['depth']]}%" if r["arch"] == "residual" and r["depth"] in paper else "— (plotted in Fig. 6 only)"
        lines.append(f"| {r['name']} | {count_params(net) / 1e6:.2f} M | {r['iterations'][-1]:,} "
                     f"| {'—' if tr is None else f'{100 * tr:.2f}%'} | {'—' if te is None else f'{100 * te:.2f}%'} "
                     f"| {theirs} | {r['device']} | {r['wall_seconds'] / 60:.0f} min |")
    notes = sorted({r.get("note", "") for r in runs} - {""})
    datasets = sorted({r["dataset"] for r in runs})
    recipe = runs[0].get("recipe", {}) if runs else {}
    text = "\n".join(lines)
    text += (f"\n\nTrained by this project with `python -m resnet_demo.train` (commands in each run's JSON, "
             f"`assets/runs/`) on {', '.join(datasets)}; SGD lr {recipe.get('lr')}, momentum "
             f"{recipe.get('momentum')}, weight decay {recipe.get('weight_decay')}, batch "
             f"{runs[0]['batch_size'] if runs else '?'}, lr /10 at "
             f"{milestones_text(recipe) or 'no milestone'}. ")
    if notes:
        text += "Note: " + " ".join(notes) + ". "
    text += (f"The paper's column: {CIFAR10_TEST_ERROR['source']} (the full recipe, 64k iterations, the original "
             f"CIFAR-10 images); our training error is the mean over the last {recipe.get('smoothing', 50)} "
             "training batches (augmented, training mode), the paper does not say how it smoothed its curves.")
    return text


def stored_summary(runs: list[dict[str, Any]]) -> str:
    """What the stored runs show, computed from their final training errors (same wording as live)."""
    pick = []
    for arch in ("plain", "residual"):
        mine = sorted((r for r in runs if r["arch"] == arch), key=lambda r: r["depth"])
        if len(mine) < 2:
            return ""
        pick += [mine[0], mine[-1]]
    ends = {r["iterations"][-1] for r in pick}
    when = f"after {ends.pop():,} iterations" if len(ends) == 1 else "runs of different lengths"
    return f"**What these runs show** ({when}): " + live.verdict(pick) + " " + _test_sentence(pick)


def _test_sentence(pick: list[dict[str, Any]]) -> str:
    """The same comparison in test error (last evaluation on the test set), beside the paper's Table 6."""
    plain_a, plain_b, res_a, res_b = pick
    te = {r["name"]: final(r["test_error"]) for r in pick}
    if any(v is None for v in te.values()):
        return ""

    def pct(r: dict[str, Any]) -> str:
        return f"{r['name']} {100 * te[r['name']]:.2f}%"

    gap = te[res_b["name"]] - te[res_a["name"]]
    text = f"Test error ({res_a['test_images']:,} test images): {pct(plain_b)} against {pct(plain_a)}; {pct(res_b)} against {pct(res_a)}"
    if gap < 0:
        text += f" — the deeper residual net also generalises better ({100 * gap:+.2f} points)."
    elif gap == 0:
        text += " — the deeper residual net generalises as well (the same test error)."
    else:
        text += f" — at this length the deeper residual net does not yet generalise better ({100 * gap:+.2f} points)."
    paper = CIFAR10_TEST_ERROR["resnet"]
    if res_a["depth"] in paper and res_b["depth"] in paper:
        text += (f" The paper, after 64k iterations: ResNet-{res_b['depth']} {paper[res_b['depth']]}% against "
                 f"ResNet-{res_a['depth']} {paper[res_a['depth']]}% (Table 6).")
    return text


def stored_figure(selected: list[str]):
    runs = [r for r in _stored() if r["name"] in (selected or [])]
    return plots.error_curves(runs, title="Stored runs<br><sup>dashed: training error · solid: test error</sup>")


def _status(snap: dict[str, Any]) -> str:
    it, total, el = snap["iteration"], snap["total"], snap["elapsed_s"]
    left = el / max(it, 1) * (total - it)
    text = (f"Iteration **{it}/{total}** · {snap['images_per_s']:.0f} images/s (four nets together) · "
            f"elapsed {el:.0f} s · about {left:.0f} s left")
    if snap["stopped"]:
        text += f" · ended early: {snap['stopped']}"
    return text


DOWNLOADS = TempSlots("resnet-lab-live", slots=16)  # live runs are one at a time: 16 is many minutes' worth


def _write_downloads(runs: list[dict[str, Any]], seed: int) -> list[str]:
    folder = DOWNLOADS.next()
    jpath = folder / f"live-runs-seed{seed}.json"
    jpath.write_text(json.dumps(runs, indent=1))
    cpath = folder / f"live-runs-seed{seed}.csv"
    rows = ["run," + to_csv(runs[0]).splitlines()[0]]
    for r in runs:
        rows += [f"{r['name']},{line}" for line in to_csv(r).splitlines()[1:]]
    cpath.write_text("\n".join(rows) + "\n")
    return [str(jpath), str(cpath)]


def train_live(preset: str, shallow: int, deep: int, batch_norm: bool, seed: float, zero_init: bool,
               request: gr.Request):
    if preset not in live.PRESETS:
        raise gr.Error(f"Unknown preset {preset!r}; choose one of {', '.join(live.PRESETS)}.")
    shallow, deep = int(shallow), int(deep)
    if shallow >= deep:
        raise gr.Error("The deep net must be deeper than the shallow one.")
    for d in (shallow, deep):
        if d < 8 or d > 110 or (d - 2) % 6:
            raise gr.Error(f"Depth {d} is not 6n+2 between 8 and 110.")
    seed = int(seed or 0)
    key = _session(request)
    with _stop_lock:
        flag = _stop_flags.setdefault(key, threading.Event())  # armed at the click, or now (API)
    if flag.is_set():  # Stop was pressed while this run waited in the queue
        with _stop_lock:
            _stop_flags.pop(key, None)
        yield gr.skip(), "Stopped before it started (it was waiting for another run to finish).", None, None
        return
    if not live.WORKERS.ready:
        yield gr.skip(), "Starting the two training processes (the first run after the app starts)…", None, None
    snaps = live.WORKERS.run(preset, (shallow, deep), bool(batch_norm), seed, bool(zero_init), should_stop=flag.is_set,
                            time_limit_s=TIME_LIMIT_S, every_s=UPDATE_S)
    try:
        for snap in snaps:
            runs = snap["runs"]
            fig = plots.error_curves(runs, title=f"Live: {live.PRESETS[preset].label}<br><sup>seed {seed}; dashed: training error · solid: test error</sup>")
            fig.update_xaxes(range=[0, snap["total"]])  # the whole run's length from the start: no axis jumps
            result = {"runs": runs, "elapsed_s": round(snap["elapsed_s"], 2)}
            done = snap["iteration"] >= snap["total"] or snap["stopped"]
            status = _status(snap)
            if done:
                status += "\n\n**Verdict:** " + live.verdict(runs)
                yield fig, status, _write_downloads(runs, seed), result
            else:
                yield fig, status, None, result
    except live.WorkerError as e:
        raise gr.Error(f"Live training failed: {str(e).strip().splitlines()[-1]}") from None
    finally:
        with _stop_lock:
            if _stop_flags.get(key) is flag:
                del _stop_flags[key]


def _session(request: gr.Request | None) -> str:
    return request.session_hash if request is not None and request.session_hash else "anonymous"


def arm(request: gr.Request) -> None:
    """At the click, before the run joins the queue: from now on Stop reaches it, queued or running."""
    with _stop_lock:
        _stop_flags.setdefault(_session(request), threading.Event())


def stop(request: gr.Request) -> None:
    with _stop_lock:
        flag = _stop_flags.get(_session(request))
    if flag is not None:
        flag.set()


def build() -> None:
    runs = list(_stored())
    names = [r["name"] for r in runs]
    gr.Markdown("### The degradation problem\nIn the paper a deeper *plain* net has **higher training error** than a "
                "shallower one: not overfitting, but an optimisation difficulty; residual nets of the same depth and "
                "the same parameters do not degrade (Fig. 6). The curves below come from this project's own "
                "training runs, and the sentence under them says what they show.")
    selected = gr.CheckboxGroup(names, value=names, label="Runs to show")
    stored_plot = gr.Plot(stored_figure(names), label="Stored runs")
    gr.Markdown(stored_summary(runs))
    gr.Markdown(results_table(runs) if runs else "No stored runs found in assets/runs/.")
    selected.change(stored_figure, selected, stored_plot, api_name=False, queue=False)

    gr.Markdown("### Train it yourself, live\nTrains four nets side by side on the bundled CIFAR-10 subset, same "
                "seed and same batches: plain and residual at a shallow and a deep depth, in two background "
                "processes of the app (one torch thread and two nets each). The default preset took 15–17 s on the "
                "2-vCPU AMD EPYC (Zen 4) it was measured on (`benchmarks/live_preset.py`; an AVX2-only Zen 3 runs "
                "this project's training about 2× slower) and showed degradation in the plain pair in 10 of 10 "
                "seeds. In so short a run the deep residual net does **not** reliably beat its shallow twin yet "
                "(in those seeds ResNet-56 ended between 0.5 points below and 5.5 above ResNet-20): the paper's "
                "full result needs long training — see the stored runs above. The live runs are drawn on axes of "
                "their own: their iterations, width, input size, augmentation and data differ from the stored runs'.")
    with gr.Row():
        preset = gr.Dropdown([(p.label, k) for k, p in live.PRESETS.items()], value=live.DEFAULT_PRESET,
                             label="Preset")
        shallow = gr.Dropdown([8, 14, 20, 32], value=20, label="Shallow depth")
        deep = gr.Dropdown([32, 44, 56, 110], value=56, label="Deep depth")
        batch_norm = gr.Checkbox(True, label="BatchNorm")
        seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
        zero_init = gr.Checkbox(False, label="Zero-init residual branches (not the paper; a later trick)")
    with gr.Row():
        start = gr.Button("Train live", variant="primary")
        stop_button = gr.Button("Stop", variant="stop")
    live_plot = gr.Plot(label="Live training (its own axes)")
    status = gr.Markdown()
    downloads = gr.File(label="Download the runs (RUN JSON and CSV)", file_count="multiple")
    result = gr.JSON(label="Runs (RUN schema)", visible=False)
    start.click(arm, None, None, api_name=False, queue=False).then(
        train_live, [preset, shallow, deep, batch_norm, seed, zero_init],
        [live_plot, status, downloads, result], api_name="train_live",
        concurrency_id="train", concurrency_limit=1, time_limit=int(TIME_LIMIT_S) + 60)
    # No `cancels`: a cancelled job shows "Error" on every output. The flag ends the run between two
    # steps instead, and the generator yields its last snapshot (with the verdict so far) as usual.
    stop_button.click(stop, None, None, api_name=False, queue=False)
