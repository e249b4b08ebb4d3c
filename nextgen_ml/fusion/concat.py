"""Early (concatenation) fusion with learned per-modality "missing" embeddings and presence indicators."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import LearnedVectors, check_in_dims, prepare_inputs
from nextgen_ml.layers import MLP
from nextgen_ml.registry import register_fusion


class ConcatFusion(nn.Module):
    """Project each modality to ``embed_dim``, swap absent rows for a learned missing embedding, concatenate
    (sorted modality order) with the ``(B, M)`` presence indicators and mix with an MLP.

    Args:
        in_dims: modality → feature width ``D_m``.
        embed_dim: projection and output width.
        hidden_dims: hidden widths of the mixing MLP (default ``(embed_dim,)``).
        dropout: dropout inside the mixing MLP.

    Shapes: ``features[m] (B, D_m)``, ``mask[m] (B,)`` → ``(B, embed_dim)``.
    """

    uses_tokens = False

    def __init__(
        self,
        in_dims: Mapping[str, int],
        embed_dim: int = 128,
        hidden_dims: Sequence[int] | None = None,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_dims = check_in_dims(in_dims)
        self.out_dim = embed_dim
        self.proj = nn.ModuleDict({m: nn.Linear(d, embed_dim) for m, d in self.in_dims.items()})
        self.missing = nn.ModuleDict({m: LearnedVectors(1, embed_dim) for m in self.in_dims})
        n = len(self.in_dims)
        hidden = (embed_dim,) if hidden_dims is None else tuple(hidden_dims)
        self.mix = MLP(n * embed_dim + n, hidden, embed_dim, dropout)

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=False)
        batch, device = present.shape[0], present.device
        parts = []
        for i, m in enumerate(self.in_dims):
            missing = self.missing[m](batch, device)  # (B, E)
            if m in clean:
                missing = torch.where(present[:, i : i + 1], self.proj[m](clean[m]), missing)
            parts.append(missing)
        parts.append(present.to(parts[0].dtype))  # (B, M) presence indicators
        return self.mix(torch.cat(parts, dim=1))  # (B, M*E + M) -> (B, E)


@register_fusion
def concat(in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs) -> ConcatFusion:
    """Early fusion: concatenation + MLP (see :class:`ConcatFusion`)."""
    return ConcatFusion(check_in_dims(in_dims), embed_dim, **kwargs)
