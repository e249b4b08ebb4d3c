"""The outputs of a federated run: ``metrics.json`` (flat ``stage/metric``), ``federated.json`` (round history)
and two ``federated`` entries in the hash-chained audit log: ``start`` before round 1 (per-site counts from the
plan) and ``end`` after the last round (counts the sites reported, the largest ε and δ), each followed by the
run's anchor (``<out_dir>/audit_anchor.json``), as pooled runs do."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from nextgen_ml.federated.config import FederatedConfig
from nextgen_ml.federated.plan import FederatedPlan
from nextgen_ml.federated.recorder import Recorder
from nextgen_ml.federated.server import aggregate_evaluate_metrics
from nextgen_ml.governance.anchor import ANCHOR_FILE, Anchor, write_anchor
from nextgen_ml.governance.audit import AuditLog, dataset_identity

#: per-site fit metrics copied into metrics.json as ``<prefix>/<site>``.
_SITE_METRICS: dict[str, str] = {
    "n_train": "federated/n_train",
    "n_excluded": "federated/n_excluded",
    "epsilon": "privacy/epsilon",
    "delta": "privacy/delta",
    "dp_steps": "privacy/steps",
    "noise_multiplier": "privacy/noise_multiplier",
}


def federated_metrics(fed: FederatedConfig, recorder: Recorder) -> dict[str, float]:
    """Flat metrics of a finished run.

    The last round's global test metrics (``test/*`` and ``federated/test_*``), the sites' example-weighted
    validation metrics (``val/*``), the rounds run, and per-site counts and ε (``privacy/epsilon/<site>``;
    ``privacy/epsilon`` is the largest, the guarantee that holds for every site).
    """
    metrics: dict[str, float] = {"federated/rounds": float(len(recorder.fit)),
                                 "federated/sites": float(len(recorder.sites))}
    for key, value in recorder.test.get(recorder.last_round, {}).items():
        metrics[key] = value
        metrics[f"federated/{key.replace('/', '_')}"] = value
    last_eval = recorder.evaluate.get(max(recorder.evaluate, default=0), [])
    for key, value in aggregate_evaluate_metrics([(r["num_examples"], r["metrics"]) for r in last_eval]).items():
        if key.startswith("val_"):  # the sites' validation metrics, example-weighted (``val/auroc`` = monitor)
            metrics[f"val/{key[4:]}"] = value
    for site, site_metrics in sorted(recorder.sites.items()):
        for name, prefix in _SITE_METRICS.items():
            if name in site_metrics:
                metrics[f"{prefix}/{site}"] = float(site_metrics[name])
    eps = [float(m["epsilon"]) for m in recorder.sites.values() if "epsilon" in m]
    if eps:
        metrics["privacy/epsilon"] = max(eps)
    metrics["federated/proximal_mu"] = fed.proximal_mu
    return metrics


def write_outputs(out_dir: Path, fed: FederatedConfig, recorder: Recorder, metrics: dict[str, float]) -> None:
    """``metrics.json`` (sorted) and ``federated.json`` (settings + per-round history)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "metrics.json").write_text(json.dumps(dict(sorted(metrics.items())), indent=2))
    history = {
        "settings": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(fed).items()},
        "test": {str(r): m for r, m in sorted(recorder.test.items())},
        "fit": {str(r): [{k: x[k] for k in ("num_examples", "metrics", "shapes")} for x in res]
                for r, res in sorted(recorder.fit.items())},
        "evaluate": {str(r): res for r, res in sorted(recorder.evaluate.items())},
        "failures": {str(r): n for r, n in sorted(recorder.failures.items())},
    }
    (out_dir / "federated.json").write_text(json.dumps(history, indent=2, default=float))


def _purpose(cfg: DictConfig) -> dict[str, Any] | None:
    return OmegaConf.to_container(cfg.data.purpose, resolve=True) if cfg.data.get("purpose") else None


def _append(cfg: DictConfig, out_dir: Path, **fields: Any) -> dict[str, Any]:
    """Append one ``federated`` entry and write the run's anchor after it."""
    log = AuditLog(cfg.audit_log)
    purpose = _purpose(cfg)
    entry = log.append(kind="federated", requester=(purpose or {}).get("requester") or getpass.getuser(),
                       purpose=purpose, datasets=[dataset_identity(cfg.data.data_dir)], config=cfg, **fields)
    anchor = Anchor(entry["seq"], entry["hash"], str(log.path.resolve())).signed(log.key)
    write_anchor(Path(out_dir) / ANCHOR_FILE, anchor)
    return entry


def audit_federated_start(cfg: DictConfig, plan: FederatedPlan, fed: FederatedConfig,
                          out_dir: Path) -> dict[str, Any] | None:
    """Append the run's ``start`` entry (purpose, store identity, per-site split counts of the plan, config hash)."""
    if not cfg.get("audit_log"):
        return None
    sites = {site: dict(plan.counts.get(site, {})) for site in plan.sites}
    counts = {"included": sum(sum(c.values()) for c in sites.values()), "sites": sites}
    return _append(cfg, out_dir, counts=counts, phase="start",
                   details={"run_id": str(Path(out_dir).resolve()), "strategy": fed.strategy, "rounds": fed.rounds,
                            "sites": list(plan.sites), "secure_aggregation": fed.secure_aggregation,
                            "preprocessing": plan.preprocessing})


def audit_federated(cfg: DictConfig, plan: FederatedPlan, fed: FederatedConfig, recorder: Recorder,
                    metrics: dict[str, float], out_dir: Path | None = None,
                    start: dict[str, Any] | None = None) -> dict[str, Any] | None:
    """Append the run's ``end`` entry (per-site counts, config hash, the largest ε and δ over the sites)."""
    if not cfg.get("audit_log"):
        return None
    sites = {site: {"n_records": int(m.get("n_records", 0)), "n_train": int(m.get("n_train", 0)),
                    "n_excluded": int(m.get("n_excluded", 0))} for site, m in sorted(recorder.sites.items())}
    counts = {"included": sum(s["n_records"] for s in sites.values()),
              "excluded": {"consent": sum(s["n_excluded"] for s in sites.values())}, "sites": sites}
    deltas = [float(m["delta"]) for m in recorder.sites.values() if "delta" in m]
    out_dir = Path(out_dir if out_dir is not None else cfg.paths.output_dir)
    return _append(cfg, out_dir, counts=counts, phase="end", epsilon=metrics.get("privacy/epsilon"),
                   delta=max(deltas) if deltas else None,
                   details={"run_id": str(out_dir.resolve()), "start_hash": (start or {}).get("hash"),
                            "strategy": fed.strategy, "rounds": len(recorder.fit), "sites": list(plan.sites),
                            "secure_aggregation": fed.secure_aggregation, "reference_site": plan.reference_site,
                            "test/auroc": metrics.get("test/auroc")})
