"""End-to-end runs through train(cfg) / evaluate(cfg) on the tiny cohort."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from omegaconf import open_dict

from nextgen_ml.training import evaluate, train

FUSION_EXPERIMENTS = ["fusion_concat", "fusion_late", "fusion_gated", "fusion_bottleneck", "fusion_cross_attention"]


def _fast_dev(make_cfg, overrides):
    cfg = make_cfg(overrides)
    with open_dict(cfg):
        cfg.trainer.fast_dev_run = True
        cfg.plots = False
    return cfg


def test_fast_dev_run_default(make_cfg):
    metrics = train(_fast_dev(make_cfg, []))
    assert "test/auroc" in metrics and "val/loss" in metrics


@pytest.mark.parametrize("experiment", FUSION_EXPERIMENTS)
def test_fast_dev_run_each_fusion(make_cfg, experiment):
    metrics = train(_fast_dev(make_cfg, [f"+experiment={experiment}"]))
    assert 0.0 <= metrics["test/auroc"] <= 1.0


def test_run_writes_outputs_and_eval_reproduces_test_metrics(make_cfg, tmp_path):
    cfg = make_cfg(["trainer.max_epochs=2", "trainer.limit_train_batches=3", "trainer.limit_val_batches=2",
                    "trainer.limit_test_batches=null"])
    metrics = train(cfg)
    out = Path(cfg.paths.output_dir)
    saved = json.loads((out / "metrics.json").read_text())
    assert saved == pytest.approx(metrics)
    assert {"val/auroc", "test/auroc", "test/auprc", "test/loss"} <= set(saved)
    assert (out / "config.yaml").exists()
    assert (out / "checkpoints" / "best.ckpt").exists() and (out / "checkpoints" / "last.ckpt").exists()
    assert (out / "plots" / "test_mace_roc_pr_calibration.png").stat().st_size > 10_000
    assert (out / "csv" / "metrics.csv").exists()

    eval_cfg = make_cfg([f"ckpt_path={out / 'checkpoints' / 'best.ckpt'}"], tiny=False, config_name="eval")
    with open_dict(eval_cfg):
        eval_cfg.paths.output_dir = str(tmp_path / "eval")
    again = evaluate(eval_cfg)
    for key in ("test/auroc", "test/auprc", "test/loss"):
        assert again[key] == pytest.approx(metrics[key], abs=1e-6), key


@pytest.mark.parametrize(("experiment", "metric", "plot"), [
    ("survival", "test/cindex", "test_time_to_mace_km.png"),
    ("multilabel", "test/auroc", "test_findings_roc.png"),
])
def test_survival_and_multilabel_runs(make_cfg, experiment, metric, plot):
    cfg = make_cfg([f"+experiment={experiment}", "trainer.limit_test_batches=null"])
    metrics = train(cfg)
    assert metric in metrics
    assert (Path(cfg.paths.output_dir) / "plots" / plot).exists()


def test_consented_run_filters_and_appends_a_verified_audit_entry(make_cfg):
    from nextgen_ml.governance.anchor import Anchor
    from nextgen_ml.governance.audit import AuditLog

    # a for-profit requester: records with a not-for-profit (NPU) consent must be excluded
    cfg = _fast_dev(make_cfg, ["+experiment=consented_cvd", "data.purpose.for_profit=true"])
    train(cfg)
    anchor = Anchor.parse(Path(cfg.paths.output_dir) / "audit_anchor.json")
    train(_fast_dev(make_cfg, ["data.purpose=null"]))  # consent switched off, explicitly: audited as such
    log = AuditLog(Path(cfg.audit_log))
    assert log.verify(anchors=[anchor]) == 4
    start, end, off_start, off_end = log.entries()
    assert (start["phase"], end["phase"]) == ("start", "end") and end["details"]["start_hash"] == start["hash"]
    assert end["kind"] == "train" and end["purpose"]["disease"] == "MONDO:0005267"
    assert sum(end["counts"]["excluded"].values()) > 0
    assert off_end["counts"]["excluded"] == {} and off_end["details"]["consent"] == "off"
    assert off_start["prev_hash"] == end["hash"]


def test_eval_refuses_a_foreign_checkpoint(make_cfg, tmp_path):
    import torch

    bogus = tmp_path / "x.ckpt"
    torch.save({"state_dict": {}}, bogus)
    cfg = make_cfg([f"ckpt_path={bogus}"], tiny=False, config_name="eval")
    with pytest.raises(ValueError, match="not written by nextgen_ml"):
        evaluate(cfg)


def test_seeded_runs_are_reproducible(make_cfg):
    a = train(_fast_dev(make_cfg, ["seed=3"]))
    b = train(_fast_dev(make_cfg, ["seed=3"]))
    assert a["test/loss"] == pytest.approx(b["test/loss"], abs=1e-6)


@pytest.mark.slow
def test_ddp_two_cpu_processes(tiny_store, tmp_path):
    env = dict(os.environ, NEXTGEN_ML_ROOT=str(tmp_path))
    cmd = [sys.executable, "train.py", "trainer=ddp", "trainer.devices=2", "trainer.max_epochs=1",
           "trainer.limit_train_batches=2", "trainer.limit_val_batches=1", "trainer.limit_test_batches=1",
           f"data.data_dir={tiny_store}", "data.batch_size=8", "data.transforms.image.size=32", "model.embed_dim=32",
           "plots=false", "hydra.run.dir=" + str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert "test/auroc" in metrics


@pytest.mark.slow
def test_wandb_offline_run_never_needs_network(make_cfg, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "offline")
    cfg = _fast_dev(make_cfg, ["logger=wandb"])
    with open_dict(cfg):
        cfg.trainer.fast_dev_run = False
        cfg.trainer.max_epochs = 1
    train(cfg)
    runs = list((Path(cfg.paths.output_dir) / "wandb").glob("offline-run-*"))
    assert runs, "wandb should write an offline run directory for `wandb sync`"
