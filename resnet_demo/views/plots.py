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
from ..nets.cifar import block_label
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


def error_points(runs: list[dict[str, Any]]) -> dict[tuple[str, str], tuple[float | None, float | None]]:
    """{(net label, "train_error" or "test_error"): (final error in %, the mean over the net's stored seeds; ± twice
    its noise σ)} for every run: what the error-against-depth figures draw."""
    noise = Noise(runs)
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
def error_vs_depth(runs: list[dict[str, Any]]) -> go.Figure:
    """Final training and test error of each stored net against its depth, plain and residual: degradation in one
    picture (dashed = training, solid = test, as in the curves; square = plain, circle = residual), each point with
    a bar of ±2 standard errors (``noise``): a step shorter than its bars is within noise."""
    fig = go.Figure()
    points = error_points(runs)
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


@_styled
def lesion_single(pair: dict[str, Any], depth: int) -> go.Figure:
    """Error after deleting each block alone, plain and residual (or residual alone), intact errors as dashed
    lines, chance dotted."""
    fig = go.Figure()
    for arch, label in ((arch, net_label(arch, depth)) for arch in ("plain", "residual") if arch in pair):
        r = pair[arch]
        xs = [s["block"] + 1 for s in r["single"]]
        fig.add_trace(go.Scatter(
            x=xs, y=[None if s["error"] is None else 100 * s["error"] for s in r["single"]], mode="lines+markers",
            name=f"{label}, one block deleted", line={"color": NET_COLOURS[arch], "dash": KIND_DASH[arch]},
            marker={"size": 7, "symbol": KIND_SYMBOL[arch]},
            text=[f"{block_label(depth, s['block'])} (blocks.{s['block']})"
                  + (", downsampling" if s["downsampling"] else "") for s in r["single"]],
            hovertemplate=f"{label}<br>deleted: %{{text}}<br>error %{{y:.1f}}%<extra></extra>"))
        # the residual net's label goes under its line: deleting a block rarely lowers its error, so its curve lies
        # on or above the line, and a label above sat on it (and on plain-20's label: 14.7% against 12.4%)
        fig.add_hline(y=100 * r["baseline"], line={"color": NET_COLOURS[arch], "dash": "dash", "width": 1},
                      annotation_text=f"{label} intact {100 * r['baseline']:.1f}%",
                      annotation_position="top left" if arch == "plain" else "bottom left")
    down = [s["block"] + 1 for s in pair["residual"]["single"] if s["downsampling"]]
    for b in down:
        fig.add_vline(x=b, line={"color": "#999", "dash": "dot", "width": 1})
    fig.add_hline(y=90, line={"color": "#555", "dash": "dot", "width": 1}, annotation_text="chance (90%)",
                  annotation_position="bottom right")
    fig.update_layout(title="One block deleted<br><sup>dotted lines: downsampling blocks</sup>",
                      xaxis_title="deleted block (input → output)", yaxis_title="test error (%)",
                      yaxis_range=[0, 100], height=420, margin={"l": 60, "r": 10, "t": 60, "b": 40},
                      hovermode="closest")
    return fig


@_styled
def lesion_k(pair: dict[str, Any], depth: int) -> go.Figure:
    """Mean error after deleting k random blocks (bars: the lowest and highest draw), intact errors dashed."""
    fig = go.Figure()
    for arch, label in ((arch, net_label(arch, depth)) for arch in ("plain", "residual") if arch in pair):
        r = pair[arch]
        ks = [e["k"] for e in r["k_removed"]]
        mean = [100 * e["error"] for e in r["k_removed"]]
        fig.add_trace(go.Scatter(
            x=[0, *ks], y=[100 * r["baseline"], *mean], mode="lines+markers", name=label,
            line={"color": NET_COLOURS[arch], "dash": KIND_DASH[arch]}, marker={"size": 7, "symbol": KIND_SYMBOL[arch]},
            error_y={"type": "data", "symmetric": False,
                     "array": [0, *[100 * max(e["errors"]) - m for e, m in zip(r["k_removed"], mean)]],
                     "arrayminus": [0, *[m - 100 * min(e["errors"]) for e, m in zip(r["k_removed"], mean)]]},
            hovertemplate=f"{label}<br>%{{x}} blocks deleted<br>mean error %{{y:.1f}}%<extra></extra>"))
    fig.add_hline(y=90, line={"color": "#555", "dash": "dot", "width": 1}, annotation_text="chance (90%)",
                  annotation_position="bottom right")
    fig.update_layout(title="k random blocks deleted<br><sup>mean of the draws · bars: min–max</sup>",
                      xaxis_title="blocks deleted (k)", yaxis_title="test error (%)", yaxis_range=[0, 100],
                      height=400, margin={"l": 60, "r": 10, "t": 50, "b": 40})
    return fig


