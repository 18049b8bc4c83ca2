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
    table = "\n".join(f"| {k} | {v} |" for k, v in rows)
    if model_name.startswith("cifar-"):
        seen = ("The network sees the whole image, squeezed to 32×32 as CIFAR-10's images are, so the heatmap "
                "(8×8 at its last stage) covers all of it.")
    else:
        seen = "The network sees only the centre crop; the rest of the image is dimmed."
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
    note = (f"*An example, computed once when the app first served this page: {FIRST_PHOTO} through "
            f"{FIRST_MODEL}, which needs no download. Upload a photo, paste a URL or pick an example, choose a "
            "model, press Classify.*\n\n")
    return {label: p for label, p in pred.top}, heat, note + details


def first_view():
    """What the tab shows when the page loads: an example photo already classified by an offline model. The
    image input stays empty: a URL pasted next must not lose to an upload the user never made."""
    try:
        return _first_result()
    except (weights.WeightsUnavailable, weights.UnknownModel, InputError):  # no checkpoint: an empty tab
        return gr.skip(), gr.skip(), gr.skip()


def build() -> list:
    gr.Markdown("Upload a photo or paste an image URL, pick a ResNet, and see its top-5 ImageNet labels and "
                "where it looked. The CIFAR-10 models were trained by this project and work with no network.")
    with gr.Row():
        with gr.Column():
            image = gr.Image(label="Image", type="filepath", sources=["upload", "clipboard"], height=320)
            url = gr.Textbox(label="…or an image URL", placeholder="https://…/photo.jpg", max_lines=1)
            choices = [(classifiers.describe_key(k), k) for k in classifiers.model_names()]
            model = gr.Dropdown(choices, value="resnet50", label="Model")
            button = gr.Button("Classify", variant="primary")
            gr.Examples([[str(p)] for p in sorted(EXAMPLES.iterdir())], inputs=[image], label="Example photos")
        with gr.Column():
            labels = gr.Label(num_top_classes=5, label="Top-5")
            heat = gr.Image(label="Grad-CAM", type="filepath", interactive=False, height=320)
            details = gr.Markdown()
    gr.on([button.click, url.submit], classify, inputs=[image, url, model], outputs=[labels, heat, details],
          api_name="classify", preprocess=False, concurrency_id="classify", concurrency_limit=2, time_limit=120)
    return [labels, heat, details]
