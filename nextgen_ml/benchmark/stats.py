"""Statistics for the benchmark: bootstrap CIs, fast DeLong (Sun & Xu 2014), paired bootstrap, Holm correction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, rankdata


# ---------------------------------------------------------------------------------------------- bootstrap CI
def bootstrap_ci(
    values: Sequence[float] | np.ndarray,
    n_boot: int = 2000,
    alpha: float = 0.05,
    seed: int = 0,
    stat: Callable[[np.ndarray], np.ndarray] = lambda x: x.mean(axis=-1),
) -> tuple[float, float, float]:
    """Percentile bootstrap confidence interval of ``stat`` (default: the mean).

    Args:
        values: ``(n,)`` observations (e.g. one metric over the benchmark's folds); NaNs are dropped.
        n_boot: bootstrap replicates.
        alpha: 1 − confidence level.
        seed: resampling seed.
        stat: statistic over the last axis, vectorised (``(n_boot, n) -> (n_boot,)``).

    Returns:
        ``(estimate, low, high)``; ``(nan, nan, nan)`` for no data, ``(x, x, x)`` for a single observation.
    """
    x = np.asarray(values, dtype=np.float64)
    x = x[~np.isnan(x)]
    if x.size == 0:
        return (float("nan"),) * 3
    est = float(stat(x[None])[0])
    if x.size == 1:
        return est, est, est
    rng = np.random.default_rng(seed)
    reps = stat(x[rng.integers(0, x.size, size=(n_boot, x.size))])  # (n_boot,)
    low, high = np.quantile(reps, [alpha / 2, 1 - alpha / 2])
    return est, float(low), float(high)


# ---------------------------------------------------------------------------------------------- DeLong
def fast_delong(y: Sequence[int] | np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """AUROCs of ``K`` score vectors on the same cases and their DeLong covariance, in O(K·n log n).

    Sun & Xu (2014), "Fast implementation of DeLong's algorithm for comparing the areas under correlated receiver
    operating characteristic curves", IEEE Signal Processing Letters 21(11): structural components from mid-ranks
    within positives, within negatives and over all cases (ties count 1/2).

    Args:
        y: ``(n,)`` binary labels (1 = positive).
        scores: ``(K, n)`` or ``(n,)`` scores (higher = more likely positive).

    Returns:
        ``(aucs (K,), cov (K, K))``.
    """
    y = np.asarray(y).astype(bool)
    s = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    if s.shape[1] != y.size:
        raise ValueError(f"scores must be (K, {y.size}) to match y, got {s.shape}")
    m, n = int(y.sum()), int((~y).sum())
    if m < 2 or n < 2:
        raise ValueError(f"DeLong needs at least 2 positives and 2 negatives, got {m} and {n}")
    pos, neg = s[:, y], s[:, ~y]  # (K, m), (K, n)
    tx = rankdata(pos, axis=1)  # mid-ranks within positives
    ty = rankdata(neg, axis=1)  # mid-ranks within negatives
    tz = rankdata(np.concatenate([pos, neg], axis=1), axis=1)  # (K, m + n) over all cases
    aucs = tz[:, :m].sum(axis=1) / (m * n) - (m + 1) / (2 * n)
    v10 = (tz[:, :m] - tx) / n  # (K, m) placement of each positive among negatives
    v01 = 1.0 - (tz[:, m:] - ty) / m  # (K, n) placement of each negative among positives
    cov = np.atleast_2d(np.cov(v10)) / m + np.atleast_2d(np.cov(v01)) / n
    return aucs, cov


@dataclass(frozen=True)
class PairedTest:
    """A paired comparison ``a − b`` of one metric.

    Attributes:
        estimate: mean difference ``a − b`` (over folds / seeds).
        low / high: confidence interval of the difference.
        p_value: two-sided p-value of "no difference".
        method: ``"delong"`` or ``"paired_bootstrap"``.
    """

    estimate: float
    low: float
    high: float
    p_value: float
    method: str


def delong_paired(
    units: Sequence[tuple[int, np.ndarray, np.ndarray, np.ndarray]], alpha: float = 0.05
) -> PairedTest:
    """DeLong test of AUROC(a) − AUROC(b) over cross-validation folds of one or more repeats.

    Within a repeat the folds' test sets are disjoint, so fold differences are independent: the repeat's
    estimate is their mean and its variance ``Σ var_f / k²``. Repeats reuse the same patients, so their estimates
    are positively correlated; they are averaged and the variance is bounded by the mean of their variances
    (exact when perfectly correlated, conservative otherwise).

    Args:
        units: ``(repeat, y, score_a, score_b)`` per fold, each array ``(n_f,)``.
        alpha: 1 − confidence level of the interval.
    """
    by_repeat: dict[int, list[tuple[float, float]]] = {}
    for repeat, y, a, b in units:
        aucs, cov = fast_delong(y, np.stack([a, b]))
        by_repeat.setdefault(repeat, []).append((aucs[0] - aucs[1], cov[0, 0] + cov[1, 1] - 2 * cov[0, 1]))
    if not by_repeat:
        raise ValueError("units is empty")
    diffs = [np.mean([d for d, _ in folds]) for folds in by_repeat.values()]
    variances = [np.sum([v for _, v in folds]) / len(folds) ** 2 for folds in by_repeat.values()]
    est, se = float(np.mean(diffs)), float(np.sqrt(np.mean(variances)))
    z = est / se if se > 0 else (0.0 if est == 0 else np.sign(est) * np.inf)
    half = norm.ppf(1 - alpha / 2) * se
    return PairedTest(est, est - half, est + half, float(2 * norm.sf(abs(z))), "delong")


# ---------------------------------------------------------------------------------------------- paired bootstrap
def _stratified_indices(y: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """``(n_boot, n)`` resampling indices that keep the number of positives and negatives."""
    parts = [rng.choice(np.flatnonzero(y == c), size=(n_boot, int((y == c).sum()))) for c in np.unique(y)]
    return np.concatenate(parts, axis=1)


def paired_bootstrap(
    units: Sequence[tuple[int, np.ndarray, np.ndarray, np.ndarray]],
    metric: Callable[[np.ndarray, np.ndarray], np.ndarray],
    n_boot: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    strata: Callable[[np.ndarray], np.ndarray] | None | str = "y",
) -> PairedTest:
    """Paired, stratified bootstrap of ``metric(a) − metric(b)`` over cross-validation folds.

    Each replicate resamples the test cases of every fold (the same cases for both models). Within a repeat the
    fold replicates are independent (disjoint patients) and averaged; across repeats (same patients) the
    replicate distributions are combined comonotonically (quantile-averaged), the most conservative coupling.
    The p-value is ``2·min(P(d ≤ 0), P(d ≥ 0))`` under the replicate distribution, with the usual ``+1``
    correction (never 0).

    Args:
        units: ``(repeat, y, score_a, score_b)`` per fold.
        metric: vectorised metric ``(y (..., n), score (..., n)) -> (...)``.
        n_boot: bootstrap replicates.
        alpha: 1 − confidence level.
        seed: resampling seed.
        strata: ``y -> (n,)`` resampling strata; ``"y"`` (default) stratifies on ``y`` itself (binary classes);
            None resamples the rows of a fold freely (regression, multilabel). ``y`` and the scores may carry
            trailing axes (``(n, K)`` multilabel, ``(n, 2)`` survival): rows are resampled whole.
    """
    rng = np.random.default_rng(seed)
    by_repeat: dict[int, list[np.ndarray]] = {}
    point: dict[int, list[float]] = {}
    for repeat, y, a, b in units:
        y, a, b = np.asarray(y), np.asarray(a), np.asarray(b)
        if strata is None:
            idx = rng.integers(0, len(y), size=(n_boot, len(y)))  # (n_boot, n)
        else:
            idx = _stratified_indices(y if strata == "y" else np.asarray(strata(y)), n_boot, rng)  # (n_boot, n)
        by_repeat.setdefault(repeat, []).append(metric(y[idx], a[idx]) - metric(y[idx], b[idx]))
        point.setdefault(repeat, []).append(float(metric(y, a) - metric(y, b)))
    if not by_repeat:
        raise ValueError("units is empty")
    per_repeat = [np.sort(np.nanmean(np.stack(r), axis=0)) for r in by_repeat.values()]  # (n_boot,) each
    dist = np.mean(per_repeat, axis=0)  # comonotone combination
    est = float(np.mean([np.nanmean(p) for p in point.values()]))
    low, high = np.quantile(dist, [alpha / 2, 1 - alpha / 2])
    n = dist.size  # (count + 1) / (n + 1): a bootstrap p-value is never exactly 0
    p = min(1.0, 2 * min((int((dist <= 0).sum()) + 1) / (n + 1), (int((dist >= 0).sum()) + 1) / (n + 1)))
    return PairedTest(est, float(low), float(high), p, "paired_bootstrap")


# ---------------------------------------------------------------------------------------------- multiplicity
def holm(p_values: Sequence[float] | np.ndarray) -> np.ndarray:
    """Holm–Bonferroni step-down adjusted p-values (controls the family-wise error rate).

    ``p_adj_(i) = max_{j ≤ i} min(1, (m − j + 1) · p_(j))`` over the sorted p-values, returned in input order.
    NaNs are left out of the family and stay NaN.
    """
    p = np.asarray(p_values, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(~np.isnan(p))
    m = valid.size
    if m == 0:
        return out
    order = valid[np.argsort(p[valid], kind="stable")]
    adjusted = np.minimum(1.0, np.maximum.accumulate((m - np.arange(m)) * p[order]))
    out[order] = adjusted
    return out
