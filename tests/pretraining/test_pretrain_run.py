"""``python train.py +experiment=pretrain_*``: what a pretraining run writes, and what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

import nextgen_ml
from nextgen_ml.pretraining.artifact import ENCODERS_FILE, FORMAT, read_pretrained
from nextgen_ml.training.train import train


def test_pretraining_writes_encoders_checkpoints_metrics_and_audit(pretrained_run: Path) -> None:
    payload = torch.load(pretrained_run / ENCODERS_FILE, weights_only=False)
    assert payload["format"] == FORMAT and payload["version"] == nextgen_ml.__version__
    assert payload["modalities"] == ["ecg", "image"] == sorted(payload["encoders"])
    assert payload["objective"]["objectives"] == {"contrastive": 1.0, "masked_modality": 1.0}
    assert payload["fusion"] is not None  # masked-modality modelling trained the fusion
    assert payload["model"]["fusion"]["name"] == "cross_attention" and payload["config"]["pretrain"]["name"]
    assert set(payload["modality_specs"]) >= {"ecg", "image"} and set(payload["transforms"]) == {"ecg", "image"}
    assert (pretrained_run / "checkpoints" / "best.ckpt").is_file()
    metrics = json.loads((pretrained_run / "metrics.json").read_text())
    assert {"val/loss", "val/contrastive", "val/masked_modality"} <= set(metrics)
    assert 0.0 <= metrics["val/retrieval_r1"] <= 1.0
    audit = [json.loads(line) for line in (pretrained_run.parent / "logs" / "audit.jsonl").read_text().splitlines()]
    assert [e["phase"] for e in audit] == ["start", "end"]
    assert {e["kind"] for e in audit} == {"pretrain"}
    # the Lightning checkpoint is itself a source of the same encoders
    from_ckpt = read_pretrained(pretrained_run / "checkpoints" / "best.ckpt")
    for m in ("ecg", "image"):
        for k, v in payload["encoders"][m].items():
            assert torch.equal(from_ckpt["encoders"][m][k], v), (m, k)


def test_labels_are_never_read(make_cfg) -> None:
    """Every record takes part: the loss of a batch is the same without its targets."""
    from nextgen_ml.pretraining.run import build_pretrain_module
    from nextgen_ml.training.factory import build_datamodule

    cfg = make_cfg(["+experiment=pretrain_ecg_image", "pretrain=clip_masked", "pretrain.proj_dim=16"])
    dm = build_datamodule(cfg)
    dm.setup()
    module = build_pretrain_module(cfg, dm).eval()
    batch = next(iter(dm.train_dataloader()))
    with torch.no_grad():
        ref = module.validation_step(batch, 0)
        assert torch.equal(module.validation_step({**batch, "targets": {}}, 0), ref)


def test_an_existing_file_is_never_overwritten(make_cfg, tmp_path: Path) -> None:
    out = tmp_path / "run"
    out.mkdir()
    (out / ENCODERS_FILE).write_bytes(b"mine")
    cfg = make_cfg(["+experiment=pretrain_ecg_image"])
    with pytest.raises(FileExistsError, match=f"{ENCODERS_FILE}.*pretrain.overwrite=true"):
        train(cfg)
    assert (out / ENCODERS_FILE).read_bytes() == b"mine"


def test_one_modality_is_refused(make_cfg) -> None:
    with pytest.raises(ValueError, match="at least two"):
        train(make_cfg(["+experiment=pretrain_ecg_image", "data.modalities=[ecg]"]))


def test_every_pretrain_option_builds_and_steps(make_cfg) -> None:
    from nextgen_ml.pretraining.run import build_pretrain_module
    from nextgen_ml.training.factory import build_datamodule

    options = sorted(p.stem for p in (Path(__file__).resolve().parents[2] / "configs" / "pretrain").glob("*.yaml"))
    assert {"contrastive", "masked", "clip_masked"} <= set(options)
    dm = None
    for option in options:
        cfg = make_cfg(["+experiment=pretrain_ecg_image", f"pretrain={option}", "pretrain.proj_dim=16"])
        if dm is None:
            dm = build_datamodule(cfg)
            dm.setup()
            batch = next(iter(dm.train_dataloader()))
        module = build_pretrain_module(cfg, dm)
        loss = module._step(batch, "train")
        loss.backward()
        assert torch.isfinite(loss) and loss.item() > 0, option
        trained = [n for n, p in module.named_parameters() if p.grad is not None and p.grad.abs().sum() > 0]
        assert any(n.startswith("net.encoders.ecg.") for n in trained) and any(
            n.startswith("net.encoders.image.") for n in trained), option
