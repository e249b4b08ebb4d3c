"""Multi-layer perceptron block shared by encoders, fusions and heads."""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn


class MLP(nn.Module):
    """``Linear → GELU → Dropout`` repeated, then a final ``Linear``; LayerNorm-free so it is DP-safe.

    Args:
        in_dim: input features.
        hidden_dims: widths of the hidden layers (may be empty: a single Linear).
        out_dim: output features.
        dropout: dropout after each hidden activation.

    Shapes: ``(..., in_dim) -> (..., out_dim)``.
    """

    def __init__(self, in_dim: int, hidden_dims: Sequence[int], out_dim: int, dropout: float = 0.0) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        prev = in_dim
        for width in hidden_dims:
            layers += [nn.Linear(prev, width), nn.GELU(), nn.Dropout(dropout)]
            prev = width
        layers.append(nn.Linear(prev, out_dim))
        self.net = nn.Sequential(*layers)
        self.in_dim, self.out_dim = in_dim, out_dim

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x)
