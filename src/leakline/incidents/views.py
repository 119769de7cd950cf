"""HTTP API of the incident domain, mounted by `leakline.web.app` under `/api/v1`.

`POST /api/v1/signals` takes a `Signal` (idempotent by its id: 201 when new, 200 when already known);
`GET /api/v1/incidents` and `GET /api/v1/incidents/{id}` read. Every route needs a bearer token whose
SHA-256 is in `[api] tokens_sha256` (or equal to the variable named by `[api] token_env`); tokens are
compared in constant time and never logged. Handlers are sync: FastAPI runs them in its thread pool,
and the database work is short transactions.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from leakline.incidents.errors import IncidentNotFound
from leakline.incidents.models import IncidentSummary, SignalAccepted
from leakline.signals import Signal

if TYPE_CHECKING:
    from leakline.config import Settings
    from leakline.incidents.runtime import Runtime

PREFIX = "/api/v1"
_bearer = HTTPBearer(auto_error=False, description="A token whose SHA-256 is listed in [api] tokens_sha256.")


def accepted_digests(settings: Settings) -> list[bytes]:
    digests = [bytes.fromhex(h) for h in settings.api.tokens_sha256]
    if settings.api.token_env:
        token = os.environ.get(settings.api.token_env)
        if token:
            digests.append(hashlib.sha256(token.encode()).digest())
    return digests


def token_ok(token: str, digests: list[bytes]) -> bool:
    presented = hashlib.sha256(token.encode()).digest()
    # Compare against every digest (no early exit) so timing says nothing about which matched.
    matched = False
    for digest in digests:
        matched |= hmac.compare_digest(presented, digest)
    return matched


def create_router(settings: Settings) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["incidents"])
    digests = accepted_digests(settings)
    state: dict[str, Runtime] = {}

    def runtime() -> Runtime:
        # Opened on first request: creating the app (and /healthz) must not need the database.
        if "rt" not in state:
            from leakline.incidents.runtime import start

            state["rt"] = start(settings)
        return state["rt"]

    def require_token(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> None:
        if credentials is None or not token_ok(credentials.credentials, digests):
            raise HTTPException(
                status_code=status.HTTP_401_UNAUTHORIZED,
                detail="missing or unknown bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )

    authed = [Depends(require_token)]

    @router.post(
        "/signals",
        response_model=SignalAccepted,
        status_code=status.HTTP_201_CREATED,
        dependencies=authed,
        responses={200: {"model": SignalAccepted, "description": "This signal id was already received."}},
    )
    def post_signal(signal: Signal, response: Response) -> SignalAccepted:
        from leakline.incidents.ingest import receive

        accepted = receive(runtime(), signal, now=datetime.now(UTC))
        if accepted.duplicate:
            response.status_code = status.HTTP_200_OK
        return accepted

    @router.get("/incidents", response_model=list[IncidentSummary], dependencies=authed)
    def list_incidents(limit: int = 100) -> list[IncidentSummary]:
        from leakline.incidents import service

        rt = runtime()
        with rt.store.transaction() as session:
            return service.list_incidents(session, limit=max(1, min(limit, 1000)))

    @router.get("/incidents/{incident_id}", dependencies=authed)
    def get_incident(incident_id: str) -> dict[str, Any]:
        from leakline.incidents import service

        rt = runtime()
        try:
            with rt.store.transaction() as session:
                return service.incident_document(session, incident_id=incident_id)
        except IncidentNotFound:
            raise HTTPException(status_code=404, detail=f"no incident {incident_id!r}") from None

    return router
