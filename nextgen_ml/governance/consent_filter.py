"""Consent filtering before any payload is read.

:func:`filter_store` opens the store with only ``patient_id`` and ``consent``, decides every record against the
declared :class:`~nextgen_ml.governance.duo.ResearchPurpose`, and only then opens the requested columns and
narrows them to the permitted records. A record that does not permit the purpose never reaches a Dataset.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nextgen_ml.data.store import RecordStore
from nextgen_ml.governance.audit import AuditLog, dataset_identity
from nextgen_ml.governance.duo import DUO_VERSION, ConsentCodes, Decision, ResearchPurpose, permits


class ConsentError(PermissionError):
    """A dataset's consent does not permit the declared purpose."""


@dataclass
class ConsentReport:
    """What the consent filter let through.

    Args:
        store: store path.
        purpose: the declared purpose.
        n_records: records in the store (within the selected sites).
        included: records that permit the purpose.
        excluded: refusal key (``"DS (DUO:0000007)"``) → number of records refused for it.
        conditions: obligations of the included records (``"RTN: return to database or resource"``).
    """

    store: str
    purpose: ResearchPurpose
    n_records: int
    included: int
    excluded: dict[str, int] = field(default_factory=dict)
    conditions: tuple[str, ...] = ()

    def counts(self) -> dict[str, Any]:
        """``{"included": int, "excluded": {key: int}}`` as written to the audit log."""
        return {"included": self.included, "excluded": dict(sorted(self.excluded.items()))}


def _dataset_consent(store: RecordStore) -> ConsentCodes | None:
    meta = store.metadata.get("consent")
    return None if meta is None else ConsentCodes.from_dict(meta, where=f"dataset {store.path} metadata 'consent'")


def filter_store(
    path: str | os.PathLike,
    purpose: ResearchPurpose,
    columns: Sequence[str] | None = None,
    sites: Sequence[str] | None = None,
    audit: AuditLog | None = None,
    config: Any = None,
    kind: str = "train",
) -> tuple[RecordStore, ConsentReport]:
    """Open a store restricted to the records whose consent permits ``purpose``.

    Args:
        path: store directory.
        purpose: the declared research purpose.
        columns: record columns to expose (default: all); opened only after the consent decisions.
        sites: restrict to these sites.
        audit: when given, one entry of ``kind`` is appended with the counts and the config hash.
        config: the run config, hashed into the audit entry.
        kind: audit entry kind (``"train"``, ``"benchmark"``, ``"federated"``).

    Returns:
        ``(view, report)``: a :class:`RecordStore` view of the permitted records and a :class:`ConsentReport`.

    Raises:
        ConsentError: the dataset-level consent (``_metadata.json`` key ``"consent"``) refuses the purpose, or
            no record permits it.
    """
    if not isinstance(purpose, ResearchPurpose):
        raise ValueError(f"purpose must be a ResearchPurpose, got {type(purpose).__name__}")
    gate = RecordStore(path, columns=["patient_id", "consent"], sites=sites)
    dataset_consent = _dataset_consent(gate)
    if dataset_consent is not None:
        decision = permits(dataset_consent, purpose)
        if not decision.allowed:
            raise ConsentError(
                f"dataset {gate.path}: dataset-level consent {decision.key} refuses {purpose.describe()}: "
                f"{decision.reason} ({DUO_VERSION})"
            )
    parameters = dataset_consent.parameters if dataset_consent is not None else {}
    cache: dict[tuple[tuple[str, ...], tuple[str, ...]], Decision] = {}
    allowed: list[int] = []
    refused: Counter[str] = Counter()
    first_refusal: dict[str, Decision] = {}
    conditions: dict[str, None] = {}
    pids = gate.column("patient_id").to_pylist()
    for i, consent in enumerate(gate.column("consent").to_pylist()):
        codes = ConsentCodes.from_dict(consent, where=f"record {pids[i]!r}")
        key = (codes.codes, codes.diseases)
        if key not in cache:
            cache[key] = permits(ConsentCodes(codes.codes, codes.diseases, parameters), purpose)
        decision = cache[key]
        if decision.allowed:
            allowed.append(i)
            conditions.update(dict.fromkeys(decision.conditions))
        else:
            refused[decision.key] += 1
            first_refusal.setdefault(decision.key, decision)
    report = ConsentReport(str(gate.path), purpose, len(gate), len(allowed), dict(refused), tuple(conditions))
    if not allowed:
        if not refused:
            raise ConsentError(f"dataset {gate.path}: no records to filter for {purpose.describe()}")
        key, count = refused.most_common(1)[0]
        raise ConsentError(
            f"dataset {gate.path}: no record permits {purpose.describe()}; {count} of {len(gate)} refused by "
            f"{key}: {first_refusal[key].reason}"
        )
    view = RecordStore(path, columns=columns, sites=sites).subset(allowed)
    if audit is not None:
        audit.append(kind, purpose.requester, purpose, [dataset_identity(path)], report.counts(), config)
    return view, report
