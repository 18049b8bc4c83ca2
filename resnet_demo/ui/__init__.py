"""The Gradio app: one module per tab, assembled here."""
from __future__ import annotations

import gradio as gr

from . import anatomy, classify, depth, gradflow

TITLE = "ResNet Lab — why deep residual learning works"


def build_demo() -> gr.Blocks:
    # delete_cache: uploads and outputs older than an hour are removed every hour (a long-lived Space)
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\nAn interactive companion to He, Zhang, Ren, Sun, "
                    "[Deep Residual Learning for Image Recognition](https://arxiv.org/abs/1512.03385) (2015).")
        with gr.Tab("Classify"):
            classify.build()
        with gr.Tab("Depth"):
            depth.build()
        with gr.Tab("Gradient flow"):
            first_view, fig7 = gradflow.build()
        with gr.Tab("Anatomy"):
            network, outputs = anatomy.build()
        # computed when the first page loads (then cached), not while the app starts
        demo.load(anatomy.architecture, network, outputs, api_name=False, concurrency_id="anatomy")
        demo.load(gradflow.first_view, None, first_view, api_name=False, concurrency_id="gradflow_stored")
        demo.load(gradflow.fig7, None, fig7, api_name=False, concurrency_id="fig7")
    return demo
