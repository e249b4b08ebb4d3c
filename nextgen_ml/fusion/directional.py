"""Directional (MulT-style) cross-modal attention (Tsai et al., 2019, "Multimodal Transformer for Unaligned
Multimodal Language Sequences"): each modality's tokens query the other modalities' tokens."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import LearnedVectors, check_in_dims, fill_empty_rows, prepare_inputs
from nextgen_ml.layers import TransformerBlock
from nextgen_ml.registry import register_fusion


def pair_key(target: str, source: str) -> str:
    """ModuleDict key of the ``target ← source`` cross-attention stack (``pairwise=True``)."""
    return f"{target}__from__{source}"


class DirectionalCrossAttentionFusion(nn.Module):
    """Each (target) modality's tokens query the other modalities' tokens with a stack of cross-attention
    :class:`TransformerBlock` s; a learned "null" key is always attendable, so no row attends over an empty set.

    * ``pairwise=False`` (default): one stack per target over the concatenated tokens of every other modality
      (plus a learned modality-type embedding); the keys of absent modalities are masked. ``M`` stacks.
    * ``pairwise=True`` (MulT): one stack per ordered pair ``(target, source)``; the target's tokens become the mean
      of its pair outputs over the sources **present** in the row. ``M (M - 1)`` stacks (42 for 7 modalities).

    Where no other modality is present, a target keeps its own tokens. Each target's tokens are mean-pooled and
    LayerNorm-ed; the per-target vectors (a learned missing vector where the target is absent) are concatenated in
    sorted order with the ``(B, M)`` presence indicators and projected to ``embed_dim``. Rows with no modality get a
    learned "no data" embedding.

    Args:
        in_dims: modality → token width ``D_m``.
        embed_dim: model width (= ``out_dim``).
        num_layers: cross-attention blocks per stack.
        num_heads: attention heads.
        mlp_ratio: feed-forward width relative to ``embed_dim``.
        dropout: dropout in the transformer blocks.
        pairwise: one stack per ordered modality pair (MulT) instead of one per target.

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
        pairwise: bool = False,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.in_dims = check_in_dims(in_dims)
        self.out_dim, self.pairwise = embed_dim, pairwise
        names = list(self.in_dims)
        self.proj = nn.ModuleDict({m: nn.Linear(d, embed_dim) for m, d in self.in_dims.items()})
        self.kv_norm = nn.LayerNorm(embed_dim)
        self.null_key = LearnedVectors(1, embed_dim)
        keys = [pair_key(t, s) for t in names for s in names if s != t] if pairwise else names
        self.stacks = nn.ModuleDict(
            {
                k: nn.ModuleList(TransformerBlock(embed_dim, num_heads, mlp_ratio, dropout) for _ in range(num_layers))
                for k in keys
            }
        )
        self.type_embed = None if pairwise else nn.Embedding(len(names), embed_dim)
        if self.type_embed is not None:
            nn.init.normal_(self.type_embed.weight, std=0.02)
        self.pool_norm = nn.LayerNorm(embed_dim)
        self.missing = nn.ModuleDict({m: LearnedVectors(1, embed_dim) for m in names})
        self.out = nn.Linear(len(names) * embed_dim + len(names), embed_dim)
        self.no_data = LearnedVectors(1, embed_dim)

    def _attend(self, key: str, x: Tensor, kv: Tensor, key_mask: Tensor) -> Tensor:
        for block in self.stacks[key]:
            x = block(x, kv=kv, key_mask=key_mask)  # (B, T_t, E)
        return x

    def _pairwise(self, t: str, tokens: dict[str, Tensor], null: Tensor, present: Tensor) -> Tensor:
        """Mean over present sources of the ``t ← s`` outputs; ``(B, T_t, E)``."""
        names = list(self.in_dims)
        x = tokens[t]
        total, count = torch.zeros_like(x), x.new_zeros(x.shape[0], 1, 1)
        for s, y in tokens.items():
            if s == t:
                continue
            here = present[:, names.index(s), None]  # (B, 1)
            kv = torch.cat([null, self.kv_norm(y)], dim=1)  # (B, 1 + T_s, E)
            key_mask = torch.cat([torch.ones_like(here), here.expand(-1, y.shape[1])], dim=1)  # (B, 1 + T_s)
            out = self._attend(pair_key(t, s), x, kv, key_mask)  # (B, T_t, E)
            total = total + torch.where(here[:, :, None], out, torch.zeros_like(out))
            count = count + here[:, :, None].to(x.dtype)
        return torch.where(count > 0, total / count.clamp_min(1.0), x)  # (B, T_t, E)

    def _joint(self, t: str, tokens: dict[str, Tensor], null: Tensor, present: Tensor) -> Tensor:
        """One stack over the tokens of every other modality; ``(B, T_t, E)``."""
        names = list(self.in_dims)
        x, batch = tokens[t], tokens[t].shape[0]
        seq, keep = [null], [present.new_ones(batch, 1)]
        for s, y in tokens.items():
            if s == t:
                continue
            j = names.index(s)
            kind = torch.full(y.shape[:2], j, dtype=torch.long, device=y.device)  # (B, T_s)
            seq.append(self.kv_norm(y) + self.type_embed(kind))  # (B, T_s, E)
            keep.append(present[:, j : j + 1].expand(-1, y.shape[1]))  # (B, T_s)
        others = torch.cat(keep[1:], dim=1).any(dim=1) if len(keep) > 1 else present.new_zeros(batch)  # (B,)
        out = self._attend(t, x, torch.cat(seq, dim=1), torch.cat(keep, dim=1))  # (B, T_t, E)
        return torch.where(others[:, None, None], out, x)

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=True)
        batch, device = present.shape[0], present.device
        tokens = {m: self.proj[m](x) for m, x in clean.items()}  # m -> (B, T_m, E)
        null = self.null_key(batch, device)[:, None]  # (B, 1, E)
        attend = self._pairwise if self.pairwise else self._joint
        parts = []
        for i, t in enumerate(self.in_dims):
            pooled = self.missing[t](batch, device)  # (B, E)
            if t in tokens:
                seq = attend(t, tokens, null, present)  # (B, T_t, E)
                pooled = torch.where(present[:, i : i + 1], self.pool_norm(seq.mean(dim=1)), pooled)  # (B, E)
            parts.append(pooled)
        parts.append(present.to(parts[0].dtype))  # (B, M) presence indicators
        out = self.out(torch.cat(parts, dim=1))  # (B, M*E + M) -> (B, E)
        return fill_empty_rows(out, present, self.no_data(batch, device))


@register_fusion
def directional_attention(
    in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs
) -> DirectionalCrossAttentionFusion:
    """Directional cross-attention: each modality's tokens query the others'.

    See :class:`DirectionalCrossAttentionFusion`.
    """
    return DirectionalCrossAttentionFusion(check_in_dims(in_dims), embed_dim, **kwargs)
