"""Breaking one mandatory property at a time is reported as a violation naming that property."""

from __future__ import annotations

from pathlib import Path

import pytest
from rdflib import Graph, URIRef
from rdflib.namespace import RDF, SH

from nextgen_ml.catalogue.export import export_graph
from nextgen_ml.catalogue.steward import load_steward
from nextgen_ml.catalogue.validate import shapes_graph, validate_graph


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


def test_the_shapes_cover_the_dcat_ap_mandatory_properties() -> None:
    props = {p for _, p in MANDATORY}
    assert {"dct:title", "dct:description", "dct:publisher", "dcat:contactPoint", "dct:accessRights",
            "dcat:accessURL", "dcat:endpointURL"} <= props  # fmt: skip


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
    assert [f.path for f in findings] == [prop]
    assert prop in findings[0].message  # the message names the property and says how to fix it
