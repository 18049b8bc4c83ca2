"""How long the "Inside trained nets" tab's live computations take on this machine.

    python -m benchmarks.inside_speed [--quick]

Issue #15's target: a live 1-D loss slice within about 30 s on 2 vCPU. Measured through the tab's own
handlers (as a request runs them), on the trained checkpoints in assets/checkpoints/: the slice at the tab's
default settings and at the largest depth, and the live lesion study at its default (200 images) and at
its cap (500). The stored results' own cost is in
their files (assets/inside/*.json, "meta").
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from resnet_demo.nets.trainer import device_label
from resnet_demo.ui import inside as tab


def timed(fn, *args) -> float:
    t0 = time.perf_counter()
    fn(*args, progress=lambda *a, **k: None)
    return time.perf_counter() - t0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    print(f"{device_label(torch.device('cpu'))}, torch {torch.__version__}")
    tab.block_ratios()  # loads the data and checkpoints once, as the first page view does
    slices = [(20, 128, 21)] if args.quick else [(20, 128, 21), (56, 128, 21), (56, 500, 41)]
    lesions = [(20, 100)] if args.quick else [(56, 200), (56, 500)]
    ok = True
    print("| live computation | seconds | target |\n|---|---|---|")
    for depth, images, points in slices:
        s = timed(tab.loss_slice, depth, images, points)
        target = 30.0 if (depth, images, points) == (20, 128, 21) or depth == 56 and points == 21 else None
        ok &= target is None or s <= target
        print(f"| 1-D slice, nets {depth}, {images} images, {points} points | {s:.1f} | {target or ''} |", flush=True)
    for depth, images in lesions:
        s = timed(tab.lesion, depth, images)
        print(f"| lesion study, nets {depth}, {images} images, {tab.LIVE_DRAWS} draws per k | {s:.1f} | |", flush=True)
    print("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
