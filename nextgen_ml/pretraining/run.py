"""``run_pretraining(cfg)``: the ``python train.py +experiment=pretrain_*`` branch of ``train(cfg)``."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import hydra
import lightning.pytorch as pl
import torch
from omegaconf import DictConfig, OmegaConf, open_dict

from nextgen_ml.models.spec import ModelSpec
from nextgen_ml.pretraining.artifact import ENCODERS_FILE, pretrained_payload, write_pretrained
from nextgen_ml.pretraining.module import PretrainModule
from nextgen_ml.pretraining.net import PretrainNet
from nextgen_ml.pretraining.objectives import PretrainObjective
from nextgen_ml.pretraining.retrieval import recall_at_k

log = logging.getLogger(__name__)


def build_pretrain_module(cfg: DictConfig, dm: Any) -> PretrainModule:
    """The :class:`PretrainModule` of ``cfg.pretrain`` and ``cfg.model`` for a set-up datamodule."""
    from nextgen_ml.training.factory import as_dict

    pre = as_dict(cfg.pretrain)
    objective = PretrainObjective(pre["objectives"])
    if len(dm.modalities) < 2:
        raise ValueError(f"data.modalities: pretraining learns across modalities and needs at least two, got "
                         f"{dm.modalities}")
    net = PretrainNet.from_spec(ModelSpec.from_config(as_dict(cfg.model)), dm.modalities, dm.modality_specs,
                                proj_dim=int(pre.get("proj_dim", 128)), predictors=objective.needs_masking,
                                temperature=objective.needs_temperature)
    optimizer = hydra.utils.instantiate(cfg.optimizer)
    scheduler = hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    return PretrainModule(net, objective, optimizer, scheduler, bool(pre.get("gather_negatives", True)))


@torch.no_grad()
def retrieval_r1(module: PretrainModule, loader: Any, query: str = "ecg", gallery: str = "image",
                 max_batches: int | float | None = None) -> float | None:
    """Recall@1 of ``query`` → ``gallery`` retrieval among the records of the loader's first ``max_batches``
    batches (all: None) that have both; None if fewer than 2."""
    module.eval()
    zq, zg = [], []
    for i, batch in enumerate(loader):
        if max_batches is not None and i >= max_batches:
            break
        if query not in batch["inputs"] or gallery not in batch["inputs"]:
            continue
        both = batch["mask"][query] & batch["mask"][gallery]  # (B,)
        z = module.embed({m: x.to(module.device) for m, x in batch["inputs"].items()},
                         {m: x.to(module.device) for m, x in batch["mask"].items()})
        zq.append(z[query][both.to(module.device)].cpu())
        zg.append(z[gallery][both.to(module.device)].cpu())
    if not zq or sum(len(q) for q in zq) < 2:
        return None
    return recall_at_k(torch.cat(zq), torch.cat(zg), ks=(1,))[1]  # (N, P) each; row i of both is one record


def run_pretraining(cfg: DictConfig) -> dict[str, float]:
    """Pretrain the encoders of ``cfg.model`` on ``cfg.data`` with the objectives of ``cfg.pretrain``.

    Writes ``<paths.output_dir>/pretrained_encoders.pt`` (from the best checkpoint by ``val/loss``), Lightning
    checkpoints, config.yaml, metrics.json and the audit start/end entries. Labels are never read.

    Raises:
        ValueError: ``privacy=dp`` with an objective that has no per-sample form (before any data is read), or
            fewer than two modalities.
        FileExistsError: ``pretrained_encoders.pt`` exists and ``pretrain.overwrite`` is not true.
    """
    from nextgen_ml.privacy.report import write_privacy_report
    from nextgen_ml.training.audit import start_run_audit
    from nextgen_ml.training.factory import as_dict, build_datamodule, build_trainer
    from nextgen_ml.training.train import RunInfo, _flat, print_metrics, write_metrics

    pre = as_dict(cfg.pretrain)
    objective = PretrainObjective(pre["objectives"])  # validates the names before any data is read
    if (as_dict(cfg.get("privacy")) or {}).get("enabled", False):
        objective.check_dp()
    out_dir = Path(cfg.paths.output_dir)
    target = out_dir / ENCODERS_FILE
    if target.exists() and not pre.get("overwrite", False):
        raise FileExistsError(f"{target} already exists; pretraining never overwrites pretrained encoders: choose "
                              "another paths.output_dir or pass pretrain.overwrite=true")
    out_dir.mkdir(parents=True, exist_ok=True)
    pl.seed_everything(cfg.seed, workers=True)
    with open_dict(cfg):  # checkpoints and the Hydra sweeper follow the pretraining loss
        cfg.task.monitor, cfg.task.monitor_mode = "val/loss", "min"

    dm = build_datamodule(cfg)
    dm.prepare_data()
    dm.setup()
    module = build_pretrain_module(cfg, dm)
    (out_dir / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    trainer = build_trainer(cfg, extra_callbacks=[RunInfo(as_dict(cfg), dm.modality_specs)])
    audit_log = cfg.get("audit_log") if trainer.is_global_zero else None
    audit = start_run_audit(audit_log, "pretrain", dm, as_dict(cfg), out_dir)

    if cfg.get("train", True):
        trainer.fit(module, datamodule=dm, ckpt_path=cfg.get("ckpt_path"))
    best = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    if best:
        log.info("best checkpoint: %s", best)
    metrics = _flat(trainer.validate(module, datamodule=dm, ckpt_path=best or None, verbose=False))
    if trainer.is_global_zero:
        if "ecg" in dm.modalities and "image" in dm.modalities:
            limit = (trainer.num_val_batches or [None])[0]  # the batches trainer.validate read
            r1 = retrieval_r1(module, dm.val_dataloader(), max_batches=limit)
            if r1 is not None:
                metrics["val/retrieval_r1"] = r1  # ECG → image among the validated records with both
        metrics.update(write_privacy_report(trainer, out_dir))
        payload = pretrained_payload(module.net.encoders, module.net.fusion, as_dict(cfg.model), dm.modality_specs,
                                     pre, dm.state_dict()["transforms"], as_dict(cfg))
        log.info("pretrained encoders: %s", write_pretrained(target, payload, overwrite=bool(pre.get("overwrite"))))
        if audit is not None:
            audit.end(metrics)
        write_metrics(out_dir, metrics)
        print_metrics(metrics)
        print(f"outputs: {out_dir}")
    return metrics
