"""Cohort discovery without moving data: aggregate-only answers in the style of GA4GH Beacon v2.

A site runs a :class:`Catalog` over its own store. A :class:`CohortQuery` (modalities present, age range, sex,
diagnoses, a carried panel variant) gets back only a :class:`SiteAnswer`: a boolean or a count, where

* counts below ``k`` (0 included, so "suppressed" never reveals that someone matches) are suppressed,
* released counts are rounded to the nearest ``round_to``,
* each requester has a :class:`~nextgen_ml.governance.budget.QueryBudget` per catalog,
* each answer is appended to the site's :class:`~nextgen_ml.governance.audit.AuditLog`.

:func:`discover` asks several catalogs and aggregates: suppressed sites are counted as suppressed, never as 0.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextgen_ml.data.schema import DIAGNOSIS_CLASSES, FINDING_CLASSES, MODALITIES, MODALITY_COLUMN, TABULAR_BY_NAME
from nextgen_ml.data.store import RecordStore
from nextgen_ml.governance.audit import AuditLog, dataset_identity
from nextgen_ml.governance.budget import QueryBudget
from nextgen_ml.governance.mondo import cardio_subtree

GRANULARITIES: tuple[str, ...] = ("boolean", "count")
_LABEL_NAMES = frozenset(DIAGNOSIS_CLASSES) | frozenset(FINDING_CLASSES)


@dataclass(frozen=True)
class CohortQuery:
    """A cohort question; all criteria must hold (diagnoses: any of them).

    Args:
        modalities: modalities that must all be present (``"ecg"``, ``"image"``, ``"genomics"``, ...).
        age_min: minimum ``tabular.age`` in years (inclusive).
        age_max: maximum ``tabular.age`` in years (inclusive).
        sex: ``"female"`` or ``"male"``.
        diagnoses: record label names (``"heart_failure"``, ``"atrial_fibrillation"``) or MONDO CURIEs; a record
            matches when its ``labels.diagnosis``/``labels.findings`` (mapped to MONDO) fall under any of them.
        variant: a panel variant id the patient carries (dosage ≥ 1).
        granularity: ``"boolean"`` or ``"count"``.
    """

    modalities: tuple[str, ...] = ()
    age_min: float | None = None
    age_max: float | None = None
    sex: str | None = None
    diagnoses: tuple[str, ...] = ()
    variant: str | None = None
    granularity: str = "count"

    def __post_init__(self) -> None:
        object.__setattr__(self, "modalities", tuple(sorted(set(self.modalities))))
        object.__setattr__(self, "diagnoses", tuple(self.diagnoses))
        bad = set(self.modalities) - set(MODALITIES)
        if bad:
            raise ValueError(f"modalities: {sorted(bad)} not in {list(MODALITIES)}")
        if self.sex is not None and self.sex not in TABULAR_BY_NAME["sex"].categories:
            raise ValueError(f"sex must be one of {list(TABULAR_BY_NAME['sex'].categories)}, got {self.sex!r}")
        if self.age_min is not None and self.age_max is not None and self.age_min > self.age_max:
            raise ValueError(f"age_min ({self.age_min}) is greater than age_max ({self.age_max})")
        for term in self.diagnoses:
            if term not in _LABEL_NAMES and not str(term).startswith("MONDO:"):
                raise ValueError(f"diagnoses: {term!r} is neither a MONDO CURIE nor one of {sorted(_LABEL_NAMES)}")
        if self.granularity not in GRANULARITIES:
            raise ValueError(f"granularity must be one of {GRANULARITIES}, got {self.granularity!r}")

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["modalities"], out["diagnoses"] = list(self.modalities), list(self.diagnoses)
        return out

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any]) -> CohortQuery:
        unknown = set(obj) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"query: unknown parameters {sorted(unknown)}; allowed {sorted(cls.__dataclass_fields__)}")
        return cls(**{**obj, "modalities": tuple(obj.get("modalities") or ()),
                      "diagnoses": tuple(obj.get("diagnoses") or ())})


@dataclass(frozen=True)
class SiteAnswer:
    """One site's aggregate answer.

    Args:
        site: catalog name.
        granularity: ``"boolean"`` or ``"count"``.
        exists: True when at least ``k`` records match; None when suppressed.
        count: rounded count (count granularity, not suppressed), else None.
        suppressed: the true count is below ``k``.
        k: suppression threshold.
        round_to: rounding unit of released counts.
    """

    site: str
    granularity: str
    exists: bool | None
    count: int | None
    suppressed: bool
    k: int
    round_to: int

    def display(self) -> str:
        """Table cell: ``"<5"`` when suppressed, the rounded count, or ``"yes"``."""
        if self.suppressed:
            return f"<{self.k}"
        return "yes" if self.granularity == "boolean" else str(self.count)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def round_count(n: int, unit: int) -> int:
    """Round half up to the nearest multiple of ``unit`` (e.g. 7 → 5, 8 → 10 for ``unit=5``)."""
    return int(math.floor(n / unit + 0.5)) * unit


def release(site: str, n: int, granularity: str, k: int, round_to: int) -> SiteAnswer:
    """Turn a true count into the answer a site may release (suppression, then rounding)."""
    if n < k:
        return SiteAnswer(site, granularity, None, None, True, k, round_to)
    count = round_count(n, round_to) if granularity == "count" else None
    return SiteAnswer(site, granularity, True, count, False, k, round_to)


def _valid(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)


def _diagnosis_mask(labels: pa.ChunkedArray, terms: Sequence[str]) -> np.ndarray:
    tree = cardio_subtree()
    wanted_names = {t for t in terms if t in _LABEL_NAMES}
    wanted_mondo = [tree.record_labels.get(t, t) for t in terms if t.startswith("MONDO:") or t in tree.record_labels]
    out = np.zeros(len(labels), dtype=bool)
    for i, rec in enumerate(labels.to_pylist()):
        names = set() if rec is None else {rec.get("diagnosis")} | set(rec.get("findings") or ())
        names.discard(None)
        mondo = {tree.record_labels[n] for n in names if n in tree.record_labels}
        out[i] = bool(names & wanted_names) or any(tree.is_descendant(m, w) for m in mondo for w in wanted_mondo)
    return out


class Catalog:
    """A site's discovery endpoint over its own store; answers only aggregates.

    Args:
        store_path: the site's store directory.
        site: name reported in answers (default: the store's sites joined by ``+``).
        k: suppression threshold; true counts below it are never released.
        round_to: released counts are rounded to the nearest multiple of this.
        budget: a :class:`QueryBudget`, a JSON path for one, or None for ``<store>/_governance/budget.json``.
        max_queries: per-requester limit when the budget is created here.
        audit: an :class:`AuditLog`, a path, or None for ``<store>/_governance/audit.jsonl``.
    """

    def __init__(
        self,
        store_path: str | os.PathLike,
        site: str | None = None,
        k: int = 5,
        round_to: int = 5,
        budget: QueryBudget | str | os.PathLike | None = None,
        max_queries: int = 100,
        audit: AuditLog | str | os.PathLike | None = None,
    ) -> None:
        if k < 1:
            raise ValueError(f"k must be >= 1, got {k}")
        if round_to < 1:
            raise ValueError(f"round_to must be >= 1, got {round_to}")
        self.store_path = Path(store_path)
        self._meta_store = RecordStore(self.store_path, columns=["patient_id"])
        self.site = site or "+".join(sorted(self._meta_store.metadata["sites"])) or self.store_path.name
        self.k, self.round_to = int(k), int(round_to)
        folder = self.store_path / "_governance"
        self.budget = budget if isinstance(budget, QueryBudget) else QueryBudget(
            budget or folder / "budget.json", max_queries)
        self.audit = audit if isinstance(audit, AuditLog) else AuditLog(audit or folder / "audit.jsonl")

    def _columns(self, query: CohortQuery) -> list[str]:
        cols = {MODALITY_COLUMN[m] for m in query.modalities}
        if query.age_min is not None or query.age_max is not None or query.sex is not None:
            cols.add("tabular")
        if query.diagnoses:
            cols.add("labels")
        if query.variant is not None:
            cols.add("genotype")
        return sorted(cols) or ["patient_id"]

    def _variant_index(self, variant: str) -> int:
        panel = self._meta_store.panel
        ids = [] if panel is None else [v.id for v in panel.variants]
        if variant not in ids:
            raise ValueError(f"variant: {variant!r} is not in the variant panel of {self.site} ({len(ids)} variants)")
        return ids.index(variant)

    def match_mask(self, query: CohortQuery) -> np.ndarray:
        """Boolean mask of matching records, shape ``(N,)``. Site-internal: never released as such."""
        store = RecordStore(self.store_path, columns=self._columns(query))
        mask = np.ones(len(store), dtype=bool)
        for modality in query.modalities:
            mask &= _valid(store.column(MODALITY_COLUMN[modality]))
        if "tabular" in store.columns:
            tab = store.column("tabular")
            if query.age_min is not None or query.age_max is not None:
                age = pc.fill_null(pc.struct_field(tab, "age"), np.nan).to_numpy(zero_copy_only=False)
                lo = -np.inf if query.age_min is None else query.age_min
                hi = np.inf if query.age_max is None else query.age_max
                mask &= (age >= lo) & (age <= hi)
            if query.sex is not None:
                sex = pc.struct_field(tab, "sex").to_pylist()
                mask &= np.array([s == query.sex for s in sex], dtype=bool)
        if query.diagnoses:
            mask &= _diagnosis_mask(store.column("labels"), query.diagnoses)
        if query.variant is not None:
            j = self._variant_index(query.variant)
            dosages = pc.struct_field(store.column("genotype"), "dosages")
            dose = pc.fill_null(pc.list_element(dosages, j), np.nan).to_numpy(zero_copy_only=False)
            mask &= np.nan_to_num(dose.astype(np.float64), nan=0.0) >= 1.0
        return mask

    def answer(self, query: CohortQuery, requester: str) -> SiteAnswer:
        """Answer ``query`` for ``requester``: charge the budget, suppress, round, audit.

        Raises:
            QueryBudgetExceeded: the requester has no query left at this catalog.
            ValueError: the query names an unknown variant or bad criteria.
        """
        self.budget.charge(requester)
        n = int(self.match_mask(query).sum())
        out = release(self.site, n, query.granularity, self.k, self.round_to)
        self.audit.append(
            "discovery", requester, None, [dataset_identity(self.store_path)],
            counts={"released": out.display(), "suppressed": out.suppressed},
            details={"site": self.site, "query": query.to_dict(), "k": self.k, "round_to": self.round_to},
        )
        return out

    def info(self) -> dict[str, Any]:
        """Public description of the catalog (no counts)."""
        panel = self._meta_store.panel
        return {
            "site": self.site,
            "k": self.k,
            "round_to": self.round_to,
            "max_queries": self.budget.max_queries,
            "granularities": list(GRANULARITIES),
            "modalities": list(MODALITIES),
            "diagnoses": sorted(_LABEL_NAMES),
            "variant_panel": None if panel is None else {"name": panel.name, "build": panel.build, "size": len(panel)},
        }


@dataclass(frozen=True)
class FederatedAnswer:
    """Aggregate over sites.

    Args:
        sites: every site's answer.
        total: sum of released (rounded) counts of non-suppressed sites; None for boolean granularity.
        n_suppressed: sites whose count was suppressed (each holds fewer than its ``k``, possibly 0).
        exists: True when any site released a match; None when no site did but some were suppressed.
    """

    sites: tuple[SiteAnswer, ...]
    total: int | None
    n_suppressed: int
    exists: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {"sites": [s.to_dict() for s in self.sites], "total": self.total, "n_suppressed": self.n_suppressed,
                "exists": self.exists}


def discover(query: CohortQuery, catalogs: Sequence[Catalog], requester: str) -> FederatedAnswer:
    """Ask every catalog and aggregate; suppressed sites are counted as suppressed, never as zero.

    Args:
        query: the cohort question.
        catalogs: one :class:`Catalog` per site.
        requester: who asks (charged at every site).
    """
    if not catalogs:
        raise ValueError("catalogs: at least one catalog is needed")
    answers = tuple(c.answer(query, requester) for c in catalogs)
    released = [a for a in answers if not a.suppressed]
    n_suppressed = len(answers) - len(released)
    total = sum(a.count or 0 for a in released) if query.granularity == "count" else None
    exists: bool | None = True if released else None
    return FederatedAnswer(answers, total, n_suppressed, exists)
