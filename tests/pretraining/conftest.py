from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from omegaconf import DictConfig, open_dict

from tests.training.conftest import TINY as TRAINING_TINY
from tests.training.conftest import compose_cfg

#: the training tests' shrinking overrides plus the quarter-width image ResNet (per-sample gradients stay cheap)
TINY = [*TRAINING_TINY, "model/encoder/image=resnet18_small"]


@pytest.fixture
def make_cfg(tiny_store: Path, tmp_path: Path) -> Callable[..., DictConfig]:
    """The real config with ``overrides`` (shrunk by TINY), on the session's tiny store, writing under tmp_path."""

    def _make(overrides: Sequence[str] = (), out: str = "run") -> DictConfig:
        cfg = compose_cfg([*TINY, *overrides])
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / out)
            cfg.paths.log_dir = str(tmp_path / "logs")
            cfg.data.data_dir = str(tiny_store)
            cfg.data.cohort = None
        return cfg

    return _make


@pytest.fixture(scope="session")
def pretrained_run(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One tiny ECG+image pretraining run (contrastive + masked-modality, cross-attention fusion); its output dir."""
    from nextgen_ml.training.train import train

    root = tmp_path_factory.mktemp("pretrain")
    cfg = compose_cfg([*TINY, "+experiment=pretrain_ecg_image", "pretrain=clip_masked", "pretrain.proj_dim=16"])
    with open_dict(cfg):
        cfg.paths.output_dir, cfg.paths.log_dir = str(root / "run"), str(root / "logs")
        cfg.data.data_dir, cfg.data.cohort = str(tiny_store), None
    train(cfg)
    return root / "run"
