"""Every plotly figure the app shows, built in one place."""
from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
from plotly.subplots import make_subplots

# One colour per depth, as in the paper's Fig. 6.
DEPTH_COLOURS = {8: "#8c564b", 14: "#e377c2", 20: "#1f77b4", 32: "#2ca02c", 44: "#ff7f0e", 56: "#d62728",
                 110: "#9467bd"}


def _colour(depth: int) -> str:
    return DEPTH_COLOURS.get(depth, "#7f7f7f")


def error_curves(runs: list[dict[str, Any]], *, title: str | None = None) -> go.Figure:
    """The paper's Fig. 1 / Fig. 6 layout: plain (left) and residual (right), shared y axis in %,
    dashed = training error, solid = test error, one colour per depth."""
    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("plain", "ResNet (residual)"))
    for run in runs:
        col = 1 if run["arch"] == "plain" else 2
        name = run["name"]
        its = run["iterations"]
        fig.add_trace(go.Scatter(
            x=its, y=[None if v is None else 100 * v for v in run["train_error"]], mode="lines",
            name=f"{name} train", legendgroup=name,
            line={"color": _colour(run["depth"]), "dash": "dash", "width": 1.5},
            hovertemplate=f"{name}<br>iteration %{{x}}<br>training error %{{y:.2f}}%<extra></extra>"), row=1, col=col)
        test = [(i, 100 * v) for i, v in zip(its, run["test_error"]) if v is not None]
        if test:
            fig.add_trace(go.Scatter(
                x=[i for i, _ in test], y=[v for _, v in test], mode="lines+markers", name=f"{name} test",
                legendgroup=name, marker={"size": 4}, line={"color": _colour(run["depth"]), "width": 2.5},
                hovertemplate=f"{name}<br>iteration %{{x}}<br>test error %{{y:.2f}}%<extra></extra>"), row=1, col=col)
    fig.update_yaxes(title_text="error (%)", row=1, col=1, rangemode="tozero")
    fig.update_xaxes(title_text="iterations")
    fig.update_layout(title=title, height=430, margin={"l": 50, "r": 10, "t": 60, "b": 40},
                      legend={"font": {"size": 10}}, hovermode="closest")
    return fig


def grad_flow(layers: list[str], series: dict[str, list[float]], *, title: str, y_title: str,
              log: bool = True, x_title: str = "weight layer (input → output)") -> go.Figure:
    """Per-layer magnitudes, layer index on x (forward order), one line per network."""
    colours = {"plain": "#d62728", "residual": "#1f77b4"}
    fig = go.Figure()
    for name, values in series.items():
        kind = "residual" if "residual" in name.lower() or "resnet" in name.lower() else "plain"
        fig.add_trace(go.Scatter(
            x=list(range(1, len(values) + 1)), y=values, mode="lines+markers", name=name,
            marker={"size": 4}, line={"color": colours[kind], "dash": "solid" if "step" not in name else "dot"},
            text=layers[: len(values)],
            hovertemplate=f"{name}<br>layer %{{x}}: %{{text}}<br>%{{y:.3g}}<extra></extra>"))
    fig.update_layout(title=title, height=380, margin={"l": 60, "r": 10, "t": 50, "b": 40},
                      xaxis_title=x_title, yaxis_title=y_title,
                      yaxis_type="log" if log else "linear", hovermode="closest")
    return fig


def layer_responses(series: dict[str, list[float]], *, title: str) -> go.Figure:
    """The paper's Fig. 7: per 3x3 layer response std, in layer order (top) and sorted by magnitude
    (bottom); one line per net, plain dashed, residual solid, one colour per depth."""
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.12,
                        subplot_titles=("in layer order (3×3 layer index, input → output)", "sorted by magnitude (rank)"))
    for name, stds in series.items():
        depth = int(name.rsplit("-", 1)[1])
        line = {"color": _colour(depth), "dash": "solid" if name.startswith("ResNet") else "dash"}
        for row, values in ((1, stds), (2, sorted(stds, reverse=True))):
            fig.add_trace(go.Scatter(
                x=list(range(1, len(values) + 1)), y=values, mode="lines", name=name, legendgroup=name,
                showlegend=row == 1, line=line,
                hovertemplate=f"{name}<br>layer %{{x}}<br>std %{{y:.3g}}<extra></extra>"), row=row, col=1)
    fig.update_yaxes(title_text="std", rangemode="tozero")
    fig.update_layout(title=title, height=560, margin={"l": 50, "r": 10, "t": 70, "b": 40}, hovermode="closest")
    return fig


def grad_trajectory(record: dict[str, Any]) -> go.Figure:
    """A gradient-flow trajectory (resnet_demo.gradflow.new_record) as one figure with its own step slider:
    top, the output-gradient RMS per conv layer (the classifier left out: see gradflow.first_last_ratio), step 0
    dotted for reference; bottom, the weight-gradient norm per layer. The slider restyles the current-step
    traces in the browser, so moving it costs no request."""
    depth, layers, steps = record["depth"], record["layers"], record["steps"]
    names = {"plain": f"plain-{depth}", "residual": f"ResNet-{depth}"}
    colours = {"plain": "#d62728", "residual": "#1f77b4"}
    fig = make_subplots(rows=2, cols=1, vertical_spacing=0.14, subplot_titles=(
        "RMS of ∂loss/∂(layer output) per conv layer (log)", "‖∂loss/∂W‖ per weight layer (log)"))

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
            name=f"{names[arch]}, step 0", line={"color": colours[arch], "dash": "dot", "width": 1},
            opacity=0.6, text=layers[:-1], hovertemplate="%{text}<br>%{y:.3g}<extra>step 0</extra>"), row=1, col=1)
    last = len(steps) - 1
    for row, key, cut in ((1, "grad_rms", -1), (2, "weight_grad_norms", None)):
        for arch in names:
            fig.add_trace(go.Scatter(
                x=list(range(1, len(layers) + (0 if cut else 1))), y=series(arch, key, last, cut),
                mode="lines+markers", name=label(arch, last), legendgroup=arch, showlegend=row == 1,
                marker={"size": 4}, line={"color": colours[arch]}, text=layers,
                hovertemplate="%{text}<br>%{y:.3g}<extra>%{fullData.name}</extra>"), row=row, col=1)
    slider_steps = []
    for i, step in enumerate(steps):
        ys = [series(arch, key, i, cut) for key, cut in (("grad_rms", -1), ("weight_grad_norms", None))
              for arch in names]
        labels = [label(arch, i) for arch in names] * 2
        slider_steps.append({"method": "restyle", "label": str(step),
                             "args": [{"y": ys, "name": labels}, [2, 3, 4, 5]]})
    fig.update_yaxes(type="log")
    fig.update_xaxes(title_text="conv layer (input → output)", row=1, col=1)
    fig.update_xaxes(title_text="weight layer (input → output)", row=2, col=1)
    fig.update_layout(
        height=720, margin={"l": 60, "r": 10, "t": 40, "b": 40}, hovermode="closest",
        legend={"orientation": "h", "y": -0.22, "x": 0},
        sliders=[{"active": last, "currentvalue": {"prefix": "training step: "}, "pad": {"t": 70},
                  "steps": slider_steps}] if len(steps) > 1 else [])
    return fig
