"""Tamper-evident audit log: append-only JSON Lines, each entry chained to the previous one by sha256.

Every entry records who used which data for what (requester, declared purpose, dataset identities, consent
counts), how (config hash, code version, DUO version, ε and δ spent) and when. ``hash`` is the sha256 of the
canonical JSON of the entry without ``hash`` and ``mac`` (so including ``prev_hash``); ``prev_hash`` of the
first entry is :data:`GENESIS`. Editing, deleting or reordering any line breaks the chain at that line, which
:meth:`AuditLog.verify` reports by line number.

A hash chain alone cannot tell a truncated, extended or wholly rewritten log from an honest one, so:

* with a secret key (env :data:`KEY_ENV`), every entry also carries ``mac`` = HMAC-SHA256(key, ``hash``):
  nobody without the key can append, edit or re-hash an entry unnoticed;
* every run keeps an :class:`~nextgen_ml.governance.anchor.Anchor` (the ``seq`` and ``hash`` after its own
  entry) with its outputs; ``verify(anchors=...)`` checks the chain still passes through every anchor, which
  detects truncation and rewrites even without a key, and ``head=True`` detects anything appended after it.

``append`` refuses to extend a log whose tail is broken (:class:`AuditChainError`, naming the line) or torn by
an interrupted write (:class:`AuditTornError`; :meth:`AuditLog.repair_torn` moves the fragment aside and
records that it did). Appends take an exclusive ``fcntl`` lock and ``fsync``.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import hashlib
import json
import os
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any, NoReturn

import nextgen_ml
from nextgen_ml.data.store import METADATA_FILE
from nextgen_ml.governance.anchor import Anchor, audit_key, entry_mac
from nextgen_ml.governance.duo import DUO_VERSION, ResearchPurpose

GENESIS = "0" * 64
#: Kinds of use an entry can record (``audit``: an entry about the log itself, e.g. a repaired torn line).
KINDS: tuple[str, ...] = ("train", "pretrain", "benchmark", "federated", "discovery", "audit", "ingest")
#: Phases of a run: its start entry is written before any training, its end entry after.
PHASES: tuple[str, ...] = ("start", "end")


class AuditChainError(RuntimeError):
    """The audit log's hash chain is broken. ``line`` is the 1-based line number of the first bad entry."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        self.path, self.line = path, line
        super().__init__(f"{path}: audit chain broken at line {line}: {message}")


class AuditTornError(AuditChainError):
    """The log's last line is incomplete (an interrupted write); nothing can be appended until it is repaired."""


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace) used for every hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(text: str | bytes) -> str:
    """Hex sha256 of a string (UTF-8) or bytes."""
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


def entry_hash(entry: Mapping[str, Any]) -> str:
    """sha256 of the canonical JSON of ``entry`` without its ``hash`` and ``mac``."""
    return sha256_hex(canonical_json({k: v for k, v in entry.items() if k not in ("hash", "mac")}))


def config_hash(config: Any) -> str:
    """sha256 of the canonical JSON of a run config (a mapping, or an OmegaConf config)."""
    if type(config).__module__.startswith("omegaconf"):
        from omegaconf import OmegaConf

        config = OmegaConf.to_container(config, resolve=True)
    return sha256_hex(canonical_json(config))


