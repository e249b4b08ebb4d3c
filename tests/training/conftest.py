from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig, open_dict

from nextgen_ml.training import resolvers  # noqa: F401

CONFIGS = Path(__file__).resolve().parents[2] / "configs"

#: overrides that shrink any run to a few seconds on the session's tiny cohort
TINY = [
    "trainer=debug",
    "data.batch_size=16",
    "data.transforms.image.size=32",
    "data.transforms.text.max_len=32",
    "model.embed_dim=32",
]


def compose_cfg(overrides: Sequence[str], config_name: str = "train") -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONFIGS), version_base="1.3"):
        cfg = compose(config_name, overrides=list(overrides), return_hydra_config=True)
    HydraConfig().set_config(cfg)
    with open_dict(cfg):  # as in a real @hydra.main run, the job's config holds no `hydra` node
        del cfg["hydra"]
    return cfg


@pytest.fixture
def make_cfg(tiny_store: Path, tmp_path: Path) -> Callable[..., DictConfig]:
    """Compose the real config with the given overrides, pointed at the tiny store and a temp output dir."""

    def _make(overrides: Sequence[str] = (), tiny: bool = True, config_name: str = "train") -> DictConfig:
        cfg = compose_cfg([*(TINY if tiny else []), *overrides], config_name)
        with open_dict(cfg):
            cfg.paths.output_dir = str(tmp_path / "run")
            cfg.paths.log_dir = str(tmp_path / "logs")
            if "data" in cfg:
                cfg.data.data_dir = str(tiny_store)
                cfg.data.cohort = None  # use the session's store as it is; never regenerate it
        return cfg

    return _make
