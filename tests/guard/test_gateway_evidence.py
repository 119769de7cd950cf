"""Exchanges that must not escape the audit log, the signals or the volume counters (review 6).

NaN/Infinity in a request (refused with a 400; an exchange the audit log still refuses keeps its signal
and volume count), disagreeing copies of the country header, an unexpected exception (a 500 that is
recorded), the partial answer of a client that left mid-stream, a whole answer whose client left (the
upstream call cancelled, 499), 401 refusals, and the upstream's address in its error text.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from leakline.guard import pipeline
from leakline.guard.events import EventWorker, Exchange, Hit
from leakline.guard.upstream import SCRIPTS, ScriptedUpstream, UpstreamThread
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, audit_records, meta_of, serve, write_settings
from tests.guard.test_gateway_http import DE, auth, chat, sse_events, streamed_content

CHAT = "/v1/chat/completions"


def _post_raw(env: Env, raw: bytes, headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.post(
        f"{env.url}{CHAT}",
        content=raw,
        headers={**auth(), **DE, "content-type": "application/json", **(headers or {})},
        timeout=20,
    )


def _exchanges(env: Env, sink: str) -> list[dict[str, Any]]:
    env.drain()
    if not (env.tmp / sink).exists():
        return []
    records = audit_records(env.tmp / sink, env.tmp / "audit.key")
    return [{**meta_of(r), "payload": r.payload} for r in records if meta_of(r).get("kind") == "gateway.exchange"]


def _series(env: Env) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in httpx.get(f"{env.url}/metrics").text.splitlines():
        if line.startswith("leakline_gateway_requests_total{"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


# -- 1. NaN and Infinity ---------------------------------------------------------------------------------


NAN_BODY = '{"model":"llama3.1:8b","messages":[{"role":"user","content":"canary marker-nan2"}],"temperature":NaN}'


@pytest.mark.parametrize(
    ("raw", "message", "param"),
    [
        (
            NAN_BODY,
            "request body is not valid JSON at byte offset 97: NaN is not a JSON number (JSON has no NaN or "
            "Infinity) (field temperature)",
            "temperature",
        ),
        (
            '{"model":"llama3.1:8b","messages":[{"role":"user","content":"NaN Infinity","x":[1, -Infinity]}]}',
            "request body is not valid JSON at byte offset 83: -Infinity is not a JSON number (JSON has no NaN "
            "or Infinity) (field messages[0].x[1])",
            "messages[0].x[1]",
        ),
        (
            '{"model":"llama3.1:8b","messages":[],"top_p":Infinity}',
            "request body is not valid JSON at byte offset 45: Infinity is not a JSON number (JSON has no NaN "
            "or Infinity) (field top_p)",
            "top_p",
        ),
        (
            '{"model":"llama3.1:8b","messages":[],"temperature":1e999}',
            "request body is not valid JSON at byte offset 51: a number beyond the range of a double "
            "(field temperature)",
            "temperature",
        ),
        (
            '{"model":"llama3.1:8b","messages":[],"seed":' + "9" * 5000 + "}",
            "request body is not valid JSON at byte offset 44: a number with more than 4300 digits (field seed)",
            "seed",
        ),
    ],
    ids=["nan", "minus-infinity-nested", "infinity", "float-overflow", "5000-digits"],
)
def test_nan_infinity_and_numbers_json_cannot_hold_are_refused_naming_the_offset_and_field(
    env: Env, raw: str, message: str, param: str
) -> None:
    response = _post_raw(env, raw.encode())
    assert response.status_code == 400
    assert response.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": param, "code": "invalid_json"}
    }
    assert env.eu.upstream.requests == []


def test_a_nan_request_is_audited_as_a_400_and_never_reaches_the_upstream(fresh_env: Env) -> None:
    response = _post_raw(fresh_env, NAN_BODY.encode())
    assert response.status_code == 400
    assert fresh_env.eu.upstream.requests == []
    (record,) = _exchanges(fresh_env, "audit")  # no region was chosen: the sink without one
    assert (record["status"], record["error"], record["client"], record["prompt_bytes"]) == (
        400,
        "invalid_json",
        "storefront",
        len(NAN_BODY),
    )
    assert record["payload"]["prompt"] is None
    assert _series(fresh_env) == {
        f'leakline_gateway_requests_total{{endpoint="{CHAT}",outcome="invalid_request",region="none"}}': 1.0
    }


class _Collect:
    def __init__(self) -> None:
        self.signals: list[Any] = []

    def emit(self, signal: Any) -> None:
        self.signals.append(signal)

    def close(self) -> None:
        return None


class _Monitor:
    def __init__(self) -> None:
        self.recorded: list[tuple[int, tuple[str, ...], dict[str, float]]] = []

    def record(self, minute: int, series: tuple[str, ...], values: dict[str, float]) -> None:
        self.recorded.append((minute, series, values))

    def evaluate(self, now_minute: int) -> list[Any]:
        return []

    def close(self) -> None:
        return None


def _audit_worker(tmp_path: Path, monitor: _Monitor, sink: _Collect) -> EventWorker:
    from leakline.audit.keys import generate_key_file
    from leakline.config import parse_settings
    from leakline.guard.build import default_events

    generate_key_file(tmp_path / "audit.key")
    settings = parse_settings(
        {
            "regions": {"eu": {"upstream": "http://127.0.0.1:9/v1", "countries": ["DE"]}},
            "audit": {"path": str(tmp_path / "audit"), "key": str(tmp_path / "audit.key")},
            "gateway": {"anomalies": {"enabled": False}},
        },
        source=str(tmp_path / "leakline.toml"),
    )
    real = default_events(settings)
    return EventWorker(audit=real._audit, signals=sink, monitor=monitor)  # type: ignore[arg-type]


def test_an_exchange_the_audit_log_refuses_keeps_its_signal_its_volume_and_a_record_without_payload(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Defence in depth behind the 400: a payload the (strict JSON) audit log refuses."""
    sink, monitor = _Collect(), _Monitor()
    worker = _audit_worker(tmp_path, monitor, sink)
    exchange = Exchange(
        route=CHAT, client="storefront", region=None, country="AT", pop="vie1", model="llama3.1:8b", status=200,
        stream=False, prompt={"messages": [{"role": "user", "content": "canary marker-nan2"}],
                              "temperature": float("nan")},
        response_text="", upstream_text="lkc-7f3a9c1e5b2d48e6a0c4f8b1d3e5a7c9", prompt_bytes=97,
        response_bytes=0, scanned_bytes=36, hits=(Hit("canary", "block", 0, 36, "lkc-…a7c9"),), blocked=True,
        at=1_795_000_000.0,
    )  # fmt: skip
    with caplog.at_level("INFO", logger="leakline.guard"):
        worker.submit(exchange)
        worker.drain()
    worker.close()
    assert worker.failures == 1
    records = audit_records(tmp_path / "audit", tmp_path / "audit.key")
    records = [r for r in records if meta_of(r).get("kind")]
    assert [meta_of(r)["kind"] for r in records] == ["gateway.exchange", "gateway.signal"]
    record = meta_of(records[0])
    assert records[0].payload is None
    assert record["payload_not_recorded"] == (
        "AuditUsageError: payload is not JSON-serialisable: Out of range float values are not JSON compliant"
    )
    assert (record["status"], record["blocked"], record["prompt_bytes"], record["hits"]) == (
        200,
        True,
        97,
        [{"detector": "canary", "action": "block", "start": 0, "end": 36}],
    )
    (signal,) = sink.signals
    assert (signal.kind.value, signal.severity.value, signal.fingerprint) == (
        "leak-caught",
        "high",
        "gateway-leak:storefront:canary",
    )
    assert meta_of(records[1])["signal"]["id"] == signal.id
    assert monitor.recorded == [
        (
            1_795_000_000 // 60,
            ("edge:AT/vie1", "key:storefront"),
            {"requests": 1.0, "prompt_bytes": 97.0, "response_bytes": 0.0, "hits": 1.0},
        )
    ]
    logged = [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records if r.name == "leakline.guard"]
    assert logged == [
        (
            "ERROR",
            f"the audit record of an exchange on {CHAT} (client storefront, status 200) could not be written with "
            "its payload (AuditUsageError: payload is not JSON-serialisable: Out of range float values are not "
            "JSON compliant); writing it without the payload",
            None,
        )
    ]
    assert "marker-nan2" not in caplog.text


