"""``SiteClient``: one site's Flower ``NumPyClient`` — trains the configured model on its own consented records.

Nothing record-level leaves the client: ``fit`` returns the model's floating-point tensors, the number of
training records and scalar metrics (loss, ε, counts); ``evaluate`` returns the validation loss, the number of
validation records and scalar metrics.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from typing import Any

import lightning.pytorch as pl
import numpy as np
from flwr.app import ConfigRecord, RecordDict
from flwr.client import NumPyClient
from omegaconf import DictConfig

from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.federated.parameters import get_parameters, set_parameters
from nextgen_ml.federated.plan import ALL, FederatedPlan, site_datamodule
from nextgen_ml.federated.proximal import ProximalStep
from nextgen_ml.federated.site_config import federated_config, round_config
from nextgen_ml.privacy.compat import refuse_data_fitted_layers
from nextgen_ml.privacy.report import find_dp_callback
from nextgen_ml.tasks.module import MultimodalModule
from nextgen_ml.training.factory import build_datamodule, build_module, build_trainer

log = logging.getLogger(__name__)

#: key of the site's DP accountant in the node's persistent ``Context.state``.
DP_STATE_KEY = "nextgen_ml.dp"


def _scalar(value: Any) -> float:
    return float(value.item() if hasattr(value, "item") else value)


class SiteClient(NumPyClient):
    """A site of the federation.

    Args:
        cfg: the federated run's config (resolved; ``data.data_dir`` is this site's store).
        plan: the agreed split and preprocessing: this site's plan (``federated_plan.<site>.json``), or an
            ``"all"`` plan in one process (the client keeps its own patients' ids only).
        site: this site's name (one of ``plan.sites``).
        state: the node's persistent state (Flower ``Context.state``); the DP accountant is kept there between
            rounds. None keeps it on the client object only.
    """

    def __init__(self, cfg: DictConfig, plan: FederatedPlan, site: str, state: RecordDict | None = None) -> None:
        if site not in plan.sites:
            raise ValueError(f"site {site!r} is not in the federated plan's sites {list(plan.sites)}")
        if plan.scope not in (ALL, site):
            raise ValueError(f"site {site!r} was given the {plan.scope!r} federated plan; it needs its own "
                             f"(federated_plan.{site}.json)")
        self.cfg, self.site = cfg, site
        self.site_index = plan.sites.index(site)
        self.state = state if state is not None else RecordDict()
        self.fed = federated_config(cfg)
        self.dm: CardioDataModule = site_datamodule(build_datamodule(cfg), site, plan.split, plan.transforms)
        self.dm.setup()
        own = set(self.dm.store.column("patient_id").to_pylist())
        #: the plan as this site keeps it: its own patients' ids only (whatever it was given)
        self.plan = replace(plan, split={p: s for p, s in plan.split.items() if p in own}, scope=site, site_of={})
        self.module: MultimodalModule = build_module(cfg, self.dm, label_prior=False)  # no statistic of a site's labels
        refuse_data_fitted_layers(self.module.net, f"federated site {site!r}")  # no statistic of a site's data either

    # ------------------------------------------------------------------ what the server sees
    def get_parameters(self, config: dict[str, Any]) -> list[np.ndarray]:
        return get_parameters(self.module.net)

    def fit(self, parameters: list[np.ndarray], config: dict[str, Any]) -> tuple[list[np.ndarray], int, dict]:
        """Train ``local_epochs`` on this site's training split, starting from the global ``parameters``."""
        server_round = int(config.get("server_round", 1))
        set_parameters(self.module.net, parameters)
        mu = float(config.get("proximal_mu", 0.0))
        trainer = build_trainer(round_config(self.cfg, server_round, self.site_index),
                                extra_callbacks=[ProximalStep(mu)] if mu > 0 else [])
        dp = find_dp_callback(trainer)
        if dp is not None and DP_STATE_KEY in self.state:
            dp.load_state_dict(json.loads(str(self.state[DP_STATE_KEY]["state"])))
        pl.seed_everything(int(self.cfg.seed) + 1000 * server_round + self.site_index, workers=True, verbose=False)
        trainer.fit(self.module, datamodule=self.dm)
        n_train = len(self.dm.datasets["train"])
        metrics: dict[str, Any] = {"site": self.site, "n_train": n_train, "n_records": len(self.dm.store),
                                   "n_excluded": self._n_excluded(),
                                   "train_loss": _scalar(trainer.callback_metrics.get("train/loss_epoch", np.nan))}
        if dp is not None:
            self.state[DP_STATE_KEY] = ConfigRecord({"state": json.dumps(dp.state_dict())})
            metrics.update({"epsilon": dp.epsilon(), "delta": float(dp.delta), "dp_steps": dp.steps,
                            "noise_multiplier": float(dp.noise_multiplier)})
        log.info("site %s round %d: %s", self.site, server_round, metrics)
        return get_parameters(self.module.net), n_train, metrics

    def evaluate(self, parameters: list[np.ndarray], config: dict[str, Any]) -> tuple[float, int, dict]:
        """Loss and metrics of the global ``parameters`` on this site's validation split."""
        n_val = len(self.dm.datasets["val"])
        if n_val == 0:
            return 0.0, 0, {"site": self.site}
        set_parameters(self.module.net, parameters)
        cfg = round_config(self.cfg, int(config.get("server_round", 0)), self.site_index, train=False)
        cfg.trainer.limit_val_batches = self.cfg.trainer.get("limit_val_batches") or 1.0
        results = build_trainer(cfg).validate(self.module, datamodule=self.dm, verbose=False)[0]
        metrics = {k.replace("/", "_"): _scalar(v) for k, v in results.items()}
        return float(results["val/loss"]), n_val, {"site": self.site, **metrics}

    def _n_excluded(self) -> int:
        report = self.dm.consent_report
        return 0 if report is None else int(sum(report.excluded.values()))
