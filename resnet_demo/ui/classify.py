"""The Classify tab: an upload or a URL through a pretrained ResNet, top-5, Grad-CAM, details."""
from __future__ import annotations

import functools
import shutil
import time
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from ..base.settings import EXAMPLES_DIR
from ..base.stored import how_computed
from ..base.threads import on_inference_thread
from ..experiments import residual_stream
from ..serving import classifiers, weights
from ..serving import first_view as opening
from ..serving.images import InputError, load_input
from ..serving.recent import Recent
from ..views import classify_text, plots_classify
from . import links
from .common import TempSlots, upload_path

EXAMPLES = EXAMPLES_DIR
HEATMAPS = TempSlots("resnet-lab-heatmaps", slots=64)
FIRST_VIEW = TempSlots("resnet-lab-first-view", slots=1)  # written once: the first view's heatmap
# The article's code path (the Paper tab links here): a cat photo by URL through resnet50(pretrained=True), which
# loads torchvision's V1 weights. The photo is scikit-image's "chelsea" (CC0; our bundled example), pinned to a
# commit so the address never moves.
ARTICLE_URL = ("https://raw.githubusercontent.com/scikit-image/scikit-image/"
               "60764df36c34c5202554aae507722836b6108d10/skimage/data/chelsea.png")
ARTICLE_MODEL = "resnet50.IMAGENET1K_V1"
ARTICLE_LABEL = "The article's example: a cat photo by URL through resnet50(pretrained=True)"


def _save_heatmap(image: Image.Image, folder: Path | None = None) -> str:
    """Write the heatmap to a file of its own (in a bounded folder) and return its path.

    Returning a PIL image makes Gradio write it to a cache path named by its content *in place*, so
    two users who get the same heatmap at once can download a half-written file (measured under load:
    'peer closed connection'). A file path is copied into the cache under a staging name and renamed."""
    path = (folder or HEATMAPS.next()) / "gradcam.jpg"
    image.save(path, "JPEG", quality=90)
    return str(path)


def _predict_and_draw(image: Image.Image, model_name: str, progress=None,
                      folder: Path | None = None) -> tuple[classifiers.Prediction, str]:
    """Every torch op of a request (the model, Grad-CAM, the heatmap's upsampling): on the inference thread."""
    pred = classifiers.classify(image, model_name, progress=progress)
    return pred, _save_heatmap(opening.overlay(image, pred), folder)


def classify(upload: Any, url: str | None, model_name: str, progress=gr.Progress()):
    t0 = time.perf_counter()
    try:
        image, source = load_input(upload_path(upload), url)
    except InputError as e:
        raise gr.Error(str(e)) from None
    if upload and url and url.strip():
        gr.Warning("Both an upload and a URL were given: the upload was classified. Clear it to use the URL.")

    def on_download(done: int, total: int) -> None:
        progress(done / max(total, 1), desc=f"Downloading weights: {done / 2**20:.0f} of {total / 2**20:.0f} MB")

    try:
        pred, heat = on_inference_thread(_predict_and_draw, image, model_name or classifiers.DEFAULT_MODEL, on_download)
    except (weights.WeightsUnavailable, weights.UnknownModel) as e:
        raise gr.Error(str(e)) from None
    total_ms = (time.perf_counter() - t0) * 1000
    details = classify_text.details(pred, model_name or classifiers.DEFAULT_MODEL, source, total_ms)
    return {label: p for label, p in pred.top}, heat, details


@functools.lru_cache(maxsize=1)
def _first_result() -> tuple[dict[str, float], str, str]:
    stored = opening.stored()
    if stored is not None:
        pred, stored_heat, total_ms, provenance = stored
        heat = str(shutil.copy(stored_heat, FIRST_VIEW.next() / "gradcam.jpg"))  # served from the temp folder
    else:  # no stored file (or an older one): computed once per process
        pred, overlay, total_ms = on_inference_thread(opening.compute)
        heat, provenance = _save_heatmap(overlay, FIRST_VIEW.next()), "Computed when the first page loaded."
    details = classify_text.details(pred, opening.MODEL, f"the example photo {opening.PHOTO}", total_ms)
    details += how_computed(provenance)
    note = (f"*The example photo {opening.PHOTO} through {opening.MODEL}, a CIFAR-10 net that needs no download. "
            "Pick an example or upload a photo (it is classified at once), or paste a URL; choose ResNet-50 for "
            "ImageNet's 1,000 classes.*\n\n")
    return {label: p for label, p in pred.top}, heat, note + details


def first_view():
    """What the tab shows when the page loads: the example photo in the image box, classified by the model the
    model box shows (an offline one). Typing a URL clears the image box, so the URL is what gets classified."""
    try:
        return _first_result()
    except (weights.WeightsUnavailable, weights.UnknownModel, InputError):  # no checkpoint: an empty tab
        return gr.skip(), gr.skip(), gr.skip()


