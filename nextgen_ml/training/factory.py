"""Build the run's pieces from a composed Hydra config (the only place that reads ``cfg``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import hydra
import lightning.pytorch as pl
from omegaconf import DictConfig, OmegaConf, open_dict

from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.modalities import load_plugins
from nextgen_ml.models.multimodal import MultimodalNet
from nextgen_ml.models.spec import ModelSpec
from nextgen_ml.tasks.module import MultimodalModule
from nextgen_ml.tasks.tasks import task_for_label

#: config keys of a task node that describe the run, not the task object.
_TASK_RUN_KEYS = ("monitor", "monitor_mode")


def as_dict(node: Any) -> Any:
    """A resolved plain-Python copy of a config node (or the value itself)."""
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def public_preprocessing_reason(cfg: DictConfig) -> str | None:
    """``"privacy=dp"`` or ``"federated"`` when the run's transforms must read no patient data, else None."""
    if (as_dict(cfg.get("privacy")) or {}).get("enabled", False):
        return "privacy=dp"
    fed = cfg.get("federated")
    if fed is not None and fed.get("preprocessing", "public") == "public":
        return "federated"
    return None


def build_datamodule(cfg: DictConfig) -> CardioDataModule:
    """The DataModule of ``cfg.data``; modality plugins (``cfg.plugins``) are imported first.

    Under ``privacy=dp`` and in federated runs the transforms come from public declarations
    (:func:`nextgen_ml.privacy.public.public_transforms`), never from statistics of the training records; they
    are written back into ``cfg.data.transforms`` so config.yaml, eval.py and bundles rebuild the same ones.
    """
    load_plugins(cfg.get("plugins") or ())
    why = public_preprocessing_reason(cfg)
    if why is not None:
        from nextgen_ml.privacy.public import public_transforms

        data = as_dict(cfg.data)
        transforms = public_transforms(data["modalities"], data.get("transforms"), why)
        with open_dict(cfg):
            cfg.data.transforms = OmegaConf.create(json.loads(json.dumps(transforms)))  # tuples → lists
    return hydra.utils.instantiate(cfg.data, _convert_="all")


def build_task(
    task_cfg: DictConfig | Mapping[str, Any],
    dictionary: DataDictionary | None,
    label_stats: Mapping[str, float] | None = None,
) -> Any:
    """The task for ``task.target``, from the label's declaration in ``dictionary``.

    Args:
        task_cfg: the ``task`` config node (``target``, ``options``; ``monitor`` keys are ignored here). A node
            with ``_target_`` (configs and bundles from before data dictionaries) is instantiated as it is.
        dictionary: the store's data dictionary.
        label_stats: ``{"mean", "std"}`` of a regression label on the training split (the head's default
            ``loc``/``scale`` when ``options`` gives none).
    """
    node = dict(as_dict(task_cfg))
    if "_target_" in node:  # legacy: an explicit task class
        legacy = {k: v for k, v in node.items() if k not in _TASK_RUN_KEYS}
        if legacy["_target_"].endswith("SurvivalTask"):
            legacy = {"_target_": legacy["_target_"], "target": "time_to_mace"}
        return hydra.utils.instantiate(legacy)
    if dictionary is None:
        raise ValueError("task: no data dictionary to look the label up in")
    label = dictionary.label(str(node["target"]))
    options = dict(node.get("options") or {})
    if label.kind == "regression" and label_stats and "loc" not in options and "scale" not in options:
        options.update(loc=float(label_stats["mean"]), scale=float(label_stats["std"]) or 1.0)
    return task_for_label(label, **options)


def resolve_monitor(cfg: DictConfig, task: Any) -> None:
    """Fill ``task.monitor`` / ``task.monitor_mode`` from the task's kind where the config leaves them null."""
    with open_dict(cfg):
        if cfg.task.get("monitor") is None:
            cfg.task.monitor = f"val/{task.main_metric}"
        if cfg.task.get("monitor_mode") is None:
            cfg.task.monitor_mode = task.monitor_mode


def build_net(
    model_cfg: DictConfig | Mapping[str, Any],
    modalities: Sequence[str],
    modality_specs: Mapping[str, Mapping[str, Any]],
    num_outputs: int,
) -> MultimodalNet:
    """``MultimodalNet`` for ``modalities`` from the ``model`` config node, through :class:`ModelSpec` (the typed
    builder the benchmark and bundles share)."""
    return ModelSpec.from_config(as_dict(model_cfg)).build(modalities, modality_specs, num_outputs)


