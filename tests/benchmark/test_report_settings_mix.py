"""The report works for any mix of settings, on fabricated cell results shaped like ``run_cell``'s output."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from nextgen_ml.benchmark import analysis
from nextgen_ml.benchmark.config import load_config
from nextgen_ml.benchmark.report import write_report
from nextgen_ml.benchmark.robustness import subset_name
from nextgen_ml.benchmark.tables import metrics_table

N_TEST, SITES = 40, ("site_a", "site_b")
SETTINGS = {
    "tabular_only": ("concat", ["tabular"]),
    "genomics_only": ("concat", ["genomics"]),
    "late_gt": ("late", ["genomics", "tabular"]),
}


def fake_cell(
    name: str, seed: int, fold: int, subsets: bool = True, rates: tuple[float, ...] = (0.5,), site_missing: bool = True
) -> dict[str, Any]:
    """One cell result with the keys and condition names ``run_cell`` writes (conditions as in robustness.py)."""
    fusion, modalities = SETTINGS[name]
    rng = np.random.default_rng(1000 * seed + 10 * fold + len(name))
    y = (np.arange(N_TEST) % 2).astype(float)
    present = {m: (rng.random(N_TEST) < 0.8).tolist() for m in modalities}
    conditions = ["full"]
    if len(modalities) > 1:
        if subsets:
            conditions += [
                subset_name(s) for k in range(1, len(modalities)) for s in itertools.combinations(modalities, k)
            ]
        conditions += [f"missing:{r:g}" for r in rates] + (["site_missing"] if site_missing else [])
    logits = {c: (y + rng.normal(0, 1.0, N_TEST)).tolist() for c in conditions}
    out = {
        "key": f"{name}-{seed}-{fold}",
        "seed": seed,
        "fold": fold,
        "n_train": 100,
        "fit_seconds": 1.0,
        "eval_seconds": 0.1,
        "index": list(range(fold * N_TEST, (fold + 1) * N_TEST)),
        "site": [SITES[i % 2] for i in range(N_TEST)],
        "y": y.tolist(),
        "present": present,
        "logits": logits,
        "setting": {"name": name, "fusion": fusion, "modalities": modalities, "modality_dropout": 0.0},
    }
    if len(modalities) > 1:
        out["shapley"] = {m: rng.normal(size=N_TEST).tolist() for m in modalities}
        out["loo"] = {m: rng.normal(size=N_TEST).tolist() for m in modalities}
    return out


def config(
    tmp_path: Path, names: list[str], subsets: bool = True, rates: tuple[float, ...] = (0.5,), site_missing: bool = True
) -> Any:
    settings = (
        "["
        + ", ".join(
            f"{{name: {n}, fusion: {SETTINGS[n][0]}, modalities: [{', '.join(SETTINGS[n][1])}]}}" for n in names
        )
        + "]"
    )
    path = tmp_path / "bench.yaml"
    path.write_text(f"out_dir: {tmp_path / 'run'}\nsettings: {settings}\n")
    robustness = f"{{subsets: {str(subsets).lower()}, missing_rates: [{', '.join(map(str, rates))}], " + (
        "site_missing: {site_a: 0.0, site_b: 0.5}}" if site_missing else "site_missing: {}}"
    )
    cfg = load_config(
        path,
        [
            f"report.baseline={names[0]}",
            "report.n_boot=50",
            f"robustness={robustness}",
            "model.encoders={genomics: genomics_prs_linear, tabular: tabular_mlp}",
        ],
    )
    (Path(cfg.out_dir)).mkdir(parents=True, exist_ok=True)
    return cfg


def results_for(names: list[str], **kwargs: Any) -> list[dict[str, Any]]:
    return [fake_cell(n, seed, fold, **kwargs) for n in names for seed in (0, 1) for fold in (0, 1)]


def test_subset_curve_of_single_modality_settings_is_empty_not_an_error() -> None:
    metrics = metrics_table(results_for(["tabular_only", "genomics_only"]))
    curve = analysis.subset_curve(metrics)
    assert curve.empty and list(curve.columns) == ["setting", "kept", "mean", "std", "count"]
    assert analysis.missing_rate_curve(metrics, n_boot=20).empty
    assert analysis.drop_one_table(metrics).empty
    assert analysis.site_missing_table(metrics).empty


def test_subset_curve_counts_kept_modalities() -> None:
    metrics = metrics_table(results_for(["late_gt", "tabular_only"]))
    curve = analysis.subset_curve(metrics).set_index(["setting", "kept"])
    assert set(curve.index) == {("late_gt", 1), ("late_gt", 2)}  # single-modality settings are left out
    assert curve.loc[("late_gt", 2), "count"] == 4  # full condition: 2 seeds x 2 folds
    assert curve.loc[("late_gt", 1), "count"] == 8  # two one-modality subsets per cell
    full = metrics[
        (metrics["setting"] == "late_gt")
        & (metrics["condition"] == "full")
        & (metrics["site"] == "all")
        & (metrics["metric"] == "auroc")
    ]
    assert curve.loc[("late_gt", 2), "mean"] == pytest.approx(full["value"].mean())


@pytest.mark.parametrize(
    ("names", "robustness"),
    [
        (["tabular_only"], {}),
        (["tabular_only", "genomics_only"], {}),
        (["late_gt", "tabular_only"], {}),
        (["tabular_only", "late_gt"], {"subsets": False}),
        (["late_gt", "genomics_only"], {"subsets": False, "rates": (), "site_missing": False}),
    ],
)
def test_report_works_for_any_mix_of_settings(tmp_path: Path, names: list[str], robustness: dict) -> None:
    cfg = config(tmp_path, names, **robustness)
    report = write_report(cfg, results=results_for(names, **robustness))
    text = report.markdown.read_text()
    assert "## Test metrics" in text and all(n in text for n in names)
    summary = pd.read_csv(report.tables["summary"])
    assert set(summary["setting"]) == set(names)
    assert report.figures["ranking"].stat().st_size > 1000
    multimodal = any(len(SETTINGS[n][1]) > 1 for n in names)
    degraded = robustness.get("rates", (0.5,)) != () or robustness.get("subsets", True)
    assert ("missing" in report.figures) == (multimodal and degraded)
    assert ("drop_one" in report.figures) == (multimodal and robustness.get("subsets", True))
