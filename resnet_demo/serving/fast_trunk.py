"""ONNX Runtime for the convolutional trunk of the ImageNet ResNets.

On 2 CPU cores ONNX Runtime runs the trunk (stem + four stages, 98% of the FLOPs) in about 0.65x the
time of torch eager (``python -m benchmarks.classify_speed``). Only the trunk moves: the head (pool +
linear) stays in torch, so Grad-CAM differentiates it exactly as before.

The trunk is exported once per weights file with torch's exporter into ``$TORCH_HOME/hub/onnx/`` and
loaded from there afterwards. Before a session is used its output is compared with torch's on a fixed
input; any disagreement, a missing ``onnxruntime``/``onnx``, or ``RESNET_DEMO_BACKEND=torch`` keeps the
torch trunk. ``onnx_trunk`` never raises for those cases: it returns ``None`` and a reason.
"""
from __future__ import annotations

import io
import logging
import os
import threading
import warnings
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..base.settings import settings

log = logging.getLogger(__name__)

INPUT_SHAPE = (1, 3, 224, 224)  # every torchvision ResNet weights crop to 224
OPSET = 17
Trunk = Callable[[torch.Tensor], torch.Tensor]


def wanted() -> bool:
    """``RESNET_DEMO_BACKEND``: ``auto`` (default; ONNX Runtime when installed) or ``torch``."""
    value = settings().backend
    if value not in ("auto", "torch", "onnxruntime"):
        raise ValueError(f"RESNET_DEMO_BACKEND={value!r}: use auto, onnxruntime or torch")
    return value != "torch"


def resnet_trunk(m: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A torchvision ResNet (float or quantized) up to its last stage: what ``imagenet`` calls the trunk."""
    x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
    return m.layer4(m.layer3(m.layer2(m.layer1(x))))


class _TrunkModule(nn.Module):
    """The trunk as a module, for export."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return resnet_trunk(self.model, x)


def onnx_dir() -> Path:
    return Path(torch.hub.get_dir()) / "onnx"


def _export(model: nn.Module) -> bytes:
    buf = io.BytesIO()
    # the TorchScript-based exporter: 1.4 s for ResNet-50 and no onnxscript needed (it warns that it is
    # deprecated in favour of torch.export; torch is pinned in requirements.txt)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(_TrunkModule(model).eval(), torch.zeros(INPUT_SHAPE), buf, dynamo=False,
                          opset_version=OPSET, input_names=["input"], output_names=["features"])
    return buf.getvalue()


def _cached_path(weights_file: Path) -> Path:
    return onnx_dir() / f"{weights_file.stem}.trunk-opset{OPSET}.onnx"


def _onnx_model(model: nn.Module, weights_file: Path) -> str | bytes:
    """The exported trunk: a cached file's path, or the bytes when the cache folder is not writable."""
    path = _cached_path(weights_file)
    if path.is_file() and path.stat().st_mtime >= weights_file.stat().st_mtime:
        return str(path)
    blob = _export(model)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}.{threading.get_ident()}.partial")
        tmp.write_bytes(blob)
        os.replace(tmp, path)
    except OSError as e:
        log.warning("could not cache the ONNX trunk in %s (%s); keeping it in memory", path.parent, e)
    return blob


def _session(ort, source: str | bytes):
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = torch.get_num_threads()
    opts.inter_op_num_threads = 1
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.add_session_config_entry("session.set_denormal_as_zero", "1")
    # spinning workers would steal the cores from a live training run sharing the machine
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(source, opts, providers=["CPUExecutionProvider"])


def _probe() -> torch.Tensor:
    """A fixed, image-like input: smooth colour fields in the normalised range."""
    g = torch.Generator().manual_seed(0)
    coarse = torch.randn((1, 3, 14, 14), generator=g)
    return torch.nn.functional.interpolate(coarse, size=INPUT_SHAPE[2:], mode="bilinear", align_corners=False)


def onnx_trunk(model: nn.Module, weights_file: Path, reference: Trunk) -> tuple[Trunk | None, str]:
    """An ONNX Runtime trunk equal (within float tolerance) to ``reference``, or (None, why not)."""
    if not wanted():
        return None, "RESNET_DEMO_BACKEND=torch"
    try:
        import onnxruntime as ort
    except ImportError:
        return None, "onnxruntime is not installed"
    try:
        session = _session(ort, _onnx_model(model, weights_file))
    except Exception:  # noqa: BLE001 -- e.g. a truncated cache file: export afresh once
        _cached_path(weights_file).unlink(missing_ok=True)
        try:
            session = _session(ort, _onnx_model(model, weights_file))
        except Exception as e:  # noqa: BLE001 -- onnx missing, an exporter or ORT failure: keep torch
            return None, f"no ONNX trunk ({type(e).__name__}: {e})"

    def trunk(x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape) != INPUT_SHAPE:
            return reference(x)
        out = session.run(None, {"input": x.detach().contiguous().numpy()})[0]
        return torch.from_numpy(out)

    x = _probe()
    with torch.inference_mode():
        want = reference(x)
    got = trunk(x)
    err = float((got - want).abs().max() / want.abs().max().clamp_min(1e-12))
    if not err < 1e-3:
        return None, f"ONNX Runtime disagreed with torch (max error {err:.1e} of the largest feature)"
    return trunk, f"ONNX Runtime {ort.__version__} (trunk) + torch (head, Grad-CAM)"
