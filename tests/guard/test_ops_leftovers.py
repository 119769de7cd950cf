"""Three operations leftovers of the gateway (issue 6): `GET /v1/models` when every pooled upstream connection
stays busy (503 `upstream_busy`, as chat gets, not 504), the route label of `leakline_http_requests_total` for
routes FastAPI's router serves (their template, never "unmatched" nor the raw path), and an audit sink whose
disk is already full when the gateway starts (failing from the start: ERROR line, `/readyz` 503, metrics).
Real gateways, scripted upstreams on 127.0.0.1 and, for the disk, a real 600 KiB tmpfs (skipped without root)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from leakline.guard.upstream import ScriptedUpstream, UpstreamThread
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, audit_records, meta_of, serve, start_serve, write_settings
from tests.guard.test_gateway_audit_failures import NO_SPACE, _fill, _small_disk

DE = {"x-vercel-ip-country": "DE"}
STOREFRONT = {"authorization": f"Bearer {KEYS['storefront']}", **DE}
CHAT = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hello"}], "stream": True}


def _series(text: str, name: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(name + "{"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


# -- 1. GET /v1/models with every pooled connection busy -----------------------------------------------------


class HeldStream(ScriptedUpstream):
    """A scripted upstream whose streamed chat sends its role and a first piece, then holds the connection
    until `release` is set: the gateway's only pooled connection stays in use as long as the test wants."""

    def __init__(self, *, models_delay: float = 0.0) -> None:
        super().__init__()
        self.streaming = threading.Event()
        self.release = threading.Event()
        self.models_delay = models_delay

    async def models(self, request: web.Request) -> web.Response:
        if self.models_delay:
            await asyncio.sleep(self.models_delay)
        return await super().models(request)

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await request.json())
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)

        def event(delta: dict[str, Any], finish: str | None = None) -> bytes:
            chunk = {
                "id": "chatcmpl-held",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": "llama3.1:8b",
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            return f"data: {json.dumps(chunk)}\n\n".encode()

        await response.write(event({"role": "assistant", "content": ""}))
        await response.write(event({"content": "Hello there"}))
        self.streaming.set()
        while not self.release.is_set():
            await asyncio.sleep(0.02)
        await response.write(event({}, "stop"))
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response


def _hold_the_pool(url: str, upstream: HeldStream) -> tuple[threading.Thread, list[httpx.Response]]:
    """A streamed chat through the gateway that keeps its upstream connection until `upstream.release`."""
    done: list[httpx.Response] = []

    def run() -> None:
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=CHAT, headers=STOREFRONT, timeout=60) as r:
            r.read()
            done.append(r)

    holder = threading.Thread(target=run, daemon=True)
    holder.start()
    assert upstream.streaming.wait(30), "the held stream never reached the upstream"
    return holder, done


BUSY = {
    "error": {
        "message": "the upstream of region 'eu' is busy: no connection to it was free within 0.5 s; retry later",
        "type": "upstream_error",
        "param": None,
        "code": "upstream_busy",
    }
}


