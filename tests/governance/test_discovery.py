"""Discovery under the steward's policy: suppression, rounding, age bins, ε budgets, repeats, federation, audit.

Plumbing tests replace the noise by zero (``exact``) so the release logic can be checked exactly; the real
OpenDP noise is exercised in test_noise.py and the attack tests.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nextgen_ml.governance import discovery
from nextgen_ml.governance.audit import AuditLog
from nextgen_ml.governance.budget import QueryBudgetExceeded
from nextgen_ml.governance.discovery import Catalog, CohortQuery, discover, release, round_count
from nextgen_ml.governance.policy import SitePolicy, load_policy, policy_path, write_policy
from tests.governance.govstores import make_record

EXACT = SitePolicy(k=1, round_to=1, age_bin_years=0)


@pytest.fixture
def exact(monkeypatch: pytest.MonkeyPatch) -> None:
    """No noise: released counts are the true counts (plumbing tests only)."""
    monkeypatch.setattr(discovery, "noisy_count", lambda n, epsilon: n)


def _site(store_factory, n_match: int, n_other: int, site: str) -> Path:
    """``n_match`` records aged 65 with ECG and rs2 carried; ``n_other`` aged 30 without."""
    recs = [
        make_record(
            f"{site}{i}",
            site=site,
            age=65,
            ecg=True,
            dosages=[0.0, 1.0],
            diagnosis="cardiomyopathy",
            findings=["atrial_fibrillation"],
        )
        for i in range(n_match)
    ]
    recs += [
        make_record(f"{site}x{i}", site=site, age=30, sex="male", dosages=[2.0, 0.0], diagnosis="normal")
        for i in range(n_other)
    ]
    return store_factory(recs)


def test_noisy_counts_below_k_are_suppressed(store_factory, exact) -> None:
    catalog = Catalog(_site(store_factory, 3, 20, "A"), policy=SitePolicy(k=5))
    answer = catalog.answer(CohortQuery(age_min=50), "alice")
    assert answer.suppressed and answer.count is None and answer.exists is None
    assert answer.display() == "<5"
    assert catalog.answer(CohortQuery(age_min=100), "alice").suppressed  # zero is suppressed like small counts


def test_released_counts_are_rounded(store_factory, exact) -> None:
    catalog = Catalog(_site(store_factory, 8, 4, "A"), policy=SitePolicy(k=5, round_to=5))
    answer = catalog.answer(CohortQuery(modalities=("ecg",)), "alice")
    assert not answer.suppressed and answer.count == 10  # true 8
    assert round_count(7, 5) == 5 and round_count(12, 10) == 10 and round_count(15, 10) == 20
    assert release("s", 23, "count", 5, 10).count == 20


def test_criteria_combine(store_factory) -> None:
    catalog = Catalog(_site(store_factory, 6, 7, "A"), policy=EXACT)
    assert catalog.match_mask(CohortQuery(age_min=50, age_max=70, sex="female")).sum() == 6
    assert catalog.match_mask(CohortQuery(sex="male")).sum() == 7
    assert catalog.match_mask(CohortQuery(variant="rs2")).sum() == 6
    assert catalog.match_mask(CohortQuery(variant="rs1")).sum() == 7
    assert catalog.match_mask(CohortQuery(modalities=("ecg", "genomics"))).sum() == 6
    assert catalog.match_mask(CohortQuery(modalities=("text",))).sum() == 0
    assert catalog.match_mask(CohortQuery(diagnoses=("MONDO:0007263",))).sum() == 6  # AF under rhythm disease
    assert catalog.match_mask(CohortQuery(diagnoses=("MONDO:0005045",))).sum() == 0  # HCM is narrower
    assert catalog.match_mask(CohortQuery(diagnoses=("normal",))).sum() == 7


def test_age_ranges_are_widened_to_the_stewards_bins(store_factory, exact) -> None:
    catalog = Catalog(_site(store_factory, 6, 7, "A"), policy=SitePolicy(k=1, age_bin_years=10))
    answer = catalog.answer(CohortQuery(age_min=64.5, age_max=64.9), "alice")  # nobody is 64.5-64.9
    assert answer.applied["age_min"] == 60 and answer.applied["age_max"] == 70 and answer.age_max_exclusive
    assert answer.count == 6  # the whole [60, 70) bin
    again = catalog.answer(CohortQuery(age_min=61, age_max=69), "alice")
    assert again.cached and again.epsilon == 0.0 and again.count == 6


def test_boolean_granularity(store_factory, exact) -> None:
    catalog = Catalog(_site(store_factory, 6, 2, "A"), policy=SitePolicy(k=5, age_bin_years=0))
    yes = catalog.answer(CohortQuery(age_min=50, granularity="boolean"), "alice")
    assert yes.exists is True and yes.count is None and not yes.suppressed
    small = catalog.answer(CohortQuery(age_max=40, granularity="boolean"), "alice")
    assert small.exists is None and small.suppressed
    only_boolean = Catalog(catalog.store_path, policy=SitePolicy(granularities=("boolean",)))
    with pytest.raises(ValueError, match="granularity 'count' is not offered"):
        only_boolean.answer(CohortQuery(), "alice")


def test_epsilon_budget_is_per_identity_persisted_and_repeats_are_free(store_factory, exact) -> None:
    path = _site(store_factory, 6, 2, "A")
    policy = SitePolicy(epsilon_per_query=1.0, epsilon_budget=2.0)
    catalog = Catalog(path, policy=policy)
    assert catalog.answer(CohortQuery(age_min=50), "alice").epsilon == 1.0
    assert catalog.answer(CohortQuery(sex="male"), "alice").epsilon == 1.0
    with pytest.raises(QueryBudgetExceeded, match="'alice' has spent 2 of its ε budget 2"):
        catalog.answer(CohortQuery(sex="female"), "alice")
    assert catalog.answer(CohortQuery(age_min=50), "alice").cached  # a repeat is answered, free
    catalog.answer(CohortQuery(sex="female"), "bob")  # budgets are per identity
    fresh = Catalog(path, policy=policy)  # persisted across instances (a server restart)
    with pytest.raises(QueryBudgetExceeded):
        fresh.answer(CohortQuery(variant="rs1"), "alice")
    assert fresh.budget.remaining("bob") == 1.0


def test_site_wide_cap_and_answer_count_cap(store_factory, exact) -> None:
    path = _site(store_factory, 6, 2, "A")
    catalog = Catalog(path, policy=SitePolicy(epsilon_per_query=1.0, epsilon_budget=5.0, site_epsilon_budget=2.0))
    catalog.answer(CohortQuery(age_min=50), "alice")
    catalog.answer(CohortQuery(sex="male"), "bob")
    with pytest.raises(QueryBudgetExceeded, match="site has spent its total"):
        catalog.answer(CohortQuery(sex="female"), "carol")
    capped = Catalog(_site(store_factory, 2, 2, "B"), policy=SitePolicy(max_queries=1))
    capped.answer(CohortQuery(), "alice")
    with pytest.raises(QueryBudgetExceeded, match="all 1 answers"):
        capped.answer(CohortQuery(sex="male"), "alice")


def test_bad_input_costs_nothing(store_factory) -> None:
    catalog = Catalog(_site(store_factory, 1, 1, "A"))
    with pytest.raises(ValueError, match="variant: 'rs9'"):
        catalog.answer(CohortQuery(variant="rs9"), "alice")
    with pytest.raises(ValueError, match="identity"):
        catalog.answer(CohortQuery(), "EVE")
    assert catalog.budget.spent("alice") == {"epsilon": 0.0, "queries": 0}


def test_each_answer_is_audited_with_the_epsilon_charged(store_factory, tmp_path: Path, exact) -> None:
    log = AuditLog(tmp_path / "audit.jsonl")
    catalog = Catalog(_site(store_factory, 3, 6, "A"), policy=SitePolicy(k=5), audit=log)
    catalog.answer(CohortQuery(age_min=50), "alice")
    catalog.answer(CohortQuery(age_min=50), "bob")
    entries = list(log.entries())
    assert [e["requester"] for e in entries] == ["alice", "bob"]
    assert entries[0]["kind"] == "discovery" and entries[0]["counts"] == {"released": "<5", "suppressed": True}
    assert entries[0]["details"]["query"]["age_min"] == 50 and entries[0]["details"]["applied"]["age_min"] == 50
    assert (entries[0]["epsilon"], entries[1]["epsilon"]) == (0.5, 0.0) and entries[1]["details"]["cached"]
    assert log.verify() == 2


def test_federated_aggregation_counts_suppressed_sites_separately(store_factory, exact) -> None:
    policy = SitePolicy(k=5, round_to=5)
    catalogs = [Catalog(_site(store_factory, n, 2, s), policy=policy) for n, s in ((12, "A"), (3, "B"), (6, "C"))]
    result = discover(CohortQuery(age_min=50), catalogs, "alice")
    assert [a.site for a in result.sites] == ["A", "B", "C"]
    assert [a.display() for a in result.sites] == ["10", "<5", "5"]
    assert result.total == 15 and result.n_suppressed == 1 and result.exists is True
    none = discover(CohortQuery(age_min=50), catalogs[1:2], "alice")
    assert none.total == 0 and none.n_suppressed == 1 and none.exists is None  # unknown, not "no"


def test_bad_queries_raise_clear_errors() -> None:
    with pytest.raises(ValueError, match="modalities"):
        CohortQuery(modalities=("xray",))
    with pytest.raises(ValueError, match="age_min"):
        CohortQuery(age_min=80, age_max=50)
    with pytest.raises(ValueError, match="finite"):
        CohortQuery(age_min=float("nan"))
    with pytest.raises(ValueError, match="age_max must lie"):
        CohortQuery(age_max=1e9)
    with pytest.raises(ValueError, match="list of strings"):
        CohortQuery(modalities="ecg")
    with pytest.raises(ValueError, match="granularity"):
        CohortQuery(granularity="record")
    with pytest.raises(ValueError, match="diagnoses"):
        CohortQuery(diagnoses=("flu",))
    with pytest.raises(ValueError, match="unknown parameters"):
        CohortQuery.from_dict({"height": 3})


def test_the_policy_is_the_stewards_file(store_factory) -> None:
    path = _site(store_factory, 1, 1, "A")
    assert load_policy(path) == SitePolicy()  # defaults without a file
    write_policy(path, SitePolicy(k=11, epsilon_per_query=0.25))
    assert Catalog(path).policy.k == 11 and Catalog(path).info()["policy"]["epsilon_per_query"] == 0.25
    policy_path(path).write_text("k: 1\nround_too: 1\n")
    with pytest.raises(ValueError, match="unknown keys"):
        load_policy(path)
    for bad in ({"k": 0}, {"epsilon_per_query": 0}, {"epsilon_per_query": 9.0}, {"granularities": ["record"]}):
        with pytest.raises(ValueError, match="policy"):
            SitePolicy(**bad)
