"""Exact resume: a fit killed mid-epoch and resumed from its checkpoint ends with the uninterrupted run's weights
and metrics (CPU, same seed) — issue 17 item 6; a DP run with the same ε and steps, and with its secret noise key
the same weights."""

from __future__ import annotations

import json
import logging
import shutil
import stat
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch

from nextgen_ml.privacy import DPCallback
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


# ---------------------------------------------------------------------------------------------- DP runs
#: secure (ChaCha20) noise and sampling with a fresh key per run; 2 epochs of ~6 batches
DP_RUN = [*RUN, "privacy=dp", "privacy.accountant=rdp", "trainer.max_epochs=2", "trainer.limit_val_batches=1"]


class SaveAt(pl.Callback):
    """Checkpoints after optimizer step ``at`` and keeps a copy of the run's noise key file next to it (what a run
    killed right after that checkpoint leaves on disk); the fit goes on."""

    def __init__(self, at: int, path: Path) -> None:
        self.at, self.path = at, path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):  # noqa: ANN001
        if trainer.global_step == self.at and not self.path.exists():
            trainer.save_checkpoint(self.path)
            for key in Path(trainer.checkpoint_callback.dirpath).glob("dp_noise_*.key"):
                shutil.copy2(key, self.path.parent / key.name)


def _dp_fit(cfg, extra=(), ckpt_path=None):  # noqa: ANN001, ANN202
    pl.seed_everything(cfg.seed, workers=True)
    dm = build_datamodule(cfg)
    dm.setup()
    module = build_module(cfg, dm)
    trainer = build_trainer(cfg, extra_callbacks=list(extra))
    trainer.fit(module, datamodule=dm, ckpt_path=ckpt_path)
    dp = next(c for c in trainer.callbacks if isinstance(c, DPCallback))
    return [p.detach().clone() for p in module.net.parameters()], dp


@pytest.mark.slow
def test_a_dp_run_killed_mid_epoch_resumes_to_the_same_epsilon_steps_and_with_its_key_the_same_weights(
        make_cfg, tmp_path, caplog):
    # uninterrupted run A, with the checkpoint (and key file) a kill at step 4 (mid-epoch 0) would have left
    saved = tmp_path / "at4"
    saved.mkdir()
    weights, full = _dp_fit(make_cfg(DP_RUN), [SaveAt(4, saved / "step4.ckpt")])
    keys = list(saved.glob("dp_noise_*.key"))
    assert len(keys) == 1 and stat.S_IMODE(keys[0].stat().st_mode) == 0o600
    key = bytes.fromhex(json.loads(keys[0].read_text())["key"])
    raw = (saved / "step4.ckpt").read_bytes()
    assert key not in raw and key.hex().encode() not in raw  # the checkpoint names the key, never holds it
    assert torch.load(saved / "step4.ckpt", weights_only=False)["callbacks"]["DPCallback"]["noise_key_id"]
    assert not list(Path(make_cfg(DP_RUN).paths.output_dir, "checkpoints").glob("dp_noise_*.key"))  # done: removed

    # resumed from that checkpoint with the key: the same streams, so bitwise the same run
    resumed, dp = _dp_fit(make_cfg(DP_RUN), ckpt_path=str(saved / "step4.ckpt"))
    assert dp.noise_continued and dp.steps == full.steps and dp.epsilon() == full.epsilon()
    assert all(torch.equal(a, b) for a, b in zip(weights, resumed, strict=True))

    # a real kill at step 9 (mid-epoch 1) of another run (its own fresh key), resumed from what it left
    killed = tmp_path / "killed.ckpt"
    with pytest.raises(RuntimeError, match="killed"):
        _dp_fit(make_cfg(DP_RUN), [Kill(9, killed)])
    _, dp = _dp_fit(make_cfg(DP_RUN), ckpt_path=str(killed))
    assert dp.noise_continued and dp.steps == full.steps and dp.epsilon() == full.epsilon()

    # without the key file: a fresh key, loudly; the budget still continues exactly
    keys[0].unlink()
    with caplog.at_level(logging.WARNING, logger="nextgen_ml.privacy.callback"):
        other, dp = _dp_fit(make_cfg(DP_RUN), ckpt_path=str(saved / "step4.ckpt"))
    assert "FRESH NOISE KEY" in caplog.text and dp.noise_continued is False
    assert dp.steps == full.steps and dp.epsilon() == full.epsilon()
    assert not all(torch.equal(a, b) for a, b in zip(weights, other, strict=True))
