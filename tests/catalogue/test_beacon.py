"""Beacon v2 framework endpoints validate against the specification's schemas; filtering terms round-trip."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
jsonschema = pytest.importorskip("jsonschema")
from fastapi.testclient import TestClient  # noqa: E402

from nextgen_ml.governance.discovery import Catalog  # noqa: E402
from nextgen_ml.governance.keys import KeyStore  # noqa: E402
from nextgen_ml.governance.policy import SitePolicy, write_policy  # noqa: E402
from nextgen_ml.governance.server import create_app  # noqa: E402
from tests.catalogue import beacon_schemas  # noqa: E402


@pytest.fixture()
def client(store: Path) -> TestClient:
    write_policy(store, SitePolicy(epsilon_budget=100.0, max_queries=1000, k=5))
    return TestClient(create_app(Catalog(store)))


@pytest.mark.parametrize(
    ("path", "schema"),
    [("/info", beacon_schemas.INFO), ("/configuration", beacon_schemas.CONFIGURATION),
     ("/entry_types", beacon_schemas.ENTRY_TYPES), ("/map", beacon_schemas.MAP),
     ("/filtering_terms", beacon_schemas.FILTERING_TERMS)],
)  # fmt: skip
def test_framework_responses_validate(client: TestClient, path: str, schema: dict) -> None:
    got = client.get(path)
    assert got.status_code == 200
    jsonschema.validate(got.json(), schema)


def test_schemas_reject_a_broken_response(client: TestClient) -> None:
    body = client.get("/configuration").json()
    del body["response"]["maturityAttributes"]
    with pytest.raises(jsonschema.ValidationError, match="maturityAttributes"):
        jsonschema.validate(body, beacon_schemas.CONFIGURATION)


def _count(client: TestClient, token: str, query: dict) -> dict:
    body = {"meta": {"apiVersion": "v2.0.0"}, "query": {**query, "requestedGranularity": "count"}}
    got = client.post("/query", json=body, headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 200, got.text
    return got.json()


def test_filtering_terms_are_codes_and_round_trip_into_count_queries(client: TestClient, store: Path) -> None:
    token = KeyStore.for_store(store).issue("alice")
    terms = client.get("/filtering_terms").json()["response"]["filteringTerms"]
    ids = {t["id"] for t in terms}
    assert {"LOINC:30525-0", "LOINC:76689-9", "nextgen_ml:modality:ecg"} <= ids  # from the data dictionary
    assert any(t["id"].startswith("MONDO:") for t in terms)
    for term in terms:
        if term["type"] == "alphanumeric" and term["id"] == "LOINC:76689-9":
            flt, params = {"id": term["id"], "operator": "=", "value": "female"}, {"sex": "female"}
        elif term["type"] == "alphanumeric":
            flt, params = {"id": term["id"], "operator": ">=", "value": 60}, {"age_min": 60}
        elif term["type"] == "custom":
            modality = term["id"].rsplit(":", 1)[-1]
            flt, params = {"id": term["id"]}, {"modalities": [modality]}
        else:
            flt, params = {"id": term["id"]}, {"diagnoses": [term["id"]]}
        by_filter = _count(client, token, {"filters": [flt]})
        by_params = _count(client, token, {"requestParameters": params})
        assert by_filter["info"]["appliedParameters"] == by_params["info"]["appliedParameters"]
        assert by_filter["responseSummary"] == by_params["responseSummary"]  # the same release (cached)
        assert by_params["info"]["cached"] is True


def test_unknown_filter_is_400_and_costs_nothing(client: TestClient, store: Path) -> None:
    token = KeyStore.for_store(store).issue("bob")
    body = {"query": {"filters": [{"id": "LOINC:0000-0", "operator": "=", "value": "x"}]}}
    got = client.post("/query", json=body, headers={"Authorization": f"Bearer {token}"})
    assert got.status_code == 400 and "filtering_terms" in got.json()["detail"]
    assert Catalog(store).budget.remaining("bob") == 100.0
