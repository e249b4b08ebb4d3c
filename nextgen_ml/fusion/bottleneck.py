"""Attention bottleneck fusion (Nagrani et al., 2021, "Attention Bottlenecks for Multimodal Fusion")."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import LearnedVectors, check_in_dims, fill_empty_rows, prepare_inputs
from nextgen_ml.layers import TransformerBlock
from nextgen_ml.registry import register_fusion


class BottleneckFusion(nn.Module):
    """Modalities exchange information only through a few shared latent bottleneck tokens.

    Each layer runs, for every modality, a modality-specific :class:`TransformerBlock` over
    ``[tokens_m; bottleneck]``; the updated bottlenecks are then averaged over the modalities **present** in each
    row. The output is the mean of the final bottleneck tokens (LayerNorm-ed). Rows with no modality get a learned
    "no data" embedding.

    Args:
        in_dims: modality → token width ``D_m``.
        embed_dim: model width (= ``out_dim``).
        num_bottlenecks: number of shared latent tokens.
        num_layers: fusion layers.
        num_heads: attention heads.
        mlp_ratio: feed-forward width relative to ``embed_dim``.
        dropout: dropout in the transformer blocks.

    Shapes: ``features[m] (B, T_m, D_m)``, ``mask[m] (B,)`` → ``(B, embed_dim)``.
    """

    uses_tokens = True

    def __init__(
        self,
        in_dims: Mapping[str, int],
        embed_dim: int = 128,
        num_bottlenecks: int = 4,
        num_layers: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_bottlenecks < 1 or num_layers < 1:
            raise ValueError(f"num_bottlenecks ({num_bottlenecks}) and num_layers ({num_layers}) must be >= 1")
        self.in_dims = check_in_dims(in_dims)
        self.out_dim = embed_dim
        self.proj = nn.ModuleDict({m: nn.Linear(d, embed_dim) for m, d in self.in_dims.items()})
        self.bottleneck = LearnedVectors(num_bottlenecks, embed_dim)
        self.layers = nn.ModuleList(
            nn.ModuleDict({m: TransformerBlock(embed_dim, num_heads, mlp_ratio, dropout) for m in self.in_dims})
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.no_data = LearnedVectors(1, embed_dim)
        self.num_bottlenecks = num_bottlenecks

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=True)
        batch, device = present.shape[0], present.device
        names = list(self.in_dims)
        tokens = {m: self.proj[m](x) for m, x in clean.items()}  # m -> (B, T_m, E)
        z = self.bottleneck(batch, device)  # (B, N, E)
        if self.num_bottlenecks == 1:
            z = z.unsqueeze(1)  # (B, 1, E)
        count = present.sum(dim=1).clamp_min(1).to(z.dtype)[:, None, None]  # (B, 1, 1)
        for layer in self.layers:
            total = torch.zeros_like(z)
            for m, x in tokens.items():
                i = names.index(m)
                seq = layer[m](torch.cat([x, z], dim=1))  # (B, T_m + N, E)
                tokens[m] = seq[:, : x.shape[1]]  # (B, T_m, E)
                z_m = seq[:, x.shape[1] :]  # (B, N, E)
                total = total + torch.where(present[:, i, None, None], z_m, torch.zeros_like(z_m))
            z = total / count  # (B, N, E) mean over present modalities
        out = self.norm(z.mean(dim=1))  # (B, E)
        return fill_empty_rows(out, present, self.no_data(batch, device))


@register_fusion
def bottleneck(in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs) -> BottleneckFusion:
    """Attention-bottleneck fusion over token sequences (see :class:`BottleneckFusion`)."""
    return BottleneckFusion(check_in_dims(in_dims), embed_dim, **kwargs)
