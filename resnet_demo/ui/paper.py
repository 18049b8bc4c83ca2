"""The Paper tab: the paper's claims in its order, each with the paper's number, ours (computed from the stored
files when the page loads: ``resnet_demo.claims``), a status, and a button into the tab that explores it."""
from __future__ import annotations

from typing import Any

import gradio as gr

from .. import claims
from ..paper import PAPER_URL

TAB_NAMES = {"depth": "Depth", "gradflow": "Gradient flow", "anatomy": "Anatomy", "inside": "Inside trained nets",
             "classify": "Classify"}
STATUS_TEXT = {"reproduced": "✔ reproduced", "partly": "◐ partly reproduced", "not reproduced": "✘ not reproduced",
               "quoted": "“” quoted, not reproducible here"}

INTRO = (
    "**What the paper found:** very deep plain networks train *worse* than shallower ones, and adding identity "
    "shortcuts — each block learns a residual F(x) and outputs F(x) + x — removes that degradation, so depth "
    "pays off again (152 layers on ImageNet, 110 on CIFAR-10).  \n"
    "**What this app lets you do:** check each claim below against this project's own measurements, then open "
    "the tab where you can explore it yourself.  \n"
    f"**Where to start:** the degradation problem (the first claim), then *Depth*. The paper: "
    f"[He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition]({PAPER_URL}).")


def _value(v: Any, unit: str | None) -> str:
    if isinstance(v, dict):
        return "; ".join(f"{k} {_value(x, None)}" for k, x in v.items()) + (f" ({unit})" if unit else "")
    if isinstance(v, float):
        v = f"{v:,.4g}"
    elif isinstance(v, int):
        v = f"{v:,}"
    return f"{v}" + (f" ({unit})" if unit else "")


def section(n: int, c: dict[str, Any]) -> str:
    paper_unit = c.get("paper_unit") or (None if isinstance(c["paper"], str) else c.get("unit"))
    return (f"#### {n}. {c['claim']}\n\n**{STATUS_TEXT[c['status']]}** · {c['section']}\n\n"
            f"- The paper: {_value(c['paper'], paper_unit)}\n"
            f"- Ours: {_value(c['ours'], c.get('unit'))}\n\n{c['why']}")


def paper_json() -> list[dict[str, Any]]:
    return claims.claims()


def build(tabs: gr.Tabs) -> None:
    """The tab; its buttons switch ``tabs`` to the tab that explores each claim."""
    gr.Markdown("### The paper, claim by claim\n" + INTRO)
    found = claims.claims()  # the stored files, read when the app is built (they do not change while it runs)
    counts = {s: sum(c["status"] == s for c in found) for s in claims.STATUSES}
    gr.Markdown(f"{len(found)} claims: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n) + ".")
    for n, c in enumerate(found, 1):
        with gr.Group():
            gr.Markdown(section(n, c), padding=True)
            button = gr.Button(f"Explore in {TAB_NAMES[c['tab']]} →", size="sm", variant="secondary")
            button.click(lambda tab=c["tab"]: gr.Tabs(selected=tab), None, tabs, api_name=False, queue=False)
    api = gr.Button(visible=False)
    result = gr.JSON(visible=False)
    api.click(paper_json, None, result, api_name="paper", queue=False)
