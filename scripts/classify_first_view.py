"""Write assets/first_view/: what Classify shows when the page opens (the example photo through the offline CIFAR
model: top-5, details, the Grad-CAM overlay), so that a page load computes nothing (tests/test_ui.py classifies
the photo again and compares).

    python -m scripts.classify_first_view

Rerun it after changing the example photo, the opening model or its checkpoint.
"""
from __future__ import annotations

import time

from resnet_demo.base.settings import FIRST_VIEW_DIR
from resnet_demo.base.stored import Provenance, write
from resnet_demo.serving import first_view

if __name__ == "__main__":
    t0 = time.perf_counter()
    first_view.compute()  # once to load the model: the stored times are a warm call's, as a visitor's
    pred, overlay, total_ms = first_view.compute()
    FIRST_VIEW_DIR.mkdir(exist_ok=True)
    overlay.save(FIRST_VIEW_DIR / "gradcam.jpg", "JPEG", quality=90)
    payload = {"photo": first_view.PHOTO, "model": first_view.MODEL, "top": pred.top,
               "image_size": pred.image_size, "box": pred.box, "model_ms": round(pred.model_ms, 1),
               "total_ms": round(total_ms, 1), "info": pred.info, "labels": pred.labels,
               "kind": pred.kind}
    write(FIRST_VIEW_DIR / "result.json", payload, Provenance.measured(t0, "scripts.classify_first_view"), indent=1)
    print(f"wrote {FIRST_VIEW_DIR}: {pred.top[0][0]} {pred.top[0][1]:.1%}")
