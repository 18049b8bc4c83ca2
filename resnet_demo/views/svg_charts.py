"""Small static line charts as inline SVG, for the figures beside the Paper tab's claims.

The Paper tab is the first thing a visitor sees: a plotly figure there makes every page load fetch and run
plotly.js (measured: network idle 1.8 s -> 3.2 s, 2 vCPU, headless Chromium). These charts are a few kB of
markup drawn from the same stored runs, in the same colour language as ``plots.py`` (hue = kind, shade = depth,
dashed = training, solid = test, square = plain, circle = residual), with the claim's sentence as their text
alternative.
"""
from __future__ import annotations

import html
import itertools
import math
from dataclasses import dataclass
from typing import Any

from ..base.paper import net_label
from ..nets.runs import of_kind
from .plots import KIND_SYMBOL, error_points, error_top, net_colour

FONT = 14
_IDS = itertools.count()  # clip-path ids, unique on the page
INK, GRID, MUTED = "#222222", "#d9d9d9", "#595959"


@dataclass
class Series:
    name: str
    xs: list[float]
    ys: list[float | None]
    colour: str
    dash: bool = False
    marker: str | None = None  # "square", "circle" (filled) or "square-open", "circle-open"
    bars: list[float | None] | None = None  # ± half-lengths of error bars (same units as ys), or None


