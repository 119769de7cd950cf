"""`create_app(settings)`: the FastAPI application that `leakline serve` runs.

Domains contribute routers (`ROUTERS`: "module:factory", each factory taking the settings and returning
an `APIRouter`), mounted in one app: the incident API under `/api/v1`, the OpenAI-compatible gateway
under `/v1`. A router may also carry `collectors` (Prometheus collectors, registered in the app's
registry), `readiness_checks` (name -> async function returning (ready, details), run by `/readyz`,
which answers 503 when one is not ready) and `asgi_endpoints` ((path, methods, ASGI app) served
directly, before FastAPI's middleware and routing: the gateway's hot path). This module owns what is
common to all of them: health and readiness probes, Prometheus metrics, the OpenAPI schema at
`/openapi.json`, security headers and `cache-control: no-store` on every response, and JSON errors
instead of HTML pages or tracebacks (a `LeaklineError` with its own message and hint).
"""

from __future__ import annotations

import gc
import importlib
import logging
import os
import re
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.registry import Collector
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from leakline import __version__
from leakline.config import CONFIG_FILENAME, Settings, load_settings
from leakline.errors import LeaklineError

# Domain routers, added as domains land: name -> (module, factory attribute).
ROUTERS: dict[str, tuple[str, str]] = {
    "incidents": ("leakline.incidents.views", "create_router"),
    "guard": ("leakline.guard.build", "router"),
}

SECURITY_HEADERS = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}
CONFIG_ENV = "LEAKLINE_CONFIG"

ReadinessCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
log = logging.getLogger("leakline.web")


_SECURITY_RAW = tuple((name.encode("latin-1"), value.encode("latin-1")) for name, value in SECURITY_HEADERS.items())


def with_security_headers(headers: Any) -> list[tuple[bytes, bytes]]:
    """ASGI response headers plus every security header they do not set themselves."""
    raw = list(headers)
    present = {bytes(name).lower() for name, _ in raw}
    raw.extend(item for item in _SECURITY_RAW if item[0] not in present)
    return raw


class _RequestCounter:
    """`leakline_http_requests_total` with its children kept (`labels()` on every request is not free)."""

    def __init__(self, counter: Counter) -> None:
        self.counter = counter
        self._children: dict[tuple[str, int], Any] = {}

    def inc(self, route: str, status: int) -> None:
        child = self._children.get((route, status))
        if child is None:
            child = self._children[(route, status)] = self.counter.labels(route, str(status))
        child.inc()


UNMATCHED = "unmatched"
"""The `route` label of a request no route matched (a 404 of the framework): one series, whatever the path."""


class RouteTemplates:
    """The `route` label of a request FastAPI's router served: the template of the route that matches it
    (`/v1/models/{model}`, `/api/v1/incidents/{incident_id}`), never the raw path (one series per model id or
    incident id would grow without bound) and never "unmatched" for a route that answered.

    Matched here, as the router matches (the first route whose path and method match, else the first whose
    path matches: the 405), rather than read from `scope["route"]`: FastAPI sets that to the route only for
    its own path operations; a plain Starlette route of an included router (the gateway's
    `/v1/models/{model:path}`) or the app's `/openapi.json` left it unset or set to the included router,
    which has no path, and every such request was counted as "unmatched". Only requests that go through
    FastAPI pay for it; the gateway's exact paths are counted by `LeaklineApp._direct`."""

    def __init__(self) -> None:
        self._routes: list[tuple[re.Pattern[str], frozenset[str] | None, str]] = []

    def add(self, routes: Iterable[Any]) -> None:
        """Routes in the order the router tries them; those without a path of their own are skipped."""
        for route in routes:
            path = getattr(route, "path", None)
            if not isinstance(path, str) or not path.startswith("/"):
                continue
            regex, template, _ = compile_path(path)  # `{model:path}` is labelled `{model}`
            methods = getattr(route, "methods", None)
            self._routes.append((regex, frozenset(methods) if methods else None, template))

    def label(self, scope: Scope) -> str:
        path = _route_path(scope)
        partial: str | None = None
        for regex, methods, template in self._routes:
            if regex.match(path):
                if methods is None or scope.get("method") in methods:
                    return template
                partial = partial or template
        return partial or UNMATCHED


