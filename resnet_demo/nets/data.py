"""CIFAR-10 as uint8 tensors in memory, with batched normalisation and augmentation on tensors.

Three sources, one result (``CifarData``: train/test images as uint8 (N, 3, 32, 32) and int64 labels):
- ``load_bundled()``: a class-balanced subset shipped in ``assets/`` as the JPEG files' own bytes, so
  it decodes to exactly what an ImageFolder of the same files gives (the offline default);
- ``load_image_folder(root)``: a ``{train,test}/<class>/*.jpg`` tree (torchvision's ImageFolder layout);
- ``load_torchvision(root)``: torchvision's CIFAR10 download (online, original pixels).
"""
from __future__ import annotations

import functools
import io
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from ..base.settings import BUNDLED_DATA, settings

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
# Per-channel mean and std of the 50k CIFAR-10 training images (RGB, in [0, 1]).
MEAN = (0.4914, 0.4822, 0.4465)
STD = (0.2470, 0.2435, 0.2616)

BUNDLED = BUNDLED_DATA
IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass
class CifarData:
    x_train: torch.Tensor  # uint8 (N, 3, 32, 32)
    y_train: torch.Tensor  # int64 (N,)
    x_test: torch.Tensor   # uint8 (M, 3, 32, 32)
    y_test: torch.Tensor   # int64 (M,)
    name: str              # where it came from, recorded in every run

    def subset(self, n_train: int | None = None, n_test: int | None = None) -> CifarData:
        """The first n images of each split (the stored order interleaves classes, so stays balanced)."""
        return CifarData(self.x_train[:n_train], self.y_train[:n_train], self.x_test[:n_test],
                         self.y_test[:n_test], self.name)


def _decode(blob: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(blob)) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8).transpose(2, 0, 1)  # (3, 32, 32)


def _interleave(labels: list[int]) -> list[int]:
    """An order that takes one image of each class in turn, so any prefix is class-balanced."""
    by_class: dict[int, list[int]] = {}
    for i, c in enumerate(labels):
        by_class.setdefault(c, []).append(i)
    order, k = [], 0
    while len(order) < len(labels):
        for c in sorted(by_class):
            if k < len(by_class[c]):
                order.append(by_class[c][k])
        k += 1
    return order


def folder_files(split_dir: Path, per_class: int | None = None) -> tuple[list[Path], list[int]]:
    classes = sorted(p.name for p in split_dir.iterdir() if p.is_dir())
    if tuple(classes) != CLASSES:
        raise ValueError(f"{split_dir} should hold the 10 CIFAR-10 class folders {CLASSES}, found {classes}")
    files, labels = [], []
    for c, name in enumerate(classes):
        paths = sorted(p for p in (split_dir / name).iterdir() if p.suffix.lower() in IMAGE_EXTS)
        files += paths[:per_class]
        labels += [c] * len(paths[:per_class])
    order = _interleave(labels)
    return [files[i] for i in order], [labels[i] for i in order]


def _stack(images: list[np.ndarray], labels: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.int64)


def load_image_folder(root: str | os.PathLike, per_class_train: int | None = None,
                      per_class_test: int | None = None) -> CifarData:
    """Read ``root/{train,test}/<class>/*`` into memory, class-interleaved (see ``_interleave``)."""
    root = Path(root)
    splits = []
    for split, per_class in (("train", per_class_train), ("test", per_class_test)):
        files, labels = folder_files(root / split, per_class)
        splits += list(_stack([_decode(f.read_bytes()) for f in files], labels))
    return CifarData(
        *splits, name=f"CIFAR-10 image folder '{root.name}' ({len(splits[0])} train / {len(splits[2])} test)"
    )