def _ticks(top: float) -> list[float]:
    step = next(s for s in (1, 2, 5, 10, 20, 25, 50) if top / s <= 6)
    return [i * step for i in range(int(top // step) + 1)]


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    fill = "white" if kind.endswith("-open") else colour
    if kind.startswith("square"):
        return (f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{fill}" stroke="{colour}" '
                'stroke-width="2"/>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4.5" fill="{fill}" stroke="{colour}" stroke-width="2"/>'


def panel(series: list[Series], *, x_ticks: list[tuple[float, str]], x_log: bool, y_top: float, y_title: str,
          x_title: str | None, title: str | None, width: int = 340, height: int = 200) -> tuple[str, int]:
    """One set of axes as SVG elements (no <svg>): returns (markup, height used)."""
    left, right, top = 58, 12, 26 if title else 8
    bottom = 44 if x_title else 26
    w, h = width - left - right, height - top - bottom
    xs = [v for s in series for v in s.xs] + [t for t, _ in x_ticks]
    lo, hi = min(xs), max(xs)
    f = (lambda v: math.log(v)) if x_log else (lambda v: v)

    def px(v: float) -> float:
        return left + (f(v) - f(lo)) / ((f(hi) - f(lo)) or 1) * w

    def py(v: float) -> float:  # above y_top: outside the plot area, cut off by the clip path (not drawn flat)
        return top + h - v / y_top * h

    clip = f"clip{next(_IDS)}"
    # the plot area and a margin for the markers at its edges
    out = [f'<clipPath id="{clip}"><rect x="{left - 6}" y="{top - 2}" width="{w + 12}" height="{h + 8}"/></clipPath>']
    if title:
        out.append(f'<text x="{left}" y="{top - 8}" font-size="{FONT}" fill="{INK}" font-weight="600">'
                   f'{html.escape(title)}</text>')
    for t in _ticks(y_top):
        y = py(t)
        out.append(f'<line x1="{left}" x2="{left + w}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        out.append(f'<text x="{left - 6}" y="{y + 5:.1f}" font-size="{FONT}" fill="{MUTED}" text-anchor="end">'
                   f'{t:g}</text>')
    for t, label in x_ticks:
        out.append(f'<text x="{px(t):.1f}" y="{top + h + 18}" font-size="{FONT}" fill="{MUTED}" '
                   f'text-anchor="middle">{html.escape(label)}</text>')
    out.append(f'<line x1="{left}" x2="{left + w}" y1="{top + h}" y2="{top + h}" stroke="{MUTED}"/>')
    out.append(f'<text transform="translate(16 {top + h / 2:.1f}) rotate(-90)" font-size="{FONT}" fill="{INK}" '
               f'text-anchor="middle">{html.escape(y_title)}</text>')
    if x_title:
        out.append(f'<text x="{left + w / 2:.1f}" y="{top + h + 38}" font-size="{FONT}" fill="{INK}" '
                   f'text-anchor="middle">{html.escape(x_title)}</text>')
    out.append(f'<g clip-path="url(#{clip})">')
    for s in series:
        points = [(px(x), py(y)) for x, y in zip(s.xs, s.ys) if y is not None]
        if len(points) > 1:
            d = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
            dash = ' stroke-dasharray="6 4"' if s.dash else ""
            out.append(f'<polyline points="{d}" fill="none" stroke="{s.colour}" stroke-width="2.5"{dash}/>')
        for x, y, b in zip(s.xs, s.ys, s.bars or []):
            if y is not None and b:
                cx, y0, y1 = px(x), py(y - b), py(y + b)
                out.append(f'<path d="M{cx - 4:.1f},{y0:.1f}H{cx + 4:.1f}M{cx:.1f},{y0:.1f}V{y1:.1f}M{cx - 4:.1f},'
                           f'{y1:.1f}H{cx + 4:.1f}" stroke="{s.colour}" stroke-width="1.5" fill="none"/>')
        if s.marker:
            out += [_marker(s.marker, x, y, s.colour) for x, y in points]
    out.append("</g>")
    return "\n".join(out), height


def _legend(series: list[Series], width: int, y0: int) -> tuple[str, int]:
    """Two entries a row under the plot: a line sample (dashed or solid, with its marker) and the name."""
    out, col_w = [], width // 2
    for i, s in enumerate(series):
        x, y = 12 + (i % 2) * col_w, y0 + (i // 2) * 22 + 14
        dash = ' stroke-dasharray="6 4"' if s.dash else ""
        out.append(f'<line x1="{x}" x2="{x + 30}" y1="{y - 5}" y2="{y - 5}" stroke="{s.colour}" stroke-width="2.5"'
                   f'{dash}/>')
        if s.marker:
            out.append(_marker(s.marker, x + 15, y - 5, s.colour))
        out.append(f'<text x="{x + 38}" y="{y}" font-size="{FONT}" fill="{INK}">{html.escape(s.name)}</text>')
    return "\n".join(out), ((len(series) + 1) // 2) * 22 + 8


def _svg(parts: list[str], width: int, height: int, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{html.escape(label)}" '
            f'viewBox="0 0 {width} {height}" width="{width}" style="max-width:100%;height:auto;background:white" '
            f'font-family="sans-serif">\n' + "\n".join(parts) + "\n</svg>")


def error_vs_depth(runs: list[dict[str, Any]], label: str, width: int = 340) -> str:
    """Final training (dashed, open markers) and test error (solid, filled) against depth, plain and residual, each
    with its noise as a bar of ±2 standard errors (``noise.Noise.one``: sampling, and seeds where stored)."""
    series = []
    points = error_points(runs)
    for arch in ("plain", "residual"):
        mine = of_kind(runs, arch)
        if not mine:
            continue
        name = "ResNet" if arch == "residual" else "plain"
        for key, dash, what in (("train_error", True, "training"), ("test_error", False, "test")):
            got = [points[(net_label(arch, r["depth"]), key)] for r in mine]
            series.append(Series(f"{name}, {what}", [r["depth"] for r in mine], [g[0] for g in got],
                                 net_colour(arch), dash, KIND_SYMBOL[arch] + ("-open" if dash else ""),
                                 bars=[g[1] for g in got]))
    depths = sorted({r["depth"] for r in runs})
    top = max((y + (b or 0) for s in series for y, b in zip(s.ys, s.bars or []) if y is not None), default=10) * 1.1
    body, h = panel(series, x_ticks=[(d, str(d)) for d in depths], x_log=True, y_top=top,
                    y_title="final error (%)", x_title="depth (weight layers)", title="Error against depth (±2 s.e.)",
                    width=width, height=240)
    legend, lh = _legend(series, width, h)
    return _svg([body, legend], width, h + lh, label)


def fig6(runs: list[dict[str, Any]], label: str, width: int = 340) -> str:
    """Fig. 6 in miniature: plain (top) and residual (bottom) runs, training error dashed, test error solid, one
    y scale chosen so the last third of training is readable (``plots.error_top``, as the Depth tab's)."""
    top = error_top(runs)
    last = max((r["iterations"][-1] for r in runs if r["iterations"]), default=1)
    step = 5000 if last > 10000 else 1000
    ticks = [(t, f"{t // 1000}k" if t else "0") for t in range(0, last + 1, step)]
    parts, y, legend_series = [], 0, []
    for arch, title in (("plain", "plain"), ("residual", "ResNet (residual)")):
        series = []
        for r in of_kind(runs, arch):
            c = net_colour(arch, r["depth"])
            n = net_label(arch, r["depth"])
            series.append(Series(f"{n} train", r["iterations"], [None if v is None else 100 * v
                                                                  for v in r["train_error"]], c, True))
            series.append(Series(f"{n} test", r["iterations"], [None if v is None else 100 * v
                                                                 for v in r["test_error"]], c, False))
        body, h = panel(series, x_ticks=ticks, x_log=False, y_top=top, y_title="error (%)",
                        x_title="iterations" if arch == "residual" else None, title=title, width=width,
                        height=210 if arch == "residual" else 190)
        parts.append(f'<g transform="translate(0 {y})">{body}</g>')
        y += h
        legend_series += series
    legend, lh = _legend(legend_series, width, y)
    return _svg([*parts, legend], width, y + lh, label)
