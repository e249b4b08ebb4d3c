"""Cross-modal attention fusion: one transformer over the tokens of all modalities plus a CLS token."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

from nextgen_ml.fusion.base import LearnedVectors, check_in_dims, prepare_inputs
from nextgen_ml.layers import TransformerBlock
from nextgen_ml.registry import register_fusion


class CrossAttentionFusion(nn.Module):
    """Project each modality's tokens to ``embed_dim``, add a learned modality-type embedding, prepend a CLS token
    and run :class:`TransformerBlock` s whose key padding mask hides every token of an absent modality. The output
    is the (LayerNorm-ed) CLS token; a row with no modality attends only to CLS, which gives a learned "no data"
    embedding.

    Call :meth:`record_attention` before a forward to keep attention maps, then read :meth:`cls_attention`
    ``(B, M)`` or :meth:`modality_attention` ``(B, M, M)`` (columns in sorted modality order).

    Args:
        in_dims: modality → token width ``D_m``.
        embed_dim: model width (= ``out_dim``).
        num_layers: transformer blocks.
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
        num_layers: int = 2,
        num_heads: int = 4,
        mlp_ratio: float = 2.0,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError(f"num_layers must be >= 1, got {num_layers}")
        self.in_dims = check_in_dims(in_dims)
        self.out_dim = embed_dim
        self.proj = nn.ModuleDict({m: nn.Linear(d, embed_dim) for m, d in self.in_dims.items()})
        self.type_embed = nn.Embedding(len(self.in_dims), embed_dim)
        nn.init.normal_(self.type_embed.weight, std=0.02)
        self.cls = LearnedVectors(1, embed_dim)
        self.blocks = nn.ModuleList(
            TransformerBlock(embed_dim, num_heads, mlp_ratio, dropout) for _ in range(num_layers)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self._spans: list[tuple[int, int, int]] = []  # (modality index, start, stop) in the token sequence
        self._present: Tensor | None = None

    @property
    def modalities(self) -> list[str]:
        """Modality names in the order of the attention maps' modality axes."""
        return list(self.in_dims)

    def record_attention(self, enabled: bool = True) -> None:
        """Keep (or stop keeping) every block's attention weights at the next forward passes."""
        for block in self.blocks:
            block.attn.record_weights = enabled
            block.attn.last_weights = None

    def forward(self, features: Mapping[str, Tensor], mask: Mapping[str, Tensor]) -> Tensor:
        clean, present = prepare_inputs(features, mask, self.in_dims, tokens=True)
        batch, device = present.shape[0], present.device
        names = list(self.in_dims)
        seq, keep, spans, start = [self.cls(batch, device)[:, None]], [present.new_ones(batch, 1)], [], 1
        for m, x in clean.items():
            i, t = names.index(m), x.shape[1]
            kind = torch.full((batch, t), i, dtype=torch.long, device=device)  # (B, T_m)
            seq.append(self.proj[m](x) + self.type_embed(kind))  # (B, T_m, E)
            keep.append(present[:, i : i + 1].expand(batch, t))  # (B, T_m)
            spans.append((i, start, start + t))
            start += t
        h, key_mask = torch.cat(seq, dim=1), torch.cat(keep, dim=1)  # (B, 1 + ΣT, E), (B, 1 + ΣT)
        for block in self.blocks:
            h = block(h, key_mask=key_mask)
        self._spans, self._present = spans, present
        return self.norm(h[:, 0])  # (B, E)

    def _weights(self, layer: int) -> Tensor:
        weights = self.blocks[layer].attn.last_weights
        if weights is None or self._present is None:
            raise ValueError("no attention recorded: call record_attention() and run a forward pass first")
        return weights.mean(dim=1)  # (B, Tq, Tk) averaged over heads

    def _per_modality_keys(self, weights: Tensor) -> Tensor:
        """Sum attention over each modality's key tokens: ``(B, Tq, Tk)`` → ``(B, Tq, M)``."""
        cols = [weights.new_zeros(weights.shape[:2])] * len(self.in_dims)  # M x (B, Tq)
        for i, a, b in self._spans:
            cols[i] = weights[:, :, a:b].sum(dim=-1)
        return torch.stack(cols, dim=-1)  # (B, Tq, M)

    def cls_attention(self, layer: int = -1) -> Tensor:
        """Share of the CLS token's attention on each modality (recorded forward, given layer).

        Returns: ``(B, M)``; the remainder to 1 is CLS attending to itself; absent modalities get 0.
        """
        return self._per_modality_keys(self._weights(layer))[:, 0]  # (B, M)

    def modality_attention(self, layer: int = -1) -> Tensor:
        """Mean attention from the tokens of modality ``i`` (queries) to all tokens of modality ``j`` (keys).

        Returns: ``(B, M, M)``; rows of modalities absent from a record (or from the forward) are 0.
        """
        per_key = self._per_modality_keys(self._weights(layer))  # (B, Tq, M)
        rows = [per_key.new_zeros(per_key.shape[0], len(self.in_dims))] * len(self.in_dims)  # M x (B, M)
        for i, a, b in self._spans:
            rows[i] = per_key[:, a:b].mean(dim=1)
        out = torch.stack(rows, dim=1)  # (B, M, M)
        present = self._present[:, :, None].to(out.dtype)  # type: ignore[index]  # (B, M, 1)
        return out * present


@register_fusion
def cross_attention(in_dims: Mapping[str, int] | None = None, embed_dim: int = 128, **kwargs) -> CrossAttentionFusion:
    """Transformer over all modalities' tokens with a CLS read-out (see :class:`CrossAttentionFusion`)."""
    return CrossAttentionFusion(check_in_dims(in_dims), embed_dim, **kwargs)
