"""The classifiers behind Classify: torchvision's ImageNet ResNets (fp32, int8) and this project's CIFAR-10
checkpoints, behind one interface (preprocess, trunk, head), a small model cache, and ``classify``.

Everything shown about a torchvision model (labels, preprocessing, params, GFLOPS, acc@1, file name) is read
from its ``weights`` object; nothing is re-typed. Models load lazily and are kept in an LRU cache of
``RESNET_DEMO_MAX_MODELS``.
"""
from __future__ import annotations

import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from ..base.settings import settings
from ..base.threads import flush_denormals, torch_threads
from ..nets.cifar import checkpoints, count_params, load_checkpoint
from ..nets.runs import milestones_text, stored_runs, warmup_text
from .fast_trunk import onnx_trunk, resnet_trunk
from .gradcam import grad_cam, place_cam
from .weights import (
    IMAGENET_KEYS,
    INT8_KEYS,
    ProgressFn,
    UnknownModel,
    catalog_entry,
    ensure_weights,
    weights_of,
)

DEFAULT_MODEL = "resnet50"  # what Classify and the API use when no model is named


def model_names() -> list[str]:
    return list(IMAGENET_KEYS) + list(INT8_KEYS) + list(checkpoints())


def check_key(key: str) -> None:
    """UnknownModel unless ``key`` names a model this app offers (torchvision's, or a shipped checkpoint)."""
    if not catalog_entry(key) and key not in checkpoints():
        raise UnknownModel(f"unknown model {key!r}; choose one of {', '.join(model_names())}")


@dataclass
class Classifier:
    key: str
    model: nn.Module
    labels: list[str]
    preprocess: Callable[[Image.Image], torch.Tensor]  # PIL RGB -> (3, H, W) float
    trunk: Callable[[torch.Tensor], torch.Tensor]      # input -> last stage's feature maps (B, C, h, w)
    head: Callable[[torch.Tensor], torch.Tensor]       # feature maps -> logits (pool + linear)
    crop_box: Callable[[tuple[int, int]], tuple[int, int, int, int]]  # image (w, h) -> region the net saw
    info: dict[str, Any] = field(default_factory=dict)  # shown in the details panel
    threads: int | None = None  # torch threads for a call (None: the process's); threads.torch_threads
    kind: str = "imagenet"  # "imagenet" (torchvision's weights, 1,000 classes) or "cifar" (this project's, 10)


def _central_crop_box(resize: int, crop: int) -> Callable[[tuple[int, int]], tuple[int, int, int, int]]:
    """Where ``Resize(resize)`` (short side) then ``CenterCrop(crop)`` lands in the original image."""
    def box(size: tuple[int, int]) -> tuple[int, int, int, int]:
        w, h = size
        side = min(w, h) * crop / resize
        left, top = (w - side) / 2, (h - side) / 2
        return round(left), round(top), round(left + side), round(top + side)
    return box


