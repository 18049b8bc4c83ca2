"""torchvision's ImageNet ResNet weights: the catalog of what is offered, and the download.

The catalog (``assets/imagenet_models.json``) is read from torchvision's weights enums by
``catalog_from_torchvision`` (``python -m scripts.imagenet_catalog``; a test checks it still agrees), so the
app lists and labels its models without importing torchvision at start-up (~1 s on 2 vCPU: it imports
``torch._dynamo``). Weights download on first use into torchvision's cache (``$TORCH_HOME/hub/checkpoints``),
checked against the hash in their file name; offline, a missing file raises ``WeightsUnavailable`` naming
the file and the folder to put it in.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..base.settings import IMAGENET_CATALOG, settings

ARCHS = ("resnet18", "resnet34", "resnet50", "resnet101", "resnet152")
LOG = logging.getLogger(__name__)
ProgressFn = Callable[[int, int], None]  # (bytes done, bytes total) during a download


class WeightsUnavailable(RuntimeError):
    """The weights file is not cached and could not be downloaded."""


class UnknownModel(ValueError):
    pass


# -- the model list ---------------------------------------------------------------------------------
# Read from torchvision's weights enums by ``catalog_from_torchvision`` and kept in CATALOG, so that the app
# can list and label its models without importing torchvision at start-up (that import takes ~1 s on 2 vCPU:
# it imports ``torch._dynamo``); a test checks that the file still equals what torchvision says.
CATALOG = IMAGENET_CATALOG


def catalog_from_torchvision() -> dict[str, dict[str, dict[str, Any]]]:
    """``resnet50`` is torchvision's DEFAULT weights, ``resnet50.IMAGENET1K_V1`` the others, and ``resnet50.int8``
    the DEFAULT quantized (FBGEMM int8) weights, offered opt-in."""
    from torchvision.models import get_model_weights, list_models, quantization

    def top1(w: Any) -> float:
        return w.meta["_metrics"]["ImageNet-1K"]["acc@1"]

    def file(w: Any) -> dict[str, Any]:  # the weights file's name and size: the model list says when it is absent
        return {"file": os.path.basename(w.url), "file_mb": w.meta["_file_size"]}

    fp32: dict[str, dict[str, Any]] = {}
    for arch in ARCHS:
        enum = get_model_weights(arch)
        fp32[arch] = {"weights": enum.DEFAULT.name, "default": True, "acc@1": top1(enum.DEFAULT), **file(enum.DEFAULT)}
        for w in enum:
            if w is not enum.DEFAULT:
                fp32[f"{arch}.{w.name}"] = {"weights": w.name, "default": False, "acc@1": top1(w), **file(w)}
    int8 = {f"{arch}.int8": {"weights": w.name, "acc@1": top1(w), "fp32 acc@1": top1(w.meta["unquantized"]),
                             **file(w)}
            for arch in ARCHS if f"quantized_{arch}" in list_models(quantization)
            for w in [get_model_weights(f"quantized_{arch}").DEFAULT]}
    return {"fp32": fp32, "int8": int8}


def read_catalog() -> dict[str, dict[str, dict[str, Any]]]:
    with open(CATALOG, encoding="utf-8") as f:
        return json.load(f)


_CATALOG = read_catalog()
IMAGENET_KEYS = tuple(_CATALOG["fp32"])  # the fp32 models (what gradient flow's ImageNet mode offers)
INT8_KEYS = tuple(_CATALOG["int8"])


def catalog_entry(key: str) -> tuple[str, dict[str, Any]] | None:
    """("fp32" or "int8", the catalog's entry) for an ImageNet key, None for any other key."""
    for kind in ("fp32", "int8"):
        if key in _CATALOG[kind]:
            return kind, _CATALOG[kind][key]
    return None


def weights_of(key: str) -> Any:
    """The torchvision weights enum member behind an ImageNet key (fp32 or int8)."""
    from torchvision.models import get_model_weights

    arch = key.split(".")[0]
    if key in _CATALOG["int8"]:
        return get_model_weights(f"quantized_{arch}")[_CATALOG["int8"][key]["weights"]]
    if key in _CATALOG["fp32"]:
        return get_model_weights(arch)[_CATALOG["fp32"][key]["weights"]]
    raise UnknownModel(f"unknown ImageNet model {key!r}; choose one of {', '.join(IMAGENET_KEYS + INT8_KEYS)}")


def float_twin(int8_key: str) -> str:
    """The fp32 key whose weights an int8 key was quantized from (resnet50.int8 -> resnet50: IMAGENET1K_V2)."""
    source = weights_of(int8_key).meta["unquantized"]
    return next(k for k in IMAGENET_KEYS if weights_of(k) is source)


def _checkpoint_dir() -> Path:
    """torchvision's weights cache, $TORCH_HOME/hub/checkpoints (read when asked: tests move TORCH_HOME)."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def weights_path(weights: Any) -> Path:
    return _checkpoint_dir() / os.path.basename(weights.url)


def cached(key: str) -> bool:
    """Whether an ImageNet key's weights file is on this server (from the catalog: no torchvision import)."""
    return (_checkpoint_dir() / catalog_entry(key)[1]["file"]).is_file()


def ensure_weights(weights: Any, progress: ProgressFn | None = None, timeout: float = 30.0) -> Path:
    """The cached weights file, downloading it (with ``progress`` callbacks) when it is missing."""
    path = weights_path(weights)
    if path.is_file():
        return path
    size = weights.meta.get("_file_size")
    unavailable = (f"The weights of this model ({path.name}{f', {size:.0f} MB' if size else ''}) are not on this "
                   "server and could not be downloaded")
    # A visitor reads why in words; where the file goes and what failed (paths, exceptions) is for the log.
    fix = (f"put {path.name} in {path.parent}/ (from {weights.url}) or set TORCH_HOME to a folder whose "
           "hub/checkpoints/ holds it")
    if settings().offline:
        LOG.warning("weights %s not cached and RESNET_DEMO_OFFLINE=1: %s", path.name, fix)
        raise WeightsUnavailable(f"{unavailable}: downloads are turned off on this server. Pick another model.")
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
        LOG.warning("download of %s failed (%s: %s); %s", weights.url, type(e).__name__, getattr(e, "reason", e), fix)
        raise WeightsUnavailable(f"{unavailable}: the download server could not be reached. Try again later, or "
                                 "pick another model.") from e
    finally:
        tmp.unlink(missing_ok=True)
    return path
