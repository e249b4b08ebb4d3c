"""The grid outgrows one process: 2 local workers and 2 shards give the serial run's cells; the SLURM launcher
config composes and instantiates (nothing is submitted)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import yaml
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.utils import instantiate

from nextgen_ml.benchmark.config import load_config
from nextgen_ml.benchmark.parallel import parse_shard, shard_cells, worker_threads
from nextgen_ml.benchmark.runner import run_benchmark
from tests.training.conftest import CONFIGS

#: timing fields differ between runs; everything else of a cell must agree
TIMING = {"fit_seconds", "eval_seconds"}


def test_shards_partition_the_plan() -> None:
    cells = list(range(11))
    parts = [shard_cells(cells, parse_shard(f"{i}/3")) for i in range(3)]
    assert sorted(sum(parts, [])) == cells and parts[1] == [1, 4, 7, 10]
    assert shard_cells(cells, None) == cells
    for bad in ("3/3", "1", "a/b", "0/0"):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)
    assert worker_threads(2, configured=1) == 1 and worker_threads(10**6) == 1


def test_slurm_launcher_config_composes_and_instantiates() -> None:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose("benchmark_grid", overrides=["hydra/launcher=benchmark_slurm", "num_shards=4", "shard=2",
                                                   "hydra.launcher.partition=cpu"], return_hydra_config=True)
    GlobalHydra.instance().clear()
    assert cfg.shard == 2 and cfg.num_shards == 4 and cfg.config == "configs/benchmark/default.yaml"
    launcher_cfg = cfg.hydra.launcher
    assert launcher_cfg._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert launcher_cfg.timeout_min == 240 and launcher_cfg.cpus_per_task == 8 and launcher_cfg.partition == "cpu"
    launcher = instantiate(launcher_cfg)  # builds the launcher; submitting happens only in launch()
    assert type(launcher).__name__ == "SlurmLauncher" and launcher.params["cpus_per_task"] == 8
    assert launcher.params["timeout_min"] == 240


def _assert_close(a: object, b: object, where: str) -> None:
    if isinstance(a, dict):
        assert isinstance(b, dict) and set(a) == set(b), where
        for k in a:
            if k not in TIMING:
                _assert_close(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, list) and a and isinstance(a[0], (int, float, list)) and not isinstance(a[0], bool):
        np.testing.assert_allclose(np.asarray(a, dtype=float), np.asarray(b, dtype=float), rtol=1e-4, atol=1e-5,
                                   err_msg=where)
    else:
        assert a == b, where


def _cells(out_dir: Path) -> dict[str, dict]:
    return {p.name: json.loads(p.read_text()) for p in sorted((out_dir / "cells").glob("*.json"))}


@pytest.mark.slow
def test_two_workers_and_two_shards_give_the_serial_cells(tiny_store: Path, tmp_path: Path) -> None:
    raw = {
        "settings": [{"name": "concat_gt", "fusion": "concat", "modalities": ["genomics", "tabular"]},
                     {"name": "tabular_only", "fusion": "concat", "modalities": ["tabular"]}],
        "data": {"data_dir": str(tiny_store), "cohort": None, "batch_size": 32},
        "model": {"encoders": {"genomics": "genomics_prs_linear", "tabular": {"name": "tabular_mlp", "hidden": [16]}},
                  "embed_dim": 8},
        "train": {"max_epochs": 2, "threads": 1},
        "cv": {"kind": "kfold", "k": 2, "seeds": [0]},
        "robustness": {"missing_rates": [0.5]},
        "report": {"baseline": "concat_gt", "n_boot": 50},
    }
    path = tmp_path / "bench.yaml"
    path.write_text(yaml.safe_dump(raw))
    serial = run_benchmark(load_config(path, [f"out_dir={tmp_path / 'serial'}"]), progress=False)
    parallel = run_benchmark(load_config(path, [f"out_dir={tmp_path / 'parallel'}"]), progress=False, workers=2)
    per_cell = run_benchmark(load_config(path, [f"out_dir={tmp_path / 'per_cell'}"]), progress=False, workers=3)
    assert serial.trained == parallel.trained == per_cell.trained == 4  # 2 folds: whole folds / single cells per task
    for i in range(2):
        run_benchmark(load_config(path, [f"out_dir={tmp_path / 'shards'}"]), progress=False, shard=(i, 2))
    resumed = run_benchmark(load_config(path, [f"out_dir={tmp_path / 'shards'}"]), progress=False, workers=2)
    assert (resumed.trained, resumed.skipped) == (0, 4)
    reference = _cells(tmp_path / "serial")
    assert len(reference) == 4
    for name in ("parallel", "per_cell", "shards"):
        cells = _cells(tmp_path / name)
        assert set(cells) == set(reference), name
        for cell, result in reference.items():
            _assert_close(result, cells[cell], f"{name}/{cell}")
