"""Fusion strategies, one file each; importing this package registers them (``create_fusion(name)``)."""

from nextgen_ml.fusion.bottleneck import BottleneckFusion, bottleneck
from nextgen_ml.fusion.concat import ConcatFusion, concat
from nextgen_ml.fusion.cross_attention import CrossAttentionFusion, cross_attention
from nextgen_ml.fusion.gated import GatedFusion, gated
from nextgen_ml.fusion.late import LateFusion, late

__all__ = [
    "BottleneckFusion",
    "ConcatFusion",
    "CrossAttentionFusion",
    "GatedFusion",
    "LateFusion",
    "bottleneck",
    "concat",
    "cross_attention",
    "gated",
    "late",
]
