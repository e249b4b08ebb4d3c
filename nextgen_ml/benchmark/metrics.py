"""Binary-classification metrics vectorised over leading axes (one call scores many bootstrap replicates).

Every metric takes ``y (..., n)`` 0/1 labels and ``logit (..., n)`` scores and returns ``(...)``. Ranking metrics
use the logits (ties are rarer than among saturated probabilities); calibration metrics use ``sigmoid(logit)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.special import expit
from scipy.stats import rankdata


def auroc(y: np.ndarray, logit: np.ndarray) -> np.ndarray:
    """Area under the ROC curve (Mann–Whitney with mid-ranks for ties); NaN where a class is absent."""
    y = np.asarray(y, dtype=np.float64)
    ranks = rankdata(logit, axis=-1)  # (..., n)
    n1 = y.sum(axis=-1)
    n0 = y.shape[-1] - n1
    with np.errstate(invalid="ignore", divide="ignore"):
        return ((ranks * y).sum(axis=-1) - n1 * (n1 + 1) / 2) / (n1 * n0)


def auprc(y: np.ndarray, logit: np.ndarray) -> np.ndarray:
    """Average precision as scikit-learn defines it: ``Σ_t (R_t − R_{t−1}) · P_t`` over distinct thresholds.

    Tied scores form one threshold (every positive of a tie group gets the precision at the group's end), which
    matters for bootstrap resamples, where duplicated records tie.
    """
    y = np.asarray(y, dtype=np.float64)
    order = np.argsort(-np.asarray(logit, dtype=np.float64), axis=-1, kind="stable")
    s_sorted = np.take_along_axis(np.asarray(logit, dtype=np.float64), order, axis=-1)  # (..., n) decreasing
    y_sorted = np.take_along_axis(y, order, axis=-1)
    n = y.shape[-1]
    precision = np.cumsum(y_sorted, axis=-1) / np.arange(1, n + 1)  # (..., n)
    is_end = np.ones(y.shape, dtype=bool)
    is_end[..., :-1] = s_sorted[..., :-1] != s_sorted[..., 1:]  # last position of each tie group
    end_idx = np.where(is_end, np.arange(n), n)
    group_end = np.minimum.accumulate(end_idx[..., ::-1], axis=-1)[..., ::-1]  # (..., n) end of each one's group
    group_precision = np.take_along_axis(precision, group_end, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (group_precision * y_sorted).sum(axis=-1) / y.sum(axis=-1)


def brier(y: np.ndarray, logit: np.ndarray) -> np.ndarray:
    """Brier score: mean squared error of the predicted probability (lower is better)."""
    return ((expit(np.asarray(logit, dtype=np.float64)) - y) ** 2).mean(axis=-1)


def accuracy(y: np.ndarray, logit: np.ndarray) -> np.ndarray:
    """Accuracy at probability 0.5 (logit 0)."""
    return ((np.asarray(logit) >= 0) == (np.asarray(y) > 0.5)).mean(axis=-1)


@dataclass(frozen=True)
class Metric:
    """A metric function and its direction."""

    fn: Callable[[np.ndarray, np.ndarray], np.ndarray]
    higher_is_better: bool = True


#: metric name → definition; the benchmark reports every metric listed here.
METRICS: dict[str, Metric] = {
    "auroc": Metric(auroc),
    "auprc": Metric(auprc),
    "brier": Metric(brier, higher_is_better=False),
    "accuracy": Metric(accuracy),
}


def score(y: np.ndarray, logit: np.ndarray, names: tuple[str, ...] | None = None) -> dict[str, float]:
    """Every metric (or ``names``) of one prediction vector, as floats."""
    names = tuple(METRICS) if names is None else names
    unknown = sorted(set(names) - set(METRICS))
    if unknown:
        raise ValueError(f"metrics: unknown {unknown}; available {sorted(METRICS)}")
    return {n: float(METRICS[n].fn(np.asarray(y), np.asarray(logit))) for n in names}
