"""The data dictionary as RDF: a CSV on the Web (csvw) schema of variables and labels with codes and units."""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF, RDFS, XSD

from nextgen_ml.catalogue.namespaces import CODING_SYSTEMS, CSVW, DCT, HEALTH, QUDT, SKOS, code_iri
from nextgen_ml.data.dictionary import DataDictionary

_DATATYPE = {
    "tabular": {"numeric": XSD.decimal, "integer": XSD.integer},
    "labels": {"binary": XSD.integer, "regression": XSD.decimal},
}


def add_dictionary(graph: Graph, dataset: URIRef, dictionary: DataDictionary, iri: str) -> None:
    """Describe ``dictionary`` as ``<iri>`` (a ``csvw:Schema``) linked from ``dataset`` by ``dct:conformsTo``.

    Each variable and label becomes a ``csvw:Column`` with its name, description, kind, UCUM unit
    (``qudt:ucumCode``), categories (``skos:notation``) and code (``dct:identifier`` plus the code's IRI as
    ``dct:subject``); the dataset gets ``healthdcatap:hasCodingSystem`` and ``healthdcatap:hasCodeValues``.
    """
    schema = URIRef(iri)
    graph.add((dataset, DCT.conformsTo, schema))
    graph.add((schema, RDF.type, CSVW.Schema))
    graph.add((schema, RDF.type, DCT.Standard))
    graph.add((schema, DCT.title, Literal(f"Data dictionary: {dictionary.name}", lang="en")))
    graph.add((schema, DCT.hasVersion, Literal(dictionary.version)))
    graph.add((schema, DCT.identifier, Literal(dictionary.fingerprint())))
    systems: set[str] = set()
    entries = [
        ("tabular", v.name, v.kind, v.unit, v.code, v.description, v.categories)
        for v in dictionary.variables.values()
    ]
    entries += [
        ("labels", lab.name, lab.kind, lab.unit or lab.time_unit, lab.code, lab.description, lab.classes)
        for lab in dictionary.labels.values()
    ]
    for group, name, kind, unit, code, description, categories in entries:
        column = BNode()
        graph.add((schema, CSVW.column, column))
        graph.add((column, RDF.type, CSVW.Column))
        graph.add((column, CSVW.name, Literal(f"{group}.{name}")))
        graph.add((column, CSVW.datatype, _DATATYPE[group].get(kind, XSD.string)))
        graph.add((column, DCT.type, Literal(f"{'label' if group == 'labels' else 'variable'}:{kind}")))
        if description:
            graph.add((column, CSVW.titles, Literal(description, lang="en")))
        if unit:
            graph.add((column, QUDT.ucumCode, Literal(unit)))
        for category in categories:
            graph.add((column, SKOS.notation, Literal(category)))
        if code:
            graph.add((column, DCT.identifier, Literal(code)))
            system = code.split(":", 1)[0]
            value = code_iri(code)
            if value is not None:
                graph.add((column, DCT.subject, URIRef(value)))
                graph.add((dataset, HEALTH.hasCodeValues, URIRef(value)))
            if system in CODING_SYSTEMS:
                systems.add(system)
    for system in sorted(systems):
        node = URIRef(CODING_SYSTEMS[system])
        graph.add((dataset, HEALTH.hasCodingSystem, node))
        graph.add((node, RDFS.label, Literal(system)))
