"""The residual stream of one photo (#26) against a classify call and against deleting blocks one model at a time.

    python -m benchmarks.residual_stream [--models resnet50 cifar-resnet56 cifar-plain56] [--repeats 5]

Per model, medians over repeats of the four example photos, in one process on this machine's threads:
- classify: ``classifiers.classify`` with Grad-CAM (what Classify runs for a photo);
- ours: ``residual_stream.on_image`` (every single-block deletion in one shared pass, the ratios, the maps);
- naive: the intact forward and one forward of a lesioned copy per deletable block (what a loop over
  ``lesion.deleted`` would cost), made from the same model;
and the peak resident memory each adds over the process before it (VmHWM after clearing it). Targets (#26, 2 vCPU):
ours <= 2 s for ResNet-50, <= 0.3 s for CIFAR ResNet-56. With no ImageNet weights cached, stand-in weights
(the same shapes, so the same time; labels meaningless).
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

from benchmarks._common import seeded_torch_home
from resnet_demo.base.settings import EXAMPLES_DIR

TARGETS = {"resnet50": 2.0, "cifar-resnet56": 0.3}
PHOTOS = ["chelsea.png", "coffee.png", "astronaut.png", "rocket.jpg"]


def _peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _clear_peak() -> float:
    Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    return _peak_mb()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", nargs="+", default=["resnet50", "cifar-resnet56", "cifar-plain56"])
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args()
    import torch
    from PIL import Image

    from resnet_demo.base.threads import torch_threads
    from resnet_demo.experiments import residual_stream
    from resnet_demo.serving import classifiers
    from resnet_demo.testing.lesioned import lesioned_copy

    seeded_torch_home(tuple(k for k in args.models if not k.startswith("cifar-")))
    images = [Image.open(EXAMPLES_DIR / n).convert("RGB") for n in PHOTOS]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; {len(PHOTOS)} photos; median of "
          f"{args.repeats} rounds")
    print("| model | classify s | ours s | ours / classify | naive s | naive / ours | peak MB classify | "
          "peak MB ours | target |")
    print("|---|---|---|---|---|---|---|---|---|")
    missed = []
    for key in args.models:
        clf = classifiers.MODELS.get(key)
        names = [b.name for b in residual_stream.blocks_of(clf.model) if residual_stream.deletable(b)]
        lesioned = [lesioned_copy(clf.model, name) for name in names]

        @torch.inference_mode()
        def naive(img: Image.Image) -> None:
            with torch_threads(clf.threads):
                x = clf.preprocess(img).unsqueeze(0)
                for m in [clf.model, *lesioned]:
                    m(x).softmax(1)

        for img in images[:1]:  # warm-up: first calls allocate and pick kernels
            classifiers.classify(img, key)
            residual_stream.on_image(img, key)
            naive(img)
        times: dict[str, list[float]] = {"classify": [], "ours": [], "naive": []}
        peaks: dict[str, float] = {}
        for what, fn in (("classify", lambda im: classifiers.classify(im, key)),
                         ("ours", lambda im: residual_stream.on_image(im, key)), ("naive", naive)):
            base = _clear_peak()
            for _ in range(args.repeats):
                for img in images:
                    t0 = time.perf_counter()
                    fn(img)
                    times[what].append(time.perf_counter() - t0)
            peaks[what] = _peak_mb() - base
        med = {k: statistics.median(v) for k, v in times.items()}
        target = TARGETS.get(key)
        ok = target is None or med["ours"] <= target
        if not ok:
            missed.append(key)
        print(f"| {key} | {med['classify']:.3f} | {med['ours']:.3f} | {med['ours'] / med['classify']:.1f}x | "
              f"{med['naive']:.3f} | {med['naive'] / med['ours']:.1f}x | {peaks['classify']:.0f} | "
              f"{peaks['ours']:.0f} | {'-' if target is None else f'<= {target} s ' + ('met' if ok else 'MISSED')} |")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
