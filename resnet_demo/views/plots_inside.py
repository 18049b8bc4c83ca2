"""The Inside-trained-nets tab's figures: the lesion study, the loss landscape, and the F(x) ratios."""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from ..base.paper import net_label
from ..nets.cifar import block_label
from .plots import KIND_DASH, KIND_SYMBOL, NET_COLOURS, _styled, net_colour


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
