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


def sequence_encoder(
    name: str, backbone: nn.Module, in_channels: int, embed_dim: int, max_tokens: int, expected: str
) -> BackboneEncoder:
    """A 1D-CNN ``backbone`` over ``(B, C, T)`` whose last feature map becomes at most ``max_tokens`` tokens.

    Args:
        name: registry name (used in error messages).
        backbone: module with ``out_channels``, ``(B, C, T) -> (B, C', T')``.
        in_channels: expected ``C``.
        embed_dim: token and output width ``D``.
        max_tokens: cap on the number of time tokens (adaptive pooling).
        expected: human-readable expected input shape, e.g. ``"(B, L=12, T)"``.
    """
    from nextgen_ml.layers.tokens import FeatureMapTokens

    return BackboneEncoder(
        name,
        backbone,
        FeatureMapTokens(backbone.out_channels, embed_dim, max_tokens=max_tokens),
        embed_dim,
        expected=expected,
        ndim=3,
        in_channels=in_channels,
    )
