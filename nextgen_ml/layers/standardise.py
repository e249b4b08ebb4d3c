"""Feature standardisation fitted on the first training rows (data-dependent initialisation, then frozen).

Hand-made summary features (amplitude quantiles, energies) vary across patients by a small fraction of their mean.
A linear layer trained by Adam for a few dozen steps then moves mostly along the shared offset and barely along the
patient-to-patient variation that carries the signal; a linear model on standardised features (the benchmark's
baseline) does not have that handicap. :class:`FirstRowsStandardiser` standardises each feature with the mean and
SD of the first ``fit_rows`` present training rows it sees (pooled over the first batches, as ActNorm, Kingma &
Dhariwal 2018, initialises from data) and keeps them fixed afterwards, as buffers that travel with checkpoints.
BatchNorm would standardise too, but it mixes the rows of a batch, which Opacus cannot give per-sample gradients for.

The statistics are un-noised aggregates of patient data, so the layer carries :attr:`dp_refusal`:
:func:`nextgen_ml.privacy.compat.dp_problems` reports it (a DP run refuses to start) and federated sites refuse it.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class FirstRowsStandardiser(nn.Module):
    """``(x - mean) / sd`` per feature, with ``mean``/``sd`` pooled over the present rows of the training batches
    until ``fit_rows`` rows are seen, then frozen; identity before the first training batch. No parameters
    (Opacus-neutral); persistent buffers ``count``, ``mean``, ``m2`` (sum of squared deviations).

    Args:
        n_features: ``P``.
        fit_rows: present training rows after which the statistics stop changing.
        min_sd: floor of the SD (a constant feature is centred, not blown up).

    Shapes: ``x (B, P)``, ``present (B,)`` bool → ``(B, P)``; absent rows come out as zeros.
    """

    dp_refusal = ("fits feature means and SDs on the first training rows (un-noised patient statistics); "
                  "set the encoder's `standardise: false` for DP or federated runs "
                  "(train.py: `model.encoder.<modality>.standardise=false`)")

    def __init__(self, n_features: int, fit_rows: int = 256, min_sd: float = 1e-3) -> None:
        super().__init__()
        if n_features < 1 or fit_rows < 2:
            raise ValueError(f"need n_features >= 1 and fit_rows >= 2, got {n_features}, {fit_rows}")
        self.fit_rows, self.min_sd = fit_rows, min_sd
        self.register_buffer("count", torch.zeros((), dtype=torch.float64))
        self.register_buffer("mean", torch.zeros(n_features, dtype=torch.float64))
        self.register_buffer("m2", torch.zeros(n_features, dtype=torch.float64))

    @property
    def fitted(self) -> bool:
        """Whether the statistics are frozen."""
        return float(self.count) >= self.fit_rows

    def _update(self, rows: Tensor) -> None:
        """Merge the ``(n, P)`` rows into the pooled statistics (Chan et al.'s parallel update)."""
        n, n0 = float(rows.shape[0]), float(self.count)
        mean = rows.mean(0)
        delta = mean - self.mean
        total = n0 + n
        self.mean += delta * n / total
        self.m2 += ((rows - mean) ** 2).sum(0) + delta**2 * n0 * n / total
        self.count.fill_(total)

    def forward(self, x: Tensor, present: Tensor) -> Tensor:
        if self.training and not self.fitted and bool(present.any()):
            with torch.no_grad():
                self._update(x[present].detach().double())
        if float(self.count) >= 2:
            sd = (self.m2 / (self.count - 1)).sqrt().clamp_min(self.min_sd)
            x = (x - self.mean.to(x.dtype)) / sd.to(x.dtype)
        return x * present[:, None].to(x.dtype)  # (B, P)
