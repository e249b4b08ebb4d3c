"""RDF namespaces and controlled-vocabulary IRIs used by the catalogue export."""

from __future__ import annotations

from rdflib import Namespace
from rdflib.namespace import DCTERMS, FOAF, PROV, SKOS

DCAT = Namespace("http://www.w3.org/ns/dcat#")
DCT = DCTERMS  # a closed namespace: DCT.title is the property, not str.title
DCATAP = Namespace("http://data.europa.eu/r5r/")
#: HealthDCAT-AP namespace as used by the specification's example files and shapes.
HEALTH = Namespace("http://healthdataportal.eu/ns/health#")
DPV = Namespace("https://w3id.org/dpv#")
VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
CSVW = Namespace("http://www.w3.org/ns/csvw#")
QUDT = Namespace("http://qudt.org/schema/qudt/")

__all__ = ["CSVW", "DCAT", "DCATAP", "DCT", "DPV", "FOAF", "HEALTH", "PROV", "QUDT", "SKOS", "VCARD"]

EU = "http://publications.europa.eu/resource/authority/"
THEME_HEALTH = f"{EU}data-theme/HEAL"
ACCESS_RIGHTS = f"{EU}access-right/"
LANGUAGE = f"{EU}language/"
FILE_TYPE = f"{EU}file-type/"
#: Regulation (EU) 2025/327 on the European Health Data Space.
EHDS_REGULATION = "http://data.europa.eu/eli/reg/2025/327/oj"
BEACON_V2 = "https://github.com/ga4gh-beacon/beacon-v2"
DUO_IRI = "http://purl.obolibrary.org/obo/DUO_"

#: Wikidata identifier properties of coding systems (as HealthDCAT-AP's hasCodingSystem examples use).
CODING_SYSTEMS: dict[str, str] = {
    "LOINC": "http://www.wikidata.org/entity/P4338",
    "SNOMED": "http://www.wikidata.org/entity/P5806",
    "ICD10": "http://www.wikidata.org/entity/P494",
    "ATC": "http://www.wikidata.org/entity/P267",
    "HPO": "http://www.wikidata.org/entity/P3841",
    "MONDO": "http://www.wikidata.org/entity/P5270",
}

#: Resolvable IRI of a code, by coding system (None: the code stays a literal in the dictionary).
CODE_IRI: dict[str, str] = {
    "LOINC": "https://loinc.org/{code}/",
    "SNOMED": "http://snomed.info/id/{code}",
    "ICD10": "http://id.who.int/icd/release/10/{code}",
    "ATC": "https://atcddd.fhi.no/atc_ddd_index/?code={code}",
    "HPO": "http://purl.obolibrary.org/obo/HP_{code}",
    "MONDO": "http://purl.obolibrary.org/obo/MONDO_{code}",
    "OMOP": "https://athena.ohdsi.org/search-terms/terms/{code}",
}

#: Store format → (IANA media type, EU file-type IRI or None).
MEDIA_TYPES: dict[str, tuple[str, str | None]] = {
    "ipc": ("https://www.iana.org/assignments/media-types/application/vnd.apache.arrow.file", None),
    "parquet": ("https://www.iana.org/assignments/media-types/application/vnd.apache.parquet", f"{FILE_TYPE}PARQUET"),
}


def code_iri(code: str) -> str | None:
    """``LOINC:8867-4`` → ``https://loinc.org/8867-4/``; None for LOCAL and unknown systems."""
    system, _, value = code.partition(":")
    if system in ("HPO", "MONDO") and ":" not in value:
        value = value.zfill(7)
    template = CODE_IRI.get(system)
    return None if template is None else template.format(code=value)