def test_an_audit_log_that_fails_entirely_still_lets_the_signal_and_the_volume_through() -> None:
    class _Broken:
        appends = 0

        def append(self, **kwargs: Any) -> int:
            self.appends += 1
            raise OSError(28, "No space left on device")

        def flush(self) -> None:
            return None

        def close(self) -> None:
            return None

    sink, monitor, audit = _Collect(), _Monitor(), _Broken()
    worker = EventWorker(audit=audit, signals=sink, monitor=monitor)  # type: ignore[arg-type]
    exchange = Exchange(
        route=CHAT, client="storefront", region="eu", country="DE", pop=None, model="m", status=200,
        stream=True, prompt={}, response_text="", upstream_text="x", prompt_bytes=5, response_bytes=0,
        scanned_bytes=1, hits=(Hit("secret", "block", 0, 1, "sk-…"),), blocked=True, at=600.0,
    )  # fmt: skip
    worker.submit(exchange)
    worker.drain()
    worker.close()
    # The exchange (with, then without payload) and the signal's own record were tried.
    assert audit.appends == 3
    assert [s.fingerprint for s in sink.signals] == ["gateway-leak:storefront:secret"]
    assert monitor.recorded == [
        (
            10,
            ("edge:DE/-", "key:storefront"),
            {"requests": 1.0, "prompt_bytes": 5.0, "response_bytes": 0.0, "hits": 1.0},
        )
    ]


