"""The Depth tab: stored plain-vs-residual error curves (the paper's Fig. 6) and live training."""
from __future__ import annotations

import functools
import json
from typing import Any

import gradio as gr

from ..base.settings import settings
from ..base.stored import how_computed
from ..experiments import degradation
from ..experiments.noise import Noise
from ..nets.cifar import is_6n_plus_2
from ..nets.runs import stored_runs, to_csv
from ..serving import live, workers
from ..views import plots
from . import links
from .common import STARTING_WORKERS, STOPPED_IN_QUEUE, RunStops, TempSlots, live_status

UPDATE_S = 2.5  # a new figure at most this often: each redraw costs a browser on the same cores CPU the run needs

STOPS = RunStops()  # Stop sets the flag of the session that pressed it; its run checks it between steps


@functools.lru_cache(maxsize=1)
def _stored() -> tuple[dict[str, Any], ...]:
    return tuple(stored_runs())  # files shipped with the app: read once, not on every checkbox toggle


def stored_figure(selected: list[str]):
    runs = [r for r in _stored() if r["name"] in (selected or [])]
    return plots.error_curves(runs, title="Stored runs<br><sup>" + plots.measured_on(runs) + "</sup>")


DOWNLOADS = TempSlots("resnet-lab-live", slots=16)  # live runs are one at a time: 16 is many minutes' worth


STORED_DOWNLOADS = TempSlots("resnet-lab-stored", slots=1)  # written once, when the app is built


def stored_downloads(runs: list[dict[str, Any]], noise: Noise | None = None) -> list[str]:
    """The stored runs as served files: every run (RUN JSON, as in assets/runs/), their curves in one CSV, and the
    table beside the paper's (CSV, with each error's noise)."""
    folder = STORED_DOWNLOADS.next()
    paths = []
    for r in runs:
        path = folder / f"{r['name']}.json"
        path.write_text(json.dumps(r, indent=1))
        paths.append(str(path))
    curves = folder / "stored-runs-curves.csv"
    rows = ["run," + to_csv(runs[0]).splitlines()[0]] if runs else []
    for r in runs:
        rows += [f"{r['name']},{line}" for line in to_csv(r).splitlines()[1:]]
    curves.write_text("\n".join(rows) + "\n")
    table = folder / "stored-runs-table.csv"
    table.write_text(degradation.results_csv(runs, noise))
    return [str(curves), str(table), *paths]


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
        if not is_6n_plus_2(d) or d > 110:
            raise gr.Error(f"Depth {d} is not 6n+2 between 8 and 110.")
    seed = int(seed or 0)
    flag = STOPS.start(request)
    if flag is None:  # Stop was pressed while this run waited in the queue
        yield gr.skip(), STOPPED_IN_QUEUE, None, None
        return
    if not workers.WORKERS.ready:
        yield gr.skip(), STARTING_WORKERS, None, None
    snaps = workers.WORKERS.run(
        preset,
        (shallow, deep),
        bool(batch_norm),
        seed,
        bool(zero_init),
        should_stop=flag.is_set,
        time_limit_s=settings().train_limit_s,
        every_s=UPDATE_S,
    )
    try:
        for snap in snaps:
            runs = snap.runs
            fig = plots.error_curves(
                runs,
                title=f"Live, seed {seed}<br><sup>{plots.measured_on(runs)}</sup>",
            )
            # the whole run's length from the start (no axis jumps), with room for the last markers (none clipped)
            fig.update_xaxes(range=[-0.02 * snap.total, 1.03 * snap.total])
            result = {"runs": runs, "elapsed_s": round(snap.elapsed_s, 2)}
            done = snap.iteration >= snap.total or snap.stopped
            status = live_status(snap, "four nets")
            if done:
                # the seed spread was measured for the default setting only (depths 20/56, BN, the paper's init)
                found = live.measured(preset) if (shallow, deep) == (20, 56) and batch_norm and not zero_init else None
                status += "\n\n**Verdict:** " + degradation.verdict(runs, found[0]["gap_sd"] if found else None)
                yield fig, status, _write_downloads(runs, seed), result
            else:
                yield fig, status, None, result
    except workers.WorkerError as e:
        raise gr.Error(f"Live training failed: {str(e).strip().splitlines()[-1]}") from None
    finally:
        STOPS.release(request, flag)


SCROLL_TO_RUN = "() => document.getElementById('live-run')?.scrollIntoView({behavior: 'smooth', block: 'start'})"


def _preset_provenance() -> str:
    """How the default preset was chosen, from what its benchmark measured (``live.measured``)."""
    text = "Two background processes of the app train the four nets (one torch thread and two nets each)."
    found = live.measured(live.DEFAULT_PRESET)
    if found:
        m, p = found
        lo, hi = m["residual_gap_range"]
        text += (f" The default preset was chosen with `{p.command}` on a {p.machine} ({p.date}): the "
                 f"plain pair degraded in {m['plain_degrades']} of {m['seeds']} seeds, while ResNet-56 ended between "
                 f"{abs(lo):g} points {'below' if lo < 0 else 'above'} and {hi:g} above ResNet-20 "
                 "in training error; docs/methods.md and docs/performance.md give the measurements.")
    return text


