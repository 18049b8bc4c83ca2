"""Grad-CAM (Selvaraju et al. 2017): where in the image the network looked for its top label, and the
heatmap drawn over the photo."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def grad_cam(act: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Selvaraju et al. 2017: ReLU(sum_k mean(dy/dA_k) A_k), scaled to [0, 1]. act, grad: (1, C, h, w)."""
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(1))[0]  # (h, w)
    peak = cam.max()
    return cam / peak if peak > 0 else cam


def place_cam(cam: torch.Tensor | None, size: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
    """Upsample the map onto the region the network saw; zero outside it. Returns (H, W) in [0, 1]."""
    w, h = size
    if cam is None:
        return np.zeros((h, w), dtype=np.float32)
    left, top, right, bottom = box
    full = np.zeros((h, w), dtype=np.float32)
    bw, bh = max(1, right - left), max(1, bottom - top)
    up = F.interpolate(cam[None, None], size=(bh, bw), mode="bilinear", align_corners=False)[0, 0]
    full[top:top + bh, left:left + bw] = up.clamp(0, 1).numpy()[: h - top, : w - left]
    return full


def overlay(image: Image.Image, cam: np.ndarray, box: tuple[int, int, int, int] | None = None,
            alpha: float = 0.5) -> Image.Image:
    """The heatmap (blue -> red) blended over the image; outside ``box`` (not seen) the image is dimmed."""
    rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / 255.0
    c = cam[..., None]
    heat = np.concatenate([np.clip(1.5 - np.abs(4 * c - 3), 0, 1), np.clip(1.5 - np.abs(4 * c - 2), 0, 1),
                           np.clip(1.5 - np.abs(4 * c - 1), 0, 1)], axis=-1)  # a "jet" colour map
    out = rgb * 0.3  # dimmed where the network did not look
    left, top, right, bottom = box or (0, 0, rgb.shape[1], rgb.shape[0])
    seen = (slice(top, bottom), slice(left, right))
    out[seen] = (1 - alpha) * rgb[seen] + alpha * heat[seen]
    return Image.fromarray((out * 255).round().astype(np.uint8))
