"""A patient adversary against discovery: differencing, overlap chains and an age sweep no longer recover data.

Each attack is also run against the old protection (exact counts, querier-chosen k = 1, no age bins) as a
control, so the test shows the attack works there and fails under the site policy with OpenDP noise.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np
import pytest

from nextgen_ml.governance import discovery
from nextgen_ml.governance.budget import QueryBudgetExceeded
from nextgen_ml.governance.discovery import Catalog, CohortQuery
from nextgen_ml.governance.noise import noisy_count
from nextgen_ml.governance.policy import SitePolicy
from tests.governance.govstores import make_record

#: the old, querier-chosen protection: exact counts released down to 1, ages as asked
OLD = SitePolicy(k=1, round_to=1, age_bin_years=0, epsilon_budget=1e6, epsilon_per_query=1.0, max_queries=10**6)
SITE = SitePolicy(epsilon_per_query=0.5, epsilon_budget=5.0, k=5, round_to=1, age_bin_years=10)


def _store(store_factory, with_target: bool) -> Path:
    """20 men aged 60-79, 2 women aged 71-72 and, when ``with_target``, the target: a woman aged 67."""
    recs = [make_record(f"m{i}", sex="male", age=60 + i, ecg=True, text="x", dosages=[0.0, 0.0]) for i in range(20)]
    recs += [make_record(f"f{i}", sex="female", age=71 + i, ecg=True, text="x", dosages=[0.0, 0.0]) for i in range(2)]
    if with_target:
        recs.append(make_record("target", sex="female", age=67, ecg=True, text="x", dosages=[0.0, 0.0]))
    return store_factory(recs)


def _fresh(catalog: Catalog) -> Catalog:
    """The same site with its budget ledger and releases wiped (a new trial of the experiment)."""
    shutil.rmtree(catalog.store_path / "_governance", ignore_errors=True)
    return Catalog(catalog.store_path, policy=catalog.policy)


def _difference(catalog: Catalog, identity: str = "eve") -> int:
    """Differencing: everyone aged 60-69 minus the men aged 60-69 = the women aged 60-69 (the target or no one)."""
    everyone = catalog.answer(CohortQuery(age_min=60, age_max=69), identity)
    men = catalog.answer(CohortQuery(age_min=60, age_max=69, sex="male"), identity)
    return (everyone.count or 0) - (men.count or 0)


def test_differencing_decides_membership_exactly_without_noise(store_factory, monkeypatch) -> None:
    monkeypatch.setattr(discovery, "noisy_count", lambda n, epsilon: n)
    assert _difference(Catalog(_store(store_factory, True), policy=OLD)) == 1
    assert _difference(Catalog(_store(store_factory, False), policy=OLD)) == 0


@pytest.mark.slow
def test_differencing_through_the_catalog_stays_within_the_epsilon_bound(store_factory) -> None:
    rng = np.random.default_rng(0)
    worlds = {b: Catalog(_store(store_factory, b), policy=SitePolicy(k=1, epsilon_per_query=0.5)) for b in (0, 1)}
    trials, correct = 240, 0
    for _ in range(trials):
        b = int(rng.integers(2))
        guess = int(_difference(_fresh(worlds[b])) >= 1)
        correct += guess == b
    bound = math.exp(1.0) / (1 + math.exp(1.0))  # two answers of ε = 0.5: any test's accuracy ≤ e^ε/(1+e^ε)
    assert correct / trials < bound + 3 * math.sqrt(0.25 / trials)


def test_membership_advantage_of_a_noisy_difference_is_bounded() -> None:
    """The same attack on the mechanism alone, with many trials: accuracy ≤ e^{2ε}/(1+e^{2ε}) (= 0.73)."""
    trials, eps = 3000, 0.5
    rng = np.random.default_rng(1)
    worlds = rng.integers(2, size=trials)
    guesses = [int(noisy_count(30 + int(b), eps) - noisy_count(30, eps) >= 1) for b in worlds]
    accuracy = float(np.mean(np.asarray(guesses) == worlds))
    assert 0.5 < accuracy < math.exp(2 * eps) / (1 + math.exp(2 * eps)) + 0.03


def test_overlap_chain_is_cut_by_the_identity_budget(store_factory) -> None:
    """Averaging many equivalent differences (different spellings of the same cohort) runs out of ε."""
    catalog = Catalog(_store(store_factory, True), policy=SITE)
    spellings = [(), ("ecg",), ("text",), ("genomics",), ("ecg", "text"), ("ecg", "genomics"), ("text", "genomics")]
    pairs = 0
    with pytest.raises(QueryBudgetExceeded, match="'eve'"):
        for modalities in spellings:
            catalog.answer(CohortQuery(modalities=modalities, age_min=60, age_max=69), "eve")
            catalog.answer(CohortQuery(modalities=modalities, age_min=60, age_max=69, sex="male"), "eve")
            pairs += 1
    assert pairs == 5  # ε budget 5 / (2 × 0.5 per pair)
    assert catalog.budget.spent("eve")["epsilon"] == pytest.approx(5.0)
    again = catalog.answer(CohortQuery(age_min=61, age_max=68), "eve")  # a repeat is free but says nothing new
    assert again.cached and again.epsilon == 0.0
    with pytest.raises(ValueError, match="not a plain id"):
        catalog.answer(CohortQuery(sex="female"), "eve\u200b")  # a look-alike name is not a new budget


def test_averaging_all_affordable_pairs_does_not_recover_a_suppressed_count() -> None:
    """With the 5 pairs the budget allows, the averaged estimate of a count of 1 is rarely exactly right."""
    rng = np.random.default_rng(2)
    trials, true = 1500, 1
    exact = 0
    errors = []
    for _ in range(trials):
        big = int(rng.integers(20, 40))
        estimate = np.mean([noisy_count(big + true, 0.5) - noisy_count(big, 0.5) for _ in range(5)])
        exact += round(estimate) == true
        errors.append(abs(estimate - true))
    assert exact / trials < 0.35 and float(np.mean(errors)) > 1.0


def test_age_sweep_recovers_the_exact_age_only_without_bins(store_factory, monkeypatch) -> None:
    sweep = range(60, 72)  # 12 queries: women aged <= a
    monkeypatch.setattr(discovery, "noisy_count", lambda n, epsilon: n)
    old = Catalog(_store(store_factory, True), policy=OLD)
    counts = [old.answer(CohortQuery(sex="female", age_max=a), "eve").count or 0 for a in sweep]
    leaked = [a for a, c0, c1 in zip(sweep[1:], counts, counts[1:], strict=False) if c1 > c0]
    assert leaked == [67, 71]  # exact ages fall out of the sweep

    monkeypatch.undo()
    site = Catalog(_store(store_factory, True), policy=SITE)
    answers = [site.answer(CohortQuery(sex="female", age_max=a, granularity="count"), "eve") for a in sweep]
    released = [(a.count, a.suppressed) for a in answers]
    assert len(set(released[:10])) == 1  # ages 60-69 all ask [0, 70): one identical answer
    assert {a.applied["age_max"] for a in answers} == {70, 80}
    assert sum(a.epsilon for a in answers) == pytest.approx(2 * SITE.epsilon_per_query)  # 2 fresh answers
    # every age 60-69 gives the same responses, so the target's age within its bin cannot be told apart
    assert not answers[0].cached and all(a.cached for a in answers[1:10])
