"""Session-wide fixtures: one tiny synthetic cohort store built once and shared by every test."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "offline")
os.environ.setdefault("MPLBACKEND", "Agg")

from nextgen_ml.data.codec import encode_ecg, encode_image  # noqa: E402
from nextgen_ml.data.schema import DUO_GRU  # noqa: E402

TINY_N = 160


def make_record(pid: str = "p0", site: str = "site_a", rng: np.random.Generator | None = None, **overrides: Any):
    """A valid record with every modality present; override fields with keyword arguments."""
    rng = rng or np.random.default_rng(0)
    record = {
        "patient_id": pid,
        "site": site,
        "consent": {"codes": [DUO_GRU], "diseases": None},
        "split": None,
        "tabular": {"age": 61.0, "sex": "male", "bmi": 27.5, "sbp": 132.0, "ldl": 3.1, "hba1c": 5.6,
                    "smoking": "former", "diabetes": "no", "statin": "yes", "beta_blocker": "no",
                    "ace_inhibitor": "no", "anticoagulant": "no"},
        "ecg": encode_ecg(rng.normal(0, 100, (12, 1000)), 100.0),
        "image": encode_image(rng.integers(0, 255, (2, 32, 32), dtype=np.uint8), [1.5, 1.5]),
        "genotype": {"dosages": [0.0, 1.0, 2.0, float("nan")], "prs": 0.3},
        "text": "Chest pain on exertion. Hx of MI. On atorvastatin.",
        "labels": {"mace": 1, "diagnosis": "coronary_artery_disease", "findings": ["prior_infarction"],
                   "lvef": 48.0, "time_to_mace": {"time": 2.5, "event": 1}},
        "provenance": [{"modality": "ecg", "format": "synthetic", "uri": None, "sha256": None, "metadata": "{}"}],
    }
    record.update(overrides)
    return record


@pytest.fixture(scope="session")
def tiny_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A synthetic cohort of TINY_N patients over 3 sites (ECG 100 Hz, 2-frame 32x32 cine), built once."""
    from nextgen_ml.data.cohort import CohortConfig, write_cohort

    out = tmp_path_factory.mktemp("tiny_store")
    config = CohortConfig(ecg_fs_hz=100.0, image_size=32)
    write_cohort(out, n=TINY_N, sites=3, seed=0, config=config, progress=False)
    return out
