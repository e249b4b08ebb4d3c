"""Evaluation plots per task kind: ROC/PR/calibration, confusion matrix, scatter, Kaplan–Meier.

Plots are registered by task kind (= the label's declared kind); each takes the task, so class names and
units come from the label's declaration.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.metrics import (  # noqa: E402
    ConfusionMatrixDisplay,
    auc,
    precision_recall_curve,
    roc_curve,
)

PlotFn = Callable[[np.ndarray, dict[str, np.ndarray], Path, Any], list[Path]]
PLOTS: dict[str, PlotFn] = {}


def register_plot(kind: str) -> Callable[[PlotFn], PlotFn]:
    def deco(fn: PlotFn) -> PlotFn:
        PLOTS[kind] = fn
        return fn

    return deco


def _names(task: Any, k: int) -> list[str]:
    names = list(getattr(task, "class_names", ()) or ())
    return names if len(names) == k else [f"class {i}" for i in range(k)]


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@register_plot("binary")
def plot_binary(preds: np.ndarray, targets: dict[str, np.ndarray], out: Path, task: Any) -> list[Path]:
    target = task.target
    y = targets[target]
    keep = ~np.isnan(y)
    y, p = y[keep].astype(int), preds[keep]
    fig, axes = plt.subplots(1, 3, figsize=(13, 4))
    fpr, tpr, _ = roc_curve(y, p)
    axes[0].plot(fpr, tpr, label=f"AUROC {auc(fpr, tpr):.3f}")
    axes[0].plot([0, 1], [0, 1], "k--", lw=0.8)
    axes[0].set(xlabel="False positive rate", ylabel="True positive rate", title=f"ROC ({target})")
    prec, rec, _ = precision_recall_curve(y, p)
    axes[1].plot(rec, prec, label=f"AUPRC {auc(rec, prec):.3f}")
    axes[1].axhline(y.mean(), color="k", ls="--", lw=0.8, label=f"prevalence {y.mean():.2f}")
    axes[1].set(xlabel="Recall", ylabel="Precision", title=f"Precision-recall ({target})")
    frac_pos, mean_pred = calibration_curve(y, p, n_bins=10, strategy="quantile")
    axes[2].plot(mean_pred, frac_pos, "o-")
    axes[2].plot([0, 1], [0, 1], "k--", lw=0.8)
    axes[2].set(xlabel="Predicted probability", ylabel="Observed frequency", title="Calibration (deciles)")
    for ax in axes[:2]:
        ax.legend(loc="lower right")
    return [_save(fig, out / f"test_{target}_roc_pr_calibration.png")]


@register_plot("multiclass")
def plot_multiclass(preds: np.ndarray, targets: dict[str, np.ndarray], out: Path, task: Any) -> list[Path]:
    target = task.target
    y = targets[target]
    keep = y >= 0
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ConfusionMatrixDisplay.from_predictions(
        y[keep], preds[keep].argmax(1), labels=range(task.num_classes),
        display_labels=[c.replace("_", "\n") for c in _names(task, task.num_classes)], normalize="true", ax=ax,
        colorbar=False,
    )
    ax.set_title(f"Confusion matrix ({target}, row-normalised)")
    return [_save(fig, out / f"test_{target}_confusion.png")]


@register_plot("multilabel")
def plot_multilabel(preds: np.ndarray, targets: dict[str, np.ndarray], out: Path, task: Any) -> list[Path]:
    target = task.target
    y = targets[target]
    fig, ax = plt.subplots(figsize=(6, 5))
    for k, name in enumerate(_names(task, y.shape[1])):
        keep = ~np.isnan(y[:, k])
        if len(np.unique(y[keep, k])) < 2:
            continue
        fpr, tpr, _ = roc_curve(y[keep, k], preds[keep, k])
        ax.plot(fpr, tpr, label=f"{name} ({auc(fpr, tpr):.2f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC per finding")
    ax.legend(fontsize=8)
    return [_save(fig, out / f"test_{target}_roc.png")]


@register_plot("regression")
def plot_regression(preds: np.ndarray, targets: dict[str, np.ndarray], out: Path, task: Any) -> list[Path]:
    target = task.target
    y = targets[target]
    keep = ~np.isnan(y)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(y[keep], preds[keep].reshape(-1)[keep], s=8, alpha=0.6)
    lo, hi = np.nanmin(y), np.nanmax(y)
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set(xlabel=f"true {target}", ylabel=f"predicted {target}", title="Predicted vs true (test)")
    return [_save(fig, out / f"test_{target}_scatter.png")]


@register_plot("survival")
def plot_survival(preds: np.ndarray, targets: dict[str, np.ndarray], out: Path, task: Any) -> list[Path]:
    target = task.target
    from lifelines import KaplanMeierFitter

    t, e, risk = targets[target][:, 0], targets[target][:, 1], preds.reshape(-1)
    keep = ~(np.isnan(t) | np.isnan(e))
    t, e, risk = t[keep], e[keep], risk[keep]
    groups = np.digitize(risk, np.quantile(risk, [1 / 3, 2 / 3]))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for g, name in enumerate(("low", "middle", "high")):
        sel = groups == g
        if sel.sum() > 0:
            km = KaplanMeierFitter(label=f"{name} predicted risk (n={sel.sum()})").fit(t[sel], e[sel])
            km.plot_survival_function(ax=ax)
    unit = getattr(task, "time_unit", None) or "a"
    ax.set(xlabel=f"time ({unit})", ylabel="event-free survival", title="Kaplan–Meier by predicted-risk tertile (test)")
    return [_save(fig, out / f"test_{target}_km.png")]


def make_plots(task: Any, preds: np.ndarray, targets: dict[str, np.ndarray], out: Path) -> list[Path]:
    """Plots for ``task`` (by its kind) into ``out``; a kind without plots gets none."""
    out.mkdir(parents=True, exist_ok=True)
    fn = PLOTS.get(getattr(task, "kind", ""))
    return [] if fn is None else fn(preds, targets, out, task)
