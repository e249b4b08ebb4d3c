"""Building blocks of scripts/bench_train.py and scripts/bench_memory.py, the bounded datamodule fit, and the
multi-GPU trainer configs, on the session's tiny cohort."""

from __future__ import annotations

import copy
import sys
from pathlib import Path

import hydra
import numpy as np
import pytest
import torch
from torchmetrics.classification import BinaryAUROC

from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.training.factory import build_datamodule, build_module, build_trainer
from scripts.bench_memory import run_with_rss, train_command
from scripts.bench_train import (
    compose_config,
    prepare_net,
    reset,
    run_framework,
    run_loop,
    samples_for_steps,
    to_device,
)

TINY = ["data=store", "data.batch_size=16", "data.transforms.image.size=32", "data.transforms.text.max_len=32",
        "model.embed_dim=32", "model.dropout=0.0", "trainer.num_sanity_val_steps=0"]


def _cfg(tiny_store: Path, tmp_path: Path, *overrides: str):
    cfg = compose_config([*TINY, f"data.data_dir={tiny_store}", f"paths.output_dir={tmp_path}/run", *overrides])
    return cfg


def test_samples_for_steps() -> None:
    assert samples_for_steps(100, 32, 3) == 96
    assert samples_for_steps(100, 32, 4) == 100  # last batch of the epoch has 4 records
    assert samples_for_steps(100, 32, 6) == 164  # one epoch + 2 full batches
    assert samples_for_steps(64, 32, 4) == 128


def test_to_device_moves_nested_tensors() -> None:
    batch = {"inputs": {"ecg": torch.zeros(2, 3)}, "mask": {"ecg": torch.ones(2, dtype=torch.bool)}, "index": 3}
    moved = to_device(batch, torch.device("cpu"))
    assert moved["inputs"]["ecg"].shape == (2, 3) and moved["index"] == 3


@pytest.mark.slow
def test_train_metrics_updated_once_per_epoch_equal_per_sample_metrics(tiny_store: Path, tmp_path: Path) -> None:
    """The epoch's train/auroc is the AUROC of every logit the training steps produced (nothing lost or doubled)."""
    cfg = _cfg(tiny_store, tmp_path, "trainer=debug", "trainer.limit_train_batches=3", "logger=none",
               "callbacks=none", "data.modalities=[tabular,genomics]")
    dm = build_datamodule(cfg)
    dm.setup()
    module = build_module(cfg, dm)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    original_step = module.training_step

    def spy(batch, batch_idx):
        out = module.net(batch["inputs"], batch["mask"])  # same weights as the step's own forward (no dropout)
        seen.append((torch.sigmoid(out["logits"][:, 0]).detach(), batch["targets"]["mace"]))
        return original_step(batch, batch_idx)

    module.training_step = spy
    trainer = build_trainer(cfg)
    trainer.fit(module, datamodule=dm)
    probs, y = torch.cat([s[0] for s in seen]), torch.cat([s[1] for s in seen])
    keep = ~torch.isnan(y)
    expected = BinaryAUROC()(probs[keep], y[keep].long())
    assert len(seen) == 3
    assert torch.isclose(trainer.callback_metrics["train/auroc"], expected, atol=1e-6)
    assert module._train_outputs == []


@pytest.mark.slow
def test_framework_and_loop_train_the_same_steps(tiny_store: Path, tmp_path: Path) -> None:
    cfg = _cfg(tiny_store, tmp_path, "trainer.limit_val_batches=0", "data.modalities=[ecg,tabular,text]")
    dm = build_datamodule(cfg)
    dm.setup()
    net = prepare_net(cfg, dm, channels_last=False, compile_net=False)
    initial = copy.deepcopy(net.state_dict())
    assert run_framework(cfg, dm, net, initial, steps=3) > 0  # raises if the trainer ran another number of steps
    trained = copy.deepcopy(net.state_dict())
    assert any(not torch.equal(trained[k], initial[k]) for k in initial)  # the framework run did train the net
    assert run_loop(cfg, dm, net, initial, steps=3, device="cpu") > 0  # restarts from the initial weights
    reset(net, initial)
    assert all(torch.equal(net.state_dict()[k], initial[k]) for k in initial)


def test_datamodule_fits_transforms_on_a_bounded_subsample(tiny_store: Path) -> None:
    capped = CardioDataModule(tiny_store, modalities=["tabular", "text"], fit_max_records=20, seed=3)
    capped.setup()
    train = capped.split_indices["train"]
    sample = capped._fit_sample(train)
    assert len(sample) == 20 and np.all(np.isin(sample, train)) and np.all(np.diff(sample) > 0)
    rows = capped.store.subset(sample).column("tabular").to_pylist()
    ages = [r["age"] for r in rows if r and r.get("age") is not None]
    assert capped.transforms["tabular"].mean["age"] == pytest.approx(np.mean(ages))
    full = CardioDataModule(tiny_store, modalities=["tabular"], seed=3)
    full.setup()
    assert np.array_equal(full._fit_sample(full.split_indices["train"]), full.split_indices["train"])
    with pytest.raises(ValueError, match="fit_max_records"):
        CardioDataModule(tiny_store, fit_max_records=0)


def test_datamodule_worker_settings_reach_the_loader(tiny_store: Path) -> None:
    dm = CardioDataModule(tiny_store, modalities=["tabular"], num_workers=1, prefetch_factor=3,
                          persistent_workers=False, multiprocessing_context="fork")
    loader = dm.train_dataloader()
    assert loader.prefetch_factor == 3 and not loader.persistent_workers and loader.num_workers == 1
    assert next(iter(loader))["inputs"]["tabular"].ndim == 2
    serial = CardioDataModule(tiny_store, modalities=["tabular"], prefetch_factor=3).train_dataloader()
    assert serial.prefetch_factor is None  # PyTorch rejects a prefetch factor without workers


def test_run_with_rss_sees_a_child_allocation(tmp_path: Path) -> None:
    code = "import numpy as np, time; a = np.ones(64 * 2**20 // 8); time.sleep(0.5)"
    sample = run_with_rss([sys.executable, "-c", code], poll_s=0.02)
    assert sample.returncode == 0 and sample.peak_tree_bytes > 64 * 2**20
    assert sample.peak_anon_bytes > 64 * 2**20  # anonymous (numpy) memory, not file-backed pages


def test_train_command_is_a_valid_train_py_override_set(tiny_store: Path, tmp_path: Path) -> None:
    cmd = train_command(tiny_store, tmp_path, steps=30, image_size=32, extra=["seed=1"])
    overrides = [a for a in cmd[2:] if not a.startswith("hydra.")]
    cfg = compose_config(overrides)
    assert cfg.trainer.max_steps == 30 and cfg.trainer.limit_val_batches == 2 and cfg.data.data_dir == str(tiny_store)
    assert cfg.data.cohort is None and cfg.plots is False and cfg.seed == 1


@pytest.mark.parametrize(("name", "strategy", "nodes"),
                         [("fsdp", "FSDPStrategy", 1), ("ddp_multinode", "DDPStrategy", 2)])
def test_multi_gpu_trainer_configs(name: str, strategy: str, nodes: int) -> None:
    cfg = compose_config([f"trainer={name}"])
    assert cfg.trainer.accelerator == "gpu" and cfg.trainer.num_nodes == nodes
    built = hydra.utils.instantiate(cfg.trainer.strategy)
    assert type(built).__name__ == strategy
    if name == "fsdp":
        from nextgen_ml.layers.attention import TransformerBlock

        assert TransformerBlock in built.kwargs["auto_wrap_policy"]._module_classes


