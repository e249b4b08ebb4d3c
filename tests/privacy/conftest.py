"""DP fixtures: the real composed config with ``privacy=dp`` (fast RDP accountant) on the tiny cohort."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from omegaconf import DictConfig, open_dict

from tests.training.conftest import TINY, compose_cfg

#: tiny DP overrides: RDP (fast to evaluate) and the debug mode's fixed noise seed (reproducible tests)
DP = ["privacy=dp", "privacy.accountant=rdp", "privacy.reproducible_noise=true", "privacy.noise_seed=0",
      "plots=false", "audit_log=null"]


@pytest.fixture
def make_dp_cfg(tiny_store: Path, tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose ``train`` with TINY + DP overrides (+ ``overrides``), writing under ``tmp_path/<run>``."""

    def _make(overrides: Sequence[str] = (), run: str = "run") -> DictConfig:
        cfg = compose_cfg([*TINY, *DP, *overrides])
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / run)
            cfg.paths.log_dir = str(tmp_path / "logs")
            cfg.data.data_dir = str(tiny_store)
            cfg.data.cohort = None  # use the session store as is (never regenerate it)
        return cfg

    return _make
