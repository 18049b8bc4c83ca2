"""Memory: RSS after loading ResNet-50, and after 200 classify calls (with Grad-CAM) -- no growth.

    python -m benchmarks.memory [--calls 200]

The baseline is the process's RSS with torch and the library imported. Growth is the RSS change from
call 20 to the last call (the first calls warm allocator pools); it should stay near zero.
"""
from __future__ import annotations

import argparse
import os
import sys

from benchmarks._common import rss_mb, seeded_torch_home
from resnet_demo.base.settings import EXAMPLES_DIR


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--calls", type=int, default=200)
    args = p.parse_args()
    seeded_torch_home(("resnet50",))
    from resnet_demo.serving import classifiers
    from resnet_demo.serving.images import decode_image

    base = rss_mb(os.getpid())
    classifiers.MODELS.get("resnet50")
    loaded = rss_mb(os.getpid())
    blobs = [p.read_bytes() for p in sorted((EXAMPLES_DIR).iterdir())]
    marks = {}
    for i in range(args.calls):
        pred = classifiers.classify(decode_image(blobs[i % len(blobs)]), "resnet50")
        pred.heatmap()
        if i + 1 in (20, args.calls):
            marks[i + 1] = rss_mb(os.getpid())
    growth = marks[args.calls] - marks[20]
    print("| import MB | after loading ResNet-50 MB | after 20 calls MB | after "
          f"{args.calls} calls MB | growth 20->{args.calls} MB |")
    print("|---|---|---|---|---|")
    print(
        f"| {base:.0f} | {loaded:.0f} (+{loaded - base:.0f}) | {marks[20]:.0f} | {marks[args.calls]:.0f} | "
        f"{growth:+.0f} |"
    )
    return 0 if growth < 50 else 1


if __name__ == "__main__":
    sys.exit(main())
