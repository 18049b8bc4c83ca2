"""Write assets/anatomy.json: every count the Anatomy tab shows, for every network it offers, so that a page
load counts nothing (resnet_demo.experiments.anatomy.stored; tests/test_anatomy.py recounts them all and compares).

    python -m scripts.anatomy_counts

Rerun it after changing the networks, the counting, or the torch/torchvision versions.
"""
from __future__ import annotations

import json
import os
import time

import torch
import torchvision

from resnet_demo.base.settings import ANATOMY_FILE
from resnet_demo.experiments import anatomy
from resnet_demo.nets.train import cpu_name

if __name__ == "__main__":
    t0 = time.perf_counter()
    payload = anatomy.counts()
    payload["meta"] = {"command": "python -m scripts.anatomy_counts", "device": cpu_name(),
                       "torch": torch.__version__, "torchvision": torchvision.__version__,
                       "wall_seconds": round(time.perf_counter() - t0, 1), "date": time.strftime("%Y-%m-%d")}
    tmp = ANATOMY_FILE.with_suffix(".tmp")
    tmp.write_text(json.dumps(payload, separators=(",", ":")) + "\n", encoding="utf-8")
    os.replace(tmp, ANATOMY_FILE)
    print(f"wrote {ANATOMY_FILE} ({ANATOMY_FILE.stat().st_size / 1e3:.0f} kB)")
