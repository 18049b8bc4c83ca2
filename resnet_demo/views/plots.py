"""Every plotly figure the app shows, built in one place."""
from __future__ import annotations

import functools
import math
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from ..base.paper import net_label
from ..experiments.noise import Noise
from ..nets.runs import final, of_kind

# Every figure: text at least 14 px (readable on a projector at 1920 px; ticks stay legible on a 390 px phone),
# legends in a row under the plot (they wrap on a phone instead of taking half its width).
TEMPLATE = go.layout.Template(pio.templates["plotly"])
TEMPLATE.layout.font = {"size": 14}
TEMPLATE.layout.title = {"font": {"size": 20}, "x": 0, "xref": "paper"}
TEMPLATE.layout.legend = {"orientation": "h", "yanchor": "top", "x": 0, "font": {"size": 14}}
TEMPLATE.layout.hoverlabel = {"font": {"size": 14}}


def _styled(build):
    @functools.wraps(build)
    def wrapper(*args, **kwargs) -> go.Figure:
        fig = build(*args, **kwargs)
        fig.update_layout(template=TEMPLATE)
        if fig.layout.legend.y is None:  # under the x-axis title: ~90 px below the plot area, whatever its height
            m = fig.layout.margin
            area = (fig.layout.height or 450) - max(m.t or 0, 100) - (m.b or 0)
            fig.update_layout(legend_y=-90 / max(area, 150))
        fig.update_annotations(font_size=16)  # subplot titles and line labels
        return fig
    return wrapper


# One colour language in every figure: hue tells plain from residual (the Okabe-Ito vermillion and blue, told
# apart under the common colour-vision deficiencies), shade tells depth (darker = deeper), and every line also
# differs by marker or dash, so a figure reads without colour. Every shade has >= 3:1 contrast on white.
NET_COLOURS = {"plain": "#D55E00", "residual": "#0072B2"}  # the kind of net, where depth does not vary
SHADES = {"plain": ("#E0610A", "#6B2000"), "residual": ("#3D8FC9", "#06305E")}  # shallowest .. deepest
SYMBOLS = {8: "triangle-down", 14: "star", 20: "circle", 32: "square", 44: "diamond", 56: "triangle-up", 110: "x"}
KIND_DASH = {"plain": "dash", "residual": "solid"}  # where only the kind varies: told apart without colour too
KIND_SYMBOL = {"plain": "square", "residual": "circle"}
LEGEND = ("Colours in every figure: orange-red = plain net, blue = residual net (ResNet); darker = deeper. What "
          "dashed and solid lines mean is said in each figure.")


def net_colour(arch: str, depth: int | None = None) -> str:
    """The colour of a net: its kind's hue, shaded by depth (darker = deeper) when a depth is given."""
    if depth is None:
        return NET_COLOURS[arch]
    light, dark = SHADES[arch]
    steps = (20, 32, 44, 56, 110)  # the paper's CIFAR depths; shallower nets take the lightest shade
    t = sum(depth >= d for d in steps[1:]) / (len(steps) - 1)
    rgb = [round(int(light[i:i + 2], 16) * (1 - t) + int(dark[i:i + 2], 16) * t) for i in (1, 3, 5)]
    return "#" + "".join(f"{c:02X}" for c in rgb)


def _symbol(depth: int) -> str:
    return SYMBOLS.get(depth, "circle")


def measured_on(runs: list[dict[str, Any]]) -> str:
    """What an error figure's curves were measured on, for its subtitle: two short lines (one long line was cut
    on a phone)."""
    tests = sorted({r["test_images"] for r in runs if r.get("test_images")})
    smooth = sorted({r.get("recipe", {}).get("smoothing", 50) for r in runs})
    test = f"solid: test error ({tests[0]:,} test images)" if len(tests) == 1 else "solid: test error"
    train = f"dashed: training error (last {smooth[0]} batches)" if len(smooth) == 1 else "dashed: training error"
    return f"{train}<br>{test} · ▲ at the top: above the axis"


