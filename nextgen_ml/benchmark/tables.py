"""Cell results → tidy tables: metrics (one row per cell × condition × site × metric) and attributions."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from nextgen_ml.benchmark.kinds import KindScoring, result_kind

#: conditions whose metrics are also reported per site
PER_SITE_CONDITIONS: tuple[str, ...] = ("full", "site_missing")
#: ``site`` value of the rows where the setting's modalities are present
COVERED = "covered"


def _scores(kind: KindScoring, y: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    keep = kind.labelled(y)
    return kind.score(y[keep], scores[keep])


def covered_rows(result: dict[str, Any], modalities: Sequence[str] | None = None) -> np.ndarray:
    """``(n,)`` bool: test rows of a cell result where at least one of ``modalities`` (default: the setting's) is
    present; a single-modality model has nothing but a constant for the other rows."""
    names = result["setting"]["modalities"] if modalities is None else modalities
    present = result["present"]
    return np.any([np.asarray(present[m], dtype=bool) for m in names], axis=0)


def metrics_table(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Tidy metrics: columns setting, fusion, modalities, n_modalities, modality_dropout, seed, fold, condition,
    site, metric, value, n. ``site`` is ``all`` (every test row), a site name, or ``covered`` (``full`` condition
    only: rows where at least one of the setting's modalities is present, see :func:`covered_rows`). Metrics are
    the label kind's (:mod:`nextgen_ml.benchmark.kinds`)."""
    kind = result_kind(results)
    rows = []
    for r in results:
        s = r["setting"]
        fusion = s["fusion"] if isinstance(s["fusion"], str) else s["fusion"].get("name")
        base = {"setting": s["name"], "fusion": fusion, "modalities": "+".join(s["modalities"]),
                "n_modalities": len(s["modalities"]), "modality_dropout": s["modality_dropout"],
                "seed": r["seed"], "fold": r["fold"]}
        y, sites = np.asarray(r["y"], dtype=np.float64), np.asarray(r["site"])
        covered = covered_rows(r)
        for condition, logits in r["logits"].items():
            logits = np.asarray(logits, dtype=np.float64)
            groups = {"all": np.ones(len(y), dtype=bool)}
            if condition in PER_SITE_CONDITIONS:
                groups.update({site: sites == site for site in np.unique(sites)})
            if condition == "full":
                groups[COVERED] = covered
            for site, rows_of in groups.items():
                for metric, value in _scores(kind, y[rows_of], logits[rows_of]).items():
                    rows.append({**base, "condition": condition, "site": site, "metric": metric, "value": value,
                                 "n": int(rows_of.sum())})
    return pd.DataFrame(rows)


def attribution_table(results: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """Tidy per-patient attributions: setting, seed, fold, index, site, modality, method, value, present."""
    frames = []
    for r in results:
        for method in ("shapley", "loo"):
            for modality, values in r.get(method, {}).items():
                frames.append(pd.DataFrame({
                    "setting": r["setting"]["name"], "seed": r["seed"], "fold": r["fold"], "index": r["index"],
                    "site": r["site"], "modality": modality, "method": method, "value": values,
                    "present": r["present"][modality]}))
    cols = ["setting", "seed", "fold", "index", "site", "modality", "method", "value", "present"]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)


def paired_units(results: Sequence[dict[str, Any]], setting: str, baseline: str, condition: str = "full",
                 where_present: str | None = None) -> list[tuple[int, np.ndarray, np.ndarray, np.ndarray]]:
    """``(seed, y, logits_setting, logits_baseline)`` for every (seed, fold) both settings finished.

    Args:
        where_present: keep only test rows where this modality is present (it must be one of ``setting``'s).
    """
    by_cell = {(r["setting"]["name"], r["seed"], r["fold"]): r for r in results}
    units = []
    for (name, seed, fold), r in sorted(by_cell.items()):
        b = by_cell.get((baseline, seed, fold))
        if name != setting or b is None or condition not in r["logits"] or condition not in b["logits"]:
            continue
        if r["index"] != b["index"]:
            raise ValueError(f"cells {setting}/{baseline} r{seed} f{fold} were tested on different records")
        y = np.asarray(r["y"], dtype=np.float64)
        keep = result_kind([r]).labelled(y)
        if where_present is not None:
            if where_present not in r["present"]:
                raise ValueError(f"where_present: {where_present!r} is not a modality of setting {setting!r}")
            keep &= covered_rows(r, [where_present])
        units.append((seed, y[keep], np.asarray(r["logits"][condition])[keep],
                      np.asarray(b["logits"][condition])[keep]))
    return units
