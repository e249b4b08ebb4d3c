"""Directional (MulT-style) cross-modal attention (Tsai et al., 2019, "Multimodal Transformer for Unaligned
Multimodal Language Sequences"): one modality's tokens query another modality's tokens."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import LearnedVectors, check_in_dims, fill_empty_rows, prepare_inputs
from nextgen_ml.layers import TransformerBlock
from nextgen_ml.registry import register_fusion


def pair_key(target: str, source: str) -> str:
    """ModuleDict key of the ``target ← source`` cross-attention blocks."""
    return f"{target}__from__{source}"


class DirectionalCrossAttentionFusion(nn.Module):
    """For every ordered pair ``(target, source)`` a stack of cross-attention :class:`TransformerBlock` s lets the
    target's tokens query the source's tokens (one learned "null" key is always attendable, so a row whose source
    is absent never attends over an empty set; that row's pair output is then discarded). A target's tokens become
    the mean of its pair outputs over the sources **present** in the row (its own tokens if no other modality is
    present), are mean-pooled and LayerNorm-ed. The per-target vectors (a learned missing vector where the target is
    absent) are concatenated in sorted order with the ``(B, M)`` presence indicators and projected to ``embed_dim``.
    Rows with no modality get a learned "no data" embedding.

    Cost grows with ``M (M - 1)`` pairs: 7 modalities give 42 block stacks.

    Args:
        in_dims: modality → token width ``D_m``.
        embed_dim: model width (= ``out_dim``).
        num_layers: cross-attention blocks per ordered pair.
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
        num_layers: int = 1,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.in_dims = check_in_dims(in_dims)
        self.out_dim = embed_dim
        names = list(self.in_dims)
        self.proj = nn.ModuleDict({m: nn.Linear(d, embed_dim) for m, d in self.in_dims.items()})
        self.kv_norm = nn.LayerNorm(embed_dim)
        self.null_key = LearnedVectors(1, embed_dim)
        self.pairs = nn.ModuleDict(
            {
                pair_key(t, s): nn.ModuleList(
                    TransformerBlock(embed_dim, num_heads, mlp_ratio, dropout) for _ in range(num_layers)
                )
                for t in names
                for s in names
                if s != t
            }
        )
        self.pool_norm = nn.LayerNorm(embed_dim)
        self.missing = nn.ModuleDict({m: LearnedVectors(1, embed_dim) for m in names})
        self.out = nn.Linear(len(names) * embed_dim + len(names), embed_dim)
        self.no_data = LearnedVectors(1, embed_dim)

    def _attend(self, target: str, source: str, x: Tensor, kv: Tensor, key_mask: Tensor) -> Tensor:
        for block in self.pairs[pair_key(target, source)]:
            x = block(x, kv=kv, key_mask=key_mask)  # (B, T_t, E)
        return x

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=True)
        batch, device = present.shape[0], present.device
        names = list(self.in_dims)
        tokens = {m: self.proj[m](x) for m, x in clean.items()}  # m -> (B, T_m, E)
        null = self.null_key(batch, device)[:, None]  # (B, 1, E)
        keys = {m: torch.cat([null, self.kv_norm(x)], dim=1) for m, x in tokens.items()}  # m -> (B, 1 + T_m, E)
        key_masks = {
            m: torch.cat([present.new_ones(batch, 1), present[:, names.index(m), None].expand(-1, x.shape[1])], dim=1)
            for m, x in tokens.items()
        }  # m -> (B, 1 + T_m)
        parts = []
        for i, t in enumerate(names):
            pooled = self.missing[t](batch, device)  # (B, E)
            if t in tokens:
                total, count = torch.zeros_like(tokens[t]), present.new_zeros(batch, 1, 1, dtype=tokens[t].dtype)
                for s in tokens:
                    if s == t:
                        continue
                    j = names.index(s)
                    here = present[:, j, None, None]  # (B, 1, 1)
                    out = self._attend(t, s, tokens[t], keys[s], key_masks[s])  # (B, T_t, E)
                    total = total + torch.where(here, out, torch.zeros_like(out))
                    count = count + here.to(count.dtype)
                seq = torch.where(count > 0, total / count.clamp_min(1.0), tokens[t])  # (B, T_t, E)
                pooled = torch.where(present[:, i : i + 1], self.pool_norm(seq.mean(dim=1)), pooled)  # (B, E)
            parts.append(pooled)
        parts.append(present.to(parts[0].dtype))  # (B, M) presence indicators
        out = self.out(torch.cat(parts, dim=1))  # (B, M*E + M) -> (B, E)
        return fill_empty_rows(out, present, self.no_data(batch, device))


@register_fusion
def directional_attention(
    in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs
) -> DirectionalCrossAttentionFusion:
    """MulT-style directional cross-attention between every ordered modality pair (see
    :class:`DirectionalCrossAttentionFusion`)."""
    return DirectionalCrossAttentionFusion(check_in_dims(in_dims), embed_dim, **kwargs)
