"""Clients that stall or leave before their answer: a 408 for a body that does not come, 499 (never a 500 or
a traceback) for a client that disconnects while sending its body or waiting for a whole answer."""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, audit_records, meta_of

CHAT = "/v1/chat/completions"
ENDPOINT = f'endpoint="{CHAT}"'


@pytest.fixture
def server_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """What uvicorn logs (its loggers do not propagate to the root logger caplog listens on)."""
    logger = logging.getLogger("uvicorn.error")
    logger.addHandler(caplog.handler)
    try:
        yield caplog
    finally:
        logger.removeHandler(caplog.handler)


def _partial_body(env: Env, *, declared: int = 5000, sent: bytes = b'{"model"') -> socket.socket:
    """A connection that sent its headers and the start of a `declared`-byte body, then nothing more."""
    url = urlsplit(env.url)
    sock = socket.create_connection((url.hostname or "127.0.0.1", url.port or 80), timeout=10)
    head = (
        f"POST {CHAT} HTTP/1.1\r\nhost: {url.netloc}\r\nauthorization: Bearer {KEYS['storefront']}\r\n"
        f"x-vercel-ip-country: DE\r\ncontent-type: application/json\r\ncontent-length: {declared}\r\n\r\n"
    )
    sock.sendall(head.encode("latin-1") + sent)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection (the socket's timeout bounds it)."""
    out = b""
    while chunk := sock.recv(65536):
        out += chunk
    return out


def _series(env: Env) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in httpx.get(f"{env.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(("leakline_http_requests_total{", "leakline_gateway_requests_total{")):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def _exchanges(env: Env, sink: str) -> list[dict[str, Any]]:
    env.drain()
    if not (env.tmp / sink).exists():
        return []
    records = audit_records(env.tmp / sink, env.tmp / "audit.key")
    return [meta_of(r) for r in records if meta_of(r).get("kind") == "gateway.exchange"]


def _wait_for(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)


def test_a_body_that_stops_arriving_is_a_408_and_the_connection_is_closed(make_env: Any) -> None:
    env: Env = make_env(body_read_timeout_seconds=0.5)
    started = time.monotonic()
    with _partial_body(env) as sock:
        answer = _read_all(sock)  # the server closes the connection: the rest of the body is not awaited
    assert time.monotonic() - started < 5
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 408 "), head
    assert b"\r\nconnection: close" in head.lower()
    assert httpx.Response(408, content=body).json() == {
        "error": {
            "message": "the request body did not arrive within 0.5 s (8 bytes received)",
            "type": "invalid_request_error",
            "param": None,
            "code": "request_timeout",
        }
    }
    series = _series(env)
    assert series[f'leakline_http_requests_total{{route="{CHAT}",status="408"}}'] == 1.0
    assert series[f'leakline_gateway_requests_total{{{ENDPOINT},outcome="invalid_request",region="none"}}'] == 1.0
    records = _exchanges(env, "audit")
    assert [(r["status"], r["error"], r["client"]) for r in records] == [(408, "request_timeout", "storefront")]


def test_a_whole_body_sent_slowly_within_the_limit_is_served(make_env: Any) -> None:
    """The near miss: a body in pieces, each well within the timeout, is read whole and answered."""
    env: Env = make_env(body_read_timeout_seconds=3.0)
    body = b'{"model":"llama3.1:8b","messages":[{"role":"user","content":"hello"}]}'
    with _partial_body(env, declared=len(body), sent=body[:10]) as sock:
        time.sleep(0.3)
        sock.sendall(body[10:30])
        time.sleep(0.3)
        sock.sendall(body[30:])
        sock.settimeout(10)
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 200 "), head


def test_a_client_that_disconnects_while_sending_its_body_is_a_499_without_a_traceback(
    make_env: Any, server_log: pytest.LogCaptureFixture
) -> None:
    env: Env = make_env()
    before = _series(env)
    with server_log.at_level("INFO"):
        sock = _partial_body(env)
        time.sleep(0.3)  # the request is waiting for the rest of its body
        sock.close()
        key = f'leakline_http_requests_total{{route="{CHAT}",status="499"}}'
        _wait_for(lambda: _series(env).get(key, 0.0) > before.get(key, 0.0))
    after = _series(env)
    assert after.get(key, 0.0) - before.get(key, 0.0) == 1.0
    assert not any('status="500"' in name for name in after), after
    outcome = f'leakline_gateway_requests_total{{{ENDPOINT},outcome="client_disconnected",region="none"}}'
    assert after[outcome] == 1.0
    assert not any('outcome="error"' in name for name in after), after
    records = _exchanges(env, "audit")
    assert [(r["status"], r["error"], r["client"], r["prompt_bytes"]) for r in records] == [
        (499, "client_disconnected", "storefront", 0)
    ]
    logged = [r.getMessage() for r in server_log.records if r.levelno >= logging.WARNING]
    assert not any("Exception in ASGI application" in m for m in logged), logged
    assert not any(r.exc_info for r in server_log.records), logged


def test_a_non_stream_client_that_disconnects_is_counted_499_not_500(make_env: Any) -> None:
    env: Env = make_env()
    env.eu.upstream.mode = "slow"  # the upstream answers after 5 s; the client gives up after 1 s
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"authorization": f"Bearer {KEYS['storefront']}", "x-vercel-ip-country": "DE"}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{env.url}{CHAT}", json=body, headers=headers, timeout=1.0)
    key = f'leakline_http_requests_total{{route="{CHAT}",status="499"}}'
    _wait_for(lambda: key in _series(env))
    series = _series(env)
    assert series[key] == 1.0
    assert f'leakline_http_requests_total{{route="{CHAT}",status="500"}}' not in series
    outcome = f'leakline_gateway_requests_total{{{ENDPOINT},outcome="client_disconnected",region="eu"}}'
    assert series[outcome] == 1.0
    records = _exchanges(env, "audit-eu")
    assert [(r["status"], r["error"]) for r in records] == [(499, "client_disconnected")]
