"""One benchmark cell: fit a setting on one fold, then score the test fold under every robustness condition and
attribute its predictions to modalities (and, with ``external``, score another store). Results are plain JSON (one
file per cell).

The task comes from ``data.target``'s declaration in the store's data dictionary (``build_task``, as in
``train.py``); what a cell stores as a row's score depends on the label kind (:mod:`nextgen_ml.benchmark.kinds`).
"""

from __future__ import annotations

import json
import os
import time
import warnings
import zlib
from collections.abc import Callable
from dataclasses import asdict
from functools import partial
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader

from nextgen_ml.benchmark.baselines import is_baseline, run_baseline_cell
from nextgen_ml.benchmark.config import BenchmarkConfig, Setting
from nextgen_ml.benchmark.data import FoldData
from nextgen_ml.benchmark.early_stop import BestWeights, early_stopping_callbacks, inner_split
from nextgen_ml.benchmark.robustness import masked_scores, robustness_logits
from nextgen_ml.data.dataset import Collate
from nextgen_ml.interpret.modalities import leave_one_out, modality_shapley
from nextgen_ml.models.spec import ModelSpec
from nextgen_ml.tasks.module import MultimodalModule
from nextgen_ml.tasks.prior import init_prior_bias
from nextgen_ml.training.factory import build_task

#: task kinds whose rows get one score (attributed to modalities); the others keep all K logits
SCALAR_KINDS: tuple[str, ...] = ("binary", "regression", "survival")


def fit_cell(cfg: BenchmarkConfig, setting: Setting, data: FoldData, seed: int, fold: int) -> MultimodalModule:
    """Train ``setting`` on the fold's training split with a plain Lightning Trainer (no logger/checkpoints).

    With ``cfg.train.early_stopping`` the module is trained on an inner split and returned with the weights of its
    lowest validation loss; ``module.early_stopping`` then holds ``{epochs, best_epoch, best_val_loss, n_val}``
    (epochs counted from 1)."""
    pl.seed_everything(seed * 1000 + fold, workers=True, verbose=False)
    target = cfg.data.target
    task = build_task({"target": target}, data.dm.dictionary, data.dm.label_statistics(target))
    spec = ModelSpec(encoders=dict(cfg.model.encoders), fusion=setting.fusion, embed_dim=cfg.model.embed_dim,
                     head_hidden=tuple(cfg.model.head_hidden), dropout=cfg.model.dropout)
    net = spec.build(setting.modalities, data.modality_specs, task.num_outputs)  # the builder train.py uses
    optimizer = partial(torch.optim.AdamW, lr=cfg.train.lr, weight_decay=cfg.train.weight_decay)
    scheduler = partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=cfg.train.max_epochs)
    train, val, callbacks = data.samples["train"], None, []
    if cfg.train.early_stopping is not None:  # inner validation split of the fold's training rows
        train, val = inner_split(train, target, task.kind, cfg.train.early_stopping.val_fraction,
                                 seed * 1000 + fold)
        callbacks = early_stopping_callbacks(cfg.train.early_stopping)
    if cfg.train.prior_bias:  # start calibrated: the head's bias at the (inner) training labels' prior
        init_prior_bias(net.head, task.kind, np.stack([s["targets"][target] for s in train]), task.num_outputs)
    module = MultimodalModule(net=net, task=task, optimizer=optimizer, scheduler=scheduler)
    trainer = pl.Trainer(max_epochs=cfg.train.max_epochs, accelerator=cfg.train.accelerator, devices=1,
                         logger=False, enable_checkpointing=False, enable_progress_bar=False,
                         enable_model_summary=False, limit_val_batches=0 if val is None else 1.0,
                         num_sanity_val_steps=0, callbacks=callbacks)
    loader = data.train_loader(setting.modalities, setting.modality_dropout, seed=seed * 1000 + fold, samples=train)
    val_loader = None if val is None else DataLoader(val, batch_size=len(val), collate_fn=Collate(setting.modalities))
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*(val_dataloader|does not have many workers|LeafSpec).*")
        trainer.fit(module, train_dataloaders=loader, val_dataloaders=val_loader)
    if callbacks:  # what early stopping did, recorded in the cell's result
        best = next(c for c in callbacks if isinstance(c, BestWeights))
        module.early_stopping = {"epochs": trainer.current_epoch, "best_epoch": best.best_epoch + 1,
                                 "best_val_loss": best.best, "n_val": len(val)}
    return module


