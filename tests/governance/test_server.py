"""The Beacon-v2-like HTTP app, exercised in-process with FastAPI's TestClient."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.governance.govstores import make_record

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from nextgen_ml.governance.budget import QueryBudget  # noqa: E402
from nextgen_ml.governance.discovery import Catalog  # noqa: E402
from nextgen_ml.governance.server import create_app  # noqa: E402


@pytest.fixture
def client(store_factory, tmp_path: Path) -> TestClient:
    recs = [make_record(f"a{i}", age=70, ecg=True) for i in range(7)] + [make_record("b0", age=40)]
    catalog = Catalog(store_factory(recs), k=5, round_to=5, budget=QueryBudget(tmp_path / "b.json", 3))
    return TestClient(create_app(catalog))


def _body(granularity: str = "count", **params) -> dict:
    return {"meta": {"requestedGranularity": granularity, "requester": "alice"},
            "query": {"requestParameters": params}}


def test_query_count_and_suppression(client: TestClient) -> None:
    got = client.post("/query", json=_body(modalities=["ecg"], age_min=60)).json()
    assert got["responseSummary"] == {"exists": True, "numTotalResults": 5}  # true 7, rounded to 5
    assert got["info"]["suppressed"] is False and got["meta"]["returnedGranularity"] == "count"
    small = client.post("/query", json=_body(age_max=50)).json()
    assert small["responseSummary"] == {"exists": None, "numTotalResults": None}
    assert small["info"]["suppressed"] is True and small["info"]["display"] == "<5"


def test_boolean_info_errors_and_budget(client: TestClient) -> None:
    got = client.post("/query", json=_body("boolean", age_min=60)).json()
    assert got["responseSummary"]["exists"] is True and got["responseSummary"]["numTotalResults"] is None
    info = client.get("/info").json()
    assert info["response"]["k"] == 5 and info["meta"]["apiVersion"].startswith("v2")
    bad = client.post("/query", json=_body(modalities=["xray"]))
    assert bad.status_code == 400 and "modalities" in bad.json()["detail"]
    assert client.post("/query", json={"query": {}}).status_code == 422  # no requester
    assert client.post("/query", json=_body()).status_code == 200  # 2nd charged query (the 400 was not charged)
    assert client.post("/query", json=_body()).status_code == 200  # 3rd
    over = client.post("/query", json=_body())
    assert over.status_code == 429 and "alice" in over.json()["detail"]
