"""``data.label_fraction``: a stratified, nested fraction of the training rows keeps its labels; val/test untouched."""

import numpy as np
import pytest
import torch

from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.splits import labelled_subset

FRACTIONS = (0.01, 0.05, 0.1, 0.25, 1.0)


def _labels(n=500, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.2).astype(int).tolist()
    return [None if i % 25 == 0 else v for i, v in enumerate(y)]


def test_subsets_are_nested_stratified_and_sized():
    labels = _labels()
    y = np.array([-1 if v is None else v for v in labels])
    kept = {f: labelled_subset(labels, f, seed=3) for f in FRACTIONS}
    for small, large in zip(FRACTIONS, FRACTIONS[1:], strict=False):
        assert set(kept[small]) <= set(kept[large]), (small, large)
    for f in FRACTIONS[:-1]:
        for c in (0, 1):
            n_c = int((y == c).sum())
            assert (y[kept[f]] == c).sum() == max(1, round(f * n_c)), (f, c)  # per stratum, at least one
        assert not np.isin(kept[f], np.flatnonzero(y == -1)).any()  # a missing label is never "labelled"
    assert np.array_equal(kept[1.0], np.arange(len(labels)))


def test_subsets_depend_on_the_seed_and_reject_bad_fractions():
    labels = _labels()
    assert np.array_equal(labelled_subset(labels, 0.1, seed=1), labelled_subset(labels, 0.1, seed=1))
    assert not np.array_equal(labelled_subset(labels, 0.1, seed=1), labelled_subset(labels, 0.1, seed=2))
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="label_fraction"):
            labelled_subset(labels, bad)
    with pytest.raises(ValueError, match="label_fraction"):
        CardioDataModule("unused", label_fraction=0.0)


def _dm(store, fraction, target="mace"):
    dm = CardioDataModule(store, modalities=["ecg"], stratify_on=target, label_fraction=fraction, seed=0,
                          batch_size=256)
    dm.setup()
    return dm


def _known(dm, split, target):
    """Which rows of ``split`` yield a (non-missing) ``target``, read through the dataset."""
    ds = dm.datasets[split]
    return np.array([not np.isnan(float(ds[i]["targets"][target])) for i in range(len(ds))])


@pytest.mark.parametrize("target", ["mace", "lvef"])
def test_datamodule_hides_training_labels_only(tiny_store, target):
    full, part = _dm(tiny_store, 1.0, target), _dm(tiny_store, 0.25, target)
    for name in ("train", "val", "test"):
        assert np.array_equal(full.split_indices[name], part.split_indices[name])  # the same splits
    for name in ("val", "test"):
        assert np.array_equal(_known(full, name, target), _known(part, name, target))  # untouched
    known_full, known_part = _known(full, "train", target), _known(part, "train", target)
    assert not (known_part & ~known_full).any()
    assert known_part.sum() == len(part.labelled_train)
    assert 0.15 * known_full.sum() <= known_part.sum() <= 0.35 * known_full.sum()
    assert len(part.datasets["train"]) == len(full.datasets["train"])  # unlabelled rows stay, with their inputs
    batch = next(iter(part.train_dataloader()))
    assert batch["mask"]["ecg"].any() and torch.isnan(batch["targets"][target]).any()
    small = _dm(tiny_store, 0.05, target)
    assert set(small.labelled_train) <= set(part.labelled_train)  # nested in the datamodule too


def test_regression_statistics_come_from_labelled_rows(tiny_store):
    part = _dm(tiny_store, 0.1, "lvef")
    values = [v["lvef"] for v in part.store.subset(part.labelled_train).column("labels").to_pylist()]
    assert part.label_statistics("lvef")["mean"] == pytest.approx(float(np.mean(values)), rel=1e-6)