def build() -> None:
    _build_stored()
    _build_live()


def _build_stored() -> None:
    """The stored runs: curves, the sweep, error against depth, the table beside Table 6, downloads."""
    runs = list(_stored())
    names = [r["name"] for r in runs]
    gr.Markdown(
        "### The degradation problem\nIn the paper a deeper *plain* net has **higher training error** than a "
        "shallower one: not overfitting, but an optimisation difficulty; residual nets of the same depth and "
        "the same parameters do not degrade (Fig. 6). The curves below come from this project's own "
        "training runs, and the sentence under them says what they show.",
        elem_id=links.elem_id("depth", "stored"),
    )
    selected = gr.CheckboxGroup(names, value=names, label="Runs to show")
    stored_plot = gr.Plot(stored_figure(names), label="Stored runs")
    noise = Noise(runs)  # the stored runs' noise, measured once for every sentence and table below
    gr.Markdown(degradation.stored_summary(runs, noise))
    sweep = degradation.sweep_summary(runs, noise)
    if sweep:
        gr.Markdown(sweep, elem_id=links.elem_id("depth", "sweep"))
    if len({r["depth"] for r in runs}) >= 2:
        gr.Plot(plots.error_vs_depth(runs, noise), label="Error against depth")
    gr.Markdown(degradation.results_table(runs, noise) + how_computed(degradation.results_provenance(runs, noise))
                if runs
                else "No stored runs found in assets/runs/.", elem_id=links.elem_id("depth", "table6"))
    if runs:
        gr.File(stored_downloads(runs, noise), file_count="multiple", interactive=False,
                label="Download the stored runs: curves and table (CSV), each run (RUN JSON)")
    selected.change(stored_figure, selected, stored_plot, api_name=False, queue=False)


def _build_live() -> None:
    """The live run: its settings, Train/Stop/Clear, the progress line, the figure and the downloads."""
    gr.Markdown(
        "### Train it yourself, live\nTrains four nets side by side on the bundled CIFAR-10 subset, same "
        "seed and same batches: plain and residual at a shallow and a deep depth. The progress line shows how "
        "long it takes on this server. In so short a run the plain pair usually shows degradation, but the deep "
        "residual net does **not** reliably beat its shallow twin yet: the paper's full result needs long "
        "training — see the stored runs above. The live runs are drawn on axes of their own: their iterations, "
        "width, input size, augmentation and data differ from the stored runs'."
        + how_computed(_preset_provenance()),
        elem_id=links.elem_id("depth", "live"),
    )
    with gr.Row():
        preset = gr.Dropdown([(p.label, k) for k, p in live.PRESETS.items()], value=live.DEFAULT_PRESET, label="Preset")
        shallow = gr.Dropdown([8, 14, 20, 32], value=20, label="Shallow depth")
        deep = gr.Dropdown([32, 44, 56, 110], value=56, label="Deep depth")
        batch_norm = gr.Checkbox(True, label="BatchNorm")
        seed = gr.Number(0, label="Seed", precision=0, minimum=0, maximum=2**31 - 1)
        zero_init = gr.Checkbox(False, label="Zero-init residual branches (not the paper; a later trick)")
    with gr.Row():
        start = gr.Button("Train live", variant="primary")
        stop_button = gr.Button("Stop", variant="stop")
        clear = gr.Button("Clear the live run (back to the stored runs)", variant="secondary")
    with gr.Column(visible=False, elem_id="live-run") as live_box:  # shown, and scrolled to, when a run starts
        status = gr.Markdown()
        live_plot = gr.Plot(label="Live training (its own axes)")
        downloads = gr.File(label="Download the runs (RUN JSON and CSV)", file_count="multiple")
    result = gr.JSON(label="Runs (RUN schema)", visible=False)
    start.click(STOPS.arm, None, live_box, api_name=False, queue=False).then(
        None, None, None, js=SCROLL_TO_RUN, api_name=False, queue=False).then(
        train_live,
        [preset, shallow, deep, batch_norm, seed, zero_init],
        [live_plot, status, downloads, result],
        api_name="train_live",
        # the status line is the progress: Gradio's own timer and overlay repaint many times a second, CPU a
        # browser on the same cores takes from the run
        show_progress="hidden",
        concurrency_id="train",
        concurrency_limit=1,
        time_limit=int(settings().train_limit_s) + 60,
    )
    # No `cancels`: a cancelled job shows "Error" on every output. The flag ends the run between two
    # steps instead, and the generator yields its last snapshot (with the verdict so far) as usual.
    stop_button.click(STOPS.stop, None, None, api_name=False, queue=False)
    clear.click(lambda: gr.update(visible=False), None, live_box, api_name=False, queue=False).then(
        None, None, None, js="() => document.getElementById('sec-depth-stored')?.scrollIntoView({block: 'start'})",
        api_name=False, queue=False)
