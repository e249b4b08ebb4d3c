"""``nextgen-ml federated``: compose the Hydra training config with ``+experiment=federated_5sites`` and run it in
Flower's simulation engine (the same as ``python train.py +experiment=federated_5sites ...``)."""

from __future__ import annotations

import argparse
import datetime as dt
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import open_dict

HELP = "federated training with Flower (simulation engine): one ClientApp per site, FedAvg/FedProx, site-level DP"
CONFIGS = Path(__file__).resolve().parents[2] / "configs"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("overrides", nargs="*", help="Hydra overrides, e.g. federated.rounds=3 "
                        "federated.strategy=fedprox federated.proximal_mu=0.1 privacy.target_epsilon=3")
    parser.add_argument("--experiment", default="federated_5sites", help="experiment config (configs/experiment)")
    parser.add_argument("--config-dir", default=str(CONFIGS), help="Hydra config directory")
    parser.add_argument("--out-dir", default=None, help="run folder (default outputs/federated/<timestamp>)")
    parser.add_argument("--plan-only", action="store_true",
                        help="only write config.yaml + federated_plan.json (for a deployment with `flwr run`)")


def run(args: argparse.Namespace) -> int:
    from nextgen_ml.training import resolvers  # noqa: F401  (registers ${join:...})

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(Path(args.config_dir).resolve()), version_base="1.3"):
        cfg = compose("train", overrides=[f"+experiment={args.experiment}", *args.overrides])
    from nextgen_ml.training.config_check import check_run_config

    check_run_config(cfg)  # a mistyped key is one message naming it, before anything is built
    root = Path.cwd()
    out = Path(args.out_dir) if args.out_dir else root / "outputs" / "federated" / dt.datetime.now().strftime(
        "%Y-%m-%d_%H-%M-%S")
    with open_dict(cfg):  # outside @hydra.main there is no ${hydra:...}: pin the paths
        cfg.paths.root_dir = str(root)
        cfg.paths.output_dir = str(out.resolve())
    if args.plan_only:
        from nextgen_ml.federated.plan import SERVER, FederatedPlan, scoped_plan_path
        from nextgen_ml.federated.simulation import prepare_run

        _, config_path, plan_path = prepare_run(cfg)
        print(f"config: {config_path}\nplan (every node; no patient id): {plan_path}")
        for scope in (*FederatedPlan.load(plan_path).sites, SERVER):  # each file goes to its recipient only
            print(f"plan for {scope} only: {scoped_plan_path(plan_path, scope)}")
        return 0
    from nextgen_ml.federated.simulation import run_federated

    run_federated(cfg)
    return 0
