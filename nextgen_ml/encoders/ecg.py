"""ECG encoders: ``(B, L, T)`` signals → ``(B, D)`` / tokens over time ``(B, T', D)``.

Lead count ``L`` is set by ``in_channels``; any length ``T`` works (adaptive pooling of long token maps).
"""

from __future__ import annotations

from collections.abc import Sequence

from nextgen_ml.encoders.backbone import BackboneEncoder, sequence_encoder
from nextgen_ml.encoders.ecg_blocks import InceptionTime1d, XResNet1d
from nextgen_ml.registry import register_encoder


@register_encoder
def ecg_xresnet1d_small(
    embed_dim: int = 128,
    in_channels: int = 12,
    layers: Sequence[int] = (1, 1, 1, 1),
    widths: Sequence[int] = (32, 64, 128, 128),
    kernel: int = 5,
    max_tokens: int = 64,
) -> BackboneEncoder:
    """xresnet1d with basic blocks (≈0.4 M parameters).

    Args:
        embed_dim: output width ``D``.
        in_channels: number of leads ``L``.
        layers: blocks per stage.
        widths: width per stage.
        kernel: conv kernel size.
        max_tokens: cap on the number of time tokens (longer maps are average-pooled).
    """
    backbone = XResNet1d(in_channels, layers, widths, kernel=kernel)
    return sequence_encoder(
        "ecg_xresnet1d_small", backbone, in_channels, embed_dim, max_tokens, expected=f"(B, L={in_channels}, T)"
    )


@register_encoder
def ecg_xresnet1d_base(
    embed_dim: int = 256,
    in_channels: int = 12,
    layers: Sequence[int] = (2, 2, 2, 2),
    widths: Sequence[int] = (32, 64, 128, 256),
    kernel: int = 5,
    max_tokens: int = 64,
) -> BackboneEncoder:
    """xresnet1d with bottleneck blocks (expansion 4; ≈3 M parameters). Args as :func:`ecg_xresnet1d_small`."""
    backbone = XResNet1d(in_channels, layers, widths, kernel=kernel, expansion=4)
    return sequence_encoder(
        "ecg_xresnet1d_base", backbone, in_channels, embed_dim, max_tokens, expected=f"(B, L={in_channels}, T)"
    )


@register_encoder
def ecg_inception_small(
    embed_dim: int = 128,
    in_channels: int = 12,
    depth: int = 6,
    n_filters: int = 16,
    kernels: Sequence[int] = (39, 19, 9),
    max_tokens: int = 64,
) -> BackboneEncoder:
    """InceptionTime (residual every 3 modules) over the full-resolution signal.

    Args:
        embed_dim: output width ``D``.
        in_channels: number of leads ``L``.
        depth: inception modules (multiple of 3).
        n_filters: filters per branch (4 branches).
        kernels: kernel sizes of the parallel convs.
        max_tokens: cap on the number of time tokens (the map has full length T; it is average-pooled).
    """
    backbone = InceptionTime1d(in_channels, depth, n_filters, kernels)
    return sequence_encoder(
        "ecg_inception_small", backbone, in_channels, embed_dim, max_tokens, expected=f"(B, L={in_channels}, T)"
    )
