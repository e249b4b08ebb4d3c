"""Early stopping of a benchmark cell on an inner validation split of its fold's training rows.

With ``train.early_stopping`` set, a cell holds out ``val_fraction`` of the fold's training rows (stratified by
the target where it is a class label), trains for at most ``train.max_epochs`` epochs, stops once the validation
loss has not improved for ``patience`` epochs and keeps the weights of its best epoch. The test rows are never
seen before scoring, as with fixed epochs; the linear baselines select their penalty by inner cross-validation in
the same spirit.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from sklearn.model_selection import train_test_split

from nextgen_ml.benchmark.config import EarlyStoppingConfig

#: the logged quantity a cell's early stopping watches (``MultimodalModule`` logs it every validation epoch)
MONITOR = "val/loss"


#: label kinds whose validation split is stratified by class (missing label = its own stratum)
STRATIFIED_KINDS: tuple[str, ...] = ("binary", "multiclass")


def inner_split(samples: Sequence[dict[str, Any]], target: str, kind: str, val_fraction: float, seed: int
                ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Split a fold's training samples into (inner training, validation), stratified by ``target`` when its
    ``kind`` is in :data:`STRATIFIED_KINDS`; deterministic in ``seed``.

    Raises:
        ValueError: fewer than 4 training samples, or a split that leaves either side empty.
    """
    n = len(samples)
    n_val = int(round(val_fraction * n))
    if n < 4 or not 1 <= n_val < n:
        raise ValueError(f"train.early_stopping: cannot hold out {val_fraction:.0%} of {n} training rows for "
                         "validation; lower val_fraction or turn early stopping off")
    strata = None
    if kind in STRATIFIED_KINDS:  # encoded class ids; missing (NaN / -1) is its own stratum
        y = np.array([float(s["targets"][target]) for s in samples])
        strata = np.where(np.isfinite(y), y, -1.0)
    try:
        train_idx, val_idx = train_test_split(np.arange(n), test_size=n_val, random_state=seed, stratify=strata)
    except ValueError:  # a class too small for the validation share: fall back to a plain random split
        train_idx, val_idx = train_test_split(np.arange(n), test_size=n_val, random_state=seed)
    return [samples[i] for i in sorted(train_idx)], [samples[i] for i in sorted(val_idx)]


class BestWeights(pl.Callback):
    """Keep a copy of the weights at the lowest ``monitor`` seen and load them back when fitting ends.

    Attributes:
        best: the best monitored value (``inf`` before the first validation).
        best_epoch: the epoch (0-based) that reached it.
    """

    def __init__(self, monitor: str = MONITOR, min_delta: float = 0.0) -> None:
        self.monitor, self.min_delta = monitor, min_delta
        self.best, self.best_epoch = float("inf"), -1
        self._state: dict[str, torch.Tensor] | None = None

    def on_validation_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            raise RuntimeError(f"early stopping: {self.monitor!r} was not logged during validation")
        value = float(value)
        if value < self.best - self.min_delta:
            self.best, self.best_epoch = value, trainer.current_epoch
            self._state = copy.deepcopy(pl_module.state_dict())

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self._state is not None:
            pl_module.load_state_dict(self._state)


def early_stopping_callbacks(cfg: EarlyStoppingConfig) -> list[pl.Callback]:
    """Lightning's ``EarlyStopping`` on the validation loss and the best-weights keeper (in memory, no files)."""
    stop = pl.callbacks.EarlyStopping(MONITOR, patience=cfg.patience, min_delta=cfg.min_delta, mode="min",
                                      check_finite=True, verbose=False)
    return [stop, BestWeights(MONITOR, cfg.min_delta)]