def load_bundled(path: str | os.PathLike = BUNDLED) -> CifarData:
    """The class-balanced CIFAR-10 subset that ships with the app (no network, no ../shared)."""
    with np.load(path) as z:
        splits = []
        for split in ("train", "test"):
            buf, off = z[f"{split}_bytes"].tobytes(), z[f"{split}_offsets"]
            images = [_decode(buf[off[i] : off[i + 1]]) for i in range(len(off) - 1)]
            splits += list(_stack(images, z[f"{split}_labels"].tolist()))
    return CifarData(*splits, name=f"bundled CIFAR-10 subset ({len(splits[0])} train / {len(splits[2])} test)")


@functools.lru_cache(maxsize=1)
def bundled() -> CifarData:
    """The bundled subset, read once per process (read-only tensors, shared safely between requests)."""
    return load_bundled()


def load_torchvision(root: str | os.PathLike) -> CifarData:
    """The original CIFAR-10 through torchvision (downloads ~170 MB into ``root`` on first use)."""
    from torchvision.datasets import CIFAR10

    splits = []
    for train in (True, False):
        ds = CIFAR10(root, train=train, download=True)
        splits += [
            torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous(),
            torch.tensor(ds.targets, dtype=torch.int64),
        ]
    return CifarData(*splits, name="CIFAR-10 (torchvision download)")


def load(source: str = "bundled", cache_dir: str | os.PathLike | None = None) -> CifarData:
    """``bundled``, ``torchvision`` or a path to an ImageFolder tree (cached as a .pt after the first read)."""
    if source == "bundled":
        return load_bundled()
    if source == "torchvision":
        return load_torchvision(cache_dir or settings().data_dir)
    root = Path(source)
    if not root.is_dir():
        raise FileNotFoundError(f"no such dataset directory: {root} (use 'bundled', 'torchvision' or a folder)")
    cache = Path(cache_dir or settings().data_dir) / f"imagefolder-{root.resolve().name}.pt"
    if cache.exists() and cache.stat().st_mtime >= root.stat().st_mtime:
        d = torch.load(cache)
        return CifarData(**d)
    data = load_image_folder(root)
    cache.parent.mkdir(parents=True, exist_ok=True)
    torch.save(vars(data), cache)
    return data


def normalize(x: torch.Tensor) -> torch.Tensor:
    """uint8 (B, 3, H, W) -> float32, standardised per channel."""
    mean = torch.tensor(MEAN, device=x.device).view(1, 3, 1, 1)
    std = torch.tensor(STD, device=x.device).view(1, 3, 1, 1)
    return (x.float() / 255.0 - mean) / std


def augment(x: torch.Tensor, generator: torch.Generator | None = None, pad: int = 4) -> torch.Tensor:
    """The paper's augmentation on a whole batch: zero-pad ``pad`` pixels, random crop back, random flip.

    Works on normalised float images (so the zero padding is the mean colour, as in the paper's
    per-pixel-mean-subtracted input). One gather does every crop; no per-sample Python work.
    """
    b, c, h, w = x.shape
    dev = x.device
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(dev)
    dx = torch.randint(0, 2 * pad + 1, (b,), generator=generator).to(dev)
    flip = torch.rand(b, generator=generator).to(dev) < 0.5
    rows = dy[:, None] + torch.arange(h, device=dev)[None, :]  # (B, H)
    cols = torch.arange(w, device=dev)[None, :].expand(b, w)
    cols = torch.where(flip[:, None], cols.flip(1), cols) + dx[:, None]  # (B, W)
    bi = torch.arange(b, device=dev)[:, None, None, None]
    ci = torch.arange(c, device=dev)[None, :, None, None]
    return padded[bi, ci, rows[:, None, :, None], cols[:, None, None, :]]


def resize(x: torch.Tensor, size: int) -> torch.Tensor:
    """Area-downsample uint8 images to ``size`` (used by the live demo's small inputs)."""
    if x.shape[-1] == size:
        return x
    return F.interpolate(x.float(), size=(size, size), mode="area").round().clamp(0, 255).to(torch.uint8)
