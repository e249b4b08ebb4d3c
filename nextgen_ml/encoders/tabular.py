"""Tabular encoders over ``(B, P)`` clinical variables: numeric (standardised) and categorical (integer codes)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from nextgen_ml.data.schema import TABULAR_VARIABLES
from nextgen_ml.encoders.checks import check_input
from nextgen_ml.layers import MLP, TransformerBlock
from nextgen_ml.registry import register_encoder


def default_cardinalities() -> tuple[int, ...]:
    """Cardinality per schema variable: 0 for numeric, ``len(categories) + 1`` for categorical (last = missing)."""
    return tuple(0 if v.kind == "numeric" else len(v.categories) + 1 for v in TABULAR_VARIABLES)


def _long(values: Sequence[int]) -> Tensor:
    return torch.tensor(list(values), dtype=torch.long)


class ColumnSplit(nn.Module):
    """Split a ``(B, P)`` table into numeric values and validated categorical codes.

    Args:
        cardinalities: per column, 0 = numeric, K > 0 = categorical with codes ``0..K-1``.
        name: encoder name for error messages.

    Shapes: ``(B, P) -> numeric (B, P_num), codes (B, P_cat)`` long.
    """

    def __init__(self, cardinalities: Sequence[int], name: str) -> None:
        super().__init__()
        cards = [int(c) for c in cardinalities]
        if not cards or any(c < 0 for c in cards):
            raise ValueError(f"{name}: cardinalities must be a non-empty list of ints >= 0, got {cardinalities}")
        self.name, self.cardinalities = name, cards
        self.register_buffer("num_idx", _long([i for i, c in enumerate(cards) if c == 0]), persistent=False)
        self.register_buffer("cat_idx", _long([i for i, c in enumerate(cards) if c > 0]), persistent=False)
        self.register_buffer("cat_card", _long([c for c in cards if c > 0]), persistent=False)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        check_input(self.name, x, f"(B, P={len(self.cardinalities)})", 2, len(self.cardinalities))
        codes = x[:, self.cat_idx].long()  # (B, P_cat)
        bad = (codes < 0) | (codes >= self.cat_card)
        if bad.any():
            col = int(self.cat_idx[bad.any(0).nonzero()[0, 0]])
            raise ValueError(
                f"{self.name}: column {col} holds codes outside 0..{self.cardinalities[col] - 1} (cardinality)"
            )
        return x[:, self.num_idx], codes


class CategoricalEmbedding(nn.Module):
    """One embedding table for all categorical columns (offset per column). Shapes: ``(B, P_cat) -> (B, P_cat, D)``."""

    def __init__(self, cards: Sequence[int], dim: int) -> None:
        super().__init__()
        offsets = _long([0, *list(cards)[:-1]]).cumsum(0) if cards else _long([])
        self.register_buffer("offsets", offsets, persistent=False)
        self.table = nn.Embedding(max(sum(cards), 1), dim)

    def forward(self, codes: Tensor) -> Tensor:
        return self.table(codes + self.offsets)  # (B, P_cat, D)


class NumericTokenizer(nn.Module):
    """FT-Transformer numeric tokens ``x_j * W_j + b_j``. Shapes: ``(B, P_num) -> (B, P_num, D)``."""

    def __init__(self, n_numeric: int, dim: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(n_numeric, dim) * dim**-0.5)
        self.bias = nn.Parameter(torch.zeros(n_numeric, dim))

    def forward(self, x: Tensor) -> Tensor:
        return x.unsqueeze(-1) * self.weight + self.bias  # (B, P_num, D)


class ClsToken(nn.Module):
    """Prepend a learned CLS token. Shapes: ``(B, T, D) -> (B, 1 + T, D)``."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.token = nn.Parameter(torch.zeros(1, 1, dim))

    def forward(self, tokens: Tensor) -> Tensor:
        return torch.cat([self.token.expand(tokens.shape[0], -1, -1), tokens], dim=1)


class TabularMLPEncoder(nn.Module):
    """Numeric columns + per-column categorical embeddings, concatenated, through an MLP.

    Shapes: ``(B, P)`` → ``forward (B, D)``, ``forward_tokens (B, 1, D)``.
    """

    def __init__(self, cardinalities: Sequence[int], embed_dim: int, hidden: Sequence[int], cat_dim: int) -> None:
        super().__init__()
        self.split = ColumnSplit(cardinalities, "tabular_mlp")
        cards = [c for c in cardinalities if c > 0]
        self.cat = CategoricalEmbedding(cards, cat_dim)
        n_num = len(cardinalities) - len(cards)
        self.mlp = MLP(n_num + cat_dim * len(cards), hidden, embed_dim)
        self.out_dim = embed_dim

    def forward(self, x: Tensor) -> Tensor:
        numeric, codes = self.split(x)
        cat = self.cat(codes).flatten(1)  # (B, P_cat * cat_dim)
        return self.mlp(torch.cat([numeric, cat], dim=1))  # (B, D)

    def forward_tokens(self, x: Tensor) -> Tensor:
        return self.forward(x).unsqueeze(1)  # (B, 1, D)


class FTTransformerEncoder(nn.Module):
    """FT-Transformer: one token per variable, a CLS token, transformer blocks; ``forward`` = CLS output.

    Shapes: ``(B, P)`` → ``forward_tokens (B, 1 + P, D)`` (CLS first), ``forward (B, D)``.
    """

    def __init__(self, cardinalities: Sequence[int], embed_dim: int, depth: int, num_heads: int) -> None:
        super().__init__()
        self.split = ColumnSplit(cardinalities, "tabular_ft_transformer")
        cards = [c for c in cardinalities if c > 0]
        self.numeric = NumericTokenizer(len(cardinalities) - len(cards), embed_dim)
        self.cat = CategoricalEmbedding(cards, embed_dim)
        self.cls = ClsToken(embed_dim)
        self.blocks = nn.ModuleList(TransformerBlock(embed_dim, num_heads) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)
        self.out_dim = embed_dim

    def forward_tokens(self, x: Tensor) -> Tensor:
        numeric, codes = self.split(x)
        tokens = self.cls(torch.cat([self.numeric(numeric), self.cat(codes)], dim=1))  # (B, 1 + P, D)
        for block in self.blocks:
            tokens = block(tokens)
        return self.norm(tokens)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_tokens(x)[:, 0]  # (B, D)


@register_encoder
def tabular_mlp(
    embed_dim: int = 64,
    cardinalities: Sequence[int] | None = None,
    hidden: Sequence[int] = (128,),
    cat_dim: int = 8,
) -> TabularMLPEncoder:
    """MLP over numeric values and categorical embeddings.

    Args:
        embed_dim: output width ``D``.
        cardinalities: per column 0 (numeric) or K (categorical); default from the record schema.
        hidden: hidden widths of the MLP.
        cat_dim: embedding width per categorical column.
    """
    cards = default_cardinalities() if cardinalities is None else tuple(cardinalities)
    return TabularMLPEncoder(cards, embed_dim, hidden, cat_dim)


@register_encoder
def tabular_ft_transformer(
    embed_dim: int = 64, cardinalities: Sequence[int] | None = None, depth: int = 2, num_heads: int = 4
) -> FTTransformerEncoder:
    """FT-Transformer (feature tokenizer + CLS + transformer blocks).

    Args:
        embed_dim: output width ``D``.
        cardinalities: per column 0 (numeric) or K (categorical); default from the record schema.
        depth: transformer blocks.
        num_heads: attention heads.
    """
    cards = default_cardinalities() if cardinalities is None else tuple(cardinalities)
    return FTTransformerEncoder(cards, embed_dim, depth, num_heads)
