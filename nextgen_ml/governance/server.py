"""A GA4GH Beacon v2 style HTTP front end for one :class:`~nextgen_ml.governance.discovery.Catalog`.

Every query must carry an API key issued by the steward (``Authorization: Bearer ngd_...`` or
``X-API-Key: ngd_...``); the key decides the identity whose ε budget is charged, so a requester name in the
body changes nothing. ``POST /query`` takes a Beacon v2 request body::

    {"meta": {"apiVersion": "v2.0.0"},
     "query": {"requestParameters": {CohortQuery fields}, "requestedGranularity": "count" | "boolean"}}

and returns ``{"meta": {...}, "responseSummary": {"exists": bool, "numTotalResults": int}, "info": {...}}``
(``numTotalResults`` only for a released count). ``GET /info`` describes the catalog and its policy. Errors:
401 without a valid key, 400 for a bad query, 422 for a malformed body (neither is charged), 429 when the
identity's budget is spent.

The Beacon v2 framework endpoints ``GET /configuration``, ``/entry_types``, ``/map`` and ``/filtering_terms``
describe the service; ``query.filters`` (filtering terms: data-dictionary codes, MONDO CURIEs, modalities) are
translated into the same cohort parameters (:mod:`nextgen_ml.catalogue.beacon`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request
from pydantic import BaseModel, Field

import nextgen_ml
from nextgen_ml.governance.budget import QueryBudgetExceeded
from nextgen_ml.governance.discovery import Catalog, SiteAnswer
from nextgen_ml.governance.keys import AuthenticationError, KeyStore
from nextgen_ml.governance.query import CohortQuery

API_VERSION = "v2.0.0"
RETURNED_SCHEMAS = [{"entityType": "individual", "schema": "beacon-individual-v2.0.0"}]


class RequestMeta(BaseModel):
    apiVersion: str = API_VERSION  # noqa: N815 - Beacon v2 field name
    requestedGranularity: str | None = None  # noqa: N815 - accepted here too (older clients)
    requester: str | None = None  # informative only: the API key decides the identity


class RequestQuery(BaseModel):
    requestParameters: dict[str, Any] = Field(default_factory=dict)  # noqa: N815
    requestedGranularity: str | None = None  # noqa: N815
    filters: list[dict[str, Any]] = Field(default_factory=list)  # Beacon v2 filters (see GET /filtering_terms)


class BeaconRequest(BaseModel):
    meta: RequestMeta = Field(default_factory=RequestMeta)
    query: RequestQuery = Field(default_factory=RequestQuery)


def _meta(catalog: Catalog, granularity: str, received: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "beaconId": catalog.site,
        "apiVersion": API_VERSION,
        "returnedGranularity": granularity,
        "returnedSchemas": RETURNED_SCHEMAS,
        "software": f"nextgen_ml {nextgen_ml.__version__}",
    }
    if received is not None:
        meta["receivedRequestSummary"] = received
    return meta


def beacon_response(catalog: Catalog, answer: SiteAnswer, received: dict[str, Any], left: float) -> dict[str, Any]:
    """The Beacon v2 response for a released answer (``exists`` is false when the noisy count is below k)."""
    summary: dict[str, Any] = {"exists": bool(answer.exists)}
    if answer.granularity == "count" and not answer.suppressed:
        summary["numTotalResults"] = answer.count
    return {
        "meta": _meta(catalog, answer.granularity, received),
        "responseSummary": summary,
        "info": {
            "suppressed": answer.suppressed,
            "display": answer.display(),
            "threshold": answer.k,
            "roundedTo": answer.round_to,
            "appliedParameters": answer.applied,
            "ageMaxExclusive": answer.age_max_exclusive,
            "epsilonCharged": answer.epsilon,
            "cached": answer.cached,
            "epsilonRemaining": left,
        },
    }


def _token(request: Request) -> str | None:
    auth = request.headers.get("authorization", "")
    if auth.lower().startswith("bearer "):
        return auth[7:].strip()
    return request.headers.get("x-api-key")


def create_app(catalog: Catalog, keys: KeyStore | None = None) -> FastAPI:
    """The FastAPI app answering aggregate cohort queries for ``catalog``.

    Args:
        catalog: the site's catalog (its policy, budget and audit log apply to every query).
        keys: the site's API keys (default ``<store>/_governance/keys.json``).
    """
    keys = keys or KeyStore.for_store(catalog.store_path)
    app = FastAPI(title=f"nextgen_ml discovery: {catalog.site}", version=nextgen_ml.__version__)

    def identity(request: Request) -> str:
        try:
            return keys.authenticate(_token(request))
        except AuthenticationError as err:
            raise HTTPException(status_code=401, detail=str(err), headers={"WWW-Authenticate": "Bearer"}) from None

    from nextgen_ml.catalogue.beacon import filtering_terms, filters_to_parameters, framework

    dictionary = catalog.matcher.meta_store.dictionary
    documents = framework(catalog.site, nextgen_ml.__version__)

    def _framework_meta() -> dict[str, Any]:
        meta = _meta(catalog, "boolean")
        return {k: meta[k] for k in ("beaconId", "apiVersion", "returnedSchemas")}

    @app.get("/info")
    def info() -> dict[str, Any]:
        return {"meta": _meta(catalog, "boolean"), "response": {**documents["info"], **catalog.info()}}

    @app.get("/configuration")
    def configuration() -> dict[str, Any]:
        return {"meta": _framework_meta(), "response": documents["configuration"]}

    @app.get("/entry_types")
    def entry_types() -> dict[str, Any]:
        return {"meta": _framework_meta(), "response": documents["entry_types"]}

    @app.get("/map")
    def beacon_map() -> dict[str, Any]:
        return {"meta": _framework_meta(), "response": documents["map"]}

    @app.get("/filtering_terms")
    def terms() -> dict[str, Any]:
        resources = [{"id": "mondo", "name": "Mondo Disease Ontology", "url": "http://purl.obolibrary.org/obo/mondo.owl"},
                     {"id": "loinc", "name": "LOINC", "url": "https://loinc.org"}]  # fmt: skip
        response = {"filteringTerms": filtering_terms(dictionary), "resources": resources}
        return {"meta": _framework_meta(), "response": response}

    @app.post("/query")
    def query(request: BeaconRequest, who: str = Depends(identity)) -> dict[str, Any]:  # noqa: B008
        granularity = request.query.requestedGranularity or request.meta.requestedGranularity or "count"
        try:
            params = {**request.query.requestParameters, **filters_to_parameters(request.query.filters, dictionary)}
            cohort = CohortQuery.from_dict({**params, "granularity": granularity})
            answer = catalog.answer(cohort, who)
        except QueryBudgetExceeded as err:
            raise HTTPException(status_code=429, detail=str(err)) from None
        except (TypeError, ValueError) as err:
            raise HTTPException(status_code=400, detail=str(err)) from None
        received = {  # Beacon v2 beaconReceivedRequestSummary: parameters as {name: object}, filters as CURIEs
            "apiVersion": request.meta.apiVersion,
            "requestedSchemas": [],
            "pagination": {"skip": 0, "limit": 0},
            "requestedGranularity": granularity,
            "requestParameters": {k: {"value": v} for k, v in cohort.to_dict().items() if v not in (None, [])},
        }
        if request.query.filters:
            received["filters"] = [str(f.get("id")) for f in request.query.filters if isinstance(f, dict)]
        return beacon_response(catalog, answer, received, catalog.budget.remaining(who))

    return app