def score_fn(task: Any) -> Callable[[dict[str, Tensor]], Tensor] | None:
    """The net output → a row's score stored by a cell: the first logit (binary, survival risk; None = the
    default), the prediction in the label's unit (regression), every logit ``(B, K)`` (multiclass, multilabel)."""
    if task.kind == "regression":
        return lambda out: task.predict(out["logits"])
    if task.kind in SCALAR_KINDS:
        return None
    return lambda out: out["logits"]


def evaluate_cell(cfg: BenchmarkConfig, setting: Setting, module: MultimodalModule, data: FoldData,
                  sites: np.ndarray, labels: np.ndarray, seed: int, fold: int) -> dict[str, Any]:
    """Test scores under every condition and (for multimodal settings of a scalar-score kind) per-patient modality
    attributions of that score."""
    net, task = module.net, module.task
    batch = data.test_batch(setting.modalities)
    logits = robustness_logits(net, batch, sites, cfg.robustness, seed=zlib.crc32(f"{seed}/{fold}".encode()),
                               output_fn=score_fn(task))
    out: dict[str, Any] = {
        "index": data.index["test"].tolist(), "site": sites.tolist(), "y": labels.tolist(),
        "present": {m: batch["mask"][m].tolist() for m in setting.modalities},
        "logits": {k: v.tolist() for k, v in logits.items()},
    }
    if task.kind != "binary":  # binary cells keep their pre-kind layout (same files, same keys)
        out["kind"] = task.kind
    if task.kind not in SCALAR_KINDS:
        out["classes"] = list(task.class_names)
    if cfg.attribution and len(setting.modalities) > 1 and task.kind in SCALAR_KINDS:
        fn = score_fn(task)
        out["shapley"] = {m: v.tolist() for m, v in
                          modality_shapley(net, batch["inputs"], batch["mask"], output_fn=fn).items()}
        out["loo"] = {m: v.tolist() for m, v in
                      leave_one_out(net, batch["inputs"], batch["mask"], output_fn=fn).items()}
    if data.external is not None:
        ext = data.external_batch(setting.modalities)
        scores = masked_scores(net, ext["inputs"], {"full": ext["mask"]}, score_fn(task))
        out["external"] = {**data.external_meta, "logits": {"full": scores["full"].tolist()}}
    return out


def run_cell(cfg: BenchmarkConfig, setting: Setting, data: FoldData, meta: dict[str, Any], labels: np.ndarray,
             seed: int, fold: int, key: str) -> dict[str, Any]:
    """Fit and evaluate one cell (a linear baseline: :func:`~nextgen_ml.benchmark.baselines.run_baseline_cell`);
    returns its JSON-ready result."""
    if is_baseline(setting):
        return run_baseline_cell(cfg, setting, data, meta, labels, seed, fold, key)
    start = time.perf_counter()
    module = fit_cell(cfg, setting, data, seed, fold)
    fit_s = time.perf_counter() - start
    sites = meta["site"][data.index["test"]]
    result = evaluate_cell(cfg, setting, module, data, sites, labels, seed, fold)
    return {"key": key, "setting": asdict(setting), "seed": seed, "fold": fold,
            "n_train": int(len(data.index["train"])), "fit_seconds": fit_s,
            "eval_seconds": time.perf_counter() - start - fit_s, **result,
            **({"early_stopping": module.early_stopping} if hasattr(module, "early_stopping") else {})}


def write_result(path: Path, result: dict[str, Any]) -> None:
    """Atomically write a cell result (a crash never leaves a half-written, "finished" cell)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(result))
    tmp.replace(path)
