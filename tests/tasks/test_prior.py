"""The head's starting bias from the training labels' prior: values per kind, the head it is written to, and a
benchmark cell that starts from it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from nextgen_ml.benchmark.cell import fit_cell
from nextgen_ml.benchmark.config import Setting, load_config
from nextgen_ml.benchmark.data import FoldData
from nextgen_ml.benchmark.folds import fold_labels, make_folds, store_meta
from nextgen_ml.models.heads import build_head
from nextgen_ml.tasks.prior import init_output_bias, prior_bias


def test_binary_bias_is_the_smoothed_log_odds_of_the_labelled_rows() -> None:
    y = np.array([1, 0, 0, 0, np.nan, 1, 0, 0, np.nan, 0], dtype=np.float32)  # 2 of 8 labelled rows positive
    p = (2 + 1) / (8 + 2)
    assert prior_bias("binary", y, 1) == pytest.approx([np.log(p / (1 - p))])


def test_multilabel_bias_is_per_label_and_ignores_unlabelled_rows() -> None:
    y = np.array([[1, 0, 0], [1, 1, 0], [np.nan] * 3, [1, 0, 0]], dtype=np.float32)
    p = (np.array([3, 1, 0]) + 1) / (3 + 2)
    assert prior_bias("multilabel", y, 3) == pytest.approx(np.log(p / (1 - p)))


def test_multiclass_softmax_of_the_bias_is_the_smoothed_class_frequency() -> None:
    y = np.array([0, 0, 0, 1, -1, 2, 0, 1])  # -1 = unlabelled
    bias = prior_bias("multiclass", y, 4)  # class 3 never seen: smoothed, not -inf
    freq = (np.bincount(y[y >= 0], minlength=4) + 1) / (7 + 4)
    assert torch.softmax(torch.as_tensor(bias), 0).numpy() == pytest.approx(freq)
    assert bias.sum() == pytest.approx(0.0, abs=1e-9)


@pytest.mark.parametrize(("kind", "y", "k"), [
    ("regression", np.array([50.0, 60.0]), 1),
    ("survival", np.array([[1.0, 1.0], [2.0, 0.0]]), 1),
    ("binary", np.array([np.nan, np.nan]), 1),
    ("multiclass", np.array([-1, -1]), 3),
])
def test_kinds_without_a_prior_and_unlabelled_rows_give_none(kind: str, y: np.ndarray, k: int) -> None:
    assert prior_bias(kind, y, k) is None


def test_a_bias_of_the_wrong_width_is_refused() -> None:
    with pytest.raises(ValueError, match="3 values for a binary head with 1 outputs"):
        prior_bias("binary", np.zeros((4, 3)), 1)
    with pytest.raises(ValueError, match="2 values for an output layer of 1"):
        init_output_bias(build_head(8, 1), np.zeros(2))


@pytest.mark.parametrize("hidden", [(), (16,)])
def test_a_linear_or_mlp_head_starts_at_the_prior(hidden: tuple[int, ...]) -> None:
    head = build_head(8, 1, hidden)
    init_output_bias(head, np.array([np.log(0.25 / 0.75)]))
    last = [m for m in head.modules() if isinstance(m, torch.nn.Linear)][-1]
    assert torch.sigmoid(last.bias).item() == pytest.approx(0.25)
    if not hidden:  # a zero embedding is predicted at the prior
        assert torch.sigmoid(head(torch.zeros(3, 8))).flatten().tolist() == pytest.approx([0.25] * 3)


def _cell_head_bias(tiny_store: Path, *extra: str) -> tuple[float, np.ndarray]:
    """A tabular cell trained at learning rate 0 (weights stay at their start): its output bias, and the fold's
    training labels."""
    cfg = load_config(None, [f"data.data_dir={tiny_store}", "data.cohort=null", "cv.k=2", "cv.seeds=[0]",
                             "train.max_epochs=1", "train.lr=0.0", "model.embed_dim=8",
                             "model.encoders={tabular: {name: tabular_mlp, hidden: [16]}}", *extra])
    meta = store_meta(tiny_store)
    fold = make_folds(cfg, meta, 0)[0]
    data = FoldData(cfg, fold, ["tabular"], seed=0)
    module = fit_cell(cfg, Setting("tabular_only", "concat", ["tabular"]), data, seed=0, fold=0)
    return float(module.net.head.bias.detach()), fold_labels(cfg, meta, fold["train"])


def test_a_benchmark_cell_starts_from_its_folds_prior_unless_turned_off(tiny_store: Path) -> None:
    bias, y = _cell_head_bias(tiny_store)
    y = y[np.isfinite(y)]
    p = (y.sum() + 1) / (len(y) + 2)
    assert bias == pytest.approx(np.log(p / (1 - p)), rel=1e-5)
    off, _ = _cell_head_bias(tiny_store, "train.prior_bias=false")
    assert abs(off - bias) > 1e-3 and abs(off) < 1.0  # PyTorch's default init: |b| <= 1/sqrt(fan_in)


def test_cell_keys_of_runs_without_the_prior_bias_are_those_of_before() -> None:
    setting = Setting("tabular_only", "concat", ["tabular"])
    assert "prior_bias" not in load_config(None, ["train.prior_bias=false"]).cell_spec(setting, 0, 0)["train"]
    assert load_config(None, []).cell_spec(setting, 0, 0)["train"]["prior_bias"] is True
