"""GA4GH Beacon v2 framework documents for the discovery server, and filtering terms ↔ cohort queries.

The filtering terms come from the store's data dictionary (the codes of the ``age`` and ``sex`` variables),
from the MONDO terms of its diagnosis labels and from the modalities; each one round-trips into
:class:`~nextgen_ml.governance.query.CohortQuery` parameters through :func:`filters_to_parameters`.
Modalities have no code in a public ontology: they are ``custom`` terms ``nextgen_ml:modality:<name>``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nextgen_ml.data.dictionary import DataDictionary
from nextgen_ml.data.schema import MODALITIES
from nextgen_ml.governance.mondo import cardio_subtree
from nextgen_ml.governance.query import LABEL_NAMES

MODALITY_PREFIX = "nextgen_ml:modality:"
SPEC = "https://github.com/ga4gh-beacon/beacon-v2"
#: Raw files of the specification (as the upstream configuration example's ``$schema`` points to them).
RAW = "https://raw.githubusercontent.com/ga4gh-beacon/beacon-v2/main"
INDIVIDUAL = {
    "id": "individual",
    "name": "Individual",
    "ontologyTermForThisType": {"id": "NCIT:C25190", "label": "Person"},
    "partOfSpecification": "Beacon v2.0.0",
    "description": "A patient record of the site's store; only noisy aggregate counts are returned.",
    "defaultSchema": {
        "id": "beacon-individual-v2.0.0",
        "name": "Default schema for an individual",
        "referenceToSchemaDefinition": f"{RAW}/models/json/beacon-v2-default-model/individuals/defaultSchema.json",
        "schemaVersion": "v2.0.0",
    },
}


def _code(dictionary: DataDictionary, name: str) -> str | None:
    variable = dictionary.variables.get(name)
    return None if variable is None else variable.code


def filtering_terms(dictionary: DataDictionary) -> list[dict[str, Any]]:
    """Beacon v2 ``filteringTerms`` a querier may send (codes, not free text)."""
    terms: list[dict[str, Any]] = []
    age, sex = _code(dictionary, "age"), _code(dictionary, "sex")
    if age:
        terms.append({"type": "alphanumeric", "id": age, "label": "age in years (operators >=, <=)",
                      "scopes": ["individual"]})  # fmt: skip
    if sex:
        categories = list(dictionary.variables["sex"].categories)
        terms.append({"type": "alphanumeric", "id": sex, "label": f"sex (operator =, value one of {categories})",
                      "scopes": ["individual"]})  # fmt: skip
    mondo = cardio_subtree()
    for name, curie in sorted(mondo.record_labels.items()):
        if name in LABEL_NAMES:
            terms.append({"type": "ontologyTerm", "id": curie, "label": mondo.label(curie), "scopes": ["individual"]})
    for modality in MODALITIES:
        terms.append({"type": "custom", "id": f"{MODALITY_PREFIX}{modality}", "label": f"has {modality} data",
                      "scopes": ["individual"]})  # fmt: skip
    return terms


def filters_to_parameters(filters: Sequence[dict[str, Any]], dictionary: DataDictionary) -> dict[str, Any]:
    """Translate Beacon v2 ``query.filters`` into CohortQuery parameters (ValueError naming an unknown filter)."""
    params: dict[str, Any] = {"modalities": [], "diagnoses": []}
    age, sex = _code(dictionary, "age"), _code(dictionary, "sex")
    for item in filters:
        if not isinstance(item, dict) or "id" not in item:
            raise ValueError(f"filters: each filter is an object with an 'id', got {item!r}")
        term, op, value = item["id"], item.get("operator", "="), item.get("value")
        if term.startswith(MODALITY_PREFIX):
            params["modalities"].append(term[len(MODALITY_PREFIX):])
        elif term.startswith("MONDO:"):
            params["diagnoses"].append(term)
        elif term == sex and op == "=":
            params["sex"] = value
        elif term == age and op in (">=", "<="):
            key = "age_min" if op == ">=" else "age_max"
            params[key] = float(value)
        else:
            raise ValueError(f"filters: {term!r} with operator {op!r} is not offered here (see /filtering_terms)")
    return {k: v for k, v in params.items() if v != []}


def framework(beacon_id: str, version: str) -> dict[str, dict[str, Any]]:
    """The ``/configuration``, ``/entry_types`` and ``/map`` response bodies (``response`` part)."""
    return {
        "configuration": {
            "$schema": f"{RAW}/framework/json/configuration/beaconConfigurationSchema.json",
            "maturityAttributes": {"productionStatus": "DEV"},
            "securityAttributes": {"defaultGranularity": "boolean", "securityLevels": ["CONTROLLED"]},
            "entryTypes": {"individual": INDIVIDUAL},
        },
        "entry_types": {"entryTypes": {"individual": INDIVIDUAL}},
        "map": {
            "$schema": f"{RAW}/framework/json/configuration/beaconMapSchema.json",
            "endpointSets": {
                "individual": {"entryType": "individual", "rootUrl": "/query", "filteringTermsUrl": "/filtering_terms"}
            },
        },
        "info": {"id": beacon_id, "name": f"nextgen_ml discovery: {beacon_id}", "apiVersion": "v2.0.0",
                 "environment": "dev", "organization": {"id": beacon_id, "name": beacon_id}, "version": version},
    }  # fmt: skip
