"""The Gradio app: one module per tab, assembled here."""
from __future__ import annotations

import gradio as gr

from ..base.threads import flush_denormals
from ..views.plots import LEGEND
from . import anatomy, classify, depth, gradflow, inside, links, paper

TITLE = "ResNet Lab — why deep residual learning works"

# The few rules Gradio's layout does not give: a wide table scrolls inside its own box (never the page), its
# cells keep whole words, long commands wrap, a radio button or checkbox reached by the keyboard shows where
# the focus is (Gradio's theme removes their outline), and the tour bar stays at the top of the window.
CSS = """
input[type=radio]:focus-visible, input[type=checkbox]:focus-visible { outline: 3px solid #1D4ED8; outline-offset: 2px; }
.prose table { display: block; max-width: 100%; overflow-x: auto; }
.prose th, .prose td { word-break: normal; overflow-wrap: normal; min-width: 4.5em; }
/* a table wider than a phone scrolls sideways with its first column (the row's name) pinned */
.prose th:first-child, .prose td:first-child { position: sticky; left: 0; z-index: 1;
  background: var(--background-fill-primary); }
.prose code { white-space: pre-wrap; overflow-wrap: anywhere; }
#tour { position: sticky; top: 0; z-index: 20; }
@media (max-width: 640px) { #tour .prose { font-size: 13px; line-height: 1.35; } }
button[role=tab][aria-selected=true] { color: #C2410C !important; }  /* Gradio's orange is 2.8:1 on white */
.gradio-container { overflow: clip !important; }  /* hidden would make it a scroll box, and the bar not stick */
"""

# Run once when the page loads (launch(js=...)): Gradio 6.31's image input is a <button> with no accessible name;
# name every one, now and whenever Gradio draws one again, so a screen reader says what it does. And every table
# in prose is a keyboard stop: on a phone a wide one scrolls sideways, which a keyboard can do only once it has focus.
PAGE_JS = """
() => {
  const name = () => {
    document.querySelectorAll('.image-container button:not([aria-label])').forEach(b =>
      b.setAttribute('aria-label', 'Upload an image: click to choose a file, drop one here, or paste'));
    document.querySelectorAll('.prose table:not([tabindex])').forEach(t => t.setAttribute('tabindex', '0'));
  };
  name();
  new MutationObserver(name).observe(document.body, {childList: true, subtree: true});
}
"""


def theme() -> gr.themes.Base:
    """Gradio's default theme with WCAG 2.1 AA contrast: white text on the primary and Stop buttons at >= 4.5:1
    (the default orange is 2.8:1, its red 3.8:1), and the subdued text (slider ends, the footer) at 7:1. Text in
    the system's sans-serif: the bundled Source Sans Pro's bold drew capital A and B as small capitals in headings
    ("CIFᴀR")."""
    return gr.themes.Default(font=["ui-sans-serif", "system-ui", "sans-serif"]).set(
        button_primary_background_fill="#C2410C", button_primary_background_fill_hover="#9A3412",
        button_primary_border_color="#C2410C", button_primary_text_color="#FFFFFF",
        button_cancel_background_fill="#B91C1C", button_cancel_background_fill_hover="#991B1B",
        button_cancel_border_color="#B91C1C", button_cancel_text_color="#FFFFFF",
        body_text_color_subdued="#595959",
    )


def build_demo() -> gr.Blocks:
    # Before the server starts its threads: threads created later (request threads, OpenMP workers) copy this
    # thread's floating-point settings, so denormals flush everywhere (resnet_demo/base/threads.py).
    flush_denormals()
    # delete_cache: uploads and outputs older than an hour are removed every hour (a long-lived Space)
    with gr.Blocks(title=TITLE, delete_cache=(3600, 3600)) as demo:
        gr.Markdown(f"# {TITLE}\nAn interactive companion to He, Zhang, Ren, Sun, "
                    "[Deep Residual Learning for Image Recognition](https://arxiv.org/abs/1512.03385) (2015).\n\n"
                    f"<small>{LEGEND}</small>")
        with gr.Group(elem_id="tour"):  # the guided tour: one question a stop, each a deep link (links.TOUR)
            with gr.Row(equal_height=True):  # on a phone the buttons wrap under the question, full width
                with gr.Column(scale=5, min_width=300):
                    tour = gr.Markdown(f"**Guided tour** ({len(links.TOUR)} stops, one question each): from the "
                                       "degradation problem to the lesion study.", padding=True)
                with gr.Column(scale=1, min_width=240):
                    with gr.Row():
                        back = gr.Button("← Back", size="sm", interactive=False, min_width=90)
                        ahead = gr.Button("Start the tour →", size="sm", variant="primary", min_width=130)
        stop = gr.Number(-1, visible=False, precision=0)  # the tour's stop (not a gr.State: no heartbeat)
        with gr.Tabs() as tabs:
            with gr.Tab("Paper", id="paper"):
                explore = paper.build()
            with gr.Tab("Classify", id="classify"):
                classified, stream = classify.build()
            with gr.Tab("Depth", id="depth"):
                depth.build()
            with gr.Tab("Gradient flow", id="gradflow"):
                first_view, fig7 = gradflow.build()
            with gr.Tab("Anatomy", id="anatomy"):
                network, outputs = anatomy.build()
            with gr.Tab("Inside trained nets", id="inside"):
                inside_view = inside.build()
        # Deep links: the page's URL, the Paper tab's buttons and the tour open a view the same way (links.view),
        # then NAVIGATE_JS puts its URL in the address bar and scrolls to its section.
        url = gr.Textbox(visible=False)
        opened = [tabs, network, stream, url]
        # A view that names an Anatomy network sets the dropdown, whose own event fires on a reader's input only:
        # the view is computed here, once.
        for button, link in explore:
            opens = button.click(lambda link=link: links.view(link), None, opened, api_name=False, queue=False).then(
                None, url, None, js=links.NAVIGATE_JS, api_name=False, queue=False)
            if link.net:
                opens.then(anatomy.architecture, network, outputs, api_name=False, concurrency_id="anatomy")
        for button, step in ((back, -1), (ahead, 1)):
            button.click(lambda i, step=step: links.tour_step(i, step), stop, [stop, tour, back, ahead, *opened],
                         api_name=False, queue=False).then(None, url, None, js=links.NAVIGATE_JS, api_name=False,
                                                           queue=False).then(
                anatomy.architecture, network, outputs, api_name=False, concurrency_id="anatomy")
        # computed when the first page loads (then cached), not while the app starts; Anatomy after the route,
        # which may choose its network
        demo.load(classify.first_view, None, classified, api_name=False, concurrency_id="classify_first")
        demo.load(links.route, None, opened, api_name=False, queue=False).then(
            None, url, None, js=links.NAVIGATE_JS, api_name=False, queue=False).then(
            anatomy.architecture, network, outputs, api_name=False, concurrency_id="anatomy")
        demo.load(gradflow.first_view, None, first_view, api_name=False, concurrency_id="gradflow_stored")
        demo.load(gradflow.fig7, None, fig7, api_name=False, concurrency_id="fig7")
        demo.load(inside.first_view, None, inside_view, api_name=False, concurrency_id="inside_stored")
    return demo
