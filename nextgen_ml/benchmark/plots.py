"""Benchmark figures: ranking with CIs, missing-modality degradation curves, modality attributions."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return path


def ranking_plot(summary: pd.DataFrame, comparisons: pd.DataFrame, metric: str, baseline: str, path: Path,
                 higher_is_better: bool = True) -> Path:
    """Settings ranked by mean ``metric`` (best at the top) with 95% bootstrap CIs; * = Holm-significant vs the
    baseline."""
    sub = summary[summary["metric"] == metric].sort_values("mean", ascending=higher_is_better)
    sig = set()
    if not comparisons.empty:
        sig = set(comparisons[(comparisons["metric"] == metric) & comparisons["significant"]]["setting"])
    fig, ax = plt.subplots(figsize=(6.5, 0.45 * len(sub) + 1.2))
    y = np.arange(len(sub))
    colors = ["tab:red" if s == baseline else "tab:blue" for s in sub["setting"]]
    ax.errorbar(sub["mean"], y, xerr=[sub["mean"] - sub["low"], sub["high"] - sub["mean"]], fmt="none",
                ecolor="grey", capsize=3)
    ax.scatter(sub["mean"], y, c=colors, zorder=3)
    ax.set_yticks(y, [f"{s}{' *' if s in sig else ''}" for s in sub["setting"]])
    ax.set_xlabel(f"test {metric} (mean over folds x repeats, 95% bootstrap CI; "
                  f"{'higher' if higher_is_better else 'lower'} is better)")
    ax.set_title(f"Ranking by {metric}\nred = baseline {baseline}; * = Holm-adjusted p < 0.05 vs baseline", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    return _save(fig, path)


def degradation_plot(rate_curve: pd.DataFrame, subset_curve: pd.DataFrame, metric: str, path: Path) -> Path:
    """Left: metric vs random missing rate (CI bands); right: metric vs number of modalities kept."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4))
    for setting, g in rate_curve.groupby("setting"):
        g = g.sort_values("rate")
        ax1.plot(g["rate"], g["mean"], marker="o", label=setting)
        ax1.fill_between(g["rate"], g["low"], g["high"], alpha=0.15)
    ax1.set_xlabel("test-time missing rate per modality (at least one kept)")
    ax1.set_ylabel(f"test {metric}")
    ax1.set_title("Random missing modalities")
    ax1.grid(alpha=0.3)
    ax1.legend(fontsize=8)
    for setting, g in subset_curve.groupby("setting"):
        g = g.sort_values("kept")
        ax2.plot(g["kept"], g["mean"], marker="o", label=setting)
    ax2.set_xlabel("modalities kept at test time (mean over all subsets of that size)")
    ax2.set_ylabel(f"test {metric}")
    ax2.set_title("Modality subsets")
    ax2.grid(alpha=0.3)
    return _save(fig, path)


def drop_one_heatmap(table: pd.DataFrame, metric: str, path: Path) -> Path:
    """Heatmap of the metric change when each modality is removed at test time."""
    fig, ax = plt.subplots(figsize=(1.0 * table.shape[1] + 3.0, 0.5 * table.shape[0] + 2.0))
    lim = float(np.nanmax(np.abs(table.to_numpy()))) or 1.0
    im = ax.imshow(table.to_numpy(), cmap="RdBu", vmin=-lim, vmax=lim)
    ax.set_xticks(range(table.shape[1]), [f"−{c}" for c in table.columns], rotation=30, ha="right")
    ax.set_yticks(range(table.shape[0]), table.index)
    for (i, j), v in np.ndenumerate(table.to_numpy()):  # NaN: the setting does not use that modality
        ax.text(j, i, "–" if np.isnan(v) else f"{v:+.3f}", ha="center", va="center", fontsize=8)
    fig.colorbar(im, ax=ax, label=f"Δ test {metric}")
    ax.set_title(f"Removing one modality at test time (Δ {metric})")
    return _save(fig, path)


def attribution_bars(summary: pd.DataFrame, path: Path) -> Path:
    """Cohort-level mean |Shapley| per modality and setting, with the mean |leave-one-out| as markers."""
    shap = summary[summary["method"] == "shapley"].pivot(index="setting", columns="modality", values="mean_abs")
    loo = summary[summary["method"] == "loo"].pivot(index="setting", columns="modality", values="mean_abs")
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / max(1, shap.shape[1])
    x = np.arange(shap.shape[0])
    for j, modality in enumerate(shap.columns):
        ax.bar(x + j * width, shap[modality], width, label=modality)
        ax.scatter(x + j * width, loo.loc[shap.index, modality], color="black", marker="_", s=80, zorder=3)
    ax.set_xticks(x + 0.4 - width / 2, shap.index, rotation=20, ha="right")
    ax.set_ylabel("mean |attribution| (logit)")
    ax.set_title("Modality attribution per fusion: bars = Shapley, dashes = leave-one-out")
    ax.legend(fontsize=8, ncol=5)
    ax.grid(axis="y", alpha=0.3)
    return _save(fig, path)


def patient_attribution_plot(attributions: pd.DataFrame, setting: str, path: Path, n_patients: int = 30) -> Path:
    """Per-patient Shapley values of one setting: distribution per modality and a heatmap of some patients."""
    sub = attributions[(attributions["setting"] == setting) & (attributions["method"] == "shapley")]
    sub = sub[sub["seed"] == sub["seed"].min()]
    wide = sub.pivot_table(index="index", columns="modality", values="value")
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, 1.4]})
    rng = np.random.default_rng(0)
    for j, modality in enumerate(wide.columns):
        v = wide[modality].dropna().to_numpy()
        ax1.scatter(v, j + rng.uniform(-0.25, 0.25, v.size), s=4, alpha=0.4)
    ax1.axvline(0, color="grey", lw=0.8)
    ax1.set_yticks(range(wide.shape[1]), wide.columns)
    ax1.set_xlabel("Shapley value (logit)")
    ax1.set_title(f"{setting}: per-patient Shapley values (out-of-fold, repeat 0)")
    picked = wide.sample(min(n_patients, len(wide)), random_state=0)
    lim = float(np.nanmax(np.abs(picked.to_numpy()))) or 1.0
    im = ax2.imshow(picked.to_numpy().T, cmap="RdBu_r", vmin=-lim, vmax=lim, aspect="auto")
    ax2.set_yticks(range(wide.shape[1]), wide.columns)
    ax2.set_xticks(range(len(picked)), picked.index, rotation=90, fontsize=6)
    ax2.set_xlabel("record index")
    ax2.set_title(f"{len(picked)} patients")
    fig.colorbar(im, ax=ax2, label="Shapley value")
    return _save(fig, path)
