"""export → load → predict reproduces the checkpoint; sources; CLI; model card."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
import torch
from omegaconf import OmegaConf

from nextgen_ml.bundle import load_pretrained
from nextgen_ml.bundle.files import MANIFEST, REQUIRED
from nextgen_ml.bundle.load import sha256_file
from nextgen_ml.data.store import RecordStore


def _checkpoint_predictions(ckpt_path: Path) -> dict[str, float]:
    """Test-split predictions of the checkpoint rebuilt the way eval.py does (datamodule + LightningModule)."""
    from nextgen_ml.training.evaluate import load_run_checkpoint
    from nextgen_ml.training.factory import build_datamodule, build_module
    from nextgen_ml.training.predictions import collect_predictions

    ckpt = load_run_checkpoint(ckpt_path)
    cfg = OmegaConf.create(ckpt["nextgen_ml"]["config"])
    dm = build_datamodule(cfg)
    dm.load_state_dict(ckpt["CardioDataModule"])
    dm.setup()
    module = build_module(cfg, dm)
    module.load_state_dict(ckpt["state_dict"])
    preds, _, index = collect_predictions(module, dm.test_dataloader())
    view = dm.store.subset(dm.split_indices["test"])
    return {view.row(int(i))["patient_id"]: float(p) for i, p in zip(index, preds)}


def test_bundle_files_manifest_and_card(exported: Path):
    assert all((exported / name).is_file() for name in REQUIRED)
    manifest = json.loads((exported / MANIFEST).read_text())
    assert manifest["weights_sha256"] == sha256_file(exported / "model.safetensors")
    assert manifest["modalities"] == ["ecg", "genomics", "image", "tabular", "text"]
    assert manifest["outputs"] == ["mace_probability"]
    card = json.loads((exported / "model_card.json").read_text())
    ci = card["confidence_intervals"]["test/auroc"]
    assert 0.0 <= ci["low"] <= ci["estimate"] <= ci["high"] <= 1.0
    assert ci["estimate"] == pytest.approx(card["metrics"]["test/auroc"], abs=1e-4)  # same test split, same model
    assert card["privacy"]["epsilon"] is None and card["intended_use"] and card["limitations"]
    text = (exported / "MODEL_CARD.md").read_text()
    assert "test/auroc" in text and "Intended use" in text and "Limitations" in text
    assert sum(f.stat().st_size for f in exported.iterdir()) < 5_000_000


def test_export_load_predict_equals_checkpoint(exported: Path, trained_run: Path, tiny_store: Path):
    expected = _checkpoint_predictions(trained_run / "checkpoints" / "best.ckpt")
    bundle = load_pretrained(exported)
    frame = bundle.predict(tiny_store)
    assert list(frame.columns) == ["patient_id", "mace_probability"]
    assert len(frame) == len(RecordStore(tiny_store, columns=["patient_id"]))
    got = dict(zip(frame["patient_id"], frame["mace_probability"]))
    assert len(expected) >= 16
    np.testing.assert_allclose([got[p] for p in expected], list(expected.values()), atol=1e-5, rtol=0)
    assert bundle.verify() <= 1e-5


def test_sources_records_table_store_agree(exported: Path, tiny_store: Path):
    bundle = load_pretrained(exported)
    view = RecordStore(tiny_store).subset(range(10))
    from_store = bundle.predict(view)
    records = [view.row(i) for i in range(len(view))]
    from_dicts = bundle.predict(records, batch_size=3)
    from_table = bundle.predict(pa.Table.from_pylist(records))
    for other in (from_dicts, from_table):
        assert list(other["patient_id"]) == list(from_store["patient_id"])
        # float32 kernels differ with the batch size (3 vs the default): agreement to rounding, not bitwise; a
        # batch-coupled model (a batch statistic, a row leaking into another) would differ by orders more
        np.testing.assert_allclose(other["mace_probability"], from_store["mace_probability"], atol=2e-5)
    # a record with a modality missing still gets a prediction, and a different one
    records[0] = dict(records[0], image=None, ecg=None)
    changed = bundle.predict(records[:1])["mace_probability"].iloc[0]
    assert 0.0 <= changed <= 1.0 and changed != pytest.approx(from_store["mace_probability"].iloc[0], abs=1e-7)


def test_cli_export(trained_run: Path, tmp_path: Path, capsys):
    from nextgen_ml.cli import main

    out = tmp_path / "cli_bundle"
    assert main(["export", str(trained_run / "checkpoints" / "last.ckpt"), "--out", str(out), "--n-bootstrap",
                 "20"]) == 0
    assert "Model card" in capsys.readouterr().out
    assert load_pretrained(out).verify() <= 1e-5
    with pytest.raises(SystemExit) as err:  # a user mistake: one message, exit 2 (nextgen_ml.errors)
        main(["export", str(trained_run / "checkpoints" / "last.ckpt"), "--out", str(out)])
    assert err.value.code == 2 and "already holds a bundle" in capsys.readouterr().err


def test_weights_are_plain_safetensors(exported: Path):
    from safetensors.torch import load_file

    weights = load_file(str(exported / "model.safetensors"))
    assert all(isinstance(v, torch.Tensor) for v in weights.values())
    assert not any(k.startswith("net.") for k in weights)


def test_bootstrap_ci():
    from nextgen_ml.bundle.ci import _auroc, bootstrap_ci

    y = np.array([0, 0, 0, 1, 1, 1] * 10)
    perfect = bootstrap_ci(y, y.astype(float), _auroc, n_boot=100)
    assert perfect["low"] == perfect["high"] == perfect["estimate"] == 1.0
    rng = np.random.default_rng(0)
    noisy = bootstrap_ci(y, rng.random(len(y)), _auroc, n_boot=300)
    assert noisy["low"] < noisy["estimate"] < noisy["high"] and noisy["high"] - noisy["low"] > 0.1
