"""Outcomes: MACE hazard from the latent state, Weibull survival with censoring, diagnosis and findings."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from nextgen_ml.data.schema import DIAGNOSIS_CLASSES, FINDING_CLASSES

FOLLOW_UP_YEARS = 5.0
WEIBULL_SHAPE = 1.3
#: Baseline hazard scale (per year at lp = 0); calibrated for a MACE prevalence of about 25 %.
BASELINE_RATE = 0.016
RANDOM_CENSOR_RATE = 0.03  # per year (loss to follow-up)

#: Log-hazard terms: name → (coefficient, feature of the latent state). Cross-modal terms are marked.
HAZARD_TERMS: dict[str, tuple[float, Callable[[pd.DataFrame], np.ndarray]]] = {
    "athero": (0.55, lambda d: d["athero"]),
    "prior_mi": (0.6, lambda d: d["prior_mi"]),
    "ischaemia": (0.9, lambda d: d["ischaemia"]),
    "low_ef": (0.06, lambda d: np.maximum(55 - d["lvef"], 0)),
    "af": (0.8, lambda d: d["af"]),
    "conduction": (0.6, lambda d: d["conduction"]),
    "nyha": (0.5, lambda d: d["nyha"] - 1),
    "family_scd": (0.9, lambda d: d["family_scd"]),
    # genotype x ECG: a long-QT variant is dangerous only when the QTc is prolonged
    "lqt_x_long_qtc": (1.8, lambda d: d["lqt_carrier"] & (d["qtc_ms"] > 470)),
    # text x image: typical angina in a patient with myocardial scar (ongoing ischaemia after infarction)
    "angina_x_scar": (1.0, lambda d: (d["chest_pain"] == 2) & (d["scar_extent"] > 0)),
    # genotype x image: an HCM variant with expressed hypertrophy (wall >= 15 mm)
    "hcm_x_wall": (1.3, lambda d: d["hcm_carrier"] & (d["wall_mm"] >= 15)),
}


def log_hazard(latent: pd.DataFrame) -> np.ndarray:
    """Linear predictor ``lp = sum_k beta_k x_k`` of the MACE hazard, shape ``(N,)``."""
    lp = np.zeros(len(latent))
    for coef, feature in HAZARD_TERMS.values():
        lp += coef * np.asarray(feature(latent), dtype=np.float64)
    return lp


def sample_survival(rng: np.random.Generator, lp: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weibull event times with administrative (5 y) and random (exponential) censoring.

    ``T = (E / (lambda exp(lp)))^(1/k)``, ``E ~ Exp(1)``; observed time ``min(T, C, 5)``.

    Returns:
        ``(event_time, event)``: ``(N,)`` float years and ``(N,)`` int8 (1 = MACE observed).
    """
    n = lp.shape[0]
    t_event = (rng.exponential(1.0, n) / (BASELINE_RATE * np.exp(lp))) ** (1.0 / WEIBULL_SHAPE)
    t_censor = np.minimum(rng.exponential(1.0 / RANDOM_CENSOR_RATE, n), FOLLOW_UP_YEARS)
    event = t_event <= t_censor
    time = np.where(event, t_event, t_censor)
    return time.astype(np.float32), event.astype(np.int8)


def findings(latent: pd.DataFrame) -> list[list[str]]:
    """Multilabel findings (subset of ``FINDING_CLASSES``, in vocabulary order) per patient."""
    flags = {
        "atrial_fibrillation": latent["af"].to_numpy(),
        "lvh": (latent["wall_mm"] >= 12).to_numpy(),
        "prior_infarction": latent["prior_mi"].to_numpy(),
        "reduced_ef": (latent["lvef"] < 50).to_numpy(),
        "long_qt": (latent["qtc_ms"] > 470).to_numpy(),
        "conduction_delay": ((latent["qrs_ms"] >= 120) | (latent["pr_ms"] > 200)).to_numpy(),
    }
    assert tuple(flags) == FINDING_CLASSES
    return [[name for name, f in flags.items() if f[i]] for i in range(len(latent))]


def diagnosis(latent: pd.DataFrame) -> np.ndarray:
    """Primary diagnosis by clinical precedence, ``(N,)`` of strings from ``DIAGNOSIS_CLASSES``.

    cardiomyopathy (expressed HCM/DCM) > heart failure (EF < 40 %) > coronary artery disease (prior MI or
    ischaemia) > arrhythmia (AF, long QT, conduction disease) > normal.
    """
    d = latent
    rules = [
        ("cardiomyopathy", d["hcm"] | d["dcm"]),
        ("heart_failure", d["lvef"] < 40),
        ("coronary_artery_disease", d["prior_mi"] | d["ischaemia"]),
        ("arrhythmia", d["af"] | (d["qtc_ms"] > 470) | d["conduction"]),
    ]
    out = np.full(len(d), "normal", dtype=object)
    for name, flag in reversed(rules):
        out[flag.to_numpy()] = name
    assert set(out) <= set(DIAGNOSIS_CLASSES)
    return out
