"""Agents and contact points of the catalogue description (publisher, health data access body, contact point).

HealthDCAT-AP Release 8 (non-public shapes): the dataset's ``dct:publisher`` and ``healthdcatap:hdab`` are
``foaf:Agent``s with ``foaf:name`` (DCAT-AP 3 ``Agent_Shape``) and exactly one ``cv:contactPoint``, a
``cv:ContactPoint`` with a ``cv:email`` literal or a ``cv:contactPage`` IRI (``HealthAgent_Shape``,
``HealthPublisherAgent_Shape``, ``ContactPoint_Shape``); the dataset's ``dcat:contactPoint`` is a ``vcard:Kind``
with ``vcard:hasEmail`` or ``vcard:hasURL`` (``Kind_Shape``).
"""

from __future__ import annotations

from rdflib import BNode, Graph, Literal, URIRef
from rdflib.namespace import RDF

from nextgen_ml.catalogue.namespaces import CV, FOAF, VCARD


def agent(graph: Graph, info: dict[str, str], kind: URIRef = FOAF.Organization) -> BNode:
    """A ``foaf:Agent`` (and ``kind``) from the steward's ``{name, url, email}`` with its ``cv:contactPoint``."""
    node = BNode()
    graph.add((node, RDF.type, FOAF.Agent))
    graph.add((node, RDF.type, kind))
    if info.get("name"):
        graph.add((node, FOAF.name, Literal(info["name"])))
    if info.get("url"):
        graph.add((node, FOAF.homepage, URIRef(info["url"])))
    if info.get("email"):
        graph.add((node, FOAF.mbox, URIRef(f"mailto:{info['email']}")))
    if info.get("email") or info.get("url"):
        point = BNode()
        graph.add((node, CV.contactPoint, point))
        graph.add((point, RDF.type, CV.ContactPoint))
        if info.get("email"):
            graph.add((point, CV.email, Literal(info["email"])))
        if info.get("url"):
            graph.add((point, CV.contactPage, URIRef(info["url"])))
    return node


def contact(graph: Graph, info: dict[str, str]) -> BNode:
    """The dataset's ``dcat:contactPoint``: a ``vcard:Kind`` from the steward's ``{name, email, url}``."""
    node = BNode()
    graph.add((node, RDF.type, VCARD.Kind))
    if info.get("name"):
        graph.add((node, VCARD.fn, Literal(info["name"])))
    if info.get("email"):
        graph.add((node, VCARD.hasEmail, URIRef(f"mailto:{info['email']}")))
    if info.get("url"):
        graph.add((node, VCARD.hasURL, URIRef(info["url"])))
    return node
