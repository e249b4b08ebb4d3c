"""Wearable encoder with statistics pooling: ``(B, 2C + K, T)`` → learned filters over the signals → masked mean
and SD per window (tokens) and over the whole recording (``forward``).

A day of minute bins carries its cardiac signal mostly in levels and variability (resting heart rate, how much and
how unevenly a patient moves, HRV), which a linear model on per-channel summaries reads at once. The window
transformer must discover such statistics from flattened windows and, within the benchmark's short training
budget, does not (docs/results.md §13). This encoder pools them directly, x-vector style (Snyder et al., 2018):

1. ``F`` learned 1D filters (kernel ``k``) over the ``C`` standardised signal rows: ``h = conv(x[:, :C])``
   ``(B, F, T)``;
2. per position set (each window of ``window`` bins for the tokens; all ``T`` bins for ``forward``), over the
   observed bins only: mean and SD of ``h`` and of ``|h|`` (``4F``), mean and SD of each raw signal over its own
   observed bins (``2C``), and each signal's observed fraction (``C``);
3. ``Linear(4F + 3C → D)`` + ``LayerNorm``, the same for tokens and the whole.

Gaps (mask 0) never enter a statistic: a bin counts for ``h`` where any signal is observed, for a raw signal where
that signal is observed; a window with no observed bin has zero statistics. The ``K`` covariate rows (time of day)
are not used. Conv, Linear and LayerNorm only: Opacus computes per-sample gradients for all of them.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from nextgen_ml.encoders.checks import check_input
from nextgen_ml.registry import register_encoder


def masked_mean_sd(v: Tensor, w: Tensor) -> tuple[Tensor, Tensor]:
    """Weighted mean and SD over the last axis: ``v (..., L)``, weights ``w`` broadcastable, 0/1 → ``(...)`` each;
    no weight → mean 0, SD 0."""
    n = w.sum(-1)
    mean = (v * w).sum(-1) / n.clamp_min(1.0)
    var = ((v - mean[..., None]).pow(2) * w).sum(-1) / n.clamp_min(1.0)
    return mean, (var + 1e-6).sqrt() * (n > 0)


class WearableStatsPool(nn.Module):
    """Learned filters + masked statistics pooling (see the module docstring).

    Args:
        in_channels: input rows ``2C + K``.
        n_signals: ``C`` (rows ``C..2C-1`` are the observation masks).
        embed_dim: width ``D``.
        filters: learned filters ``F``.
        kernel: filter length in bins.
        window: bins per token.

    Shapes: ``(B, 2C + K, T)`` → ``forward_tokens (B, ceil(T / window), D)``, ``forward (B, D)``.
    """

    def __init__(self, in_channels: int, n_signals: int, embed_dim: int, filters: int, kernel: int,
                 window: int) -> None:
        super().__init__()
        if not (n_signals >= 1 and 2 * n_signals <= in_channels):
            raise ValueError(f"n_signals={n_signals} needs 1 <= n_signals and 2 * n_signals <= in_channels="
                             f"{in_channels}")
        if filters < 1 or kernel < 1 or window < 1:
            raise ValueError(f"filters, kernel and window must be >= 1, got {filters}, {kernel}, {window}")
        self.name = "wearable_stats_pool"
        self.in_channels, self.n_signals, self.window, self.out_dim = in_channels, n_signals, window, embed_dim
        self.conv = nn.Conv1d(n_signals, filters, kernel, padding=kernel // 2)
        self.proj = nn.Linear(4 * filters + 3 * n_signals, embed_dim)
        self.norm = nn.LayerNorm(embed_dim)

    def _statistics(self, x: Tensor, window: int) -> Tensor:
        """``(B, 2C + K, T)`` → statistics ``(B, P, 4F + 3C)`` over ``P = ceil(T / window)`` position sets."""
        check_input(self.name, x, f"(B, {self.in_channels}, T) with {self.n_signals} signal + mask rows", 3,
                    self.in_channels)
        c = self.n_signals
        sig, mask = x[:, :c], (x[:, c : 2 * c] > 0).to(x.dtype)  # (B, C, T) each
        h = self.conv(sig * mask)  # (B, F, T); gap values never reach a filter
        any_obs = mask.amax(1, keepdim=True)  # (B, 1, T)
        t = x.shape[-1]
        pad = (-t) % window  # padding counts as gap
        p = (t + pad) // window

        def split(v: Tensor) -> Tensor:  # (B, R, T) → (B, R, P, window)
            return F.pad(v, (0, pad)).reshape(v.shape[0], v.shape[1], p, window)

        hw, ow, sw, mw = split(h), split(any_obs), split(sig), split(mask)
        h_mean, h_sd = masked_mean_sd(hw, ow)  # (B, F, P)
        a_mean, a_sd = masked_mean_sd(hw.abs(), ow)
        s_mean, s_sd = masked_mean_sd(sw, mw)  # (B, C, P)
        observed = mw.sum(-1) / window  # (B, C, P)
        return torch.cat([h_mean, h_sd, a_mean, a_sd, s_mean, s_sd, observed], 1).transpose(1, 2)  # (B, P, S)

    def forward_tokens(self, x: Tensor) -> Tensor:
        return self.norm(self.proj(self._statistics(x, self.window)))  # (B, P, D)

    def forward(self, x: Tensor) -> Tensor:
        return self.norm(self.proj(self._statistics(x, x.shape[-1])))[:, 0]  # (B, D)


@register_encoder
def wearable_stats_pool(
    embed_dim: int = 128,
    in_channels: int = 8,
    n_signals: int = 3,
    filters: int = 16,
    kernel: int = 5,
    window: int = 60,
) -> WearableStatsPool:
    """Learned filters + masked mean/SD pooling per window (tokens) and over the whole recording.

    2,688 parameters at ``embed_dim`` 32.

    Args:
        embed_dim: output width ``D``.
        in_channels: input rows ``2C + K`` (from the transform's spec).
        n_signals: signal rows ``C`` (from the transform's spec).
        filters: learned filters ``F``.
        kernel: filter length in bins.
        window: bins per token (60 one-minute bins = one hour).
    """
    return WearableStatsPool(in_channels, n_signals, embed_dim, filters, kernel, window)