def build() -> tuple[list, gr.Accordion]:
    """The tab; returns the outputs ``first_view`` fills, and the "Block by block" accordion (a deep link opens it)."""
    gr.Markdown("Upload a photo or paste an image URL, pick a ResNet, and see its top-5 ImageNet labels and "
                "where it looked. The CIFAR-10 models were trained by this project and work with no network.",
                elem_id=links.elem_id("classify", "classify"))
    with gr.Row():
        with gr.Column():
            first = EXAMPLES / opening.PHOTO
            image = gr.Image(str(first) if first.exists() else None, label="Image", type="filepath",
                             sources=["upload", "clipboard"], height=320)
            url = gr.Textbox(label="…or an image URL", placeholder="https://…/photo.jpg", max_lines=1)
            names = classifiers.model_names()
            choices = [(classify_text.describe_key(k), k) for k in names]
            model = gr.Dropdown(choices, value=opening.MODEL if opening.MODEL in names else classifiers.DEFAULT_MODEL,
                                label="Model")
            button = gr.Button("Classify", variant="primary")
            photos = sorted(EXAMPLES.iterdir())
            examples = gr.Examples([[str(p)] for p in photos], inputs=[image],
                                   example_labels=[p.stem for p in photos],  # each button's name
                                   label="Example photos (click one to classify it)")
            article = gr.Button(ARTICLE_LABEL, size="sm", variant="secondary")
        with gr.Column():
            labels = gr.Label(num_top_classes=5, label="Top-5")
            heat = gr.Image(label="Grad-CAM", type="filepath", interactive=False, height=320)
            details = gr.Markdown()
    with gr.Accordion("Use it in your own code", open=False):
        note = gr.Markdown(classify_text.snippet_note(model.value))
        code = gr.Code(classify_text.code_snippet(model.value), language="python", label="Python",
                       interactive=False)
    model.change(lambda k: (classify_text.code_snippet(k), classify_text.snippet_note(k)), model, [code, note],
                 api_name=False, queue=False)
    stream = _build_stream(image, url, model)
    outputs = [labels, heat, details]
    # The page's Classify: an empty input gets one message (a warning), not an "Error" badge on every output.
    gr.on([button.click, url.submit], _classify_or_warn, inputs=[image, url, model], outputs=outputs,
          api_name=False, preprocess=False, concurrency_id="classify", concurrency_limit=2, time_limit=120)
    # The API's /classify: the same function; a refusal is an error the client receives (README, API).
    api = gr.Button(visible=False)
    api.click(classify, inputs=[image, url, model], outputs=outputs, api_name="classify", preprocess=False,
              concurrency_id="classify", concurrency_limit=2, time_limit=120)
    # A picked example or an upload is classified at once; typing a URL clears the image (the URL is what
    # the next Classify uses), picking an image clears the URL.
    examples.load_input_event.then(_classify_image, [image, model], outputs, api_name=False, preprocess=False,
                                   concurrency_id="classify")
    image.upload(lambda: "", None, url, api_name=False, queue=False).then(
        _classify_image, [image, model], outputs, api_name=False, preprocess=False, concurrency_id="classify")
    url.change(_clear_image_for_url, url, image, api_name=False, queue=False)
    article.click(article_example, None, [image, url, model], api_name=False, queue=False).then(
        _classify_or_warn, [image, url, model], outputs, api_name=False, preprocess=False, concurrency_id="classify")
    return outputs, stream


def article_example():
    """The article's example set up as the article runs it: no upload, the photo's URL, the V1 weights."""
    return None, ARTICLE_URL, ARTICLE_MODEL


def refused(message: str, what: str = "Not classified") -> str:
    """The one way the page shows a refusal: a notice, and this sentence where the result would be (the caller
    clears the stale result beside it)."""
    gr.Warning(message)
    return f"**{what}.** {message}"


def _classify_or_warn(upload: Any, url: str | None, model_name: str, progress=gr.Progress()):
    """``classify`` for the page (the button, a URL, an upload, an example): a refusal (no image, a bad file or
    URL, missing weights) clears the previous result and says why where the result would be, instead of an
    "Error" badge on every output. The article's example falls back to the same photo bundled with the app
    when its URL cannot be fetched, and says so."""
    try:
        return classify(upload, url, model_name, progress)  # no image: load_input's message
    except gr.Error as e:
        if not upload and (url or "").strip() == ARTICLE_URL:
            try:
                label, heat, details = classify(str(EXAMPLES / opening.PHOTO), None, model_name, progress)
            except gr.Error as bundled:
                return None, None, refused(f"{e.message} The same photo, bundled with the app, could not be "
                                           f"classified either: {bundled.message}")
            else:
                gr.Info("The article's photo could not be fetched: the same photo, bundled with the app, was used.")
                return label, heat, (f"*The article's URL could not be fetched ({e.message}), so the same photo "
                                     f"bundled with the app ({opening.PHOTO}) was classified instead.*\n\n{details}")
        return None, None, refused(e.message)


