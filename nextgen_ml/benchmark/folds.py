"""Cross-validation folds of a record store: patient-grouped stratified k-fold or site-held-out."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from nextgen_ml.benchmark.config import BenchmarkConfig
from nextgen_ml.benchmark.kinds import scoring_for
from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.splits import kfold_splits
from nextgen_ml.data.store import RecordStore
from nextgen_ml.data.targets import strata as label_strata


def ensure_store(cfg: BenchmarkConfig) -> Path:
    """The benchmark's record store, generating the synthetic cohort on first use (``data.cohort``)."""
    dm = CardioDataModule(cfg.data.data_dir, modalities=cfg.modalities or ["tabular"], cohort=cfg.data.cohort)
    dm.prepare_data()
    return Path(cfg.data.data_dir)


def store_meta(data_dir: str | Path) -> dict[str, Any]:
    """Per-record ``patient_id``, ``site`` and labels (all label keys) of the store, and its data ``dictionary``."""
    store = RecordStore(data_dir, columns=["patient_id", "site", "labels"])
    labels = store.column("labels").to_pylist()
    return {"patient_id": np.asarray(store.column("patient_id").to_pylist()),
            "site": np.asarray(store.column("site").to_pylist()),
            "labels": np.asarray(labels, dtype=object), "dictionary": store.dictionary}


def make_folds(cfg: BenchmarkConfig, meta: dict[str, Any], seed: int) -> list[dict[str, np.ndarray]]:
    """Folds of one repeat as ``{"train": idx, "test": idx}`` (a fold's validation part is folded into train:
    cells train for a fixed number of epochs).

    Args:
        cfg: the benchmark config (``cv`` and ``data.target``).
        meta: :func:`store_meta` of the store.
        seed: the repeat's seed (shuffles the k-fold assignment; unused for site folds).
    """
    target = cfg.data.target
    values = [None if lab is None else lab.get(target) for lab in meta["labels"]]
    label = meta["dictionary"].label(target)
    strata = label_strata(label, values)  # classes, the event, quantile bins, ... by the label's kind
    if cfg.cv.kind == "kfold":
        folds = kfold_splits(strata, meta["patient_id"].tolist(), k=cfg.cv.k, seed=seed)
        return [{"train": np.sort(np.concatenate([f["train"], f["val"]])), "test": f["test"]} for f in folds]
    sites = meta["site"]
    return [{"train": np.flatnonzero(sites != s), "test": np.flatnonzero(sites == s)} for s in np.unique(sites)]


def fold_labels(cfg: BenchmarkConfig, meta: dict[str, Any], idx: np.ndarray) -> np.ndarray:
    """Labels of the records ``idx`` as the label kind's ``y`` (float64, NaN = missing; see
    :mod:`nextgen_ml.benchmark.kinds`)."""
    label = meta["dictionary"].label(cfg.data.target)
    values = [None if lab is None else lab.get(label.name) for lab in meta["labels"][idx]]
    return scoring_for(label.kind).encode(label, values)
