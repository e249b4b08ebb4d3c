from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from omegaconf import DictConfig, open_dict

from tests.training.conftest import TINY, compose_cfg


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
