"""Low-rank multimodal fusion (Liu et al., 2018, "Efficient Low-rank Multimodal Fusion with Modality-Specific
Factors"): the tensor-fusion weight factorised into per-modality rank-``R`` factors."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import check_in_dims, prepare_inputs
from nextgen_ml.registry import register_fusion


class LowRankFusion(nn.Module):
    """``out = LN(Σ_r w_r Π_m (W_m^(r) [x_m, 1]) + b)``: each modality's factor is one ``nn.Linear(D_m, R·E)`` (its
    bias is the weight of the appended "1"). An absent modality contributes its "1" only, i.e. the bias of its
    factor, exactly as the corresponding slice of a tensor-fusion weight would; a row with no modality gives a
    learned constant. Cost is linear in the number of modalities, unlike
    :class:`~nextgen_ml.fusion.tensor.TensorFusion`.

    Args:
        in_dims: modality → feature width ``D_m``.
        embed_dim: output width.
        rank: rank ``R`` of the factorisation.

    Shapes: ``features[m] (B, D_m)``, ``mask[m] (B,)`` → ``(B, embed_dim)``.
    """

    uses_tokens = False

    def __init__(self, in_dims: Mapping[str, int], embed_dim: int = 128, rank: int = 4) -> None:
        super().__init__()
        if rank < 1:
            raise ValueError(f"rank must be >= 1, got {rank}")
        self.in_dims = check_in_dims(in_dims)
        self.out_dim, self.rank = embed_dim, rank
        self.factors = nn.ModuleDict({m: nn.Linear(d, rank * embed_dim) for m, d in self.in_dims.items()})
        for factor in self.factors.values():  # product of M factors near 1 at init, so depth in M does not explode
            nn.init.normal_(factor.weight, std=0.5 / factor.in_features**0.5)
            nn.init.ones_(factor.bias)
        self.rank_mix = nn.Linear(rank, 1, bias=False)  # a shared shift would be removed by the LayerNorm
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=False)
        batch = present.shape[0]
        dtype = next(iter(clean.values())).dtype
        product = None
        for i, m in enumerate(self.in_dims):
            x = clean[m] if m in clean else present.new_zeros(batch, self.in_dims[m], dtype=dtype)  # (B, D_m)
            x = torch.where(present[:, i : i + 1], x, torch.zeros_like(x))  # absent: [0, ..., 0, 1]
            f = self.factors[m](x).view(batch, self.rank, self.out_dim)  # (B, R, E)
            product = f if product is None else product * f
        fused = self.rank_mix(product.transpose(1, 2)).squeeze(-1)  # (B, E, R) -> (B, E)
        return self.norm(fused)


@register_fusion
def low_rank(in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs) -> LowRankFusion:
    """Low-rank multimodal fusion, LMF (see :class:`LowRankFusion`)."""
    return LowRankFusion(check_in_dims(in_dims), embed_dim, **kwargs)
