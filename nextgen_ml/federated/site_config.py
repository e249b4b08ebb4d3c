"""The run config a site trains or evaluates with in one round, derived from the federated run's config."""

from __future__ import annotations

from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from nextgen_ml.federated.config import FederatedConfig

#: trainer settings of every local fit / evaluation: nothing is written at the site, no validation during fit.
_QUIET_TRAINER: dict[str, Any] = {
    "enable_checkpointing": False,
    "enable_progress_bar": False,
    "enable_model_summary": False,
    "limit_val_batches": 0,
    "num_sanity_val_steps": 0,
}


def federated_config(cfg: DictConfig) -> FederatedConfig:
    """The :class:`FederatedConfig` of a run config's ``federated`` node."""
    if cfg.get("federated") is None:
        raise ValueError("config: no `federated` node (use +experiment=federated_5sites)")
    return FederatedConfig.from_node(OmegaConf.to_container(cfg.federated, resolve=True))


def round_config(cfg: DictConfig, server_round: int, site_index: int, train: bool = True) -> DictConfig:
    """A copy of ``cfg`` for one local fit (``train``) or evaluation of round ``server_round`` at a site.

    The local fit runs ``federated.local_epochs`` epochs with a constant learning rate (no scheduler: each round
    starts a fresh optimizer), no loggers or checkpoints. Under ``privacy=dp`` the noise is calibrated for the
    whole federated plan (``rounds · local_epochs`` epochs) and the site's accountant carries over rounds, so the
    reported ε is the site's total; a fixed ``privacy.noise_seed`` is offset per round and site so noise is never
    replayed.
    """
    fed = federated_config(cfg)
    out = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True))
    with open_dict(out):
        out.trainer.max_epochs = fed.local_epochs
        out.trainer.max_steps = -1
        for key, value in _QUIET_TRAINER.items():
            out.trainer[key] = value
        out.callbacks = {}
        out.logger = {}
        out.scheduler = None
        privacy = out.get("privacy") or {}
        if privacy.get("enabled", False):
            if not train:
                out.privacy.enabled = False
            else:
                if privacy.get("epochs") is None:
                    out.privacy.epochs = fed.rounds * fed.local_epochs
                if privacy.get("noise_seed") is not None:
                    out.privacy.noise_seed = int(privacy.noise_seed) + 10_000 * server_round + site_index
    return out
