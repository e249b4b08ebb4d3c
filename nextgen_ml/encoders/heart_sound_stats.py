"""Heart-sound encoder over the amplitude distribution of each auscultation site: ``(B, S, N)`` → ``(B, D)``.

The waveform transform standardises every site to mean 0 and SD 1, so what distinguishes patients is the *shape* of
the amplitude distribution: a recording dominated by S1/S2 transients is heavy-tailed (small inner quantiles, large
extremes), one with a loud murmur, gallop or stethoscope noise is closer to Gaussian; the first difference reads the
high-frequency content. The benchmark's linear baseline finds its signal in these per-site quantiles
(docs/results.md §13), where the strided CNN, trained for a few dozen steps, mostly did not. Per site:

1. quantiles of the standardised waveform at ``QUANTILES`` (7), mean ``|x|``, mean ``|Δx|``, ``log(1 + mean x⁴)``
   and a present flag (a site the recording lacks is an all-zero row): ``11`` features;
2. all sites' features ``(B, 11·S)`` standardised with the first training rows' statistics
   (:class:`~nextgen_ml.layers.standardise.FirstRowsStandardiser`; ``standardise=False`` for DP and federated runs);
3. ``Linear(11·S → D)`` + LayerNorm.

No learned filter sees the waveform; a Linear and a LayerNorm are the only parameters (Opacus-compatible).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from nextgen_ml.encoders.checks import check_input
from nextgen_ml.layers.standardise import FirstRowsStandardiser
from nextgen_ml.registry import register_encoder

#: amplitude quantiles per site
QUANTILES = (0.02, 0.05, 0.25, 0.5, 0.75, 0.95, 0.98)
#: features per site: the quantiles, mean |x|, mean |Δx|, log(1 + mean x⁴), present flag
PER_SITE = len(QUANTILES) + 4


def site_statistics(x: Tensor) -> Tensor:
    """``(B, S, N)`` waveforms → ``(B, S, PER_SITE)`` amplitude statistics (zeros for an all-zero site)."""
    present = (x.abs().amax(-1) > 0).to(x.dtype)  # (B, S)
    q = torch.tensor(QUANTILES, dtype=x.dtype, device=x.device)
    quantiles = torch.quantile(x, q, dim=-1).permute(1, 2, 0)  # (Q, B, S) → (B, S, Q)
    extra = torch.stack([x.abs().mean(-1), x.diff(dim=-1).abs().mean(-1), torch.log1p(x.pow(4).mean(-1)),
                         present], dim=-1)  # (B, S, 4)
    return torch.cat([quantiles, extra], -1) * present[..., None]  # (B, S, PER_SITE)


class HeartSoundStatsPool(nn.Module):
    """Per-site amplitude statistics → standardised → ``Linear`` + LayerNorm (see the module docstring).

    Args:
        in_channels: auscultation sites ``S``.
        embed_dim: width ``D``.
        standardise: standardise the features with the first training rows' statistics.

    Shapes: ``(B, S, N)`` → ``forward (B, D)``, ``forward_tokens (B, 1, D)``.
    """

    def __init__(self, in_channels: int, embed_dim: int, standardise: bool = True, fit_rows: int = 256) -> None:
        super().__init__()
        if in_channels < 1:
            raise ValueError(f"heart_sound_stats_pool: in_channels must be >= 1, got {in_channels}")
        self.name, self.in_channels, self.out_dim = "heart_sound_stats_pool", in_channels, embed_dim
        n = PER_SITE * in_channels
        self.standardise = FirstRowsStandardiser(n, fit_rows) if standardise else None
        self.proj = nn.Linear(n, embed_dim)
        self.norm = nn.LayerNorm(embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        check_input(self.name, x, f"(B, S={self.in_channels}, N)", 3, self.in_channels)
        per_site = site_statistics(x)  # (B, S, PER_SITE); the last feature is the site's present flag
        stats = per_site.flatten(1)  # (B, S * PER_SITE)
        if self.standardise is not None:
            stats = self.standardise(stats, per_site[..., -1].amax(1) > 0)  # rows with any site present
        return self.norm(self.proj(stats))  # (B, D)

    def forward_tokens(self, x: Tensor) -> Tensor:
        return self.forward(x).unsqueeze(1)  # (B, 1, D)


@register_encoder
def heart_sound_stats_pool(
    embed_dim: int = 128, in_channels: int = 4, standardise: bool = True, fit_rows: int = 256
) -> HeartSoundStatsPool:
    """Per-site amplitude quantiles and energies, standardised, then a Linear (``11·S·D + 3·D`` parameters).

    Args:
        embed_dim: output width ``D``.
        in_channels: auscultation sites ``S`` (from the transform's spec).
        standardise: standardise the features with the first training rows' statistics (refused under DP and
            at federated sites: set False there).
        fit_rows: present training rows the statistics are pooled over before they freeze.
    """
    return HeartSoundStatsPool(in_channels, embed_dim, standardise, fit_rows)
