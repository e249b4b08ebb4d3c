"""SHACL validation of a catalogue description: the project's shapes plus the official DCAT-AP 3.0.1 and
HealthDCAT-AP Release 8 shape files vendored in ``shapes/`` (sources, commits and licences in ``shapes/README.md``).

The official validator (the HealthData@EU ITB validator) loads, per access level, the core and recommended shapes
together with range shapes and controlled-vocabulary shapes that need the EU vocabularies loaded as data (a
closed-world setup). Here the core and recommended shapes of DCAT-AP 3.0.1 and of the HealthDCAT-AP R8 profile for
the dataset's access level are loaded into one shapes graph, as ``owl:imports`` would; the range and vocabulary
shapes are not (docs/catalogue.md says why). Only the NON_PUBLIC profile is vendored: a dataset with another
``dct:accessRights`` is checked against DCAT-AP and the project's shapes, and a warning says so.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

from rdflib import Graph, URIRef
from rdflib.namespace import DCAT, DCTERMS, RDF, SH

SHAPES = "dcat_ap_health.ttl"
#: The official core and recommended shapes, always loaded.
DCAT_AP = ("dcat-ap-3.0.1/shapes.ttl", "dcat-ap-3.0.1/shapes_recommended.ttl")
#: HealthDCAT-AP R8 profile shapes by the dataset's access-right code.
HEALTHDCAT_AP = {
    "NON_PUBLIC": ("healthdcat-ap-r8/non-public-shapes.ttl", "healthdcat-ap-r8/non-public-shapes_recommended.ttl"),
}
ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"


@dataclass(frozen=True)
class Finding:
    """One SHACL result.

    Args:
        severity: ``"Violation"`` (mandatory property) or ``"Warning"`` (recommended property).
        focus: the node that fails (dataset, distribution, ...).
        path: the property, as a prefixed name (``dct:publisher``).
        message: what is wrong and how to fix it.
        source: ``"nextgen_ml"`` (the project's shapes, whose messages name the steward YAML key) or ``"official"``.
    """

    severity: str
    focus: str
    path: str
    message: str
    source: str = "nextgen_ml"

    def __str__(self) -> str:
        return f"{self.severity}: {self.path} on {self.focus}: {self.message} [{self.source}]"


def _read(name: str) -> str:
    return resources.files("nextgen_ml.catalogue").joinpath("shapes", name).read_text()


def shapes_graph() -> Graph:
    """The project's own shapes (``nextgen_ml/catalogue/shapes/dcat_ap_health.ttl``)."""
    return Graph().parse(data=_read(SHAPES), format="turtle")


@lru_cache(maxsize=4)
def official_shapes(access_right: str = "NON_PUBLIC") -> Graph:
    """DCAT-AP 3.0.1 core + recommended shapes and the HealthDCAT-AP R8 profile of ``access_right`` in one graph.

    One local adaptation, made here and not in the vendored files: R8 attaches its ``sh:or`` rule on
    ``hasStructuredData``/``hasVariables`` to the dataset shape as an ``sh:property`` without ``sh:path``, which
    SHACL (and pyshacl) refuses; it is attached as ``sh:node`` instead, which is what the rule means.
    """
    graph = Graph()
    for name in (*DCAT_AP, *HEALTHDCAT_AP.get(access_right, ())):
        graph.parse(data=_read(name), format="turtle")
    for shape, prop in list(graph.subject_objects(SH.property)):
        if graph.value(prop, SH.path) is None:
            graph.remove((shape, SH.property, prop))
            graph.add((shape, SH.node, prop))
    return graph


def _access_rights(data: Graph) -> str:
    for dataset in data.subjects(RDF.type, DCAT.Dataset):
        value = data.value(dataset, DCTERMS.accessRights)
        if value is not None and str(value).startswith(ACCESS_RIGHT):
            return str(value)[len(ACCESS_RIGHT):]
    return "NON_PUBLIC"


def _run(data: Graph, shapes: Graph, source: str) -> list[Finding]:
    from pyshacl import validate

    _, report, _ = validate(data, shacl_graph=shapes, inference="none", allow_warnings=True)
    findings = []
    for result in report.subjects(SH.resultSeverity, None):
        severity = str(report.value(result, SH.resultSeverity)).rsplit("#", 1)[-1]
        path = report.value(result, SH.resultPath)
        focus = report.value(result, SH.focusNode)
        findings.append(Finding(
            severity,
            focus.n3(data.namespace_manager) if isinstance(focus, URIRef) else str(focus),
            path.n3(data.namespace_manager) if path is not None else "?",
            str(report.value(result, SH.resultMessage)),
            source,
        ))  # fmt: skip
    return findings


def validate_graph(data: Graph, official: bool = True) -> list[Finding]:
    """Every violation and warning of ``data``, violations first.

    Args:
        data: the description.
        official: also check the vendored DCAT-AP 3.0.1 / HealthDCAT-AP R8 shapes (default).
    """
    findings = _run(data, shapes_graph(), "nextgen_ml")
    if official:
        access = _access_rights(data)
        findings += _run(data, official_shapes(access), "official")
        if access not in HEALTHDCAT_AP:
            findings.append(Finding(
                "Warning", "-", "dct:accessRights",
                f"no HealthDCAT-AP R8 profile for {access} is vendored (only {sorted(HEALTHDCAT_AP)}): checked "
                "against DCAT-AP 3.0.1 and the project's shapes only.", "official",
            ))  # fmt: skip
    return sorted(findings, key=lambda f: (f.severity != "Violation", f.source != "nextgen_ml", f.path, f.focus))


def validate_file(path: str | os.PathLike, official: bool = True) -> list[Finding]:
    """Parse ``path`` (Turtle or JSON-LD, by extension) and validate it."""
    fmt = "json-ld" if str(path).endswith((".jsonld", ".json")) else "turtle"
    return validate_graph(Graph().parse(str(path), format=fmt), official)
