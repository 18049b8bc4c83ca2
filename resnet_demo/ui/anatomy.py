"""The Anatomy tab: what the networks are, counted from their modules (Table 1, Fig. 3, Fig. 5, Table 3)."""
from __future__ import annotations

from typing import Any

import gradio as gr

from ..experiments import anatomy
from ..views import anatomy_html
from . import links


def architecture(name: str) -> tuple[str, str, str, str, dict[str, Any]]:
    if name not in anatomy.network_names():
        raise gr.Error(f"Unknown network {name!r}; choose one of {', '.join(anatomy.network_names())}.")
    a = anatomy.anatomy(name)
    return (anatomy_html.block_figure(a) + anatomy_html.diagram(a), anatomy_html.table1(a),
            anatomy_html.shortcuts(name), anatomy_html.comparisons(), a.json())


def build() -> tuple[gr.Dropdown, list[gr.components.Component]]:
    """The tab's components; its content is filled by ``architecture`` when the page loads (see build_demo),
    not here, so that counting does not slow the app's start."""
    gr.Markdown(
        "### What a ResNet is\nA residual block computes y = F(x) + x (the paper's Fig. 2): its layers "
        "learn only the change F to their input, and the shortcut carries x unchanged. Pick a network to "
        "see its stages, blocks and shortcuts, and the paper's Table 1 computed from the very modules the "
        "other tabs run.",
        elem_id=links.elem_id("anatomy", "network"),
    )
    choice = gr.Dropdown([(anatomy.label(n), n) for n in anatomy.network_names()], value="resnet50", label="Network")
    table = gr.Markdown()
    with gr.Accordion("One block, and the stack block by block", open=True):
        picture = gr.HTML()
    options = gr.Markdown()
    compared = gr.Markdown()
    result = gr.JSON(label="Counts (JSON)", visible=False)
    outputs = [picture, table, options, compared, result]
    # .input, not .change: a deep link sets the dropdown too, and computes the view itself (build_demo), once
    choice.input(architecture, choice, outputs, api_name="architecture", concurrency_id="anatomy", concurrency_limit=2)
    return choice, outputs
