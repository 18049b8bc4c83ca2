"""Pretrained classifiers: torchvision's ImageNet ResNets and the project's own CIFAR-10 checkpoints.

Everything shown about a torchvision model (labels, preprocessing, params, GFLOPS, acc@1, file name)
is read from its ``weights`` object; nothing is re-typed. Models load lazily, are kept in a small LRU
cache, and weights download on first use into torchvision's cache (``$TORCH_HOME/hub/checkpoints``);
offline, a missing file raises ``WeightsUnavailable`` naming the file and the folder to put it in.
"""
from __future__ import annotations

import hashlib
import json
import os
import threading
import time
import urllib.error
import urllib.request
import warnings
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from .cifar import count_params, load_checkpoint
from .fast_trunk import onnx_trunk, resnet_trunk
from .runs import milestones_text, stored_runs
from .threads import flush_denormals, torch_threads

ARCHS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
CHECKPOINTS = Path(__file__).resolve().parent.parent / "assets" / "checkpoints"
ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total) during a download


class WeightsUnavailable(RuntimeError):
    """The weights file is not cached and could not be downloaded."""


class UnknownModel(ValueError):
    pass


# -- the model list ---------------------------------------------------------------------------------
# Read from torchvision's weights enums by ``catalog_from_torchvision`` and kept in CATALOG, so that the app
# can list and label its models without importing torchvision at start-up (that import takes ~1 s on 2 vCPU:
# it imports ``torch._dynamo``); a test checks that the file still equals what torchvision says.
CATALOG = Path(__file__).resolve().parent.parent / "assets" / "imagenet_models.json"


def catalog_from_torchvision() -> dict[str, dict[str, dict[str, Any]]]:
    """``resnet50`` is torchvision's DEFAULT weights, ``resnet50.IMAGENET1K_V1`` the others, and ``resnet50.int8``
    the DEFAULT quantized (FBGEMM int8) weights, offered opt-in."""
    from torchvision.models import get_model_weights, list_models, quantization

    def top1(w: Any) -> float:
        return w.meta["_metrics"]["ImageNet-1K"]["acc@1"]

    fp32: dict[str, dict[str, Any]] = {}
    for arch in ARCHS:
        enum = get_model_weights(arch)
        fp32[arch] = {"weights": enum.DEFAULT.name, "default": True, "acc@1": top1(enum.DEFAULT)}
        for w in enum:
            if w is not enum.DEFAULT:
                fp32[f"{arch}.{w.name}"] = {"weights": w.name, "default": False, "acc@1": top1(w)}
    int8 = {f"{arch}.int8": {"weights": w.name, "acc@1": top1(w), "fp32 acc@1": top1(w.meta["unquantized"])}
            for arch in ARCHS if f"quantized_{arch}" in list_models(quantization)
            for w in [get_model_weights(f"quantized_{arch}").DEFAULT]}
    return {"fp32": fp32, "int8": int8}


def _catalog() -> dict[str, dict[str, dict[str, Any]]]:
    with open(CATALOG, encoding="utf-8") as f:
        return json.load(f)


_CATALOG = _catalog()
IMAGENET_KEYS = tuple(_CATALOG["fp32"])  # the fp32 models (what gradient flow's ImageNet mode offers)
INT8_KEYS = tuple(_CATALOG["int8"])


def weights_of(key: str) -> Any:
    """The torchvision weights enum member behind an ImageNet key (fp32 or int8)."""
    from torchvision.models import get_model_weights

    arch = key.split(".")[0]
    if key in _CATALOG["int8"]:
        return get_model_weights(f"quantized_{arch}")[_CATALOG["int8"][key]["weights"]]
    if key in _CATALOG["fp32"]:
        return get_model_weights(arch)[_CATALOG["fp32"][key]["weights"]]
    raise UnknownModel(f"unknown ImageNet model {key!r}; choose one of {', '.join(IMAGENET_KEYS + INT8_KEYS)}")


def cifar_checkpoints(directory: Path = CHECKPOINTS) -> dict[str, Path]:
    """The offline CIFAR-10 models shipped in ``assets/checkpoints`` (key ``cifar-<file stem>``)."""
    return {f"cifar-{p.stem}": p for p in sorted(directory.glob("*.pt"))}


def model_names() -> list[str]:
    return list(IMAGENET_KEYS) + list(INT8_KEYS) + list(cifar_checkpoints())


