"""Per-modality "oracle" features of the latent state and the MACE AUROC a logistic regression gets from them.

Used by the tests, ``scripts/bench_cohort.py`` and ``docs/cohort.md`` to check that every modality carries
part of the MACE signal and that combining modalities beats the best single one.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

#: What each modality shows of the latent state (as a clinician would read it off that modality alone).
MODALITY_FEATURES: dict[str, Callable[[pd.DataFrame], dict[str, np.ndarray]]] = {
    "tabular": lambda d: {
        "age": d["age"], "male": d["male"], "bmi": d["bmi"], "sbp": d["sbp"], "ldl": d["ldl"], "hba1c": d["hba1c"],
        "current_smoker": d["smoking"] == 2, "former_smoker": d["smoking"] == 1, "diabetes": d["diabetes"],
        "statin": d["statin"], "beta_blocker": d["beta_blocker"], "ace_inhibitor": d["ace_inhibitor"],
        "anticoagulant": d["anticoagulant"],
    },
    "ecg": lambda d: {
        "hr": d["hr_bpm"], "af": d["af"], "pr": d["pr_ms"], "qrs": d["qrs_ms"], "qtc": d["qtc_ms"],
        "st_depression": d["ischaemia"], "q_waves": d["prior_mi"], "voltage": d["voltage"],
    },
    "image": lambda d: {
        "lvef": d["lvef"], "lvedd": d["lvedd_mm"], "wall": d["wall_mm"], "scar": d["scar_extent"],
    },
    "genomics": lambda d: {
        "prs": d["prs"], "fh": d["fh_carrier"], "hcm": d["hcm_carrier"], "dcm": d["dcm_carrier"],
        "lqt": d["lqt_carrier"],
    },
    "text": lambda d: {
        "nyha": d["nyha"], "typical_angina": d["chest_pain"] == 2, "atypical": d["chest_pain"] == 1,
        "family_scd": d["family_scd"], "syncope": d["syncope"],
    },
}


def modality_features(latent: pd.DataFrame, modality: str) -> np.ndarray:
    """Feature matrix ``(N, P)`` float64 of one modality (key of :data:`MODALITY_FEATURES`)."""
    if modality not in MODALITY_FEATURES:
        raise ValueError(f"modality must be one of {sorted(MODALITY_FEATURES)}, got {modality!r}")
    cols = MODALITY_FEATURES[modality](latent)
    return np.column_stack([np.asarray(v, dtype=np.float64) for v in cols.values()])


def oracle_aurocs(latent: pd.DataFrame, mace: np.ndarray, folds: int = 5) -> dict[str, float]:
    """Cross-validated MACE AUROC of a logistic regression per modality and on all modalities together.

    Args:
        latent: the cohort's latent state.
        mace: ``(N,)`` binary MACE label.
        folds: cross-validation folds.

    Returns:
        ``{modality: auroc, ..., "all": auroc}``.
    """
    mace = np.asarray(mace).astype(int)
    blocks = {m: modality_features(latent, m) for m in MODALITY_FEATURES}
    blocks["all"] = np.concatenate(list(blocks.values()), axis=1)
    out = {}
    for name, x in blocks.items():
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
        prob = cross_val_predict(model, x, mace, cv=folds, method="predict_proba")[:, 1]
        out[name] = float(roc_auc_score(mace, prob))
    return out
