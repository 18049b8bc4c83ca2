"""Stand-in ImageNet weights for offline tests and benchmarks (no download needed).

A random-init torchvision ResNet in eval mode has BatchNorm running statistics of (0, 1), so its
activations grow stage by stage (ResNet-50, seed 0: largest last-stage feature ~2e2), unlike a trained
net. Here the running statistics are measured on random images first, so every layer sees inputs of
the size it would after training (largest feature ~10) and backend comparisons run at a realistic
scale. Labels from these weights are meaningless; timings are representative.
"""
from __future__ import annotations

import warnings

import torch
import torchvision


def standin_state_dict(arch: str, seed: int = 0) -> dict[str, torch.Tensor]:
    torch.manual_seed(seed)
    model = getattr(torchvision.models, arch)(weights=None)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.momentum = None  # a plain average over the calibration batches
    model.train()
    with torch.no_grad():
        for _ in range(2):
            model(torch.randn(8, 3, 224, 224))
    return model.state_dict()


def standin_int8_state_dict(arch: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A quantized model as torchvision builds it before loading int8 weights (calibrated on noise)."""
    torch.manual_seed(seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # eager quantization's notices
        warnings.simplefilter("ignore", UserWarning)
        return getattr(torchvision.models.quantization, arch)(weights=None, quantize=True).state_dict()


def seed_cache(keys) -> None:
    """Save stand-in weights under torchvision's file names in the current ``$TORCH_HOME``; keys as in
    ``imagenet.model_names()`` (``resnet50``, ``resnet50.IMAGENET1K_V1``, ``resnet50.int8``)."""
    from .imagenet import INT8, weights_of, weights_path

    for key in keys:
        int8 = key in INT8
        path = weights_path(weights_of(key))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            arch = key.split(".")[0]
            torch.save(standin_int8_state_dict(arch) if int8 else standin_state_dict(arch), path)
