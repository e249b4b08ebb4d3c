"""The catalogue never publishes more than discovery: same noise, k, rounding, budget and release cache."""

from __future__ import annotations

from pathlib import Path

from rdflib import Literal
from rdflib.namespace import XSD

from nextgen_ml.catalogue.counts import CATALOGUE_IDENTITY
from nextgen_ml.catalogue.export import export_graph
from nextgen_ml.catalogue.namespaces import DCT, HEALTH
from nextgen_ml.catalogue.steward import load_steward
from nextgen_ml.governance.discovery import Catalog
from nextgen_ml.governance.policy import SitePolicy, write_policy
from nextgen_ml.governance.query import CohortQuery


def _modality_counts(graph) -> dict[str, int]:
    parts = graph.objects(None, DCT.hasPart)
    return {str(graph.value(n, DCT.type)): int(graph.value(n, HEALTH.numberOfRecords)) for n in parts}


def test_counts_below_k_are_not_in_the_graph(store: Path, steward_file: Path) -> None:
    write_policy(store, SitePolicy(k=1000))  # more than the 160 records
    graph = export_graph(store, load_steward(steward_file))
    assert list(graph.objects(None, HEALTH.numberOfRecords)) == []
    assert _modality_counts(graph) == {}
    assert not any(str(o) == "160" for o in graph.objects())  # the true size is nowhere


def test_published_counts_are_the_discovery_releases(store: Path, steward_file: Path) -> None:
    write_policy(store, SitePolicy(k=120, round_to=5))
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
    export_graph(store, load_steward(steward_file))
    catalog = Catalog(store)
    spent = catalog.policy.epsilon_budget - catalog.budget.remaining(CATALOGUE_IDENTITY)
    assert spent == 8 * catalog.policy.epsilon_per_query  # the total and seven modalities
    export_graph(store, load_steward(steward_file))  # a re-export repeats the releases for free
    assert catalog.policy.epsilon_budget - catalog.budget.remaining(CATALOGUE_IDENTITY) == spent
    assert (store / "_governance" / "audit.jsonl").read_text().count(CATALOGUE_IDENTITY) >= 8


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
