"""Tamper-evident audit log: append-only JSON Lines, each entry chained to the previous one by sha256.

Every entry records who used which data for what (requester, declared purpose, dataset identities, consent
counts), how (config hash, code version, DUO version, ε spent) and when. ``hash`` is the sha256 of the
canonical JSON of the entry without ``hash`` (so including ``prev_hash``); ``prev_hash`` of the first entry is
:data:`GENESIS`. Editing, deleting or reordering any line breaks the chain at that line, which
:meth:`AuditLog.verify` reports by line number. Appends take an exclusive ``fcntl`` lock and ``fsync``.

Truncating the *tail* of the log leaves a valid shorter chain; keep the last ``hash`` elsewhere (e.g. in the
run's outputs) and pass it to ``verify(expected_head=...)`` to detect that.
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
from typing import Any

import nextgen_ml
from nextgen_ml.data.store import METADATA_FILE
from nextgen_ml.governance.duo import DUO_VERSION, ResearchPurpose

GENESIS = "0" * 64
#: Kinds of use an entry can record.
KINDS: tuple[str, ...] = ("train", "benchmark", "federated", "discovery")


class AuditChainError(RuntimeError):
    """The audit log's hash chain is broken. ``line`` is the 1-based line number of the first bad entry."""

    def __init__(self, path: Path, line: int, message: str) -> None:
        self.path, self.line = path, line
        super().__init__(f"{path}: audit chain broken at line {line}: {message}")


def canonical_json(obj: Any) -> str:
    """Deterministic JSON (sorted keys, no whitespace) used for every hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def sha256_hex(text: str | bytes) -> str:
    return hashlib.sha256(text.encode() if isinstance(text, str) else text).hexdigest()


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
            ["git", "rev-parse", "HEAD"], cwd=Path(nextgen_ml.__file__).parent, capture_output=True, text=True,
            timeout=5, check=True,
        )
        commit: str | None = out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        commit = None
    return {"nextgen_ml": nextgen_ml.__version__, "git_commit": commit}


def dataset_identity(store_path: str | os.PathLike) -> dict[str, Any]:
    """Identity of a store: path, record schema version and sha256 of its ``_metadata.json``."""
    path = Path(store_path)
    raw = (path / METADATA_FILE).read_bytes()
    return {
        "path": str(path.resolve()),
        "schema_version": json.loads(raw).get("schema_version"),
        "metadata_sha256": sha256_hex(raw),
    }


def _last_line(handle: Any) -> bytes:
    """The last non-empty line of a binary file handle, reading backwards from the end."""
    pos = handle.seek(0, os.SEEK_END)
    chunk = b""
    while pos > 0 and chunk.rstrip(b"\n").count(b"\n") == 0:
        step = min(4096, pos)
        pos -= step
        handle.seek(pos)
        chunk = handle.read(step) + chunk
    return chunk.rstrip(b"\n").rsplit(b"\n", 1)[-1]


class AuditLog:
    """An append-only, hash-chained JSON Lines audit log.

    Args:
        path: the ``.jsonl`` file (created with its folder on first append).
    """

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)

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
    ) -> dict[str, Any]:
        """Append one entry and return it (with ``seq``, ``prev_hash`` and ``hash``).

        Args:
            kind: one of :data:`KINDS`.
            requester: who used the data.
            purpose: the declared research purpose.
            datasets: :func:`dataset_identity` of every store touched.
            counts: ``{"included": int, "excluded": {reason: int}}`` or, for discovery, the released answer.
            config: the run config (only its hash is stored).
            epsilon: differential-privacy ε spent, if any.
            details: extra JSON-serialisable facts (e.g. the discovery query).
        """
        if kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        if not requester:
            raise ValueError("requester must be a non-empty id")
        if epsilon is not None and not epsilon >= 0:
            raise ValueError(f"epsilon must be >= 0, got {epsilon}")
        body: dict[str, Any] = {
            "timestamp": dt.datetime.now(dt.timezone.utc).isoformat(),
            "kind": kind,
            "requester": requester,
            "purpose": purpose.to_dict() if isinstance(purpose, ResearchPurpose) else purpose,
            "datasets": [dict(d) for d in datasets],
            "duo_version": DUO_VERSION,
            "counts": dict(counts or {}),
            "config_hash": None if config is None else config_hash(config),
            "code_version": code_version(),
            "epsilon": epsilon,
            "details": dict(details or {}),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a+b") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                last = _last_line(handle)
                prev = json.loads(last) if last else None
                body["seq"] = 0 if prev is None else int(prev["seq"]) + 1
                body["prev_hash"] = GENESIS if prev is None else prev["hash"]
                body["hash"] = sha256_hex(canonical_json(body))
                handle.seek(0, os.SEEK_END)
                handle.write((canonical_json(body) + "\n").encode())
                handle.flush()
                os.fsync(handle.fileno())
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
        return body

    def entries(self) -> Iterator[dict[str, Any]]:
        """Parsed entries in file order (no verification)."""
        if not self.path.exists():
            return
        with open(self.path, encoding="utf-8") as handle:
            for line in handle:
                if line.strip():
                    yield json.loads(line)

    def verify(self, expected_head: str | None = None) -> int:
        """Check the whole chain.

        Args:
            expected_head: the ``hash`` the last entry must have (detects truncation of the tail).

        Returns:
            The number of entries.

        Raises:
            AuditChainError: naming the first broken line (1-based).
        """
        prev, n = GENESIS, 0
        if self.path.exists():
            with open(self.path, encoding="utf-8") as handle:
                for n, line in enumerate(handle, start=1):  # noqa: B007 - n is used after the loop
                    prev = self._check_line(n, line, prev)
        if expected_head is not None and prev != expected_head:
            raise AuditChainError(self.path, n + 1, f"log ends at hash {prev[:12]}…, expected {expected_head[:12]}…")
        return n

    def _check_line(self, n: int, line: str, prev: str) -> str:
        try:
            entry = json.loads(line)
        except json.JSONDecodeError as err:
            raise AuditChainError(self.path, n, f"not valid JSON ({err.msg})") from None
        if not isinstance(entry, dict) or "hash" not in entry:
            raise AuditChainError(self.path, n, "entry has no 'hash'")
        stored = entry.pop("hash")
        if entry.get("prev_hash") != prev:
            raise AuditChainError(self.path, n, "prev_hash does not match the previous entry (deleted or reordered)")
        if entry.get("seq") != n - 1:
            raise AuditChainError(self.path, n, f"seq {entry.get('seq')} where {n - 1} was expected")
        if sha256_hex(canonical_json(entry)) != stored:
            raise AuditChainError(self.path, n, "content does not match its hash (edited)")
        return stored
