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

    @property
    def stages(self) -> nn.Sequential:
        """The frame encoder's stages (their maps are per frame: ``(B * F, C_s, *S_s)``)."""
        return self.frame_encoder.stages

    @property
    def stage_channels(self) -> tuple[int, ...]:
        return self.frame_encoder.stage_channels

    def forward_tokens(self, x: Tensor) -> Tensor:
        check_input(self.name, x, self.expected, self.spatial_dims + 2, self.n_frames)
        b, f = x.shape[:2]
        per_frame = self.frame_encoder(x.reshape(b * f, 1, *x.shape[2:]))  # (B*F, D)
        pos = self.frame_pos(torch.arange(f, device=x.device).expand(b, f))  # (B, F, D): per-sample for Opacus
        tokens = per_frame.view(b, f, -1) + pos  # (B, F, D)
        return self.norm(self.block(tokens))

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_tokens(x).mean(1)  # (B, D)


class ImageEncoder(BackboneEncoder):
    """:class:`~nextgen_ml.encoders.backbone.BackboneEncoder` of an image backbone, with the backbone's stages as a
    stable hook point (e.g. for FiLM conditioning inside the encoder).

    Attributes:
        stages: the backbone's stage blocks in order (``nn.Sequential``); stage ``s`` outputs a feature map
            ``(B, stage_channels[s], *S_s)``. Forward hooks on a stage may return a modified map (out of place).
            Only backbones built of stages have it (``hasattr(encoder, "stages")``: the MONAI ResNet-18).
        stage_channels: ``tuple[int, ...]``, each stage's output channels.

    The properties read the backbone's modules (nothing is registered twice: state-dict keys stay
    ``backbone.stages.*``).

    With ``stage_pool=True`` (a backbone with ``stem``, ``stages`` and ``stage_channels``) every stage's feature map
    is also globally average-pooled and projected to one more token (``Linear(C_s, D)``, then LayerNorm): early,
    nearly linear features (e.g. how much of a frame is bright blood pool) reach the output in a few steps
    instead of only through the deepest, most down-sampled map.

    Shapes: ``forward_tokens (B, T + S, D)`` with ``S = len(stages)`` pooled tokens last (``S = 0`` without
    ``stage_pool``), ``forward (B, D)``.
    """

    def __init__(self, *args, stage_pool: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.stage_proj: nn.ModuleList | None = None
        if stage_pool:
            if not all(hasattr(self.backbone, a) for a in ("stem", "stages", "stage_channels")):
                raise ValueError(f"{self.name}: stage_pool needs a backbone with stem and stages "
                                 f"(the MONAI ResNet-18), got {type(self.backbone).__name__}")
            self.stage_proj = nn.ModuleList(nn.Linear(c, self.out_dim) for c in self.backbone.stage_channels)
            self.stage_norm = nn.LayerNorm(self.out_dim)

    def forward_tokens(self, x: Tensor) -> Tensor:
        if self.stage_proj is None:
            return super().forward_tokens(x)
        check_input(self.name, x, self.expected, self.ndim, self.in_channels)
        h, pooled = self.backbone.stem(x), []
        for stage, proj in zip(self.backbone.stages, self.stage_proj, strict=True):
            h = stage(h)  # (B, C_s, *S_s)
            pooled.append(proj(h.flatten(2).mean(-1)))  # (B, D)
        return torch.cat([self.to_tokens(h), self.stage_norm(torch.stack(pooled, dim=1))], dim=1)  # (B, T + S, D)

    @property
    def stages(self) -> nn.Sequential:
        if not hasattr(self.backbone, "stages"):
            raise AttributeError(f"{self.name}: the {type(self.backbone).__name__} backbone has no stages")
        return self.backbone.stages

    @property
    def stage_channels(self) -> tuple[int, ...]:
        if not hasattr(self.backbone, "stage_channels"):
            raise AttributeError(f"{self.name}: the {type(self.backbone).__name__} backbone has no stages")
        return self.backbone.stage_channels


def _image_encoder(
    name: str,
    make_backbone: BackboneFactory,
    *,
    embed_dim: int,
    in_channels: int,
    spatial_dims: int,
    frames_as: str,
    patch_tokens: bool = False,
    stage_pool: bool = False,
) -> nn.Module:
    """Wrap ``make_backbone`` into the encoder contract, frames as channels or as time."""
    modes = ("channels", "time")
    if frames_as not in modes:
        raise ValueError(f"{name}: frames_as must be one of {modes}, got {frames_as!r}")
    expected = _shape(spatial_dims, in_channels)
    backbone_in = in_channels if frames_as == "channels" else 1
    backbone = make_backbone(backbone_in)
    tokens_cls = ChannelTokens if patch_tokens else FeatureMapTokens
    encoder = ImageEncoder(
        name, backbone, tokens_cls(backbone.out_channels, embed_dim), embed_dim, expected, spatial_dims + 2,
        backbone_in, stage_pool=stage_pool,
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
    stem_kernel: int = 7,
    stem_stride: int = 2,
    max_pool: bool = True,
    stage_pool: bool = False,
) -> nn.Module:
    """MONAI ResNet-18; residual blocks converted to out-of-place adds.

    The encoder exposes ``stages`` (the four residual stages) and ``stage_channels`` (``tuple(widths)``), see
    :class:`ImageEncoder`. The stem (``stem_kernel``, ``stem_stride``, ``max_pool``) divides the input size by
    ``stem_stride * (2 if max_pool else 1)`` before the stages (which divide it by 8 more).

    Args:
        embed_dim: output width ``D``.
        in_channels: cine frames ``F``.
        spatial_dims: 2 or 3.
        frames_as: ``"channels"`` or ``"time"``.
        widths: channels of the four stages.
        stem_kernel: kernel of the first convolution.
        stem_stride: stride of the first convolution.
        max_pool: the stem's stride-2 max-pool.
        stage_pool: one more token per stage, its globally average-pooled map (see :class:`ImageEncoder`).
    """
    _shape(spatial_dims, in_channels)
    return _image_encoder(
        "image_resnet18",
        lambda c: bb.monai_resnet18(spatial_dims, c, widths, stem_kernel, stem_stride, max_pool),
        embed_dim=embed_dim,
        in_channels=in_channels,
        spatial_dims=spatial_dims,
        frames_as=frames_as,
        stage_pool=stage_pool,
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
