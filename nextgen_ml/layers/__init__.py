"""Shared building blocks: one MLP and one attention implementation for every modality."""

from nextgen_ml.layers.attention import MultiHeadAttention, TransformerBlock
from nextgen_ml.layers.mlp import MLP
from nextgen_ml.layers.pooling import masked_max, masked_mean

__all__ = ["MLP", "MultiHeadAttention", "TransformerBlock", "masked_max", "masked_mean"]