def build_module(cfg: DictConfig, dm: CardioDataModule, label_prior: bool = True) -> MultimodalModule:
    """The LightningModule for a set-up datamodule (fills the config's task monitor from the label's kind).

    With ``model.prior_bias`` true the head's output bias starts at the training labels' prior
    (:mod:`nextgen_ml.tasks.prior`), except under ``privacy=dp`` (the prior is an un-noised statistic of the
    training labels) and where the caller passes ``label_prior=False`` (federated sites and server).
    """
    target = cfg.task.get("target")
    stats = dm.label_statistics(target) if target and "_target_" not in cfg.task else None
    if stats is not None and (as_dict(cfg.get("privacy")) or {}).get("enabled", False):
        from nextgen_ml.privacy.public import check_public_label_statistics

        check_public_label_statistics("regression", target, as_dict(cfg.task.get("options")))
        stats = None  # the declared loc/scale of task.options, never the training labels'
    task = build_task(cfg.task, dm.dictionary, stats)
    resolve_monitor(cfg, task)
    if stats is not None:  # the head's standardisation travels with the config (checkpoints, bundles)
        with open_dict(cfg):
            cfg.task.options = {**as_dict(cfg.task.get("options") or {}), "loc": task.loc, "scale": task.scale}
    if cfg.model.get("init_from"):  # fine-tuning from pretrained encoders (docs/pretraining.md)
        from nextgen_ml.pretraining.init import finetune_net

        net, changes = finetune_net(as_dict(cfg.model), dm.modalities, dm.modality_specs, task.num_outputs,
                                    dm.state_dict()["transforms"])
        with open_dict(cfg):  # linear_probe's head/fusion travel with the config (checkpoints, eval.py, bundles)
            cfg.model.update(changes)
    else:
        net = build_net(cfg.model, dm.modalities, dm.modality_specs, task.num_outputs)
    dp = (as_dict(cfg.get("privacy")) or {}).get("enabled", False)
    if label_prior and not dp and cfg.model.get("prior_bias", False) and target and "_target_" not in cfg.task:
        from nextgen_ml.tasks.prior import init_prior_bias

        init_prior_bias(net.head, task.kind, dm.training_targets(target), task.num_outputs)
    optimizer = hydra.utils.instantiate(cfg.optimizer)
    scheduler = hydra.utils.instantiate(cfg.scheduler) if cfg.get("scheduler") else None
    return MultimodalModule(net=net, task=task, optimizer=optimizer, scheduler=scheduler)


def _instantiate_group(node: DictConfig | None) -> list[Any]:
    if not node:
        return []
    return [hydra.utils.instantiate(c) for c in node.values() if c is not None and "_target_" in c]


def build_privacy_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    """``[DPCallback]`` when the ``privacy`` group is enabled (``privacy=dp``), else ``[]``."""
    node = as_dict(cfg.get("privacy")) or {}
    if not node.get("enabled", False):
        return []
    from nextgen_ml.privacy import DPCallback, DPConfig

    return [DPCallback(DPConfig(**{k: v for k, v in node.items() if k != "enabled"}))]


def _resume_callbacks(cfg: DictConfig) -> list[pl.Callback]:
    """``[ExactResume]`` for pooled runs (under DP it restores the global generators only: the DPCallback owns the
    Poisson sampling and its secret streams); none for federated rounds (they reseed)."""
    if cfg.get("federated") is not None:
        return []
    from nextgen_ml.training.resume import ExactResume

    return [ExactResume(int(cfg.get("seed") or 0))]


def build_trainer(cfg: DictConfig, extra_callbacks: Sequence[pl.Callback] = ()) -> pl.Trainer:
    """The Trainer of ``cfg.trainer`` with the configured callbacks and loggers (privacy callback included).

    The task's monitor is resolved by :func:`build_module`; a trainer built before any module monitors
    ``val/loss`` (min).
    """
    if "task" in cfg and cfg.task.get("monitor") is None:
        with open_dict(cfg):
            cfg.task.monitor, cfg.task.monitor_mode = "val/loss", "min"
    callbacks = _instantiate_group(cfg.get("callbacks")) + build_privacy_callbacks(cfg) + _resume_callbacks(cfg)
    callbacks += list(extra_callbacks)
    loggers = _instantiate_group(cfg.get("logger"))
    return hydra.utils.instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
