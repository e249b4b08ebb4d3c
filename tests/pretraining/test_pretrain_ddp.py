"""Pretraining under Lightning DDP: two CPU processes (gloo), InfoNCE negatives gathered across them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch


@pytest.mark.slow
def test_pretraining_runs_under_ddp_with_negatives_from_both_processes(tiny_store: Path, tmp_path: Path) -> None:
    env = dict(os.environ, NEXTGEN_ML_ROOT=str(tmp_path))
    batch = 8
    cmd = [sys.executable, "train.py", "+experiment=pretrain_ecg_image", "trainer=ddp", "trainer.devices=2",
           "trainer.max_epochs=1", "trainer.limit_train_batches=2", "trainer.limit_val_batches=1",
           f"data.data_dir={tiny_store}", "data.cohort=null", f"data.batch_size={batch}",
           "data.transforms.image.size=32", "model.embed_dim=32", "model/encoder/image=resnet18_small",
           "pretrain.proj_dim=16", "hydra.run.dir=" + str(tmp_path / "ddp")]
    proc = subprocess.run(cmd, cwd=Path(__file__).resolve().parents[2], env=env, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    assert metrics["val/contrastive/anchors"] > batch  # each process's InfoNCE saw the other's rows as negatives
    payload = torch.load(tmp_path / "ddp" / "pretrained_encoders.pt", weights_only=False)
    assert sorted(payload["encoders"]) == ["ecg", "image"]
