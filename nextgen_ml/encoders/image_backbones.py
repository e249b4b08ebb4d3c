"""Feature extractors around MONAI and timm networks: each returns a feature map or patch tokens, not logits.

Every builder here returns a network already passed through :func:`nextgen_ml.privacy.make_dp_compatible`
(GroupNorm, no in-place activations, out-of-place residual adds) and ``out_channels`` (feature width).
"""

from __future__ import annotations

from collections.abc import Sequence

import timm
from monai.networks.nets import DenseNet121, ResNet, ViT
from torch import Tensor, nn

from nextgen_ml.privacy.compat import make_dp_compatible

_ACT = ("relu", {"inplace": False})


class MonaiResNetFeatures(nn.Module):
    """MONAI ``ResNet`` up to its last stage (no global pooling).

    Attributes:
        stem: first convolution, norm, activation and (optional) max-pool.
        stages: the four residual stages (``nn.Sequential``); stage ``s`` outputs ``(B, stage_channels[s], *S_s)``.
        stage_channels: output channels of each stage.
        out_channels: channels of the last feature map.

    Shapes: ``(B, C, *S) -> (B, C', *S / (8 * stem_stride * max_pool_stride))``.
    """

    def __init__(self, net: ResNet, stage_channels: Sequence[int]) -> None:
        super().__init__()
        self.stem = nn.Sequential(net.conv1, net.bn1, net.act, nn.Identity() if net.no_max_pool else net.maxpool)
        self.stages = nn.Sequential(net.layer1, net.layer2, net.layer3, net.layer4)
        self.stage_channels = tuple(int(c) for c in stage_channels)
        self.out_channels = net.in_planes

    def forward(self, x: Tensor) -> Tensor:
        return self.stages(self.stem(x))


class MonaiViTTokens(nn.Module):
    """MONAI ``ViT`` without a classification token. Shapes: ``(B, C, *img_size) -> (B, N_patches, hidden)``."""

    def __init__(self, net: ViT, hidden_size: int, img_size: Sequence[int]) -> None:
        super().__init__()
        self.net, self.out_channels, self.img_size = net, hidden_size, tuple(img_size)

    def forward(self, x: Tensor) -> Tensor:
        if tuple(x.shape[2:]) != self.img_size:
            raise ValueError(f"ViT: expected spatial size img_size={self.img_size}, got {tuple(x.shape[2:])}")
        return self.net(x)[0]


class TimmFeatures(nn.Module):
    """A timm model's ``forward_features``. Shapes: ``(B, C, H, W) -> (B, num_features, H', W')``."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model, self.out_channels = model, int(model.num_features)

    def forward(self, x: Tensor) -> Tensor:
        return self.model.forward_features(x)


def monai_densenet121(spatial_dims: int, in_channels: int, **kwargs) -> nn.Module:
    """MONAI DenseNet121 features + final ReLU; ``kwargs`` go to ``DenseNet121`` (e.g. ``growth_rate``)."""
    net = DenseNet121(spatial_dims=spatial_dims, in_channels=in_channels, out_channels=1, act=_ACT, **kwargs)
    features = nn.Sequential(net.features, nn.ReLU())
    features.out_channels = net.class_layers.out.in_features
    return make_dp_compatible(features)


def monai_resnet18(
    spatial_dims: int,
    in_channels: int,
    widths: Sequence[int] = (64, 128, 256, 512),
    stem_kernel: int = 7,
    stem_stride: int = 2,
    max_pool: bool = True,
) -> nn.Module:
    """MONAI ResNet-18 (basic blocks, 2-2-2-2) as feature extractor.

    Args:
        spatial_dims: 2 or 3.
        in_channels: input channels.
        widths: channels of the four stages.
        stem_kernel: kernel of the first convolution.
        stem_stride: stride of the first convolution.
        max_pool: the stem's stride-2 max-pool.
    """
    if len(widths) != 4:
        raise ValueError(f"widths: ResNet-18 has 4 stages, got {list(widths)}")
    net = ResNet(
        block="basic",
        layers=[2, 2, 2, 2],
        block_inplanes=list(widths),
        spatial_dims=spatial_dims,
        n_input_channels=in_channels,
        conv1_t_size=stem_kernel,
        conv1_t_stride=stem_stride,
        no_max_pool=not max_pool,
        feed_forward=False,
        act=_ACT,
    )
    return make_dp_compatible(MonaiResNetFeatures(net, widths))


def monai_vit(
    spatial_dims: int,
    in_channels: int,
    img_size: Sequence[int],
    patch_size: int,
    hidden_size: int,
    num_layers: int,
    num_heads: int,
) -> nn.Module:
    """MONAI ViT (learnable position embeddings, conv patch embedding) returning patch tokens."""
    net = ViT(
        in_channels=in_channels,
        img_size=tuple(img_size),
        patch_size=patch_size,
        hidden_size=hidden_size,
        mlp_dim=hidden_size * 2,
        num_layers=num_layers,
        num_heads=num_heads,
        spatial_dims=spatial_dims,
        classification=False,
    )
    for block in net.blocks:  # MONAI always builds this LayerNorm; unused without cross-attention it gets no grad
        if not block.with_cross_attention:
            block.norm_cross_attn = nn.Identity()
    return make_dp_compatible(MonaiViTTokens(net, hidden_size, img_size))


def timm_features(model_name: str, in_channels: int, **kwargs) -> nn.Module:
    """A randomly initialised timm 2D model (``pretrained=False``: nothing is downloaded) as feature extractor."""
    model = timm.create_model(model_name, pretrained=False, in_chans=in_channels, num_classes=0, **kwargs)
    return make_dp_compatible(TimmFeatures(model))
