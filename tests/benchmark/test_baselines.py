"""Linear baselines: features of every modality, a model for every label kind on the session's tiny store, and
baseline rows in the benchmark report (``baselines: true``)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nextgen_ml.benchmark.baseline_features import features
from nextgen_ml.benchmark.baselines import FUSION, baseline_settings, is_baseline, run_baseline_cell
from nextgen_ml.benchmark.config import Setting, cell_key, load_config
from nextgen_ml.benchmark.data import FoldData
from nextgen_ml.benchmark.folds import fold_labels, make_folds, store_meta
from nextgen_ml.benchmark.kinds import SCORING
from nextgen_ml.benchmark.report import write_report
from nextgen_ml.benchmark.runner import collect_results, run_benchmark

LABELS = {"binary": "mace", "multiclass": "diagnosis", "multilabel": "findings", "regression": "lvef",
          "survival": "time_to_mace"}
MODALITIES = ["ecg", "genomics", "image", "tabular", "text", "wearable"]
#: modalities whose baseline is fitted per kind (binary: every modality; features do not depend on the kind)
KIND_MODALITIES = {"binary": MODALITIES}


def _overrides(tiny_store: Path, out_dir: Path, target: str = "mace") -> list[str]:
    return [f"out_dir={out_dir}", f"data.data_dir={tiny_store}", "data.cohort=null", f"data.target={target}",
            "cv.k=2", "cv.seeds=[0]", "train.max_epochs=1", "train.threads=1", "model.embed_dim=8",
            "model.encoders={tabular: {name: tabular_mlp, hidden: [16]}, genomics: genomics_prs_linear}",
            "report.n_boot=50", "report.baseline=tabular_only", "baselines=true",
            "settings=[{name: tabular_only, fusion: concat, modalities: [tabular]},"
            " {name: late_gt, fusion: late, modalities: [genomics, tabular]}]"]


@pytest.fixture(scope="module")
def fold(tiny_store: Path) -> tuple[FoldData, dict, np.ndarray]:
    """Fold 0 of a 2-fold split of the tiny store, every baseline modality transformed once."""
    cfg = load_config(None, _overrides(tiny_store, Path("unused")))
    meta = store_meta(tiny_store)
    split = make_folds(cfg, meta, seed=0)[0]
    return FoldData(cfg, split, MODALITIES, seed=0), meta, split["test"]


def test_features_of_every_modality_are_finite_2d(fold: tuple[FoldData, dict, np.ndarray]) -> None:
    data, _, _ = fold
    for m in MODALITIES:
        x = np.stack([s["inputs"][m] for s in data.samples["train"] if s["inputs"].get(m) is not None])
        f = features(m, x, data.modality_specs.get(m, {}))
        assert f.ndim == 2 and f.shape[0] == len(x) and f.shape[1] > 0 and np.isfinite(f).all(), m
        assert f.std(0).max() > 0, m  # not a constant


@pytest.mark.parametrize("kind", sorted(LABELS))
def test_every_kind_and_modality_gives_scores_in_the_cell_layout(kind: str, tiny_store: Path,
                                                                  fold: tuple[FoldData, dict, np.ndarray]) -> None:
    data, meta, test_idx = fold
    cfg = load_config(None, _overrides(tiny_store, Path("unused"), LABELS[kind]))
    labels = fold_labels(cfg, meta, test_idx)
    scoring = SCORING[kind]
    for m in KIND_MODALITIES.get(kind, ["genomics", "tabular"]):
        setting = Setting(f"linear_{m}", FUSION, [m])
        out = run_baseline_cell(cfg, setting, data, meta, labels, seed=0, fold=0, key="k")
        scores = np.asarray(out["logits"]["full"], dtype=np.float64)
        assert scores.shape[0] == len(test_idx) and scores.ndim == (2 if scoring.vector else 1), (kind, m)
        assert np.isfinite(scores).all() and scores.std() > 0, (kind, m)
        assert out.get("kind", "binary") == kind and out["present"][m] and set(out["logits"]) == {"full"}
        keep = scoring.labelled(labels)
        values = scoring.score(labels[keep], scores[keep])
        assert all(np.isfinite(v) for v in values.values()), (kind, m, values)
    if kind == "regression":  # the image shows the ejection fraction: pooled frames predict it well
        out = run_baseline_cell(cfg, Setting("linear_image", FUSION, ["image"]), data, meta, labels, 0, 0, "k")
        r2 = scoring.score(labels, np.asarray(out["logits"]["full"]))["r2"]
        assert r2 > 0.3


def test_baseline_settings_and_keys(tiny_store: Path, tmp_path: Path) -> None:
    cfg = load_config(None, _overrides(tiny_store, tmp_path))
    assert [s.name for s in cfg.settings] == ["tabular_only", "late_gt", "linear_tabular"]
    assert is_baseline(cfg.settings[-1]) and baseline_settings(cfg.settings) == []  # no second copy
    base = cell_key(cfg.cell_spec(cfg.settings[-1], 0, 0))
    other = load_config(None, [*_overrides(tiny_store, tmp_path), "train.lr=0.1", "model.embed_dim=4"])
    assert cell_key(other.cell_spec(other.settings[-1], 0, 0)) == base  # no model/training option matters
    off = load_config(None, [*_overrides(tiny_store, tmp_path), "baselines=false"])
    assert [s.name for s in off.settings] == ["tabular_only", "late_gt"]


def test_benchmark_report_has_baseline_rows(tiny_store: Path, tmp_path: Path) -> None:
    cfg = load_config(None, _overrides(tiny_store, tmp_path / "run"))
    summary = run_benchmark(cfg, progress=False)
    assert summary.trained == 6  # 3 settings x 2 folds
    results = collect_results(cfg)
    assert sum(r["setting"]["fusion"] == FUSION for r in results) == 2
    report = write_report(cfg)
    table = pd.read_csv(report.tables["summary"])
    assert "linear_tabular" in set(table["setting"])
    vs_linear = pd.read_csv(report.tables["vs_linear"])
    assert set(zip(vs_linear["setting"], vs_linear["baseline"], strict=True)) == {("tabular_only", "linear_tabular")}
    assert set(vs_linear["metric"]) == set(SCORING["binary"].metrics)
    assert ((vs_linear["p"] > 0) & (vs_linear["p"] <= 1)).all()
    text = report.markdown.read_text()
    assert "## Single modality vs linear baseline" in text and "| linear_tabular |" in text
