"""JSON schemas of the Beacon v2 framework responses, written from the Beacon v2 specification's framework
(``framework/json/responses`` and ``framework/json/configuration``): required fields and types only, not
the full upstream schemas (which reference each other by URL and cannot be fetched offline)."""

from __future__ import annotations

_STR = {"type": "string"}
_SCHEMA_REF = {
    "type": "object",
    "required": ["entityType", "schema"],
    "properties": {"entityType": _STR, "schema": _STR},
}
INFO_META = {
    "type": "object",
    "required": ["beaconId", "apiVersion", "returnedSchemas"],
    "properties": {"beaconId": _STR, "apiVersion": _STR, "returnedSchemas": {"type": "array", "items": _SCHEMA_REF}},
}
_ENTRY_TYPE = {
    "type": "object",
    "required": ["id", "name", "ontologyTermForThisType", "partOfSpecification", "defaultSchema"],
    "properties": {
        "id": _STR,
        "name": _STR,
        "ontologyTermForThisType": {"type": "object", "required": ["id"], "properties": {"id": _STR, "label": _STR}},
        "partOfSpecification": _STR,
        "defaultSchema": {
            "type": "object",
            "required": ["id", "name", "referenceToSchemaDefinition"],
            "properties": {"id": _STR, "name": _STR, "referenceToSchemaDefinition": _STR},
        },
    },
}
_ENTRY_TYPES = {"type": "object", "minProperties": 1, "additionalProperties": _ENTRY_TYPE}


def _response(body: dict) -> dict:
    return {"type": "object", "required": ["meta", "response"], "properties": {"meta": INFO_META, "response": body}}


INFO = _response({
    "type": "object",
    "required": ["id", "name", "apiVersion", "environment", "organization"],
    "properties": {
        "id": _STR, "name": _STR, "apiVersion": _STR,
        "environment": {"enum": ["prod", "test", "dev", "staging", "PROD", "TEST", "DEV", "STAGING"]},
        "organization": {"type": "object", "required": ["id", "name"], "properties": {"id": _STR, "name": _STR}},
    },
})  # fmt: skip
CONFIGURATION = _response({
    "type": "object",
    "required": ["$schema", "maturityAttributes", "entryTypes"],
    "properties": {
        "$schema": _STR,
        "maturityAttributes": {
            "type": "object", "required": ["productionStatus"],
            "properties": {"productionStatus": {"enum": ["PROD", "TEST", "DEV"]}},
        },
        "securityAttributes": {
            "type": "object",
            "properties": {
                "defaultGranularity": {"enum": ["boolean", "count", "aggregated", "record"]},
                "securityLevels": {"type": "array", "items": {"enum": ["PUBLIC", "REGISTERED", "CONTROLLED"]}},
            },
        },
        "entryTypes": _ENTRY_TYPES,
    },
})  # fmt: skip
ENTRY_TYPES = _response({"type": "object", "required": ["entryTypes"], "properties": {"entryTypes": _ENTRY_TYPES}})
MAP = _response({
    "type": "object",
    "required": ["$schema", "endpointSets"],
    "properties": {
        "$schema": _STR,
        "endpointSets": {
            "type": "object", "minProperties": 1,
            "additionalProperties": {
                "type": "object", "required": ["entryType", "rootUrl"],
                "properties": {"entryType": _STR, "rootUrl": _STR, "filteringTermsUrl": _STR},
            },
        },
    },
})  # fmt: skip
FILTERING_TERMS = _response({
    "type": "object",
    "properties": {
        "filteringTerms": {
            "type": "array",
            "items": {
                "type": "object", "required": ["type", "id"],
                "properties": {
                    "type": {"enum": ["ontologyTerm", "alphanumeric", "custom"]}, "id": _STR, "label": _STR,
                    "scopes": {"type": "array", "items": _STR},
                },
            },
        },
        "resources": {
            "type": "array",
            "items": {"type": "object", "required": ["id"], "properties": {"id": _STR, "name": _STR, "url": _STR}},
        },
    },
})  # fmt: skip
