"""GPU checks (marker ``gpu``; skipped without CUDA): bf16 training through both benchmark paths, pinned batches."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import torch

from nextgen_ml.training.factory import build_datamodule
from scripts.bench_train import compose_config, device_overrides, prepare_net, run_framework, run_loop

pytestmark = pytest.mark.gpu

TINY = ["data=store", "data.batch_size=16", "data.transforms.image.size=32", "data.transforms.text.max_len=32",
        "model.embed_dim=32"]


@pytest.fixture
def gpu_dm(tiny_store: Path, tmp_path: Path):
    cfg = compose_config([*TINY, f"data.data_dir={tiny_store}", f"paths.output_dir={tmp_path}/run",
                          *device_overrides("cuda", workers=2)])
    dm = build_datamodule(cfg)
    dm.setup()
    return cfg, dm


def test_pinned_batches_from_workers(gpu_dm) -> None:
    cfg, dm = gpu_dm
    assert cfg.trainer.precision == "bf16-mixed"
    loader = dm.train_dataloader()
    batch = next(iter(loader))
    assert loader.pin_memory and batch["inputs"]["ecg"].is_pinned()


def test_bf16_loop_and_framework_train_on_cuda(gpu_dm) -> None:
    cfg, dm = gpu_dm
    net = prepare_net(cfg, dm, channels_last=False, compile_net=False)
    initial = copy.deepcopy(net.state_dict())
    assert run_loop(cfg, dm, net, initial, steps=3, device="cuda") > 0
    assert run_framework(cfg, dm, net, initial, steps=3) > 0


def test_channels_last_loop_on_cuda(gpu_dm) -> None:
    cfg, dm = gpu_dm
    net = prepare_net(cfg, dm, channels_last=True, compile_net=False)
    assert run_loop(cfg, dm, net, copy.deepcopy(net.state_dict()), steps=2, device="cuda") > 0
    # the weights, their gradients and the AdamW moments were on the device at the peak
    weights = sum(p.numel() * p.element_size() for p in net.parameters())
    assert torch.cuda.max_memory_allocated() >= 2 * weights
