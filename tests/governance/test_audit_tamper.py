"""An adversary with write access to the audit log: every tampering is detected with the run's anchor."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nextgen_ml.governance.anchor import KEY_ENV, Anchor, write_anchor
from nextgen_ml.governance.audit import AuditChainError, AuditLog, AuditTornError, canonical_json, entry_hash

KEY = b"steward-secret"


def _log(tmp_path: Path, key: bytes = b"", n: int = 4) -> tuple[AuditLog, Anchor]:
    """A log of ``n`` entries and the anchor a run kept after the last one."""
    log = AuditLog(tmp_path / "audit.jsonl", key=key)
    for i in range(n):
        entry = log.append("train", f"user{i}", counts={"included": i, "excluded": {}}, epsilon=0.5 * i)
    anchor = Anchor(entry["seq"], entry["hash"], str(log.path)).signed(key or None)
    return log, anchor


def _rewrite(log: AuditLog, index: int, key: bytes | None = None, **changes: object) -> None:
    """Edit entry ``index`` and re-hash (and, with ``key``, re-mac) it and every later entry: a full rewrite."""
    entries = list(log.entries())
    entries[index].update(changes)
    prev = entries[index - 1]["hash"] if index else "0" * 64
    for entry in entries[index:]:
        entry["prev_hash"] = prev
        entry.pop("mac", None)
        entry["hash"] = prev = entry_hash(entry)
        if key is not None:
            from nextgen_ml.governance.anchor import entry_mac

            entry["mac"] = entry_mac(key, entry["hash"])
    log.path.write_text("".join(canonical_json(e) + "\n" for e in entries))


def _forge_append(log: AuditLog) -> None:
    """Append a well-formed, correctly chained entry without the key (what a forger can do)."""
    AuditLog(log.path, key=b"").append("train", "mallory", counts={"included": 1, "excluded": {}})


def test_untampered_log_verifies_with_its_anchor(tmp_path: Path) -> None:
    log, anchor = _log(tmp_path, KEY)
    assert log.verify(anchors=[anchor], head=True) == 4
    entry = list(log.entries())[-1]
    assert entry["mac"] and entry["epsilon"] == 1.5 and entry["delta"] is None


def test_truncation_is_detected_with_the_anchor(tmp_path: Path) -> None:
    log, anchor = _log(tmp_path)
    log.path.write_text("".join(log.path.read_text().splitlines(keepends=True)[:-1]))
    assert log.verify() == 3  # the chain alone cannot see it
    with pytest.raises(AuditChainError, match="truncated") as err:
        log.verify(anchors=[anchor])
    assert err.value.line == 4


def test_rehashed_rewrite_is_detected_with_the_anchor(tmp_path: Path) -> None:
    log, anchor = _log(tmp_path)
    _rewrite(log, 1, requester="mallory")
    assert log.verify() == 4  # internally consistent
    with pytest.raises(AuditChainError, match="rewritten") as err:
        log.verify(anchors=[anchor])
    assert err.value.line == 4


def test_rehashed_rewrite_is_detected_by_the_key_without_an_anchor(tmp_path: Path) -> None:
    log, _ = _log(tmp_path, KEY)
    _rewrite(log, 2, epsilon=0.0)
    with pytest.raises(AuditChainError, match="forged or re-hashed") as err:
        log.verify()
    assert err.value.line == 3


def test_forged_append_is_detected_by_the_key_or_the_head_anchor(tmp_path: Path) -> None:
    log, anchor = _log(tmp_path, KEY)
    _forge_append(log)
    with pytest.raises(AuditChainError, match="line 5.*no mac"):
        log.verify(anchors=[anchor])
    keyless = AuditLog(log.path, key=b"")
    assert keyless.verify(anchors=[anchor]) == 5  # the anchor alone allows later (honest) entries
    with pytest.raises(AuditChainError, match="1 entries were appended after it"):
        keyless.verify(anchors=[anchor], head=True)


def test_edited_field_is_detected(tmp_path: Path) -> None:
    log, anchor = _log(tmp_path)
    lines = log.path.read_text().splitlines(keepends=True)
    entry = json.loads(lines[2])
    entry["counts"]["included"] = 99
    lines[2] = canonical_json(entry) + "\n"
    log.path.write_text("".join(lines))
    with pytest.raises(AuditChainError, match="line 3.*edited"):
        log.verify(anchors=[anchor])


def test_forged_anchor_is_detected_with_the_key(tmp_path: Path) -> None:
    log, anchor = _log(tmp_path, KEY)
    _rewrite(log, 0, key=b"guessed", requester="mallory")
    forged = Anchor(3, list(log.entries())[-1]["hash"], mac="0" * 64)
    with pytest.raises(AuditChainError, match="forged"):
        AuditLog(log.path, key=KEY).verify(anchors=[forged])


def test_torn_last_line_refuses_appends_and_is_repaired_with_a_record(tmp_path: Path) -> None:
    log, anchor = _log(tmp_path)
    with open(log.path, "ab") as handle:
        handle.write(b'{"seq":4,"kind":"tra')  # a write interrupted by a crash
    with pytest.raises(AuditTornError, match="line 5.*incomplete") as err:
        log.append("train", "alice")
    assert err.value.line == 5
    with pytest.raises(AuditTornError):
        log.check_tail()
    with pytest.raises(AuditTornError):
        log.verify(anchors=[anchor])
    saved = log.repair_torn()
    assert saved is not None and saved.read_bytes() == b'{"seq":4,"kind":"tra'
    assert log.repair_torn() is None  # nothing left to repair
    repair = list(log.entries())[-1]
    assert repair["kind"] == "audit" and repair["details"]["torn_bytes"] == 20
    assert log.verify(anchors=[anchor]) == 5
    log.append("train", "alice")
    assert log.verify(anchors=[anchor]) == 6


def test_append_refuses_to_extend_an_edited_or_unlinked_tail(tmp_path: Path) -> None:
    log, _ = _log(tmp_path)
    lines = log.path.read_text().splitlines(keepends=True)
    last = json.loads(lines[-1])
    last["requester"] = "mallory"
    log.path.write_text("".join(lines[:-1]) + canonical_json(last) + "\n")
    with pytest.raises(AuditChainError, match="line 4.*does not match its hash"):
        log.append("train", "alice")
    last = json.loads(lines[-1])
    last["prev_hash"] = "f" * 64
    last["hash"] = entry_hash(last)  # self-consistent, but linked to nothing
    log.path.write_text("".join(lines[:-1]) + canonical_json(last) + "\n")
    with pytest.raises(AuditChainError, match="line 4.*does not link"):
        log.append("train", "alice")
    log.path.write_text("".join(lines[:2]) + "garbage\n")
    with pytest.raises(AuditChainError, match="line 3.*not a valid entry"):
        log.append("train", "alice")
    assert len(log.path.read_text().splitlines()) == 3  # nothing was appended


def test_append_refuses_an_unauthenticated_tail_when_keyed(tmp_path: Path) -> None:
    log, _ = _log(tmp_path, KEY)
    _forge_append(log)
    with pytest.raises(AuditChainError, match="line 5.*mac"):
        log.append("train", "alice")


def test_anchor_forms_and_the_key_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    log = AuditLog(tmp_path / "a.jsonl")
    entry = log.append("discovery", "alice", phase=None, delta=1e-5)
    assert entry["mac"] and entry["delta"] == 1e-5
    path = write_anchor(tmp_path / "run" / "audit_anchor.json", Anchor(0, entry["hash"]).signed(KEY))
    for form in (path, f"0:{entry['hash']}", entry["hash"]):
        assert log.verify(anchors=[Anchor.parse(form)], head=True) == 1
    with pytest.raises(ValueError, match="neither"):
        Anchor.parse("not-an-anchor")
    with pytest.raises(ValueError, match="phase"):
        log.append("train", "alice", phase="middle")
    with pytest.raises(ValueError, match="delta"):
        log.append("train", "alice", delta=-1.0)
