"""The encoder contract around any backbone: ``forward_tokens`` = tokens of its features, ``forward`` = their mean."""

from __future__ import annotations

from torch import Tensor, nn

from nextgen_ml.encoders.checks import check_input


class BackboneEncoder(nn.Module):
    """Backbone → token projection; satisfies the encoder contract (``out_dim``, ``forward``, ``forward_tokens``).

    Args:
        name: registered encoder name (used in error messages).
        backbone: maps the input to a feature map ``(B, C, *S)`` or to tokens ``(B, N, C)``.
        to_tokens: maps the backbone output to tokens ``(B, T, embed_dim)``.
        embed_dim: output width ``D`` (= ``out_dim``).
        expected: the expected input shape spelled out, e.g. ``"(B, L=12, T)"``.
        ndim: allowed input rank.
        in_channels: required size of input dim 1.

    Shapes: ``forward_tokens(x) -> (B, T, D)``, ``forward(x) -> (B, D)``.
    """

    def __init__(
        self,
        name: str,
        backbone: nn.Module,
        to_tokens: nn.Module,
        embed_dim: int,
        expected: str,
        ndim: int,
        in_channels: int,
    ) -> None:
        super().__init__()
        self.name, self.expected, self.ndim, self.in_channels = name, expected, ndim, in_channels
        self.backbone, self.to_tokens = backbone, to_tokens
        self.out_dim = embed_dim

    def forward_tokens(self, x: Tensor) -> Tensor:
        check_input(self.name, x, self.expected, self.ndim, self.in_channels)
        return self.to_tokens(self.backbone(x))  # (B, T, D)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_tokens(x).mean(1)  # (B, D)
