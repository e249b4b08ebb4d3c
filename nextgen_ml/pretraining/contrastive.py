"""Symmetric InfoNCE (CLIP) between modalities, with presence masks and a learnable temperature.

A row takes part in a pair's loss only where *both* modalities are present: absent rows are neither anchors nor
negatives, so a record missing one side is never a false positive or negative (its placeholder embedding never
enters the logits). The loss couples the rows of a batch through the in-batch negatives: it has no per-sample
decomposition, so DP-SGD cannot bound one patient's influence on it (see docs/pretraining.md).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn

#: CLIP's initial temperature 0.07, as the log of the logit scale.
INIT_LOGIT_SCALE = math.log(1 / 0.07)
#: CLIP clamps the logit scale at 100.
MAX_LOGIT_SCALE = math.log(100.0)


class LogitScale(nn.Module):
    """The learnable log logit scale (inverse temperature) ``log(1/τ)``, CLIP initialised and clamped at log 100.

    Args:
        init: initial value of ``log(1/τ)``.
    """

    def __init__(self, init: float = INIT_LOGIT_SCALE) -> None:
        super().__init__()
        self.value = nn.Parameter(torch.tensor(float(init)))

    def forward(self) -> Tensor:
        return self.value.clamp(max=MAX_LOGIT_SCALE)  # () ; the gradient is 0 above the clamp


def zero_loss(ref: Tensor, *tensors: Tensor) -> Tensor:
    """A 0 on ``ref``'s device that keeps the graph of ``ref`` and ``tensors`` (no row of the tensors is read, so NaN
    placeholders cannot leak in)."""
    return sum((t[:0].sum() for t in tensors), ref * 0.0)


def info_nce(za: Tensor, zb: Tensor, present: Tensor, logit_scale: Tensor) -> Tensor:
    """Symmetric InfoNCE between the rows of ``za`` and ``zb`` where ``present`` is True.

    Args:
        za: ``(B, D)`` L2-normalised embeddings of modality a.
        zb: ``(B, D)`` L2-normalised embeddings of modality b (row i is the same record as ``za[i]``).
        present: ``(B,)`` bool, True where both modalities are present; only these rows are anchors and negatives.
        logit_scale: ``()`` ``log(1/τ)`` (already clamped, e.g. :class:`LogitScale` ``()``).

    Returns:
        ``()`` ``(CE(a→b) + CE(b→a)) / 2`` over the ``n`` present rows with logits ``exp(logit_scale) · za zbᵀ``;
        a 0 that keeps the graph when ``n < 2`` (no negatives).
    """
    if za.shape != zb.shape or za.ndim != 2:
        raise ValueError(f"za and zb must both be (B, D), got {tuple(za.shape)} and {tuple(zb.shape)}")
    if present.dtype != torch.bool or tuple(present.shape) != (za.shape[0],):
        raise ValueError(f"present must be a bool tensor of shape ({za.shape[0]},), got {present.dtype} "
                         f"{tuple(present.shape)}")
    rows = present.nonzero().squeeze(1)  # (n,)
    a, b = za.index_select(0, rows), zb.index_select(0, rows)  # (n, D): absent rows never reach the logits
    if rows.numel() < 2:
        return zero_loss(logit_scale, a, b)
    logits = logit_scale.exp() * a @ b.T  # (n, n): row i's positive is column i
    target = torch.arange(rows.numel(), device=logits.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2


def contrastive_loss(z: Mapping[str, Tensor], mask: Mapping[str, Tensor], logit_scale: Tensor) -> tuple[Tensor, int]:
    """Mean :func:`info_nce` over every pair of modalities with at least 2 rows where both are present.

    Args:
        z: modality → ``(B, D)`` L2-normalised embeddings.
        mask: modality → ``(B,)`` bool presence.
        logit_scale: ``()`` ``log(1/τ)``.

    Returns:
        ``(loss, pairs)``: the mean over the ``pairs`` that count (a 0 with the graph when none does).
    """
    losses = []
    for ma, mb in itertools.combinations(sorted(z), 2):
        both = mask[ma] & mask[mb]  # (B,)
        if int(both.sum()) >= 2:
            losses.append(info_nce(z[ma], z[mb], both, logit_scale))
    if not losses:
        return zero_loss(logit_scale, *z.values()), 0
    return torch.stack(losses).mean(), len(losses)
