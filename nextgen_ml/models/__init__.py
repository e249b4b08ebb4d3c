"""Composed multimodal model: encoders → fusion → head."""

from nextgen_ml.models.builder import build_encoder, build_multimodal_net
from nextgen_ml.models.heads import build_head
from nextgen_ml.models.multimodal import MultimodalNet
from nextgen_ml.models.spec import ModelSpec

__all__ = ["ModelSpec", "MultimodalNet", "build_encoder", "build_head", "build_multimodal_net"]
