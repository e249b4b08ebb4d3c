"""The figure that fits the label kind, from out-of-fold test scores (first repeat, all modalities present):

- binary: ROC curves per setting (fold scores pooled);
- multiclass and multilabel: per-class AUROC per setting (mean over cells), one-vs-rest for multiclass;
- regression: predicted vs observed per setting, with the identity line;
- survival: Kaplan–Meier curves per setting by risk tertile (tertiles within each fold: fold models' risks are on
  their own scales).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from nextgen_ml.benchmark.kinds import KindScoring  # noqa: E402
from nextgen_ml.benchmark.metrics import auroc  # noqa: E402
from nextgen_ml.benchmark.plots import _save  # noqa: E402


def _oof(results: Sequence[dict[str, Any]], setting: str, kind: KindScoring) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(y, score)`` of each fold of the first repeat (labelled rows, condition ``full``)."""
    cells = [r for r in results if r["setting"]["name"] == setting]
    if not cells:
        return []
    first = min(r["seed"] for r in cells)
    out = []
    for r in sorted((r for r in cells if r["seed"] == first), key=lambda r: r["fold"]):
        y, s = np.asarray(r["y"], dtype=np.float64), np.asarray(r["logits"]["full"], dtype=np.float64)
        if kind.kind == "multiclass":  # class probabilities, as the macro AUROC scores them
            s = np.exp(s - s.max(axis=1, keepdims=True))
            s = s / s.sum(axis=1, keepdims=True)
        keep = kind.labelled(y)
        out.append((y[keep], s[keep]))
    return out


def _grid(n: int) -> tuple[plt.Figure, np.ndarray]:
    cols = min(n, 4)
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 3.2 * rows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    return fig, axes.flat


def _roc(ax: plt.Axes, folds: list[tuple[np.ndarray, np.ndarray]], label: str) -> None:
    y = np.concatenate([f[0] for f in folds])
    s = np.concatenate([f[1] for f in folds])
    order = np.argsort(-s, kind="stable")
    tp, fp = np.cumsum(y[order]), np.cumsum(1 - y[order])
    ax.plot(np.r_[0, fp / max(fp[-1], 1)], np.r_[0, tp / max(tp[-1], 1)], label=label)


def _km(time: np.ndarray, event: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Kaplan–Meier step function (times, survival) with the start at (0, 1)."""
    times = np.unique(time[event > 0.5])
    at_risk = np.array([(time >= t).sum() for t in times])
    deaths = np.array([((time == t) & (event > 0.5)).sum() for t in times])
    return np.r_[0.0, times], np.r_[1.0, np.cumprod(1 - deaths / at_risk)]


def kind_figure(kind: KindScoring, results: Sequence[dict[str, Any]], settings: Sequence[str], path: Path,
                class_names: Sequence[str] = ()) -> Path | None:
    """Draw the kind's figure for ``settings``; None when no setting has results."""
    data = {s: f for s in settings if (f := _oof(results, s, kind))}
    if not data:
        return None
    if kind.vector:  # per-class AUROC heatmap: settings x classes
        n_classes = np.asarray(next(iter(data.values()))[0][1]).shape[-1]
        table = np.array([[np.nanmean([auroc(_one_vs_rest(kind, y, k), s[:, k]) for y, s in folds])
                           for k in range(n_classes)] for folds in data.values()])
        names = list(class_names) or [f"class {k}" for k in range(n_classes)]
        fig, ax = plt.subplots(figsize=(1.1 * n_classes + 3.0, 0.5 * len(data) + 2.2))
        im = ax.imshow(table, cmap="viridis", vmin=0.5, vmax=1.0, aspect="auto")
        ax.set_xticks(range(n_classes), names, rotation=30, ha="right")
        ax.set_yticks(range(len(data)), list(data))
        for (i, j), v in np.ndenumerate(table):
            ax.text(j, i, "–" if np.isnan(v) else f"{v:.2f}", ha="center", va="center", fontsize=8, color="w")
        fig.colorbar(im, ax=ax, label="test AUROC (mean over cells)")
        ax.set_title(f"Per-class AUROC ({kind.kind}{', one vs rest' if kind.kind == 'multiclass' else ''})")
        return _save(fig, path)
    if kind.kind == "binary":
        fig, ax = plt.subplots(figsize=(4.8, 4.5))
        for setting, folds in data.items():
            _roc(ax, folds, setting)
        ax.plot([0, 1], [0, 1], color="grey", lw=0.8, ls="--")
        ax.set_xlabel("false positive rate")
        ax.set_ylabel("true positive rate")
        ax.set_title("ROC, out-of-fold (first repeat, folds pooled)", fontsize=10)
        ax.legend(fontsize=7)
        return _save(fig, path)
    fig, axes = _grid(len(data))
    for ax, (setting, folds) in zip(axes, data.items(), strict=False):
        if kind.kind == "regression":
            y = np.concatenate([f[0] for f in folds])
            pred = np.concatenate([f[1] for f in folds])
            ax.scatter(y, pred, s=5, alpha=0.5)
            lim = [min(y.min(), pred.min()), max(y.max(), pred.max())]
            ax.plot(lim, lim, color="grey", lw=0.8, ls="--")
            ax.set_xlabel("observed")
            ax.set_ylabel("predicted (out-of-fold)")
        else:  # survival: risk tertiles within each fold
            groups: dict[int, list[np.ndarray]] = {0: [], 1: [], 2: []}
            for y, risk in folds:
                edges = np.quantile(risk, [1 / 3, 2 / 3])
                tertile = np.searchsorted(edges, risk, side="right")
                for t in groups:
                    groups[t].append(y[tertile == t])
            for t, label in zip(groups, ("low risk", "middle", "high risk"), strict=True):
                rows = np.concatenate(groups[t])
                if len(rows):
                    ax.step(*_km(rows[:, 0], rows[:, 1]), where="post", label=label)
            ax.set_xlabel("time")
            ax.set_ylabel("event-free (Kaplan–Meier)")
            ax.legend(fontsize=7)
        ax.set_title(setting, fontsize=9)
        ax.grid(alpha=0.3)
    fig.suptitle("Predicted vs observed" if kind.kind == "regression" else "Kaplan–Meier by risk tertile",
                 fontsize=10)
    return _save(fig, path)


def _one_vs_rest(kind: KindScoring, y: np.ndarray, k: int) -> np.ndarray:
    """0/1 labels of class ``k``: ``y == k`` (multiclass) or column ``k`` (multilabel)."""
    return (y == k).astype(np.float64) if kind.kind == "multiclass" else y[:, k]
