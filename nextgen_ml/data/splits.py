"""Patient-level splits: stratified and grouped by patient (no patient in two splits), or site-held-out.

All functions return indices into the store view they were given, so they compose with consent filtering.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.model_selection import StratifiedGroupKFold

SPLITS = ("train", "val", "test")


def _strata(labels: Sequence[float | int | None]) -> np.ndarray:
    """Integer strata; missing labels form their own stratum."""
    keys = ["<missing>" if (x is None or (isinstance(x, float) and np.isnan(x))) else str(x) for x in labels]
    _, codes = np.unique(keys, return_inverse=True)
    return codes


def _one_fold(idx: np.ndarray, strata: np.ndarray, groups: np.ndarray, frac: float, seed: int):
    """Split ``idx`` into (rest, held_out) with about ``frac`` of the groups held out, stratified."""
    n_splits = max(2, int(round(1.0 / frac)))
    if len(np.unique(groups[idx])) < n_splits:
        raise ValueError(f"cannot hold out {frac:.0%} of {len(np.unique(groups[idx]))} patients: too few patients")
    cv = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
    rest, held = next(cv.split(idx, strata[idx], groups[idx]))
    return idx[rest], idx[held]


def stratified_group_split(
    strata_labels: Sequence[float | int | None],
    groups: Sequence[str],
    val_frac: float = 0.15,
    test_frac: float = 0.15,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Train/val/test indices stratified on ``strata_labels`` with every group (patient) in one split only.

    Args:
        strata_labels: label per record to stratify on (e.g. MACE); None/NaN is its own stratum.
        groups: patient id per record (several visits of a patient stay together).
        val_frac: fraction of patients in validation.
        test_frac: fraction of patients in test.
        seed: shuffling seed.
    """
    for name, frac in (("val_frac", val_frac), ("test_frac", test_frac)):
        if not 0 < frac < 1:
            raise ValueError(f"{name} must be in (0, 1), got {frac}")
    strata, groups_arr = _strata(strata_labels), np.asarray(groups)
    idx = np.arange(len(groups_arr))
    rest, test = _one_fold(idx, strata, groups_arr, test_frac, seed)
    train, val = _one_fold(rest, strata, groups_arr, val_frac / (1 - test_frac), seed + 1)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def site_held_out_split(
    sites: Sequence[str],
    test_sites: Sequence[str],
    strata_labels: Sequence[float | int | None],
    groups: Sequence[str],
    val_frac: float = 0.15,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """Test = every record of ``test_sites``; train/val = a stratified group split of the other sites."""
    sites_arr = np.asarray(sites)
    unknown = set(test_sites) - set(sites_arr.tolist())
    if unknown:
        raise ValueError(f"test_sites: {sorted(unknown)} not in the store's sites {sorted(set(sites_arr.tolist()))}")
    test = np.flatnonzero(np.isin(sites_arr, list(test_sites)))
    rest = np.flatnonzero(~np.isin(sites_arr, list(test_sites)))
    if rest.size == 0:
        raise ValueError("test_sites: every site is held out, nothing left to train on")
    strata, groups_arr = _strata(strata_labels), np.asarray(groups)
    train, val = _one_fold(rest, strata, groups_arr, val_frac, seed)
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def predefined_split(split_column: Sequence[str | None]) -> dict[str, np.ndarray]:
    """Use the record's own ``split`` field; every record must name one of train/val/test."""
    col = np.asarray([s if s is not None else "" for s in split_column])
    bad = sorted(set(col.tolist()) - set(SPLITS))
    if bad:
        raise ValueError(f"split: records carry split values {bad}; expected one of {SPLITS}")
    return {name: np.flatnonzero(col == name) for name in SPLITS}


def kfold_splits(
    strata_labels: Sequence[float | int | None],
    groups: Sequence[str],
    k: int = 5,
    val_frac: float = 0.15,
    seed: int = 0,
) -> list[dict[str, np.ndarray]]:
    """``k`` folds of patient-grouped, stratified cross-validation; each fold's train part gives a val split."""
    strata, groups_arr = _strata(strata_labels), np.asarray(groups)
    cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
    folds = []
    for fold, (rest, test) in enumerate(cv.split(np.zeros(len(strata)), strata, groups_arr)):
        train, val = _one_fold(rest, strata, groups_arr, val_frac, seed + 1 + fold)
        folds.append({"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)})
    return folds


def labelled_subset(strata_labels: Sequence[float | int | None], fraction: float, seed: int = 0) -> np.ndarray:
    """Positions of the rows that keep their labels when only ``fraction`` of them are labelled, stratified.

    Each stratum keeps ``max(1, round(fraction * n_stratum))`` rows (at least one per stratum), chosen by one seeded
    random key per row, so for one seed the kept sets are nested across fractions (1 % ⊂ 5 % ⊂ 10 % ⊂ 25 %).
    Rows whose stratification label is missing are never counted as labelled (below ``fraction=1``).

    Args:
        strata_labels: ``(N,)`` stratification key per row (e.g. MACE, or LVEF quantile bins); None/NaN = unlabelled.
        fraction: fraction of labelled rows to keep, in ``(0, 1]``; 1 keeps every row.
        seed: selection seed.

    Returns:
        Sorted positions into ``strata_labels``.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"label_fraction must be in (0, 1], got {fraction}")
    n = len(strata_labels)
    if fraction == 1:
        return np.arange(n)
    missing = np.array([x is None or (isinstance(x, float) and np.isnan(x)) for x in strata_labels], dtype=bool)
    codes = _strata(strata_labels)
    key = np.random.default_rng(seed).random(n)  # one key per row: the same order for every fraction
    keep = []
    for code in np.unique(codes[~missing]):
        rows = np.flatnonzero((codes == code) & ~missing)
        k = max(1, int(round(fraction * rows.size)))
        keep.append(rows[np.argsort(key[rows], kind="stable")[:k]])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, dtype=np.int64)
