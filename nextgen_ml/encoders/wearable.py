"""Wearable encoder for long, gappy sequences: ``(B, 2C + K, T)`` → windows → transformer with a gap mask.

Input rows (see :class:`nextgen_ml.data.sensor_transforms.WearableTransform`): ``C`` standardised signals, their ``C``
observation-mask rows (1 observed, 0 gap) and ``K`` always-observed covariates (time of day). The sequence is cut
into windows of ``window`` bins (zero-padded at the end, padding counts as gap); each window is embedded by an MLP
over its flattened values, masks and covariates, plus a sinusoidal position of the window. A learned summary token
and the windows go through transformer blocks whose keys exclude windows with no observed sample, so gaps never
feed the summary; ``forward`` returns the summary token.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nextgen_ml.encoders.checks import check_input
from nextgen_ml.layers import TransformerBlock
from nextgen_ml.registry import register_encoder


def sinusoidal_positions(n: int, dim: int, device: torch.device) -> Tensor:
    """``(n, dim)`` fixed sine/cosine position codes (any length, no parameters)."""
    pos = torch.arange(n, device=device, dtype=torch.float32)[:, None]
    freq = torch.exp(torch.arange(0, dim, 2, device=device, dtype=torch.float32) * (-math.log(10000.0) / dim))
    out = torch.zeros(n, dim, device=device)
    out[:, 0::2] = torch.sin(pos * freq)
    out[:, 1::2] = torch.cos(pos * freq[: dim // 2])
    return out


class WearableWindowTransformer(nn.Module):
    """Window embeddings + transformer over windows with a gap mask.

    Args:
        in_channels: input rows ``2C + K``.
        n_signals: ``C`` (rows ``C..2C-1`` are the observation mask).
        window: bins per window.
        embed_dim: width ``D``.
        depth: transformer blocks.
        num_heads: attention heads.
        dropout: dropout in the blocks.

    Shapes: ``(B, 2C + K, T)`` → ``forward_tokens (B, 1 + ceil(T / window), D)`` (summary token first),
    ``forward (B, D)``.
    """

    def __init__(self, in_channels: int, n_signals: int, window: int, embed_dim: int, depth: int, num_heads: int,
                 dropout: float = 0.0) -> None:
        super().__init__()
        if not (n_signals >= 1 and 2 * n_signals <= in_channels):
            raise ValueError(f"n_signals={n_signals} needs 1 <= n_signals and 2 * n_signals <= in_channels="
                             f"{in_channels}")
        self.name = "wearable_window_transformer"
        self.in_channels, self.n_signals, self.window, self.out_dim = in_channels, n_signals, window, embed_dim
        self.embed = nn.Sequential(nn.Linear(in_channels * window, embed_dim), nn.GELU(),
                                   nn.Linear(embed_dim, embed_dim), nn.LayerNorm(embed_dim))
        self.summary = nn.Embedding(1, embed_dim)
        self.blocks = nn.ModuleList(TransformerBlock(embed_dim, num_heads, dropout=dropout) for _ in range(depth))
        self.norm = nn.LayerNorm(embed_dim)

    def forward_tokens(self, x: Tensor) -> Tensor:
        check_input(self.name, x, f"(B, {self.in_channels}, T) with {self.n_signals} signal + mask rows", 3,
                    self.in_channels)
        b, c, t = x.shape
        pad = (-t) % self.window
        x = F.pad(x, (0, pad))  # (B, C, W*L), padding = gap
        w = x.shape[-1] // self.window
        windows = x.reshape(b, c, w, self.window).transpose(1, 2).reshape(b, w, c * self.window)  # (B, W, C*L)
        observed = x[:, self.n_signals : 2 * self.n_signals].reshape(b, self.n_signals, w, self.window)
        valid = observed.sum(dim=(1, 3)) > 0  # (B, W): a window with at least one observed sample
        tokens = self.embed(windows) + sinusoidal_positions(w, self.out_dim, x.device)  # (B, W, D)
        summary = self.summary(torch.zeros(b, 1, dtype=torch.long, device=x.device))  # (B, 1, D): per-sample lookup
        h = torch.cat([summary, tokens], dim=1)  # (B, 1 + W, D)
        key_mask = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=x.device), valid], dim=1)  # (B, 1 + W)
        for block in self.blocks:
            h = block(h, key_mask=key_mask)
        return self.norm(h)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_tokens(x)[:, 0]  # (B, D): the summary token


@register_encoder
def wearable_window_transformer(
    embed_dim: int = 128,
    in_channels: int = 8,
    n_signals: int = 3,
    window: int = 60,
    depth: int = 2,
    num_heads: int = 4,
    dropout: float = 0.0,
) -> WearableWindowTransformer:
    """Windowed transformer for day-long (or longer) wearable grids with gaps.

    Args:
        embed_dim: output width ``D``.
        in_channels: input rows ``2C + K`` (from the transform's spec).
        n_signals: signal rows ``C`` (from the transform's spec).
        window: bins per window (60 one-minute bins = one hour per token).
        depth: transformer blocks.
        num_heads: attention heads.
        dropout: dropout inside the blocks.
    """
    return WearableWindowTransformer(in_channels, n_signals, window, embed_dim, depth, num_heads, dropout)
