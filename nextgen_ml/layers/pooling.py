"""Pooling over token sequences with an optional validity mask."""

from __future__ import annotations

import torch
from torch import Tensor


def masked_mean(x: Tensor, mask: Tensor | None = None, dim: int = 1) -> Tensor:
    """Mean of ``x`` over ``dim`` counting only positions where ``mask`` is True.

    Shapes: ``x (B, T, D)``, ``mask (B, T)`` bool → ``(B, D)``. Rows with no valid position give zeros.
    """
    if mask is None:
        return x.mean(dim)
    w = mask.to(x.dtype).unsqueeze(-1)  # (B, T, 1)
    return (x * w).sum(dim) / w.sum(dim).clamp_min(1.0)


def masked_max(x: Tensor, mask: Tensor | None = None, dim: int = 1) -> Tensor:
    """Max over ``dim`` ignoring masked positions; rows with no valid position give zeros."""
    if mask is None:
        return x.amax(dim)
    filled = x.masked_fill(~mask.unsqueeze(-1), torch.finfo(x.dtype).min)
    out = filled.amax(dim)
    return torch.where(mask.any(dim).unsqueeze(-1), out, torch.zeros_like(out))