def describe_key(key: str) -> str:
    """A dropdown label, e.g. 'ResNet-50 · IMAGENET1K_V2 (default) · 80.9% top-1'."""
    if key in _CATALOG["fp32"]:
        entry = _CATALOG["fp32"][key]
        default = " (default)" if entry["default"] else ""
        return f"ResNet-{key.split('.')[0][6:]} · {entry['weights']}{default} · {entry['acc@1']:.1f}% top-1 ImageNet"
    if key in _CATALOG["int8"]:
        entry = _CATALOG["int8"][key]
        return (f"ResNet-{key[6:-5]} · int8 {entry['weights']} (faster) · {entry['acc@1']:.1f}% top-1 ImageNet "
                f"(fp32 {entry['fp32 acc@1']:.1f}%)")
    if key in cifar_checkpoints():
        return f"CIFAR-10 {key[6:]} (offline, 10 classes)"
    raise UnknownModel(f"unknown model {key!r}; choose one of {', '.join(model_names())}")


def weights_path(weights: Any) -> Path:
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)


def ensure_weights(weights: Any, progress: ProgressFn | None = None, timeout: float = 30.0) -> Path:
    """The cached weights file, downloading it (with ``progress`` callbacks) when it is missing."""
    path = weights_path(weights)
    if path.is_file():
        return path
    unavailable = (f"The weights file {path.name} is not cached and could not be downloaded. Put it in "
                   f"{path.parent}/ (from {weights.url}) or set TORCH_HOME to a folder whose "
                   "hub/checkpoints/ holds it.")
    if os.environ.get("RESNET_DEMO_OFFLINE") == "1":
        raise WeightsUnavailable(unavailable + " (RESNET_DEMO_OFFLINE=1 forbids downloads.)")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
    # most torchvision file names end in "-" + the first hex digits of the file's sha256 (torch.hub's
    # rule); the quantized ones (resnet18_fbgemm_16fa66dd.pth) do not, and go unchecked as in torch.hub
    match = torch.hub.HASH_REGEX.search(path.name)
    hash_prefix = match.group(1) if match else ""
    try:
        with urllib.request.urlopen(weights.url, timeout=timeout) as resp, open(tmp, "wb") as f:
            total = int(resp.headers.get("Content-Length") or weights.meta.get("_file_size", 0) * 2**20)
            sha, done = hashlib.sha256(), 0
            while chunk := resp.read(1 << 20):
                f.write(chunk)
                sha.update(chunk)
                done += len(chunk)
                if progress:
                    progress(done, total)
        if not sha.hexdigest().startswith(hash_prefix):
            raise WeightsUnavailable(f"download of {weights.url} is corrupt (sha256 does not start with "
                                     f"{hash_prefix}); try again")
        os.replace(tmp, path)
    except (urllib.error.URLError, OSError, TimeoutError) as e:
        raise WeightsUnavailable(f"{unavailable} ({type(e).__name__}: {getattr(e, 'reason', e)})") from e
    finally:
        tmp.unlink(missing_ok=True)
    return path


# -- classifiers ------------------------------------------------------------------------------------
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
    info = {"model": f"{arch} int8 ({w.name}, quantized from {fp32.name})", "weights file": path.name,
            "params": meta["num_params"], "GOPS": meta["_ops"],
            "acc@1 (ImageNet-1K, published)": acc, "acc@5 (ImageNet-1K, published)": meta["_metrics"]["ImageNet-1K"]["acc@5"],
            "accuracy cost of int8 (published)": f"{acc32 - acc:.2f} points top-1 ({acc32} fp32 -> {acc} int8)",
            "preprocessing": f"resize {transforms.resize_size[0]}, center crop {transforms.crop_size[0]}",
            "backend": f"torch int8 ({meta['backend']}) trunk + float head (Grad-CAM)"}

    preprocess = _fast_transforms(transforms)

    def trunk(x: torch.Tensor) -> torch.Tensor:
        return resnet_trunk(model, model.quant(x)).dequantize()  # bn1 and relu are fused into conv1

    def head(f: torch.Tensor) -> torch.Tensor:
        return F.linear(torch.flatten(F.adaptive_avg_pool2d(f, 1), 1), fc_weight, fc_bias)

    return Classifier(key, model, list(meta["categories"]), preprocess, trunk, head,
                      _central_crop_box(transforms.resize_size[0], transforms.crop_size[0]), info)


