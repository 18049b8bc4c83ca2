"""The Paper tab: why F(x) + x helps, then the paper's claims grouped, each with the paper's number, ours
(computed from the stored files when the page loads: ``resnet_demo.views.claims``), a status, and a button into the
view that explores it (a deep link: ``links``)."""
from __future__ import annotations

import base64
from typing import Any

import gradio as gr

from ..nets.runs import stored_runs
from ..views import claim, claims, paper_text, svg_charts
from . import links

TAB_NAMES = {"depth": "Depth", "gradflow": "Gradient flow", "anatomy": "Anatomy", "inside": "Inside trained nets",
             "classify": "Classify"}
# A small figure where one says it faster than words: the stored runs' errors against depth, and Fig. 6 in
# miniature, drawn from the same files as the Depth tab's figures, as inline SVG (svg_charts: no plotly on the
# first tab a visitor sees); the claim's sentence is the figure's text alternative.
FIGURES = {"degradation": svg_charts.error_vs_depth, "no-degradation": svg_charts.fig6}


def paper_json() -> list[dict[str, Any]]:
    return [c.json() for c in claims.claims()]


def build() -> list[tuple[gr.Button, links.Link]]:
    """The tab; returns each "Explore in …" button with the view it opens (wired in ``build_demo``, once every
    tab's controls exist)."""
    gr.Markdown("### The paper, claim by claim\n" + paper_text.INTRO)
    gr.Markdown(paper_text.WHY, elem_id=links.elem_id("paper", "why"))
    found = claims.claims()  # the stored files, read when the app is built (they do not change while it runs)
    gr.Markdown(f"{len(found)} claims:  \n" + paper_text.tally(found), elem_id=links.elem_id("paper", "claims"))
    gr.Markdown(paper_text.how_to_read())
    grouped = [c for g in claim.GROUPS for c in found if c.group == g]
    buttons = []
    for n, c in enumerate(grouped, 1):
        if n == 1 or c.group != grouped[n - 2].group:
            gr.Markdown(f"### {claim.GROUPS[c.group]}")
        with gr.Group():
            figure = FIGURES.get(c.id)
            if figure is not None and stored_runs():
                with gr.Row():
                    with gr.Column(scale=3, min_width=300):
                        gr.Markdown(paper_text.section(n, c), padding=True)
                    with gr.Column(scale=2, min_width=300):
                        svg = figure(stored_runs(), label=c.why)
                        data = base64.b64encode(svg.encode()).decode()
                        gr.HTML(f'{svg}<p><a download="{c.id}.svg" href="data:image/svg+xml;base64,{data}" '
                                'style="color:#1D4ED8">Download this figure (SVG)</a> · the runs behind it: Depth '
                                "tab</p>", padding=True)
            else:
                gr.Markdown(paper_text.section(n, c), padding=True)
            link = links.CLAIMS.get(c.id, links.Link(c.tab))
            buttons.append((gr.Button(f"Explore in {TAB_NAMES[link.tab]} →", size="sm", variant="secondary",
                                      elem_classes="explore"), link))
    api = gr.Button(visible=False)
    result = gr.JSON(visible=False)
    api.click(paper_json, None, result, api_name="paper", queue=False)
    return buttons
