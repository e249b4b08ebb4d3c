"""Beacon v2 framework endpoints validate against the official Beacon v2 schemas; filtering terms round-trip."""

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


FRAMEWORK = ["/info", "/map", "/configuration", "/entry_types", "/filtering_terms"]


@pytest.mark.parametrize("path", FRAMEWORK)
def test_framework_responses_validate_against_the_official_schemas(client: TestClient, path: str) -> None:
    got = client.get(path)
    assert got.status_code == 200
    beacon_schemas.validator(path).validate(got.json())


def test_count_response_validates_against_the_official_schema(client: TestClient, store: Path) -> None:
    token = KeyStore.for_store(store).issue("carol")
    query = {"filters": [{"id": "nextgen_ml:modality:ecg"}], "requestParameters": {"sex": "female"}}
    body = _count(client, token, query)
    beacon_schemas.validator("count").validate(body)
    received = body["meta"]["receivedRequestSummary"]
    assert received["filters"] == ["nextgen_ml:modality:ecg"]
    assert received["requestParameters"]["sex"] == {"value": "female"}


def test_official_schemas_reject_a_broken_response(client: TestClient) -> None:
    body = client.get("/configuration").json()
    del body["response"]["maturityAttributes"]
    with pytest.raises(jsonschema.ValidationError, match="maturityAttributes"):
        beacon_schemas.validator("/configuration").validate(body)
    info = client.get("/info").json()
    info["meta"]["returnedSchemas"] = "individual"  # must be a list of {entityType, schema}
    with pytest.raises(jsonschema.ValidationError):
        beacon_schemas.validator("/info").validate(info)


def test_the_schemas_are_the_vendored_upstream_files() -> None:
    registry = beacon_schemas.registry()
    info = registry.contents(beacon_schemas.BASE + "common/info.json")
    assert "Placeholder to allow the Beacon to return any additional information" in info["description"]
    count = registry.contents(beacon_schemas.BASE + beacon_schemas.RESPONSES["count"])
    assert {"meta", "responseSummary"} <= set(count["required"])


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


def test_schema_links_point_at_real_upstream_files(client: TestClient) -> None:
    for path in ("/configuration", "/map"):
        link = client.get(path).json()["response"]["$schema"]
        assert (beacon_schemas.ROOT / link.split("/framework/json/", 1)[1]).is_file(), link
