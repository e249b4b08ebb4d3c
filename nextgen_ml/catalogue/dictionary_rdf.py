"""The data dictionary as HealthDCAT-AP ``hasVariables``: a CSV on the Web table group of variables and labels.

HealthDCAT-AP Release 8 (non-public shapes, ``CSVWTableGroup_Shape`` / ``CSVWTable_Shape`` / ``CSVWColumnShape``):
the dataset has ``healthdcatap:hasStructuredData true`` and ``healthdcatap:hasVariables`` → one ``csvw:TableGroup``
(``dct:title``) → ``csvw:table`` → ``csvw:Table`` (``dct:title``, ``csvw:column``) → ``csvw:Column`` with exactly one
``csvw:name``, a ``csvw:title``, a ``dct:description`` and exactly one ``csvw:datatype`` *literal* (a CSVW built-in
datatype name). Codes are published as ``healthdcatap:hasCodeValues`` literals (R8: a literal, not a concept) and the
code systems as concepts of the HealthDCAT-AP coding-system vocabulary.
"""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS

from nextgen_ml.catalogue.namespaces import CODING_SYSTEMS, CSVW, DCT, HEALTH, QUDT, SKOS, code_iri
from nextgen_ml.data.dictionary import DataDictionary

#: Dictionary kind → CSVW built-in datatype name (https://www.w3.org/TR/tabular-metadata/#datatypes).
_DATATYPE = {
    "tabular": {"numeric": "decimal", "integer": "integer"},
    "labels": {"binary": "integer", "regression": "decimal", "survival": "decimal"},
}


def _describe(kind: str, unit: str | None, code: str | None, description: str) -> str:
    """``dct:description`` of a column: the dictionary's description, else its kind, unit and code."""
    if description:
        return description
    parts = [kind] + ([f"unit {unit}"] if unit else []) + ([f"code {code}"] if code else [])
    return ", ".join(parts)


def add_dictionary(graph: Graph, dataset: URIRef, dictionary: DataDictionary, iri: str) -> None:
    """Describe ``dictionary`` as ``<iri>`` (a ``csvw:TableGroup``, also the ``dct:conformsTo`` of ``dataset``).

    Two tables, ``tabular`` (variables) and ``labels``. Each column carries its name, title, description, CSVW
    datatype, kind (``dct:type``), UCUM unit (``qudt:ucumCode``), categories (``skos:notation``) and code
    (``dct:identifier`` plus the code's IRI as ``dct:subject`` where the system has resolvable IRIs).
    """
    group = URIRef(iri)
    graph.add((dataset, HEALTH.hasStructuredData, Literal(True)))
    graph.add((dataset, HEALTH.hasVariables, group))
    graph.add((dataset, DCT.conformsTo, group))
    graph.add((group, RDF.type, CSVW.TableGroup))
    graph.add((group, RDF.type, DCT.Standard))
    graph.add((group, DCT.title, Literal(f"Data dictionary: {dictionary.name}", lang="en")))
    graph.add((group, DCT.hasVersion, Literal(dictionary.version)))
    graph.add((group, DCT.identifier, Literal(dictionary.fingerprint())))
    systems: set[str] = set()
    entries = {
        "tabular": [
            (v.name, v.kind, v.unit, v.code, v.description, v.categories) for v in dictionary.variables.values()
        ],
        "labels": [
            (lab.name, lab.kind, lab.unit or lab.time_unit, lab.code, lab.description, lab.classes)
            for lab in dictionary.labels.values()
        ],
    }
    for group_name, rows in entries.items():
        if not rows:
            continue
        table = URIRef(f"{iri}/{group_name}")
        graph.add((group, CSVW.table, table))
        graph.add((table, RDF.type, CSVW.Table))
        title = "Clinical variables (tabular)" if group_name == "tabular" else "Outcome labels"
        graph.add((table, DCT.title, Literal(title, lang="en")))
        for name, kind, unit, code, description, categories in rows:
            column = BNode()
            graph.add((table, CSVW.column, column))
            graph.add((column, RDF.type, CSVW.Column))
            graph.add((column, CSVW.name, Literal(f"{group_name}.{name}")))
            graph.add((column, CSVW.title, Literal(name)))
            graph.add((column, DCT.description, Literal(_describe(kind, unit, code, description), lang="en")))
            graph.add((column, CSVW.datatype, Literal(_DATATYPE[group_name].get(kind, "string"))))
            graph.add((column, DCT.type, Literal(f"{'label' if group_name == 'labels' else 'variable'}:{kind}")))
            if unit:
                graph.add((column, QUDT.ucumCode, Literal(unit)))
                systems.add("UCUM")
            for category in categories:
                graph.add((column, SKOS.notation, Literal(category)))
            if code:
                graph.add((column, DCT.identifier, Literal(code)))
                graph.add((dataset, HEALTH.hasCodeValues, Literal(code)))
                value = code_iri(code)
                if value is not None:
                    graph.add((column, DCT.subject, URIRef(value)))
                systems.add(code.split(":", 1)[0])
    for system in sorted(systems & set(CODING_SYSTEMS)):
        node = URIRef(CODING_SYSTEMS[system])
        graph.add((dataset, HEALTH.hasCodingSystem, node))
        graph.add((node, RDFS.label, Literal(system)))
