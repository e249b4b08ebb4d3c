"""The subspace fusion's ELBO reaches the optimiser: ``MultimodalNet`` returns it as ``aux_loss`` in training, the
LightningModule adds it to the task loss, and DP-SGD adds it to each row's loss before clipping."""

from __future__ import annotations

import functools

import pytest
import torch
from opacus import GradSampleModule
from torch import nn

from nextgen_ml.models.multimodal import MultimodalNet
from nextgen_ml.privacy.objective import DPObjective
from nextgen_ml.registry import create_fusion
from nextgen_ml.tasks.module import MultimodalModule
from nextgen_ml.tasks.tasks import BinaryTask

IN = {"ecg": 6, "tabular": 5}


def net_and_batch() -> tuple[MultimodalNet, dict]:
    torch.manual_seed(0)
    encoders = nn.ModuleDict({m: nn.Linear(d, 8) for m, d in IN.items()})
    for enc in encoders.values():
        enc.out_dim = 8
    fusion = create_fusion("subspace", in_dims={m: 8 for m in IN}, embed_dim=8, latent_dim=3, hidden_dims=(8,))
    net = MultimodalNet(encoders, fusion, nn.Linear(8, 1))
    gen = torch.Generator().manual_seed(1)
    batch = {"inputs": {m: torch.randn(6, d, generator=gen) for m, d in IN.items()},
             "mask": {"ecg": torch.tensor([1, 1, 0, 1, 0, 1]).bool(),
                      "tabular": torch.tensor([1, 0, 1, 1, 0, 1]).bool()},
             "targets": {"mace": torch.tensor([0.0, 1.0, 1.0, 0.0, float("nan"), 1.0])}, "index": torch.arange(6)}
    return net, batch


def test_training_loss_is_task_loss_plus_mean_elbo_and_trains_the_decoders() -> None:
    net, batch = net_and_batch()
    task = BinaryTask(target="mace")
    module = MultimodalModule(net, task, functools.partial(torch.optim.SGD, lr=0.1))
    module.log = lambda *a, **k: None  # no trainer attached
    torch.manual_seed(2)
    loss = module._step(batch, "train")
    torch.manual_seed(2)  # the same reparameterised sample
    out = net(batch["inputs"], batch["mask"])
    expected = task.loss(out["logits"], batch["targets"]) + out["aux_loss"].mean()
    torch.testing.assert_close(loss, expected)
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.fusion.decoders.parameters())
    net.eval()
    assert "aux_loss" not in net(batch["inputs"], batch["mask"])  # eval: the task's outputs only
    assert module._step(batch, "val").shape == ()


@pytest.mark.filterwarnings("ignore:Full backward hook is firing")
def test_dp_objective_adds_the_elbo_per_row() -> None:
    net, batch = net_and_batch()
    task = BinaryTask(target="mace")
    objective = DPObjective(task, net.parameters())
    model = GradSampleModule(net, loss_reduction="sum")
    out = model(batch["inputs"], batch["mask"])
    objective(out["logits"], batch["targets"], aux=out["aux_loss"]).backward()
    for name, p in net.named_parameters():  # every parameter, decoders included, has exact per-sample gradients
        assert p.grad_sample is not None and p.grad_sample.shape == (6, *p.shape), name
        torch.testing.assert_close(p.grad_sample.sum(0), p.grad, rtol=1e-4, atol=1e-6, msg=name)
    model._close()


def test_the_elbo_trains_experts_and_decoders_but_never_the_encoders() -> None:
    net, batch = net_and_batch()
    out = net.train()(batch["inputs"], batch["mask"])
    out["aux_loss"].mean().backward()
    for name, p in net.encoders.named_parameters():
        assert p.grad is None or p.grad.abs().sum() == 0, f"the ELBO reached encoder parameter {name}"
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.fusion.experts.parameters())
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in net.fusion.decoders.parameters())
    net.zero_grad()
    net.fusion.shield_encoders = False  # unshielded: the ELBO's gradient flows into the encoders through the experts
    net(batch["inputs"], batch["mask"])["aux_loss"].mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.encoders.parameters())


def test_the_task_still_trains_the_encoders_through_the_subspace() -> None:
    net, batch = net_and_batch()
    out = net.train()(batch["inputs"], batch["mask"])
    BinaryTask(target="mace").loss(out["logits"], batch["targets"]).backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.encoders.parameters())
