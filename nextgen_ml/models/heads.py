"""Prediction heads: a Linear layer, or an MLP when hidden widths are given."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from nextgen_ml.layers import MLP


def build_head(in_dim: int, num_outputs: int, hidden_dims: Sequence[int] = (), dropout: float = 0.0) -> nn.Module:
    """Head mapping the fused embedding to task outputs.

    Args:
        in_dim: embedding width (the fusion's ``out_dim``).
        num_outputs: outputs ``K`` (1 for binary/regression/survival, classes or labels otherwise).
        hidden_dims: hidden widths; empty gives a single ``nn.Linear``.
        dropout: dropout after each hidden layer.

    Shapes: ``(B, in_dim) -> (B, num_outputs)``.
    """
    if num_outputs < 1:
        raise ValueError(f"num_outputs must be >= 1, got {num_outputs}")
    if not hidden_dims:
        return nn.Linear(in_dim, num_outputs)
    return MLP(in_dim, tuple(hidden_dims), num_outputs, dropout)