def error_top(runs: list[dict[str, Any]]) -> float:
    """The top of the error axis (%) shared by Fig. 6's panels: the paper's are 0-20%, ours start higher, so the
    top is the highest error of the last third of training plus 10%, rounded up to 5 points, so the final stretch
    fills the panel (the stored runs: 0-40%, not 0-65% with the last two thirds, which squashed it into the
    bottom fifth); the early part, where every net starts near chance, runs off the axis, as in the paper."""
    later = [100 * v for run in runs for it, v in zip(run["iterations"] * 2, run["train_error"] + run["test_error"])
             if v is not None and run["iterations"] and it >= 2 * run["iterations"][-1] / 3]
    return min(100.0, 5 * math.ceil(max(later or [100]) * 1.1 / 5))


def _above(its: list[int], values: list[float | None], top: float, every: int = 10) -> list[tuple[int, float]]:
    """(iteration, error %) where a curve runs above ``top``: every ``every``-th such point of a dense curve, so the
    markers mark the stretch without covering it."""
    out = [(i, 100 * v) for i, v in zip(its, values) if v is not None and 100 * v > top]
    return out[::every] if len(out) > 3 * every else out


@_styled
def error_curves(runs: list[dict[str, Any]], *, title: str | None = None) -> go.Figure:
    """The paper's Fig. 1 / Fig. 6 panels: plain (top) and residual (below), shared y axis in %,
    dashed = training error, solid = test error; colour and marker by kind and depth (``net_colour``)."""
    # stacked, not side by side: two panels keep their width on a phone, and x (iterations) is shared
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.1,
                        subplot_titles=("plain", "ResNet (residual)"))
    top = error_top(runs)
    for run in runs:
        row = 1 if run["arch"] == "plain" else 2
        name = run["name"]
        its = run["iterations"]
        # one legend entry a net (its test line, with the depth's marker; the subtitle says dashed = training):
        # two an entry made the nine-run sweep's legend push the panels under 150 px on a phone
        test = [(i, 100 * v) for i, v in zip(its, run["test_error"]) if v is not None]
        fig.add_trace(go.Scatter(
            x=its, y=[None if v is None else 100 * v for v in run["train_error"]], mode="lines",
            name=name, legendgroup=name, showlegend=not test,
            line={"color": net_colour(run["arch"], run["depth"]), "dash": "dash", "width": 1.5},
            hovertemplate=f"{name}<br>iteration %{{x}}<br>training error %{{y:.2f}}%<extra></extra>"), row=row, col=1)
        if test:
            fig.add_trace(go.Scatter(
                x=[i for i, _ in test], y=[v for _, v in test], mode="lines+markers", name=name,
                legendgroup=name, marker={"size": 7, "symbol": _symbol(run["depth"])},
                line={"color": net_colour(run["arch"], run["depth"]), "width": 2.5},
                hovertemplate=f"{name}<br>iteration %{{x}}<br>test error %{{y:.2f}}%<extra></extra>"), row=row, col=1)
        above = _above(its, run["train_error"], top) + _above([i for i, _ in test], [v / 100 for _, v in test], top)
        if above:  # never a hidden curve: where it runs above the axis, a ▲ at the top edge says so, and its value
            fig.add_trace(go.Scatter(
                x=[i for i, _ in above], y=[0.985 * top] * len(above), mode="markers", name=f"{name} above the axis",
                legendgroup=name, showlegend=False, customdata=[v for _, v in above], cliponaxis=False,
                marker={"size": 8, "symbol": "triangle-up-open", "color": net_colour(run["arch"], run["depth"])},
                hovertemplate=f"{name}<br>iteration %{{x}}<br>error %{{customdata:.1f}}%, above the axis"
                              "<extra></extra>"), row=row, col=1)
        measured = [(i, 100 * v) for i, v in zip(its, run.get("train_error_measured") or []) if v is not None]
        if measured:  # what the live verdict quotes: the error on a fixed sample of training images
            n = run.get("recipe", {}).get("train_eval_images") or 1000
            fig.add_trace(go.Scatter(
                x=[i for i, _ in measured], y=[v for _, v in measured], mode="markers",
                name=f"{name} train, measured", legendgroup=name,
                marker={"size": 11, "symbol": _symbol(run["depth"]) + "-open", "line": {"width": 2.5},
                        "color": net_colour(run["arch"], run["depth"])},
                hovertemplate=f"{name}<br>iteration %{{x}}<br>training error on {n:,} training images "
                              f"%{{y:.2f}}%<extra></extra>"), row=row, col=1)
    fig.update_yaxes(title_text="error (%)", range=[0, top])
    fig.update_xaxes(title_text="iterations", row=2, col=1)
    # taller with more runs: the legend under the plot grows a row per two nets on a phone, and the panels
    # keep >= 150 px there (the nine-run sweep: 740 px)
    height = 640 + 20 * max(0, len(runs) - 4)
    fig.update_layout(title={"text": title, "y": 1 - 42 / height, "yanchor": "top"},  # under Gradio's plot label
                      height=height, margin={"l": 50, "r": 10, "t": 120, "b": 40}, hovermode="closest")
    return fig


