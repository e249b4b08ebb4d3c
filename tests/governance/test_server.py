"""The Beacon v2 HTTP app in-process: authentication, response shape, 4xx that cost nothing, persisted budgets."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.governance.govstores import make_record

pytest.importorskip("fastapi")
pytest.importorskip("httpx")
from fastapi.testclient import TestClient  # noqa: E402

from nextgen_ml.governance import discovery  # noqa: E402
from nextgen_ml.governance.discovery import Catalog  # noqa: E402
from nextgen_ml.governance.keys import KeyStore  # noqa: E402
from nextgen_ml.governance.policy import SitePolicy, write_policy  # noqa: E402
from nextgen_ml.governance.server import create_app  # noqa: E402

POLICY = SitePolicy(epsilon_per_query=1.0, epsilon_budget=3.0, k=5, round_to=5, age_bin_years=10)


@pytest.fixture
def store(store_factory) -> Path:
    recs = [make_record(f"a{i}", age=70, ecg=True) for i in range(7)] + [make_record("b0", age=40)]
    path = store_factory(recs)
    write_policy(path, POLICY)
    return path


@pytest.fixture
def token(store: Path) -> str:
    return KeyStore.for_store(store).issue("alice")


def _client(store: Path) -> TestClient:
    return TestClient(create_app(Catalog(store)))


def _body(granularity: str = "count", **params) -> dict:
    return {
        "meta": {"apiVersion": "v2.0.0"},
        "query": {"requestParameters": params, "requestedGranularity": granularity},
    }


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_unauthenticated_or_forged_callers_get_401(store: Path, token: str) -> None:
    client = _client(store)
    assert client.post("/query", json=_body()).status_code == 401
    forged = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    got = client.post("/query", json=_body(), headers=_auth(forged))
    assert got.status_code == 401 and got.headers["www-authenticate"] == "Bearer"
    assert client.post("/query", json=_body(), headers={"X-API-Key": "ngd_000000000000_" + "x" * 43}).status_code == 401
    assert client.post("/query", json=_body(), headers={"X-API-Key": token}).status_code == 200


def test_keys_are_stored_hashed(store: Path, token: str) -> None:
    text = (store / "_governance" / "keys.json").read_text()
    secret = token.rsplit("_", 1)[1]
    assert secret not in text and token not in text
    record = next(iter(json.loads(text)["keys"].values()))
    assert record["identity"] == "alice" and len(record["scrypt"]) == 64 and record["salt"]


def test_beacon_v2_response_shape(store: Path, token: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "noisy_count", lambda n, epsilon: n)  # exact, to check the shape
    client = _client(store)
    got = client.post("/query", json=_body(modalities=["ecg"], age_min=65), headers=_auth(token)).json()
    assert got["responseSummary"] == {"exists": True, "numTotalResults": 5}  # true 7 in [60, ∞), rounded to 5
    assert got["meta"]["returnedGranularity"] == "count" and got["meta"]["apiVersion"] == "v2.0.0"
    assert got["meta"]["returnedSchemas"][0]["entityType"] == "individual"
    assert got["meta"]["receivedRequestSummary"]["requestParameters"]["age_min"] == {"value": 65}
    assert got["info"]["appliedParameters"]["age_min"] == 60 and got["info"]["epsilonCharged"] == 1.0
    small = client.post("/query", json=_body(age_max=50), headers=_auth(token)).json()
    assert small["responseSummary"] == {"exists": False}  # below k: no count, and Beacon's exists is a bool
    assert small["info"]["suppressed"] is True and small["info"]["display"] == "<5"
    boolean = client.post("/query", json=_body("boolean", modalities=["ecg"], age_min=61), headers=_auth(token)).json()
    assert boolean["responseSummary"] == {"exists": True} and boolean["info"]["cached"] is True
    info = client.get("/info").json()
    assert info["response"]["policy"]["k"] == 5 and info["response"]["policy"]["epsilon_budget"] == 3.0


def test_bad_input_is_4xx_and_costs_nothing_and_budget_gives_429(store: Path, token: str) -> None:
    client = _client(store)
    for body, code in (
        (_body(modalities=["xray"]), 400),
        (_body(age_min="old"), 400),
        (_body(age_min=1e300), 400),
        (_body(variant="rs99"), 400),
        (_body(height=3), 400),
        (_body("record"), 400),
        ({"query": {"requestParameters": []}}, 422),
        ({"query": "x"}, 422),
    ):
        got = client.post("/query", json=body, headers=_auth(token))
        assert got.status_code == code, (body, got.text)
    assert KeyStore.for_store(store).authenticate(token) == "alice"
    assert Catalog(store).budget.spent("alice") == {"epsilon": 0.0, "queries": 0}
    for sex in ("female", "male"):
        assert client.post("/query", json=_body(sex=sex), headers=_auth(token)).status_code == 200
    assert client.post("/query", json=_body(), headers=_auth(token)).status_code == 200  # 3rd ε unit
    over = client.post("/query", json=_body(age_min=10), headers=_auth(token))
    assert over.status_code == 429 and "'alice'" in over.json()["detail"]


def test_budget_follows_the_key_not_the_claimed_name_and_survives_a_restart(store: Path, token: str) -> None:
    client = _client(store)
    codes = []
    for i, name in enumerate(("eve", "EVE", "eve ", "e\u200bve")):  # rotating names change nothing
        body = _body(age_min=10 * i)
        body["meta"]["requester"] = name
        codes.append(client.post("/query", json=body, headers=_auth(token)).status_code)
    assert codes == [200, 200, 200, 429]  # one budget of 3 ε, charged to the key's identity
    assert Catalog(store).budget.spent("alice")["queries"] == 3 and Catalog(store).budget.spent("eve")["queries"] == 0
    restarted = _client(store)  # a new app over the same store: the ledger is on disk
    over = restarted.post("/query", json=_body(sex="female", age_min=40), headers=_auth(token))
    assert over.status_code == 429
    KeyStore.for_store(store).revoke("alice")
    assert restarted.post("/query", json=_body(), headers=_auth(token)).status_code == 401
    new_token = KeyStore.for_store(store).issue("alice")  # a new key for the same identity: same spent budget
    assert restarted.post("/query", json=_body(sex="male", age_min=40), headers=_auth(new_token)).status_code == 429