def test_models_with_every_pooled_connection_busy_answer_503_upstream_busy_like_chat(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: 504 upstream_timeout ("did not answer in time") and the upstream_timeout series, for an upstream
    # that had answered nothing because the gateway never sent it the request.
    from leakline.web.app import create_app

    upstream = HeldStream()
    thread = UpstreamThread(upstream).start()
    settings = write_settings(
        tmp_path,
        thread.upstream_url,
        thread.upstream_url,
        upstream_connections=1,
        upstream_pool_timeout_seconds=0.5,
        connect_timeout_seconds=0.5,
    )
    served = serve(create_app(settings))
    try:
        with caplog.at_level("WARNING", logger="leakline.guard"):
            holder, done = _hold_the_pool(served.url, upstream)
            started = time.monotonic()
            listed = httpx.get(f"{served.url}/v1/models", headers=STOREFRONT, timeout=30)
            waited = time.monotonic() - started
            one = httpx.get(f"{served.url}/v1/models/llama3.1:8b", headers=STOREFRONT, timeout=30)
            upstream.release.set()
            holder.join(30)
        # The pool is free again: the same requests are served.
        assert httpx.get(f"{served.url}/v1/models", headers=STOREFRONT, timeout=30).status_code == 200
        metrics = httpx.get(f"{served.url}/metrics", timeout=10).text
        gateway = next(r.endpoint.gateway for r in _routes(served.app) if hasattr(r.endpoint, "gateway"))
        gateway.events.drain(timeout=60)
    finally:
        upstream.release.set()
        served.stop()
        thread.stop()

    assert (listed.status_code, listed.json()) == (503, BUSY), listed.text
    assert (one.status_code, one.json()) == (503, BUSY), one.text
    assert 0.9 <= waited < 4.0, waited  # the 0.5 s pool wait plus the 0.5 s connect budget
    assert [r.status_code for r in done] == [200] and done[0].text.rstrip().endswith("data: [DONE]")
    assert len(upstream.requests) == 1  # the held chat; neither model list reached the upstream

    errors = _series(metrics, "leakline_gateway_upstream_errors_total")
    assert errors == {'leakline_gateway_upstream_errors_total{code="upstream_busy",region="eu"}': 2.0}
    requests = _series(metrics, "leakline_gateway_requests_total")
    assert requests['leakline_gateway_requests_total{endpoint="/v1/models",outcome="upstream_error",region="eu"}'] == 1.0
    one_model = 'leakline_gateway_requests_total{endpoint="/v1/models/{model}",outcome="upstream_error",region="eu"}'
    assert requests[one_model] == 1.0
    http = _series(metrics, "leakline_http_requests_total")
    assert http['leakline_http_requests_total{route="/v1/models",status="503"}'] == 1.0
    assert http['leakline_http_requests_total{route="/v1/models/{model}",status="503"}'] == 1.0

    where = thread.upstream_url
    line = (
        "upstream_busy on /v1/models: the upstream of region 'eu' is busy: no connection to it was free within "
        f"0.5 s; retry later ({where}: all gateway.upstream_connections (1) of this worker stayed in use for "
        "gateway.upstream_pool_timeout_seconds (0.5 s))"
    )
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "leakline.guard"]
    assert logged == [("WARNING", line), ("WARNING", line.replace("on /v1/models:", "on /v1/models/{model}:"))]

    # Recorded as chat's 503s are: the status and the code, in the region's sink.
    records = [
        meta_of(r) for r in audit_records(tmp_path / "audit-eu", tmp_path / "audit.key") if meta_of(r).get("kind")
    ]
    busy = [(m["route"], m["status"], m["error"]) for m in records if m.get("error") == "upstream_busy"]
    assert busy == [("/v1/models", 503, "upstream_busy"), ("/v1/models/{model}", 503, "upstream_busy")]


def test_models_from_an_upstream_too_slow_to_answer_are_still_504_upstream_timeout(tmp_path: Path) -> None:
    # The near miss: a free pool and an upstream that accepts but does not answer within read_timeout_seconds
    # is a timeout of the upstream, not a busy gateway.
    from leakline.web.app import create_app

    upstream = HeldStream(models_delay=3.0)
    thread = UpstreamThread(upstream).start()
    settings = write_settings(
        tmp_path,
        thread.upstream_url,
        thread.upstream_url,
        upstream_connections=1,
        upstream_pool_timeout_seconds=0.5,
        connect_timeout_seconds=0.5,
        read_timeout_seconds=0.5,
    )
    served = serve(create_app(settings))
    try:
        listed = httpx.get(f"{served.url}/v1/models", headers=STOREFRONT, timeout=30)
        metrics = httpx.get(f"{served.url}/metrics", timeout=10).text
    finally:
        served.stop()
        thread.stop()
    assert listed.status_code == 504, listed.text
    assert listed.json()["error"] == {
        "message": "the upstream of region 'eu' did not answer in time",
        "type": "upstream_error",
        "param": None,
        "code": "upstream_timeout",
    }
    errors = _series(metrics, "leakline_gateway_upstream_errors_total")
    assert errors == {'leakline_gateway_upstream_errors_total{code="upstream_timeout",region="eu"}': 1.0}