def limit_aspect(img: Image.Image, ratio: float = 2.0) -> Image.Image:
    """Trim the long side to ``ratio`` x the short side, centred. The transforms keep only a central
    square of the short side, which this never touches, so the result is the same -- but a 10000x10
    strip no longer becomes a 232000x232 tensor on the way."""
    w, h = img.size
    if w > ratio * h:
        keep = round(ratio * h)
        return img.crop(((w - keep) // 2, 0, (w - keep) // 2 + keep, h))
    if h > ratio * w:
        keep = round(ratio * w)
        return img.crop((0, (h - keep) // 2, w, (h - keep) // 2 + keep))
    return img


def _fast_transforms(transforms: Any) -> Callable[[Image.Image], torch.Tensor]:
    """``weights.transforms()`` with the same result, bit for bit (tested), after ``limit_aspect``: the
    resize and crop are its own PIL calls; the float conversion and normalisation run in numpy, in the
    same float32 operations and order. Torch would spread those over its OpenMP threads, which then
    spin-wait on the cores ONNX Runtime is about to use (ResNet-50 classify: 51-55 ms -> 47 ms)."""
    mean = np.asarray(transforms.mean, dtype=np.float32)[:, None, None]
    std = np.asarray(transforms.std, dtype=np.float32)[:, None, None]

    from torchvision.transforms import functional as TF

    def preprocess(img: Image.Image) -> torch.Tensor:
        img = TF.resize(limit_aspect(img), transforms.resize_size, interpolation=transforms.interpolation,
                        antialias=transforms.antialias)
        img = TF.center_crop(img, transforms.crop_size)
        x = np.asarray(img, dtype=np.float32).transpose(2, 0, 1) / np.float32(255)
        return torch.from_numpy(np.ascontiguousarray((x - mean) / std))

    return preprocess


def _load_imagenet(key: str, progress: ProgressFn | None) -> Classifier:
    import torchvision

    w = weights_of(key)
    path = ensure_weights(w, progress)
    arch = key.split(".")[0]
    model = getattr(torchvision.models, arch)(weights=None)
    model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval().requires_grad_(False)
    transforms = w.transforms()
    meta = w.meta
    info = {"model": f"{arch} ({w.name})", "weights file": path.name, "params": meta["num_params"],
            "GFLOPS": meta["_ops"], "acc@1 (ImageNet-1K, published)": meta["_metrics"]["ImageNet-1K"]["acc@1"],
            "acc@5 (ImageNet-1K, published)": meta["_metrics"]["ImageNet-1K"]["acc@5"],
            "preprocessing": f"resize {transforms.resize_size[0]}, center crop {transforms.crop_size[0]}"}
    preprocess = _fast_transforms(transforms)

    def torch_trunk(x: torch.Tensor) -> torch.Tensor:
        return resnet_trunk(model, x)

    def head(f: torch.Tensor) -> torch.Tensor:
        return model.fc(torch.flatten(model.avgpool(f), 1))

    trunk, info["backend"] = onnx_trunk(model, path, torch_trunk)
    if trunk is None:
        info["backend"] = f"torch eager ({info['backend']})"
        trunk = torch_trunk
    return Classifier(key, model, list(meta["categories"]), preprocess, trunk, head,
                      _central_crop_box(transforms.resize_size[0], transforms.crop_size[0]), info)


def _load_int8(key: str, progress: ProgressFn | None) -> Classifier:
    """torchvision's quantized ResNet: the int8 trunk runs the convolutions; the head runs in float with
    the dequantized linear weights, so Grad-CAM can differentiate it like the fp32 models' head."""
    import torchvision

    w = weights_of(key)
    path = ensure_weights(w, progress)
    arch = key.split(".")[0]
    # builds the fp32 net, fuses conv+bn+relu and converts it to int8 modules (as torchvision does
    # before loading these weights); sets torch.backends.quantized.engine to the weights' backend
    # torch warns that eager-mode quantization and quantized tensors are deprecated (torch is pinned)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", UserWarning)
        model = getattr(torchvision.models.quantization, arch)(weights=None, quantize=True)
        model.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    model.eval()
    fc_weight, fc_bias = model.fc.weight().dequantize(), model.fc.bias().detach()
    transforms = w.transforms()
    meta, fp32 = w.meta, w.meta["unquantized"]
    acc, acc32 = meta["_metrics"]["ImageNet-1K"]["acc@1"], fp32.meta["_metrics"]["ImageNet-1K"]["acc@1"]
    info = {
        "model": f"{arch} int8 ({w.name}, quantized from {fp32.name})",
        "weights file": path.name,
        "params": meta["num_params"],
        "GOPS": meta["_ops"],
        "acc@1 (ImageNet-1K, published)": acc,
        "acc@5 (ImageNet-1K, published)": meta["_metrics"]["ImageNet-1K"]["acc@5"],
        "accuracy cost of int8 (published)": f"{acc32 - acc:.2f} points top-1 ({acc32} fp32 -> {acc} int8)",
        "preprocessing": f"resize {transforms.resize_size[0]}, center crop {transforms.crop_size[0]}",
        "backend": f"torch int8 ({meta['backend']}) trunk + float head (Grad-CAM)",
    }

    preprocess = _fast_transforms(transforms)

    def trunk(x: torch.Tensor) -> torch.Tensor:
        return resnet_trunk(model, model.quant(x)).dequantize()  # bn1 and relu are fused into conv1

    def head(f: torch.Tensor) -> torch.Tensor:
        return F.linear(torch.flatten(F.adaptive_avg_pool2d(f, 1), 1), fc_weight, fc_bias)

    return Classifier(
        key,
        model,
        list(meta["categories"]),
        preprocess,
        trunk,
        head,
        _central_crop_box(transforms.resize_size[0], transforms.crop_size[0]),
        info,
    )


def _load_cifar(key: str) -> Classifier:
    path = checkpoints()[key]
    model, meta = load_checkpoint(path)
    model.requires_grad_(False)
    size = meta["config"]["image_size"]
    mean = torch.tensor(meta["mean"]).view(3, 1, 1)
    std = torch.tensor(meta["std"]).view(3, 1, 1)

    def preprocess(img: Image.Image) -> torch.Tensor:
        # the whole image, squeezed to the training resolution (CIFAR images are whole objects)
        small = img.convert("RGB").resize((size, size), Image.Resampling.BILINEAR, reducing_gap=None)
        x = torch.from_numpy(np.asarray(small, dtype=np.float32) / 255.0).permute(2, 0, 1)
        return (x - mean) / std

    err = meta.get("test_error")
    info = {
        "model": f"{meta['run_name']} (CIFAR-10, trained by this project)",
        "weights file": path.name,
        "params": count_params(model),
        "test error (this project's run)": None if err is None else (
            f"{100 * err:.2f}% on the 10,000 test images of a JPEG re-encoded copy of CIFAR-10 (not the original)"),
        "trained on": meta["dataset"],
        "schedule": _schedule(meta),
        "preprocessing": f"whole image resized to {size}x{size}",
    }

    def trunk(x: torch.Tensor) -> torch.Tensor:
        return model.blocks(F.relu(model.bn(model.conv(x))))

    def head(f: torch.Tensor) -> torch.Tensor:
        return model.fc(torch.flatten(F.adaptive_avg_pool2d(f, 1), 1))

    # one thread: a 32x32 net at batch 1 is faster on one than on two (threads.py)
    return Classifier(
        key, model, list(meta["classes"]), preprocess, trunk, head, lambda s: (0, 0, s[0], s[1]), info, threads=1,
        kind="cifar",
    )


def _schedule(meta: dict[str, Any]) -> str:
    """How the checkpoint was trained, from the stored run it came with (the paper's recipe beside it)."""
    run = next(
        (
            r
            for r in stored_runs()
            if r["name"] == meta["run_name"] and r["iterations"] and r["iterations"][-1] == meta["iterations"]
        ),
        None,
    )
    if run is None:
        return f"{meta['iterations']:,} iterations"
    rec = run["recipe"]
    warmup = warmup_text(run)
    return (
        f"{rec['iterations']:,} iterations of batch {run['batch_size']}, SGD lr {rec['lr']} /10 at "
        f"{milestones_text(rec)}{f', warm-up: {warmup}' if warmup else ''} "
        "(the paper: 64,000, /10 at 32,000 and 48,000)"
    )


class ModelCache:
    """At most ``capacity`` models in memory, least recently used evicted; one load per key at a time."""

    def __init__(self, capacity: int | None = None) -> None:
        self._capacity = capacity
        self._models: OrderedDict[str, Classifier] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def get(self, key: str, progress: ProgressFn | None = None) -> Classifier:
        check_key(key)
        with self._lock:
            if key in self._models:
                self._models.move_to_end(key)
                return self._models[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._models:
                    return self._models[key]
            if key in INT8_KEYS:
                clf = _load_int8(key, progress)
            elif key in IMAGENET_KEYS:
                clf = _load_imagenet(key, progress)
            else:
                clf = _load_cifar(key)
            with self._lock:
                self._models[key] = clf
                while len(self._models) > self.capacity:
                    self._models.popitem(last=False)
            return clf

    @property
    def capacity(self) -> int:
        """As given, else ``RESNET_DEMO_MAX_MODELS`` (read at each load)."""
        return max(1, self._capacity if self._capacity is not None else settings().max_models)

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._models)


MODELS = ModelCache()


@dataclass
class Prediction:
    top: list[tuple[str, float]]  # best first
    cam_map: torch.Tensor | None  # (h, w) Grad-CAM at the last stage's resolution, in [0, 1]
    image_size: tuple[int, int]  # (width, height) of the input image
    box: tuple[int, int, int, int]  # the region of the image the network saw (left, top, right, bottom)
    model_ms: float
    info: dict[str, Any]
    labels: list[str] = field(default_factory=list)  # every class the model can answer with
    kind: str = "imagenet"  # the model's kind (Classifier.kind)

    def scaled_box(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """The seen region in an image resized to ``size`` (w, h)."""
        sx, sy = size[0] / self.image_size[0], size[1] / self.image_size[1]
        left, top, right, bottom = self.box
        return round(left * sx), round(top * sy), round(right * sx), round(bottom * sy)

    def heatmap(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """Grad-CAM over the whole image as (H, W) in [0, 1], zero outside the region the network saw;
        ``size`` (w, h) rescales it for display."""
        size = size or self.image_size
        return place_cam(self.cam_map, size, self.scaled_box(size))


def classify(
    image: Image.Image, model_name: str, top_k: int = 5, *, with_cam: bool = True, progress: ProgressFn | None = None
) -> Prediction:
    """Top-k labels and a Grad-CAM map of the last stage for an RGB PIL image."""
    flush_denormals()
    clf = MODELS.get(model_name, progress)
    with torch_threads(clf.threads):
        if image.mode != "RGB":
            image = image.convert("RGB")  # (convert copies even when the mode is already RGB)
        x = clf.preprocess(image).unsqueeze(0)
        t0 = time.perf_counter()
        # No hooks: the model is shared between requests, so the trunk and head are called separately and
        # only the head (pool + linear) is differentiated for Grad-CAM.
        with torch.inference_mode():
            feats = clf.trunk(x)
        cam = None
        if with_cam:
            with torch.enable_grad():
                feats = feats.clone().requires_grad_(True)
                logits = clf.head(feats)
        else:
            with torch.inference_mode():
                logits = clf.head(feats)
        probs = logits.detach().softmax(1)[0]
        values, idx = probs.topk(min(top_k, probs.numel()))
        if with_cam:
            (grad,) = torch.autograd.grad(logits[0, idx[0]], feats)
            cam = grad_cam(feats.detach(), grad)
        model_ms = (time.perf_counter() - t0) * 1000
    top = [(clf.labels[i], float(v)) for v, i in zip(values.tolist(), idx.tolist())]
    return Prediction(top, cam, image.size, clf.crop_box(image.size), model_ms, clf.info, clf.labels, clf.kind)


def predict(image: Image.Image, model_name: str, top_k: int = 5) -> list[tuple[str, float]]:
    """Top-k (label, probability) pairs, best first (a contract: docs/architecture.md)."""
    return classify(image, model_name, top_k, with_cam=False).top
