"""Latent cross-attention (Perceiver-style; Jaegle et al., 2021, "Perceiver"): a learned latent array reads the
tokens of every modality, then self-attends."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import LearnedVectors, check_in_dims, prepare_inputs
from nextgen_ml.layers import TransformerBlock
from nextgen_ml.registry import register_fusion


class LatentCrossAttentionFusion(nn.Module):
    """``num_latents`` learned latent vectors cross-attend to the tokens of all modalities (projected to
    ``embed_dim``, plus a learned modality-type embedding); tokens of an absent modality are masked keys. As in
    Flamingo's Perceiver Resampler the latents are also keys of their own cross-attention, so a row with no
    modality attends to the latents only and gets a learned "no data" output. Each layer is one cross-attention
    block followed by ``self_per_cross`` self-attention blocks over the latents. The output is the LayerNorm-ed
    mean of the final latents.

    Args:
        in_dims: modality → token width ``D_m``.
        embed_dim: model and latent width (= ``out_dim``).
        num_latents: latent array length ``N``.
        num_layers: cross-attention layers.
        self_per_cross: latent self-attention blocks after each cross-attention.
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
        num_latents: int = 8,
        num_layers: int = 1,
        self_per_cross: int = 1,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_latents < 1 or num_layers < 1 or self_per_cross < 0:
            raise ValueError(
                f"num_latents ({num_latents}) and num_layers ({num_layers}) must be >= 1 and "
                f"self_per_cross ({self_per_cross}) >= 0"
            )
        self.in_dims = check_in_dims(in_dims)
        self.out_dim, self.num_latents = embed_dim, num_latents
        self.proj = nn.ModuleDict({m: nn.Linear(d, embed_dim) for m, d in self.in_dims.items()})
        self.type_embed = nn.Embedding(len(self.in_dims), embed_dim)
        nn.init.normal_(self.type_embed.weight, std=0.02)
        self.kv_norm = nn.LayerNorm(embed_dim)
        self.latents = LearnedVectors(num_latents, embed_dim)
        self.cross = nn.ModuleList(
            TransformerBlock(embed_dim, num_heads, mlp_ratio, dropout) for _ in range(num_layers)
        )
        self.self_blocks = nn.ModuleList(
            nn.ModuleList(TransformerBlock(embed_dim, num_heads, mlp_ratio, dropout) for _ in range(self_per_cross))
            for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=True)
        batch, device = present.shape[0], present.device
        names = list(self.in_dims)
        seq, keep = [], []
        for m, x in clean.items():
            i, t = names.index(m), x.shape[1]
            kind = torch.full((batch, t), i, dtype=torch.long, device=device)  # (B, T_m)
            seq.append(self.proj[m](x) + self.type_embed(kind))  # (B, T_m, E)
            keep.append(present[:, i : i + 1].expand(batch, t))  # (B, T_m)
        tokens, token_mask = self.kv_norm(torch.cat(seq, dim=1)), torch.cat(keep, dim=1)  # (B, ΣT, E), (B, ΣT)
        z = self.latents(batch, device)  # (B, N, E)
        if self.num_latents == 1:
            z = z.unsqueeze(1)  # (B, 1, E)
        latent_mask = present.new_ones(batch, self.num_latents)  # (B, N)
        for cross, selfs in zip(self.cross, self.self_blocks, strict=True):
            kv = torch.cat([tokens, z], dim=1)  # (B, ΣT + N, E)
            z = cross(z, kv=kv, key_mask=torch.cat([token_mask, latent_mask], dim=1))  # (B, N, E)
            for block in selfs:
                z = block(z)  # (B, N, E)
        return self.norm(z.mean(dim=1))  # (B, E)


@register_fusion
def latent_attention(
    in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs
) -> LatentCrossAttentionFusion:
    """Perceiver-style latent array that cross-attends to every modality's tokens.

    See :class:`LatentCrossAttentionFusion`.
    """
    return LatentCrossAttentionFusion(check_in_dims(in_dims), embed_dim, **kwargs)