def _routes(app: Any) -> list[Any]:
    found: list[Any] = []
    pending = list(app.routes)
    while pending:
        route = pending.pop()
        pending.extend(getattr(getattr(route, "original_router", None), "routes", []))
        if getattr(route, "endpoint", None) is not None:
            found.append(route)
    return found


# -- 2. the route label of leakline_http_requests_total ------------------------------------------------------


def test_every_served_route_is_counted_under_its_template_never_unmatched_nor_the_raw_path(env: Env) -> None:
    # Before: GET /v1/models/{id} (a template, so served through FastAPI's router, not the direct table),
    # /openapi.json and the gateway's own 404/405 answers were all counted as route="unmatched".
    before = _series(httpx.get(f"{env.url}/metrics").text, "leakline_http_requests_total")
    asked = [
        ("GET", "/v1/models/llama3.1:8b", 200),
        ("GET", "/v1/models/mistral:7b", 404),  # us only: not for a visitor in DE
        ("GET", "/v1/models/no/such/model", 404),
        ("POST", "/v1/models", 405),
        ("GET", "/v1/responses", 404),
        ("GET", "/openapi.json", 200),
        ("GET", "/api/v1/incidents/inc_0123", 401),
        ("GET", "/no-such-page", 404),
    ]
    for method, path, status in asked:
        answer = httpx.request(method, env.url + path, headers=STOREFRONT, timeout=20)
        assert answer.status_code == status, (path, answer.text)
    after = _series(httpx.get(f"{env.url}/metrics").text, "leakline_http_requests_total")
    added = {key: value - before.get(key, 0.0) for key, value in after.items() if value != before.get(key, 0.0)}
    name = "leakline_http_requests_total"
    assert added == {
        f'{name}{{route="/v1/models/{{model}}",status="200"}}': 1.0,
        f'{name}{{route="/v1/models/{{model}}",status="404"}}': 2.0,
        # The gateway's catch-all answers these (405 with `allow`, 404 `unknown_url`): its template.
        f'{name}{{route="/v1/{{rest}}",status="405"}}': 1.0,
        f'{name}{{route="/v1/{{rest}}",status="404"}}': 1.0,
        f'{name}{{route="/openapi.json",status="200"}}': 1.0,
        f'{name}{{route="/metrics",status="200"}}': 1.0,  # the scrape before
        f'{name}{{route="/api/v1/incidents/{{incident_id}}",status="401"}}': 1.0,
        # Only a path no route matches is "unmatched": one series whatever the path.
        f'{name}{{route="unmatched",status="404"}}': 1.0,
    }
    raw = ("llama3.1:8b", "mistral:7b", "no/such/model", "responses", "inc_0123", "no-such-page")
    assert not [key for key in after if any(part in key for part in raw)]


