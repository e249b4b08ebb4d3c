"""DP-SGD fits: empty Poisson batches with dict samples, the budget stop, resume, refusals."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import lightning.pytorch as pl
import pytest
import torch
from opacus.data_loader import DPDataLoader

from nextgen_ml.privacy import DPCallback, DPConfig
from nextgen_ml.privacy.accounting import epsilon_of
from nextgen_ml.privacy.guards import check_trainer
from nextgen_ml.privacy.loader import dp_loader
from nextgen_ml.privacy.randomness import DPRandomness
from nextgen_ml.training import train
from nextgen_ml.training.factory import build_datamodule, build_module, build_trainer

TAB = ["+experiment=tabular_only", "model.encoder.tabular.name=tabular_mlp"]


class BatchSizes(pl.Callback):
    """Records the rows of every training batch."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.sizes.append(int(batch["index"].shape[0]))


def _fit(cfg, extra=()):
    pl.seed_everything(cfg.seed, workers=True)
    dm = build_datamodule(cfg)
    dm.setup()
    module = build_module(cfg, dm)
    trainer = build_trainer(cfg, extra_callbacks=list(extra))
    dp = next(c for c in trainer.callbacks if isinstance(c, DPCallback))
    return trainer, module, dm, dp


def test_opacus_alone_breaks_on_an_empty_first_dict_batch_and_ours_is_well_formed(make_dp_cfg):
    cfg = make_dp_cfg(TAB)
    dm = build_datamodule(cfg)
    dm.setup()
    loader = dm.train_dataloader()
    torch.manual_seed(0)
    shipped = DPDataLoader.from_data_loader(loader)
    with pytest.raises(TypeError):  # Opacus builds zeros from dataset[0]'s dict keys and crashes
        shipped.collate_fn([])

    empty = dp_loader(loader, sample_rate=1e-6).collate_fn([])
    assert empty["inputs"] == {} and empty["index"].shape == (0,)
    assert set(empty["mask"]) == {"tabular"} and empty["mask"]["tabular"].dtype == torch.bool
    assert empty["targets"]["findings"].shape[0] == 0 and empty["targets"]["findings"].ndim == 2
    assert empty["targets"]["diagnosis"].dtype == torch.long
    # q ≈ 0 and a seeded (debug) generator: the draws are empty, and the same on every run
    draws = dp_loader(loader, sample_rate=1e-9, randomness=DPRandomness(reproducible=True, seed=0))
    batches = list(itertools.islice(iter(draws), 5))
    assert len(batches) == 5 and all(b["index"].numel() == 0 and b["inputs"] == {} for b in batches)


def test_empty_batches_still_take_a_noisy_step(make_dp_cfg):
    # batch_size 1 → q = 1/N: about a third of the Poisson batches are empty
    cfg = make_dp_cfg([*TAB, "data.batch_size=1", "trainer.limit_train_batches=8", "trainer.max_epochs=1"])
    sizes = BatchSizes()
    trainer, module, dm, dp = _fit(cfg, [sizes])
    before = [p.detach().clone() for p in module.net.parameters()]
    trainer.fit(module, datamodule=dm)
    assert 0 in sizes.sizes, sizes.sizes
    assert dp.steps == len(sizes.sizes) == 8  # every batch, empty or not, is one accounted noisy step
    assert all(not torch.equal(a, p) for a, p in zip(before, module.net.parameters()))
    assert module.train_objective is None  # Opacus is detached after fit


def test_training_stops_at_the_last_step_within_the_budget(make_dp_cfg):
    cfg = make_dp_cfg([*TAB, "privacy.noise_multiplier=1.0", "privacy.target_epsilon=2.5", "trainer.max_epochs=3",
                       "trainer.limit_train_batches=null"])
    trainer, module, dm, dp = _fit(cfg)
    trainer.fit(module, datamodule=dm)
    q, delta = dp.sample_rate, dp.delta
    assert 0 < dp.steps < dp.planned
    assert epsilon_of("rdp", 1.0, q, dp.steps, delta) <= 2.5 < epsilon_of("rdp", 1.0, q, dp.steps + 1, delta)
    assert dp.epsilon() <= 2.5


