"""Every label kind of the data dictionary runs through the benchmark runner and report, with the kind's metrics
and paired tests, and an external-validation table (tiny session store, 1 epoch)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nextgen_ml.benchmark.config import load_config
from nextgen_ml.benchmark.kinds import SCORING
from nextgen_ml.benchmark.report import write_report
from nextgen_ml.benchmark.runner import collect_results, run_benchmark

#: a label of each kind in the synthetic cohort's dictionary
LABELS = {"binary": "mace", "multiclass": "diagnosis", "multilabel": "findings", "regression": "lvef",
          "survival": "time_to_mace"}


@pytest.fixture(scope="module")
def external_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A second small cohort (another seed, one site) standing in for a held-out hospital."""
    from nextgen_ml.data.cohort import CohortConfig, write_cohort

    out = tmp_path_factory.mktemp("external_store")
    write_cohort(out, n=40, sites=1, seed=7, config=CohortConfig(ecg_fs_hz=100.0, image_size=32), progress=False)
    return out


def _config(tiny_store: Path, external: Path, out_dir: Path, target: str) -> list[str]:
    return [
        f"out_dir={out_dir}", f"data.data_dir={tiny_store}", "data.cohort=null", f"data.target={target}",
        f"external={external}", "train.max_epochs=1", "train.threads=1", "cv.k=2", "cv.seeds=[0]",
        "report.baseline=late_gt", "report.n_boot=50", "robustness.missing_rates=[0.5]",
        "robustness.site_missing={site_a: 0.0, site_b: 0.5, site_c: 0.9}", "model.embed_dim=8",
        "model.encoders={genomics: genomics_prs_linear, tabular: {name: tabular_mlp, hidden: [16]}}",
        "settings=[{name: late_gt, fusion: late, modalities: [genomics, tabular]},"
        " {name: tabular_only, fusion: concat, modalities: [tabular]}]",
    ]


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_every_kind_runs_through_runner_and_report(kind: str, tiny_store: Path, external_store: Path,
                                                   tmp_path: Path) -> None:
    cfg = load_config(None, _config(tiny_store, external_store, tmp_path / "run", LABELS[kind]))
    summary = run_benchmark(cfg, progress=False)
    assert summary.trained == 4
    results = collect_results(cfg)
    scoring = SCORING[kind]
    cell = next(r for r in results if r["setting"]["name"] == "late_gt")
    assert cell.get("kind", "binary") == kind
    full = np.asarray(cell["logits"]["full"])
    assert full.shape[0] == len(cell["y"]) and full.ndim == (2 if scoring.vector else 1)
    assert ("shapley" in cell) == (not scoring.vector)  # scalar scores are attributed; K logits are not
    if kind == "regression":  # predictions in the label's unit (%), not standardised
        assert 20 < float(np.mean(full)) < 90

    report = write_report(cfg)
    metrics = pd.read_csv(report.tables["metrics"])
    assert set(metrics["metric"]) == set(scoring.metrics)
    comparisons = pd.read_csv(report.tables["comparisons"])
    assert set(comparisons["metric"]) == set(scoring.metrics)
    methods = {m: scoring.test_method(m) for m in scoring.metrics}
    assert dict(zip(comparisons["metric"], comparisons["method"], strict=True)) == methods
    assert ((comparisons["p"] > 0) & (comparisons["p"] <= comparisons["p_holm"]) & (comparisons["p_holm"] <= 1)).all()
    assert (comparisons["low"] <= comparisons["high"]).all()

    external = pd.read_csv(report.tables["external"])
    assert set(external["setting"]) == {"late_gt", "tabular_only"}
    assert set(external["metric"]) == set(scoring.metrics)
    assert (external["n_rows"] == 40).all() and (external["n_cells"] == 2).all()
    assert external["mean"].notna().all() and external["ensemble"].notna().all()
    text = report.markdown.read_text()
    assert f"({kind})" in text and "## External validation" in text
    assert report.figures["ranking"].stat().st_size > 1000
    assert report.figures[kind].stat().st_size > 1000  # ROC / per-class AUROC / scatter / Kaplan-Meier
    assert "missing" in report.figures  # degradation curves of the kind's main metric


def test_binary_cells_keep_their_layout_and_keys(tiny_store: Path, external_store: Path, tmp_path: Path) -> None:
    """A binary cell file has no ``kind`` key and its key ignores ``external`` when none is set (old caches
    stay valid); an external store gives new keys."""
    args = _config(tiny_store, external_store, tmp_path / "run", "mace")
    plain = load_config(None, [a for a in args if not a.startswith("external=")])
    with_ext = load_config(None, args)
    spec = plain.cell_spec(plain.settings[0], 0, 0)
    assert "external" not in spec
    assert with_ext.cell_spec(with_ext.settings[0], 0, 0)["external"] == str(external_store)


def _as_kind(cell: dict, kind: str) -> dict:
    """A fabricated binary cell (``test_report_settings_mix.fake_cell``) turned into one of another kind."""
    rng = np.random.default_rng(cell["seed"] * 100 + cell["fold"])
    y = np.asarray(cell["y"])
    n = len(y)
    if kind == "regression":
        target = 50 + 10 * y + rng.normal(0, 5, n)
        scores = {c: (target + rng.normal(0, 5, n)).tolist() for c in cell["logits"]}
        labels = target.tolist()
    elif kind == "survival":
        time = rng.exponential(1 / (1 + y))
        labels = np.stack([time, (rng.random(n) < 0.7).astype(float)], axis=1).tolist()
        scores = {c: (y + rng.normal(0, 1, n)).tolist() for c in cell["logits"]}
    else:  # multiclass (3 classes) or multilabel (3 labels)
        classes = (np.arange(n) % 3)
        onehot = np.eye(3)[classes]
        labels = classes.tolist() if kind == "multiclass" else onehot.tolist()
        scores = {c: (onehot + rng.normal(0, 1, (n, 3))).tolist() for c in cell["logits"]}
        cell = {**cell, "classes": ["a", "b", "c"]}
        cell.pop("shapley", None)
        cell.pop("loo", None)
    return {**cell, "kind": kind, "y": labels, "logits": scores}


@pytest.mark.parametrize("kind", ["multiclass", "multilabel", "regression", "survival"])
@pytest.mark.parametrize("names", [["tabular_only"], ["tabular_only", "genomics_only"], ["late_gt", "tabular_only"]])
def test_report_works_for_any_mix_of_settings_and_any_kind(kind: str, names: list[str], tmp_path: Path) -> None:
    from tests.benchmark.test_report_settings_mix import config, results_for

    cfg = config(tmp_path, names)
    report = write_report(cfg, results=[_as_kind(c, kind) for c in results_for(names)])
    summary = pd.read_csv(report.tables["summary"])
    assert set(summary["setting"]) == set(names) and set(summary["metric"]) == set(SCORING[kind].metrics)
    assert report.figures[kind].stat().st_size > 1000
    assert ("missing" in report.figures) == ("late_gt" in names)
    assert f"({kind})" in report.markdown.read_text()
