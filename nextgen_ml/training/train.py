"""``train(cfg)``: the testable body of ``python train.py`` (Hydra wraps it at the repository root)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from omegaconf import DictConfig, OmegaConf

import nextgen_ml
from nextgen_ml.privacy.report import write_privacy_report
from nextgen_ml.training import resolvers  # noqa: F401  (registers ${join:...})
from nextgen_ml.training.audit import start_run_audit
from nextgen_ml.training.factory import as_dict, build_datamodule, build_module, build_trainer
from nextgen_ml.training.plots import make_plots
from nextgen_ml.training.predictions import collect_predictions

log = logging.getLogger(__name__)

CHECKPOINT_KEY = "nextgen_ml"


class RunInfo(pl.Callback):
    """Stores the resolved config and modality specs in every checkpoint, so ``eval.py`` and bundles can rebuild
    the model without the original config directory."""

    def __init__(self, config: dict[str, Any], modality_specs: dict[str, Any]) -> None:
        self.info = {"config": config, "modality_specs": modality_specs, "version": nextgen_ml.__version__}

    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        checkpoint[CHECKPOINT_KEY] = self.info


def _flat(results: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(v) for r in results for k, v in r.items()}


def write_metrics(out_dir: Path, metrics: dict[str, float]) -> Path:
    path = out_dir / "metrics.json"
    path.write_text(json.dumps(dict(sorted(metrics.items())), indent=2))
    return path


def print_metrics(metrics: dict[str, float]) -> None:
    width = max((len(k) for k in metrics), default=10)
    lines = [f"{'metric':<{width}}  value", f"{'-' * width}  ------"]
    lines += [f"{k:<{width}}  {v:.4f}" for k, v in sorted(metrics.items())]
    print("\n".join(lines))


def train(cfg: DictConfig) -> dict[str, float]:
    """Fit, validate and test the configured model; writes metrics.json, config.yaml, checkpoints and plots.

    Returns:
        The flat ``stage/metric`` mapping written to ``metrics.json``.
    """
    if cfg.get("federated") is not None:  # +experiment=federated_5sites: Flower simulation over the sites
        from nextgen_ml.federated import run_federated

        return run_federated(cfg)
    if cfg.get("pretrain") is not None:  # +experiment=pretrain_*: self-supervised, labels unread (docs/pretraining.md)
        from nextgen_ml.pretraining import run_pretraining

        return run_pretraining(cfg)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True)

    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup()
    module = build_module(cfg, dm)  # resolves the task (and its monitor) from the label's declaration
    (out_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    trainer = build_trainer(cfg, extra_callbacks=[RunInfo(as_dict(cfg), dm.modality_specs)])
    # the start entry, before any training: a log that cannot be extended stops the run here, not after training
    audit_log = cfg.get("audit_log") if trainer.is_global_zero else None
    audit = start_run_audit(audit_log, "train", dm, as_dict(cfg), out_dir)

    if cfg.get("train", True):
        trainer.fit(module, datamodule=dm, ckpt_path=cfg.get("ckpt_path"))
    ckpt = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    ckpt_path = ckpt or None
    if ckpt_path:
        log.info("best checkpoint: %s", ckpt_path)
    metrics = _flat(trainer.validate(module, datamodule=dm, ckpt_path=ckpt_path, verbose=False))
    if cfg.get("test", True):
        metrics.update(_flat(trainer.test(module, datamodule=dm, ckpt_path=ckpt_path, verbose=False)))
        if cfg.get("plots", True) and trainer.is_global_zero:
            preds, targets, _ = collect_predictions(module, dm.test_dataloader())
            for path in make_plots(module.task, preds, targets, out_dir / "plots"):
                log.info("plot: %s", path)
    if trainer.is_global_zero:
        metrics.update(write_privacy_report(trainer, out_dir))  # privacy/* entries of a DP run (+ privacy.json)
        if audit is not None:  # after the privacy report, so the end entry holds the ε and δ actually spent
            audit.end(metrics)
        write_metrics(out_dir, metrics)
        print_metrics(metrics)
        print(f"outputs: {out_dir}")
    return metrics
