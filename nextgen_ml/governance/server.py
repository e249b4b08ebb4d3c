"""A small Beacon-v2-like HTTP front end for one :class:`~nextgen_ml.governance.discovery.Catalog`.

``POST /query`` takes ``{"meta": {"requestedGranularity": "count"|"boolean", "requester": ID},
"query": {"requestParameters": {CohortQuery fields}}}`` and returns ``{"meta": ..., "responseSummary":
{"exists": bool|null, "numTotalResults": int|null}, "info": {"suppressed": bool, "k": int, "roundedTo": int}}``.
``GET /info`` describes the catalog. Serve on localhost only (``nextgen-ml discover --serve PORT``).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

import nextgen_ml
from nextgen_ml.governance.budget import QueryBudgetExceeded
from nextgen_ml.governance.discovery import Catalog, CohortQuery

API_VERSION = "v2.0.0"


class RequestMeta(BaseModel):
    requestedGranularity: str = "count"  # noqa: N815 - Beacon v2 field name
    requester: str = Field(min_length=1)
    apiVersion: str = API_VERSION  # noqa: N815


class RequestQuery(BaseModel):
    requestParameters: dict[str, Any] = Field(default_factory=dict)  # noqa: N815


class BeaconRequest(BaseModel):
    meta: RequestMeta
    query: RequestQuery = Field(default_factory=RequestQuery)


def _meta(catalog: Catalog, granularity: str, received: dict[str, Any] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "beaconId": catalog.site,
        "apiVersion": API_VERSION,
        "returnedGranularity": granularity,
        "software": f"nextgen_ml {nextgen_ml.__version__}",
    }
    if received is not None:
        meta["receivedRequestSummary"] = received
    return meta


def create_app(catalog: Catalog) -> FastAPI:
    """The FastAPI app answering aggregate cohort queries for ``catalog``.

    Args:
        catalog: the site's catalog (its budget and audit log apply to every HTTP query).
    """
    app = FastAPI(title=f"nextgen_ml discovery: {catalog.site}", version=nextgen_ml.__version__)

    @app.get("/info")
    def info() -> dict[str, Any]:
        return {"meta": _meta(catalog, "boolean"), "response": catalog.info()}

    @app.post("/query")
    def query(request: BeaconRequest) -> dict[str, Any]:
        try:
            params = {**request.query.requestParameters, "granularity": request.meta.requestedGranularity}
            cohort = CohortQuery.from_dict(params)
        except (TypeError, ValueError) as err:
            raise HTTPException(status_code=400, detail=str(err)) from None
        try:
            answer = catalog.answer(cohort, request.meta.requester)
        except QueryBudgetExceeded as err:
            raise HTTPException(status_code=429, detail=str(err)) from None
        except ValueError as err:
            raise HTTPException(status_code=400, detail=str(err)) from None
        received = {"requestedGranularity": cohort.granularity, "requestParameters": cohort.to_dict()}
        return {
            "meta": _meta(catalog, cohort.granularity, received),
            "responseSummary": {"exists": answer.exists, "numTotalResults": answer.count},
            "info": {"suppressed": answer.suppressed, "k": answer.k, "roundedTo": answer.round_to,
                     "display": answer.display()},
        }

    return app
