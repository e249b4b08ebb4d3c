"""Flower apps: the ``ClientApp`` every site runs and the ``ServerApp`` that aggregates.

The same apps run in Flower's simulation engine (:func:`nextgen_ml.federated.simulation.run_federated`) and as
real deployments (``flwr run`` against a SuperLink with one SuperNode per site, see docs/federated.md). Both read
two files: the resolved run config (``config-path``) and the federated plan (``plan-path``); a SuperNode's
``partition-id`` picks its site from the plan.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import lightning.pytorch as pl
from flwr.app import Context
from flwr.client import Client, ClientApp
from flwr.client.mod import secaggplus_mod
from flwr.server import Grid, LegacyContext, ServerApp, ServerConfig
from flwr.server.workflow import DefaultWorkflow, SecAggPlusWorkflow
from omegaconf import DictConfig, OmegaConf

from nextgen_ml.federated.client import SiteClient
from nextgen_ml.federated.plan import SERVER, FederatedPlan
from nextgen_ml.federated.recorder import Recorder
from nextgen_ml.federated.results import audit_federated, audit_federated_start, federated_metrics, write_outputs
from nextgen_ml.federated.server import GlobalEvaluator, build_strategy
from nextgen_ml.federated.site_config import federated_config

log = logging.getLogger(__name__)

#: run-config keys (``[tool.flwr.app.config]`` of a Flower app) the apps read.
CONFIG_PATH_KEY, PLAN_PATH_KEY, OUTPUT_DIR_KEY = "config-path", "plan-path", "output-dir"


@lru_cache(maxsize=4)
def load_run(config_path: str, plan_path: str) -> tuple[DictConfig, FederatedPlan]:
    """The resolved run config and the plan (read once per process)."""
    return OmegaConf.load(config_path), FederatedPlan.load(plan_path)


def client_fn_for(config_path: str, plan_path: str) -> Callable[[Context], Client]:
    """A ``client_fn`` that serves the site ``plan.sites[node_config["partition-id"]]`` with that site's plan file
    (``federated_plan.<site>.json``: its own patients only)."""

    def client_fn(context: Context) -> Client:
        cfg, plan = load_run(config_path, plan_path)
        site = plan.site(int(context.node_config["partition-id"]))  # the common plan: site names, no patient id
        return SiteClient(cfg, plan.for_recipient(plan_path, site), site, context.state).to_client()

    return client_fn


def make_client_app(config_path: str | Path, plan_path: str | Path, secure_aggregation: bool = False) -> ClientApp:
    """The sites' ``ClientApp`` (with Flower's ``secaggplus_mod`` under secure aggregation)."""
    return ClientApp(client_fn=client_fn_for(str(config_path), str(plan_path)),
                     mods=[secaggplus_mod] if secure_aggregation else None)


def serve(grid: Grid, context: Context, cfg: DictConfig, plan: FederatedPlan, out_dir: Path) -> dict[str, float]:
    """The ServerApp's body: audit the start, run the rounds (FedAvg/FedProx, optionally SecAgg+), then write
    metrics and the end audit entry (ε, δ).

    Returns:
        The flat metrics written to ``out_dir/metrics.json``.
    """
    fed = federated_config(cfg)
    start = audit_federated_start(cfg, plan, fed, out_dir)  # before any round: a failed run leaves it unfinished
    pl.seed_everything(int(cfg.seed), verbose=False)  # the initial global model
    recorder = Recorder()
    evaluator = GlobalEvaluator(cfg, plan, recorder)
    strategy = build_strategy(fed, len(plan.sites), evaluator.initial_parameters(), recorder, evaluator)
    legacy = LegacyContext(context=context, config=ServerConfig(num_rounds=fed.rounds), strategy=strategy)
    fit_workflow = None
    if fed.secure_aggregation:
        fit_workflow = SecAggPlusWorkflow(num_shares=fed.secagg_num_shares,
                                          reconstruction_threshold=fed.secagg_reconstruction_threshold,
                                          clipping_range=fed.secagg_clipping_range, max_weight=fed.secagg_max_weight)
    DefaultWorkflow(fit_workflow=fit_workflow)(grid, legacy)
    failed = {r: n for r, n in recorder.failures.items() if n}
    if failed:
        raise RuntimeError(f"federated: site results failed in rounds {failed} (see the ClientApp logs)")
    metrics = federated_metrics(fed, recorder)
    write_outputs(out_dir, fed, recorder, metrics)
    audit_federated(cfg, plan, fed, recorder, metrics, out_dir, start)
    return metrics


def make_server_app(config_path: str | Path, plan_path: str | Path, out_dir: str | Path) -> ServerApp:
    """A workflow-style ``ServerApp`` running :func:`serve` and writing into ``out_dir``."""
    app = ServerApp()

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        cfg, plan = load_run(str(config_path), str(plan_path))
        serve(grid, context, cfg, plan.for_recipient(plan_path, SERVER), Path(out_dir))

    return app


# ---------------------------------------------------------------------- `flwr run` entry points (pyproject.toml)
def _from_run_config(context: Context, key: str) -> Any:
    if key not in context.run_config:
        raise ValueError(f"Flower run config: `{key}` is missing (set it in [tool.flwr.app.config])")
    return context.run_config[key]


def _deployed_client_fn(context: Context) -> Client:
    return client_fn_for(str(_from_run_config(context, CONFIG_PATH_KEY)),
                         str(_from_run_config(context, PLAN_PATH_KEY)))(context)


#: ``clientapp = "nextgen_ml.federated.apps:client_app"``
client_app = ClientApp(client_fn=_deployed_client_fn)
#: ``clientapp = "nextgen_ml.federated.apps:client_app_secagg"`` (with ``secure_aggregation: true`` in the config)
client_app_secagg = ClientApp(client_fn=_deployed_client_fn, mods=[secaggplus_mod])
#: ``serverapp = "nextgen_ml.federated.apps:server_app"``
server_app = ServerApp()


@server_app.main()
def _deployed_main(grid: Grid, context: Context) -> None:
    plan_path = str(_from_run_config(context, PLAN_PATH_KEY))
    cfg, plan = load_run(str(_from_run_config(context, CONFIG_PATH_KEY)), plan_path)
    out_dir = Path(str(_from_run_config(context, OUTPUT_DIR_KEY)))
    serve(grid, context, cfg, plan.for_recipient(plan_path, SERVER), out_dir)
