"""Which records of a site's store match a :class:`~nextgen_ml.governance.query.CohortQuery` (site-internal).

Only the columns a query needs are opened. The mask this returns never leaves the site; only a noisy
aggregate of it does (:mod:`nextgen_ml.governance.discovery`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from nextgen_ml.data.schema import MODALITY_COLUMN
from nextgen_ml.data.store import RecordStore
from nextgen_ml.governance.mondo import cardio_subtree
from nextgen_ml.governance.query import LABEL_NAMES, CohortQuery


def _valid(col: pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.is_valid(col).to_numpy(zero_copy_only=False), dtype=bool)


def _diagnosis_mask(labels: pa.ChunkedArray, terms: Sequence[str]) -> np.ndarray:
    tree = cardio_subtree()
    wanted_names = {t for t in terms if t in LABEL_NAMES}
    wanted_mondo = [tree.record_labels.get(t, t) for t in terms if t.startswith("MONDO:") or t in tree.record_labels]
    out = np.zeros(len(labels), dtype=bool)
    for i, rec in enumerate(labels.to_pylist()):
        names = set() if rec is None else {rec.get("diagnosis")} | set(rec.get("findings") or ())
        names.discard(None)
        mondo = {tree.record_labels[n] for n in names if n in tree.record_labels}
        out[i] = bool(names & wanted_names) or any(tree.is_descendant(m, w) for m in mondo for w in wanted_mondo)
    return out


class CohortMatcher:
    """Evaluates cohort queries over one store.

    Args:
        store_path: the site's store directory.
    """

    def __init__(self, store_path: str | os.PathLike) -> None:
        self.store_path = Path(store_path)
        self.meta_store = RecordStore(self.store_path, columns=["patient_id"])

    def _columns(self, query: CohortQuery) -> list[str]:
        cols = {MODALITY_COLUMN[m] for m in query.modalities}
        if query.age_min is not None or query.age_max is not None or query.sex is not None:
            cols.add("tabular")
        if query.diagnoses:
            cols.add("labels")
        if query.variant is not None:
            cols.add("genotype")
        return sorted(cols) or ["patient_id"]

    def variant_index(self, variant: str) -> int:
        """Position of ``variant`` in the store's panel (ValueError naming it when absent)."""
        panel = self.meta_store.panel
        ids = [] if panel is None else [v.id for v in panel.variants]
        if variant not in ids:
            raise ValueError(f"variant: {variant!r} is not in this site's variant panel ({len(ids)} variants)")
        return ids.index(variant)

    def validate(self, query: CohortQuery) -> None:
        """Raise ValueError for a query this store cannot answer (before anything is charged)."""
        if query.variant is not None:
            self.variant_index(query.variant)

    def match_mask(self, query: CohortQuery, age_max_exclusive: bool = False) -> np.ndarray:
        """Boolean mask of matching records, shape ``(N,)``.

        Args:
            query: the question.
            age_max_exclusive: treat ``age_max`` as an exclusive bound (for ages widened to whole bins).
        """
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
                mask &= (age >= lo) & ((age < hi) if age_max_exclusive else (age <= hi))
            if query.sex is not None:
                sex = pc.struct_field(tab, "sex").to_pylist()
                mask &= np.array([s == query.sex for s in sex], dtype=bool)
        if query.diagnoses:
            mask &= _diagnosis_mask(store.column("labels"), query.diagnoses)
        if query.variant is not None:
            j = self.variant_index(query.variant)
            dosages = pc.struct_field(store.column("genotype"), "dosages")
            dose = pc.fill_null(pc.list_element(dosages, j), np.nan).to_numpy(zero_copy_only=False)
            mask &= np.nan_to_num(dose.astype(np.float64), nan=0.0) >= 1.0
        return mask
