"""The official GA4GH Beacon v2 framework JSON schemas (vendored in ``beacon_v2/``, see its README.md), with their
cross-file ``$ref``s resolved through a :class:`referencing.Registry` built from the vendored files only."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

ROOT = Path(__file__).parent / "beacon_v2"
#: Base URI the vendored tree is registered under, so relative ``$ref``s (``../common/info.json``) resolve to it.
BASE = "https://github.com/ga4gh-beacon/beacon-v2/raw/v2.1.1/framework/json/"
#: Endpoint → response schema of the Beacon v2 framework.
RESPONSES = {
    "/info": "responses/beaconInfoResponse.json",
    "/map": "responses/beaconMapResponse.json",
    "/configuration": "responses/beaconConfigurationResponse.json",
    "/entry_types": "responses/beaconEntryTypesResponse.json",
    "/filtering_terms": "responses/beaconFilteringTermsResponse.json",
    "count": "responses/beaconCountResponse.json",
}


@lru_cache(maxsize=1)
def registry() -> Registry:
    resources = [
        (BASE + path.relative_to(ROOT).as_posix(), Resource.from_contents(json.loads(path.read_text()), DRAFT202012))
        for path in sorted(ROOT.rglob("*.json"))
    ]
    return Registry().with_resources(resources)


def validator(name: str) -> Draft202012Validator:
    """A validator of the response schema ``name`` (a key of :data:`RESPONSES`), ``$ref``s resolved offline."""
    return Draft202012Validator({"$ref": BASE + RESPONSES[name]}, registry=registry())
