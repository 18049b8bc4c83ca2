"""Multiply-adds and parameters counted from a module.

Every operation is counted with torch's own formulas, the registry ``torch.utils.flop_counter.FlopCounterMode``
uses (2 FLOPs per multiply-add of every convolution and matrix product; what torchvision's
``weights.meta["_ops"]`` reports, as GFLOPS, is the multiply-adds), and credited to the modules running at
that moment. The paper's "FLOPs" are multiply-adds too, so that is the unit used throughout: MACs. BN, ReLU and
pooling are not counted, as in the paper. Output shapes are read with forward hooks during the same pass.

Not FlopCounterMode itself: it tracks modules with process-wide hooks, and while it counts, a Grad-CAM
``torch.autograd.grad`` in another request's thread fails ("A leaf node was passed to
_will_engine_execute_node"; tested). ``MacCounter`` is a dispatch mode (thread-local) with hooks on the counted
model only; its totals equal FlopCounterMode's (tested against torchvision's metadata).
"""
from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry


class MacCounter(TorchDispatchMode):
    """Multiply-adds per module: each op's FLOPs by ``flop_registry`` (FlopCounterMode's formulas), halved,
    credited to every module on the stack the forward hooks of ``model`` keep, and to "<global>"."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.flops: dict[str, int] = {"<global>": 0}
        self.handles = []
        for name, m in model.named_modules():
            if name:
                self.handles.append(m.register_forward_pre_hook(self._enter(name)))
                self.handles.append(m.register_forward_hook(self._leave))

    def _enter(self, name: str):
        def hook(_m: nn.Module, _inputs: Any) -> None:
            self.stack.append(name)
        return hook

    def _leave(self, _m: nn.Module, _inputs: Any, _output: Any) -> None:  # returns None: output unchanged
        self.stack.pop()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            flops = formula(*args, **kwargs, out_val=out)
            for name in {"<global>", *self.stack}:
                self.flops[name] = self.flops.get(name, 0) + flops
        return out

    def macs(self) -> dict[str, int]:
        for h in self.handles:
            h.remove()
        return {name: flops // 2 for name, flops in self.flops.items()}


def count_macs(model: nn.Module, size: int) -> tuple[dict[str, int], dict[str, list[int]]]:
    """(MACs per module, by qualified name, "<global>" for the whole; output shape per module) from one
    pass on the meta device."""
    shapes: dict[str, list[int]] = {}
    handles = [m.register_forward_hook(lambda _m, _i, out, n=name: shapes.__setitem__(n, list(out.shape[1:])))
               for name, m in model.named_modules() if name]
    counter = MacCounter(model)
    try:
        with counter, torch.no_grad():
            model(torch.empty(1, 3, size, size, device="meta"))
    finally:
        for h in handles:
            h.remove()
    return counter.macs(), shapes


def params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())
