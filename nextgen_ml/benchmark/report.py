"""``write_report``: tidy tables (CSV + Parquet), statistics, figures and a Markdown report of a benchmark run."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from nextgen_ml.benchmark import analysis, plots
from nextgen_ml.benchmark.baselines import baseline_pairs
from nextgen_ml.benchmark.config import BenchmarkConfig
from nextgen_ml.benchmark.external import external_table
from nextgen_ml.benchmark.kind_plots import kind_figure
from nextgen_ml.benchmark.kinds import KindScoring, result_kind, scoring_for
from nextgen_ml.benchmark.runner import collect_results
from nextgen_ml.benchmark.tables import COVERED, attribution_table, metrics_table

#: how the paired tests of each label kind work (report text)
TEST_NOTES: dict[str, str] = {
    "binary": "AUROC: fast DeLong per fold, folds combined within a repeat, repeats averaged with the mean variance "
              "(conservative). Other metrics: class-stratified paired bootstrap (comonotone across repeats). "
              "Brier: lower is better, so a negative difference favours the setting.",
    "multiclass": "Macro one-vs-rest AUROC and accuracy: class-stratified paired bootstrap of the test rows of every "
                  "fold (comonotone across repeats).",
    "multilabel": "Macro AUROC and macro AUPRC over the labels: paired bootstrap of the test rows of every fold "
                  "(whole rows; comonotone across repeats).",
    "regression": "MAE, RMSE (lower is better: a negative difference favours the setting) and R²: paired "
                  "bootstrap of the test rows of every fold (comonotone across repeats).",
    "survival": "Harrell's C-index: event-stratified paired bootstrap of the test rows of every fold (comonotone "
                "across repeats).",
}
#: what the attribution section attributes, per label kind
ATTRIBUTED: dict[str, str] = {"binary": "first logit", "regression": "prediction in the label's unit",
                              "survival": "risk score", "multiclass": "not computed for K logits",
                              "multilabel": "not computed for K logits"}


def _external_md(external: pd.DataFrame, kind: KindScoring) -> pd.DataFrame:
    """The external table as ``mean [low, high]`` per metric, plus the fold-averaged ensemble's value."""
    wide = _ci_table(external, kind)
    ensemble = external.pivot(index="setting", columns="metric", values="ensemble")
    ensemble.columns = [f"{c} (ensemble)" for c in ensemble.columns]
    return wide.merge(ensemble.round(3).reset_index(), on="setting")


@dataclass
class Report:
    """Paths of what :func:`write_report` wrote."""

    markdown: Path
    tables: dict[str, Path] = field(default_factory=dict)
    figures: dict[str, Path] = field(default_factory=dict)


