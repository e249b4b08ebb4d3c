"""Attention built from ``nn.Linear`` + ``F.scaled_dot_product_attention`` (Opacus-compatible).

``nn.MultiheadAttention`` fuses its projections into one parameter that Opacus cannot hook without its
``DPMultiheadAttention`` replacement; these blocks use plain Linear layers so per-sample gradients work
in every grad-sample mode.
"""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class MultiHeadAttention(nn.Module):
    """Multi-head attention over key/value tokens.

    Args:
        dim: model width (query, key and value width).
        num_heads: heads; ``dim`` must be divisible by it.
        dropout: attention dropout (training only).

    Shapes: ``q (B, Tq, D)``, ``kv (B, Tk, D)``, ``key_mask (B, Tk)`` bool, True = attend → ``(B, Tq, D)``.
    """

    def __init__(self, dim: int, num_heads: int = 4, dropout: float = 0.0) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"dim ({dim}) must be divisible by num_heads ({num_heads})")
        self.num_heads, self.dropout = num_heads, dropout
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.out = nn.Linear(dim, dim)
        self.last_weights: Tensor | None = None  # (B, H, Tq, Tk) when record_weights is set
        self.record_weights = False

    def _split(self, x: Tensor) -> Tensor:
        b, t, d = x.shape
        return x.view(b, t, self.num_heads, d // self.num_heads).transpose(1, 2)  # (B, H, T, Dh)

    def forward(self, q: Tensor, kv: Tensor | None = None, key_mask: Tensor | None = None) -> Tensor:
        kv = q if kv is None else kv
        b, tq, d = q.shape
        qh, kh, vh = self._split(self.q(q)), self._split(self.k(kv)), self._split(self.v(kv))
        attn_mask = None if key_mask is None else key_mask[:, None, None, :]  # (B, 1, 1, Tk)
        if self.record_weights:
            scores = (qh @ kh.transpose(-2, -1)) / (qh.shape[-1] ** 0.5)  # (B, H, Tq, Tk)
            if attn_mask is not None:
                scores = scores.masked_fill(~attn_mask, float("-inf"))
            self.last_weights = scores.softmax(-1).detach()
        drop = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(qh, kh, vh, attn_mask=attn_mask, dropout_p=drop)  # (B, H, Tq, Dh)
        out = out.transpose(1, 2).reshape(b, tq, d)  # (B, Tq, D)
        return self.out(out)


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: ``x + Attn(LN(x)); x + MLP(LN(x))`` (out-of-place residuals).

    Args:
        dim: model width.
        num_heads: attention heads.
        mlp_ratio: hidden width of the feed-forward block relative to ``dim``.
        dropout: dropout in attention and feed-forward.

    Shapes: ``x (B, T, D)``, ``kv (B, Tk, D)`` optional (cross-attention), ``key_mask (B, Tk)`` → ``(B, T, D)``.
    """

    def __init__(self, dim: int, num_heads: int = 4, mlp_ratio: float = 2.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim)
        self.attn = MultiHeadAttention(dim, num_heads, dropout)
        self.norm2 = nn.LayerNorm(dim)
        hidden = int(dim * mlp_ratio)
        self.ff = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, dim))

    def forward(self, x: Tensor, kv: Tensor | None = None, key_mask: Tensor | None = None) -> Tensor:
        h = self.norm1(x)
        x = x + self.attn(h, h if kv is None else kv, key_mask)
        return x + self.ff(self.norm2(x))
