"""Clinical sites: case-mix shift, acquisition differences and per-site missing modalities."""

from __future__ import annotations

import string
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class SiteProfile:
    """One recruiting site.

    Args:
        name: site id stored in ``record.site``.
        weight: relative recruitment volume.
        age_shift: years added to the cohort's mean age.
        risk_shift: shift of the atherosclerotic burden (SD units) and of risk-factor prevalence.
        ecg_gain: amplifier gain (multiplies every lead).
        ecg_noise_uv: SD of the white noise added per electrode, µV.
        image_gain: multiplies image intensities (scanner/coil scaling).
        image_gamma: contrast curve exponent applied to normalised intensities.
        image_noise: SD of image noise in 0–255 units.
        missing: probability that each modality is absent for a patient of this site.
    """

    name: str
    weight: float
    age_shift: float
    risk_shift: float
    ecg_gain: float
    ecg_noise_uv: float
    image_gain: float
    image_gamma: float
    image_noise: float
    missing: dict[str, float]


_BASE_SITES: tuple[SiteProfile, ...] = (
    SiteProfile("site_a", 1.4, 0.0, 0.0, 1.00, 12.0, 1.00, 1.00, 6.0,
                {"ecg": 0.02, "image": 0.10, "genotype": 0.20, "text": 0.05, "tabular": 0.0}),
    SiteProfile("site_b", 1.2, 3.0, 0.3, 1.10, 18.0, 0.85, 1.15, 8.0,
                {"ecg": 0.03, "image": 0.25, "genotype": 0.35, "text": 0.10, "tabular": 0.0}),
    SiteProfile("site_c", 1.0, -4.0, -0.3, 0.92, 10.0, 1.10, 0.90, 5.0,
                {"ecg": 0.02, "image": 0.40, "genotype": 0.50, "text": 0.08, "tabular": 0.0}),
    SiteProfile("site_d", 0.8, 2.0, 0.5, 1.05, 25.0, 0.75, 1.25, 10.0,
                {"ecg": 0.05, "image": 0.50, "genotype": 0.60, "text": 0.20, "tabular": 0.0}),
    SiteProfile("site_e", 0.6, -2.0, -0.1, 0.95, 15.0, 1.20, 0.85, 7.0,
                {"ecg": 0.04, "image": 0.15, "genotype": 0.25, "text": 0.15, "tabular": 0.0}),
)


def _site_name(i: int) -> str:
    return f"site_{string.ascii_lowercase[i]}" if i < 26 else f"site_{i:03d}"


def _extra_site(i: int) -> SiteProfile:
    """A procedurally drawn site for indices beyond the hand-made ones (fixed per index)."""
    rng = np.random.default_rng([7919, i])
    return SiteProfile(
        name=_site_name(i),
        weight=float(rng.uniform(0.5, 1.3)),
        age_shift=float(rng.uniform(-4, 4)),
        risk_shift=float(rng.uniform(-0.4, 0.5)),
        ecg_gain=float(rng.uniform(0.9, 1.1)),
        ecg_noise_uv=float(rng.uniform(10, 25)),
        image_gain=float(rng.uniform(0.75, 1.2)),
        image_gamma=float(rng.uniform(0.85, 1.25)),
        image_noise=float(rng.uniform(5, 10)),
        missing={
            "ecg": float(rng.uniform(0.02, 0.05)),
            "image": float(rng.uniform(0.10, 0.50)),
            "genotype": float(rng.uniform(0.20, 0.60)),
            "text": float(rng.uniform(0.05, 0.20)),
            "tabular": 0.0,
        },
    )


def site_profiles(n_sites: int) -> tuple[SiteProfile, ...]:
    """The first ``n_sites`` site profiles (5 hand-made ones, then procedurally drawn ones).

    Args:
        n_sites: number of sites, >= 1.
    """
    if n_sites < 1:
        raise ValueError(f"sites must be >= 1, got {n_sites}")
    return tuple(_BASE_SITES[i] if i < len(_BASE_SITES) else _extra_site(i) for i in range(n_sites))


def profile_array(profiles: tuple[SiteProfile, ...], attribute: str, site_idx: np.ndarray) -> np.ndarray:
    """Per-patient value of a numeric site attribute, shape ``(N,)``."""
    values = np.array([getattr(p, attribute) for p in profiles], dtype=np.float64)
    return values[site_idx]


def missing_rates(profiles: tuple[SiteProfile, ...], modality: str, site_idx: np.ndarray,
                  override: dict[str, float]) -> np.ndarray:
    """Per-patient probability that ``modality`` is absent, shape ``(N,)``."""
    if modality in override:
        return np.full(site_idx.shape, float(override[modality]))
    values = np.array([p.missing.get(modality, 0.0) for p in profiles], dtype=np.float64)
    return values[site_idx]
