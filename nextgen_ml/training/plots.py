"""Evaluation plots per task type: ROC/PR/calibration, confusion matrix, scatter, Kaplan–Meier."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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

from nextgen_ml.data.schema import DIAGNOSIS_CLASSES, FINDING_CLASSES  # noqa: E402

PlotFn = Callable[[np.ndarray, dict[str, np.ndarray], Path, str], list[Path]]
PLOTS: dict[str, PlotFn] = {}


def register_plot(task_name: str) -> Callable[[PlotFn], PlotFn]:
    def deco(fn: PlotFn) -> PlotFn:
        PLOTS[task_name] = fn
        return fn

    return deco


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


@register_plot("BinaryTask")
def plot_binary(preds: np.ndarray, targets: dict[str, np.ndarray], out: Path, target: str) -> list[Path]:
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


@register_plot("MulticlassTask")
def plot_multiclass(preds: np.ndarray, targets: dict[str, np.ndarray], out: Path, target: str) -> list[Path]:
    y = targets[target]
    keep = y >= 0
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ConfusionMatrixDisplay.from_predictions(
        y[keep], preds[keep].argmax(1), labels=range(len(DIAGNOSIS_CLASSES)),
        display_labels=[c.replace("_", "\n") for c in DIAGNOSIS_CLASSES], normalize="true", ax=ax, colorbar=False,
    )
    ax.set_title(f"Confusion matrix ({target}, row-normalised)")
    return [_save(fig, out / f"test_{target}_confusion.png")]


@register_plot("MultilabelTask")
def plot_multilabel(preds: np.ndarray, targets: dict[str, np.ndarray], out: Path, target: str) -> list[Path]:
    y = targets[target]
    fig, ax = plt.subplots(figsize=(6, 5))
    for k, name in enumerate(FINDING_CLASSES[: y.shape[1]]):
        keep = ~np.isnan(y[:, k])
        if len(np.unique(y[keep, k])) < 2:
            continue
        fpr, tpr, _ = roc_curve(y[keep, k], preds[keep, k])
        ax.plot(fpr, tpr, label=f"{name} ({auc(fpr, tpr):.2f})")
    ax.plot([0, 1], [0, 1], "k--", lw=0.8)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC per finding")
    ax.legend(fontsize=8)
    return [_save(fig, out / f"test_{target}_roc.png")]


@register_plot("RegressionTask")
def plot_regression(preds: np.ndarray, targets: dict[str, np.ndarray], out: Path, target: str) -> list[Path]:
    y = targets[target]
    keep = ~np.isnan(y)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.scatter(y[keep], preds[keep].reshape(-1)[keep], s=8, alpha=0.6)
    lo, hi = np.nanmin(y), np.nanmax(y)
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8)
    ax.set(xlabel=f"true {target}", ylabel=f"predicted {target}", title="Predicted vs true (test)")
    return [_save(fig, out / f"test_{target}_scatter.png")]


@register_plot("SurvivalTask")
def plot_survival(preds: np.ndarray, targets: dict[str, np.ndarray], out: Path, target: str) -> list[Path]:
    from lifelines import KaplanMeierFitter

    t, e, risk = targets["event_time"], targets["event"], preds.reshape(-1)
    keep = ~(np.isnan(t) | np.isnan(e))
    t, e, risk = t[keep], e[keep], risk[keep]
    groups = np.digitize(risk, np.quantile(risk, [1 / 3, 2 / 3]))
    fig, ax = plt.subplots(figsize=(6, 4.5))
    for g, name in enumerate(("low", "middle", "high")):
        sel = groups == g
        if sel.sum() > 0:
            km = KaplanMeierFitter(label=f"{name} predicted risk (n={sel.sum()})").fit(t[sel], e[sel])
            km.plot_survival_function(ax=ax)
    ax.set(xlabel="years", ylabel="event-free survival", title="Kaplan–Meier by predicted-risk tertile (test)")
    return [_save(fig, out / "test_survival_km.png")]


def make_plots(task_name: str, preds: np.ndarray, targets: dict[str, np.ndarray], out: Path, target: str) -> list[Path]:
    """Plots for ``task_name`` (a task class name) into ``out``; unknown task types get none."""
    out.mkdir(parents=True, exist_ok=True)
    fn = PLOTS.get(task_name)
    return [] if fn is None else fn(preds, targets, out, target)
