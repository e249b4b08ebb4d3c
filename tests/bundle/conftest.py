"""One small run trained on the session's tiny cohort and exported once, shared by the bundle tests."""

from __future__ import annotations

from pathlib import Path

import pytest
from omegaconf import DictConfig, open_dict

from tests.training.conftest import TINY, compose_cfg

#: a small all-modality cross-attention model (≈0.4 M parameters) that trains in seconds on the tiny cohort.
SMALL_MODEL = [
    "+model.encoder.ecg.widths=[16,32,64,64]",
    "+model.encoder.image.widths=[8,16,32,64]",
    "+model.encoder.tabular.depth=1",
    "+model.encoder.text.depth=1",
    "+model.fusion.num_layers=1",
]


def small_cfg(store: Path, out: Path, overrides: list[str] = ()) -> DictConfig:
    cfg = compose_cfg([*TINY, *SMALL_MODEL, "trainer.limit_test_batches=null", "plots=false", *overrides])
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        cfg.paths.log_dir = str(out / "logs")
        cfg.data.data_dir = str(store)
        cfg.data.cohort = None  # read the session store as it is, never regenerate it
    return cfg


@pytest.fixture(scope="session")
def trained_run(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Output directory of a `trainer=debug` run (checkpoints/best.ckpt, metrics.json).

    Built once per session at a fixed place, so tests/interpret (which imports these fixtures) reuses it.
    """
    from nextgen_ml.training import train

    out = tmp_path_factory.getbasetemp() / "bundle_run"
    if not (out / "metrics.json").is_file():
        train(small_cfg(tiny_store, out))
    return out


@pytest.fixture(scope="session")
def exported(trained_run: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The run's best checkpoint exported as a bundle (once per session)."""
    from nextgen_ml.bundle import export_bundle

    out = tmp_path_factory.getbasetemp() / "bundle_tiny"
    if not (out / "model_card.json").is_file():
        export_bundle(trained_run / "checkpoints" / "best.ckpt", out, n_boot=200, overwrite=True)
    return out
