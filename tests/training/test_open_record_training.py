"""`python train.py` on a user's own store: any declared label, k-fold, and a list of stores (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import open_dict

from nextgen_ml.cli import main as cli_main
from nextgen_ml.training import train
from tests.data.open_record_data import write_table
from tests.training.conftest import compose_cfg

KEY = "0123456789abcdef-test-key"
MAIN_METRIC = {"disease": "auroc", "severity": "f1", "ef": "mae", "death": "cindex"}


@pytest.fixture(scope="module")
def stores(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("own_cohort")
    out = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEXTGEN_ML_INGEST_KEY", KEY)
        for k, site in enumerate(("site_a", "site_b")):
            manifest = write_table(folder / site, n=160, seed=k, site=site)
            assert cli_main(["ingest", str(manifest), "--out", str(folder / f"store_{site}"), "--no-progress"]) == 0
            out.append(folder / f"store_{site}")
    return out


def _cfg(tmp_path: Path, data_dir: str, overrides: list[str]):
    cfg = compose_cfg(["+experiment=tabular_only", "data=store", f"data.data_dir={data_dir}", "trainer=debug",
                       "trainer.max_epochs=2", "data.batch_size=32", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(tmp_path / "run")
        cfg.paths.log_dir = str(tmp_path / "logs")
    return cfg


@pytest.mark.parametrize("label", sorted(MAIN_METRIC))
def test_train_py_trains_and_tests_every_declared_label(stores, tmp_path, label):
    cfg = _cfg(tmp_path, str(stores[0]), [f"task.target={label}"])
    metrics = train(cfg)
    assert f"test/{MAIN_METRIC[label]}" in metrics and f"val/{MAIN_METRIC[label]}" in metrics
    assert cfg.task.monitor == f"val/{MAIN_METRIC[label]}"
    plots = list((Path(cfg.paths.output_dir) / "plots").glob(f"test_{label}_*.png"))
    assert plots, "the label's kind picks its plots"
    saved = json.loads((Path(cfg.paths.output_dir) / "metrics.json").read_text())
    assert saved == pytest.approx(metrics)


def test_kfold_and_a_list_of_stores_through_train_py(stores, tmp_path):
    cfg = _cfg(tmp_path, f"[{stores[0]},{stores[1]}]", ["task.target=death", "data.split=kfold", "data.folds=3",
                                                        "data.fold=2"])
    metrics = train(cfg)
    assert 0.0 <= metrics["test/cindex"] <= 1.0
    assert cfg.data.split == "kfold" and cfg.data.fold == 2
