"""The catalogue never publishes more than discovery: same noise, k, rounding, budget and release cache."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rdflib import Literal, URIRef
from rdflib.namespace import XSD

from nextgen_ml.catalogue.counts import CATALOGUE_IDENTITY
from nextgen_ml.catalogue.export import export_graph
from nextgen_ml.catalogue.namespaces import DCT, HEALTH
from nextgen_ml.catalogue.steward import load_steward
from nextgen_ml.governance.discovery import Catalog
from nextgen_ml.governance.policy import SitePolicy, write_policy
from nextgen_ml.governance.query import CohortQuery

DATASET = URIRef("https://catalogue.example-hospital.eu/datasets/synthetic-cardio")


def _modality_counts(graph) -> dict[str, int]:
    parts = graph.objects(None, DCT.hasPart)
    return {str(graph.value(n, DCT.type)): int(graph.value(n, HEALTH.numberOfRecords)) for n in parts}


def test_counts_below_k_are_not_in_the_graph(store: Path, steward_file: Path) -> None:
    write_policy(store, SitePolicy(k=1000, epsilon_budget=50.0))  # more than the 160 records
    graph = export_graph(store, load_steward(steward_file))
    for prop in (HEALTH.numberOfRecords, HEALTH.numberOfUniqueIndividuals, HEALTH.minTypicalAge, HEALTH.maxTypicalAge,
                 HEALTH.populationCoverage, HEALTH.healthCategory):  # fmt: skip
        assert list(graph.objects(None, prop)) == [], prop
    assert _modality_counts(graph) == {}
    assert not any(str(o) == "160" for o in graph.objects())  # the true size is nowhere


def test_published_counts_are_the_discovery_releases(store: Path, steward_file: Path) -> None:
    write_policy(store, SitePolicy(k=120, round_to=5, epsilon_budget=50.0))
    graph = export_graph(store, load_steward(steward_file))
    published = _modality_counts(graph)
    catalog = Catalog(store)
    for modality in ("ecg", "genomics", "heart_sound", "image", "tabular", "text", "wearable"):
        answer = catalog.answer(CohortQuery(modalities=(modality,)), CATALOGUE_IDENTITY)
        assert answer.cached  # the export's own release, repeated at no cost
        if answer.suppressed:
            assert modality not in published and modality not in {str(k) for k in graph.objects(None, None)}
        else:
            assert published[modality] == answer.count and answer.count % 5 == 0 and answer.count >= 120
    assert len(published) < 7  # with k=120, some of the tiny store's modalities are withheld
    total = catalog.answer(CohortQuery(), CATALOGUE_IDENTITY)
    assert Literal(total.count, datatype=XSD.nonNegativeInteger) in set(graph.objects(None, HEALTH.numberOfRecords))


def test_export_is_audited_and_charged_to_the_catalogue_identity(store: Path, steward_file: Path) -> None:
    write_policy(store, SitePolicy(epsilon_budget=50.0))
    export_graph(store, load_steward(steward_file))
    catalog = Catalog(store)
    spent = catalog.policy.epsilon_budget - catalog.budget.remaining(CATALOGUE_IDENTITY)
    fresh = [e for e in _audit(store) if not e["details"]["cached"]]
    assert len(fresh) >= 8 + 2  # the total, seven modalities, and at least one age bin from each end
    assert spent == pytest.approx(len(fresh) * catalog.policy.epsilon_per_query)
    export_graph(store, load_steward(steward_file))  # a re-export repeats the releases for free
    assert catalog.policy.epsilon_budget - catalog.budget.remaining(CATALOGUE_IDENTITY) == spent


def _audit(store: Path) -> list[dict]:
    lines = (store / "_governance" / "audit.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if e.get("requester") == CATALOGUE_IDENTITY]


def test_age_range_is_whole_released_bins(store: Path, steward_file: Path) -> None:
    write_policy(store, SitePolicy(k=10, round_to=5, age_bin_years=10.0, epsilon_budget=50.0))
    graph = export_graph(store, load_steward(steward_file))
    low, high = (int(graph.value(DATASET, p)) for p in (HEALTH.minTypicalAge, HEALTH.maxTypicalAge))
    assert low % 10 == 0 and (high + 1) % 10 == 0 and low < high
    catalog = Catalog(store)
    for start, released in ((low, True), (high + 1 - 10, True), (low - 10, False), (high + 1, False)):
        answer = catalog.answer(CohortQuery(age_min=start, age_max=start), CATALOGUE_IDENTITY)
        assert answer.cached  # every bin the range rests on, and the ones just outside, were asked by the export
        assert answer.suppressed is not released
        if released:
            assert answer.count >= 10 and answer.count % 5 == 0
    # the individuals published are the record count's release (one record per patient), nothing finer
    assert graph.value(DATASET, HEALTH.numberOfUniqueIndividuals) == graph.value(DATASET, HEALTH.numberOfRecords)


def test_age_range_is_withheld_when_the_budget_runs_out(store: Path, steward_file: Path) -> None:
    write_policy(store, SitePolicy(epsilon_per_query=0.5, epsilon_budget=4.5, k=5))  # 9 answers: no age bin
    graph = export_graph(store, load_steward(steward_file))
    assert graph.value(DATASET, HEALTH.minTypicalAge) is None and graph.value(DATASET, HEALTH.maxTypicalAge) is None
    assert graph.value(DATASET, HEALTH.numberOfRecords) is not None


def test_counts_the_budget_no_longer_allows_are_withheld(store: Path, steward_file: Path) -> None:
    write_policy(store, SitePolicy(epsilon_per_query=0.5, epsilon_budget=1.0, k=5))  # two fresh answers
    graph = export_graph(store, load_steward(steward_file))
    assert len(list(graph.objects(None, HEALTH.numberOfRecords))) == 2  # the total and the first modality
    assert list(_modality_counts(graph)) == ["ecg"]


def test_a_policy_without_count_granularity_publishes_no_count(store: Path, steward_file: Path) -> None:
    write_policy(store, SitePolicy(granularities=("boolean",)))
    graph = export_graph(store, load_steward(steward_file))
    assert list(graph.objects(None, HEALTH.numberOfRecords)) == []
    assert not (store / "_governance" / "audit.jsonl").exists() or CATALOGUE_IDENTITY not in (
        store / "_governance" / "audit.jsonl"
    ).read_text()
