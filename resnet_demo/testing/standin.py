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
from PIL import Image

from ..base.settings import EXAMPLES_DIR


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
    """The fp32 stand-in above, quantized as torchvision quantizes (fbgemm, per-channel weights, fused
    conv+bn+relu) but calibrated on the bundled example photos, so no layer's int8 range saturates on
    real images. (``quantize=True`` alone calibrates on one uniform-noise image: on a photo the logits then
    clip at the int8 range and the top-5 is a tie that each CPU breaks differently.)"""
    quantization = torchvision.models.quantization
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # eager quantization's notices
        warnings.simplefilter("ignore", UserWarning)
        model = getattr(quantization, arch)(weights=None, quantize=False)
        model.load_state_dict(standin_state_dict(arch, seed))
        model.eval()
        torch.backends.quantized.engine = "fbgemm"
        model.qconfig = torch.ao.quantization.QConfig(activation=torch.ao.quantization.default_observer,
                                                      weight=torch.ao.quantization.default_per_channel_weight_observer)
        model.fuse_model()
        torch.ao.quantization.prepare(model, inplace=True)
        with torch.no_grad():
            model(_calibration_images(arch))
        torch.ao.quantization.convert(model, inplace=True)
        return model.state_dict()


def _calibration_images(arch: str) -> torch.Tensor:
    """The example photos shipped in assets/examples, preprocessed as the weights' transforms do, and mirrored."""
    transforms = torchvision.models.get_model_weights(f"quantized_{arch}").DEFAULT.transforms()
    photos = sorted(EXAMPLES_DIR.iterdir())
    x = torch.stack([transforms(Image.open(p).convert("RGB")) for p in photos])
    return torch.cat([x, x.flip(3)])


def seed_cache(keys) -> None:
    """Save stand-in weights under torchvision's file names in the current ``$TORCH_HOME``; keys as in
    ``classifiers.model_names()`` (``resnet50``, ``resnet50.IMAGENET1K_V1``, ``resnet50.int8``)."""
    from ..serving.weights import INT8_KEYS, weights_of, weights_path

    for key in keys:
        int8 = key in INT8_KEYS
        path = weights_path(weights_of(key))
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            arch = key.split(".")[0]
            torch.save(standin_int8_state_dict(arch) if int8 else standin_state_dict(arch), path)
