"""Operating the gateway: built at start-up, `/readyz` checks the upstreams, `/metrics` has gateway series."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from leakline.guard.auth import KeyPolicy
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, free_socket, run_serve, serve, write_settings

DE = {"x-vercel-ip-country": "DE"}


def chat(env: Env, prompt: str, *, headers: dict[str, str] | None = None) -> httpx.Response:
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": prompt}]}
    auth = {"authorization": f"Bearer {KEYS['storefront']}"}
    return httpx.post(
        f"{env.url}/v1/chat/completions", json=body, headers={**auth, **DE, **(headers or {})}, timeout=20
    )


# -- start-up ------------------------------------------------------------------------------------------


def test_sanitizers_event_thread_and_session_are_ready_before_the_first_request(fresh_env: Env) -> None:
    gateway = fresh_env.gateway
    assert fresh_env.eu.upstream.requests == [] and fresh_env.us.upstream.requests == []
    assert gateway._sanitizer is not None
    assert gateway._detector_versions  # probed once at start-up
    # Every route's policy for keys without overrides, the "strict" key (email = "block"), the
    # "lenient" one (email = "redact", the global action: it shares the global sanitizer) and the
    # "support" one (its own tables on chat and completions; on embeddings it is "lenient").
    keys = (KeyPolicy(), KeyPolicy((("email", "block"),)), KeyPolicy((("email", "redact"),)))
    assert set(gateway.policies._table) == {
        (route, key) for route in ("/v1/chat/completions", "/v1/completions", "/v1/embeddings") for key in keys
    } | {
        ("/v1/chat/completions", KeyPolicy((("email", "alert"),), redact_prompts=False)),
        ("/v1/completions", KeyPolicy((("email", "redact"),), insert_canary=False)),
    }
    strict = gateway.policies._table[("/v1/chat/completions", KeyPolicy((("email", "block"),)))].sanitizer
    assert strict is not gateway._sanitizer and strict.policy.actions["email"] == "block"
    assert gateway.policies._table[("/v1/completions", KeyPolicy((("email", "redact"),)))].sanitizer is gateway._sanitizer
    assert gateway._events is not None and gateway._events._thread is not None
    assert gateway._session is not None and not gateway._session.closed
    # Every sink of a configured region is open (a wrong audit key would have stopped the start-up).
    assert set(gateway._events._audit._logs) == {None, "eu", "us"}


def _broken_corpus_settings(tmp: Path) -> Any:
    settings = write_settings(tmp, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")
    (tmp / "system-prompt.txt").unlink()
    return settings


def test_a_missing_corpus_stops_the_worker_at_start_up(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    from leakline.web.app import create_app

    app = create_app(_broken_corpus_settings(tmp_path))  # creating the app opens nothing
    sock = free_socket()
    server = uvicorn.Server(uvicorn.Config(app, http="httptools", loop="asyncio", log_level="warning", lifespan="on"))
    exit_codes: list[object] = []

    def run() -> None:
        try:
            asyncio.run(server.serve(sockets=[sock]))
        except SystemExit as exc:  # uvicorn's answer to a failed lifespan start-up
            exit_codes.append(exc.code)

    thread = threading.Thread(target=run, daemon=True)
    with caplog.at_level("ERROR", logger="leakline.guard"):
        thread.start()
        thread.join(20)
    sock.close()
    assert not thread.is_alive() and not server.started
    assert exit_codes == [3]
    messages = [r.getMessage() for r in caplog.records if r.name == "leakline.guard"]
    assert any(
        m.startswith(f"the gateway cannot start: {tmp_path / 'leakline.toml'}: sanitize.protected_corpus[0]")
        for m in messages
    ), messages


def test_leakline_serve_refuses_a_missing_corpus_before_binding(tmp_path: Path) -> None:
    (tmp_path / "leakline.toml").write_text(
        '[sanitize]\nprotected_corpus = ["nowhere/system-prompt.txt"]\n', encoding="utf-8"
    )
    started = time.monotonic()
    proc = run_serve(tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert "sanitize.protected_corpus[0]" in proc.stderr and "Traceback" not in proc.stderr
    assert "Uvicorn running" not in proc.stderr
    assert time.monotonic() - started < 60


# -- /readyz -------------------------------------------------------------------------------------------


UP = {"status": "ok"}
REFUSED = {"status": "failing", "error": "the upstream is unreachable (Connection refused)"}


def _ready_gauges(env: Env) -> dict[str, float]:
    return {
        name: value
        for name, value in _series(httpx.get(f"{env.url}/metrics").text).items()
        if name.startswith("leakline_gateway_upstream_ready")
    }


def test_readyz_stays_ready_while_one_region_serves_and_names_the_failing_one(
    make_env: Any, caplog: pytest.LogCaptureFixture
) -> None:
    env: Env = make_env(readiness_cache_seconds=0.5)
    ready = httpx.get(f"{env.url}/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "upstreams": {"eu": UP, "us": UP}, "database": UP}
    assert _ready_gauges(env) == {
        'leakline_gateway_upstream_ready{region="eu"}': 1.0,
        'leakline_gateway_upstream_ready{region="us"}': 1.0,
    }
    us_port = env.us.port
    env.us.stop()
    cached = httpx.get(f"{env.url}/readyz")  # within readiness_cache_seconds: the last answer
    assert cached.json()["upstreams"]["us"] == {"status": "ok"}
    time.sleep(0.6)
    with caplog.at_level("INFO", logger="leakline.guard"):
        degraded = httpx.get(f"{env.url}/readyz")
    # A US outage must not pull the replica from the load balancer: EU visitors are still served.
    assert degraded.status_code == 200
    assert degraded.json() == {"status": "ready", "upstreams": {"eu": UP, "us": REFUSED}, "database": UP}
    assert str(us_port) not in degraded.text and "127.0.0.1" not in degraded.text
    assert chat(env, "hello").status_code == 200  # a German visitor, region eu
    assert _ready_gauges(env) == {
        'leakline_gateway_upstream_ready{region="eu"}': 1.0,
        'leakline_gateway_upstream_ready{region="us"}': 0.0,
    }
    # The operator's log says which region stopped answering, once, with the address (no credentials).
    changes = [r for r in caplog.records if r.name == "leakline.guard" and "readiness" in r.getMessage()]
    assert [(r.levelname, r.getMessage()) for r in changes] == [
        (
            "WARNING",
            f"readiness: region 'us' cannot serve: the upstream is unreachable (Connection refused) "
            f"(http://127.0.0.1:{us_port}/v1); the replica stays ready while another region can serve",
        )
    ]
    env.eu.stop()
    time.sleep(0.6)
    failing = httpx.get(f"{env.url}/readyz")
    assert failing.status_code == 503
    assert failing.json() == {"status": "not_ready", "upstreams": {"eu": REFUSED, "us": REFUSED}, "database": UP}
    assert failing.headers["cache-control"] == "no-store"


def test_readyz_with_readiness_all_needs_every_region(make_env: Any) -> None:
    env: Env = make_env(readiness="all", readiness_cache_seconds=0)
    assert httpx.get(f"{env.url}/readyz").status_code == 200
    env.us.stop()
    failing = httpx.get(f"{env.url}/readyz")
    assert failing.status_code == 503
    assert failing.json() == {"status": "not_ready", "upstreams": {"eu": UP, "us": REFUSED}, "database": UP}


def test_readyz_times_out_on_a_silent_upstream_without_naming_it_or_its_key(
    tmp_path: Path, make_env: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from leakline.web.app import create_app

    env: Env = make_env()  # a running eu upstream
    silent = free_socket()
    silent.listen(8)  # accepts connections (the kernel does) but never answers
    port = silent.getsockname()[1]
    monkeypatch.setenv("US_UPSTREAM_KEY", "sk-upstream-secret-0123456789")
    own = tmp_path / "silent"
    own.mkdir()
    settings = write_settings(
        own,
        env.eu.upstream_url,
        f"http://127.0.0.1:{port}/v1",
        readiness_timeout_seconds=0.3,
    )
    settings = settings.model_copy(
        update={
            "regions": {
                **settings.regions,
                "us": settings.regions["us"].model_copy(update={"api_key_env": "US_UPSTREAM_KEY"}),
            }
        }
    )
    served = serve(create_app(settings))
    try:
        started = time.monotonic()
        answer = httpx.get(f"{served.url}/readyz", timeout=10)
        assert time.monotonic() - started < 3
        assert answer.status_code == 200  # eu answers: the replica can serve
        assert answer.json()["upstreams"] == {
            "eu": {"status": "ok"},
            "us": {"status": "failing", "error": "the upstream did not answer GET /models within 0.3 s"},
        }
        assert "sk-upstream-secret" not in answer.text and str(port) not in answer.text
    finally:
        served.stop()
        silent.close()


def test_readyz_without_regions_is_the_generic_probe() -> None:
    from fastapi.testclient import TestClient

    from leakline.web.app import create_app

    with TestClient(create_app()) as client:
        assert client.get("/readyz").json() == {"status": "ready"}


# -- /metrics ------------------------------------------------------------------------------------------


def _series(text: str, prefix: str = "leakline_gateway_") -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith(prefix) and "_created" not in line:
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_count_requests_actions_upstream_errors_and_latency(fresh_env: Env) -> None:
    env = fresh_env
    assert chat(env, "email").json()["choices"][0]["message"]["content"].count("[REDACTED:EMAIL]") == 1
    assert chat(env, "canary").json()["choices"][0]["finish_reason"] == "content_filter"
    assert chat(env, "hello", headers={"x-vercel-ip-country": "JP"}).status_code == 451
    assert chat(env, "hello", headers={"authorization": "Bearer sk-wrong"}).status_code == 401
    env.us.stop()
    assert chat(env, "hello", headers={"x-vercel-ip-country": "US"}).status_code == 502
    series = _series(httpx.get(f"{env.url}/metrics").text)
    requests = {k: v for k, v in series.items() if k.startswith("leakline_gateway_requests_total")}
    endpoint = 'endpoint="/v1/chat/completions"'
    assert requests == {
        f'leakline_gateway_requests_total{{{endpoint},outcome="ok",region="eu"}}': 1.0,
        f'leakline_gateway_requests_total{{{endpoint},outcome="blocked",region="eu"}}': 1.0,
        f'leakline_gateway_requests_total{{{endpoint},outcome="rejected_residency",region="none"}}': 1.0,
        f'leakline_gateway_requests_total{{{endpoint},outcome="unauthorized",region="none"}}': 1.0,
        f'leakline_gateway_requests_total{{{endpoint},outcome="upstream_error",region="us"}}': 1.0,
    }
    actions = {k: v for k, v in series.items() if k.startswith("leakline_gateway_sanitizer_actions_total")}
    assert actions == {
        'leakline_gateway_sanitizer_actions_total{action="redact",detector="email"}': 1.0,
        'leakline_gateway_sanitizer_actions_total{action="block",detector="canary"}': 1.0,
    }
    errors = {k: v for k, v in series.items() if k.startswith("leakline_gateway_upstream_errors_total")}
    assert errors == {'leakline_gateway_upstream_errors_total{code="upstream_unavailable",region="us"}': 1.0}
    assert series['leakline_gateway_upstream_latency_seconds_count{region="eu"}'] == 2.0
    assert 0 < series['leakline_gateway_upstream_latency_seconds_sum{region="eu"}'] < 5
    assert series['leakline_gateway_upstream_latency_seconds_bucket{le="+Inf",region="eu"}'] == 2.0
    assert not any('region="us"' in k for k in series if "latency" in k)  # never answered: no latency


def test_metrics_of_a_stream_and_a_bad_request(env: Env) -> None:
    before = _series(httpx.get(f"{env.url}/metrics").text)
    body = {"model": "llama3.1:8b", "stream": True, "messages": [{"role": "user", "content": "card"}]}
    headers = {"authorization": f"Bearer {KEYS['storefront']}", **DE}
    streamed = httpx.post(f"{env.url}/v1/chat/completions", json=body, headers=headers, timeout=20)
    assert "[REDACTED:PAYMENT_CARD]" in streamed.text
    bad = httpx.post(
        f"{env.url}/v1/chat/completions", content=b"{", headers={**headers, "content-type": "application/json"}
    )
    assert bad.status_code == 400
    after = _series(httpx.get(f"{env.url}/metrics").text)

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    endpoint = 'endpoint="/v1/chat/completions"'
    assert delta(f'leakline_gateway_requests_total{{{endpoint},outcome="ok",region="eu"}}') == 1.0
    assert delta(f'leakline_gateway_requests_total{{{endpoint},outcome="invalid_request",region="none"}}') == 1.0
    assert delta('leakline_gateway_sanitizer_actions_total{action="redact",detector="payment_card"}') == 1.0
    assert "# TYPE leakline_gateway_upstream_latency_seconds histogram" in httpx.get(f"{env.url}/metrics").text


# -- the gateway's routes served before FastAPI's stack ------------------------------------------------


def test_gateway_routes_skip_fastapi_but_keep_headers_counter_and_405(env: Env) -> None:
    from leakline.guard.pipeline import Route

    assert all(isinstance(endpoint, Route) for _, endpoint in env.served.app.direct.values())
    assert set(env.served.app.direct) == {"/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/v1/models"}
    before = _series(httpx.get(f"{env.url}/metrics").text, "leakline_http_requests_total")
    assert chat(env, "hello").status_code == 200
    wrong = httpx.get(f"{env.url}/v1/chat/completions")  # not the route's method: through FastAPI's routing
    assert wrong.status_code == 405 and wrong.json()["error"]["code"] == "method_not_allowed"
    assert wrong.headers["x-frame-options"] == "DENY"
    after = _series(httpx.get(f"{env.url}/metrics").text, "leakline_http_requests_total")
    key = 'leakline_http_requests_total{route="/v1/chat/completions",status="200"}'
    assert after[key] - before.get(key, 0.0) == 1.0


def test_an_unexpected_error_in_a_gateway_route_is_a_json_500_with_security_headers(
    fresh_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("bug with sk-should-not-be-shown")

    monkeypatch.setattr(fresh_env.gateway, "authenticate", broken)
    response = chat(fresh_env, "hello")
    assert response.status_code == 500
    # The gateway's own 500 (Route.failed), in the shape and with the code of its other errors.
    assert response.json() == {
        "error": {
            "message": "internal error in the gateway; the request was not completed",
            "type": "server_error",
            "param": None,
            "code": "internal_error",
        }
    }
    assert "sk-should-not-be-shown" not in response.text
    for name in ("cache-control", "x-content-type-options", "referrer-policy", "x-frame-options"):
        assert name in response.headers
    series = _series(httpx.get(f"{fresh_env.url}/metrics").text, "leakline_")
    assert series['leakline_http_requests_total{route="/v1/chat/completions",status="500"}'] == 1.0
    endpoint = 'endpoint="/v1/chat/completions"'
    assert series[f'leakline_gateway_requests_total{{{endpoint},outcome="error",region="none"}}'] == 1.0
