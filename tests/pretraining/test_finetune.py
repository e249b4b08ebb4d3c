"""``model.init_from`` / ``model.finetune``: fine-tuning starts from the pretrained weights, freezes what it says,
and refuses encoders that do not fit the run."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest
import torch
from omegaconf import open_dict
from torch import nn

from nextgen_ml.pretraining.artifact import ENCODERS_FILE
from nextgen_ml.pretraining.init import LINEAR_FUSION, finetune_net
from nextgen_ml.training.evaluate import evaluate
from nextgen_ml.training.factory import build_datamodule, build_module
from nextgen_ml.training.train import train
from tests.training.conftest import compose_cfg


@pytest.fixture(scope="module")
def payload(pretrained_run: Path) -> dict:
    return torch.load(pretrained_run / ENCODERS_FILE, weights_only=False)


def _node(payload: dict, source: Path, mode: str, **changes) -> dict:
    return {**payload["model"], "init_from": str(source), "finetune": mode, **changes}


def _same(module: nn.Module, state: dict[str, torch.Tensor]) -> bool:
    return all(torch.equal(v, state[k]) for k, v in module.state_dict().items())


@pytest.mark.parametrize("mode", ["full", "frozen", "linear_probe"])
def test_fine_tuning_starts_from_the_pretrained_weights(payload, pretrained_run, mode) -> None:
    node = _node(payload, pretrained_run / ENCODERS_FILE, mode, head_hidden=[16])
    net, changes = finetune_net(node, ["ecg", "image"], payload["modality_specs"], num_outputs=1)
    for m in ("ecg", "image"):
        assert _same(net.encoders[m], payload["encoders"][m])
        assert all(p.requires_grad == (mode == "full") for p in net.encoders[m].parameters())
    assert _same(net.fusion, payload["fusion"])  # same modalities and fusion config: the pretrained fusion fits
    assert all(p.requires_grad == (mode != "linear_probe") for p in net.fusion.parameters())
    assert all(p.requires_grad for p in net.head.parameters())
    if mode == "linear_probe":
        assert changes == {"head_hidden": []}
        assert len([m for m in net.head.modules() if isinstance(m, nn.Linear)]) == 1
    else:
        assert changes == {}


def test_linear_probe_without_a_fitting_fusion_is_linear_in_the_frozen_vectors(payload, pretrained_run) -> None:
    node = _node(payload, pretrained_run / ENCODERS_FILE, "linear_probe")
    net, changes = finetune_net(node, ["ecg"], payload["modality_specs"], num_outputs=1)  # fusion built for 2
    assert changes["fusion"] == LINEAR_FUSION
    assert _same(net.encoders["ecg"], payload["encoders"]["ecg"])
    trainable = [m for m in net.modules() if any(p.requires_grad for p in m.parameters(recurse=False))]
    assert trainable and all(isinstance(m, (nn.Linear, nn.Embedding)) for m in trainable)  # Embedding: "no data"


def test_build_module_loads_the_file_and_writes_the_mode_into_the_config(make_cfg, pretrained_run, payload) -> None:
    cfg = make_cfg(["data.modalities=[ecg,image,tabular]", f"model.init_from={pretrained_run / ENCODERS_FILE}",
                    "model.finetune=linear_probe"])
    dm = build_datamodule(cfg)
    dm.setup()
    module = build_module(cfg, dm)
    for m in ("ecg", "image"):
        assert _same(module.net.encoders[m], payload["encoders"][m])
        assert not any(p.requires_grad for p in module.net.encoders[m].parameters())
    assert all(p.requires_grad for p in module.net.encoders["tabular"].parameters())  # not in the file: random
    assert cfg.model.fusion.name == "late" and list(cfg.model.head_hidden) == []


def test_frozen_encoders_are_bit_identical_after_a_fit(make_cfg, pretrained_run, payload) -> None:
    cfg = make_cfg(["+experiment=ecg_image_xattn", f"model.init_from={pretrained_run / ENCODERS_FILE}",
                    "model.finetune=frozen", "test=false", "plots=false", "audit_log=null"])
    train(cfg)
    ckpt = torch.load(Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt", weights_only=False)
    state = ckpt["state_dict"]
    for m in ("ecg", "image"):
        for k, v in payload["encoders"][m].items():
            assert torch.equal(state[f"net.encoders.{m}.{k}"], v), (m, k)
    assert ckpt["nextgen_ml"]["config"]["model"]["finetune"] == "frozen"
    # the fusion started from the pretrained one (frozen mode trains it): it moved, the encoders did not
    assert any(not torch.equal(state[f"net.fusion.{k}"], v) for k, v in payload["fusion"].items())


def test_eval_of_a_fine_tuned_run_needs_only_its_checkpoint(make_cfg, pretrained_run, tmp_path) -> None:
    source = tmp_path / "moved" / ENCODERS_FILE  # a copy that disappears before evaluation
    source.parent.mkdir()
    shutil.copy(pretrained_run / ENCODERS_FILE, source)
    cfg = make_cfg(["+experiment=ecg_image_xattn", f"model.init_from={source}", "model.finetune=linear_probe",
                    "plots=false", "audit_log=null", "trainer.limit_test_batches=null"])
    metrics = train(cfg)
    source.unlink()
    eval_cfg = compose_cfg([f"ckpt_path={Path(cfg.paths.output_dir) / 'checkpoints' / 'best.ckpt'}"], "eval")
    with open_dict(eval_cfg):
        eval_cfg.paths.output_dir = str(tmp_path / "eval")
    again = evaluate(eval_cfg)
    for key in ("test/auroc", "test/loss"):
        assert again[key] == pytest.approx(metrics[key], abs=1e-6), key


def test_mismatches_name_the_modality_or_parameter(payload, pretrained_run, tmp_path) -> None:
    source = pretrained_run / ENCODERS_FILE
    specs = payload["modality_specs"]
    with pytest.raises(ValueError, match="model.embed_dim"):
        finetune_net(_node(payload, source, "full", embed_dim=48), ["ecg", "image"], specs, 1)
    with pytest.raises(ValueError, match=r"model.encoder.ecg: pretrained with .*ecg_xresnet1d_small"):
        finetune_net(_node(payload, source, "full", encoder={**payload["model"]["encoder"],
                                                               "ecg": {"name": "ecg_inception_small"}}),
                     ["ecg", "image"], specs, 1)
    with pytest.raises(ValueError, match=r"modality 'ecg': the modality spec differs in \['in_channels'\]"):
        finetune_net(_node(payload, source, "full"), ["ecg", "image"], {**specs, "ecg": {"in_channels": 2}}, 1)
    broken = dict(payload, encoders={**payload["encoders"], "image": dict(payload["encoders"]["image"])})
    name = next(iter(broken["encoders"]["image"]))
    broken["encoders"]["image"][name] = torch.zeros(3, 3)
    torch.save(broken, tmp_path / "broken.pt")
    with pytest.raises(ValueError, match=f"encoder 'image': parameter '{name}' has shape"):
        finetune_net(_node(payload, tmp_path / "broken.pt", "full"), ["ecg", "image"], specs, 1)
    with pytest.raises(ValueError, match="model.finetune must be one of"):
        finetune_net(_node(payload, source, "partial"), ["ecg", "image"], specs, 1)
    with pytest.raises(ValueError, match="no file or bundle directory"):
        finetune_net(_node(payload, tmp_path / "nope.pt", "full"), ["ecg", "image"], specs, 1)


def test_missing_and_extra_modalities_are_logged(payload, pretrained_run, caplog) -> None:
    specs = dict(payload["modality_specs"])
    with caplog.at_level(logging.INFO, logger="nextgen_ml.pretraining.init"):
        finetune_net(_node(payload, pretrained_run / ENCODERS_FILE, "frozen"), ["ecg", "tabular"],
                     {**specs, "tabular": {}}, 1)
    assert "no pretrained encoder for ['tabular']" in caplog.text
    assert "pretrained encoders for ['image'] are not used" in caplog.text


def test_a_pretraining_checkpoint_is_a_source_too(payload, pretrained_run) -> None:
    node = _node(payload, pretrained_run / "checkpoints" / "best.ckpt", "frozen")
    net, _ = finetune_net(node, ["ecg", "image"], payload["modality_specs"], 1)
    assert _same(net.encoders["ecg"], payload["encoders"]["ecg"]) and _same(net.fusion, payload["fusion"])


def test_a_fine_tuning_lr_scale_is_not_an_architecture_change(payload, pretrained_run) -> None:
    enc = payload["model"]["encoder"]["ecg"]
    ecg = {"name": enc} if isinstance(enc, str) else dict(enc)
    node = _node(payload, pretrained_run / ENCODERS_FILE, "full",
                 encoder={**payload["model"]["encoder"], "ecg": {**ecg, "lr_scale": 0.1}})
    net, _ = finetune_net(node, ["ecg", "image"], payload["modality_specs"], num_outputs=1)
    assert _same(net.encoders["ecg"], payload["encoders"]["ecg"]) and net.encoders["ecg"].lr_scale == 0.1
