"""The reference way to delete one block, for the tests and the benchmark of ``residual_stream`` (the served app
never imports this)."""
from __future__ import annotations

import copy

import torch
from torch import nn


def lesioned_copy(model: nn.Module, name: str) -> nn.Module:
    """A copy with block ``name`` deleted through the model's own modules: a residual block's last BN outputs
    zeros (weight and bias zeroed), so the block computes relu(0 + shortcut(x)); a plain block (``residual``
    False) is replaced by an ``nn.Identity``."""
    m = copy.deepcopy(model).eval()
    block = m.get_submodule(name)
    if getattr(block, "residual", True):
        bn = block.bn3 if hasattr(block, "bn3") else block.bn2
        with torch.no_grad():
            bn.weight.zero_()
            bn.bias.zero_()
    else:
        parent, index = name.rsplit(".", 1)
        m.get_submodule(parent)[int(index)] = nn.Identity()
    return m
