"""Federated fixtures: the real composed config with ``+experiment=federated_5sites`` on the tiny 3-site cohort."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from omegaconf import DictConfig, open_dict

from tests.training.conftest import TINY, compose_cfg

#: a small federation: tabular + ECG, concat fusion, 3 sites, fast RDP accounting with a fixed noise seed
FED = [
    "+experiment=federated_5sites",
    "data.modalities=[tabular,ecg]",
    "model.fusion=concat",
    "federated.min_fit_clients=3",
    "federated.min_available_clients=3",
    "privacy.accountant=rdp",
    "privacy.reproducible_noise=true",
    "privacy.noise_seed=0",
    "plots=false",
]
#: a purpose that 36 of the tiny cohort's 160 records refuse (DS restricted to heart disease, NPU)
FOR_PROFIT = "+data.purpose={requester:acme,for_profit:true,commercial:true}"


@pytest.fixture
def make_fed_cfg(tiny_store: Path, tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose ``train`` with TINY + FED overrides (+ ``overrides``), writing under ``tmp_path/<run>``."""

    def _make(overrides: Sequence[str] = (), run: str = "run") -> DictConfig:
        cfg = compose_cfg([*TINY, *FED, *overrides])
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / run)
            cfg.paths.log_dir = str(tmp_path / "logs")
            cfg.audit_log = str(tmp_path / "logs" / "audit.jsonl")
            cfg.data.data_dir = str(tiny_store)
            cfg.data.cohort = None  # use the session store as is
        return cfg

    return _make
