"""Modality dropout: hide present modalities at random during training, never all of a row's."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def drop_modalities(present: Tensor, p: float) -> Tensor:
    """Randomly set present entries to False with probability ``p``, never emptying a row that had data.

    A row whose draws would drop every present modality keeps one of them, chosen uniformly.

    Shapes: ``present (B, M)`` bool → ``(B, M)`` bool.
    """
    keep = present & (torch.rand(present.shape, device=present.device) >= p)
    emptied = present.any(dim=1) & ~keep.any(dim=1)  # (B,)
    scores = torch.rand(present.shape, device=present.device).masked_fill(~present, -1.0)
    rescue = nn.functional.one_hot(scores.argmax(dim=1), present.shape[1]).bool() & present  # (B, M)
    return torch.where(emptied[:, None], rescue, keep)