# -- 2. Copies of the country header that disagree ------------------------------------------------------


def _country_chat(env: Env, *countries: str, pops: tuple[str, ...] = ("fra1::x",)) -> httpx.Response:
    headers = [
        *auth().items(),
        *(("x-vercel-ip-country", c) for c in countries),
        *(("x-vercel-id", p) for p in pops),
    ]
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hello"}]}
    return httpx.post(f"{env.url}{CHAT}", json=body, headers=headers, timeout=20)


@pytest.mark.parametrize("countries", [("US", "DE"), ("DE", "US"), ("JP", "DE"), ("DE", "XX")])
def test_copies_of_the_country_header_that_disagree_count_as_no_country(env: Env, countries: tuple[str, ...]) -> None:
    response = _country_chat(env, *countries)
    assert response.status_code == 451
    assert response.json()["error"] == {
        "message": "no trusted visitor country on this request, and policy gateway.on_missing_country is 'reject'",
        "type": "residency_error",
        "param": "gateway.on_missing_country",
        "code": "residency_refused",
    }
    assert env.eu.upstream.requests == [] and env.us.upstream.requests == []


def test_copies_that_agree_are_one_country(env: Env) -> None:
    response = _country_chat(env, "DE", "de")
    assert response.status_code == 200
    assert (len(env.eu.upstream.requests), env.us.upstream.requests) == (1, [])