def _md_table(df: pd.DataFrame, floatfmt: str = ".3f") -> str:
    if df.empty:
        return "_(no data)_"
    cols = list(df.columns)
    lines = ["| " + " | ".join(map(str, cols)) + " |", "|" + "---|" * len(cols)]
    for _, row in df.iterrows():
        cells = [format(v, floatfmt) if isinstance(v, float | np.floating) else str(v) for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _ci_table(summary: pd.DataFrame, kind: KindScoring | None = None) -> pd.DataFrame:
    """Settings × metrics as ``mean [low, high]``, best first by the kind's main metric."""
    if summary.empty:
        return summary
    kind = kind or scoring_for("binary")
    text = summary.assign(value=summary.apply(lambda r: f"{r['mean']:.3f} [{r['low']:.3f}, {r['high']:.3f}]", axis=1))
    wide = text.pivot(index="setting", columns="metric", values="value")
    main = kind.main if kind.main in set(summary["metric"]) else summary["metric"].iloc[0]
    best_first = not (main in kind.metrics and not kind.metrics[main].higher_is_better)
    order = summary[summary["metric"] == main].sort_values("mean", ascending=not best_first)["setting"]
    wide = wide.loc[[s for s in order if s in wide.index]]
    n = summary.groupby("setting")["n_cells"].max()
    return wide.assign(cells=n.loc[wide.index].astype(int)).reset_index()


def _comparison_md(comparisons: pd.DataFrame) -> pd.DataFrame:
    if comparisons.empty:
        return comparisons
    out = comparisons.copy()
    out["diff [95% CI]"] = out.apply(lambda r: f"{r['diff']:+.3f} [{r['low']:+.3f}, {r['high']:+.3f}]", axis=1)
    out["p"] = out["p"].map(lambda p: f"{p:.2g}")
    out["p_holm"] = out["p_holm"].map(lambda p: f"{p:.2g}")
    return out[["setting", "baseline", "rows", "metric", "method", "diff [95% CI]", "p", "p_holm", "significant",
                "n_folds"]]


def write_report(cfg: BenchmarkConfig, figures_dir: str | Path | None = None,
                 results: Sequence[dict[str, Any]] | None = None) -> Report:
    """Analyse the finished cells of ``cfg`` and write ``report.md``, tables and figures under ``cfg.out_dir``.

    Args:
        cfg: the benchmark config (its grid selects which cell results are read).
        figures_dir: also copy the figures there (e.g. ``docs/figures``).
        results: cell results (default: :func:`collect_results`).
    """
    out = Path(cfg.out_dir)
    results = list(collect_results(cfg) if results is None else results)
    if not results:
        raise FileNotFoundError(f"out_dir: no finished cells of this benchmark under {out}/cells")
    rep = cfg.report
    kind = result_kind(results)
    main = kind.main
    metrics = metrics_table(results)
    attributions = attribution_table(results)
    names = [s.name for s in cfg.settings if s.name in set(metrics["setting"])]
    if rep.baseline not in names:
        raise ValueError(f"report.baseline: {rep.baseline!r} has no results; settings with results: {names}")
    summary = analysis.summarise(metrics, n_boot=rep.n_boot, alpha=rep.alpha)
    covered = analysis.summarise(metrics, n_boot=rep.n_boot, alpha=rep.alpha, site=COVERED)
    comparisons = analysis.compare_to_baseline(results, rep.baseline, names, n_boot=rep.n_boot, alpha=rep.alpha)
    modalities_of = {s.name: s.modalities for s in cfg.settings}
    gains = analysis.compare_pairs(results, analysis.modality_gain_pairs(modalities_of, rep.gains),
                                   n_boot=rep.n_boot, alpha=rep.alpha) if rep.gains else pd.DataFrame()
    linear_pairs = baseline_pairs([s for s in cfg.settings if s.name in names])
    vs_linear = analysis.compare_pairs(results, linear_pairs, n_boot=rep.n_boot, alpha=rep.alpha
                                       ) if linear_pairs else pd.DataFrame()
    rate_curve = analysis.missing_rate_curve(metrics, metric=main, n_boot=rep.n_boot)
    subset_curve = analysis.subset_curve(metrics, metric=main)
    drop_one = analysis.drop_one_table(metrics, metric=main)
    site_table = analysis.site_missing_table(metrics, metric=main)
    external = external_table(results, names, n_boot=rep.n_boot, alpha=rep.alpha)
    attr_summary = analysis.attribution_summary(attributions) if not attributions.empty else pd.DataFrame()

    report = Report(markdown=out / "report.md")
    tables = {"metrics": metrics, "summary": summary, "summary_covered": covered, "comparisons": comparisons,
              "gains": gains, "vs_linear": vs_linear, "attributions": attributions, "attribution_summary": attr_summary,
              "missing_rate_curve": rate_curve, **({"external": external} if not external.empty else {})}
    for name, df in tables.items():
        report.tables[name] = out / f"{name}.csv"
        df.to_csv(report.tables[name], index=False)
    metrics.to_parquet(out / "metrics.parquet", index=False)
    if not attributions.empty:
        attributions.to_parquet(out / "attributions.parquet", index=False)

    fig_dir, prefix = out / "figures", rep.figures_prefix
    report.figures["ranking"] = plots.ranking_plot(summary, comparisons, main, rep.baseline,
                                                   fig_dir / f"{prefix}ranking.png",
                                                   higher_is_better=kind.metrics[main].higher_is_better)
    kind_fig = kind_figure(kind, results, names, fig_dir / f"{prefix}{kind.kind}.png",
                           class_names=results[0].get("classes", ()))
    if kind_fig is not None:
        report.figures[kind.kind] = kind_fig
    degraded = (not rate_curve.empty and bool((rate_curve["rate"] > 0).any())) or (
        not subset_curve.empty and subset_curve["kept"].nunique() > 1)
    if degraded:  # some test-time missingness condition beyond "full" (multimodal settings only)
        report.figures["missing"] = plots.degradation_plot(rate_curve, subset_curve, main,
                                                           fig_dir / f"{prefix}missing_modalities.png")
    if not drop_one.empty:
        report.figures["drop_one"] = plots.drop_one_heatmap(drop_one, main, fig_dir / f"{prefix}drop_one.png")
    if not attr_summary.empty:
        report.figures["attribution"] = plots.attribution_bars(attr_summary, fig_dir / f"{prefix}attribution.png")
        patient_setting = rep.baseline if rep.baseline in set(attributions["setting"]) else attributions["setting"][0]
        report.figures["patients"] = plots.patient_attribution_plot(
            attributions, patient_setting, fig_dir / f"{prefix}attribution_patients.png")
    if figures_dir is not None:
        Path(figures_dir).mkdir(parents=True, exist_ok=True)
        for path in report.figures.values():
            shutil.copy2(path, Path(figures_dir) / path.name)

    fit_s = [r["fit_seconds"] for r in results]
    n_folds = metrics.groupby("setting")[["seed", "fold"]].apply(lambda g: len(g.drop_duplicates())).max()
    lines = [
        "# Fusion benchmark report", "",
        f"{len(results)} cells: {len(names)} settings, repeats {sorted({r['seed'] for r in results})}, "
        f"{cfg.cv.kind} CV ({n_folds} fold fits per setting); target `{cfg.data.target}` ({kind.kind}); "
        f"{cfg.train.max_epochs} epochs per fit; median fit {np.median(fit_s):.1f} s.", "",
        "## Test metrics (mean over folds × repeats, 95% percentile-bootstrap CI over cells)", "",
        _md_table(_ci_table(summary, kind)), "",
        f"## Paired comparisons against `{rep.baseline}` (same folds; Holm-adjusted per metric)", "",
        TEST_NOTES[kind.kind], "",
        _md_table(_comparison_md(comparisons)), "",
        f"## Test rows where the setting's modalities are present ({main})", "",
        "Rows without any of a setting's modalities get the model's constant missing-input prediction; this table "
        "scores only the rows where at least one is present (`n_rows`: mean test rows per fold).", "",
        _md_table(_ci_table(covered[covered["metric"] == main], kind).merge(
            covered[covered["metric"] == main][["setting", "n_rows"]].round(1).astype({"n_rows": str}),
            on="setting") if not covered.empty else covered), "",
        *(["## Single modality vs linear baseline (paired, same folds; Holm-adjusted per metric)", "",
           "Each single-modality setting against a linear model on simple features of the same inputs "
           "(`linear_<modality>`, docs/benchmark.md); a positive difference favours the "
           "neural setting (lower-is-better metrics: a negative one).", "",
           _md_table(_comparison_md(vs_linear[vs_linear["metric"] == main])), ""]
          if not vs_linear.empty else []),
        *([f"## Modality gains (paired, same folds; Holm-adjusted per metric over {len(rep.gains)} pairs × row "
           "groups)", "", _md_table(_comparison_md(gains[gains["metric"] == main])), ""]
          if not gains.empty else []),
        *([f"## External validation (`{cfg.external}`)", "",
           "Every fold model scored on every record of the external store (mean over fold models × repeats, "
           "95% percentile-bootstrap CI over them; they share the external patients, so read the CI as "
           "the spread between fold models).", "", _md_table(_external_md(external, kind)), ""]
          if not external.empty else []),
        f"## Missing modalities at test time ({main})", "",
        f"Mean Δ {main} when one modality is removed at test time:", "",
        _md_table(drop_one.reset_index() if not drop_one.empty else drop_one), "",
        f"{main} vs random missing rate (each present modality hidden with that probability, one always kept):", "",
        _md_table(rate_curve.pivot(index="setting", columns="rate", values="mean").reset_index()
                  if not rate_curve.empty else rate_curve), "",
        f"Per-site scenario (rates {cfg.robustness.site_missing}):", "",
        _md_table(site_table.reset_index() if not site_table.empty else site_table), "",
        f"## Modality attribution ({ATTRIBUTED[kind.kind]}; mean |value| over present modalities of test "
        "patients)", "",
        _md_table(attr_summary.pivot_table(index=["setting", "method"], columns="modality", values="mean_abs")
                  .reset_index() if not attr_summary.empty else attr_summary), "",
        "## Figures", "",
    ]
    lines += [f"![{name}](figures/{path.name})" for name, path in report.figures.items()]
    report.markdown.write_text("\n".join(lines) + "\n")
    return report
