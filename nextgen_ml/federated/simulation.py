"""``run_federated(cfg)``: a whole federated run in Flower's simulation engine (Ray) on one machine."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from nextgen_ml.federated.plan import PLAN_FILE, make_plan
from nextgen_ml.federated.site_config import federated_config
from nextgen_ml.training.factory import build_datamodule, public_preprocessing_reason

log = logging.getLogger(__name__)

CONFIG_FILE = "config.yaml"


def backend_config(num_cpus: int, client_num_cpus: float) -> dict:
    """Ray settings: a bounded local Ray (``num_cpus``), no dashboard, quiet workers."""
    return {
        "client_resources": {"num_cpus": client_num_cpus, "num_gpus": 0.0},
        "init_args": {"num_cpus": num_cpus, "include_dashboard": False, "logging_level": logging.ERROR,
                      "log_to_driver": False},
    }


def plan_preprocessing(cfg: DictConfig) -> str:
    """``"public"`` or ``"reference_site"``: privacy=dp makes it public whatever ``federated.preprocessing`` says."""
    return "public" if public_preprocessing_reason(cfg) else "reference_site"


def prepare_run(cfg: DictConfig) -> tuple[Path, Path, Path]:
    """Write the resolved config and the federated plan into ``paths.output_dir``.

    Returns:
        ``(out_dir, config_path, plan_path)``.
    """
    fed = federated_config(cfg)
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    config_path = out_dir / CONFIG_FILE
    config_path.write_text(OmegaConf.to_yaml(cfg, resolve=True))
    pooled = build_datamodule(cfg)
    pooled.prepare_data()  # generates the synthetic cohort on first use, like train.py
    pooled.setup()
    plan = make_plan(pooled, fed.sites, fed.reference_site, plan_preprocessing(cfg))
    return out_dir, config_path, plan.save(out_dir / PLAN_FILE)


def run_federated(cfg: DictConfig) -> dict[str, float]:
    """Train the configured model federatedly over the store's sites (simulation engine) and test it.

    Every site is a simulated SuperNode running the ClientApp on its own consented records; the ServerApp
    aggregates with FedAvg/FedProx (optionally SecAgg+) and evaluates the global model on the held-out test
    patients after every round. Writes ``config.yaml``, ``federated_plan.json``, ``metrics.json`` and
    ``federated.json`` into ``paths.output_dir`` and one ``federated`` audit entry.

    Returns:
        The flat metrics of ``metrics.json`` (``test/auroc``, ``federated/test_auroc``, ``privacy/epsilon/<site>``…).
    """
    os.environ.setdefault("FLWR_TELEMETRY_ENABLED", "0")
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    import ray
    from flwr.simulation import run_simulation

    from nextgen_ml.federated.apps import make_client_app, make_server_app

    fed = federated_config(cfg)
    out_dir, config_path, plan_path = prepare_run(cfg)
    n_sites = len(json.loads(plan_path.read_text())["sites"])
    metrics_file = out_dir / "metrics.json"
    metrics_file.unlink(missing_ok=True)
    log.info("federated: %d sites, %d rounds, %s%s", n_sites, fed.rounds, fed.strategy,
             " + SecAgg+" if fed.secure_aggregation else "")
    try:
        run_simulation(
            server_app=make_server_app(config_path, plan_path, out_dir),
            client_app=make_client_app(config_path, plan_path, fed.secure_aggregation),
            num_supernodes=n_sites,
            backend_config=backend_config(fed.ray_num_cpus, fed.client_num_cpus),
        )
    finally:
        if ray.is_initialized():
            ray.shutdown()
    if not metrics_file.exists():
        raise RuntimeError(f"federated: the ServerApp finished without writing {metrics_file} (see the log above)")
    metrics = json.loads(metrics_file.read_text())
    width = max(len(k) for k in metrics)
    print("\n".join(f"{k:<{width}}  {v:.4f}" for k, v in sorted(metrics.items())))
    print(f"outputs: {out_dir}")
    return metrics
