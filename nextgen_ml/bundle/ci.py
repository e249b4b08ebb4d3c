"""Bootstrap confidence intervals of a task's main test metric from test-set predictions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


def _auroc(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, p))


def _macro_auroc_multilabel(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    cols = [k for k in range(y.shape[1]) if len(np.unique(y[:, k])) == 2]
    if not cols:
        raise ValueError("no label has both classes")
    return float(np.mean([roc_auc_score(y[:, k], p[:, k]) for k in cols]))


def _macro_auroc_multiclass(y: np.ndarray, p: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y.astype(int), p, multi_class="ovr", average="macro", labels=np.arange(p.shape[1])))


def _mae(y: np.ndarray, p: np.ndarray) -> float:
    return float(np.mean(np.abs(y - p)))


def _cindex(y: np.ndarray, p: np.ndarray) -> float:
    from lifelines.utils import concordance_index

    return float(concordance_index(y[:, 0], -p, y[:, 1]))  # higher risk = earlier event


#: task class name → (metric name as logged, metric(y, p)) — ``y`` is the task's target array (``(N, 2)`` time and
#: event for survival), ``p`` the task's ``predict`` output.
TASK_METRICS: dict[str, tuple[str, Callable[[np.ndarray, np.ndarray], float]]] = {
    "binary": ("auroc", _auroc),
    "multiclass": ("auroc", _macro_auroc_multiclass),
    "multilabel": ("auroc", _macro_auroc_multilabel),
    "regression": ("mae", _mae),
    "survival": ("cindex", _cindex),
}


def bootstrap_ci(
    y: np.ndarray,
    p: np.ndarray,
    metric: Callable[[np.ndarray, np.ndarray], float],
    n_boot: int = 1000,
    level: float = 0.95,
    seed: int = 0,
) -> dict[str, Any]:
    """Percentile bootstrap CI of ``metric(y, p)`` over patients (resampled with replacement).

    Resamples where the metric is undefined (e.g. one class only) are skipped and counted.

    Args:
        y: ``(N,)`` or ``(N, ...)`` targets.
        p: ``(N,)`` or ``(N, K)`` predictions.
        metric: ``(y, p) -> float``.
        n_boot: bootstrap resamples.
        level: confidence level.
        seed: resampling seed.

    Returns:
        ``{"estimate", "low", "high", "level", "n", "n_boot", "n_skipped"}``.
    """
    y, p = np.asarray(y), np.asarray(p)
    if len(y) != len(p):
        raise ValueError(f"y and p must have the same length, got {len(y)} and {len(p)}")
    if len(y) < 2:
        raise ValueError(f"need at least 2 patients for a bootstrap CI, got {len(y)}")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    rng = np.random.default_rng(seed)
    estimate = metric(y, p)
    stats, skipped = [], 0
    for _ in range(n_boot):
        idx = rng.integers(0, len(y), len(y))
        try:
            stats.append(metric(y[idx], p[idx]))
        except ValueError:
            skipped += 1
    if not stats:
        raise ValueError("the metric is undefined on every bootstrap resample")
    alpha = (1 - level) / 2
    low, high = np.quantile(stats, [alpha, 1 - alpha])
    return {"estimate": float(estimate), "low": float(low), "high": float(high), "level": level, "n": int(len(y)),
            "n_boot": n_boot, "n_skipped": skipped}


def task_arrays(task: Any, targets: dict[str, np.ndarray], preds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(y, p)`` of the rows with a label, in the layout :data:`TASK_METRICS` expects."""
    y = targets[task.target]  # survival: (N, 2) time, event
    keep = y >= 0 if task.kind == "multiclass" else ~np.isnan(y).reshape(len(y), -1).any(axis=1)
    return y[keep], np.asarray(preds)[keep]


def task_ci(task: Any, targets: dict[str, np.ndarray], preds: np.ndarray, n_boot: int = 1000,
            seed: int = 0) -> tuple[str, dict[str, Any]]:
    """``("test/<metric>", ci)`` of the task's main metric on test predictions."""
    name = task.kind
    if name not in TASK_METRICS:
        raise ValueError(f"task: no bootstrap metric for {name}; known {sorted(TASK_METRICS)}")
    metric_name, fn = TASK_METRICS[name]
    y, p = task_arrays(task, targets, preds)
    return f"test/{metric_name}", bootstrap_ci(y, p, fn, n_boot=n_boot, seed=seed)
