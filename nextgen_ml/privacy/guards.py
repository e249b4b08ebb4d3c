"""Refusals: trainer settings under which the reported ε would be wrong."""

from __future__ import annotations

import lightning.pytorch as pl


def check_trainer(trainer: pl.Trainer) -> None:
    """Raise ``ValueError`` naming the setting if ``trainer`` would invalidate DP-SGD accounting.

    Refused: gradient accumulation (several Poisson batches per noisy step change the sampling rate), Lightning
    gradient clipping (it clips the already-noised batch gradient, not per sample), multi-process training
    (Lightning DDP would add noise on every rank and sample each rank independently), and fits without a
    datamodule (the training-set size fixes q and δ).
    """
    if trainer.accumulate_grad_batches != 1:
        raise ValueError(f"privacy=dp refuses trainer.accumulate_grad_batches={trainer.accumulate_grad_batches}: "
                         "ε assumes one Poisson batch per noisy step; use privacy.max_physical_batch_size to split "
                         "large logical batches instead")
    if trainer.gradient_clip_val not in (None, 0, 0.0):
        raise ValueError(f"privacy=dp refuses trainer.gradient_clip_val={trainer.gradient_clip_val}: DP-SGD already "
                         "clips every per-sample gradient at privacy.max_grad_norm; set gradient_clip_val=null")
    if trainer.world_size > 1:
        raise ValueError(f"privacy=dp refuses multi-process training (world_size={trainer.world_size}, strategy "
                         f"{type(trainer.strategy).__name__}): Lightning DDP would sample and add noise on every "
                         "rank, so the accountant's ε would be wrong. Train DP runs on one device.")
    if trainer.datamodule is None:
        raise ValueError("privacy=dp needs trainer.fit(..., datamodule=CardioDataModule): the training-set size "
                         "fixes the sampling rate and δ")
