"""Write assets/anatomy.json: every count the Anatomy tab shows, for every network it offers, so that a page
load counts nothing (resnet_demo.experiments.anatomy.stored; tests/test_anatomy.py recounts them all and compares).

    python -m scripts.anatomy_counts

Rerun it after changing the networks, the counting, or the torch/torchvision versions.
"""
from __future__ import annotations

import time

import torchvision

from resnet_demo.base.settings import ANATOMY_FILE
from resnet_demo.base.stored import Provenance, write
from resnet_demo.experiments import anatomy

if __name__ == "__main__":
    t0 = time.perf_counter()
    payload = anatomy.counts()
    write(ANATOMY_FILE, payload, Provenance.measured(t0, "scripts.anatomy_counts", torchvision=torchvision.__version__))
    print(f"wrote {ANATOMY_FILE} ({ANATOMY_FILE.stat().st_size / 1e3:.0f} kB)")