def test_resumed_run_ends_with_the_same_epsilon_as_an_uninterrupted_one(make_dp_cfg):
    common = [*TAB, "trainer.limit_train_batches=3", "trainer.limit_val_batches=1", "privacy.epochs=2"]
    full = train(make_dp_cfg([*common, "trainer.max_epochs=2"], run="full"))
    first = make_dp_cfg([*common, "trainer.max_epochs=1"], run="first")
    half = train(first)
    last = Path(first.paths.output_dir) / "checkpoints" / "last.ckpt"
    ckpt = torch.load(last, weights_only=False)
    assert ckpt["callbacks"]["DPCallback"]["accountant"]["history"]  # the accountant travels in the checkpoint
    resumed = train(make_dp_cfg([*common, "trainer.max_epochs=2", f"ckpt_path={last}"], run="resumed"))
    assert half["privacy/steps"] == 3 and full["privacy/steps"] == resumed["privacy/steps"] == 6
    assert resumed["privacy/epsilon"] == pytest.approx(full["privacy/epsilon"], rel=1e-9)
    assert half["privacy/epsilon"] < full["privacy/epsilon"]
    saved = json.loads((Path(first.paths.output_dir).parent / "resumed" / "metrics.json").read_text())
    assert saved["privacy/epsilon"] == pytest.approx(full["privacy/epsilon"])


@pytest.mark.parametrize(("override", "match"), [
    ("trainer.accumulate_grad_batches=2", "accumulate_grad_batches"),
    ("trainer.gradient_clip_val=1.0", "gradient_clip_val"),
    ("task=survival", "survival"),
])
def test_settings_that_would_falsify_epsilon_are_refused(make_dp_cfg, override, match):
    cfg = make_dp_cfg([*TAB, override])  # a survival label stratifies on its event by itself
    trainer, module, dm, _ = _fit(cfg)
    with pytest.raises(ValueError, match=match):
        trainer.fit(module, datamodule=dm)


def test_non_poisson_sampling_and_ddp_are_refused():
    with pytest.raises(ValueError, match="Poisson"):
        DPConfig(poisson_sampling=False)
    ddp = pl.Trainer(accelerator="cpu", devices=2, strategy="ddp", logger=False, enable_checkpointing=False)
    with pytest.raises(ValueError, match="multi-process"):
        check_trainer(ddp)


def test_a_second_fit_on_the_same_budget_is_refused(make_dp_cfg):
    cfg = make_dp_cfg([*TAB, "trainer.max_epochs=1"])
    trainer, module, dm, dp = _fit(cfg)
    trainer.fit(module, datamodule=dm)
    again = pl.Trainer(accelerator="cpu", max_epochs=2, callbacks=[dp], logger=False, enable_checkpointing=False)
    with pytest.raises(RuntimeError, match="already trained on its budget"):
        again.fit(module, datamodule=dm)


@pytest.mark.parametrize("mode", ["functorch", "ghost"])
def test_every_grad_sample_mode_trains(make_dp_cfg, mode):
    cfg = make_dp_cfg([*TAB, "trainer.max_epochs=1", "trainer.limit_train_batches=null",
                       f"privacy.grad_sample_mode={mode}", "privacy.max_physical_batch_size=8"])
    sizes = BatchSizes()
    trainer, module, dm, dp = _fit(cfg, [sizes])
    before = [p.detach().clone() for p in module.net.parameters()]
    trainer.fit(module, datamodule=dm)
    assert max(sizes.sizes) <= 8 and len(sizes.sizes) > dp.steps  # Poisson batches split into physical ones
    assert dp.steps == dp.planned == round(1 / dp.sample_rate)  # but one noisy step per logical batch
    assert all(not torch.equal(a, p) for a, p in zip(before, module.net.parameters()))
