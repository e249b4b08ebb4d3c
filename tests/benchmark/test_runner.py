"""A tiny benchmark on the session's tiny store: resumability, tidy tables, statistics, figures and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nextgen_ml.benchmark.config import load_config
from nextgen_ml.benchmark.folds import make_folds, store_meta
from nextgen_ml.benchmark.report import write_report
from nextgen_ml.benchmark.runner import collect_results, run_benchmark
from nextgen_ml.cli import main

SETTINGS = [
    {"name": "late_gt", "fusion": "late", "modalities": ["genomics", "tabular"]},
    {"name": "tabular_only", "fusion": "concat", "modalities": ["tabular"]},
]


def _raw(tiny_store: Path, out_dir: Path, settings: list[dict] = SETTINGS) -> dict:
    return {
        "out_dir": str(out_dir),
        "settings": settings,
        "data": {"data_dir": str(tiny_store), "cohort": None, "batch_size": 32},
        "model": {"encoders": {"genomics": "genomics_prs_linear", "tabular": {"name": "tabular_mlp", "hidden": [16]}},
                  "embed_dim": 8},
        "train": {"max_epochs": 1, "threads": 1},
        "cv": {"kind": "kfold", "k": 2, "seeds": [0]},
        "robustness": {"missing_rates": [0.5], "site_missing": {"site_a": 0.0, "site_b": 0.5, "site_c": 0.9}},
        "report": {"baseline": "late_gt", "n_boot": 100, "gains": [["late_gt", "tabular_only"]]},
    }


@pytest.fixture(scope="module")
def bench(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("bench")
    raw = _raw(tiny_store, out / "run")
    path = out / "bench.yaml"
    path.write_text(yaml.safe_dump(raw))
    first = run_benchmark(load_config(path), progress=False)
    assert (first.trained, first.skipped) == (4, 0)  # 2 settings x 2 folds x 1 repeat
    return path, raw


def test_second_run_trains_nothing_and_changed_settings_rerun(bench: tuple[Path, dict], tmp_path: Path) -> None:
    path, raw = bench
    cfg = load_config(path)
    cells = sorted((Path(cfg.out_dir) / "cells").glob("*.json"))
    stamps = [c.stat().st_mtime_ns for c in cells]
    again = run_benchmark(cfg, progress=False)
    assert (again.trained, again.skipped) == (0, 4)
    assert [c.stat().st_mtime_ns for c in cells] == stamps
    # a changed setting gets new keys: only its 2 cells are trained; the other setting's are reused
    changed = load_config(path, ["settings.1.modality_dropout=0.0", "train.lr=0.002"])
    assert changed.train.lr == 0.002
    settings = [dict(s) for s in raw["settings"]]
    settings[1] = {**settings[1], "modality_dropout": 0.0, "fusion": "gated"}
    raw2 = {**raw, "settings": settings}
    path2 = tmp_path / "bench2.yaml"
    path2.write_text(yaml.safe_dump(raw2))
    third = run_benchmark(load_config(path2), progress=False)
    assert (third.trained, third.skipped) == (2, 2)
    assert len(collect_results(load_config(path2))) == 4


def test_folds_are_patient_disjoint_and_cover_the_store(bench: tuple[Path, dict]) -> None:
    cfg = load_config(bench[0])
    meta = store_meta(cfg.data.data_dir)
    folds = make_folds(cfg, meta, seed=0)
    tests = np.concatenate([f["test"] for f in folds])
    assert sorted(tests.tolist()) == list(range(len(meta["patient_id"])))
    for f in folds:
        assert not set(meta["patient_id"][f["train"]]) & set(meta["patient_id"][f["test"]])
    site_cfg = load_config(bench[0], ["cv.kind=site"])
    site_folds = make_folds(site_cfg, meta, seed=0)
    assert [set(meta["site"][f["test"]]) for f in site_folds] == [{"site_a"}, {"site_b"}, {"site_c"}]


def test_cell_results_hold_conditions_and_attributions(bench: tuple[Path, dict]) -> None:
    results = collect_results(load_config(bench[0]))
    multi = next(r for r in results if r["setting"]["name"] == "late_gt")
    assert set(multi["logits"]) == {"full", "subset:genomics", "subset:tabular", "missing:0.5", "site_missing"}
    n = len(multi["y"])
    phi = np.asarray(multi["shapley"]["genomics"]) + np.asarray(multi["shapley"]["tabular"])
    assert phi.shape == (n,) and np.isfinite(phi).all()
    loo = np.asarray(multi["loo"]["tabular"])
    without_tabular = np.asarray(multi["logits"]["subset:genomics"])
    np.testing.assert_allclose(loo, np.asarray(multi["logits"]["full"]) - without_tabular, atol=1e-5)
    site_a = np.asarray(multi["site"]) == "site_a"  # rate 0 at site_a: its rows see every modality
    np.testing.assert_allclose(np.asarray(multi["logits"]["site_missing"])[site_a],
                               np.asarray(multi["logits"]["full"])[site_a])
    single = next(r for r in results if r["setting"]["name"] == "tabular_only")
    assert set(single["logits"]) == {"full"} and "shapley" not in single


def test_report_tables_stats_and_figures(bench: tuple[Path, dict], tmp_path: Path) -> None:
    cfg = load_config(bench[0])
    report = write_report(cfg, figures_dir=tmp_path / "figs")
    metrics = pd.read_parquet(Path(cfg.out_dir) / "metrics.parquet")
    assert {"setting", "seed", "fold", "condition", "site", "metric", "value"} <= set(metrics.columns)
    full = metrics[(metrics["condition"] == "full") & (metrics["site"] == "all")]
    assert len(full) == 4 * 4  # 4 cells x 4 metrics
    comparisons = pd.read_csv(report.tables["comparisons"])
    row = comparisons[(comparisons["setting"] == "tabular_only") & (comparisons["metric"] == "auroc")].iloc[0]
    assert row["method"] == "delong" and row["n_folds"] == 2 and 0 <= row["p"] <= row["p_holm"] <= 1
    assert set(comparisons["method"]) == {"delong", "paired_bootstrap"}
    summary = pd.read_csv(report.tables["summary"])
    auc = summary[(summary["setting"] == "late_gt") & (summary["metric"] == "auroc")].iloc[0]
    assert auc["low"] <= auc["mean"] <= auc["high"]
    expected = full[(full["setting"] == "late_gt") & (full["metric"] == "auroc")]["value"].mean()
    assert auc["mean"] == pytest.approx(expected)
    for name in ("ranking", "missing", "drop_one", "attribution", "patients"):
        assert report.figures[name].stat().st_size > 1000
        assert (tmp_path / "figs" / report.figures[name].name).exists()
    text = report.markdown.read_text()
    assert "DeLong" in text and "late_gt" in text and "benchmark_ranking.png" in text
    assert "Modality gains" in text


def test_report_scores_covered_rows_and_modality_gains(bench: tuple[Path, dict], tmp_path: Path) -> None:
    cfg = load_config(bench[0])
    results = collect_results(cfg)
    report = write_report(cfg, results=results)
    # covered rows: a single-modality cell is also scored on the rows where its modality is present
    metrics = pd.read_parquet(Path(cfg.out_dir) / "metrics.parquet")
    single = next(r for r in results if r["setting"]["name"] == "tabular_only")
    present = np.asarray(single["present"]["tabular"])
    covered = metrics[(metrics["setting"] == "tabular_only") & (metrics["site"] == "covered")
                      & (metrics["seed"] == single["seed"]) & (metrics["fold"] == single["fold"])]
    assert set(covered["n"]) == {int(present.sum())}
    y, logit = np.asarray(single["y"])[present], np.asarray(single["logits"]["full"])[present]
    from sklearn.metrics import roc_auc_score

    assert covered[covered["metric"] == "auroc"]["value"].iloc[0] == pytest.approx(roc_auc_score(y, logit))
    # gains: late_gt adds genomics to tabular_only -> compared on every row and on rows with genomics present
    gains = pd.read_csv(report.tables["gains"])
    auroc = gains[gains["metric"] == "auroc"].set_index("rows")
    assert set(auroc.index) == {"all", "genomics present"}
    assert (auroc["n_folds"] == 2).all() and (auroc["setting"] == "late_gt").all()
    assert (auroc["baseline"] == "tabular_only").all() and ((auroc["low"] <= auroc["diff"])
                                                            & (auroc["diff"] <= auroc["high"])).all()
    # a gain pair whose setting does not add modalities is refused when the config is loaded
    with pytest.raises(ValueError, match="report.gains: 'tabular_only' must add modalities to 'late_gt'"):
        load_config(bench[0], ["report.gains=[[tabular_only, late_gt]]"])


def test_fold_samples_of_a_modality_do_not_depend_on_the_others(tiny_store: Path, tmp_path: Path) -> None:
    """Random training crops are drawn per modality: ECG samples are identical whether or not heart sounds
    (also randomly cropped) are loaded into the same fold."""
    from nextgen_ml.benchmark.data import FoldData

    raw = _raw(tiny_store, tmp_path / "run")
    raw["data"]["transforms"] = {"ecg": {"fs_hz": 100.0, "seconds": 2.0},
                                 "heart_sound": {"fs_hz": 500.0, "seconds": 2.0, "band_hz": [25.0, 200.0]}}
    raw["model"]["encoders"].update({"ecg": "ecg_xresnet1d_small", "heart_sound": "heart_sound_cnn1d"})
    path = tmp_path / "b.yaml"
    path.write_text(yaml.safe_dump(raw))
    cfg = load_config(path)
    fold = make_folds(cfg, store_meta(tiny_store), 0)[0]
    alone = FoldData(cfg, fold, ["ecg"], seed=3).samples["train"]
    both = FoldData(cfg, fold, ["ecg", "heart_sound"], seed=3).samples["train"]
    other_seed = FoldData(cfg, fold, ["ecg"], seed=4).samples["train"]
    ecg = [(a["inputs"]["ecg"], b["inputs"]["ecg"]) for a, b in zip(alone, both, strict=True)
           if a["inputs"]["ecg"] is not None]
    assert ecg and all(np.array_equal(a, b) for a, b in ecg)
    assert any(b["inputs"]["heart_sound"] is not None for b in both)
    assert not all(np.array_equal(a["inputs"]["ecg"], c["inputs"]["ecg"]) for a, c in zip(alone, other_seed)
                   if a["inputs"]["ecg"] is not None)  # the seed does draw other crops


def test_cli_report_only(bench: tuple[Path, dict], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmark", "--config", str(bench[0]), "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "trained 0 cells, 4 already finished" in out
    assert json.loads(out.strip().splitlines()[-1])["report"].endswith("report.md")
