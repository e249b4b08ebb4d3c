"""train(cfg) end to end: the default (consented) DP run audits a start and an end entry with ε and δ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from omegaconf import open_dict

from nextgen_ml.governance.anchor import ANCHOR_FILE, Anchor
from nextgen_ml.governance.audit import AuditLog
from tests.training.conftest import TINY, compose_cfg


@pytest.mark.slow
def test_dp_run_end_entry_holds_the_epsilon_spent_and_the_anchor_verifies(tiny_store: Path, tmp_path: Path) -> None:
    from nextgen_ml.training import train

    cfg = compose_cfg([*TINY, "privacy=dp", "privacy.accountant=rdp", "plots=false", "trainer.max_epochs=1"])
    with open_dict(cfg):
        cfg.paths.output_dir, cfg.paths.log_dir = str(tmp_path / "run"), str(tmp_path / "logs")
        cfg.data.data_dir, cfg.data.cohort = str(tiny_store), None
        cfg.trainer.limit_train_batches, cfg.trainer.limit_val_batches, cfg.trainer.limit_test_batches = 2, 1, 1
    metrics = train(cfg)
    start, end = AuditLog(cfg.audit_log).entries()
    assert (start["phase"], end["phase"]) == ("start", "end")
    assert start["details"]["consent"] == "strict" and start["purpose"]["health_research"] is True
    assert sum(start["counts"]["excluded"].values()) > 0  # the default purpose filtered records
    assert end["epsilon"] == pytest.approx(metrics["privacy/epsilon"]) and end["epsilon"] > 0
    assert end["delta"] == pytest.approx(metrics["privacy/delta"])
    anchor = json.loads((Path(cfg.paths.output_dir) / ANCHOR_FILE).read_text())
    assert anchor["hash"] == end["hash"]
    assert AuditLog(cfg.audit_log).verify(anchors=[Anchor.parse(Path(cfg.paths.output_dir) / ANCHOR_FILE)], head=True)
