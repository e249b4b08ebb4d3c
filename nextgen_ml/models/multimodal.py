"""``MultimodalNet``: per-modality encoders → fusion → head, composed (not subclassed)."""

from __future__ import annotations

from collections.abc import Mapping

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


class MultimodalNet(nn.Module):
    """Encoders (one per modality) → fusion → head, with named outputs.

    Args:
        encoders: modality → encoder with ``out_dim``, ``forward(x) -> (B, D)`` and
            ``forward_tokens(x) -> (B, T, D)``.
        fusion: fusion with ``uses_tokens`` and ``forward(features, mask) -> (B, E)``.
        head: ``(B, E) -> (B, K)``.
        modality_dropout: training-time probability of hiding each present modality of a row (never all of them).

    Shapes: ``inputs[m]`` as in the batch contract, ``mask[m] (B,)`` bool →
    ``{"logits": (B, K), "embedding": (B, E)}``.
    """

    def __init__(self, encoders: nn.ModuleDict, fusion: nn.Module, head: nn.Module,
                 modality_dropout: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= modality_dropout < 1.0:
            raise ValueError(f"modality_dropout must be in [0, 1), got {modality_dropout}")
        self.encoders, self.fusion, self.head = encoders, fusion, head
        self.modality_dropout = modality_dropout

    def encode(self, inputs: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Encode the given modalities (sorted order) as vectors ``(B, D)`` or tokens ``(B, T, D)`` as the fusion
        expects."""
        unknown = sorted(set(inputs) - set(self.encoders))
        if unknown:
            raise ValueError(f"inputs has modalities without an encoder: {unknown}; encoders: {sorted(self.encoders)}")
        tokens = bool(self.fusion.uses_tokens)
        out = {}
        for m in sorted(inputs):
            enc = self.encoders[m]
            out[m] = enc.forward_tokens(inputs[m]) if tokens else enc(inputs[m])
        return out

    def forward(self, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> dict[str, Tensor]:
        missing = sorted(set(inputs) - set(mask))
        if missing:
            raise ValueError(f"mask is missing for modalities {missing}")
        mask = {m: mask[m] for m in sorted(inputs)}
        if self.training and self.modality_dropout > 0 and mask:
            names = list(mask)
            present = drop_modalities(torch.stack([mask[m] for m in names], dim=1), self.modality_dropout)
            mask = {m: present[:, i] for i, m in enumerate(names)}
        embedding = self.fusion(self.encode(inputs), mask)  # (B, E)
        return {"logits": self.head(embedding), "embedding": embedding}