def error_points(runs: list[dict[str, Any]], noise: Noise | None = None
                 ) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """{(net label, "train_error" or "test_error"): (final error in %, the mean over the net's stored seeds; ± twice
    its noise σ)} for every run: what the error-against-depth figures draw."""
    noise = noise or Noise(runs)
    out = {}
    for r in runs:
        label = net_label(r["arch"], r["depth"])
        for key in ("train_error", "test_error"):
            if final(r[key]) is None:
                out[label, key] = (None, None)
            else:
                one = noise.one(label, key)
                out[label, key] = (one.value, one.margin)
    return out


@_styled
def error_vs_depth(runs: list[dict[str, Any]], noise: Noise | None = None) -> go.Figure:
    """Final training and test error of each stored net against its depth, plain and residual: degradation in one
    picture (dashed = training, solid = test, as in the curves; square = plain, circle = residual), each point with
    a bar of ±2 standard errors (``noise``): a step shorter than its bars is within noise."""
    fig = go.Figure()
    points = error_points(runs, noise)
    for arch, symbol in KIND_SYMBOL.items():
        mine = of_kind(runs, arch)
        if not mine:
            continue
        depths = [r["depth"] for r in mine]
        for key, dash, what in (("train_error", "dash", "training"), ("test_error", "solid", "test")):
            got = [points[net_label(arch, r["depth"]), key] for r in mine]
            fig.add_trace(go.Scatter(
                x=depths, y=[g[0] for g in got], mode="lines+markers",
                error_y={"type": "data", "array": [g[1] for g in got], "thickness": 1.5, "width": 5},
                customdata=[g[1] for g in got],
                name=f"{'ResNet' if arch == 'residual' else 'plain'}, {what} error",
                line={"color": net_colour(arch), "dash": dash, "width": 2.5},
                marker={"size": 10, "symbol": symbol if what == "test" else f"{symbol}-open"},
                hovertemplate=f"{arch} depth %{{x}}<br>final {what} error %{{y:.2f}}% "
                              "± %{customdata:.2f}<extra></extra>"))
    all_depths = sorted({r["depth"] for r in runs})
    fig.update_xaxes(title_text="depth (weight layers)", tickvals=all_depths, type="log")
    fig.update_yaxes(title_text="final error (%)", rangemode="tozero")
    fig.update_layout(title="Error against depth<br><sup>each stored net's final errors; bars: ±2 standard errors "
                            "(sampling, and seeds where stored)</sup>", height=420,
                      margin={"l": 50, "r": 10, "t": 70, "b": 40}, hovermode="closest")
    return fig


@_styled
def grad_flow(layers: list[str], series: dict[str, list[float]], *, title: str, y_title: str,
              log: bool = True, x_title: str = "weight layer (input → output)") -> go.Figure:
    """Per-layer magnitudes, layer index on x (forward order), one line per network."""
    fig = go.Figure()
    for name, values in series.items():
        kind = "residual" if "residual" in name.lower() or "resnet" in name.lower() else "plain"
        fig.add_trace(go.Scatter(
            x=list(range(1, len(values) + 1)), y=values, mode="lines+markers", name=name,
            marker={"size": 4}, line={"color": NET_COLOURS[kind], "dash": "solid" if "step" not in name else "dot"},
            text=layers[: len(values)],
            hovertemplate=f"{name}<br>layer %{{x}}: %{{text}}<br>%{{y:.3g}}<extra></extra>"))
    fig.update_layout(title=title, height=380, margin={"l": 60, "r": 10, "t": 50, "b": 40},
                      xaxis_title=x_title, yaxis_title=y_title,
                      yaxis_type="log" if log else "linear", hovermode="closest")
    if log:
        # decades only (plotly draws the 2/5 minor labels at 3/4 size, too small to read), as powers of ten
        # ("10⁻⁷", not the SI "100n" a student would not read as a number)
        fig.update_yaxes(dtick=1, exponentformat="power", tickfont_size=16)  # superscripts at 14 px
    return fig


