"""What Classify shows when the page opens: the example photo through an offline CIFAR model, computed by
``python -m scripts.classify_first_view`` and stored in assets/first_view/ (so a page load computes nothing),
or computed once per process where no stored result matches."""
from __future__ import annotations

import time
from pathlib import Path

from PIL import Image

from ..base.settings import EXAMPLES_DIR, FIRST_VIEW_DIR
from ..base.stored import read as read_stored
from . import classifiers, gradcam
from .images import load_input

PHOTO, MODEL = "chelsea.png", "cifar-resnet56"  # offline: shown with no download
DISPLAY_MAX = 768  # the heatmap image sent back is at most this many pixels on its long side


def display_copy(image: Image.Image) -> Image.Image:
    """The image at most DISPLAY_MAX on its long side, made without a full-size copy first."""
    w, h = image.size
    scale = DISPLAY_MAX / max(w, h)
    if scale >= 1:
        return image.copy()
    return image.resize((max(1, round(w * scale)), max(1, round(h * scale))), Image.Resampling.BICUBIC,
                        reducing_gap=2.0)


def overlay(image: Image.Image, pred: classifiers.Prediction) -> Image.Image:
    """The Grad-CAM overlay as shown: on a display-sized copy of the image, the unseen region dimmed."""
    shown = display_copy(image)
    return gradcam.overlay(shown, pred.heatmap(shown.size), pred.scaled_box(shown.size))


def compute() -> tuple[classifiers.Prediction, Image.Image, float]:
    """The example photo through the opening model: the prediction, the Grad-CAM overlay as shown, and the time
    taken (ms). ``python -m scripts.classify_first_view`` stores it; a page load reads what it stored."""
    t0 = time.perf_counter()
    image, _ = load_input(str(EXAMPLES_DIR / PHOTO), None)
    pred = classifiers.classify(image, MODEL)
    return pred, overlay(image, pred), (time.perf_counter() - t0) * 1000


def stored() -> tuple[classifiers.Prediction, Path, float, str] | None:
    """The stored opening result (assets/first_view/), if it is for today's photo and model."""
    stored, heat = read_stored(FIRST_VIEW_DIR / "result.json"), FIRST_VIEW_DIR / "gradcam.jpg"
    if stored is None or not heat.exists():
        return None
    r = stored.data
    if (r["photo"], r["model"]) != (PHOTO, MODEL):
        return None
    pred = classifiers.Prediction([tuple(t) for t in r["top"]], None, tuple(r["image_size"]), tuple(r["box"]),
                                  r["model_ms"], r["info"], r["labels"], r["kind"])
    return pred, heat, r["total_ms"], (f"Stored by {stored.provenance.line()} A page load computes nothing; the "
                                       "times are that run's.")
