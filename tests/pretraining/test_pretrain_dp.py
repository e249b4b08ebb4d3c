"""DP-SGD and pretraining: contrastive objectives are refused before any data is read; masked-modality modelling
runs with exact per-sample gradients and reports the accountant's ε."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from opacus.accountants import RDPAccountant
from torch import nn

from nextgen_ml.pretraining.net import PretrainNet
from nextgen_ml.pretraining.objectives import PretrainObjective
from nextgen_ml.registry import create_encoder, create_fusion
from nextgen_ml.training.train import train
from tests.encoders.inputs import make_input
from tests.privacy.test_per_sample_gradients import _assert_matches_loop


@pytest.mark.parametrize("pretrain", ["contrastive", "clip_masked"])
def test_contrastive_objectives_are_refused_before_any_data_is_read(make_cfg, tmp_path, pretrain) -> None:
    cfg = make_cfg(["+experiment=pretrain_ecg_image", f"pretrain={pretrain}", "privacy=dp"])
    cfg.data.data_dir = str(tmp_path / "no_store_here")  # reading data would fail with another message
    with pytest.raises(ValueError, match=r"privacy=dp refuses pretraining objective\(s\) \['contrastive'\]: "
                                         r"contrastive: InfoNCE with in-batch negatives couples"):
        train(cfg)
    assert not (tmp_path / "run").exists() or not any((tmp_path / "run").iterdir())


@pytest.mark.parametrize("fusion_name", ["concat", "cross_attention"])  # vectors; tokens (a second encoder pass)
def test_masked_modality_per_sample_gradients_match_a_loop(fusion_name: str) -> None:
    """Each row's loss depends on that row only: Opacus's per-sample gradients equal one-row backward passes."""
    torch.manual_seed(0)
    names = {"genomics": "genomics_prs_linear", "tabular": "tabular_mlp"}
    encoders = nn.ModuleDict({m: create_encoder(n, embed_dim=8) for m, n in names.items()})
    fusion = create_fusion(fusion_name, in_dims={m: 8 for m in names}, embed_dim=8)
    net = PretrainNet(encoders, fusion, proj_dim=4, predictors=True, temperature=False).double().train()
    for m in net.modules():
        if isinstance(m, nn.Dropout):
            m.p = 0.0
    objective = PretrainObjective({"masked_modality": 1.0})
    b = 4
    inputs = {m: make_input(n, b=b).double() for m, n in names.items()}
    mask = {"genomics": torch.tensor([1, 1, 0, 1], dtype=torch.bool), "tabular": torch.tensor([1, 1, 1, 1]).bool()}
    hidden = torch.tensor([0, 1, -1, 1])  # row 2 has one modality: nothing hidden, loss 0

    def run(model, sl):
        out = model({k: v[sl] for k, v in inputs.items()}, {k: v[sl] for k, v in mask.items()}, masked=True,
                    hidden=hidden[sl])
        return objective.per_sample_loss(out, mask)

    _assert_matches_loop(net, run, "hooks", rows=b)


def test_masked_modality_trains_under_dp_and_reports_the_accountants_epsilon(make_cfg) -> None:
    cfg = make_cfg(["+experiment=pretrain_ecg_image", "pretrain=masked", "pretrain.proj_dim=16", "privacy=dp",
                    "privacy.accountant=rdp", "model/fusion=concat", "audit_log=null"])
    metrics = train(cfg)
    out = Path(cfg.paths.output_dir)
    report = json.loads((out / "privacy.json").read_text())
    steps = int(metrics["privacy/steps"])
    assert steps > 0 and report["privacy/epsilon"] == metrics["privacy/epsilon"]
    acc = RDPAccountant()
    acc.history = [(metrics["privacy/noise_multiplier"], metrics["privacy/sample_rate"], steps)]
    assert metrics["privacy/epsilon"] == pytest.approx(acc.get_epsilon(metrics["privacy/delta"]), rel=1e-9)
    assert metrics["privacy/epsilon"] <= metrics["privacy/target_epsilon"]
    assert (out / "pretrained_encoders.pt").is_file() and "val/masked_modality" in metrics


def test_an_empty_poisson_batch_gives_a_zero_loss_over_the_parameters() -> None:
    from nextgen_ml.pretraining.module import PretrainModule
    from nextgen_ml.privacy.objective import DPObjective

    encoders = nn.ModuleDict({m: create_encoder(n, embed_dim=8) for m, n in
                              {"genomics": "genomics_prs_linear", "tabular": "tabular_mlp"}.items()})
    net = PretrainNet(encoders, create_fusion("concat", in_dims={"genomics": 8, "tabular": 8}, embed_dim=8),
                      proj_dim=4, predictors=True, temperature=False)
    objective = PretrainObjective({"masked_modality": 1.0})
    module = PretrainModule(net, objective, torch.optim.SGD)
    module.train_objective = DPObjective(objective, [p for p in net.parameters() if p.requires_grad])
    empty = {"inputs": {}, "mask": {"genomics": torch.zeros(0, dtype=torch.bool),
                                    "tabular": torch.zeros(0, dtype=torch.bool)},
             "targets": {}, "index": torch.zeros(0, dtype=torch.long)}
    loss = module.training_step(empty, 0)
    assert loss.item() == 0.0
    loss.backward()
    assert all(p.grad is not None and (p.grad == 0).all() for p in net.parameters())
