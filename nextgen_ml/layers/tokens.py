"""Turn a backbone's feature map into encoder tokens and a pooled vector."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor, nn


class FeatureMapTokens(nn.Module):
    """Project the positions of a channels-first feature map to ``embed_dim`` tokens.

    Args:
        in_channels: channels ``C`` of the feature map.
        embed_dim: token width ``D``.
        max_tokens: cap on the token count of 1D maps (long signals): a longer map is adaptive-average-pooled
            to ``max_tokens`` positions. 2D/3D maps keep every position (the backbone already reduces them).

    Shapes: ``(B, C, *S) -> (B, prod(S), D)``; a 1D map longer than ``max_tokens`` gives ``(B, max_tokens, D)``.
    """

    def __init__(self, in_channels: int, embed_dim: int, max_tokens: int | None = None) -> None:
        super().__init__()
        self.proj = nn.Linear(in_channels, embed_dim)
        self.norm = nn.LayerNorm(embed_dim)
        self.max_tokens = max_tokens

    def forward(self, feats: Tensor) -> Tensor:
        if feats.ndim == 3 and self.max_tokens is not None and feats.shape[-1] > self.max_tokens:
            feats = F.adaptive_avg_pool1d(feats, self.max_tokens)  # (B, C, max_tokens)
        tokens = feats.flatten(2).transpose(1, 2)  # (B, N, C)
        return self.norm(self.proj(tokens))  # (B, N, D)


class ChannelTokens(nn.Module):
    """Project already-tokenised features (e.g. ViT patch tokens) to ``embed_dim``.

    Shapes: ``(B, N, C) -> (B, N, D)``.
    """

    def __init__(self, in_dim: int, embed_dim: int) -> None:
        super().__init__()
        self.proj = nn.Linear(in_dim, embed_dim)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, tokens: Tensor) -> Tensor:
        return self.norm(self.proj(tokens))
