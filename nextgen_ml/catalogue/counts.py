"""Record counts for the catalogue, released exactly as discovery releases them.

Each count is a discovery answer of the site's :class:`~nextgen_ml.governance.discovery.Catalog` to the
identity :data:`CATALOGUE_IDENTITY`: OpenDP noise of the policy's ε, suppression below the policy's ``k``,
rounding to ``round_to``, ε charged to that identity's budget, an audit entry, and the release cache (so a
re-export publishes the same numbers at no further cost). A suppressed count, or one the budget no longer
allows, is simply not published.

The same holds for the HealthDCAT-AP figures built from counts: ``numberOfUniqueIndividuals`` is the released
record count when the store holds one record per patient (no further query), and the typical age range
(``minTypicalAge`` / ``maxTypicalAge``) is made of whole age bins of the policy's ``age_bin_years`` (the
granularity of discovery's age filter), each bin a discovery answer: the lowest and the highest bin whose released
count is not suppressed. The search starts from the ``age`` variable's declared plausible range (metadata, not
data) and stops at the first released bin from each end; every bin it asks is charged like any query.
"""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass, field

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
        individuals: released number of unique individuals (None: withheld, reason in ``suppressed``).
        age_range: ``(min, max)`` typical age in whole years, bin-aligned (None: withheld).
        age_bin_years: the bin width the age range is aligned to.
    """

    records: int | None
    modalities: dict[str, int]
    suppressed: dict[str, str]
    k: int
    round_to: int
    individuals: int | None = None
    age_range: tuple[int, int] | None = None
    age_bin_years: float = 0.0
    age_bins: dict[int, int] = field(default_factory=dict)


def _released(catalog: Catalog, query: CohortQuery) -> tuple[int | None, str | None]:
    try:
        answer = catalog.answer(query, CATALOGUE_IDENTITY)
    except QueryBudgetExceeded as err:
        return None, f"budget: {err}"
    if answer.suppressed:
        return None, f"below k={answer.k}"
    return answer.count, None


def _age_bin(catalog: Catalog, lo: float) -> tuple[int | None, str | None]:
    """The released count of the age bin starting at ``lo`` (discovery widens ``[lo, lo]`` to the whole bin)."""
    try:
        return _released(catalog, CohortQuery(age_min=lo, age_max=lo))
    except ValueError as err:  # the store has no age variable
        return None, f"not answerable: {err}"


def typical_age_range(
    catalog: Catalog, span: tuple[float, float] | None
) -> tuple[tuple[int, int] | None, dict[int, int], str | None]:
    """``((min, max) | None, {bin start: released count}, reason withheld)`` from whole discovery age bins.

    ``min`` is the start of the lowest bin and ``max`` the last whole year of the highest bin whose released
    count is not suppressed; ``span`` (the age variable's declared plausible range, default 0–120) bounds the
    search. Bins are asked from each end inwards, and the search stops as soon as both ends are found.
    """
    width = catalog.policy.age_bin_years
    if width <= 0:
        return None, {}, "the site policy does not coarsen ages (age_bin_years: 0)"
    lo_age, hi_age = span or (0.0, 120.0)
    starts = [b * width for b in range(math.floor(lo_age / width), math.floor(hi_age / width) + 1)]
    released: dict[int, int] = {}
    ends: list[float] = []
    for order in (starts, starts[::-1]):
        for start in order:
            if ends and start == ends[0]:
                ends.append(start)
                break
            count, why = _age_bin(catalog, start)
            if why is not None and not why.startswith("below"):
                return None, released, why
            if count is not None:
                released[int(start)] = count
                ends.append(start)
                break
        if not ends:
            return None, released, f"every age bin is below k={catalog.policy.k}"
    low, high = ends[0], ends[-1]
    return (int(low), int(math.ceil(high + width)) - 1), released, None


def published_counts(
    store: str | os.PathLike,
    modalities: list[str],
    one_record_per_patient: bool = True,
    age_span: tuple[float, float] | None = None,
) -> PublishedCounts:
    """Record, individual, per-modality and age-range figures of ``store`` as its discovery policy releases them.

    Args:
        store: the store directory (its ``_governance/policy.yaml`` applies).
        modalities: modalities to count (those the store's schema holds).
        one_record_per_patient: whether every record has its own ``patient_id`` (then the released record count
            is also the number of unique individuals; otherwise that number is withheld: discovery counts records).
        age_span: the age variable's declared plausible range, bounding the age-bin search (None: 0–120).
    """
    catalog = Catalog(store)
    policy = catalog.policy
    if "count" not in policy.granularities:
        why = "the site policy does not release counts"
        names = ["records", "individuals", "age_range", *modalities]
        return PublishedCounts(None, {}, {m: why for m in names}, policy.k, policy.round_to)
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
    individuals = records if one_record_per_patient else None
    if individuals is None:
        suppressed["individuals"] = suppressed.get("records") or "records are not one per patient"
    ages, bins, why = typical_age_range(catalog, age_span)
    if why:
        suppressed["age_range"] = why
    for name, reason in suppressed.items():
        log.info("catalogue: %s not published (%s)", name, reason)
    return PublishedCounts(
        records, by_modality, suppressed, policy.k, policy.round_to, individuals, ages, policy.age_bin_years, bins
    )
