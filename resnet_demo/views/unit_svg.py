"""He et al. 2016's residual units drawn, one small inline SVG each: the branch F's layers in order, the shortcut
with what it does to x, the addition, and what follows it. Read without colour: every box and line is labelled."""
from __future__ import annotations

import html

from ..experiments.shortcut_lab import VARIANTS, Variant

BRANCH = {
    "original": (["3×3 conv", "BN", "ReLU", "3×3 conv", "BN"], ["ReLU"]),
    "bn-after-add": (["3×3 conv", "BN", "ReLU", "3×3 conv"], ["BN", "ReLU"]),
    "relu-before-add": (["3×3 conv", "BN", "ReLU", "3×3 conv", "BN", "ReLU"], []),
    "relu-preact": (["ReLU", "3×3 conv", "BN", "ReLU", "3×3 conv", "BN"], []),
    "full-preact": (["BN", "ReLU", "3×3 conv", "BN", "ReLU", "3×3 conv"], []),
}
SHORTCUT = {"identity": "x", "scale": "× 0.5", "scale-both": "× 0.5 (F × 0.5)", "exclusive-gate": "× (1 − g), F × g",
            "shortcut-gate": "× (1 − g)", "conv1x1": "1×1 conv", "dropout": "dropout 0.5"}
INK, LINE, W, BOX_H, GAP = "#222222", "#0072B2", 230, 22, 8


def unit(v: Variant) -> str:
    """One unit as inline SVG, its formula as the text alternative."""
    branch, after = BRANCH[v.unit]
    y, parts = 24, []
    parts.append(f'<text x="10" y="14" font-size="12" fill="{INK}">x_l</text>')
    end = 24 + len(branch) * (BOX_H + GAP) + 8 + 14 + len(after) * (BOX_H + GAP)
    parts.append(f'<line x1="65" y1="18" x2="65" y2="{end}" stroke="{INK}"/>')  # the main path, behind the boxes
    for op in branch:
        parts.append(f'<rect x="10" y="{y}" width="110" height="{BOX_H}" rx="4" fill="#f4f4f4" stroke="{INK}"/>'
                     f'<text x="65" y="{y + 15}" font-size="12" text-anchor="middle" fill="{INK}">{op}</text>')
        y += BOX_H + GAP
    add_y = y + 8
    parts.append(f'<circle cx="65" cy="{add_y}" r="8" fill="white" stroke="{INK}"/>'
                 f'<text x="65" y="{add_y + 4}" font-size="13" text-anchor="middle" fill="{INK}">+</text>')
    parts.append(f'<path d="M 65 18 L 190 18 L 190 {add_y} L 73 {add_y}" fill="none" stroke="{LINE}" '
                 f'stroke-width="2" stroke-dasharray="{"" if v.shortcut == "identity" else "5,3"}"/>')
    parts.append(f'<text x="196" y="{(18 + add_y) // 2}" font-size="11" fill="{LINE}">'
                 f'{html.escape(SHORTCUT[v.shortcut])}</text>')
    y = add_y + 14
    for op in after:
        parts.append(f'<rect x="10" y="{y}" width="110" height="{BOX_H}" rx="4" fill="#f4f4f4" stroke="{INK}"/>'
                     f'<text x="65" y="{y + 15}" font-size="12" text-anchor="middle" fill="{INK}">{op}</text>')
        y += BOX_H + GAP
    parts.append(f'<text x="10" y="{y + 12}" font-size="12" fill="{INK}">x_{{l+1}}</text>')
    label = html.escape(f"{v.label}: {v.formula}")
    return (f'<svg role="img" aria-label="{label}" width="{W + 60}" height="{y + 20}" viewBox="0 0 {W + 60} {y + 20}" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{label}</title>{"".join(parts)}</svg>')


def gallery() -> str:
    """Every unit drawn once, with its name and formula under it (a gate started at two biases is one drawing)."""
    drawn: dict[tuple[str, str], list] = {}
    for v in VARIANTS.values():
        drawn.setdefault((v.unit, v.shortcut), []).append(v)
    cells = []
    for same in drawn.values():
        v = same[0]
        label, formula = v.label, v.formula
        if len(same) > 1:  # the gates: one unit, started at b_g = 0 or −6
            biases = " or ".join(f"{x.gate_bias:g}".replace("-", "−") for x in same)
            label = f"{v.label.split(',')[0]}, b_g = {biases} at the start"
            formula = formula.split(", b_g = 0 at the start")[0]
        cells.append(f'<figure style="margin:6px;max-width:300px"><figcaption style="font-size:13px"><b>'
                     f'{html.escape(label)}</b><br><code>{html.escape(formula)}</code></figcaption>{unit(v)}</figure>')
    return '<div style="display:flex;flex-wrap:wrap;align-items:flex-start">' + "".join(cells) + "</div>"
