"""Late fusion: per-modality decision embeddings combined by a masked mean or learned weights."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import LearnedVectors, check_in_dims, fill_empty_rows, masked_softmax, prepare_inputs
from nextgen_ml.layers import MLP
from nextgen_ml.registry import register_fusion

COMBINE_MODES: tuple[str, ...] = ("mean", "learned")


class LateFusion(nn.Module):
    """Each modality gets its own MLP to an ``embed_dim`` "decision embedding"; the embeddings of the present
    modalities are averaged (``combine="mean"``) or weighted by a softmax of learnable logits taken over the
    present modalities only (``combine="learned"``). With a linear task head this equals combining per-modality
    decisions. Rows with no modality get a learned "no data" embedding.

    Args:
        in_dims: modality → feature width ``D_m``.
        embed_dim: decision-embedding width (= ``out_dim``).
        hidden_dims: hidden widths of each per-modality MLP.
        combine: ``"mean"`` or ``"learned"``.
        dropout: dropout inside the per-modality MLPs.

    Shapes: ``features[m] (B, D_m)``, ``mask[m] (B,)`` → ``(B, embed_dim)``.
    """

    uses_tokens = False

    def __init__(
        self,
        in_dims: Mapping[str, int],
        embed_dim: int = 128,
        hidden_dims: Sequence[int] = (),
        combine: str = "mean",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if combine not in COMBINE_MODES:
            raise ValueError(f"combine must be one of {COMBINE_MODES}, got {combine!r}")
        self.in_dims = check_in_dims(in_dims)
        self.out_dim, self.combine = embed_dim, combine
        self.heads = nn.ModuleDict({m: MLP(d, tuple(hidden_dims), embed_dim, dropout) for m, d in self.in_dims.items()})
        self.weight_logits = LearnedVectors(1, len(self.in_dims), std=0.0) if combine == "learned" else None
        self.no_data = LearnedVectors(1, embed_dim)

    def modality_weights(self, present: Tensor) -> Tensor:
        """Combination weights over the present modalities.

        Shapes: ``present (B, M)`` bool → ``(B, M)``; rows sum to 1 (0 for rows with no modality).
        """
        if self.weight_logits is None:
            logits = torch.zeros(present.shape, device=present.device)
        else:
            logits = self.weight_logits(present.shape[0], present.device)  # (B, M)
        return masked_softmax(logits, present)

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=False)
        weights = self.modality_weights(present)  # (B, M)
        names = list(self.in_dims)
        out = 0.0
        for m in clean:
            i = names.index(m)
            out = out + weights[:, i : i + 1] * self.heads[m](clean[m])  # (B, E)
        return fill_empty_rows(out, present, self.no_data(present.shape[0], present.device))


@register_fusion
def late(in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs) -> LateFusion:
    """Late fusion of per-modality decision embeddings (see :class:`LateFusion`)."""
    return LateFusion(check_in_dims(in_dims), embed_dim, **kwargs)
