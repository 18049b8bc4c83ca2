"""The Paper tab: the paper's claims in its order, each with the paper's number, ours (computed from the stored
files when the page loads: ``resnet_demo.claims``), a status, and a button into the tab that explores it."""
from __future__ import annotations

from typing import Any

import gradio as gr

from .. import claims, noise, svg_charts
from ..paper import PAPER_URL
from ..runs import stored_runs

TAB_NAMES = {"depth": "Depth", "gradflow": "Gradient flow", "anatomy": "Anatomy", "inside": "Inside trained nets",
             "classify": "Classify"}
STATUS_TEXT = {"reproduced": "✔ reproduced", "partly": "◐ partly reproduced",
               "inconclusive here": "? inconclusive here", "not reproduced": "✘ not reproduced",
               "quoted": "“” quoted, not reproducible here",
               "counted": "Σ counted"}

INTRO = (
    "**What the paper found:** very deep plain networks train *worse* than shallower ones, and adding identity "
    "shortcuts — each block learns a residual F(x) and outputs F(x) + x — removes that degradation, so depth "
    "pays off again (152 layers on ImageNet, 110 on CIFAR-10).  \n"
    "**What this app lets you do:** check each claim below against this project's own measurements, then open "
    "the tab where you can explore it yourself.  \n"
    f"**Where to start:** the degradation problem (the first claim), then *Depth*. The paper: "
    f"[He, Zhang, Ren, Sun, Deep Residual Learning for Image Recognition]({PAPER_URL}). Read an article that "
    "classifies a cat photo with `resnet50(pretrained=True)`? In *Classify*, “The article's example” runs that "
    "path in one click (URL filled in, `resnet50.IMAGENET1K_V1`), and “Use it in your own code” gives today's "
    "torchvision code for it.")

# A small figure where one says it faster than words: the stored runs' errors against depth, and Fig. 6 in
# miniature, drawn from the same files as the Depth tab's figures, as inline SVG (svg_charts: no plotly on the
# first tab a visitor sees); the claim's sentence is the figure's text alternative.
FIGURES = {"degradation": svg_charts.error_vs_depth, "no-degradation": svg_charts.fig6}


def _value(v: Any, unit: str | None) -> str:
    if isinstance(v, dict):
        return "; ".join(f"{k} {_value(x, None)}" for k, x in v.items()) + (f" ({unit})" if unit else "")
    if isinstance(v, float):
        v = f"{v:,.4g}"
    elif isinstance(v, int):
        v = f"{v:,}"
    return f"{v}" + (f" ({unit})" if unit else "")


def _ours(c: dict[str, Any]) -> str:
    """The "Ours" line: says in the line itself when it measures something else than the paper's."""
    if c["ours"] == "—":
        return "- Ours: none (not reproducible here)"
    other = c.get("paper_unit") and c.get("unit") and c["paper_unit"] != c["unit"]
    return f"- Ours{', a different measure' if other else ''}: {_value(c['ours'], c.get('unit'))}"


def section(n: int, c: dict[str, Any]) -> str:
    paper_unit = c.get("paper_unit") or (None if isinstance(c["paper"], str) else c.get("unit"))
    return (f"#### {n}. {c['claim']}\n\n**{STATUS_TEXT[c['status']]}** · {c['section']}\n\n"
            f"- The paper: {_value(c['paper'], paper_unit)}\n{_ours(c)}\n\n{c['why']}")


def how_to_read() -> str:
    """What each status means and the noise rule, in one short paragraph and a list."""
    return ("**How to read a status.** " + noise.RULE + " A status claims no more than the paper's own words "
            "and this noise allow; our CIFAR-10 numbers come from a JPEG re-encoded copy of CIFAR-10 and a schedule "
            "a quarter of the paper's, so they sit above the paper's.\n\n"
            + "\n".join(f"- **{STATUS_TEXT[s]}**: {claims.MEANING[s]}." for s in claims.STATUSES))


def tally(found: list[dict[str, Any]]) -> str:
    """"The paper's experiments (14): 1 reproduced, …" for every group."""
    return "  \n".join(f"{claims.GROUPS[g]} ({sum(n.values())}): " + ", ".join(f"{k} {s}" for s, k in n.items()) + "."
                       for g, n in claims.counts(found).items())


def paper_json() -> list[dict[str, Any]]:
    return claims.claims()


def build(tabs: gr.Tabs) -> None:
    """The tab; its buttons switch ``tabs`` to the tab that explores each claim."""
    gr.Markdown("### The paper, claim by claim\n" + INTRO)
    found = claims.claims()  # the stored files, read when the app is built (they do not change while it runs)
    gr.Markdown(f"{len(found)} claims:  \n" + tally(found))
    gr.Markdown(how_to_read())
    grouped = [c for g in claims.GROUPS for c in found if c["group"] == g]
    for n, c in enumerate(grouped, 1):
        if n == 1 or c["group"] != grouped[n - 2]["group"]:
            gr.Markdown(f"### {claims.GROUPS[c['group']]}")
        with gr.Group():
            figure = FIGURES.get(c["id"])
            if figure is not None and stored_runs():
                with gr.Row():
                    with gr.Column(scale=3, min_width=300):
                        gr.Markdown(section(n, c), padding=True)
                    with gr.Column(scale=2, min_width=300):
                        gr.HTML(figure(stored_runs(), label=c["why"]), padding=True)
            else:
                gr.Markdown(section(n, c), padding=True)
            button = gr.Button(f"Explore in {TAB_NAMES[c['tab']]} →", size="sm", variant="secondary")
            button.click(lambda tab=c["tab"]: gr.Tabs(selected=tab), None, tabs, api_name=False, queue=False)
    api = gr.Button(visible=False)
    result = gr.JSON(visible=False)
    api.click(paper_json, None, result, api_name="paper", queue=False)