@_styled
def layer_responses(series: dict[str, list[float]], *, title: str) -> go.Figure:
    """The paper's Fig. 7: per 3x3 layer response std, in layer order (top) and sorted by magnitude
    (bottom); one line per net, plain dashed, residual solid, one colour per depth."""
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.12,
                        subplot_titles=("3×3 layers in order (input → output)", "sorted by magnitude"))
    for name, stds in series.items():
        depth = int(name.rsplit("-", 1)[1])
        arch = "residual" if name.startswith("ResNet") else "plain"
        line = {"color": net_colour(arch, depth), "dash": "solid" if arch == "residual" else "dash"}
        for row, values in ((1, stds), (2, sorted(stds, reverse=True))):
            fig.add_trace(go.Scatter(
                x=list(range(1, len(values) + 1)), y=values, mode="lines", name=name, legendgroup=name,
                showlegend=row == 1, line=line,
                hovertemplate=f"{name}<br>layer %{{x}}<br>std %{{y:.3g}}<extra></extra>"), row=row, col=1)
    fig.update_yaxes(title_text="std", rangemode="tozero")
    fig.update_xaxes(title_text="rank", row=2, col=1)
    fig.update_layout(title=title, height=600, margin={"l": 50, "r": 10, "t": 70, "b": 40}, hovermode="closest")
    return fig


@_styled
def grad_trajectory(record: dict[str, Any], step: int | None = None) -> go.Figure:
    """A gradient-flow trajectory (experiments.gradflow.new_record) at one of its steps (default the last): top,
    the output-gradient RMS per conv layer (the classifier left out: see gradflow.first_last_ratio), step 0 dotted
    for reference; bottom, the weight-gradient norm per layer. Plain dashed with square markers, residual solid
    with circles. The tab's "Step shown" radio picks ``step``."""
    depth, layers, steps = record["depth"], record["layers"], record["steps"]
    i = steps.index(step) if step in steps else len(steps) - 1
    names = {arch: net_label(arch, depth) for arch in ("plain", "residual")}
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.2, subplot_titles=(
        "∂loss/∂(layer output), RMS per value", "‖∂loss/∂W‖ per weight layer"))

    def series(arch: str, key: str, i: int, cut: int) -> list[float]:
        values = record["nets"][arch][key]
        return values[i][:cut] if i < len(values) else [None]  # one gap, not []: keeps the legend entry

    def label(arch: str, i: int) -> str:
        d = record["nets"][arch]["diverged"]
        if i >= len(record["nets"][arch]["grad_rms"]):
            return f"{names[arch]} (diverged at step {d['step']})" if d else names[arch]
        return f"{names[arch]}, step {steps[i]}"

    for arch in names:  # step-0 references
        fig.add_trace(go.Scatter(
            x=list(range(1, len(layers))), y=series(arch, "grad_rms", 0, -1), mode="lines",
            name=f"{names[arch]}, step 0", line={"color": NET_COLOURS[arch], "dash": "dot", "width": 1},
            opacity=0.6, text=layers[:-1], hovertemplate="%{text}<br>%{y:.3g}<extra>step 0</extra>"), row=1, col=1)
    for row, key, cut in ((1, "grad_rms", -1), (2, "weight_grad_norms", None)):
        for arch in names:
            fig.add_trace(go.Scatter(
                x=list(range(1, len(layers) + (0 if cut else 1))), y=series(arch, key, i, cut),
                mode="lines+markers", name=label(arch, i), legendgroup=arch, showlegend=row == 1,
                marker={"size": 5, "symbol": KIND_SYMBOL[arch]},
                line={"color": NET_COLOURS[arch], "dash": KIND_DASH[arch]}, text=layers,
                hovertemplate="%{text}<br>%{y:.3g}<extra>%{fullData.name}</extra>"), row=row, col=1)
    fig.update_yaxes(type="log", dtick=1, exponentformat="power", tickfont_size=16)  # powers of ten, 14 px exponents
    fig.update_xaxes(title_text="conv layer (input → output)", row=1, col=1)
    fig.update_xaxes(title_text="weight layer (input → output)", row=2, col=1)
    fig.update_layout(title=f"Training step {steps[i]}", height=760, margin={"l": 60, "r": 10, "t": 90, "b": 40},
                      hovermode="closest")
    return fig


