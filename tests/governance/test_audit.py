"""The hash-chained audit log: verification and tamper detection with line numbers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nextgen_ml.governance.audit import GENESIS, AuditChainError, AuditLog, canonical_json, config_hash
from nextgen_ml.governance.duo import DUO_VERSION, ResearchPurpose


@pytest.fixture
def log(tmp_path: Path) -> AuditLog:
    log = AuditLog(tmp_path / "logs" / "audit.jsonl")
    for i in range(4):
        log.append("train", f"user{i}", ResearchPurpose(f"user{i}"), counts={"included": i, "excluded": {}},
                   config={"seed": i}, epsilon=0.5 * i)
    return log


def _lines(log: AuditLog) -> list[str]:
    return log.path.read_text().splitlines(keepends=True)


def test_chain_verifies_and_links(log: AuditLog) -> None:
    assert log.verify() == 4
    entries = list(log.entries())
    assert entries[0]["prev_hash"] == GENESIS
    assert [e["prev_hash"] for e in entries[1:]] == [e["hash"] for e in entries[:-1]]
    assert [e["seq"] for e in entries] == [0, 1, 2, 3]
    first = entries[0]
    assert first["duo_version"] == DUO_VERSION and first["epsilon"] == 0.0
    assert first["config_hash"] == config_hash({"seed": 0}) != config_hash({"seed": 1})
    assert first["code_version"]["nextgen_ml"]
    assert first["purpose"]["requester"] == "user0"
    assert log.verify(expected_head=entries[-1]["hash"]) == 4


def test_edit_is_detected_with_line_number(log: AuditLog) -> None:
    lines = _lines(log)
    entry = json.loads(lines[2])
    entry["counts"]["included"] = 99
    lines[2] = canonical_json(entry) + "\n"
    log.path.write_text("".join(lines))
    with pytest.raises(AuditChainError, match="line 3.*edited") as err:
        log.verify()
    assert err.value.line == 3


def test_rehashed_edit_breaks_the_next_line(log: AuditLog) -> None:
    lines = _lines(log)
    entry = json.loads(lines[1])
    entry["requester"] = "mallory"
    entry.pop("hash")
    from nextgen_ml.governance.audit import sha256_hex

    entry["hash"] = sha256_hex(canonical_json(entry))
    lines[1] = canonical_json(entry) + "\n"
    log.path.write_text("".join(lines))
    with pytest.raises(AuditChainError) as err:
        log.verify()
    assert err.value.line == 3


def test_deletion_is_detected(log: AuditLog) -> None:
    lines = _lines(log)
    del lines[1]
    log.path.write_text("".join(lines))
    with pytest.raises(AuditChainError, match="line 2") as err:
        log.verify()
    assert err.value.line == 2


def test_reordering_is_detected(log: AuditLog) -> None:
    lines = _lines(log)
    lines[2], lines[3] = lines[3], lines[2]
    log.path.write_text("".join(lines))
    with pytest.raises(AuditChainError) as err:
        log.verify()
    assert err.value.line == 3


def test_tail_truncation_needs_expected_head(log: AuditLog) -> None:
    head = list(log.entries())[-1]["hash"]
    log.path.write_text("".join(_lines(log)[:-1]))
    assert log.verify() == 3  # a shorter chain is still a chain
    with pytest.raises(AuditChainError, match="line 4"):
        log.verify(expected_head=head)


def test_append_continues_the_chain_across_instances(log: AuditLog) -> None:
    AuditLog(log.path).append("discovery", "eve", counts={"released": "<5"})
    assert log.verify() == 5


def test_invalid_entries_are_rejected(tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "a.jsonl")
    with pytest.raises(ValueError, match="kind"):
        log.append("export", "alice")
    with pytest.raises(ValueError, match="requester"):
        log.append("train", "")
    with pytest.raises(ValueError, match="epsilon"):
        log.append("train", "alice", epsilon=-1.0)
    log.path.write_text("not json\n")
    with pytest.raises(AuditChainError, match="line 1"):
        log.verify()
