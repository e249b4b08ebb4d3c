"""Cohort discovery without moving data: differentially private aggregates in the style of GA4GH Beacon v2.

A site runs a :class:`Catalog` over its own store under the data steward's
:class:`~nextgen_ml.governance.policy.SitePolicy` (``<store>/_governance/policy.yaml``; nothing the querier
sends changes it). A :class:`~nextgen_ml.governance.query.CohortQuery` gets back only a :class:`SiteAnswer`:

1. the query is validated and its age range widened to whole bins of the policy's width; a bad query raises
   ValueError before anything is charged;
2. if this coarsened question was answered before (by anyone), the same noisy count is returned at no cost;
3. else the identity's ε budget is charged, the true count gets OpenDP discrete Laplace noise of scale
   ``1/epsilon_per_query`` and the noisy count is remembered;
4. noisy counts below ``k`` are released as suppressed, the others rounded to ``round_to`` (post-processing);
5. the answer is appended to the site's audit log (``<store>/_governance/audit.jsonl``) with the ε charged.

:func:`discover` asks several catalogs and aggregates: suppressed sites are counted as suppressed, never as 0.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from nextgen_ml.data.schema import MODALITIES
from nextgen_ml.governance.audit import AuditLog, dataset_identity
from nextgen_ml.governance.budget import PrivacyBudget
from nextgen_ml.governance.files import locked
from nextgen_ml.governance.keys import check_identity
from nextgen_ml.governance.matching import CohortMatcher
from nextgen_ml.governance.noise import noisy_count
from nextgen_ml.governance.policy import GOVERNANCE_DIR, SitePolicy, load_policy
from nextgen_ml.governance.query import GRANULARITIES, LABEL_NAMES, AgeBins, CohortQuery, canonical_key
from nextgen_ml.governance.releases import ReleaseCache

__all__ = ["Catalog", "CohortQuery", "FederatedAnswer", "SiteAnswer", "discover", "release", "round_count"]


@dataclass(frozen=True)
class SiteAnswer:
    """One site's released answer.

    Args:
        site: catalog name.
        granularity: ``"boolean"`` or ``"count"``.
        exists: True when the noisy count reached ``k``; None when suppressed (unknown, not "no").
        count: rounded noisy count (count granularity, not suppressed), else None.
        suppressed: the noisy count is below ``k``.
        k: suppression threshold of the site's policy.
        round_to: rounding unit of released counts.
        epsilon: ε charged for this answer (0 for a repeated question).
        cached: the answer repeats an earlier release.
        applied: the question actually answered (ages widened to whole bins).
        age_max_exclusive: whether ``applied["age_max"]`` is an exclusive bound.
    """

    site: str
    granularity: str
    exists: bool | None
    count: int | None
    suppressed: bool
    k: int
    round_to: int
    epsilon: float = 0.0
    cached: bool = False
    applied: dict[str, Any] | None = None
    age_max_exclusive: bool = False

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


def release(site: str, n: int, granularity: str, k: int, round_to: int, **extra: Any) -> SiteAnswer:
    """Turn a (noisy) count into the answer a site releases: suppression below ``k``, then rounding."""
    if n < k:
        return SiteAnswer(site, granularity, None, None, True, k, round_to, **extra)
    count = round_count(n, round_to) if granularity == "count" else None
    return SiteAnswer(site, granularity, True, count, False, k, round_to, **extra)


class Catalog:
    """A site's discovery endpoint over its own store; releases only noisy aggregates.

    Args:
        store_path: the site's store directory.
        site: name reported in answers (default: the store's sites joined by ``+``).
        policy: the steward's policy; None reads ``<store>/_governance/policy.yaml`` (or the defaults).
        audit: an :class:`AuditLog`, a path, or None for ``<store>/_governance/audit.jsonl``.
    """

    def __init__(
        self,
        store_path: str | os.PathLike,
        site: str | None = None,
        policy: SitePolicy | None = None,
        audit: AuditLog | str | os.PathLike | None = None,
    ) -> None:
        self.store_path = Path(store_path)
        self.matcher = CohortMatcher(self.store_path)
        meta = self.matcher.meta_store.metadata
        self.site = site or "+".join(sorted(meta["sites"])) or self.store_path.name
        self.policy = policy if policy is not None else load_policy(self.store_path)
        folder = self.store_path / GOVERNANCE_DIR
        self.budget = PrivacyBudget.for_store(self.store_path, self.policy)
        self.releases = ReleaseCache.for_store(self.store_path)
        self.audit = audit if isinstance(audit, AuditLog) else AuditLog(audit or folder / "audit.jsonl")
        self._lock = folder / "discovery"
        self.dataset = dataset_identity(self.store_path)

    def match_mask(self, query: CohortQuery, age_max_exclusive: bool = False) -> np.ndarray:
        """Boolean mask of matching records, shape ``(N,)``. Site-internal: never released as such."""
        return self.matcher.match_mask(query, age_max_exclusive)

    def coarsen(self, query: CohortQuery) -> tuple[CohortQuery, bool]:
        """The question the site answers: ages widened to the policy's bins (see :class:`AgeBins`)."""
        return AgeBins(self.policy.age_bin_years).widen(query)

    def answer(self, query: CohortQuery, identity: str) -> SiteAnswer:
        """Answer ``query`` for an authenticated ``identity`` (see the module docstring for the steps).

        Raises:
            ValueError: a bad identity or query (nothing is charged).
            QueryBudgetExceeded: the identity (or the site) has no ε or answers left (nothing is released).
        """
        check_identity(identity)
        if query.granularity not in self.policy.granularities:
            raise ValueError(f"granularity {query.granularity!r} is not offered here: {self.policy.granularities}")
        coarse, exclusive = self.coarsen(query)
        self.matcher.validate(coarse)
        key = f"{self.dataset['metadata_sha256']}:{canonical_key(coarse)}"  # new data, new releases
        with locked(self._lock):
            cached = self.releases.get(key)
            epsilon = 0.0
            if cached is None:
                n = int(self.match_mask(coarse, exclusive).sum())
                epsilon = self.policy.epsilon_per_query
                self.budget.charge(identity, epsilon)
                cached = self.releases.put(key, noisy_count(n, epsilon), epsilon)
                was_cached = False
            else:
                was_cached = True
        applied = coarse.to_dict()
        out = release(
            self.site,
            max(0, int(cached["noisy"])),
            query.granularity,
            self.policy.k,
            self.policy.round_to,
            epsilon=epsilon,
            cached=was_cached,
            applied=applied,
            age_max_exclusive=exclusive,
        )
        self.audit.append(
            "discovery",
            identity,
            None,
            [self.dataset],
            counts={"released": out.display(), "suppressed": out.suppressed},
            epsilon=epsilon,
            details={"site": self.site, "query": query.to_dict(), "applied": applied, "cached": was_cached},
        )
        return out

    def info(self) -> dict[str, Any]:
        """Public description of the catalog and its policy (no counts)."""
        panel = self.matcher.meta_store.panel
        return {
            "site": self.site,
            "policy": self.policy.to_dict(),
            "mechanism": "discrete Laplace (OpenDP make_laplace on integers), sensitivity 1, pure ε-DP per answer",
            "granularities": [g for g in GRANULARITIES if g in self.policy.granularities],
            "modalities": list(MODALITIES),
            "diagnoses": sorted(LABEL_NAMES),
            "variant_panel": None if panel is None else {"name": panel.name, "build": panel.build, "size": len(panel)},
        }


@dataclass(frozen=True)
class FederatedAnswer:
    """Aggregate over sites.

    Args:
        sites: every site's answer.
        total: sum of released (noisy, rounded) counts of non-suppressed sites; None for boolean granularity.
        n_suppressed: sites whose noisy count was below their ``k``.
        exists: True when any site released a match; None when no site did but some were suppressed.
    """

    sites: tuple[SiteAnswer, ...]
    total: int | None
    n_suppressed: int
    exists: bool | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "sites": [s.to_dict() for s in self.sites],
            "total": self.total,
            "n_suppressed": self.n_suppressed,
            "exists": self.exists,
        }


def discover(query: CohortQuery, catalogs: Sequence[Catalog], identity: str) -> FederatedAnswer:
    """Ask every catalog and aggregate; suppressed sites are counted as suppressed, never as zero.

    Args:
        query: the cohort question.
        catalogs: one :class:`Catalog` per site.
        identity: who asks (charged at every site).
    """
    if not catalogs:
        raise ValueError("catalogs: at least one catalog is needed")
    answers = tuple(c.answer(query, identity) for c in catalogs)
    released = [a for a in answers if not a.suppressed]
    n_suppressed = len(answers) - len(released)
    total = sum(a.count or 0 for a in released) if query.granularity == "count" else None
    exists: bool | None = True if released else None
    return FederatedAnswer(answers, total, n_suppressed, exists)