def test_route_templates_match_as_the_router_does() -> None:
    from starlette.routing import Route

    from leakline.web.app import RouteTemplates

    class Endpoint:  # an ASGI app, as the gateway's routes are (a function would be taken for GET only)
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            raise AssertionError("never called")

    endpoint = Endpoint()

    templates = RouteTemplates()
    templates.add([Route("/v1/models", endpoint, methods=["GET"]), Route("/v1/models/{model:path}", endpoint,
                   methods=["GET"]), Route("/v1/{rest:path}", endpoint), object()])  # fmt: skip
    assert templates.label({"path": "/v1/models", "method": "GET"}) == "/v1/models"
    assert templates.label({"path": "/v1/models/a/b", "method": "GET"}) == "/v1/models/{model}"
    # A path whose route refuses the method: the first route taking both, else the path's own (a 405).
    assert templates.label({"path": "/v1/models", "method": "DELETE"}) == "/v1/{rest}"
    only_get = RouteTemplates()
    only_get.add([Route("/healthz", endpoint, methods=["GET"])])
    assert only_get.label({"path": "/healthz", "method": "POST"}) == "/healthz"
    assert only_get.label({"path": "/healthzz", "method": "GET"}) == "unmatched"
    # Behind a proxy's root_path the router matches without it, and so does the label.
    assert templates.label({"path": "/llm/v1/models/x", "root_path": "/llm", "method": "GET"}) == "/v1/models/{model}"
    assert templates.label({"path": "/llmx/v1/models", "root_path": "/llm", "method": "GET"}) == "unmatched"


# -- 3. an audit sink already full when the gateway starts ---------------------------------------------------


def _open_sinks(settings: Any) -> None:
    """Create the audit logs as a first start would, so that the next start opens them without writing."""
    from leakline.guard.build import default_events

    events = default_events(settings)
    events.open(list(settings.regions), source=settings.source)
    events.close()


def _fill_but(disk: Path, keep: int) -> Path:
    """Fill `disk` with one file until about `keep` bytes are free."""
    filler = disk / "filler.bin"
    stat = os.statvfs(disk)
    filler.write_bytes(b"\0" * max(stat.f_bfree * stat.f_frsize - keep, 0))
    return filler


@pytest.fixture
def eu_disk(tmp_path: Path) -> Iterator[Path]:
    with _small_disk(tmp_path / "audit-eu") as disk:
        yield disk


def _gateway_of(app: Any) -> Any:
    return next(r.endpoint.gateway for r in _routes(app) if hasattr(r.endpoint, "gateway"))


