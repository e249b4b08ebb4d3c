import numpy as np
import pytest

from nextgen_ml.data.splits import kfold_splits, predefined_split, site_held_out_split, stratified_group_split


def _cohort(n=300, seed=0):
    rng = np.random.default_rng(seed)
    # ~1.5 visits per patient on average: visits of one patient must stay in one split.
    groups = [f"p{i}" for i in rng.integers(0, n * 2 // 3, n)]
    labels = rng.random(n) < 0.25
    return labels.astype(int).tolist(), groups


def test_stratified_group_split_has_no_patient_leakage_and_keeps_prevalence():
    labels, groups = _cohort()
    splits = stratified_group_split(labels, groups, 0.15, 0.15, seed=3)
    all_idx = np.concatenate(list(splits.values()))
    assert sorted(all_idx.tolist()) == list(range(len(labels)))  # a partition: nothing lost, nothing twice
    g = np.asarray(groups)
    sets = {k: set(g[v]) for k, v in splits.items()}
    assert not (sets["train"] & sets["val"]) and not (sets["train"] & sets["test"]) and not (sets["val"] & sets["test"])
    y = np.asarray(labels)
    for idx in splits.values():
        assert abs(y[idx].mean() - y.mean()) < 0.08
    assert 0.08 < len(splits["test"]) / len(y) < 0.25


def test_split_is_deterministic_under_seed():
    labels, groups = _cohort()
    a = stratified_group_split(labels, groups, seed=7)
    b = stratified_group_split(labels, groups, seed=7)
    c = stratified_group_split(labels, groups, seed=8)
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["test"], c["test"])


def test_missing_labels_form_their_own_stratum():
    labels, groups = _cohort()
    labels = [None if i % 10 == 0 else y for i, y in enumerate(labels)]
    splits = stratified_group_split(labels, groups, seed=0)
    assert sum(len(v) for v in splits.values()) == len(labels)


def test_site_held_out_split():
    labels, groups = _cohort(120)
    sites = [f"s{i % 4}" for i in range(120)]
    splits = site_held_out_split(sites, ["s3"], labels, groups, 0.2, seed=0)
    assert {sites[i] for i in splits["test"]} == {"s3"}
    assert "s3" not in {sites[i] for i in np.concatenate([splits["train"], splits["val"]])}
    with pytest.raises(ValueError, match="test_sites"):
        site_held_out_split(sites, ["nowhere"], labels, groups)


def test_predefined_split_rejects_unknown_values():
    splits = predefined_split(["train", "val", "test", "train"])
    assert splits["train"].tolist() == [0, 3]
    with pytest.raises(ValueError, match="holdout"):
        predefined_split(["train", "holdout"])


def test_kfold_tests_cover_every_record_once():
    labels, groups = _cohort(200)
    folds = kfold_splits(labels, groups, k=5, seed=1)
    test_all = np.concatenate([f["test"] for f in folds])
    assert sorted(test_all.tolist()) == list(range(200))
    for f in folds:
        assert not set(np.asarray(groups)[f["train"]]) & set(np.asarray(groups)[f["test"]])


def test_bad_fractions_are_refused():
    labels, groups = _cohort(50)
    with pytest.raises(ValueError, match="val_frac"):
        stratified_group_split(labels, groups, val_frac=0.0)
