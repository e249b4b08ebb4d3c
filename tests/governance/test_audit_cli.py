"""`nextgen-ml audit verify` / `repair` end to end."""

from __future__ import annotations

from pathlib import Path

import pytest

from nextgen_ml.cli import main
from nextgen_ml.governance.anchor import KEY_ENV, Anchor, write_anchor
from nextgen_ml.governance.audit import AuditLog


def test_verify_with_anchor_file_detects_truncation_and_reports_unfinished_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, "k3y")
    log = AuditLog(tmp_path / "audit.jsonl")
    log.append("train", "alice", phase="start", details={"run_id": "runA"})
    end = log.append("train", "alice", phase="end", details={"run_id": "runA"})
    log.append("train", "bob", phase="start", details={"run_id": "runB"})  # killed: no end entry
    anchor = write_anchor(tmp_path / "runA" / "audit_anchor.json", Anchor(end["seq"], end["hash"]).signed(b"k3y"))
    assert main(["audit", "verify", str(log.path), "--anchor", str(anchor)]) == 0
    out = capsys.readouterr().out
    assert "ok: 3 entries" in out and "macs verified" in out and "run runB has a start entry" in out
    assert "runA has" not in out
    assert main(["audit", "verify", str(log.path), "--anchor", str(anchor), "--head"]) == 1
    assert "appended after it" in capsys.readouterr().out
    log.path.write_text(log.path.read_text().splitlines(keepends=True)[0])
    assert main(["audit", "verify", str(log.path), "--anchor", str(anchor)]) == 1
    out = capsys.readouterr().out
    assert "FAILED" in out and "truncated" in out


def test_repair_moves_a_torn_line_aside(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    log = AuditLog(tmp_path / "audit.jsonl", key=b"")
    log.append("train", "alice")
    with open(log.path, "ab") as handle:
        handle.write(b'{"half')
    assert main(["audit", "verify", str(log.path)]) == 1
    assert main(["audit", "repair", str(log.path)]) == 0
    assert "moved the torn last line" in capsys.readouterr().out
    assert main(["audit", "verify", str(log.path)]) == 0
