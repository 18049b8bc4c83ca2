"""Compute the "Inside trained nets" tab's stored results from the checkpoints in assets/checkpoints/.

    python -m scripts.inside_trained [--what lesion landscape responses] [--threads 2]

- assets/inside/lesion.json: the lesion study (resnet_demo.experiments.lesion.study) of every shipped checkpoint
  (resnet_demo.experiments.lesion.available: plain-20/ResNet-20, plain-56/ResNet-56, and ResNet-110 alone, no plain-110
  being trained) on the 1,000 bundled test images: each block deleted alone, then k = 1..10 random deletable
  blocks, 10 draws per k (seed 0).
- assets/inside/responses.json: Fig. 7 (the std of each 3×3 response of the four trained nets) and the F(x)
  ratios (RMS(F(x))/RMS(x) per residual block), on 500 bundled test images (experiments.responses), which the
  Gradient-flow and Inside tabs show on page load.
- assets/inside/landscape.json: the 2-D loss surface (landscape.surface_rows) of plain-56 and
  ResNet-56, 21 x 21 points over [-1, 1]^2 along two filter-normalised directions (seed 0), training loss on
  256 bundled training images (eval mode), with its roughness numbers (landscape.roughness, where the
  loss is below landscape.CAP).

Each file records its command, CPU, thread count, torch version and wall time. Rerun it whenever the
checkpoints change (scripts/stored_runs.sh replaces them).
"""
from __future__ import annotations

import argparse
import sys
import time

import torch

from resnet_demo.base import stored
from resnet_demo.base.settings import INSIDE_DIR
from resnet_demo.experiments import landscape, lesion, responses
from resnet_demo.nets import cifar
from resnet_demo.nets.cifar import load_checkpoint
from resnet_demo.nets.data import load_bundled, normalize

OUT = INSIDE_DIR
LESION = {"ks": list(range(1, 11)), "draws": 10, "seed": 0}
LANDSCAPE = {"depth": 56, "points": 21, "span": 1.0, "images": 256, "seed": 0}


def model(stem: str):
    path = cifar.checkpoints().get(f"cifar-{stem}")
    if path is None:
        sys.exit(f"assets/checkpoints/{stem}.pt is missing: run scripts/stored_runs.sh first")
    m, info = load_checkpoint(path)
    return lesion.private_copy(m), {"checkpoint": path.name, "iterations": info["iterations"],
                                    "checkpoint_test_error": info["test_error"]}


def write(name: str, payload: dict, t0: float, **notes) -> None:
    path = OUT / name
    stored.write(path, payload, stored.Provenance.measured(t0, "scripts.inside_trained", **notes))
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)", file=sys.stderr)


def compute_lesion(data) -> None:
    t0 = time.perf_counter()
    x, y = normalize(data.x_test), data.y_test
    pairs = {}
    nets = lesion.available()
    for depth, archs in nets.items():
        pair = {}
        for arch in archs:
            stem = cifar.checkpoint_stem(arch, depth)
            m, info = model(stem)
            pair[arch] = {**lesion.study(m, x, y, ks=LESION["ks"], draws=LESION["draws"], seed=LESION["seed"]),
                          **info}
            print(f"{stem}: baseline {pair[arch]['baseline']:.4f} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        pairs[str(depth)] = pair
    write("lesion.json", {"setup": {"depths": list(nets), **LESION}, "pairs": pairs}, t0, data=data.name)


def compute_landscape(data) -> None:
    t0 = time.perf_counter()
    c = LANDSCAPE
    x, y = normalize(data.x_train[:c["images"]]), data.y_train[:c["images"]]
    nets = {}
    for arch, stem in (("plain", f"plain{c['depth']}"), ("residual", f"resnet{c['depth']}")):
        m, info = model(stem)
        z = []
        for j, row in landscape.surface_rows(m, x, y, points=c["points"], span=c["span"], seed=c["seed"]):
            z.append(row)
            print(f"{stem}: row {j + 1}/{c['points']} ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
        nets[arch] = {"loss": z, "roughness": landscape.roughness(z, landscape.CAP), **info}
    write(
        "landscape.json",
        {"setup": {"cap": landscape.CAP, **c}, "axis": landscape.axis(c["points"], c["span"]), "nets": nets},
        t0,
        data=f"the first {c['images']} bundled training images",
    )


def compute_responses() -> None:
    t0 = time.perf_counter()
    computed = responses.compute()
    fig7, ratios = computed["fig7"], computed["ratios"]
    write("responses.json", {"setup": {"images": responses.RESPONSE_IMAGES, "ratio_images": responses.RATIO_IMAGES},
                             "fig7": fig7, "ratios": ratios}, t0)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--what", nargs="+", choices=["lesion", "landscape", "responses"],
                   default=["lesion", "landscape", "responses"])
    p.add_argument("--threads", type=int, default=None, help="CPU threads (default: torch's choice)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_bundled()
    if "lesion" in args.what:
        compute_lesion(data)
    if "landscape" in args.what:
        compute_landscape(data)
    if "responses" in args.what:
        compute_responses()
    return 0


if __name__ == "__main__":
    sys.exit(main())