def _route_path(scope: Scope) -> str:
    """The path the router matches: without the `root_path` a proxy mounted the app under."""
    path = str(scope["path"])
    root = str(scope.get("root_path") or "")
    if root and path.startswith(root) and path[len(root) : len(root) + 1] in ("", "/"):
        return path[len(root) :]
    return path


CLIENT_CLOSED = 499
"""The status counted for a request whose client left before any answer was started (nginx's convention)."""


class LeaklineApp(FastAPI):
    """FastAPI, plus pure-ASGI endpoints (`asgi_endpoints` of a domain's router) served before its stack.

    FastAPI's middleware (errors, telemetry, body limit, exceptions, exit stacks) and its route matching
    cost about a fifth of the gateway's CPU per request; the gateway's routes parse, answer and render
    errors themselves, so they only get what `HeadersAndMetrics` would give them: the security headers,
    the request counter and a JSON 500 instead of a traceback. Other methods on the same paths still go
    through FastAPI (405)."""

    direct: dict[str, tuple[frozenset[str], ASGIApp]]
    requests_counter: _RequestCounter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and not scope.get("root_path"):
            entry = self.direct.get(scope["path"])
            if entry is not None and scope["method"] in entry[0]:
                await self._direct(entry[1], scope, receive, send)
                return
        await super().__call__(scope, receive, send)

    async def _direct(self, endpoint: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
        # A gateway route answers every outcome itself, errors included, except a client that left first
        # (during its body or before a whole answer): "client closed request", not a 5xx that would page
        # whoever watches the error rate each time a browser tab closes. An exception gets its 500 below.
        status = CLIENT_CLOSED
        started = False

        async def send_checked(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                status = message["status"]
                started = True
                message["headers"] = with_security_headers(message.get("headers", ()))
            await send(message)

        try:
            await endpoint(scope, receive, send_checked)
        except Exception:
            # Never a traceback to the client (it may quote request data); the server log has it.
            log.exception("unhandled error on %s", scope["path"])
            if started:
                raise
            await _error(500, "internal error", "server_error")(scope, receive, send_checked)
        finally:
            self.requests_counter.inc(scope["path"], status)


class HeadersAndMetrics:
    """Pure-ASGI middleware: security headers on every response, a request counter per route and status.

    Pure ASGI rather than `BaseHTTPMiddleware`, which wraps every response body in extra tasks and
    queues: on the gateway's streamed completions it cost about half the proxy's throughput."""

    def __init__(self, app: ASGIApp, counter: _RequestCounter, templates: RouteTemplates) -> None:
        self.app = app
        self.counter = counter
        self.templates = templates

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_with_headers(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = with_security_headers(message.get("headers", ()))
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        finally:
            self.counter.inc(self.templates.label(scope), status)


def _error(status: int, message: str, kind: str) -> JSONResponse:
    return JSONResponse({"error": {"message": message, "type": kind, "code": status}}, status_code=status)


def _masked(text: str | None, settings: Settings) -> str | None:
    """`text` without the database password: messages carry no secrets by design, but a driver's text
    quoted in one is not ours to vouch for."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        password = make_url(settings.database.url).password
    except ArgumentError:
        return text
    return text.replace(str(password), "***") if text and password else text


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = LeaklineApp(
        title="leakline",
        version=__version__,
        description="Incident signals, obligations and communications; OpenAI-compatible LLM gateway.",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    registry = CollectorRegistry()
    requests_total = Counter(
        "leakline_http_requests_total", "HTTP requests served", ["route", "status"], registry=registry
    )
    app.state.metrics_registry = registry
    app.requests_counter = _RequestCounter(requests_total)
    app.direct = {}
    templates = RouteTemplates()  # filled below, once the routes exist; read per request
    app.add_middleware(HeadersAndMetrics, counter=app.requests_counter, templates=templates)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return _error(exc.status_code, str(exc.detail), "http_error")

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e.get('loc', ()) if p != 'body') or 'body'}: {e.get('msg', 'invalid')}"
            for e in exc.errors()
        )
        return _error(422, problems or "invalid request", "invalid_request_error")

    @app.exception_handler(LeaklineError)
    async def _leakline_error(request: Request, exc: LeaklineError) -> JSONResponse:
        # An error meant for people (an audit key that became unreadable, a database that went away): the
        # caller gets its message rather than "internal error", the log one line rather than a traceback.
        message, hint = _masked(exc.message, settings), _masked(exc.hint, settings)
        log.error("%s %s: %s", request.method, request.url.path, message)
        answer: dict[str, Any] = {"message": message, "type": "server_error", "code": 500}
        if hint:
            answer["hint"] = hint
        return JSONResponse({"error": answer}, status_code=500)

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception) -> JSONResponse:
        # Never a traceback (it may quote request data); the server log has the details.
        return _error(500, "internal error", "server_error")

    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "version": __version__}

    checks: dict[str, ReadinessCheck] = {}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> JSONResponse:
        body: dict[str, Any] = {"status": "ready"}
        ready = True
        for name, check in checks.items():
            try:
                ok, details = await check()
            except Exception:
                log.exception("readiness check %s failed", name)
                ok, details = False, {"status": "failing", "error": "the check itself failed"}
            ready = ready and ok
            if details:
                body[name] = details
        if not ready:
            body["status"] = "not_ready"
        return JSONResponse(body, status_code=200 if ready else 503)

    custom: list[Collector] = []

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> PlainTextResponse:
        return PlainTextResponse(metrics_text(registry, custom).decode("utf-8"), media_type=CONTENT_TYPE_LATEST)

    templates.add(app.routes)  # the app's own (the probes, /metrics, /openapi.json); the routers' come next
    for module_name, factory_name in ROUTERS.values():
        factory = getattr(importlib.import_module(module_name), factory_name)
        router = factory(settings)
        app.include_router(router)
        templates.add(router.routes)
        for collector in getattr(router, "collectors", ()):
            registry.register(collector)
            if not isinstance(collector, MetricWrapperBase):
                custom.append(collector)
        checks.update(getattr(router, "readiness_checks", {}))
        for path, methods, endpoint in getattr(router, "asgi_endpoints", ()):
            app.direct[path] = (frozenset(methods), endpoint)
    return app


MULTIPROCESS_ENV = "PROMETHEUS_MULTIPROC_DIR"
"""prometheus_client's own variable: set (by `leakline serve --workers N`) before a worker imports it, every
counter, histogram and gauge of that worker lives in a file of this directory, one file per process."""


def metrics_text(registry: CollectorRegistry, custom: list[Collector]) -> bytes:
    """`/metrics`: this process's series; with the multi-process directory, every worker's summed instead.

    The workers of `--workers N` share one port, so a scrape reaches whichever worker accepts it: its own
    counters were its share only, and went down from one scrape to the next. `custom` are the collectors
    that compute their values when scraped (not kept in the directory's files), answered by this worker."""
    if not os.environ.get(MULTIPROCESS_ENV):
        return generate_latest(registry)
    from prometheus_client import multiprocess

    merged = CollectorRegistry()
    multiprocess.MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
    for collector in custom:
        merged.register(collector)
    return generate_latest(merged)


GC_THRESHOLDS = (20_000, 20, 100)


def settle_heap() -> None:
    """After start-up: move everything built so far out of the collector's sight, and collect less often.

    The compiled detectors, the corpus fingerprints, the routes and the settings live as long as the
    worker, yet every full collection walked them (about 110,000 objects: 60-80 ms pauses, the gateway's
    worst latencies under load), and a young collection every 700 allocations cost more than the
    requests' own cyclic garbage is worth. Measured under load: collector time from about 55 ms to about
    10 ms a second. Only for `leakline serve`'s workers (it is process-wide)."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def create_app_from_env() -> FastAPI:
    """Factory for uvicorn workers (`--workers N` imports the app in each worker process)."""
    path = os.environ.get(CONFIG_ENV)
    settings = load_settings(Path(path), required=True) if path else load_settings(Path(CONFIG_FILENAME))
    app = create_app(settings)
    app.router.add_event_handler("startup", settle_heap)  # after the domains' own start-up handlers
    return app
