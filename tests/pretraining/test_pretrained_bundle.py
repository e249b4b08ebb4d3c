"""Bundles holding pretrained encoders: export, load for a notebook, fine-tune from the bundle directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from nextgen_ml.bundle import BundleError, export_pretrained, load_pretrained_encoders, load_pretrained_preprocessor
from nextgen_ml.bundle.encoders import ENCODERS_WEIGHTS
from nextgen_ml.data.store import RecordStore
from nextgen_ml.pretraining.artifact import ENCODERS_FILE
from nextgen_ml.pretraining.init import finetune_net


def test_export_load_and_fine_tune_from_a_bundle(pretrained_run: Path, tiny_store: Path, tmp_path: Path) -> None:
    payload = torch.load(pretrained_run / ENCODERS_FILE, weights_only=False)
    out = export_pretrained(pretrained_run, tmp_path / "bundle")
    encoders = load_pretrained_encoders(out)
    assert sorted(encoders) == ["ecg", "image"]
    for m, enc in encoders.items():
        assert not enc.training
        assert all(torch.equal(v, payload["encoders"][m][k]) for k, v in enc.state_dict().items())
    # a notebook user: records → the pretraining run's preprocessing → embeddings
    pre = load_pretrained_preprocessor(out)
    records = RecordStore(tiny_store).take(list(range(4))).to_pylist()
    _, batch = next(iter(pre.batches(records, batch_size=4)))
    with torch.no_grad():
        z = encoders["ecg"](batch["inputs"]["ecg"])
    assert z.shape == (4, payload["model"]["embed_dim"]) and torch.isfinite(z).all()
    # model.init_from=<bundle dir>
    node = {**payload["model"], "init_from": str(out), "finetune": "frozen"}
    net, _ = finetune_net(node, ["ecg", "image"], payload["modality_specs"], 1)
    assert all(torch.equal(v, payload["fusion"][k]) for k, v in net.fusion.state_dict().items())
    with pytest.raises(BundleError, match="already holds pretrained encoders"):
        export_pretrained(pretrained_run, out)
    (out / ENCODERS_WEIGHTS).write_bytes(b"tampered")
    with pytest.raises(BundleError, match="does not match the sha256"):
        load_pretrained_encoders(out)
    with pytest.raises(BundleError, match="holds no pretrained encoders"):
        load_pretrained_encoders(tmp_path)
