"""The Classify tab: an upload or a URL through a pretrained ResNet, top-5, Grad-CAM, details."""
from __future__ import annotations

import functools
import time
from pathlib import Path
from typing import Any

import gradio as gr
from PIL import Image

from .. import classifiers, gradcam, weights
from ..images import InputError, load_input
from ..settings import EXAMPLES_DIR
from ..threads import on_inference_thread
from .common import TempSlots, upload_path

EXAMPLES = EXAMPLES_DIR
DISPLAY_MAX = 768  # the heatmap image sent back is at most this many pixels on its long side
HEATMAPS = TempSlots("resnet-lab-heatmaps", slots=64)
FIRST_VIEW = TempSlots("resnet-lab-first-view", slots=1)  # written once: the first view's heatmap
FIRST_PHOTO, FIRST_MODEL = "chelsea.png", "cifar-resnet56"  # offline: shown with no download


def _save_heatmap(image: Image.Image, folder: Path | None = None) -> str:
    """Write the heatmap to a file of its own (in a bounded folder) and return its path.

    Returning a PIL image makes Gradio write it to a cache path named by its content *in place*, so
    two users who get the same heatmap at once can download a half-written file (measured under load:
    'peer closed connection'). A file path is copied into the cache under a staging name and renamed."""
    path = (folder or HEATMAPS.next()) / "gradcam.jpg"
    image.save(path, "JPEG", quality=90)
    return str(path)


def _display_copy(image: Image.Image) -> Image.Image:
    """The image at most DISPLAY_MAX on its long side, made without a full-size copy first."""
    w, h = image.size
    scale = DISPLAY_MAX / max(w, h)
    if scale >= 1:
        return image.copy()
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC,
                        reducing_gap=2.0)


def _details(pred: classifiers.Prediction, model_name: str, source: str, total_ms: float) -> str:
    rows = [("model time", f"{pred.model_ms:.1f} ms (forward + Grad-CAM)"), ("total time", f"{total_ms:.0f} ms"),
            ("image", f"{pred.image_size[0]}x{pred.image_size[1]} from {source}")]
    for key, value in pred.info.items():
        if isinstance(value, int) and value > 10_000:
            value = f"{value / 1e6:.2f} M"
        elif isinstance(value, float):
            value = f"{value:g}" + ("%" if "acc" in key else "")
        rows.append((key, value))
    if model_name.startswith("cifar-"):  # it can only answer with these: a photo of anything else gets one of them
        rows.append((f"the {len(pred.labels)} classes it knows", ", ".join(pred.labels)))
        seen = ("The network sees the whole image, squeezed to 32×32 as CIFAR-10's images are, so the heatmap "
                "(8×8 at its last stage) covers all of it.")
    else:
        seen = "The network sees only the centre crop; the rest of the image is dimmed."
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    return (f"**{classifiers.describe_key(model_name)}**\n\n| measure | value |\n|---|---|\n{table}\n\n"
            f"The heatmap is Grad-CAM on the last stage: where evidence for the top label was found. {seen}")


def _predict_and_draw(image: Image.Image, model_name: str, progress=None,
                      folder: Path | None = None) -> tuple[classifiers.Prediction, str]:
    """Every torch op of a request (the model, Grad-CAM, the heatmap's upsampling): on the inference thread."""
    pred = classifiers.classify(image, model_name, progress=progress)
    shown = _display_copy(image)
    heat = _save_heatmap(gradcam.overlay(shown, pred.heatmap(shown.size), pred.scaled_box(shown.size)), folder)
    return pred, heat


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
        pred, heat = on_inference_thread(_predict_and_draw, image, model_name or "resnet50", on_download)
    except (weights.WeightsUnavailable, weights.UnknownModel) as e:
        raise gr.Error(str(e)) from None
    total_ms = (time.perf_counter() - t0) * 1000
    return {label: p for label, p in pred.top}, heat, _details(pred, model_name or "resnet50", source, total_ms)


@functools.lru_cache(maxsize=1)
def _first_result() -> tuple[dict[str, float], str, str]:
    t0 = time.perf_counter()
    image, _ = load_input(str(EXAMPLES / FIRST_PHOTO), None)
    pred, heat = on_inference_thread(_predict_and_draw, image, FIRST_MODEL, None, FIRST_VIEW.next())
    details = _details(pred, FIRST_MODEL, f"the example photo {FIRST_PHOTO}", (time.perf_counter() - t0) * 1000)
    note = (f"*The example photo {FIRST_PHOTO} through {FIRST_MODEL}, a CIFAR-10 net that needs no download. "
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


def build() -> list:
    gr.Markdown("Upload a photo or paste an image URL, pick a ResNet, and see its top-5 ImageNet labels and "
                "where it looked. The CIFAR-10 models were trained by this project and work with no network.")
    with gr.Row():
        with gr.Column():
            first = EXAMPLES / FIRST_PHOTO
            image = gr.Image(str(first) if first.exists() else None, label="Image", type="filepath",
                             sources=["upload", "clipboard"], height=320)
            url = gr.Textbox(label="…or an image URL", placeholder="https://…/photo.jpg", max_lines=1)
            names = classifiers.model_names()
            choices = [(classifiers.describe_key(k), k) for k in names]
            model = gr.Dropdown(choices, value=FIRST_MODEL if FIRST_MODEL in names else "resnet50", label="Model")
            button = gr.Button("Classify", variant="primary")
            photos = sorted(EXAMPLES.iterdir())
            examples = gr.Examples([[str(p)] for p in photos], inputs=[image],
                                   example_labels=[p.stem for p in photos],  # each button's name
                                   label="Example photos (click one to classify it)")
        with gr.Column():
            labels = gr.Label(num_top_classes=5, label="Top-5")
            heat = gr.Image(label="Grad-CAM", type="filepath", interactive=False, height=320)
            details = gr.Markdown()
    with gr.Accordion("Use it in your own code", open=False):
        gr.Markdown(classifiers.SNIPPET_NOTE)
        code = gr.Code(classifiers.code_snippet(model.value), language="python", label="Python",
                       interactive=False)
    model.change(classifiers.code_snippet, model, code, api_name=False, queue=False)
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
    return outputs


def _classify_or_warn(upload: Any, url: str | None, model_name: str, progress=gr.Progress()):
    """``classify`` for the page: a refusal (no image, a bad file or URL, missing weights) becomes one message
    where the result would be, and a notice, instead of an "Error" badge on every output."""
    try:
        if not upload and not (url and url.strip()):
            raise gr.Error("Upload an image or paste an image URL first.")
        return classify(upload, url, model_name, progress)
    except gr.Error as e:
        gr.Warning(e.message)
        return None, None, f"**Not classified.** {e.message}"


def _clear_image_for_url(text: str):
    return gr.update(value=None) if text and text.strip() else gr.skip()


def _classify_image(upload: Any, model_name: str, progress=gr.Progress()):
    return classify(upload, None, model_name, progress)
