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


# ---------------------------------------------------------------------------------------------- other task kinds
# Scores of multiclass and multilabel models are ``(..., n, K)`` logits; survival labels are ``(..., n, 2)``
# ``[time, event]``; regression scores are predictions in the label's unit.
def macro_auroc_ovr(y: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Multiclass macro AUROC, one class against the rest on softmax probabilities (scikit-learn's
    ``roc_auc_score(multi_class="ovr", average="macro")``); classes absent from ``y`` are left out of the mean.

    Args:
        y: ``(..., n)`` class ids.
        logits: ``(..., n, K)``.
    """
    logits = np.asarray(logits, dtype=np.float64)
    z = logits - logits.max(axis=-1, keepdims=True)
    prob = np.exp(z) / np.exp(z).sum(axis=-1, keepdims=True)  # (..., n, K)
    per_class = np.stack([auroc(np.asarray(y) == k, prob[..., k]) for k in range(prob.shape[-1])], axis=-1)
    return _nanmean(per_class)


def multiclass_accuracy(y: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Share of rows whose largest logit is the labelled class."""
    return (np.argmax(logits, axis=-1) == np.asarray(y)).mean(axis=-1)


def macro_auroc(y: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Multilabel macro AUROC: mean over labels of each label's AUROC (labels with one class are left out).

    Args:
        y: ``(..., n, K)`` 0/1.
        logits: ``(..., n, K)``.
    """
    return _nanmean(np.stack([auroc(y[..., k], logits[..., k]) for k in range(y.shape[-1])], axis=-1))


def macro_auprc(y: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """Multilabel macro average precision (labels without positives are left out)."""
    return _nanmean(np.stack([auprc(y[..., k], logits[..., k]) for k in range(y.shape[-1])], axis=-1))


def mae(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Mean absolute error (in the label's unit)."""
    return np.abs(np.asarray(pred, dtype=np.float64) - y).mean(axis=-1)


def rmse(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Root mean squared error (in the label's unit)."""
    return np.sqrt(((np.asarray(pred, dtype=np.float64) - y) ** 2).mean(axis=-1))


def r2(y: np.ndarray, pred: np.ndarray) -> np.ndarray:
    """Coefficient of determination ``1 − SS_res / SS_tot`` (SS_tot around the sample's own mean)."""
    y = np.asarray(y, dtype=np.float64)
    ss_res = ((y - pred) ** 2).sum(axis=-1)
    ss_tot = ((y - y.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 1.0 - ss_res / ss_tot


def cindex(y: np.ndarray, risk: np.ndarray) -> np.ndarray:
    """Harrell's C-index of every leading index, by the project's :func:`nextgen_ml.tasks.metrics.concordance_index`.

    Args:
        y: ``(..., n, 2)`` ``[time, event]``.
        risk: ``(..., n)`` risk scores (higher = earlier event).
    """
    import torch

    from nextgen_ml.tasks.metrics import concordance_index

    y, risk = np.asarray(y, dtype=np.float64), np.asarray(risk, dtype=np.float64)
    out = np.empty(risk.shape[:-1])
    for i in np.ndindex(out.shape):
        t = torch.from_numpy(y[i])  # (n, 2)
        out[i] = float(concordance_index(torch.from_numpy(risk[i]), t[:, 0], t[:, 1]))
    return out


def _nanmean(x: np.ndarray) -> np.ndarray:
    """Mean over the last axis ignoring NaN (NaN where all are NaN), without warnings."""
    n = (~np.isnan(x)).sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.nansum(x, axis=-1) / n, np.nan)
