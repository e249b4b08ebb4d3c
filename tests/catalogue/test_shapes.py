"""Breaking one mandatory property at a time is reported as a violation naming that property."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, SH

from nextgen_ml.catalogue.export import export_graph
from nextgen_ml.catalogue.steward import load_steward
from nextgen_ml.catalogue.validate import official_shapes, shapes_graph, validate_graph


def _mandatory() -> list[tuple[str, str]]:
    """``(target class, property)`` of every sh:Violation property shape, as prefixed names."""
    shapes = shapes_graph()
    out = []
    for node in shapes.subjects(RDF.type, SH.NodeShape):
        target = shapes.value(node, SH.targetClass)
        for prop in shapes.objects(node, SH.property):
            if shapes.value(prop, SH.severity) == SH.Violation:
                path = shapes.value(prop, SH.path)
                out.append((target.n3(shapes.namespace_manager), path.n3(shapes.namespace_manager)))
    return sorted(out)


MANDATORY = _mandatory()
#: Properties through which the official shapes reach a nested node (``sh:node``) and report its failure.
LINKS = {"dcat:distribution", "healthdcatap:hdab", "dct:publisher"}


def test_the_shapes_cover_the_dcat_ap_mandatory_properties() -> None:
    props = {p for _, p in MANDATORY}
    assert {"dct:title", "dct:description", "dct:publisher", "dcat:contactPoint", "dct:accessRights",
            "dcat:accessURL", "dcat:endpointURL", "healthdcatap:hdab", "healthdcatap:healthCategory", "dct:type",
            "healthdcatap:hasStructuredData", "healthdcatap:hasVariables", "cv:contactPoint"} <= props  # fmt: skip
    targets = {t for t, _ in MANDATORY}
    assert {"dcat:Dataset", "dcat:Distribution", "dcat:DataService", "dcat:Catalog", "foaf:Agent"} <= targets


@pytest.fixture(scope="module")
def exported(tiny_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Graph:
    import shutil

    from tests.catalogue.conftest import STEWARD_YAML

    folder = tmp_path_factory.mktemp("shapes")
    store = folder / "store"
    shutil.copytree(tiny_store, store, ignore=shutil.ignore_patterns("_governance"))
    (folder / "steward.yaml").write_text(STEWARD_YAML)
    graph = export_graph(store, load_steward(folder / "steward.yaml"))
    assert [f for f in validate_graph(graph) if f.severity == "Violation"] == []
    return graph


@pytest.mark.parametrize(("target", "prop"), MANDATORY, ids=[f"{t}-{p}" for t, p in MANDATORY])
def test_removing_a_mandatory_property_is_reported(exported: Graph, target: str, prop: str) -> None:
    graph = Graph()
    for prefix, ns in exported.namespaces():
        graph.bind(prefix, ns)
    graph += exported
    cls, path = (URIRef(graph.namespace_manager.expand_curie(x)) for x in (target, prop))
    focus = next(iter(graph.subjects(RDF.type, cls)))
    assert graph.value(focus, path) is not None, f"the export has no {prop} on its {target} to remove"
    graph.remove((focus, path, None))
    findings = [f for f in validate_graph(graph) if f.severity == "Violation"]
    # only that property is reported; the official shapes may report it too, or on the property linking to the
    # node that lacks it (dcat:distribution, healthdcatap:hdab, dct:publisher); "?" is R8's node-level or-rule
    own_paths = {f.path for f in findings if f.source == "nextgen_ml"}
    assert own_paths == {prop}
    assert {f.path for f in findings if f.source == "official"} <= {prop, "?", *LINKS}
    own = [f for f in findings if f.source == "nextgen_ml"]
    assert [f.path for f in own] == [prop]
    assert prop in own[0].message and "(" in own[0].message  # names the property, cites the spec, says the fix


#: Mandatory in the official shape files themselves (DCAT-AP 3.0.1 or HealthDCAT-AP R8 non-public).
OFFICIAL = [
    ("dcat:Dataset", "healthdcatap:healthCategory"), ("dcat:Dataset", "healthdcatap:hdab"),
    ("dcat:Dataset", "dct:type"), ("dcat:Dataset", "dct:title"), ("dcat:Distribution", "dcat:accessURL"),
    ("dcat:Distribution", "dcatap:applicableLegislation"), ("dcat:Catalog", "dct:publisher"),
    ("foaf:Agent", "cv:contactPoint"),
]  # fmt: skip


@pytest.mark.parametrize(("target", "prop"), OFFICIAL, ids=[f"{t}-{p}" for t, p in OFFICIAL])
def test_the_vendored_official_shapes_report_it_too(exported: Graph, target: str, prop: str) -> None:
    graph = Graph()
    for prefix, ns in exported.namespaces():
        graph.bind(prefix, ns)
    graph += exported
    cls, path = (URIRef(graph.namespace_manager.expand_curie(x)) for x in (target, prop))
    graph.remove((next(iter(graph.subjects(RDF.type, cls))), path, None))
    official = [f for f in validate_graph(graph) if f.severity == "Violation" and f.source == "official"]
    assert official and {f.path for f in official} <= {prop, "?", *LINKS}


def test_the_official_shapes_are_the_vendored_files() -> None:
    shapes = official_shapes("NON_PUBLIC")
    names = {str(s).rsplit("#", 1)[-1] for s in shapes.subjects(RDF.type, SH.NodeShape)}
    assert {"Dataset_Shape", "Distribution_Shape", "Catalog_Shape", "CSVWColumnShape", "HealthAgent_Shape"} <= names
    hdab = URIRef("http://healthdataportal.eu/ns/health#hdab")
    assert any(shapes.value(p, SH.path) == hdab for p in shapes.subjects(SH.minCount, None))
