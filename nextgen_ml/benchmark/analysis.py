"""Benchmark statistics over the tidy tables: per-setting means with bootstrap CIs, paired tests against a
baseline (DeLong for binary AUROC, paired bootstrap otherwise) with Holm correction, robustness and attribution
summaries. Metrics and tests follow the label kind of the cell results (:mod:`nextgen_ml.benchmark.kinds`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from nextgen_ml.benchmark.kinds import result_kind
from nextgen_ml.benchmark.stats import bootstrap_ci, delong_paired, holm, paired_bootstrap
from nextgen_ml.benchmark.tables import COVERED, paired_units


def summarise(metrics: pd.DataFrame, condition: str = "full", n_boot: int = 1000, alpha: float = 0.05,
              by: Sequence[str] = ("setting",), site: str = "all") -> pd.DataFrame:
    """Mean and percentile-bootstrap CI over cells (folds × repeats) per group and metric.

    Args:
        site: row group of the metrics table: ``all``, a site name or ``covered`` (rows where the setting's
            modalities are present).

    Returns:
        Columns ``*by, metric, mean, low, high, n_cells, n_rows`` (``n_rows``: mean test rows per cell).
    """
    sub = metrics[(metrics["condition"] == condition) & (metrics["site"] == site)]
    rows = []
    for keys, group in sub.groupby([*by, "metric"], sort=False):
        est, low, high = bootstrap_ci(group["value"].to_numpy(), n_boot=n_boot, alpha=alpha)
        rows.append({**dict(zip([*by, "metric"], keys, strict=True)), "mean": est, "low": low, "high": high,
                     "n_cells": int(group["value"].notna().sum()), "n_rows": float(group["n"].mean())})
    return pd.DataFrame(rows)


def compare_to_baseline(results: Sequence[dict[str, Any]], baseline: str, settings: Sequence[str],
                        n_boot: int = 1000, alpha: float = 0.05, condition: str = "full") -> pd.DataFrame:
    """Paired comparison ``setting − baseline`` of every metric on the same folds, Holm-adjusted per metric.

    Returns:
        Columns ``setting, baseline, rows, metric, method, diff, low, high, p, p_holm, significant, n_folds``.
    """
    pairs = [(setting, baseline, None) for setting in settings if setting != baseline]
    return compare_pairs(results, pairs, n_boot=n_boot, alpha=alpha, condition=condition)


def modality_gain_pairs(settings: Mapping[str, Sequence[str]], pairs: Sequence[Sequence[str]]
                        ) -> list[tuple[str, str, str | None]]:
    """Expand ``(setting, reference)`` pairs into comparisons on every test row and, for each modality the
    setting adds to its reference, on the rows where that modality is present.

    Args:
        settings: setting name → its modalities.
        pairs: ``(setting, reference)`` names; the setting's modalities must include the reference's.
    """
    out: list[tuple[str, str, str | None]] = []
    for setting, reference in pairs:
        unknown = sorted({setting, reference} - set(settings))
        if unknown:
            raise ValueError(f"report.gains: unknown settings {unknown}; settings: {sorted(settings)}")
        added = sorted(set(settings[setting]) - set(settings[reference]))
        if not added or not set(settings[reference]) <= set(settings[setting]):
            raise ValueError(f"report.gains: {setting!r} must add modalities to {reference!r}, "
                             f"got {list(settings[setting])} vs {list(settings[reference])}")
        out += [(setting, reference, None)] + [(setting, reference, m) for m in added]
    return out


def compare_pairs(results: Sequence[dict[str, Any]], pairs: Sequence[tuple[str, str, str | None]],
                  n_boot: int = 1000, alpha: float = 0.05, condition: str = "full") -> pd.DataFrame:
    """Paired comparisons ``setting − reference`` on the same folds, Holm-adjusted per metric.

    Args:
        pairs: ``(setting, reference, where_present)``; ``where_present`` restricts the test rows to those where
            that modality is present (None: every row).

    Returns:
        Columns ``setting, baseline, rows, metric, method, diff, low, high, p, p_holm, significant, n_folds``
        (``rows``: ``all`` or ``<modality> present``).
    """
    kind = result_kind(results)
    strata = "y" if kind.kind == "binary" else kind.strata  # binary: stratified on the class, as always
    rows = []
    for setting, reference, where in pairs:
        units = paired_units(results, setting, reference, condition, where_present=where)
        if not units:
            continue
        for name, metric in kind.metrics.items():
            test = (delong_paired(units, alpha) if kind.test_method(name) == "delong"
                    else paired_bootstrap(units, metric.fn, n_boot=n_boot, alpha=alpha, strata=strata))
            rows.append({"setting": setting, "baseline": reference, "rows": "all" if where is None
                         else f"{where} present", "metric": name, "method": test.method, "diff": test.estimate,
                         "low": test.low, "high": test.high, "p": test.p_value, "n_folds": len(units)})
    table = pd.DataFrame(rows)
    if table.empty:
        return table
    table["p_holm"] = np.nan
    for _, idx in table.groupby("metric").groups.items():
        table.loc[idx, "p_holm"] = holm(table.loc[idx, "p"].to_numpy())
    table["significant"] = table["p_holm"] < alpha
    return table


def missing_rate_curve(metrics: pd.DataFrame, metric: str = "auroc", n_boot: int = 1000) -> pd.DataFrame:
    """Metric vs random test-time missing rate (0 = full) per multimodal setting, with bootstrap CIs."""
    sub = metrics[(metrics["metric"] == metric) & (metrics["site"] == "all") & (metrics["n_modalities"] > 1)]
    sub = sub[(sub["condition"] == "full") | sub["condition"].str.startswith("missing:")]
    sub = sub.assign(rate=sub["condition"].map(lambda c: 0.0 if c == "full" else float(c.split(":")[1])))
    rows = []
    for (setting, rate), group in sub.groupby(["setting", "rate"]):
        est, low, high = bootstrap_ci(group["value"].to_numpy(), n_boot=n_boot)
        rows.append({"setting": setting, "rate": rate, "mean": est, "low": low, "high": high})
    return pd.DataFrame(rows)


def subset_curve(metrics: pd.DataFrame, metric: str = "auroc") -> pd.DataFrame:
    """Metric vs number of modalities kept at test time (mean over every subset of that size and every cell)."""
    sub = metrics[(metrics["metric"] == metric) & (metrics["site"] == "all") & (metrics["n_modalities"] > 1)]
    sub = sub[(sub["condition"] == "full") | sub["condition"].str.startswith("subset:")]
    # "subset:a+b" keeps 2 modalities; vectorised so an empty frame (single-modality settings only) stays a
    # Series (a row-wise apply on an empty frame returns a DataFrame, which pandas refuses as one column)
    n_kept = sub["condition"].str.count(r"\+") + 1
    kept = n_kept.where(sub["condition"] != "full", sub["n_modalities"]).astype(int)
    sub = sub.assign(kept=kept)
    return sub.groupby(["setting", "kept"])["value"].agg(["mean", "std", "count"]).reset_index()


def drop_one_table(metrics: pd.DataFrame, metric: str = "auroc") -> pd.DataFrame:
    """Change in the metric when one modality is removed at test time (rows settings, columns modalities)."""
    sub = metrics[(metrics["metric"] == metric) & (metrics["site"] == "all") & (metrics["n_modalities"] > 1)]
    full = sub[sub["condition"] == "full"].set_index(["setting", "seed", "fold"])["value"]
    rows = []
    for _, r in sub[sub["condition"].str.startswith("subset:")].iterrows():
        kept = r["condition"].split(":")[1].split("+")
        all_m = r["modalities"].split("+")
        if len(kept) != len(all_m) - 1:
            continue
        dropped = next(m for m in all_m if m not in kept)
        rows.append({"setting": r["setting"], "dropped": dropped,
                     "delta": r["value"] - full[(r["setting"], r["seed"], r["fold"])]})
    if not rows:
        return pd.DataFrame()
    return pd.DataFrame(rows).pivot_table(index="setting", columns="dropped", values="delta", aggfunc="mean")


def site_missing_table(metrics: pd.DataFrame, metric: str = "auroc") -> pd.DataFrame:
    """Per-site metric with all modalities vs under the per-site missingness scenario."""
    sub = metrics[(metrics["metric"] == metric) & metrics["condition"].isin(["full", "site_missing"])
                  & (metrics["n_modalities"] > 1) & (metrics["site"] != COVERED)]
    return sub.pivot_table(index=["setting", "site"], columns="condition", values="value", aggfunc="mean")


def attribution_summary(attributions: pd.DataFrame) -> pd.DataFrame:
    """Cohort-level attribution: mean |value| and mean value per setting, method and modality (present rows)."""
    sub = attributions[attributions["present"]]
    return (sub.assign(abs_value=sub["value"].abs())
            .groupby(["setting", "method", "modality"])
            .agg(mean_abs=("abs_value", "mean"), mean=("value", "mean"), n=("value", "size"))
            .reset_index())
