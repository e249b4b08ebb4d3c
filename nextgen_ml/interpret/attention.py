"""Attention maps between modalities for fusions that record them (cross-attention fusion)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import torch
from torch import Tensor, nn


@dataclass
class AttentionMaps:
    """Head-averaged attention of one fusion layer.

    Args:
        modalities: names of the modality axes (sorted).
        cls: ``(B, M)`` share of the CLS (read-out) token's attention on each modality's tokens.
        between: ``(B, M, M)`` mean attention from modality ``i``'s tokens (rows) to all of modality ``j``'s tokens
            (columns); rows of absent modalities are 0.
        layer: the fusion layer these come from.
    """

    modalities: list[str]
    cls: Tensor
    between: Tensor
    layer: int


def supports_attention(net: nn.Module) -> bool:
    """Whether ``net.fusion`` can record attention maps (``record_attention``, ``cls_attention``,
    ``modality_attention``)."""
    fusion = getattr(net, "fusion", None)
    return all(hasattr(fusion, a) for a in ("record_attention", "cls_attention", "modality_attention"))


@torch.no_grad()
def attention_maps(
    net: nn.Module, inputs: Mapping[str, Tensor], mask: Mapping[str, Tensor], layer: int = -1
) -> AttentionMaps | None:
    """Run one forward pass with attention recording on and read the maps of ``layer``.

    Returns:
        :class:`AttentionMaps`, or None when the fusion does not use attention between modalities.
    """
    if not supports_attention(net):
        return None
    fusion = net.fusion
    fusion.record_attention(True)
    try:
        net(inputs, mask)
        cls, between = fusion.cls_attention(layer), fusion.modality_attention(layer)  # (B, M), (B, M, M)
    finally:
        fusion.record_attention(False)
    return AttentionMaps(list(fusion.modalities), cls.detach().cpu(), between.detach().cpu(), layer)
