"""Federated (5 sites, site-level DP) vs pooled vs single-site training on the default synthetic cohort.

Every setting is tested on the same held-out test patients: the pooled run's stratified test split (the
federated plan reproduces it; single-site runs train on one site's share of the training split). Settings:

- ``pooled``: ``train.py`` on all sites' training records (no DP);
- ``federated_dp``: ``+experiment=federated_5sites`` (FedAvg, DP-SGD per site, ε per site);
- ``federated``: the same without DP (isolates the cost of DP from the cost of federation);
- ``single_<site>``: one site's training records only, with the plan's shared preprocessing.

Reduced setting for CPUs (say so when quoting): fewer epochs/rounds and a smaller model than train.py's default.

    python scripts/federated_vs_pooled.py --epochs 4 --rounds 4

Prints a table and, as the last line, one JSON object with the figures.
"""

from __future__ import annotations

import argparse
import json
import logging
import time
from pathlib import Path

from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, open_dict

from nextgen_ml.federated.plan import make_plan, site_datamodule
from nextgen_ml.federated.simulation import run_federated
from nextgen_ml.training import resolvers  # noqa: F401
from nextgen_ml.training.factory import build_datamodule, build_module, build_trainer
from nextgen_ml.training.train import train

ROOT = Path(__file__).resolve().parents[1]


def compose_cfg(overrides: list[str], out: Path) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    with open_dict(cfg):
        cfg.paths.root_dir = str(ROOT)
        cfg.paths.output_dir = str(out)
        cfg.audit_log = str(out.parent / "audit.jsonl")
    return cfg


def single_site(cfg: DictConfig, site: str) -> dict[str, float]:
    """Train on ``site``'s training records (plan split + shared preprocessing); test on every site's test split."""
    pooled = build_datamodule(cfg)
    pooled.setup()
    plan = make_plan(pooled)
    dm = site_datamodule(pooled, site, plan.split, plan.transforms)
    dm.setup()
    module = build_module(cfg, dm)
    with open_dict(cfg):
        cfg.callbacks, cfg.logger = {}, {}
        cfg.trainer.enable_checkpointing, cfg.trainer.enable_progress_bar = False, False
    trainer = build_trainer(cfg)
    trainer.fit(module, datamodule=dm)
    test = site_datamodule(pooled, None, plan.split, plan.transforms)
    test.setup()
    return {k: float(v) for k, v in trainer.test(module, datamodule=test, verbose=False)[0].items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--epochs", type=int, default=4, help="epochs of pooled and single-site training")
    parser.add_argument("--rounds", type=int, default=4, help="federated rounds (1 local epoch each)")
    parser.add_argument("--epsilon", type=float, default=8.0, help="per-site DP budget of the federated run")
    parser.add_argument("--modalities", default="ecg,genomics,tabular,text", help="comma-separated modalities")
    parser.add_argument("--fusion", default="concat")
    parser.add_argument("--sites", default="site_a,site_b,site_c,site_d,site_e", help="single-site settings")
    parser.add_argument("--out", default=str(ROOT / "outputs" / "federated_vs_pooled"))
    args = parser.parse_args()
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    out = Path(args.out)
    base = [f"data.modalities=[{args.modalities}]", f"model/fusion={args.fusion}", "plots=false",
            "callbacks=none", "logger=none", "+trainer.enable_progress_bar=false"]
    fed = ["+experiment=federated_5sites", f"federated.rounds={args.rounds}", "privacy.accountant=rdp",
           f"privacy.target_epsilon={args.epsilon}"]
    settings = {
        "pooled": lambda: train(compose_cfg([*base, f"trainer.max_epochs={args.epochs}"], out / "pooled")),
        "federated_dp": lambda: run_federated(compose_cfg([*base, *fed], out / "federated_dp")),
        "federated": lambda: run_federated(compose_cfg([*base, *fed, "privacy.enabled=false"], out / "federated")),
        **{f"single_{s}": (lambda s=s: single_site(compose_cfg([*base, f"trainer.max_epochs={args.epochs}"],
                                                               out / f"single_{s}"), s))
           for s in args.sites.split(",") if s},
    }
    results: dict[str, dict[str, float]] = {}
    for name, run in settings.items():
        start = time.perf_counter()
        metrics = run()
        results[name] = {"test_auroc": metrics["test/auroc"], "test_auprc": metrics.get("test/auprc", float("nan")),
                         "seconds": time.perf_counter() - start}
        if "privacy/epsilon" in metrics:
            results[name]["max_site_epsilon"] = metrics["privacy/epsilon"]
        print(f"{name}: {results[name]}", flush=True)
    singles = [r["test_auroc"] for n, r in results.items() if n.startswith("single_")]
    print(f"\n{'setting':<16} {'test AUROC':>10} {'test AUPRC':>10} {'max ε':>7} {'seconds':>8}")
    for name, r in results.items():
        eps = f"{r['max_site_epsilon']:.2f}" if "max_site_epsilon" in r else "-"
        print(f"{name:<16} {r['test_auroc']:>10.3f} {r['test_auprc']:>10.3f} {eps:>7} {r['seconds']:>8.0f}")
    summary = {"settings": results, "single_site_mean_auroc": sum(singles) / len(singles) if singles else None,
               "epochs": args.epochs, "rounds": args.rounds, "epsilon": args.epsilon,
               "modalities": args.modalities.split(","), "fusion": args.fusion}
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
