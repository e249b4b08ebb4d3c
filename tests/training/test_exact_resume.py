"""Exact resume: a fit killed mid-epoch and resumed from its checkpoint ends with the uninterrupted run's weights
and metrics (CPU, same seed) — issue 17 item 6."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from nextgen_ml.training.factory import build_datamodule, build_module, build_trainer
from nextgen_ml.training.resume import EpochSampler

#: tabular MLP with dropout (draws from torch's global generator every step), 3 epochs of every training batch
RUN = ["+experiment=tabular_only", "model.encoder.tabular.name=tabular_mlp", "model.dropout=0.3",
       "trainer.max_epochs=3", "trainer.limit_train_batches=null", "trainer.limit_val_batches=null", "plots=false",
       "audit_log=null"]


class Kill(pl.Callback):
    """Writes a checkpoint after optimizer step ``at`` (as ModelCheckpoint would), then dies."""

    def __init__(self, at: int, path: Path) -> None:
        self.at, self.path = at, path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):  # noqa: ANN001
        if trainer.global_step == self.at:
            trainer.save_checkpoint(self.path)
            raise RuntimeError("killed")


def _fit(cfg, extra=(), ckpt_path=None):  # noqa: ANN001, ANN202
    pl.seed_everything(cfg.seed, workers=True)
    dm = build_datamodule(cfg)
    dm.setup()
    module = build_module(cfg, dm)
    trainer = build_trainer(cfg, extra_callbacks=list(extra))
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    metrics = {k: float(v) for k, v in trainer.validate(module, datamodule=dm, verbose=False)[0].items()}
    return [p.detach().clone() for p in module.net.parameters()], metrics


def test_the_batch_order_is_a_function_of_seed_and_epoch_and_resumes_mid_epoch():
    a, b = EpochSampler(10, seed=3), EpochSampler(10, seed=3)
    a.set_epoch(2)
    b.set_epoch(2)
    order = list(a)
    assert order == list(b) and sorted(order) == list(range(10))
    b.resume = (2, 4)  # 4 samples of epoch 2 already trained
    assert list(b) == order[4:] and list(b) == order  # the skip applies once
    b.set_epoch(3)
    assert list(b) != order


@pytest.mark.slow
@pytest.mark.parametrize("kill_at", [4, 9])  # mid-epoch 0 and mid-epoch 1 (~6 batches per epoch)
def test_a_run_killed_mid_epoch_resumes_to_the_same_weights_and_metrics(make_cfg, tmp_path, kill_at):
    cfg = make_cfg(RUN)
    weights, metrics = _fit(cfg)
    ckpt = tmp_path / f"killed_at_{kill_at}.ckpt"
    with pytest.raises(RuntimeError, match="killed"):
        _fit(make_cfg(RUN), [Kill(kill_at, ckpt)])
    resumed_weights, resumed_metrics = _fit(make_cfg(RUN), ckpt_path=str(ckpt))
    assert all(torch.equal(a, b) for a, b in zip(weights, resumed_weights, strict=True))
    assert resumed_metrics == metrics
