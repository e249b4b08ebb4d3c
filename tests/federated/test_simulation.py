"""A whole federated run in Flower's simulation engine: 3 sites, 2 rounds, site-level DP, a consent purpose."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nextgen_ml.governance.audit import AuditLog
from nextgen_ml.training import train
from tests.federated.conftest import FOR_PROFIT

SITES = ("site_a", "site_b", "site_c")


@pytest.mark.slow
def test_three_site_two_round_dp_simulation_writes_metrics_epsilon_per_site_and_a_verified_audit(make_fed_cfg):
    cfg = make_fed_cfg(["federated.rounds=2", FOR_PROFIT])
    metrics = train(cfg)  # dispatches to run_federated (cfg has a `federated` node)
    out = Path(cfg.paths.output_dir)
    assert json.loads((out / "metrics.json").read_text()) == metrics
    assert metrics["federated/rounds"] == 2 and metrics["federated/sites"] == 3
    assert 0.0 <= metrics["test/auroc"] <= 1.0 and metrics["federated/test_auroc"] == metrics["test/auroc"]
    assert "val/auroc" in metrics  # the task's monitor, from the sites' validation splits
    eps = {s: metrics[f"privacy/epsilon/{s}"] for s in SITES}
    assert all(0 < e <= 8.0 for e in eps.values()) and metrics["privacy/epsilon"] == max(eps.values())
    # the accountant carried over rounds: 2 rounds x 2 batches (trainer=debug), one plan for the whole run
    assert all(metrics[f"privacy/steps/{s}"] == 4 for s in SITES)
    assert sum(metrics[f"federated/n_excluded/{s}"] for s in SITES) == 36  # consent filter ran at every site

    history = json.loads((out / "federated.json").read_text())
    assert set(history["test"]) == {"1", "2"} and not any(history["failures"].values())
    from nextgen_ml.federated.client import SiteClient
    from nextgen_ml.federated.parameters import parameter_keys
    from nextgen_ml.federated.plan import FederatedPlan

    net = SiteClient(cfg, FederatedPlan.load(out / "federated_plan.site_a.json"), "site_a").module.net
    shapes = [list(net.state_dict()[k].shape) for k in parameter_keys(net)]
    for results in history["fit"].values():  # what crossed the client boundary: arrays + scalar metrics
        assert {r["metrics"]["site"] for r in results} == set(SITES)
        for r in results:
            assert [list(s) for s in r["shapes"]] == shapes
            assert all(isinstance(v, int | float | str | bool) for v in r["metrics"].values())

    log = AuditLog(cfg.audit_log)
    assert log.verify() >= 2
    start, entry = list(log.entries())[-2:]  # like pooled runs: a start entry before round 1, an end entry after
    assert start["phase"] == "start" and entry["phase"] == "end" and entry["details"]["start_hash"] == start["hash"]
    assert start["details"]["run_id"] == entry["details"]["run_id"] == str(out.resolve())
    assert set(start["counts"]["sites"]) == set(SITES) and start["epsilon"] is None
    assert entry["kind"] == "federated" and entry["purpose"]["requester"] == "acme"
    assert set(entry["counts"]["sites"]) == set(SITES) and entry["counts"]["included"] == 160 - 36
    assert entry["epsilon"] == pytest.approx(metrics["privacy/epsilon"]) and 0 < entry["delta"] < 1
    assert json.loads((out / "audit_anchor.json").read_text())["hash"] == entry["hash"]


@pytest.mark.slow
def test_secure_aggregation_round_runs_in_the_simulation_engine(make_fed_cfg):
    cfg = make_fed_cfg(["federated.rounds=1", "federated.secure_aggregation=true", "privacy.enabled=false"])
    metrics = train(cfg)
    history = json.loads((Path(cfg.paths.output_dir) / "federated.json").read_text())
    assert history["settings"]["secure_aggregation"] is True
    # SecAgg+: the server only ever received the (unmasked) sum, so every result carries the same aggregate
    assert sorted(r["metrics"]["site"] for r in history["fit"]["1"]) == list(SITES)
    assert 0.0 <= metrics["test/auroc"] <= 1.0 and "privacy/epsilon" not in metrics
    assert json.loads(AuditLog(cfg.audit_log).path.read_text().splitlines()[-1])["details"]["secure_aggregation"]