@_styled
def loss_surface(axis: list[float], z: list[list[float]], *, title: str, cap: float) -> go.Figure:
    """One 2-D loss surface; every surface the tab shows uses the same axes, z range and colour scale, so two of
    them side by side compare directly. Where the loss is above ``cap`` the surface is cut away (a hole), not
    drawn flat at the cap: a clipped plateau would read as a wall or a fin that is not in the data."""
    cut = [[v if v <= cap else None for v in row] for row in z]
    fig = go.Figure(go.Surface(x=axis, y=axis, z=cut, cmin=0, cmax=cap, connectgaps=False,
                               colorscale="Viridis", colorbar={"title": "loss", "len": 0.7},
                               hovertemplate="α %{x:.2f}, β %{y:.2f}<br>loss %{z:.3f}<extra></extra>"))
    # seen from above: the steep edges where the surface is cut do not tower over the basin
    fig.update_layout(title=title, height=440, margin={"l": 0, "r": 0, "t": 40, "b": 0},
                      scene={"xaxis_title": "α", "yaxis_title": "β", "zaxis": {"title": "loss", "range": [0, cap]},
                             "camera": {"eye": {"x": 0.9, "y": 0.9, "z": 2.0}}})
    return fig


@_styled
def loss_contour(axis: list[float], z: list[list[float]], *, title: str, cap: float) -> go.Figure:
    """The same surface as a contour map, with the same levels for every net (above ``cap``: the top colour)."""
    fig = go.Figure(go.Contour(x=axis, y=axis, z=[[min(v, cap) for v in row] for row in z], zmin=0, zmax=cap,
                               colorscale="Viridis", contours={"start": 0, "end": cap, "size": cap / 20},
                               # under the plot, not beside it: on a phone a side bar takes a third of the width
                               colorbar={"title": {"text": "loss", "side": "top"}, "orientation": "h", "y": -0.3,
                                         "yanchor": "top", "thickness": 12, "len": 0.9},
                               hovertemplate="α %{x:.2f}, β %{y:.2f}<br>loss %{z:.3f}<extra></extra>"))
    fig.update_layout(title=title, height=470, margin={"l": 60, "r": 10, "t": 40, "b": 110},
                      xaxis_title="α (direction 1)", yaxis_title="β (direction 2)")
    return fig


@_styled
def loss_slice(results: dict[str, dict[str, Any]], depth: int) -> go.Figure:
    """Training loss (top) and error (bottom) along one filter-normalised direction, plain and residual."""
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("loss", "error (%)"))
    for arch, label in ((arch, net_label(arch, depth)) for arch in ("plain", "residual")):
        r = results[arch]
        fig.add_trace(go.Scatter(x=r["alphas"], y=r["loss"], mode="lines+markers", name=label, legendgroup=arch,
                                 line={"color": NET_COLOURS[arch]},
                                 hovertemplate=f"{label}<br>α %{{x:.2f}}<br>loss %{{y:.3f}}<extra></extra>"),
                      row=1, col=1)
        fig.add_trace(
            go.Scatter(
                x=r["alphas"],
                y=[100 * e for e in r["error"]],
                mode="lines+markers",
                name=label,
                legendgroup=arch,
                showlegend=False,
                line={"color": NET_COLOURS[arch], "dash": "dash"},
                hovertemplate=f"{label}<br>α %{{x:.2f}}<br>error %{{y:.1f}}%<extra></extra>",
            ),
            row=2,
            col=1,
        )
    fig.update_yaxes(type="log", dtick=0.30103, row=1, col=1)  # ×2 steps (…, 0.5, 1, 2, 4, …), full-size labels
    fig.update_xaxes(title_text="α (step along the direction, in units of each filter's norm)", row=2, col=1)
    fig.update_layout(height=520, margin={"l": 60, "r": 10, "t": 40, "b": 40}, hovermode="x unified")
    return fig


@_styled
def block_ratios(series: dict[str, list[float]]) -> go.Figure:
    """RMS(F(x)) / RMS(x) per residual block, one line per net."""
    fig = go.Figure()
    for name, values in series.items():
        depth = int(name.split("-")[1].split(" ")[0])
        fig.add_trace(
            go.Scatter(
                x=list(range(1, len(values) + 1)),
                y=values,
                mode="lines+markers",
                name=name,
                line={"color": net_colour("residual", depth), "dash": "dot" if "init" in name else "solid"},
                marker={"size": 5},
                hovertemplate=f"{name}<br>block %{{x}}<br>RMS(F(x)) / RMS(x) = %{{y:.3f}}<extra></extra>",
            )
        )
    fig.add_hline(y=1, line={"color": "#555", "dash": "dot", "width": 1})
    fig.update_layout(
        title="How small is F(x)?<br><sup>RMS(F(x)) ÷ RMS(x), block by block</sup>",
        xaxis_title="residual block (input → output)",
        yaxis_title="RMS(F(x)) / RMS(x)",
        yaxis_rangemode="tozero",
        height=420,
        margin={"l": 60, "r": 10, "t": 50, "b": 40},
        hovermode="closest",
    )
    return fig
