"""Early stopping of benchmark cells: the inner validation split, the best-weights callback, the config and a cell
fitted with it on the session's tiny store."""

from __future__ import annotations

from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from nextgen_ml.benchmark.cell import fit_cell
from nextgen_ml.benchmark.config import EarlyStoppingConfig, Setting, cell_key, load_config
from nextgen_ml.benchmark.data import FoldData
from nextgen_ml.benchmark.early_stop import early_stopping_callbacks, inner_split
from nextgen_ml.benchmark.folds import make_folds, store_meta
from nextgen_ml.data.dataset import Collate


def _samples(y: list[float]) -> list[dict]:
    return [{"targets": {"y": np.float32(v)}, "index": i} for i, v in enumerate(y)]


def test_inner_split_is_a_stratified_deterministic_partition() -> None:
    y = [1.0] * 30 + [0.0] * 70 + [np.nan] * 10
    samples = _samples(y)
    train, val = inner_split(samples, "y", "binary", 0.2, seed=7)
    ids_t, ids_v = [s["index"] for s in train], [s["index"] for s in val]
    assert len(ids_v) == 22 and sorted(ids_t + ids_v) == list(range(110)) and not set(ids_t) & set(ids_v)
    val_y = np.array([y[i] for i in ids_v])
    assert (val_y == 1).sum() == 6 and (val_y == 0).sum() == 14 and np.isnan(val_y).sum() == 2  # strata kept
    again = [s["index"] for s in inner_split(samples, "y", "binary", 0.2, seed=7)[1]]
    other = [s["index"] for s in inner_split(samples, "y", "binary", 0.2, seed=8)[1]]
    assert again == ids_v and other != ids_v


def test_inner_split_of_continuous_and_vector_targets_is_random() -> None:
    rng = np.random.default_rng(0)
    cont = _samples(list(rng.normal(55, 10, 50)))  # a regression label (LVEF-like)
    train, val = inner_split(cont, "y", "regression", 0.3, seed=0)
    assert len(val) == 15 and len(train) == 35
    surv = [{"targets": {"y": np.array([t, e], dtype=np.float32)}, "index": i}
            for i, (t, e) in enumerate(zip(rng.uniform(0, 5, 40), rng.integers(0, 2, 40)))]
    assert len(inner_split(surv, "y", "survival", 0.25, seed=0)[1]) == 10


def test_inner_split_refuses_a_split_that_leaves_a_side_empty() -> None:
    with pytest.raises(ValueError, match="cannot hold out 10% of 3 training rows"):
        inner_split(_samples([0.0, 1.0, 0.0]), "y", "binary", 0.1, seed=0)


class _Quadratic(pl.LightningModule):
    """One weight ``w`` that SGD raises by exactly 1 per epoch; the validation loss is ``(w - 3)^2``."""

    def __init__(self) -> None:
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(()))

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        return -self.w + 0.0 * batch.sum()

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        self.log("val/loss", (self.w - 3.0) ** 2 + 0.0 * batch.sum())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD(self.parameters(), lr=1.0)


def test_training_stops_after_patience_and_keeps_the_best_epochs_weights() -> None:
    module = _Quadratic()
    callbacks = early_stopping_callbacks(EarlyStoppingConfig(patience=2))
    trainer = pl.Trainer(max_epochs=20, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, num_sanity_val_steps=0, callbacks=callbacks)
    data = DataLoader(torch.zeros(1, 1), batch_size=1)
    trainer.fit(module, train_dataloaders=data, val_dataloaders=data)
    # val losses after epochs 0..4: w = 1, 2, 3, 4, 5 → 4, 1, 0, 1, 4: best at epoch 2, two worse epochs, stop
    assert trainer.current_epoch == 5 and callbacks[1].best_epoch == 2 and callbacks[1].best == 0.0
    assert float(module.w) == 3.0  # the best epoch's weight, not the last one (5)


@pytest.mark.parametrize(("value", "message"), [
    ("{patience: 0}", "patience must be >= 1"),
    ("{val_fraction: 0.7}", r"val_fraction must be in \(0, 0.5\]"),
    ("{patients: 3}", "train.early_stopping.patients"),
])
def test_bad_early_stopping_settings_are_refused_by_key(value: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        load_config(None, [f"train.early_stopping={value}"])


def test_cell_keys_change_only_when_early_stopping_is_set() -> None:
    setting = Setting("tabular_only", "concat", ["tabular"])
    plain = load_config(None, [])
    explicit_off = load_config(None, ["train.early_stopping=null"])
    on = load_config(None, ["train.early_stopping={patience: 3}"])
    key = cell_key(plain.cell_spec(setting, 0, 0))
    assert "early_stopping" not in plain.cell_spec(setting, 0, 0)["train"]  # keys of earlier results unchanged
    assert cell_key(explicit_off.cell_spec(setting, 0, 0)) == key
    assert cell_key(on.cell_spec(setting, 0, 0)) != key


def test_a_cell_with_early_stopping_returns_its_best_epochs_weights(tiny_store: Path) -> None:
    cfg = load_config(None, [f"data.data_dir={tiny_store}", "data.cohort=null", "cv.k=2", "cv.seeds=[0]",
                             "train.max_epochs=8", "train.lr=0.05", "model.embed_dim=8",
                             "model.encoders={tabular: {name: tabular_mlp, hidden: [16]}}",
                             "train.early_stopping={patience: 2, val_fraction: 0.3}"])
    data = FoldData(cfg, make_folds(cfg, store_meta(tiny_store), 0)[0], ["tabular"], seed=0)
    module = fit_cell(cfg, Setting("tabular_only", "concat", ["tabular"]), data, seed=0, fold=0)
    info = module.early_stopping
    _, val = inner_split(data.samples["train"], cfg.data.target, "binary", 0.3, seed=0)
    assert info["n_val"] == len(val) == round(0.3 * len(data.samples["train"]))
    assert 1 <= info["best_epoch"] <= info["epochs"] <= 8
    trainer = pl.Trainer(logger=False, enable_progress_bar=False, enable_model_summary=False)
    loader = DataLoader(val, batch_size=len(val), collate_fn=Collate(["tabular"]))
    loss = trainer.validate(module, loader, verbose=False)[0]["val/loss"]
    assert loss == pytest.approx(info["best_val_loss"], rel=1e-5)  # the weights returned are the best epoch's
