"""Write assets/cifar10_subset.npz: the class-balanced CIFAR-10 subset the app ships (the live demo, the
gradient-flow race and the Inside tab's live jobs train and test on it), from the image folders of
../shared/data/cifar10-jpeg: the first 500 training and 100 test images of each class, their JPEG bytes as
they are (no re-encoding), with offsets, labels and file names.

    python -m scripts.bundle_subset [--root ../shared/data/cifar10-jpeg]
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

import numpy as np

from resnet_demo.base.settings import BUNDLED_DATA
from resnet_demo.nets.data import folder_files

PER_CLASS = {"train": 500, "test": 100}


def build_bundle(root: str | os.PathLike, out: str | os.PathLike, per_class: dict[str, int] = PER_CLASS) -> None:
    """The chosen files' bytes, concatenated, with offsets, labels and names, for each split."""
    arrays = {}
    for split, n in per_class.items():
        files, labels = folder_files(Path(root) / split, n)
        blobs = [f.read_bytes() for f in files]
        arrays[f"{split}_bytes"] = np.frombuffer(b"".join(blobs), dtype=np.uint8)
        arrays[f"{split}_offsets"] = np.cumsum([0] + [len(b) for b in blobs]).astype(np.int64)
        arrays[f"{split}_labels"] = np.asarray(labels, dtype=np.int64)
        arrays[f"{split}_files"] = np.asarray([f"{f.parent.name}/{f.name}" for f in files])
    np.savez(out, **arrays)


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", default="../shared/data/cifar10-jpeg")
    p.add_argument("--out", type=Path, default=BUNDLED_DATA)
    args = p.parse_args()
    build_bundle(args.root, args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 1e6:.1f} MB)")
