"""Optimizer parameter groups from per-module learning-rate scales (``model.encoder.<m>.lr_scale``).

An encoder built with ``lr_scale: s`` (see :func:`nextgen_ml.models.builder.build_encoder`) trains at ``s`` times
the run's learning rate; everything else at the run's rate. Token-embedding encoders (text, genomics) learn from
sparse per-token gradients and often want a larger rate than convolutional ones within the same short budget
(docs/results.md §13).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

#: param-group key holding the group's multiplier of the run's learning rate
LR_SCALE = "lr_scale"


def parameter_groups(module: nn.Module) -> list[dict[str, Any]]:
    """The module's trainable parameters as groups: the unscaled rest first, then one group per scaled submodule.

    Frozen parameters (``requires_grad=False``) are left out. A parameter is in the group of the outermost
    submodule with an ``lr_scale`` attribute that holds it.
    """
    seen: set[int] = set()
    scaled: list[dict[str, Any]] = []
    for sub in module.modules():
        scale = getattr(sub, LR_SCALE, None)
        if scale is None or sub is module:
            continue
        params = [p for p in sub.parameters() if p.requires_grad and id(p) not in seen]
        seen.update(id(p) for p in params)
        if params:
            scaled.append({"params": params, LR_SCALE: float(scale)})
    rest = [p for p in module.parameters() if p.requires_grad and id(p) not in seen]
    return ([{"params": rest, LR_SCALE: 1.0}] if rest else []) + scaled


def apply_lr_scales(optimizer: torch.optim.Optimizer) -> torch.optim.Optimizer:
    """Multiply each group's learning rate by its ``lr_scale`` (before any scheduler records ``initial_lr``)."""
    for group in optimizer.param_groups:
        group["lr"] = group["lr"] * float(group.get(LR_SCALE, 1.0))
    return optimizer
