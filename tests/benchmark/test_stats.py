"""Benchmark statistics against reference implementations and known values."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

from nextgen_ml.benchmark.metrics import METRICS, accuracy, auprc, auroc, brier
from nextgen_ml.benchmark.stats import bootstrap_ci, delong_paired, fast_delong, holm, paired_bootstrap

# Hanley & McNeil (1982), Radiology 143:29-36, Table 1: CT ratings 1 (definitely normal) .. 5 (definitely abnormal)
HM_NEGATIVE = np.repeat([1, 2, 3, 4, 5], [33, 6, 6, 11, 2])
HM_POSITIVE = np.repeat([1, 2, 3, 4, 5], [3, 2, 2, 11, 33])


def brute_force_delong(y: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """DeLong et al. (1988) from the definition: ψ(x, y) = 1[x > y] + ½·1[x = y] over all positive/negative pairs."""
    pos, neg = scores[:, y == 1], scores[:, y == 0]
    psi = (pos[:, :, None] > neg[:, None, :]) + 0.5 * (pos[:, :, None] == neg[:, None, :])  # (K, m, n)
    v10, v01 = psi.mean(axis=2), psi.mean(axis=1)  # (K, m), (K, n)
    aucs = psi.mean(axis=(1, 2))
    cov = np.atleast_2d(np.cov(v10)) / pos.shape[1] + np.atleast_2d(np.cov(v01)) / neg.shape[1]
    return aucs, cov


def _correlated_scores(n: int = 120, seed: int = 0, ties: bool = False) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(int)
    latent = y * 1.0 + rng.normal(size=n)
    scores = np.stack([latent + rng.normal(scale=0.5, size=n), latent + rng.normal(scale=1.0, size=n),
                       rng.normal(size=n)])
    return y, np.round(scores, 1) if ties else scores


@pytest.mark.parametrize("ties", [False, True])
def test_fast_delong_matches_brute_force_and_sklearn(ties: bool) -> None:
    y, scores = _correlated_scores(ties=ties)
    aucs, cov = fast_delong(y, scores)
    ref_aucs, ref_cov = brute_force_delong(y, scores)
    np.testing.assert_allclose(aucs, ref_aucs, rtol=1e-12)
    np.testing.assert_allclose(cov, ref_cov, rtol=1e-10)
    np.testing.assert_allclose(aucs, [roc_auc_score(y, s) for s in scores], rtol=1e-12)
    assert np.all(np.linalg.eigvalsh(cov) > -1e-12)  # a covariance matrix


def test_fast_delong_on_hanley_mcneil_worked_example() -> None:
    y = np.r_[np.ones(HM_POSITIVE.size), np.zeros(HM_NEGATIVE.size)]
    aucs, cov = fast_delong(y, np.r_[HM_POSITIVE, HM_NEGATIVE].astype(float))
    assert aucs[0] == pytest.approx(0.8932, abs=5e-5)  # published: 0.893
    # published Hanley–McNeil SE 0.032 (exponential approximation); DeLong's nonparametric SE is close to it
    assert np.sqrt(cov[0, 0]) == pytest.approx(0.032, abs=0.003)


def test_delong_variance_agrees_with_bootstrap_variance() -> None:
    y, scores = _correlated_scores(n=300, seed=4)
    _, cov = fast_delong(y, scores[:2])
    idx = np.random.default_rng(0).integers(0, y.size, (2000, y.size))  # (n_boot, n) case resamples
    singles = auroc(y[idx], scores[0][idx])  # auroc is checked against sklearn in test_vectorised_metrics...
    diffs = singles - auroc(y[idx], scores[1][idx])
    assert np.var(singles) == pytest.approx(cov[0, 0], rel=0.2)
    assert np.var(diffs) == pytest.approx(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1], rel=0.2)


def test_delong_paired_detects_differences_and_not_identity() -> None:
    y, scores = _correlated_scores(n=200, seed=1)
    folds = np.arange(y.size) % 4
    units = [(0, y[folds == f], scores[0, folds == f], scores[2, folds == f]) for f in range(4)]
    strong = delong_paired(units)
    assert strong.estimate > 0.2 and strong.p_value < 1e-4 and strong.low > 0
    same = delong_paired([(0, y, scores[0], scores[0])])
    assert same.estimate == 0 and same.p_value == 1.0
    # one fold, one repeat → the plain two-sample DeLong test
    aucs, cov = fast_delong(y, scores[[0, 1]])
    single = delong_paired([(0, y, scores[0], scores[1])])
    assert single.estimate == pytest.approx(aucs[0] - aucs[1])
    assert (single.high - single.estimate) == pytest.approx(1.959964 * np.sqrt(cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]),
                                                            rel=1e-5)


def test_vectorised_metrics_match_sklearn() -> None:
    rng = np.random.default_rng(3)
    y = (rng.random((4, 90)) < 0.3).astype(float)
    logit = y * 1.2 + rng.normal(size=(4, 90))
    prob = 1 / (1 + np.exp(-logit))
    np.testing.assert_allclose(auroc(y, logit), [roc_auc_score(a, b) for a, b in zip(y, logit, strict=True)])
    np.testing.assert_allclose(auprc(y, logit), [average_precision_score(a, b) for a, b in zip(y, logit, strict=True)])
    np.testing.assert_allclose(brier(y, logit), [brier_score_loss(a, b) for a, b in zip(y, prob, strict=True)])
    np.testing.assert_allclose(accuracy(y, logit), ((prob >= 0.5) == y).mean(axis=1))
    assert not METRICS["brier"].higher_is_better
    tied = np.round(logit, 1)  # ties (as in bootstrap resamples with duplicated records)
    np.testing.assert_allclose(auroc(y, tied), [roc_auc_score(a, b) for a, b in zip(y, tied, strict=True)])
    np.testing.assert_allclose(auprc(y, tied), [average_precision_score(a, b) for a, b in zip(y, tied, strict=True)])
    idx = np.random.default_rng(0).integers(0, 90, (3, 90))  # a resample: duplicates tie across both labels' rows
    np.testing.assert_allclose(auprc(y[0][idx], logit[0][idx]),
                               [average_precision_score(y[0][i], logit[0][i]) for i in idx])


def test_bootstrap_ci_coverage_is_near_nominal() -> None:
    rng = np.random.default_rng(0)
    covered = 0
    trials = 300
    for t in range(trials):
        x = rng.normal(loc=1.0, size=40)
        est, low, high = bootstrap_ci(x, n_boot=400, seed=t)
        assert low <= est <= high
        covered += low <= 1.0 <= high
    assert 0.89 <= covered / trials <= 0.99
    assert bootstrap_ci([]) != bootstrap_ci([])  # NaNs
    assert bootstrap_ci([2.0]) == (2.0, 2.0, 2.0)


def test_paired_bootstrap() -> None:
    y, scores = _correlated_scores(n=240, seed=2)
    folds = np.arange(y.size) % 3
    units = [(r, y[folds == f], scores[0, folds == f], scores[2, folds == f]) for r in (0, 1) for f in range(3)]
    better = paired_bootstrap(units, METRICS["auprc"].fn, n_boot=400)
    assert better.low > 0 and better.p_value < 0.01 and better.method == "paired_bootstrap"
    expected = np.mean([auprc(u[1], u[2]) - auprc(u[1], u[3]) for u in units])
    assert better.estimate == pytest.approx(expected)
    same = paired_bootstrap([(0, y, scores[1], scores[1])], METRICS["brier"].fn, n_boot=200)
    assert same.estimate == 0 and same.p_value == 1.0


def test_holm_against_hand_computation() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 → ×4, ×3, ×2, ×1 = 0.02, 0.03, 0.06, 0.04 → running max 0.02, 0.03, 0.06, 0.06
    np.testing.assert_allclose(holm([0.01, 0.04, 0.03, 0.005]), [0.03, 0.06, 0.06, 0.02])
    np.testing.assert_allclose(holm([0.5, 0.6]), [1.0, 1.0])
    out = holm([0.01, np.nan, 0.02])
    assert np.isnan(out[1])
    np.testing.assert_allclose(out[[0, 2]], [0.02, 0.02])
