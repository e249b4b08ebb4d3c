"""One audit entry per training run: who, for what purpose, on which data, with which config and ε."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Any

from nextgen_ml.data.datamodule import CardioDataModule
from nextgen_ml.governance.audit import AuditLog, dataset_identity


def audit_run(log_path: str | Path, kind: str, dm: CardioDataModule, config: Any, metrics: dict[str, float]) -> dict:
    """Append the run's entry to the hash-chained audit log at ``log_path`` and return it."""
    purpose = dm.purpose or {}
    report = dm.consent_report
    counts = report.counts() if report is not None else {"included": len(dm.store or ()), "excluded": {}}
    return AuditLog(log_path).append(
        kind=kind,
        requester=purpose.get("requester") or getpass.getuser(),
        purpose=purpose or None,
        datasets=[dataset_identity(dm.data_dir)],
        counts=counts,
        config=config,
        epsilon=metrics.get("privacy/epsilon"),
        details={"modalities": list(dm.modalities), "splits": {k: len(v) for k, v in dm.split_indices.items()}},
    )
