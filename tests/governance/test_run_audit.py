"""A run's start and end audit entries, its anchor, and what happens when the log is damaged."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from nextgen_ml.governance.anchor import ANCHOR_FILE, Anchor
from nextgen_ml.governance.audit import AuditChainError, AuditLog, AuditTornError
from nextgen_ml.training.audit import PENDING_FILE, RunAudit, start_run_audit
from tests.governance.govstores import build_store, make_record


@pytest.fixture
def dm(tmp_path: Path) -> SimpleNamespace:
    """What RunAudit reads from a set-up datamodule (a real store for the dataset identity)."""
    store = build_store(tmp_path / "store", [make_record(f"p{i}") for i in range(3)])
    purpose = {"requester": "alice", "health_research": True, "strict": True}
    report = SimpleNamespace(counts=lambda: {"included": 2, "excluded": {"DS (DUO:0000007)": 1}})
    return SimpleNamespace(
        purpose=purpose,
        consent_report=report,
        store=[0, 1],
        data_dir=store,
        modalities=["ecg"],
        split_indices={"train": np.arange(2), "val": np.arange(0), "test": np.arange(0)},
    )


def test_start_and_end_entries_anchor_the_run_and_carry_epsilon_and_delta(dm, tmp_path: Path) -> None:
    log_path, out = tmp_path / "logs" / "audit.jsonl", tmp_path / "run"
    audit = start_run_audit(log_path, "train", dm, {"lr": 1e-3}, out)
    start_anchor = Anchor.parse(out / ANCHOR_FILE)
    assert start_anchor.seq == 0
    end = audit.end({"privacy/epsilon": 2.5, "privacy/delta": 1e-6, "test/auroc": 0.7})
    start, last = AuditLog(log_path).entries()
    assert (start["phase"], last["phase"]) == ("start", "end")
    assert start["epsilon"] is None and (last["epsilon"], last["delta"]) == (2.5, 1e-6)
    assert last["details"]["start_hash"] == start["hash"] and last["details"]["consent"] == "strict"
    assert last["counts"]["excluded"] == {"DS (DUO:0000007)": 1}
    anchor = Anchor.parse(out / ANCHOR_FILE)
    assert (anchor.seq, anchor.hash) == (1, end["hash"])
    assert AuditLog(log_path).verify(anchors=[start_anchor, anchor], head=True) == 2
    assert start_run_audit(None, "train", dm, {}, out) is None  # audit_log: null


def test_a_broken_log_stops_the_run_before_training(dm, tmp_path: Path) -> None:
    log_path = tmp_path / "audit.jsonl"
    AuditLog(log_path).append("train", "bob")
    with open(log_path, "ab") as handle:
        handle.write(b'{"torn')
    with pytest.raises(AuditTornError, match="audit repair"):
        start_run_audit(log_path, "train", dm, {}, tmp_path / "run")
    assert not (tmp_path / "run" / ANCHOR_FILE).exists()
    log_path.write_text(log_path.read_text().replace('"bob"', '"eve"').split('{"torn')[0])
    with pytest.raises(AuditChainError, match="line 1"):
        start_run_audit(log_path, "train", dm, {}, tmp_path / "run")


def test_log_damaged_during_training_keeps_the_run_and_writes_the_entry_aside(
    dm, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log_path, out = tmp_path / "audit.jsonl", tmp_path / "run"
    audit = start_run_audit(log_path, "train", dm, {}, out)
    with open(log_path, "ab") as handle:
        handle.write(b'{"torn')  # e.g. another process crashed mid-write while this run trained
    with caplog.at_level(logging.WARNING):
        assert audit.end({"privacy/epsilon": 1.0}) is None
    pending = json.loads((out / PENDING_FILE).read_text())
    assert pending["phase"] == "end" and pending["epsilon"] == 1.0 and "incomplete" in pending["error"]
    assert "audit_pending.json" in caplog.text
    assert Anchor.parse(out / ANCHOR_FILE).seq == 0  # the anchor still names the start entry


def test_consent_off_is_recorded_and_warned(dm, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    dm.purpose, dm.consent_report = None, None
    with caplog.at_level(logging.WARNING):
        entry = RunAudit(tmp_path / "a.jsonl", "train", dm, {}, tmp_path / "run").start()
    assert entry["details"]["consent"] == "off" and entry["purpose"] is None
    assert entry["counts"] == {"included": 2, "excluded": {}}
    assert "consent filter OFF" in caplog.text


def test_any_failure_of_the_end_entry_keeps_the_run(dm, tmp_path: Path) -> None:
    audit = start_run_audit(tmp_path / "audit.jsonl", "train", dm, {}, tmp_path / "run")
    (Path(dm.data_dir) / "_metadata.json").unlink()  # the store's identity can no longer be read
    assert audit.end({"privacy/epsilon": 3.0, "privacy/delta": 1e-5}) is None
    pending = json.loads((tmp_path / "run" / PENDING_FILE).read_text())
    assert pending["error"].startswith("FileNotFoundError") and pending["details"]["start_hash"] == audit.start_hash
    assert (pending["epsilon"], pending["delta"]) == (3.0, 1e-5)
