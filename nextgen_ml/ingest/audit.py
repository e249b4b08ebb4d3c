"""Audit entries of an ingest run: a start entry before any file is read, an end entry with the counts.

The log is the steward's hash-chained audit log (:class:`nextgen_ml.governance.audit.AuditLog`), by default
``audit.jsonl`` next to the store folder (the store folder itself is replaced atomically by each run). A broken
log stops the ingest before any file is read; an end entry that cannot be written is a warning, never a lost
store.
"""

from __future__ import annotations

import getpass
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def default_log(out: str | os.PathLike) -> Path:
    """``audit.jsonl`` in the folder that holds the store."""
    return Path(out).resolve().parent / "audit.jsonl"


def _requester() -> str:
    try:
        return os.environ.get("NEXTGEN_ML_STEWARD") or getpass.getuser() or "steward"
    except (KeyError, OSError):
        return "steward"


def ingest_start(log_path: Path, manifest: Any, out: str | os.PathLike, append: bool) -> dict[str, Any]:
    """Append the start entry (manifest hash, site, target store, append or replace)."""
    from nextgen_ml.governance.audit import AuditLog

    details = {"manifest_sha256": manifest.sha256, "site": manifest.site, "store": str(Path(out).resolve()),
               "mode": "append" if append else "replace", "dictionary": manifest.dictionary.fingerprint()}
    return AuditLog(log_path).append("ingest", _requester(), details=details, phase="start")


def ingest_end(log_path: Path, start: dict[str, Any], report: Any) -> dict[str, Any] | None:
    """Append the end entry with the report's counts; a failure is logged, never raised."""
    from nextgen_ml.governance.audit import AuditLog

    try:
        counts = report.counts()
        details = {"start_hash": start["hash"], "warnings": len(report.warnings)}
        return AuditLog(log_path).append("ingest", _requester(), counts=counts, details=details, phase="end")
    except Exception as err:  # noqa: BLE001 - the store is written; the missing end entry is reported
        log.warning("ingest: the audit end entry could not be written to %s (%s: %s)", log_path,
                    type(err).__name__, err)
        return None
