"""Fusion strategies, one file each; importing this package registers them (``create_fusion(name)``)."""

from nextgen_ml.fusion.bottleneck import BottleneckFusion, bottleneck
from nextgen_ml.fusion.concat import ConcatFusion, concat
from nextgen_ml.fusion.cross_attention import CrossAttentionFusion, cross_attention
from nextgen_ml.fusion.decision import WeightedDecisionFusion, weighted_decision
from nextgen_ml.fusion.directional import DirectionalCrossAttentionFusion, directional_attention
from nextgen_ml.fusion.dp import DP_REFUSED
from nextgen_ml.fusion.film import FiLMFusion, film
from nextgen_ml.fusion.film_encoders import FiLMEncodersFusion, film_encoders
from nextgen_ml.fusion.gated import GatedFusion, gated
from nextgen_ml.fusion.graph import GraphFusion, graph
from nextgen_ml.fusion.late import LateFusion, late
from nextgen_ml.fusion.latent import LatentCrossAttentionFusion, latent_attention
from nextgen_ml.fusion.low_rank import LowRankFusion, low_rank
from nextgen_ml.fusion.subspace import SubspaceFusion, subspace
from nextgen_ml.fusion.tensor import TensorFusion, tensor

__all__ = [
    "DP_REFUSED",
    "BottleneckFusion",
    "ConcatFusion",
    "CrossAttentionFusion",
    "DirectionalCrossAttentionFusion",
    "FiLMEncodersFusion",
    "FiLMFusion",
    "GatedFusion",
    "GraphFusion",
    "LateFusion",
    "LatentCrossAttentionFusion",
    "LowRankFusion",
    "SubspaceFusion",
    "TensorFusion",
    "WeightedDecisionFusion",
    "bottleneck",
    "concat",
    "cross_attention",
    "directional_attention",
    "film",
    "film_encoders",
    "gated",
    "graph",
    "late",
    "latent_attention",
    "low_rank",
    "subspace",
    "tensor",
    "weighted_decision",
]
