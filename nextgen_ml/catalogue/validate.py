"""SHACL validation of a catalogue description against the shipped DCAT-AP 3 / HealthDCAT-AP shapes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from importlib import resources

from rdflib import Graph, URIRef
from rdflib.namespace import SH

SHAPES = "dcat_ap_health.ttl"


@dataclass(frozen=True)
class Finding:
    """One SHACL result.

    Args:
        severity: ``"Violation"`` (mandatory property) or ``"Warning"`` (recommended property).
        focus: the node that fails (dataset, distribution, ...).
        path: the property, as a prefixed name (``dct:publisher``).
        message: what is wrong and how to fix it.
    """

    severity: str
    focus: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.severity}: {self.path} on {self.focus}: {self.message}"


def shapes_graph() -> Graph:
    """The shipped shapes (``nextgen_ml/catalogue/shapes/dcat_ap_health.ttl``)."""
    text = resources.files("nextgen_ml.catalogue").joinpath("shapes", SHAPES).read_text()
    return Graph().parse(data=text, format="turtle")


def validate_graph(data: Graph) -> list[Finding]:
    """Every violation and warning of ``data`` against the shapes, violations first."""
    from pyshacl import validate

    _, report, _ = validate(data, shacl_graph=shapes_graph(), inference="none", allow_warnings=True)
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
        ))  # fmt: skip
    return sorted(findings, key=lambda f: (f.severity != "Violation", f.path, f.focus))


def validate_file(path: str | os.PathLike) -> list[Finding]:
    """Parse ``path`` (Turtle or JSON-LD, by extension) and validate it."""
    fmt = "json-ld" if str(path).endswith((".jsonld", ".json")) else "turtle"
    return validate_graph(Graph().parse(str(path), format=fmt))