def test_disagreeing_copies_fall_back_to_the_named_region_are_audited_without_country_and_warned_once(
    make_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env = make_env(on_missing_country="eu")
    with caplog.at_level("WARNING", logger="leakline.guard"):
        assert _country_chat(env, "US", "DE", pops=("iad1::a", "fra1::b")).status_code == 200
        assert _country_chat(env, "US", "DE").status_code == 200  # within the minute: counted, not logged
    assert (len(env.eu.upstream.requests), env.us.upstream.requests) == (2, [])
    records = _exchanges(env, "audit-eu")
    assert [(r["status"], r["country"], r["pop"]) for r in records] == [(200, None, None), (200, None, "fra1")]
    logged = [r.getMessage() for r in caplog.records if r.name == "leakline.guard"]
    assert logged == [
        f"storefront on {CHAT} from trusted peer 127.0.0.1 has 2 copies of x-vercel-ip-country that disagree "
        "('US', 'DE'): no trusted country: gateway.on_missing_country ('eu') applies; a proxy that appends to "
        "the visitor's header?",
        f"storefront on {CHAT} from trusted peer 127.0.0.1 has 2 copies of x-vercel-id that disagree "
        "('iad1', 'fra1'): no PoP is recorded; a proxy that appends to the visitor's header?",
    ]


def test_agreed_country_unit() -> None:
    from leakline.guard.residency import agreed_country

    assert agreed_country(["DE", "de"]) == ("DE", False)
    assert agreed_country(["US", "DE"]) == (None, True)
    assert agreed_country(["XX", "T1"]) == (None, False)
    assert agreed_country(["DE", "XX"]) == (None, True)


# -- 4. An unexpected exception: a 500 in OpenAI's shape, and a record -----------------------------------


INTERNAL = {
    "error": {
        "message": "internal error in the gateway; the request was not completed",
        "type": "server_error",
        "param": None,
        "code": "internal_error",
    }
}


@pytest.mark.parametrize("stream", [False, True])
def test_an_unexpected_exception_is_a_500_json_error_and_an_exchange_record(
    fresh_env: Env, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, stream: bool
) -> None:
    value = "".join(["ré", "q-€"])  # an upstream's x-request-id (split: the log's frames quote this file)

    def broken(*args: Any, **kwargs: Any) -> Any:
        return value.encode("latin-1")

    monkeypatch.setattr(pipeline.Gateway, "passed_headers", broken)
    with caplog.at_level("ERROR", logger="leakline.guard"):
        response = chat(fresh_env, "email", stream=stream)
    assert response.status_code == 500
    assert response.json() == INTERNAL
    (record,) = _exchanges(fresh_env, "audit-eu")
    assert (record["status"], record["error"], record["stream"], record["region"]) == (
        500,
        "internal_error",
        stream,
        "eu",
    )
    assert record["payload"]["prompt"]["messages"] == [{"role": "user", "content": "email"}]
    if not stream:  # the whole answer was read and judged before the headers failed
        assert record["payload"]["upstream_response"] == SCRIPTS["email"].text
        assert [h["detector"] for h in record["hits"]] == ["email"]
    logs = [r for r in caplog.records if r.name == "leakline.guard"]
    assert [r.getMessage().split("\n", 1)[0] for r in logs] == [
        f"unexpected UnicodeEncodeError on {CHAT}; answered 500 internal_error"
    ]
    assert "réq" not in caplog.text and "ordinal not in range" not in caplog.text  # frames, not the text
    assert 'File "' in logs[0].getMessage()
    assert _series(fresh_env) == {
        f'leakline_gateway_requests_total{{endpoint="{CHAT}",outcome="error",region="eu"}}': 1.0
    }


def test_an_unexpected_exception_mid_stream_ends_it_with_an_error_event_and_keeps_what_was_sent(
    fresh_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = pipeline._StreamRelay.event
    seen: list[int] = []

    def flaky(self: Any, data: str, who: str) -> list[bytes]:
        seen.append(1)
        if len(seen) == 300:
            raise KeyError("choices")
        return original(self, data, who)

    monkeypatch.setattr(pipeline._StreamRelay, "event", flaky)
    fresh_env.eu.upstream.delay = 0.001  # one read per event: the first 299 events have gone out
    response = chat(fresh_env, "the catalogue please", stream=True)
    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[-1] == INTERNAL
    sent = streamed_content(events[:-1])
    assert sent and SCRIPTS["catalogue"].text.startswith(sent)
    (record,) = _exchanges(fresh_env, "audit-eu")
    assert (record["status"], record["error"]) == (500, "internal_error")
    assert record["payload"]["response"].startswith(sent) and SCRIPTS["catalogue"].text.startswith(
        record["payload"]["response"]
    )


# -- 5. A client that leaves mid-stream: the record keeps what it was sent --------------------------------


def test_a_client_leaving_mid_stream_is_recorded_with_the_answer_it_was_sent(fresh_env: Env) -> None:
    fresh_env.eu.upstream.delay = 0.002
    body = {"model": "llama3.1:8b", "stream": True, "messages": [{"role": "user", "content": "catalogue"}]}
    received = ""
    with httpx.stream("POST", f"{fresh_env.url}{CHAT}", json=body, headers={**auth(), **DE}) as response:
        buffer = ""
        for text in response.iter_text():
            buffer += text
            received = streamed_content(sse_events(buffer[: buffer.rfind("\n\n") + 2]))
            if len(received) > 600:
                break
    deadline = time.monotonic() + 30
    records = _exchanges(fresh_env, "audit-eu")
    while not records and time.monotonic() < deadline:
        records = _exchanges(fresh_env, "audit-eu")
    (record,) = records
    catalogue = SCRIPTS["catalogue"].text
    response_text = record["payload"]["response"]
    assert (record["status"], record["error"], record["stream"]) == (499, "client_disconnected", True)
    assert response_text.startswith(received) and catalogue.startswith(response_text)
    assert record["response_bytes"] == len(response_text.encode()) > 600
    assert record["payload"]["upstream_response"].startswith(response_text)
    assert record["scanned_bytes"] == len(record["payload"]["upstream_response"].encode())


# -- 7. A whole answer whose client left: the upstream call is cancelled ----------------------------------


class _Slow(ScriptedUpstream):
    """Answers after `seconds`; tells whether the gateway closed the connection before that."""

    def __init__(self, seconds: float) -> None:
        super().__init__()
        self.seconds = seconds
        self.cancelled = threading.Event()
        self.answered = threading.Event()

    async def _answer(self, request: web.Request, kind: str) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        try:
            await asyncio.sleep(self.seconds)
        except asyncio.CancelledError:  # aiohttp cancels the handler when the peer closes the connection
            self.cancelled.set()
            raise
        self.answered.set()
        message = {"role": "assistant", "content": "ready " * 50000 if "big" in json.dumps(body) else "ready"}
        data = {"id": "x", "object": "chat.completion", "created": 1, "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}]}  # fmt: skip
        return web.json_response(data)


@pytest.fixture
def slow(tmp_path: Path) -> Iterator[tuple[Env, _Slow]]:
    from leakline.web.app import create_app

    upstream = _Slow(4.0)
    thread = UpstreamThread(upstream).start()
    settings = write_settings(tmp_path, thread.upstream_url, thread.upstream_url)
    env = Env(serve(create_app(settings)), thread, thread, settings, tmp_path)
    yield env, upstream
    env.served.stop()
    thread.stop()


def test_a_whole_answer_whose_client_left_cancels_the_upstream_call_and_is_recorded_499(
    slow: tuple[Env, _Slow],
) -> None:
    env, upstream = slow
    started = time.monotonic()
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hello"}]}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{env.url}{CHAT}", json=body, headers={**auth(), **DE}, timeout=1.0)
    assert upstream.cancelled.wait(3.0), "the upstream never saw the gateway close the connection"
    assert time.monotonic() - started < 3.0
    assert not upstream.answered.is_set()
    (record,) = _exchanges(env, "audit-eu")
    assert (record["status"], record["error"], record["stream"], record["response_bytes"]) == (
        499,
        "client_disconnected",
        False,
        0,
    )
    assert _series(env) == {
        f'leakline_gateway_requests_total{{endpoint="{CHAT}",outcome="client_disconnected",region="eu"}}': 1.0
    }


def test_a_client_slow_to_read_its_whole_answer_is_not_taken_for_gone(slow: tuple[Env, _Slow]) -> None:
    env, upstream = slow
    upstream.seconds = 1.0
    host, port = env.url.removeprefix("http://").split(":")
    body = json.dumps({"model": "llama3.1:8b", "messages": [{"role": "user", "content": "big"}]}).encode()
    request = (
        f"POST {CHAT} HTTP/1.1\r\nhost: {host}\r\nauthorization: Bearer {KEYS['storefront']}\r\n"
        f"x-vercel-ip-country: DE\r\ncontent-type: application/json\r\ncontent-length: {len(body)}\r\n"
        "connection: close\r\n\r\n"
    ).encode() + body
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect((host, int(port)))
        sock.sendall(request)
        time.sleep(2.5)  # the answer (300 kB) waits in the gateway's buffers meanwhile
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, payload = raw.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 ")
    assert json.loads(payload)["choices"][0]["message"]["content"] == "ready " * 50000
    assert not upstream.cancelled.is_set()
    (record,) = _exchanges(env, "audit-eu")
    assert (record["status"], record["error"]) == (200, None)


def test_a_client_slow_to_read_a_stream_is_not_taken_for_gone(fresh_env: Env) -> None:
    body = {"model": "llama3.1:8b", "stream": True, "messages": [{"role": "user", "content": "catalogue"}]}
    with httpx.stream("POST", f"{fresh_env.url}{CHAT}", json=body, headers={**auth(), **DE}) as response:
        chunks = response.iter_bytes()
        first = next(chunks)
        time.sleep(2.0)  # the gateway's writes pause on a full socket meanwhile
        text = (first + b"".join(chunks)).decode()
    assert streamed_content(sse_events(text)) == SCRIPTS["catalogue"].text
    (record,) = _exchanges(fresh_env, "audit-eu")
    assert (record["status"], record["error"]) == (200, None)


# -- 12a. The upstream's address in its error text --------------------------------------------------------


class _Refusing(ScriptedUpstream):
    def __init__(self, message: str) -> None:
        super().__init__()
        self.message = message

    async def _answer(self, request: web.Request, kind: str) -> web.StreamResponse:
        self.requests.append(await request.json())
        return web.json_response({"error": {"message": self.message, "type": "invalid_request_error"}}, status=400)


def test_an_upstream_error_never_carries_an_address_whatever_ip_address_s_action(tmp_path: Path) -> None:
    from leakline.web.app import create_app

    message = "bad prompt for ann@example.com from 10.0.0.5 (fd00::5) key sk-live-0123456789abcdefABCDEF0123"
    thread = UpstreamThread(_Refusing(message)).start()
    try:
        settings = write_settings(tmp_path, thread.upstream_url, thread.upstream_url)
        served = serve(create_app(settings))
        try:
            response = httpx.post(
                f"{served.url}{CHAT}",
                json={"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hi"}]},
                headers={**auth(), **DE},
                timeout=20,
            )
        finally:
            served.stop()
    finally:
        thread.stop()
    assert response.status_code == 400
    assert response.json()["error"] == {
        "message": "the upstream answered HTTP 400: bad prompt for [REDACTED:EMAIL] from [REDACTED:IP_ADDRESS] "
        "([REDACTED:IP_ADDRESS]) key [REDACTED:SECRET]",
        "type": "invalid_request_error",
        "param": None,
        "code": "upstream_rejected",
    }


