"""Image encoders over MONAI and timm backbones, 2D ``(B, F, H, W)`` or 3D ``(B, F, D, H, W)``.

Cine frames ``F`` are the input channels (``frames_as="channels"``, default) or a time axis
(``frames_as="time"``): each frame is encoded by the same 2D/3D backbone with one input channel, then a
transformer block attends over the frame embeddings (with a learned frame-position embedding).
Tokens are the spatial positions of the last feature map (CNNs) or the patch tokens (ViT), projected to
``embed_dim``. Every backbone is converted by :func:`nextgen_ml.privacy.make_dp_compatible`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn

from nextgen_ml.encoders import image_backbones as bb
from nextgen_ml.encoders.backbone import BackboneEncoder
from nextgen_ml.encoders.checks import check_input
from nextgen_ml.layers import TransformerBlock
from nextgen_ml.layers.tokens import ChannelTokens, FeatureMapTokens
from nextgen_ml.registry import register_encoder

#: ``make_backbone(in_channels) -> module with out_channels``.
BackboneFactory = Callable[[int], nn.Module]


def _shape(spatial_dims: int, frames: int) -> str:
    spatial = {2: "H, W", 3: "D, H, W"}
    if spatial_dims not in spatial:
        raise ValueError(f"spatial_dims must be 2 or 3, got {spatial_dims}")
    return f"(B, F={frames}, {spatial[spatial_dims]})"


class FrameSequenceEncoder(nn.Module):
    """Encode each cine frame with a shared single-channel encoder, then attend over frames.

    Args:
        name: registered encoder name (for error messages).
        frame_encoder: encoder with ``in_channels=1`` mapping ``(N, 1, *S) -> (N, D)``.
        n_frames: frames ``F`` per study.
        spatial_dims: 2 or 3.
        num_heads: heads of the transformer block over frames.

    Shapes: ``(B, F, *S)`` → ``forward_tokens (B, F, D)`` (one token per frame), ``forward (B, D)``.
    """

    def __init__(
        self, name: str, frame_encoder: nn.Module, n_frames: int, spatial_dims: int, num_heads: int = 4
    ) -> None:
        super().__init__()
        self.name, self.n_frames, self.spatial_dims = name, n_frames, spatial_dims
        self.expected = _shape(spatial_dims, n_frames)
        self.frame_encoder = frame_encoder
        self.out_dim = frame_encoder.out_dim
        self.frame_pos = nn.Embedding(n_frames, self.out_dim)
        self.block = TransformerBlock(self.out_dim, num_heads)
        self.norm = nn.LayerNorm(self.out_dim)

    def forward_tokens(self, x: Tensor) -> Tensor:
        check_input(self.name, x, self.expected, self.spatial_dims + 2, self.n_frames)
        b, f = x.shape[:2]
        per_frame = self.frame_encoder(x.reshape(b * f, 1, *x.shape[2:]))  # (B*F, D)
        pos = self.frame_pos(torch.arange(f, device=x.device).expand(b, f))  # (B, F, D): per-sample for Opacus
        tokens = per_frame.view(b, f, -1) + pos  # (B, F, D)
        return self.norm(self.block(tokens))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_tokens(x).mean(1)  # (B, D)


def _image_encoder(
    name: str,
    make_backbone: BackboneFactory,
    *,
    embed_dim: int,
    in_channels: int,
    spatial_dims: int,
    frames_as: str,
    patch_tokens: bool = False,
) -> nn.Module:
    """Wrap ``make_backbone`` into the encoder contract, frames as channels or as time."""
    modes = ("channels", "time")
    if frames_as not in modes:
        raise ValueError(f"{name}: frames_as must be one of {modes}, got {frames_as!r}")
    expected = _shape(spatial_dims, in_channels)
    backbone_in = in_channels if frames_as == "channels" else 1
    backbone = make_backbone(backbone_in)
    tokens_cls = ChannelTokens if patch_tokens else FeatureMapTokens
    encoder = BackboneEncoder(
        name, backbone, tokens_cls(backbone.out_channels, embed_dim), embed_dim, expected, spatial_dims + 2, backbone_in
    )
    if frames_as == "channels":
        return encoder
    encoder.expected = _shape(spatial_dims, 1)
    return FrameSequenceEncoder(name, encoder, in_channels, spatial_dims)


@register_encoder
def image_densenet121(
    embed_dim: int = 128, in_channels: int = 2, spatial_dims: int = 2, frames_as: str = "channels", **densenet_kwargs
) -> nn.Module:
    """MONAI DenseNet121 (GroupNorm after conversion; ≈7 M parameters).

    Args:
        embed_dim: output width ``D``.
        in_channels: cine frames ``F``.
        spatial_dims: 2 or 3 (3D needs at least 32 voxels along each axis).
        frames_as: ``"channels"`` or ``"time"``.
        **densenet_kwargs: passed to ``monai.networks.nets.DenseNet121`` (e.g. ``growth_rate``, ``block_config``).
    """
    _shape(spatial_dims, in_channels)
    return _image_encoder(
        "image_densenet121",
        lambda c: bb.monai_densenet121(spatial_dims, c, **densenet_kwargs),
        embed_dim=embed_dim,
        in_channels=in_channels,
        spatial_dims=spatial_dims,
        frames_as=frames_as,
    )


@register_encoder
def image_resnet18(
    embed_dim: int = 128,
    in_channels: int = 2,
    spatial_dims: int = 2,
    frames_as: str = "channels",
    widths: Sequence[int] = (64, 128, 256, 512),
) -> nn.Module:
    """MONAI ResNet-18 with a stride-2 stem; residual blocks converted to out-of-place adds.

    Args:
        embed_dim: output width ``D``.
        in_channels: cine frames ``F``.
        spatial_dims: 2 or 3.
        frames_as: ``"channels"`` or ``"time"``.
        widths: channels of the four stages.
    """
    _shape(spatial_dims, in_channels)
    return _image_encoder(
        "image_resnet18",
        lambda c: bb.monai_resnet18(spatial_dims, c, widths),
        embed_dim=embed_dim,
        in_channels=in_channels,
        spatial_dims=spatial_dims,
        frames_as=frames_as,
    )


@register_encoder
def image_vit_small(
    embed_dim: int = 128,
    in_channels: int = 2,
    spatial_dims: int = 2,
    frames_as: str = "channels",
    img_size: Sequence[int] | None = None,
    patch_size: int = 8,
    hidden_size: int = 192,
    num_layers: int = 4,
    num_heads: int = 3,
) -> nn.Module:
    """Small MONAI ViT (patch 8, width 192, 4 layers; ≈1.2 M parameters); tokens = patch tokens.

    Args:
        embed_dim: output width ``D``.
        in_channels: cine frames ``F``.
        spatial_dims: 2 or 3.
        frames_as: ``"channels"`` or ``"time"``.
        img_size: fixed input size; default ``(64, 64)`` in 2D, ``(16, 64, 64)`` in 3D.
        patch_size: patch edge (must divide every ``img_size`` entry).
        hidden_size: transformer width.
        num_layers: transformer layers.
        num_heads: attention heads.
    """
    _shape(spatial_dims, in_channels)
    size = tuple(img_size) if img_size is not None else ((64, 64) if spatial_dims == 2 else (16, 64, 64))
    if len(size) != spatial_dims or any(s % patch_size for s in size):
        raise ValueError(f"image_vit_small: img_size {size} must have {spatial_dims} entries divisible by {patch_size}")
    return _image_encoder(
        "image_vit_small",
        lambda c: bb.monai_vit(spatial_dims, c, size, patch_size, hidden_size, num_layers, num_heads),
        embed_dim=embed_dim,
        in_channels=in_channels,
        spatial_dims=spatial_dims,
        frames_as=frames_as,
        patch_tokens=True,
    )


def _timm_encoder(name: str, model_name: str, embed_dim: int, in_channels: int, spatial_dims: int, frames_as: str):
    if spatial_dims != 2:
        raise ValueError(f"{name}: timm backbones are 2D only (spatial_dims=2), got spatial_dims={spatial_dims}")
    return _image_encoder(
        name,
        lambda c: bb.timm_features(model_name, c),
        embed_dim=embed_dim,
        in_channels=in_channels,
        spatial_dims=2,
        frames_as=frames_as,
    )


@register_encoder
def image_timm_resnet18(
    embed_dim: int = 128, in_channels: int = 2, spatial_dims: int = 2, frames_as: str = "channels"
) -> nn.Module:
    """timm ``resnet18`` (random init, ``pretrained=False``), 2D only. Args as :func:`image_resnet18`."""
    return _timm_encoder("image_timm_resnet18", "resnet18", embed_dim, in_channels, spatial_dims, frames_as)


@register_encoder
def image_timm_efficientnet_b0(
    embed_dim: int = 128, in_channels: int = 2, spatial_dims: int = 2, frames_as: str = "channels"
) -> nn.Module:
    """timm ``efficientnet_b0`` (random init; BatchNormAct → GroupNormAct), 2D only. Args as :func:`image_resnet18`."""
    return _timm_encoder(
        "image_timm_efficientnet_b0", "efficientnet_b0", embed_dim, in_channels, spatial_dims, frames_as
    )