def _clear_image_for_url(text: str):
    return gr.update(value=None) if text and text.strip() else gr.skip()


def _classify_image(upload: Any, model_name: str, progress=gr.Progress()):
    return _classify_or_warn(upload, None, model_name, progress)


# -- the residual stream: block by block, on the image and model above ---------------------------------------------

STREAM_INTRO = (
    "What each block does to **this** image: how much it changes what it is given, and what the answer becomes "
    "when that block alone is deleted (a residual block keeps its shortcut, as in Veit et al.'s lesion study). "
    "With a CIFAR-10 model its plain twin is shown too.")


def _stream(upload: Any, url: str | None, model_name: str) -> tuple[list, float, str]:
    """The streams (the model's, then its plain or residual twin's) for the image Classify would use; the figure and
    the text put the residual net first."""
    try:
        image, source = load_input(upload_path(upload), url)
    except InputError as e:
        raise gr.Error(str(e)) from None
    key = model_name or classifiers.DEFAULT_MODEL
    t0 = time.perf_counter()
    try:
        streams = [on_inference_thread(residual_stream.on_image, image, key)]
        twin = residual_stream.twin(key)
        if twin:
            streams.append(on_inference_thread(residual_stream.on_image, image, twin))
    except (weights.WeightsUnavailable, weights.UnknownModel, residual_stream.NotDecomposable) as e:
        raise gr.Error(str(e)) from None
    return streams, time.perf_counter() - t0, source


def _stream_outputs(streams: list, elapsed: float, source: str) -> tuple[Any, str, dict[str, Any]]:
    """The figure, the summary and the JSON (the model's stream, its twin's under "twin")."""
    data = streams[0].json() | ({"twin": streams[1].json()} if len(streams) == 2 else {})
    figure = plots_classify.residual_stream(classify_text.residual_first(streams))
    return figure, classify_text.stream_text(streams, elapsed, source), data


def residual_stream_api(upload: Any, url: str | None, model_name: str):
    """/residual_stream: the figure, the summary and the JSON of the model's stream (and its twin's)."""
    return _stream_outputs(*_stream(upload, url, model_name))


STREAMS = Recent(32)  # "inside one block" redraws the stream the page shows, by the key it holds


def _stream_page(upload: Any, url: str | None, model_name: str):
    """The page's button: the API's outputs, the streams kept for "inside one block", and the block picker."""
    try:
        streams, elapsed, source = _stream(upload, url, model_name)
    except gr.Error as e:
        return None, refused(e.message, "Not computed"), None, "", gr.update(choices=[], value=None), None, ""
    first = streams[0]
    name = first.blocks[0]["name"]
    choices = [(classify_text.block_choice(b, len(first.blocks)), b["name"]) for b in first.blocks]
    picker = gr.update(choices=choices, value=name, interactive=True)
    return (*_stream_outputs(streams, elapsed, source), STREAMS.put(first), picker,
            plots_classify.inside_block(first, name), residual_stream.block_sentence(first, name))





def _inside(key: str | None, name: str | None):
    stream = STREAMS.get(key)
    if stream is None or not name:
        return gr.skip(), gr.skip()
    return plots_classify.inside_block(stream, name), residual_stream.block_sentence(stream, name)


def _build_stream(image, url, model) -> gr.Accordion:
    with gr.Accordion("Block by block: the residual stream of this photo", open=False,
                      elem_id=links.elem_id("classify", "stream")) as accordion:
        gr.Markdown(STREAM_INTRO)
        button = gr.Button("Delete each block in turn", variant="primary")
        figure = gr.Plot(label="Each block: its change to the input, and the answer with it deleted")
        text = gr.Markdown()
        with gr.Accordion("The numbers (JSON, as /residual_stream returns them)", open=False):
            data = gr.JSON(label="Per block")
        gr.Markdown("### Inside one block\nPick a block to see x, F(x) and their sum as feature maps.")
        block = gr.Dropdown([], label="Block", interactive=False)
        maps = gr.Plot(label="x, F(x) and F(x) + x, feature maps")
        maps_text = gr.Markdown()
        stream_key = gr.Textbox(visible=False)  # STREAMS' key of the stream shown
    button.click(_stream_page, [image, url, model], [figure, text, data, stream_key, block, maps, maps_text],
                 api_name=False, preprocess=False, concurrency_id="residual_stream", concurrency_limit=1,
                 time_limit=60)
    api = gr.Button(visible=False)
    api.click(residual_stream_api, [image, url, model], [figure, text, data], api_name="residual_stream",
              preprocess=False, concurrency_id="residual_stream", concurrency_limit=1, time_limit=60)
    block.change(_inside, [stream_key, block], [maps, maps_text], api_name=False, queue=False)
    return accordion
