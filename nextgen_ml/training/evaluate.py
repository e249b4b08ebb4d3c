"""``evaluate(cfg)``: recompute the test metrics of a checkpoint (the body of ``python eval.py``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import torch
from omegaconf import DictConfig, OmegaConf

from nextgen_ml.training import resolvers  # noqa: F401
from nextgen_ml.training.factory import build_datamodule, build_module
from nextgen_ml.training.train import CHECKPOINT_KEY, _flat, print_metrics, write_metrics


def load_run_checkpoint(path: str | Path) -> dict[str, Any]:
    """A training checkpoint written by ``train.py`` (with its resolved config), or a clear error."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"ckpt_path: no checkpoint file at {path}")
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if CHECKPOINT_KEY not in ckpt:
        raise ValueError(f"ckpt_path: {path} was not written by nextgen_ml's train.py (no {CHECKPOINT_KEY!r} entry)")
    return ckpt


def evaluate(cfg: DictConfig) -> dict[str, float]:
    """Rebuild data and model from the checkpoint's own config and test it.

    ``cfg`` needs ``ckpt_path`` and ``paths.output_dir``; ``data_dir`` optionally points at another store with the
    same schema (e.g. an external test set) instead of the one the run was trained on.
    """
    ckpt = load_run_checkpoint(cfg.ckpt_path)
    run_cfg = OmegaConf.create(ckpt[CHECKPOINT_KEY]["config"])
    if cfg.get("data_dir"):
        run_cfg.data.data_dir = str(cfg.data_dir)
    pl.seed_everything(run_cfg.seed, workers=True)
    dm = build_datamodule(run_cfg)
    dm_state = ckpt.get(type(dm).__qualname__)
    if dm_state is not None and not cfg.get("data_dir"):
        dm.load_state_dict(dm_state)
    dm.setup()
    if run_cfg.model.get("init_from"):  # a fine-tuned run: its checkpoint holds every weight (and the config the
        run_cfg.model.init_from = None  # finetune mode's changes); the pretrained file need not exist any more
    module = build_module(run_cfg, dm)
    trainer = pl.Trainer(accelerator=cfg.get("accelerator", "cpu"), devices=1, logger=False, enable_checkpointing=False)
    metrics = _flat(trainer.test(module, datamodule=dm, ckpt_path=str(cfg.ckpt_path), verbose=False))
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_metrics(out_dir, metrics)
    print_metrics(metrics)
    return metrics