def _load_cifar(key: str) -> Classifier:
    path = cifar_checkpoints()[key]
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
    info = {"model": f"{meta['run_name']} (CIFAR-10, trained by this project)",
            "weights file": path.name,
            "params": count_params(model),
            "test error (this project's run)": None if err is None else f"{100 * err:.2f}% on the 10,000 test images",
            "trained on": meta["dataset"], "schedule": _schedule(meta),
            "preprocessing": f"whole image resized to {size}x{size}"}

    def trunk(x: torch.Tensor) -> torch.Tensor:
        return model.blocks(F.relu(model.bn(model.conv(x))))

    def head(f: torch.Tensor) -> torch.Tensor:
        return model.fc(torch.flatten(F.adaptive_avg_pool2d(f, 1), 1))

    # one thread: a 32x32 net at batch 1 is faster on one than on two (threads.py)
    return Classifier(key, model, list(meta["classes"]), preprocess, trunk, head,
                      lambda s: (0, 0, s[0], s[1]), info, threads=1)


def _schedule(meta: dict[str, Any]) -> str:
    """How the checkpoint was trained, from the stored run it came with (the paper's recipe beside it)."""
    run = next((r for r in stored_runs() if r["name"] == meta["run_name"] and r["iterations"]
                and r["iterations"][-1] == meta["iterations"]), None)
    if run is None:
        return f"{meta['iterations']:,} iterations"
    rec = run["recipe"]
    return (f"{rec['iterations']:,} iterations of batch {run['batch_size']}, SGD lr {rec['lr']} /10 at "
            f"{milestones_text(rec)} "
            "(the paper: 64,000, /10 at 32,000 and 48,000)")


class ModelCache:
    """At most ``capacity`` models in memory, least recently used evicted; one load per key at a time."""

    def __init__(self, capacity: int) -> None:
        self.capacity = max(1, capacity)
        self._models: OrderedDict[str, Classifier] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def get(self, key: str, progress: ProgressFn | None = None) -> Classifier:
        describe_key(key)  # raises UnknownModel
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

    def loaded(self) -> list[str]:
        with self._lock:
            return list(self._models)


MODELS = ModelCache(int(os.environ.get("RESNET_DEMO_MAX_MODELS", "3")))


# -- inference --------------------------------------------------------------------------------------
@dataclass
class Prediction:
    top: list[tuple[str, float]]   # best first
    cam_map: torch.Tensor | None   # (h, w) Grad-CAM at the last stage's resolution, in [0, 1]
    image_size: tuple[int, int]    # (width, height) of the input image
    box: tuple[int, int, int, int]  # the region of the image the network saw (left, top, right, bottom)
    model_ms: float
    info: dict[str, Any]

    def scaled_box(self, size: tuple[int, int]) -> tuple[int, int, int, int]:
        """The seen region in an image resized to ``size`` (w, h)."""
        sx, sy = size[0] / self.image_size[0], size[1] / self.image_size[1]
        left, top, right, bottom = self.box
        return round(left * sx), round(top * sy), round(right * sx), round(bottom * sy)

    def heatmap(self, size: tuple[int, int] | None = None) -> np.ndarray:
        """Grad-CAM over the whole image as (H, W) in [0, 1], zero outside the region the network saw;
        ``size`` (w, h) rescales it for display."""
        size = size or self.image_size
        return _place_cam(self.cam_map, size, self.scaled_box(size))


def classify(image: Image.Image, model_name: str, top_k: int = 5, *, with_cam: bool = True,
             progress: ProgressFn | None = None) -> Prediction:
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
            cam = _grad_cam(feats.detach(), grad)
        model_ms = (time.perf_counter() - t0) * 1000
    top = [(clf.labels[i], float(v)) for v, i in zip(values.tolist(), idx.tolist())]
    return Prediction(top, cam, image.size, clf.crop_box(image.size), model_ms, clf.info)


def predict(image: Image.Image, model_name: str, top_k: int = 5) -> list[tuple[str, float]]:
    """Top-k (label, probability) pairs, best first (a contract: docs/architecture.md)."""
    return classify(image, model_name, top_k, with_cam=False).top


def _grad_cam(act: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Selvaraju et al. 2017: ReLU(sum_k mean(dy/dA_k) A_k), scaled to [0, 1]. act, grad: (1, C, h, w)."""
    weights = grad.mean(dim=(2, 3), keepdim=True)
    cam = F.relu((weights * act).sum(1))[0]  # (h, w)
    peak = cam.max()
    return cam / peak if peak > 0 else cam


def _place_cam(cam: torch.Tensor | None, size: tuple[int, int], box: tuple[int, int, int, int]) -> np.ndarray:
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