LAB_STYLES = (("#0072B2", "solid", "circle"), ("#D55E00", "dash", "square"), ("#009E73", "dot", "diamond"),
              ("#CC79A7", "dashdot", "triangle-up"))  # up to four variants, told apart by line and marker too


@_styled
def shortcut_profiles(profiles: list[dict[str, Any]], labels: dict[str, str]) -> go.Figure:
    """The shortcut lab: the gradient RMS reaching each unit's input (and the last unit's output), at each
    profile's last step, one line per variant (log y): through every path (top) and along the shortcuts alone
    (below, He et al. 2016's direct term). A zero (a path closed by the ReLUs) has no point on a log axis."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        subplot_titles=("through every path (weight layers included)",
                                        "along the shortcuts alone (the paper's direct term)"))
    for p, (colour, dash, symbol) in zip(profiles, LAB_STYLES):
        name = labels[p["variant"]]
        for row, values in ((1, p["grads"][-1]), (2, (p.get("direct") or [[]])[-1])):
            fig.add_trace(go.Scatter(
                x=list(range(1, len(values) + 1)), y=[v if v > 0 else None for v in values],
                mode="lines+markers", name=name, legendgroup=name, showlegend=row == 1,
                line={"color": colour, "dash": dash}, marker={"size": 6, "symbol": symbol},
                hovertemplate=f"{name}<br>unit %{{x}}<br>%{{y:.3g}}<extra></extra>"), row=row, col=1)
    step = profiles[0]["steps"][-1]
    when = "at initialisation" if step == 0 else f"after {step} SGD steps"
    fig.update_layout(title=f"Gradient reaching each unit, depth {profiles[0]['depth']}<br><sup>{when}; the last "
                            "point is the last unit's output; no point where nothing comes back</sup>",
                      height=640, margin={"l": 60, "r": 10, "t": 90, "b": 40}, hovermode="closest")
    fig.update_xaxes(title_text="unit (input → output)", row=2, col=1)
    fig.update_yaxes(type="log", exponentformat="power", tickfont_size=14, title_text="∂loss/∂x, RMS (log)")
    return fig


@_styled
def variant_curves(runs: list[dict[str, Any]], labels: list[str], *, title: str) -> go.Figure:
    """The shortcut lab's live run: each variant's training error (the running mean over recent batches, a line;
    on a fixed sample of training images at each evaluation, open markers: what the verdict compares), one colour,
    dash and marker a variant (LAB_STYLES)."""
    fig = go.Figure()
    for run, name, (colour, dash, symbol) in zip(runs, labels, LAB_STYLES):
        its = run["iterations"]
        fig.add_trace(go.Scatter(
            x=its, y=[None if v is None else 100 * v for v in run["train_error"]], mode="lines", name=name,
            legendgroup=name, line={"color": colour, "dash": dash, "width": 2},
            hovertemplate=f"{name}<br>iteration %{{x}}<br>training error (recent batches) %{{y:.1f}}%<extra></extra>"))
        measured = [(i, 100 * v) for i, v in zip(its, run.get("train_error_measured") or []) if v is not None]
        if measured:
            fig.add_trace(go.Scatter(
                x=[i for i, _ in measured], y=[v for _, v in measured], mode="markers", name=f"{name}, measured",
                legendgroup=name, showlegend=False,
                marker={"size": 11, "symbol": f"{symbol}-open", "line": {"width": 2.5}, "color": colour},
                hovertemplate=f"{name}<br>iteration %{{x}}<br>training error on a fixed sample %{{y:.1f}}%"
                              "<extra></extra>"))
    fig.update_layout(title=title, height=440, margin={"l": 60, "r": 10, "t": 70, "b": 40}, hovermode="closest",
                      xaxis_title="iterations", yaxis_title="training error (%)", yaxis_range=[0, 100])
    return fig
