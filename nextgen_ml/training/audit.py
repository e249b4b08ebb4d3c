"""A run's two audit entries: one before any training (start), one after (end, with the ε and δ spent).

The start entry is written before ``trainer.fit``, after the consent filter ran: a log that cannot be extended
(a broken chain, a torn last line) stops the run *before* any training, with a message naming the line. If the
end entry cannot be written (the log was damaged while the run trained), training is not lost: the entry goes
to ``<out_dir>/audit_pending.json`` with the reason and a warning is logged. After each entry the run writes
its anchor (``<out_dir>/audit_anchor.json``) for ``nextgen-ml audit verify LOG --anchor <out_dir>/...``.
A run killed while training leaves its start entry (``nextgen-ml audit verify`` lists such runs).
"""

from __future__ import annotations

import getpass
import logging
from pathlib import Path
from typing import Any

from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.governance.anchor import ANCHOR_FILE, Anchor, write_anchor
from nextgen_ml.governance.audit import AuditLog, dataset_identity
from nextgen_ml.governance.files import atomic_write_json

log = logging.getLogger(__name__)

#: Written instead of the end entry when the log cannot be extended after training.
PENDING_FILE = "audit_pending.json"


def consent_mode(purpose: dict[str, Any] | None) -> str:
    """``"off"`` (no declared purpose: no consent filter ran), ``"strict"`` or ``"on"``."""
    if not purpose:
        return "off"
    return "strict" if purpose.get("strict") else "on"


class RunAudit:
    """The start and end entries of one run in the hash-chained log at ``log_path``.

    Args:
        log_path: the audit ``.jsonl`` file.
        kind: entry kind (``"train"``).
        dm: the set-up datamodule (purpose, consent report, store, splits).
        config: the resolved run config (hashed into the entries).
        out_dir: the run's output folder (anchor and, if needed, the pending end entry).
    """

    def __init__(self, log_path: str | Path, kind: str, dm: CardioDataModule, config: Any, out_dir: Path) -> None:
        self.log, self.kind, self.dm, self.config, self.out_dir = AuditLog(log_path), kind, dm, config, Path(out_dir)
        self.purpose = dict(dm.purpose) if dm.purpose else None
        self.requester = (self.purpose or {}).get("requester") or getpass.getuser()
        self.start_hash: str | None = None

    def _fields(self) -> dict[str, Any]:
        report = self.dm.consent_report
        counts = report.counts() if report is not None else {"included": len(self.dm.store or ()), "excluded": {}}
        details = {
            "run_id": str(self.out_dir.resolve()),
            "consent": consent_mode(self.purpose),
            "modalities": list(self.dm.modalities),
            "splits": {k: len(v) for k, v in self.dm.split_indices.items()},
        }
        return {
            "kind": self.kind,
            "requester": self.requester,
            "purpose": self.purpose,
            "datasets": [dataset_identity(self.dm.data_dir)],
            "counts": counts,
            "config": self.config,
            "details": details,
        }

    def _anchor(self, entry: dict[str, Any]) -> None:
        anchor = Anchor(entry["seq"], entry["hash"], str(self.log.path.resolve())).signed(self.log.key)
        write_anchor(self.out_dir / ANCHOR_FILE, anchor)

    def start(self) -> dict[str, Any]:
        """Append the start entry and write the anchor.

        Raises:
            AuditChainError: the log cannot be extended (broken chain or torn last line): nothing was trained.
        """
        fields = self._fields()
        if fields["details"]["consent"] == "off":
            log.warning("consent filter OFF (data.purpose is null): every record is used; this is audited")
        entry = self.log.append(**fields, phase="start")
        self.start_hash = entry["hash"]
        self._anchor(entry)
        return entry

    def end(self, metrics: dict[str, float]) -> dict[str, Any] | None:
        """Append the end entry (ε and δ from ``metrics``) and update the anchor; never raises for a bad log.

        Returns:
            The entry, or None when it had to be written to ``audit_pending.json`` instead.
        """
        privacy = {"epsilon": metrics.get("privacy/epsilon"), "delta": metrics.get("privacy/delta")}
        fields: dict[str, Any] = {"details": {"run_id": str(self.out_dir.resolve()), "start_hash": self.start_hash}}
        try:
            fields = self._fields()
            fields["details"]["start_hash"] = self.start_hash
            entry = self.log.append(**fields, **privacy, phase="end")
        except Exception as err:  # noqa: BLE001 - a finished training run is never lost to its audit entry
            pending = {**fields, **privacy, "phase": "end", "config": None, "error": f"{type(err).__name__}: {err}"}
            path = atomic_write_json(self.out_dir / PENDING_FILE, pending, mode=0o644)
            log.warning("could not append the end entry to the audit log (%s); wrote it to %s", err, path)
            return None
        self._anchor(entry)
        return entry


def start_run_audit(
    log_path: str | Path | None, kind: str, dm: CardioDataModule, config: Any, out_dir: Path
) -> RunAudit | None:
    """A started :class:`RunAudit`, or None when auditing is disabled (``audit_log: null``)."""
    if not log_path:
        return None
    audit = RunAudit(log_path, kind, dm, config, out_dir)
    audit.start()
    return audit
