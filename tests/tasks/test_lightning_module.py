"""MultimodalModule: fast_dev_run on tiny in-memory dict batches for every task, logging and optimizers."""

from __future__ import annotations

import functools

import lightning.pytorch as pl
import pytest
import torch
from torch import Tensor, nn
from torch.utils.data import DataLoader, Dataset

from nextgen_ml.models import build_multimodal_net
from nextgen_ml.tasks import MultimodalModule, create_task

TASK_KWARGS = {"binary": {}, "multiclass": {"num_classes": 5}, "multilabel": {"num_labels": 6},
               "regression": {"loc": 55.0, "scale": 10.0}, "survival": {}}


class TinyEncoder(nn.Module):
    """Encoder contract in miniature: ``(B, in_dim)`` → ``(B, D)`` / ``(B, 2, D)``."""

    def __init__(self, in_dim: int, embed_dim: int = 8) -> None:
        super().__init__()
        self.out_dim = embed_dim
        self.proj = nn.Linear(in_dim, 2 * embed_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_tokens(x).mean(1)

    def forward_tokens(self, x: Tensor) -> Tensor:
        return self.proj(x).view(x.shape[0], 2, self.out_dim)  # (B, 2, D)


class DictDataset(Dataset):
    """Tiny cohort of dict samples in the batch contract (default collate stacks them)."""

    def __init__(self, n: int = 24) -> None:
        g = torch.Generator().manual_seed(0)
        self.ecg, self.tab = torch.randn(n, 12, generator=g), torch.randn(n, 5, generator=g)
        self.mask = torch.rand(n, 2, generator=g) > 0.3
        self.targets = {
            "mace": (torch.rand(n, generator=g) > 0.5).float(),
            "diagnosis": torch.arange(n) % 5,
            "findings": (torch.rand(n, 6, generator=g) > 0.5).float(),
            "lvef": 55 + 10 * torch.randn(n, generator=g),
            "time_to_mace": torch.stack(
                [torch.rand(n, generator=g) * 5, (torch.rand(n, generator=g) > 0.4).float()], dim=1
            ),
        }
        self.targets["mace"][0] = float("nan")

    def __len__(self) -> int:
        return len(self.ecg)

    def __getitem__(self, i: int) -> dict:
        return {"inputs": {"ecg": self.ecg[i], "tabular": self.tab[i]},
                "mask": {"ecg": self.mask[i, 0], "tabular": self.mask[i, 1]},
                "targets": {k: v[i] for k, v in self.targets.items()}, "index": i}


def make_module(kind: str, fusion: str = "concat", scheduler=None) -> MultimodalModule:
    task = create_task(kind, **TASK_KWARGS[kind])
    torch.manual_seed(0)
    net = build_multimodal_net({"ecg": TinyEncoder(12), "tabular": TinyEncoder(5)}, fusion, task.num_outputs,
                               embed_dim=16)
    return MultimodalModule(net, task, functools.partial(torch.optim.AdamW, lr=1e-3), scheduler)


def loader() -> DataLoader:
    return DataLoader(DictDataset(), batch_size=8)


def trainer(**kwargs) -> pl.Trainer:
    return pl.Trainer(accelerator="cpu", logger=False, enable_checkpointing=False, enable_progress_bar=False,
                      enable_model_summary=False, **kwargs)


@pytest.mark.parametrize("kind", sorted(TASK_KWARGS))
def test_fast_dev_run_every_task(kind: str) -> None:
    module = make_module(kind, fusion="cross_attention" if kind == "survival" else "concat")
    before = [p.detach().clone() for p in module.parameters()]
    trainer(fast_dev_run=True).fit(module, loader(), loader())
    assert any(not torch.equal(a, b) for a, b in zip(before, module.parameters()))
    logged = module.trainer.callback_metrics
    assert "train/loss" in logged and "val/loss" in logged
    task = module.task
    assert f"val/{task.main_metric}" in logged
    assert all(f"val/{name}" in logged for name in task.metrics())


def test_validate_test_and_predict_outputs() -> None:
    module = make_module("binary")
    t = trainer(limit_val_batches=2, limit_test_batches=2, limit_predict_batches=2)
    val = t.validate(module, loader())[0]
    assert {"val/loss", "val/auroc", "val/auprc", "val/accuracy", "val/f1"} <= set(val)
    assert 0.0 <= val["val/auroc"] <= 1.0
    test = t.test(module, loader())[0]
    assert {"test/loss", "test/auroc"} <= set(test)
    preds = t.predict(module, loader())
    prob = preds[0]["prediction"]
    assert prob.shape == (8,) and torch.all((prob >= 0) & (prob <= 1))
    assert preds[0]["embedding"].shape == (8, 16) and preds[0]["index"].tolist() == list(range(8))


def test_metrics_are_separate_per_stage_and_no_pickled_hparams() -> None:
    module = make_module("regression")
    assert module.stage_metrics("train") is not module.stage_metrics("val")
    assert sorted(module.stage_metrics("test").keys()) == ["test/mae", "test/r2", "test/rmse"]
    with pytest.raises(ValueError, match="stage"):
        module.stage_metrics("predict")
    # objects in hparams would make checkpoints unloadable with torch.load(weights_only=True)
    assert not module.hparams


def test_configure_optimizers_with_plateau_scheduler() -> None:
    sched = functools.partial(torch.optim.lr_scheduler.ReduceLROnPlateau, patience=1)
    config = make_module("binary", scheduler=sched).configure_optimizers()
    assert isinstance(config["optimizer"], torch.optim.AdamW)
    assert config["lr_scheduler"]["monitor"] == "val/loss"
    step = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1)
    assert "monitor" not in make_module("binary", scheduler=step).configure_optimizers()["lr_scheduler"]
    assert isinstance(make_module("binary").configure_optimizers(), torch.optim.AdamW)