def test_a_sink_already_full_at_start_up_fails_from_the_start_and_recovers_when_the_disk_has_room(
    eu_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: an existing log opens without a write, so the gateway started ready (200, no `audit` in
    # /readyz, no metric, no log line) on a disk that could not take one record.
    from leakline.web.app import create_app

    upstream = UpstreamThread(ScriptedUpstream()).start()
    settings = write_settings(tmp_path, upstream.upstream_url, upstream.upstream_url)
    _open_sinks(settings)
    filler = _fill(eu_disk)
    served = None
    try:
        with caplog.at_level("INFO", logger="leakline.guard"):
            served = serve(create_app(settings))
            ready = httpx.get(f"{served.url}/readyz", timeout=20)
            metrics = httpx.get(f"{served.url}/metrics", timeout=10).text
            filler.unlink()
            deadline = time.monotonic() + 15
            while (recovered := httpx.get(f"{served.url}/readyz", timeout=20)).status_code != 200:
                assert time.monotonic() < deadline, "the sink did not recover once the disk had room"
                time.sleep(0.2)
            chat = httpx.post(
                f"{served.url}/v1/chat/completions", json={**CHAT, "stream": False}, headers=STOREFRONT, timeout=20
            )
            _gateway_of(served.app).events.drain(timeout=60)
            after = httpx.get(f"{served.url}/metrics", timeout=10).text
    finally:
        if served is not None:
            served.stop()
        upstream.stop()

    assert ready.status_code == 503, ready.text
    body = ready.json()
    assert body["status"] == "not_ready" and body["upstreams"] == {"eu": {"status": "ok"}, "us": {"status": "ok"}}
    assert list(body["audit"]) == ["eu"] and body["audit"]["eu"]["status"] == "failing"
    assert re.fullmatch(
        rf"the audit log cannot be written \({NO_SPACE}\) since \d{{4}}-\d\d-\d\dT[\d:.]+Z; no record lost so far",
        body["audit"]["eu"]["error"],
    ), body["audit"]["eu"]["error"]
    assert "audit-eu" not in ready.text
    audit = {**_series(metrics, "leakline_gateway_audit_failures_total"),
             **_series(metrics, "leakline_gateway_audit_failing")}  # fmt: skip
    assert audit == {
        'leakline_gateway_audit_failures_total{sink="eu"}': 1.0,
        'leakline_gateway_audit_failing{sink="eu"}': 1.0,
    }
    assert recovered.json() == {"status": "ready", "upstreams": {"eu": {"status": "ok"}, "us": {"status": "ok"}},
                                "database": {"status": "ok"}}  # fmt: skip
    assert _series(after, "leakline_gateway_audit_failing") == {'leakline_gateway_audit_failing{sink="eu"}': 0.0}
    assert chat.status_code == 200, chat.text

    guard = [r for r in caplog.records if r.name == "leakline.guard" and r.levelno >= logging.WARNING]
    assert [(r.levelname, r.exc_info) for r in guard] == [("ERROR", None), ("WARNING", None)]
    assert guard[0].getMessage() == (
        f"audit sink of region 'eu' cannot be written: {eu_disk}: its file system has 0 KiB free when the gateway "
        f"starts, less than the 256 KiB the audit log needs ({NO_SPACE}); its exchanges are not recorded until "
        "it can be written again (tried every 1 s; /readyz answers 503)"
    )
    assert re.fullmatch(
        rf"audit sink of region 'eu' can be written again \(it failed from \S+Z: {NO_SPACE}\); no record lost; "
        r"recorded as gateway.audit_gap",
        guard[1].getMessage(),
    ), guard[1].getMessage()

    # The gap record says the sink could not be written from the start, and the exchange follows it.
    records = [meta_of(r) for r in audit_records(eu_disk, tmp_path / "audit.key") if meta_of(r).get("kind")]
    kinds = [m["kind"] for m in records]
    assert kinds == ["gateway.audit_gap", "gateway.exchange"], kinds
    gap = records[0]
    assert (gap["sink"], gap["reason"], gap["failures"], gap["lost"], gap["lost_records"]) == (
        "eu", NO_SPACE, 1, {}, 0)  # fmt: skip
    assert gap["failing_since"] <= gap["written_at"]


def test_a_sink_on_a_disk_with_room_to_spare_starts_ready_and_says_nothing(
    eu_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The near miss: the same small disk, mostly used, with 320 KiB free (more than AUDIT_MIN_FREE_BYTES).
    from leakline.web.app import create_app

    upstream = UpstreamThread(ScriptedUpstream()).start()
    settings = write_settings(tmp_path, upstream.upstream_url, upstream.upstream_url)
    _open_sinks(settings)
    _fill_but(eu_disk, 320 * 1024)
    stat = os.statvfs(eu_disk)
    assert 256 * 1024 <= stat.f_bfree * stat.f_frsize < 400 * 1024
    served = None
    try:
        with caplog.at_level("WARNING", logger="leakline.guard"):
            served = serve(create_app(settings))
            ready = httpx.get(f"{served.url}/readyz", timeout=20)
            metrics = httpx.get(f"{served.url}/metrics", timeout=10).text
    finally:
        if served is not None:
            served.stop()
        upstream.stop()
    assert ready.status_code == 200 and "audit" not in ready.json(), ready.text
    assert not [line for line in metrics.splitlines() if line.startswith("leakline_gateway_audit_")]
    assert not [r.getMessage() for r in caplog.records if r.name == "leakline.guard"]


def test_leakline_serve_on_a_full_audit_disk_says_so_at_start_up_and_is_not_ready(
    eu_disk: Path, tmp_path: Path
) -> None:
    # The operator's view: `leakline serve`'s own stderr and /readyz, not a warning when it is stopped.
    from tests.guard.test_serve_cli import _gateway_toml

    upstream = UpstreamThread(ScriptedUpstream()).start()
    try:
        _gateway_toml(tmp_path)
        config = tmp_path / "leakline.toml"
        config.write_text(config.read_text().replace("http://127.0.0.1:9/v1", upstream.upstream_url))
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        first = start_serve(tmp_path, port)  # creates the logs, on a disk with room
        assert first.poll() is None, first.communicate()[1]
        os.killpg(first.pid, signal.SIGINT)
        assert first.wait(60) == 0, first.communicate()[1]
        _fill(eu_disk)
        proc = start_serve(tmp_path, port)
        try:
            assert proc.poll() is None, proc.communicate()[1]
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=20)
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            _, stderr = proc.communicate(timeout=60)
    finally:
        upstream.stop()
    assert proc.returncode == 0, stderr
    assert ready.status_code == 503 and ready.json()["upstreams"] == {"eu": {"status": "ok"}}, ready.text
    assert ready.json()["audit"]["eu"]["status"] == "failing"
    lines = stderr.splitlines()
    started = next(i for i, line in enumerate(lines) if "Application startup complete" in line)
    line = (
        f"ERROR:    audit sink of region 'eu' cannot be written: {tmp_path / 'audit-eu'}: its file system has 0 KiB "
        f"free when the gateway starts, less than the 256 KiB the audit log needs ({NO_SPACE}); its exchanges are "
        "not recorded until it can be written again (tried every 1 s; /readyz answers 503)"
    )
    assert line in lines[:started], stderr  # said before the first request is taken
    assert "Traceback" not in stderr


def test_a_disk_that_fills_while_no_exchange_comes_turns_readyz_503_without_a_write(
    eu_disk: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: only a failed write began an outage, so a worker that served nothing (a replica the load balancer
    # had just pulled, one of `--workers N` that the kernel gave no connection) answered /readyz 200 on a full
    # disk while its siblings answered 503. Now every worker looks at its sinks' free space every
    # AUDIT_ROOM_CHECK_SECONDS.
    from leakline.guard.events import AUDIT_ROOM_CHECK_SECONDS
    from leakline.web.app import create_app

    upstream = UpstreamThread(ScriptedUpstream()).start()
    settings = write_settings(tmp_path, upstream.upstream_url, upstream.upstream_url)
    served = None
    try:
        with caplog.at_level("INFO", logger="leakline.guard"):
            served = serve(create_app(settings))
            before = httpx.get(f"{served.url}/readyz", timeout=20)
            filler = _fill(eu_disk)
            deadline = time.monotonic() + AUDIT_ROOM_CHECK_SECONDS + 10
            while (full := httpx.get(f"{served.url}/readyz", timeout=20)).status_code != 503:
                assert time.monotonic() < deadline, "a full disk went unnoticed without traffic"
                time.sleep(0.2)
            filler.unlink()
            deadline = time.monotonic() + 15
            while (again := httpx.get(f"{served.url}/readyz", timeout=20)).status_code != 200:
                assert time.monotonic() < deadline, "the sink did not recover once the disk had room"
                time.sleep(0.2)
    finally:
        if served is not None:
            served.stop()
        upstream.stop()
    assert before.status_code == 200, before.text
    assert list(full.json()["audit"]) == ["eu"] and full.json()["audit"]["eu"]["status"] == "failing"
    assert again.json()["status"] == "ready"
    guard = [r.getMessage() for r in caplog.records if r.name == "leakline.guard" and r.levelno >= logging.WARNING]
    assert guard[0] == (
        f"audit sink of region 'eu' cannot be written: {eu_disk}: its file system has 0 KiB free, less than the "
        f"256 KiB the audit log needs ({NO_SPACE}); its exchanges are not recorded until it can be written again "
        "(tried every 1 s; /readyz answers 503)"
    )
    assert guard[1].startswith("audit sink of region 'eu' can be written again")
