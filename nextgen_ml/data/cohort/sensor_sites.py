"""Per-site settings of the sensor modalities (heart sounds, wearables): missing rates and recording noise.

The hand-made sites ``site_a`` ... ``site_e`` have fixed values; procedurally drawn sites get values drawn once
per site name, so a site behaves the same in every cohort.
"""

from __future__ import annotations

import zlib

import numpy as np

from nextgen_ml.data.cohort.sites import SiteProfile

#: Probability that a patient of the site has no heart-sound recording / no wearable export.
HEART_SOUND_MISSING: dict[str, float] = {"site_a": 0.25, "site_b": 0.45, "site_c": 0.30, "site_d": 0.60,
                                         "site_e": 0.35}
WEARABLE_MISSING: dict[str, float] = {"site_a": 0.35, "site_b": 0.55, "site_c": 0.40, "site_d": 0.70,
                                      "site_e": 0.30}
#: Stethoscope noise level (relative to S1 amplitude) per site.
HEART_SOUND_NOISE: dict[str, float] = {"site_a": 0.04, "site_b": 0.07, "site_c": 0.03, "site_d": 0.10,
                                       "site_e": 0.05}


def site_values(profiles: tuple[SiteProfile, ...], site_idx: np.ndarray, table: dict[str, float],
                low: float, high: float) -> np.ndarray:
    """Per-patient value ``(N,)`` of a per-site setting: ``table[site]``, else a fixed draw in ``[low, high]``."""

    def value(name: str) -> float:
        if name in table:
            return table[name]
        return float(np.random.default_rng([zlib.crc32(name.encode()), 17]).uniform(low, high))

    return np.array([value(p.name) for p in profiles], dtype=np.float64)[site_idx]


def missing_rates(profiles: tuple[SiteProfile, ...], site_idx: np.ndarray, table: dict[str, float],
                  modality: str, override: dict[str, float]) -> np.ndarray:
    """Per-patient missing probability ``(N,)`` of ``modality``; ``override[modality]`` (config) wins."""
    if modality in override:
        return np.full(site_idx.shape, float(override[modality]))
    return site_values(profiles, site_idx, table, 0.2, 0.7)
