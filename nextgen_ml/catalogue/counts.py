"""Record counts for the catalogue, released exactly as discovery releases them.

Each count is a discovery answer of the site's :class:`~nextgen_ml.governance.discovery.Catalog` to the
identity :data:`CATALOGUE_IDENTITY`: OpenDP noise of the policy's ε, suppression below the policy's ``k``,
rounding to ``round_to``, ε charged to that identity's budget, an audit entry, and the release cache (so a
re-export publishes the same numbers at no further cost). A suppressed count, or one the budget no longer
allows, is simply not published.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass

from nextgen_ml.governance.budget import QueryBudgetExceeded
from nextgen_ml.governance.discovery import Catalog
from nextgen_ml.governance.query import CohortQuery

log = logging.getLogger(__name__)

#: Identity whose ε budget pays for the catalogue's counts (audited like any querier).
CATALOGUE_IDENTITY = "catalogue"


@dataclass(frozen=True)
class PublishedCounts:
    """Counts that may be published.

    Args:
        records: released number of records (None: suppressed or not answerable).
        modalities: modality → released number of records holding it (suppressed ones are absent).
        suppressed: names (``"records"`` or a modality) that were withheld, with the reason.
        k: the site policy's suppression threshold.
        round_to: the site policy's rounding unit.
    """

    records: int | None
    modalities: dict[str, int]
    suppressed: dict[str, str]
    k: int
    round_to: int


def _released(catalog: Catalog, query: CohortQuery) -> tuple[int | None, str | None]:
    try:
        answer = catalog.answer(query, CATALOGUE_IDENTITY)
    except QueryBudgetExceeded as err:
        return None, f"budget: {err}"
    if answer.suppressed:
        return None, f"below k={answer.k}"
    return answer.count, None


def published_counts(store: str | os.PathLike, modalities: list[str]) -> PublishedCounts:
    """Overall and per-modality record counts of ``store`` as its discovery policy releases them.

    Args:
        store: the store directory (its ``_governance/policy.yaml`` applies).
        modalities: modalities to count (those the store's schema holds).
    """
    catalog = Catalog(store)
    policy = catalog.policy
    if "count" not in policy.granularities:
        why = "the site policy does not release counts"
        return PublishedCounts(None, {}, {m: why for m in ["records", *modalities]}, policy.k, policy.round_to)
    suppressed: dict[str, str] = {}
    records, why = _released(catalog, CohortQuery())
    if why:
        suppressed["records"] = why
    by_modality: dict[str, int] = {}
    for modality in modalities:
        count, why = _released(catalog, CohortQuery(modalities=(modality,)))
        if count is None:
            suppressed[modality] = why or "not released"
        else:
            by_modality[modality] = count
    for name, reason in suppressed.items():
        log.info("catalogue: count of %s not published (%s)", name, reason)
    return PublishedCounts(records, by_modality, suppressed, policy.k, policy.round_to)
