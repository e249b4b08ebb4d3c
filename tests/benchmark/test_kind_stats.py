"""Metrics of the non-binary label kinds against scikit-learn and lifelines, and the paired bootstrap test's
calibration: p-values ~ uniform when two models are exchangeable, small when one is clearly better."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from lifelines.utils import concordance_index as lifelines_cindex
from scipy.stats import kstest
from sklearn.metrics import average_precision_score, mean_absolute_error, r2_score, roc_auc_score

from nextgen_ml.benchmark import metrics as M
from nextgen_ml.benchmark.kinds import SCORING
from nextgen_ml.benchmark.stats import paired_bootstrap
from nextgen_ml.data.dictionary import Label

RNG = np.random.default_rng(0)


def test_kind_metrics_match_reference_implementations() -> None:
    n, k = 80, 4
    y = RNG.integers(0, k, n)
    logits = RNG.normal(size=(n, k)) + 1.5 * np.eye(k)[y]
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    assert M.macro_auroc_ovr(y, logits) == pytest.approx(roc_auc_score(y, prob, multi_class="ovr", average="macro"))
    assert M.multiclass_accuracy(y, logits) == pytest.approx((prob.argmax(1) == y).mean())

    ym = (RNG.random((n, k)) < 0.3).astype(float)
    lm = RNG.normal(size=(n, k)) + ym
    assert M.macro_auroc(ym, lm) == pytest.approx(roc_auc_score(ym, lm, average="macro"))
    assert M.macro_auprc(ym, lm) == pytest.approx(average_precision_score(ym, lm, average="macro"))

    yr = RNG.normal(50, 10, n)
    pred = yr + RNG.normal(0, 5, n)
    assert M.mae(yr, pred) == pytest.approx(mean_absolute_error(yr, pred))
    assert M.r2(yr, pred) == pytest.approx(r2_score(yr, pred))

    time = RNG.exponential(size=n).round(1)  # rounded: tied times
    event = (RNG.random(n) < 0.6).astype(float)
    risk = -np.log(time + 0.05) + RNG.normal(size=n)
    ys = np.stack([time, event], axis=1)
    # lifelines scores "predicted survival time" (higher = later): the negated risk
    assert M.cindex(ys, risk) == pytest.approx(lifelines_cindex(time, -risk, event))
    # vectorised over leading axes (bootstrap replicates): each replicate as scored alone
    idx = RNG.integers(0, n, (3, n))
    np.testing.assert_allclose(M.cindex(ys[idx], risk[idx]), [M.cindex(ys[i], risk[i]) for i in idx])
    np.testing.assert_allclose(M.macro_auroc_ovr(y[idx], logits[idx]),
                               [M.macro_auroc_ovr(y[i], logits[i]) for i in idx])


def test_encode_labels_by_kind() -> None:
    mc = Label(name="dx", kind="multiclass", classes=["a", "b", "c"])
    np.testing.assert_array_equal(SCORING["multiclass"].encode(mc, ["b", None, "a"]), [1, np.nan, 0])
    ml = Label(name="f", kind="multilabel", classes=["x", "y"])
    y = SCORING["multilabel"].encode(ml, [["y"], None, []])
    np.testing.assert_array_equal(y, [[0, 1], [np.nan, np.nan], [0, 0]])
    assert SCORING["multilabel"].labelled(y).tolist() == [True, False, True]
    sv = Label(name="t", kind="survival")
    y = SCORING["survival"].encode(sv, [{"time": 2.0, "event": 1}, None])
    assert SCORING["survival"].labelled(y).tolist() == [True, False]


def _regression_units(shift: float, rng: np.random.Generator, n: int = 60) -> list:
    units = []
    for _ in range(3):  # 3 disjoint folds of one repeat
        y = rng.normal(size=n)
        units.append((0, y, y + rng.normal(size=n) * (1 + shift), y + rng.normal(size=n)))
    return units


def _multiclass_units(shift: float, rng: np.random.Generator, n: int = 60, k: int = 3) -> list:
    units = []
    for _ in range(3):
        y = rng.integers(0, k, n)
        onehot = np.eye(k)[y]
        units.append((0, y.astype(float), rng.normal(size=(n, k)) + (1 - 0.8 * shift) * onehot,
                      rng.normal(size=(n, k)) + onehot))
    return units


def _survival_units(shift: float, rng: np.random.Generator, n: int = 60) -> list:
    units = []
    for _ in range(3):
        hazard = rng.normal(size=n)
        time = rng.exponential(np.exp(-hazard))
        event = (rng.random(n) < 0.7).astype(float)
        risk_a = (1 - shift) * hazard + 0.5 * rng.normal(size=n)  # shift 1: a ranks at random
        units.append((0, np.stack([time, event], 1), risk_a, hazard + 0.5 * rng.normal(size=n)))
    return units


#: kind → (units maker, metric, null simulations); the C-index loops over replicates, so fewer of those
CASES: dict[str, tuple[Callable, str, int]] = {
    "regression": (_regression_units, "mae", 300),
    "multiclass": (_multiclass_units, "auroc", 200),
    "survival": (_survival_units, "cindex", 80),
}


@pytest.mark.parametrize("kind", sorted(CASES))
def test_paired_bootstrap_p_is_uniform_under_the_null_and_small_under_a_difference(kind: str) -> None:
    make, metric, n_sims = CASES[kind]
    scoring = SCORING[kind]
    fn, strata = scoring.metrics[metric].fn, scoring.strata
    rng = np.random.default_rng(1)
    null = np.array([paired_bootstrap(make(0.0, rng), fn, n_boot=150, seed=s, strata=strata).p_value
                     for s in range(n_sims)])
    assert kstest(null, "uniform").pvalue > 0.01  # ~ uniform (percentile bootstrap: approximately)
    assert 0.01 <= (null < 0.05).mean() <= 0.11
    assert 0.4 <= null.mean() <= 0.6
    real = [paired_bootstrap(make(1.0, rng), fn, n_boot=300, seed=s, strata=strata) for s in range(4)]
    assert all(t.p_value < 0.05 for t in real) and np.median([t.p_value for t in real]) < 0.01
    better_is_positive = scoring.metrics[metric].higher_is_better
    # model a is the worse one in every alternative: its metric difference points the wrong way
    assert all((t.estimate < 0) == better_is_positive for t in real)