def test_an_upstream_error_naming_the_upstream_s_host_names_it_no_more(env: Env) -> None:
    sanitizer = env.gateway.sanitizer()
    detail = "model not loaded on gpu-node-7.internal.eu (GPU-NODE-7.internal.eu:8000); see gpu-node-7.internal.eu2"
    assert pipeline._error_detail(sanitizer, detail, "http://gpu-node-7.internal.eu:8000/v1") == (
        "model not loaded on [UPSTREAM_HOST] ([UPSTREAM_HOST]:8000); see gpu-node-7.internal.eu2"
    )
    # A bare name is as likely a word of the message: kept.
    assert pipeline._error_detail(sanitizer, "ollama: no such model", "http://ollama:11434/v1") == (
        "ollama: no such model"
    )


def test_what_the_detectors_find_in_an_upstream_error_is_recorded_and_raises_signals(
    fresh_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Before: the client got the sanitized message, but the record said `hits: []`, `blocked: false`,
    # `scanned_bytes: 0`, and no signal came: a canary the upstream echoed in an error went unnoticed.
    from sqlalchemy import text

    from leakline.guard.upstream import DEMO_CANARY
    from leakline.incidents.runtime import store_for

    padding = "x" * 480  # the e-mail straddles the 500th character: judged whole, then cut
    message = f"bad input {padding} from jane.doe@example.com ref {DEMO_CANARY} (see logs)"

    async def refuse(request: web.Request, kind: str) -> web.StreamResponse:
        return web.json_response({"error": {"message": message}}, status=400)

    monkeypatch.setattr(fresh_env.eu.upstream, "_answer", refuse)
    response = chat(fresh_env, "hello")
    assert response.status_code == 400
    shown = response.json()["error"]["message"]
    assert shown == f"the upstream answered HTTP 400: bad input {padding} from "  # cut before the mark, not in it
    assert "jane.doe" not in shown and DEMO_CANARY not in shown
    (record,) = _exchanges(fresh_env, "audit-eu")
    assert (record["status"], record["error"], record["blocked"]) == (400, "upstream_rejected", True)
    assert record["scanned_bytes"] == len(message.encode())
    assert [(h["detector"], h["action"], h["where"]) for h in record["hits"]] == [
        ("email", "redact", "upstream error"),
        ("canary", "block", "upstream error"),
    ]
    with store_for(fresh_env.settings).transaction() as session:
        rows = list(session.execute(text("SELECT kind, severity FROM signals")))
    assert [tuple(r) for r in rows] == [("leak-caught", "high")]


# -- 12b. 401 refusals are audited --------------------------------------------------------------------------


def test_a_401_refusal_is_audited_without_the_key_it_was_sent(fresh_env: Env) -> None:
    wrong = "sk-wrong-0123456789abcdef-guessed"
    response = chat(fresh_env, "hello", headers={"authorization": f"Bearer {wrong}"})
    assert response.status_code == 401
    (record,) = _exchanges(fresh_env, "audit")
    assert "region" not in record  # the sink without a region: no region field
    assert {k: record[k] for k in ("route", "client", "client_key", "status", "error", "model")} == {
        "route": CHAT,
        "client": "(unauthenticated)",
        "client_key": None,
        "status": 401,
        "error": "invalid_api_key",
        "model": None,
    }
    assert record["payload"] == {"prompt": None, "response": "", "upstream_response": ""}
    assert wrong not in json.dumps(record)
    assert _exchanges(fresh_env, "audit-eu") == []
