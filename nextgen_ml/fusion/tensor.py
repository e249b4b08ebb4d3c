"""Tensor fusion (Zadeh et al., 2017, "Tensor Fusion Network for Multimodal Sentiment Analysis"): the outer
product of the ``[h_m, 1]`` vectors of all modalities."""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import check_in_dims, prepare_inputs
from nextgen_ml.layers import MLP
from nextgen_ml.registry import register_fusion

#: default cap on the outer-product size ``Π_m (proj_dim + 1)`` when ``proj_dim`` is chosen automatically.
MAX_PRODUCT = 4096


def auto_proj_dim(num_modalities: int, max_product: int = MAX_PRODUCT) -> int:
    """Largest ``p >= 1`` with ``(p + 1) ** num_modalities <= max_product`` (at least 1)."""
    p = max(1, int(math.floor(max_product ** (1.0 / num_modalities))) - 1)
    while p > 1 and (p + 1) ** num_modalities > max_product:
        p -= 1
    return p


class TensorFusion(nn.Module):
    """``h_m = tanh(W_m x_m)`` of width ``proj_dim``; ``z_m = [h_m, 1]`` for a present modality and ``[0, ..., 0,
    1]`` for an absent one (it contributes its "1" only); the outer product ``z_1 ⊗ ... ⊗ z_M`` (sorted order),
    flattened, holds every unimodal, bimodal, ..., M-modal interaction and goes through an MLP to ``embed_dim``.
    A row with no modality has the one-hot product of the "1" s, so its output is a learned constant.

    The product has ``(proj_dim + 1) ** M`` entries: ``proj_dim=None`` picks the largest one that keeps it at most
    ``max_product`` (63 for 2 modalities, 4 for 5, 2 for 7).

    Args:
        in_dims: modality → feature width ``D_m``.
        embed_dim: output width.
        proj_dim: width of each ``h_m`` (None: automatic, see above).
        max_product: cap on the product size for the automatic ``proj_dim`` and for an explicit one.
        dropout: dropout inside the post-fusion MLP.

    Shapes: ``features[m] (B, D_m)``, ``mask[m] (B,)`` → ``(B, embed_dim)``.
    """

    uses_tokens = False

    def __init__(
        self,
        in_dims: Mapping[str, int],
        embed_dim: int = 128,
        proj_dim: int | None = None,
        max_product: int = MAX_PRODUCT,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.in_dims = check_in_dims(in_dims)
        n = len(self.in_dims)
        self.proj_dim = auto_proj_dim(n, max_product) if proj_dim is None else proj_dim
        if self.proj_dim < 1:
            raise ValueError(f"proj_dim must be >= 1, got {proj_dim}")
        self.product_dim = (self.proj_dim + 1) ** n
        if self.product_dim > max_product:
            raise ValueError(
                f"proj_dim ({proj_dim}) gives a {self.product_dim}-entry outer product over {n} "
                f"modalities, above max_product ({max_product}): lower proj_dim or use 'low_rank'"
            )
        self.out_dim = embed_dim
        self.proj = nn.ModuleDict({m: nn.Linear(d, self.proj_dim) for m, d in self.in_dims.items()})
        self.mix = MLP(self.product_dim, (embed_dim,), embed_dim, dropout)

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=False)
        batch = present.shape[0]
        one = present.new_ones(batch, 1, dtype=next(iter(clean.values())).dtype)  # (B, 1)
        product = one
        for i, m in enumerate(self.in_dims):
            h = torch.tanh(self.proj[m](clean[m])) if m in clean else one.new_zeros(batch, self.proj_dim)  # (B, p)
            h = torch.where(present[:, i : i + 1], h, torch.zeros_like(h))
            z = torch.cat([h, one], dim=1)  # (B, p + 1)
            product = (product[:, :, None] * z[:, None, :]).reshape(batch, -1)  # (B, K * (p + 1))
        return self.mix(product)  # (B, Π(p + 1)) -> (B, E)


@register_fusion
def tensor(in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs) -> TensorFusion:
    """Tensor fusion: outer product of ``[h_m, 1]`` (see :class:`TensorFusion`)."""
    return TensorFusion(check_in_dims(in_dims), embed_dim, **kwargs)
