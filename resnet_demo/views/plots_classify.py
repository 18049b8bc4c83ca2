"""The Classify tab's figures: the residual stream of one photo, block by block, and inside one block."""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .plots import NET_COLOURS, _styled

COLORBAR = {"orientation": "h", "y": -0.02, "yanchor": "top", "thickness": 12, "len": 0.8}  # under: phone width
INK = "#222222"  # the deletion line: dark on white in every panel, told from the bars by its shape


def _tick(block: dict[str, Any], index: int, short: bool) -> str:
    name = str(index) if short else block["name"]
    return name + ("↓" if block["downsampling"] else "")


@_styled
def residual_stream(streams: list[Any]) -> go.Figure:
    """Per block (x): bars of how much the block changes its input (left axis), and a line with markers of the
    intact answer's probability when only that block is deleted (right axis, %), the intact probability as a
    dotted line; ↓ marks the downsampling blocks (a hollow marker there). One panel per net (residual, plain)."""
    n = len(streams)
    titles = [f"{s.net}: {s.label} {100 * s.probability:.1f}%" for s in streams]
    fig = make_subplots(rows=n, cols=1, specs=[[{"secondary_y": True}]] * n, vertical_spacing=0.22 if n > 1 else 0,
                        subplot_titles=titles)
    for row, s in enumerate(streams, start=1):
        bs = s.blocks
        short = not bs[0]["name"].startswith("layer")  # CIFAR: 27 blocks, numbered
        x = [_tick(b, i, short) for i, b in enumerate(bs)]
        residual = bs[0]["shortcut"] != "none"
        kind = "residual" if residual else "plain"
        ratio_name = "RMS(F(x)) / RMS(x)" if residual else "RMS(y − x) / RMS(x)"
        fig.add_trace(go.Bar(x=x, y=[b["ratio"] for b in bs], name=f"{s.net}: {ratio_name} (bars)",
                             marker={"color": NET_COLOURS[kind], "pattern_shape": "" if residual else "/"},
                             opacity=0.75, customdata=[b["name"] for b in bs],
                             hovertemplate="%{customdata}: %{y:.2f}<extra></extra>"), row=row, col=1)
        fig.add_trace(go.Scatter(
            x=x, y=[None if b["probability_of_label_if_deleted"] is None else 100 * b["probability_of_label_if_deleted"]
                    for b in bs],
            mode="lines+markers", name=f"{s.net}: % {s.label}, block deleted (line)",
            line={"color": INK, "dash": "solid" if residual else "dash"},
            marker={"size": 9 if len(bs) <= 30 else 6, "color": INK,  # ResNet-110's 54 blocks: smaller
                    "symbol": ["diamond-open" if b["downsampling"] else "circle" for b in bs]},
            customdata=[[b["name"], b["label_if_deleted"] or "cannot be deleted"] for b in bs],
            hovertemplate="%{customdata[0]} deleted: %{y:.1f}% (top label: %{customdata[1]})<extra></extra>",
            connectgaps=False), row=row, col=1, secondary_y=True)
        fixed = [(x[i], b["name"]) for i, b in enumerate(bs) if not b["deletable"]]
        if fixed:  # a plain block that changes the shape: no identity can stand in for it
            fig.add_trace(go.Scatter(
                x=[t for t, _ in fixed], y=[0] * len(fixed), mode="markers", name=f"{s.net}: cannot be deleted",
                marker={"symbol": "x-thin", "size": 12, "line": {"width": 2.5, "color": INK}},
                customdata=[n for _, n in fixed],
                hovertemplate="%{customdata} changes the shape: it cannot be deleted<extra></extra>"),
                row=row, col=1, secondary_y=True)
        fig.add_hline(y=100 * s.probability, line={"color": INK, "dash": "dot", "width": 1}, row=row, col=1,
                      secondary_y=True)
        fig.update_yaxes(title_text="block's change / input", rangemode="tozero", row=row, col=1, secondary_y=False)
        fig.update_yaxes(title_text=f"% {s.label}, block deleted", range=[0, 105], row=row, col=1,
                         secondary_y=True, showgrid=False)
        fig.update_xaxes(title_text="block (↓ downsampling)" if row == n else None, tickangle=-90 if not short else 0,
                         row=row, col=1)
    fig.update_layout(height=430 * n, margin={"t": 60, "b": 130, "l": 60, "r": 60}, barmode="overlay")
    return fig


@_styled
def inside_block(stream: Any, name: str) -> go.Figure:
    """x (or shortcut(x)), F(x) and F(x) + x (residual; y = relu(F(x)) for a plain block) for the channels of the
    block's output with the most energy, one row per channel, one diverging colour scale shared by all panels."""
    m = stream.maps[name]
    panels = m["panels"]
    first = ("shortcut(x)" if m["x_is_shortcut"] else "x")
    heads = [first, "F(x)", f"F(x) +<br>{first}"] if m["residual"] else ["x", "F(x)", "y =<br>relu(F(x))"]
    arrays = [panels["x"], panels["F"], panels["y"]]
    top = max(float(abs(a).max()) for a in arrays if a is not None) or 1.0
    rows = len(m["channels"])
    fig = make_subplots(rows=rows, cols=3, horizontal_spacing=0.03, vertical_spacing=0.04,
                        column_titles=heads, row_titles=[f"ch {c}" for c in m["channels"]])
    for r in range(rows):
        for c, a in enumerate(arrays):
            if a is None:
                continue
            hover = f"{heads[c].replace('<br>', ' ')}, channel {m['channels'][r]}: %{{z:.2f}}<extra></extra>"
            fig.add_trace(go.Heatmap(z=a[r][::-1], zmin=-top, zmax=top, zmid=0, colorscale="RdBu_r",
                                     showscale=r == 0 and c == 0, colorbar=COLORBAR, hovertemplate=hover),
                          row=r + 1, col=c + 1)
    fig.update_xaxes(visible=False, constrain="domain")
    fig.update_yaxes(visible=False, constrain="domain")
    for i in range(1, 3 * rows + 1):  # square pixels
        fig.update_yaxes(scaleanchor=f"x{'' if i == 1 else i}", row=(i - 1) // 3 + 1, col=(i - 1) % 3 + 1)
    fig.update_layout(height=140 * rows + 130, margin={"t": 70, "b": 60, "l": 10, "r": 40}, showlegend=False)
    return fig
