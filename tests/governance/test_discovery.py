"""Aggregate-only cohort discovery: suppression, rounding, budgets, boolean answers, federation, audit."""

from __future__ import annotations

from pathlib import Path

import pytest

from nextgen_ml.governance.audit import AuditLog
from nextgen_ml.governance.budget import QueryBudget, QueryBudgetExceeded
from nextgen_ml.governance.discovery import Catalog, CohortQuery, discover, release, round_count
from tests.governance.govstores import make_record


def _site(store_factory, n_match: int, n_other: int, site: str) -> Path:
    """``n_match`` records aged 65 with ECG and rs2 carried; ``n_other`` aged 30 without."""
    recs = [make_record(f"{site}{i}", site=site, age=65, ecg=True, dosages=[0.0, 1.0], diagnosis="cardiomyopathy",
                        findings=["atrial_fibrillation"]) for i in range(n_match)]
    recs += [make_record(f"{site}x{i}", site=site, age=30, sex="male", dosages=[2.0, 0.0], diagnosis="normal")
             for i in range(n_other)]
    return store_factory(recs)


def test_counts_below_k_are_suppressed_never_released(store_factory) -> None:
    catalog = Catalog(_site(store_factory, 3, 20, "A"), k=5)
    answer = catalog.answer(CohortQuery(age_min=50), "alice")
    assert answer.suppressed and answer.count is None and answer.exists is None
    assert answer.display() == "<5"
    assert "3" not in str(answer.to_dict().values())


def test_zero_is_suppressed_like_small_counts(store_factory) -> None:
    catalog = Catalog(_site(store_factory, 3, 20, "A"), k=5)
    assert catalog.answer(CohortQuery(age_min=100), "alice").suppressed


def test_released_counts_are_rounded(store_factory) -> None:
    catalog = Catalog(_site(store_factory, 8, 4, "A"), k=5, round_to=5)
    answer = catalog.answer(CohortQuery(modalities=("ecg",)), "alice")
    assert not answer.suppressed and answer.count == 10  # true 8
    assert round_count(7, 5) == 5 and round_count(12, 10) == 10 and round_count(15, 10) == 20
    assert release("s", 23, "count", 5, 10).count == 20


def test_criteria_combine(store_factory) -> None:
    catalog = Catalog(_site(store_factory, 6, 7, "A"), k=1, round_to=1)
    assert catalog.match_mask(CohortQuery(age_min=50, age_max=70, sex="female")).sum() == 6
    assert catalog.match_mask(CohortQuery(sex="male")).sum() == 7
    assert catalog.match_mask(CohortQuery(variant="rs2")).sum() == 6
    assert catalog.match_mask(CohortQuery(variant="rs1")).sum() == 7
    assert catalog.match_mask(CohortQuery(modalities=("ecg", "genomics"))).sum() == 6
    assert catalog.match_mask(CohortQuery(modalities=("text",))).sum() == 0
    assert catalog.match_mask(CohortQuery(diagnoses=("MONDO:0007263",))).sum() == 6  # AF under rhythm disease
    assert catalog.match_mask(CohortQuery(diagnoses=("MONDO:0005045",))).sum() == 0  # HCM is narrower
    assert catalog.match_mask(CohortQuery(diagnoses=("normal",))).sum() == 7


def test_boolean_granularity(store_factory) -> None:
    catalog = Catalog(_site(store_factory, 6, 2, "A"), k=5)
    yes = catalog.answer(CohortQuery(age_min=50, granularity="boolean"), "alice")
    assert yes.exists is True and yes.count is None and not yes.suppressed
    small = catalog.answer(CohortQuery(age_max=40, granularity="boolean"), "alice")
    assert small.exists is None and small.suppressed


def test_budget_exhaustion_raises_and_persists(store_factory, tmp_path: Path) -> None:
    path = _site(store_factory, 6, 2, "A")
    budget_file = tmp_path / "budget.json"
    catalog = Catalog(path, budget=QueryBudget(budget_file, max_queries=2))
    catalog.answer(CohortQuery(), "alice")
    catalog.answer(CohortQuery(), "alice")
    with pytest.raises(QueryBudgetExceeded, match="'alice' has used all 2 queries"):
        catalog.answer(CohortQuery(), "alice")
    catalog.answer(CohortQuery(), "bob")  # budgets are per requester
    fresh = Catalog(path, budget=QueryBudget(budget_file, max_queries=2))  # persisted across instances
    with pytest.raises(QueryBudgetExceeded):
        fresh.answer(CohortQuery(), "alice")
    assert fresh.budget.remaining("bob") == 1


def test_each_answer_is_audited(store_factory, tmp_path: Path) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    catalog = Catalog(_site(store_factory, 3, 6, "A"), audit=log)
    catalog.answer(CohortQuery(age_min=50), "alice")
    catalog.answer(CohortQuery(sex="male"), "bob")
    entries = list(log.entries())
    assert [e["requester"] for e in entries] == ["alice", "bob"]
    assert entries[0]["kind"] == "discovery" and entries[0]["counts"] == {"released": "<5", "suppressed": True}
    assert entries[0]["details"]["query"]["age_min"] == 50
    assert log.verify() == 2


def test_federated_aggregation_counts_suppressed_sites_separately(store_factory) -> None:
    catalogs = [Catalog(_site(store_factory, n, 2, s), k=5, round_to=5) for n, s in ((12, "A"), (3, "B"), (6, "C"))]
    result = discover(CohortQuery(age_min=50), catalogs, "alice")
    assert [a.site for a in result.sites] == ["A", "B", "C"]
    assert [a.display() for a in result.sites] == ["10", "<5", "5"]
    assert result.total == 15 and result.n_suppressed == 1 and result.exists is True
    none = discover(CohortQuery(age_min=50), catalogs[1:2], "alice")
    assert none.total == 0 and none.n_suppressed == 1 and none.exists is None  # unknown, not "no"


def test_bad_queries_raise_clear_errors(store_factory) -> None:
    with pytest.raises(ValueError, match="modalities"):
        CohortQuery(modalities=("xray",))
    with pytest.raises(ValueError, match="age_min"):
        CohortQuery(age_min=80, age_max=50)
    with pytest.raises(ValueError, match="granularity"):
        CohortQuery(granularity="record")
    with pytest.raises(ValueError, match="diagnoses"):
        CohortQuery(diagnoses=("flu",))
    with pytest.raises(ValueError, match="unknown parameters"):
        CohortQuery.from_dict({"height": 3})
    catalog = Catalog(_site(store_factory, 1, 1, "A"))
    with pytest.raises(ValueError, match="variant: 'rs9'"):
        catalog.answer(CohortQuery(variant="rs9"), "alice")
    with pytest.raises(ValueError, match="k must"):
        Catalog(catalog.store_path, k=0)