@lru_cache(maxsize=1)
def code_version() -> dict[str, str | None]:
    """``nextgen_ml.__version__`` and the git commit of the source tree when it is a checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(nextgen_ml.__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        )
        commit: str | None = out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"nextgen_ml": nextgen_ml.__version__, "git_commit": commit}


def dataset_identity(store_path: str | os.PathLike | list[Any]) -> dict[str, Any]:
    """Identity of a store: path, record schema version and sha256 of its ``_metadata.json`` (a list of stores
    read as one dataset: ``{"stores": [identity, ...]}``)."""
    if not isinstance(store_path, (str, os.PathLike)):  # a list (or ListConfig) of stores
        return {"stores": [dataset_identity(str(p)) for p in store_path]}
    path = Path(store_path)
    raw = (path / METADATA_FILE).read_bytes()
    return {
        "path": str(path.resolve()),
        "schema_version": json.loads(raw).get("schema_version"),
        "metadata_sha256": sha256_hex(raw),
    }


def _tail(handle: Any, n: int = 2) -> tuple[list[bytes], bool]:
    """The last ``n`` lines of a binary file (without newlines) and whether the file ends with a newline."""
    end = handle.seek(0, os.SEEK_END)
    pos, chunk = end, b""
    while pos > 0 and chunk.count(b"\n") <= n:
        step = min(4096, pos)
        pos -= step
        handle.seek(pos)
        chunk = handle.read(step) + chunk
    complete = chunk.endswith(b"\n") or end == 0
    lines = chunk.split(b"\n")
    if complete:
        lines = lines[:-1]
    if pos > 0:
        lines = lines[1:]  # the first piece may be a partial line
    return lines[-n:], complete


def _loads(raw: bytes) -> dict[str, Any] | None:
    """A parsed entry, or None when ``raw`` is not a JSON object with a ``hash``."""
    try:
        entry = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    return entry if isinstance(entry, dict) and "hash" in entry else None


def _count_lines(path: Path) -> int:
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))


class AuditLog:
    """An append-only, hash-chained (and, with a key, HMAC-authenticated) JSON Lines audit log.

    Args:
        path: the ``.jsonl`` file (created with its folder on first append).
        key: HMAC key for ``mac``; None reads :data:`~nextgen_ml.governance.anchor.KEY_ENV` from the environment,
            ``b""`` disables authentication even when the variable is set.
    """

    def __init__(self, path: str | os.PathLike, key: bytes | None = None) -> None:
        self.path = Path(path)
        self.key = audit_key() if key is None else (key or None)

    # ------------------------------------------------------------------ writing
    def append(
        self,
        kind: str,
        requester: str,
        purpose: ResearchPurpose | Mapping[str, Any] | None = None,
        datasets: Sequence[Mapping[str, Any]] = (),
        counts: Mapping[str, Any] | None = None,
        config: Any = None,
        epsilon: float | None = None,
        details: Mapping[str, Any] | None = None,
        delta: float | None = None,
        phase: str | None = None,
    ) -> dict[str, Any]:
        """Append one entry and return it (with ``seq``, ``prev_hash``, ``hash`` and, with a key, ``mac``).

        Args:
            kind: one of :data:`KINDS`.
            requester: who used the data.
            purpose: the declared research purpose.
            datasets: :func:`dataset_identity` of every store touched.
            counts: ``{"included": int, "excluded": {reason: int}}`` or, for discovery, the released answer.
            config: the run config (only its hash is stored).
            epsilon: differential-privacy ε spent, if any.
            details: extra JSON-serialisable facts (e.g. the discovery query).
            delta: differential-privacy δ of the guarantee, if any.
            phase: ``"start"`` or ``"end"`` for the two entries of a run, None for a one-off entry.

        Raises:
            AuditTornError: the last line is incomplete (see :meth:`repair_torn`).
            AuditChainError: the tail of the chain is broken (an edited, re-hashed or forged last entry).
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not requester:
            raise ValueError("requester must be a non-empty id")
        for name, value in (("epsilon", epsilon), ("delta", delta)):
            if value is not None and not value >= 0:
                raise ValueError(f"{name} must be >= 0, got {value}")
        if phase is not None and phase not in PHASES:
            raise ValueError(f"phase must be one of {PHASES} or None, got {phase!r}")
        body: dict[str, Any] = {
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(),
            "kind": kind,
            "phase": phase,
            "requester": requester,
            "purpose": purpose.to_dict() if isinstance(purpose, ResearchPurpose) else purpose,
            "datasets": [dict(d) for d in datasets],
            "duo_version": DUO_VERSION,
            "counts": dict(counts or {}),
            "config_hash": None if config is None else config_hash(config),
            "code_version": code_version(),
            "epsilon": epsilon,
            "delta": delta,
            "details": dict(details or {}),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                head = self._check_tail(handle)
                body["seq"] = 0 if head is None else head.seq + 1
                body["prev_hash"] = GENESIS if head is None else head.hash
                body["hash"] = entry_hash(body)
                if self.key is not None:
                    body["mac"] = entry_mac(self.key, body["hash"])
                handle.seek(0, os.SEEK_END)
                handle.write((canonical_json(body) + "\n").encode())
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return body

    def check_tail(self) -> Anchor | None:
        """The current head (None for an empty log) after checking the tail as :meth:`append` does.

        Use it before work that must be audited afterwards (e.g. training), so a broken log stops the run
        before any work is done rather than after.
        """
        if not self.path.exists():
            return None
        with open(self.path, "rb") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            try:
                return self._check_tail(handle)
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _check_tail(self, handle: Any) -> Anchor | None:
        lines, complete = _tail(handle)
        if not lines and complete:
            return None

        def fail(message: str, back: int = 0, error: type[AuditChainError] = AuditChainError) -> NoReturn:
            # line numbers are counted only when something is wrong (appends stay O(1) in the log's size)
            raise error(self.path, _count_lines(self.path) + (0 if complete else 1) - back, message)

        if not complete:
            fail(
                f"the last line is incomplete ({len(lines[-1])} bytes without a newline: an interrupted write); "
                f"nothing can be appended until `nextgen-ml audit repair {self.path}` moves it aside",
                error=AuditTornError,
            )
        last = _loads(lines[-1])
        if last is None:
            fail("the last line is not a valid entry; refusing to extend")
        if last.get("hash") != entry_hash(last):
            fail("the last entry does not match its hash (edited); refusing to extend")
        if self.key is not None and last.get("mac") != entry_mac(self.key, last["hash"]):
            fail("the last entry's mac does not verify with the audit key (forged)")
        prev = _loads(lines[0]) if len(lines) == 2 else {"hash": GENESIS, "seq": -1}
        if prev is None:
            fail("the line before the last is not a valid entry; refusing to extend", back=1)
        seq = prev.get("seq")
        if last.get("prev_hash") != prev.get("hash") or not isinstance(seq, int) or last.get("seq") != seq + 1:
            fail("the last entry does not link to the one before it; refusing")
        return Anchor(seq=int(last["seq"]), hash=str(last["hash"]))

    def repair_torn(self) -> Path | None:
        """Move an incomplete last line to ``<log>.torn-<timestamp>`` and record that in an ``audit`` entry.

        Only an incomplete (torn) last line is repaired: it never was an entry, so no anchor can name it. A
        broken chain is never "repaired" here; it is evidence.

        Returns:
            The file holding the fragment, or None when the log's last line was complete.
        """
        with open(self.path, "r+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                lines, complete = _tail(handle, 1)
                if complete:
                    return None
                fragment = lines[-1]
                size = handle.seek(0, os.SEEK_END)
                stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
                saved = self.path.with_name(f"{self.path.name}.torn-{stamp}")
                saved.write_bytes(fragment)
                handle.truncate(size - len(fragment))
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        details = {"torn_bytes": len(fragment), "torn_sha256": sha256_hex(fragment), "saved_to": str(saved)}
        self.append("audit", "nextgen-ml audit repair", details=details)
        return saved

    # ------------------------------------------------------------------ reading and verifying
    def entries(self) -> Iterator[dict[str, Any]]:
        """Parsed entries in file order (no verification)."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)

    def verify(
        self,
        expected_head: str | None = None,
        anchors: Sequence[Anchor] = (),
        head: bool = False,
    ) -> int:
        """Check the whole chain, its macs (with a key) and that it passes through every anchor.

        Args:
            expected_head: the ``hash`` the last entry must have (same as ``anchors=[Anchor(None, h)], head=True``).
            anchors: anchors kept by runs; each entry they name must still be in the chain with that hash (detects
                truncation and rewrites). Anchors carrying a ``mac`` are checked against the key.
            head: the last anchor must be the last entry (detects entries appended after it without a key).

        Returns:
            The number of entries.

        Raises:
            AuditChainError: naming the first broken line (1-based).
        """
        anchors = list(anchors) + ([Anchor(None, expected_head)] if expected_head is not None else [])
        head = head or expected_head is not None
        hashes: list[str] = []
        if self.path.exists():
            with open(self.path, "rb") as handle:
                data = handle.read()
            if data and not data.endswith(b"\n"):
                line = data.count(b"\n") + 1
                raise AuditTornError(self.path, line, "the last line is incomplete (an interrupted write)")
            for n, raw in enumerate(data.splitlines(), start=1):
                hashes.append(self._check_line(n, raw, hashes[-1] if hashes else GENESIS))
        for anchor in anchors:
            self._check_anchor(anchor, hashes)
        if head and anchors and (not hashes or anchors[-1].hash != hashes[-1]):
            extra = len(hashes) - 1 - hashes.index(anchors[-1].hash) if anchors[-1].hash in hashes else None
            what = f"{extra} entries were appended after it" if extra else "the log does not end at it"
            raise AuditChainError(
                self.path, len(hashes), f"the anchor {anchors[-1].hash[:12]}… is not the head: {what}"
            )
        return len(hashes)

    def _check_anchor(self, anchor: Anchor, hashes: list[str]) -> None:
        if anchor.mac is not None and self.key is not None and anchor.mac != anchor.expected_mac(self.key):
            raise AuditChainError(self.path, (anchor.seq or 0) + 1, "the anchor's mac does not verify (forged anchor)")
        if anchor.seq is None:
            if anchor.hash not in hashes:
                raise AuditChainError(
                    self.path,
                    len(hashes) + 1,
                    f"no entry has the anchored hash {anchor.hash[:12]}… (truncated or rewritten)",
                )
            return
        if anchor.seq >= len(hashes):
            raise AuditChainError(
                self.path,
                len(hashes) + 1,
                f"the log has {len(hashes)} entries but an anchor names entry seq {anchor.seq} (truncated)",
            )
        if hashes[anchor.seq] != anchor.hash:
            raise AuditChainError(
                self.path,
                anchor.seq + 1,
                f"entry seq {anchor.seq} has hash {hashes[anchor.seq][:12]}…, the anchor says {anchor.hash[:12]}… "
                "(rewritten and re-hashed)",
            )

    def _parse(self, n: int, raw: bytes | str) -> dict[str, Any]:
        try:
            entry = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise AuditChainError(self.path, n, f"not valid JSON ({err})") from None
        if not isinstance(entry, dict) or "hash" not in entry:
            raise AuditChainError(self.path, n, "entry has no 'hash'")
        return entry

    def _check_line(self, n: int, raw: bytes | str, prev: str) -> str:
        entry = self._parse(n, raw)
        if entry.get("prev_hash") != prev:
            raise AuditChainError(self.path, n, "prev_hash does not match the previous entry (deleted or reordered)")
        if entry.get("seq") != n - 1:
            raise AuditChainError(self.path, n, f"seq {entry.get('seq')} where {n - 1} was expected")
        if entry_hash(entry) != entry["hash"]:
            raise AuditChainError(self.path, n, "content does not match its hash (edited)")
        if self.key is not None and entry.get("mac") != entry_mac(self.key, entry["hash"]):
            state = "has no mac" if "mac" not in entry else "has a mac that does not verify"
            raise AuditChainError(self.path, n, f"entry {state} with the audit key (forged or re-hashed)")
        return str(entry["hash"])
