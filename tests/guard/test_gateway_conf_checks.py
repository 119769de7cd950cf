"""The ops review of `leakline serve` (issue 6), items 7, 8, 10 and 12: upstream URLs that cannot work are
refused before the port is bound or warned about, an upstream 404 for the endpoint itself is the gateway's
misconfiguration (502) and not a missing model, a request that cannot be built is not "unreachable", settings
that make no sense are warned about, and a request waits a bounded time for a pooled upstream connection.
Real gateways and upstreams on 127.0.0.1."""

from __future__ import annotations

import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from leakline.config import Settings, parse_settings
from leakline.guard.build import check_gateway_settings, check_servable, preflight
from leakline.guard.errors import GatewayConfigError
from leakline.guard.upstream import ScriptedUpstream, UpstreamThread
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, serve, write_settings
from tests.guard.test_gateway_fields import Canned, answers, post, whole
from tests.guard.test_gateway_http import DE, auth
from tests.guard.test_serve_cli import _gateway_toml, _refused

UPSTREAM_KEY_ENV = "LEAKLINE_TEST_CONF_UPSTREAM_KEY"


def _settings(
    tmp: Path, eu: str = "http://127.0.0.1:9/v1", us: str = "http://127.0.0.1:9/v1", **gateway: Any
) -> Settings:
    return write_settings(tmp, eu, us, **gateway).model_copy(update={"source": "t.toml"})


def _with(settings: Settings, **changes: Any) -> Settings:
    """`settings` with top-level sections replaced (validated again, as leakline.toml would be)."""
    data = settings.model_dump()
    data.update(changes)
    return parse_settings(data, source=settings.source or "t.toml")


def _region(settings: Settings, name: str, **changes: Any) -> dict[str, Any]:
    regions: dict[str, Any] = settings.model_dump()["regions"]
    regions[name].update(changes)
    return regions


# -- item 7: credentials in the URL ----------------------------------------------------------------------



HELLO = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hello"}]}


def _ask(settings: Settings) -> httpx.Response:
    """One chat request from the storefront in DE to a gateway served with `settings` (stopped after)."""
    from leakline.web.app import create_app

    served = serve(create_app(settings))
    try:
        return httpx.post(f"{served.url}/v1/chat/completions", json=HELLO, headers={**auth(), **DE}, timeout=20)
    finally:
        served.stop()

def test_credentials_in_the_url_with_api_key_env_stop_serve_naming_the_region_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(UPSTREAM_KEY_ENV, "sk-upstream-test-0123456789")
    _gateway_toml(tmp_path, region_extra=f'api_key_env = "{UPSTREAM_KEY_ENV}"\n')
    toml = tmp_path / "leakline.toml"
    toml.write_text(
        toml.read_text().replace("http://127.0.0.1:9/v1", "http://admin:Tok3n@127.0.0.1:9/v1"), encoding="utf-8"
    )
    stderr = _refused(tmp_path)
    assert stderr == (
        "error: leakline.toml: regions.eu.upstream: has credentials in it (user:password@) while "
        "regions.eu.api_key_env is set: the gateway cannot send both, so every request to region 'eu' would "
        "fail (the credentials are not shown)\n"
        "hint: keep one: remove the credentials from the URL ('http://127.0.0.1:9/v1') and let api_key_env "
        "hold the upstream's bearer key, or remove regions.eu.api_key_env\n"
    )
    assert "Tok3n" not in stderr


def test_a_request_the_gateway_cannot_build_is_misconfigured_not_unreachable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Without `leakline serve`'s check (an app built directly): aiohttp refuses the request before sending
    it, and the client and the log say the settings are at fault, not the network."""

    monkeypatch.setenv(UPSTREAM_KEY_ENV, "sk-upstream-test-0123456789")
    upstream = UpstreamThread().start()
    base = write_settings(tmp_path, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")
    url = f"http://admin:Tok3n@127.0.0.1:{upstream.port}/v1"
    settings = _with(base, regions=_region(base, "eu", upstream=url, api_key_env=UPSTREAM_KEY_ENV))
    try:
        response = _ask(settings)
    finally:
        upstream.stop()
    assert response.status_code == 502
    assert response.json() == {
        "error": {
            "message": "the gateway cannot send requests to the upstream of region 'eu': its settings are at fault",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_misconfigured",
        }
    }
    assert upstream.upstream.requests == []


class _NotHttp(socketserver.BaseRequestHandler):
    """What an http:// URL meets at another service's port (here an SSH banner)."""

    def handle(self) -> None:
        self.request.recv(65536)
        self.request.sendall(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")


def test_an_answer_that_is_not_http_is_a_protocol_error_not_unreachable(tmp_path: Path) -> None:

    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _NotHttp)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    base = write_settings(tmp_path, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")
    settings = _with(base, regions=_region(base, "eu", upstream=f"http://127.0.0.1:{port}/v1"))
    try:
        response = _ask(settings)
    finally:
        server.shutdown()
        server.server_close()
    assert response.status_code == 502
    assert response.json() == {
        "error": {
            "message": "the upstream of region 'eu' answered with something that is not valid HTTP",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_protocol_error",
        }
    }


def test_credentials_in_the_url_alone_keep_working_with_a_warning(tmp_path: Path) -> None:

    seen: list[str | None] = []

    class Basic(ScriptedUpstream):
        async def chat(self, request: web.Request) -> web.StreamResponse:
            seen.append(request.headers.get("authorization"))
            return await super().chat(request)

    upstream = UpstreamThread(Basic()).start()
    base = write_settings(tmp_path, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")
    settings = _with(base, regions=_region(base, "eu", upstream=f"http://admin:Tok3n@127.0.0.1:{upstream.port}/v1"))
    assert check_servable(settings.model_copy(update={"source": "t.toml"}))[0] == (
        "t.toml: regions.eu.upstream: has credentials in it (user:password@): they go to the upstream as HTTP "
        "Basic authentication and stay in the URL wherever it is copied; prefer regions.eu.api_key_env (a bearer "
        "key from the environment)"
    )
    try:
        response = _ask(settings)
    finally:
        upstream.stop()
    assert response.status_code == 200, response.text
    assert seen == ["Basic YWRtaW46VG9rM24="]  # admin:Tok3n


# -- item 8: the upstream URL ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "found"),
    [
        ("http://127.0.0.1:9/v1?api_key=sk-in-the-query-0123", "a query string (?…)"),
        ("http://127.0.0.1:9/v1?", "a query string (?…)"),
        ("http://127.0.0.1:9/v1#sk-in-the-fragment", "a fragment (#…)"),
        ("http://u:sk-pass@127.0.0.1:9/v1?k=sk-in-the-query#frag", "a query string (?…) and a fragment (#…)"),
    ],
)
def test_a_query_string_or_fragment_in_the_upstream_url_is_refused_without_showing_it(
    tmp_path: Path, url: str, found: str
) -> None:
    base = _settings(tmp_path)
    with pytest.raises(GatewayConfigError) as caught:
        check_gateway_settings(_with(base, regions=_region(base, "us", upstream=url)))
    assert caught.value.message == (
        "t.toml: regions.us.upstream: expected the upstream's base URL (e.g. 'http://127.0.0.1:9/v1'), but it "
        f"has {found}; the gateway appends the endpoint's path (/chat/completions) to it, so every request "
        "would miss (the value is not shown)"
    )
    assert caught.value.hint == (
        "remove the query string; a key for the upstream goes in an environment variable named by "
        "regions.us.api_key_env (sent as a bearer key)"
    )
    assert "sk-" not in caught.value.diagnostics()


def test_leakline_serve_refuses_a_query_string_before_binding(tmp_path: Path) -> None:
    _gateway_toml(tmp_path)
    toml = tmp_path / "leakline.toml"
    toml.write_text(
        toml.read_text().replace("http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1?api_key=sk-query-secret-42"),
        encoding="utf-8",
    )
    stderr = _refused(tmp_path)
    assert stderr.startswith("error: leakline.toml: regions.eu.upstream: expected the upstream's base URL"), stderr
    assert "sk-query-secret-42" not in stderr


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:11434", "http://127.0.0.1:11434"),
        ("http://127.0.0.1:11434/", "http://127.0.0.1:11434/"),
        ("https://gpu.internal/api", "https://gpu.internal/api"),
    ],
)
def test_an_upstream_url_without_v1_is_warned_about(tmp_path: Path, url: str, shown: str) -> None:
    base = _settings(tmp_path)
    warnings = check_servable(_with(base, regions=_region(base, "us", upstream=url)))
    stem = shown.rstrip("/")
    assert warnings == [
        f"t.toml: regions.us.upstream: '{shown}' does not end in /v1: the gateway sends POST {stem}/chat/completions, "
        f"where Ollama, vLLM and llama.cpp serve nothing (404); their OpenAI-compatible base URL is '{stem}/v1'"
    ]


def test_urls_ending_in_v1_are_not_warned_about(tmp_path: Path) -> None:
    base = _settings(tmp_path)
    regions = _region(base, "us", upstream="https://api.example/openai/v1/")
    assert check_servable(_with(base, regions=regions)) == []


@pytest.fixture(scope="module")
def canned(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    from leakline.web.app import create_app

    tmp = tmp_path_factory.mktemp("conf404")
    upstream = UpstreamThread(Canned()).start()
    settings = write_settings(tmp, upstream.upstream_url, upstream.upstream_url)
    env = Env(serve(create_app(settings)), upstream, upstream, settings, tmp)
    yield env
    env.served.stop()
    upstream.stop()


def _text(body: str, status: int = 404, content_type: str = "text/plain") -> Any:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(text=body, status=status, content_type=content_type)

    return handler


MISCONFIGURED: dict[str, str | None] = {
    "message": "the upstream of region 'eu' does not serve /chat/completions (HTTP 404): the region's upstream "
    "URL is wrong (no /v1?) or that server lacks the endpoint",
    "type": "upstream_error",
    "param": None,
    "code": "upstream_misconfigured",
}


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(_text("404 page not found"), id="ollama-gin"),
        pytest.param(whole({"detail": "Not Found"}, status=404), id="vllm-fastapi"),
        pytest.param(
            whole({"error": {"code": 404, "message": "File Not Found", "type": "not_found_error"}}, status=404),
            id="llama.cpp",
        ),
        pytest.param(
            whole(
                {
                    "error": {
                        "message": "Invalid URL (POST /chat/completions)",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": None,
                    }
                },
                status=404,
            ),
            id="openai",
        ),
        pytest.param(_text("", content_type="text/html"), id="empty"),
    ],
)
def test_an_upstream_404_for_the_endpoint_is_a_502_naming_the_region(canned: Env, handler: Any) -> None:
    answers(canned)["endpoint 404"] = handler
    response = post(canned, "endpoint 404")
    assert response.status_code == 502, response.text
    assert response.json() == {"error": MISCONFIGURED}


def test_an_upstream_405_for_the_endpoint_is_a_502_too(canned: Env) -> None:
    """A path the upstream serves with GET only (a proxy's health page at the URL given): not the model."""
    answers(canned)["endpoint 405"] = _text("405: Method Not Allowed", status=405)
    response = post(canned, "endpoint 405")
    assert response.status_code == 502, response.text
    assert response.json() == {
        "error": {**MISCONFIGURED, "message": str(MISCONFIGURED["message"]).replace("404", "405")}
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            {"error": {"message": 'model "llama3.1:8b" not found, try pulling it first', "type": "api_error"}},
            "the upstream answered HTTP 404: model \"llama3.1:8b\" not found, try pulling it first",
            id="ollama",
        ),
        pytest.param(
            {"object": "error", "message": "The model `llama3.1:8b` does not exist.", "type": "NotFoundError",
             "param": None, "code": 404},
            "the upstream answered HTTP 404: The model `llama3.1:8b` does not exist.",
            id="vllm",
        ),
        pytest.param(
            {"error": {"message": "model not found", "type": "invalid_request_error", "code": 404}},
            "the upstream answered HTTP 404: model not found",
            id="llama.cpp-router",
        ),
    ],
)  # fmt: skip
def test_an_upstream_404_for_the_model_stays_a_404(canned: Env, body: dict[str, Any], message: str) -> None:
    answers(canned)["model 404"] = whole(body, status=404)
    response = post(canned, "model 404")
    assert response.status_code == 404, response.text
    assert response.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": "upstream_rejected"}
    }


def test_an_ollama_base_url_without_v1_gets_502_misconfigured_end_to_end(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The scripted upstream serves under /v1 only, as Ollama does; the region's URL lacks it."""
    from leakline.web.app import create_app

    upstream = UpstreamThread().start()
    settings = write_settings(tmp_path, f"http://127.0.0.1:{upstream.port}", upstream.upstream_url)
    served = serve(create_app(settings))
    try:
        body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hello"}]}
        with caplog.at_level("WARNING", logger="leakline.guard"):
            response = httpx.post(f"{served.url}/v1/chat/completions", json=body, headers={**auth(), **DE}, timeout=20)
    finally:
        served.stop()
        upstream.stop()
    assert response.status_code == 502
    assert response.json() == {"error": MISCONFIGURED}
    assert [r.getMessage() for r in caplog.records if r.name == "leakline.guard"] == [
        "upstream_misconfigured on /v1/chat/completions: the upstream of region 'eu' does not serve "
        "/chat/completions (HTTP 404): the region's upstream URL is wrong (no /v1?) or that server lacks the "
        "endpoint "
        f"(http://127.0.0.1:{upstream.port}: HTTP 404 for POST /chat/completions; does the region's upstream "
        "end in /v1?)"
    ]


# -- item 10: settings that make no sense ------------------------------------------------------------------


def test_settings_that_cannot_be_meant_are_warned_about_naming_the_key(tmp_path: Path) -> None:
    base = _settings(tmp_path)
    regions = base.model_dump()["regions"]
    regions["us"]["countries"] = ["US", "DE"]
    regions["apac"] = {"upstream": "http://127.0.0.1:9/v1", "countries": []}
    audit = base.model_dump()["audit"]
    audit["sinks"]["apac"] = {"path": str(tmp_path / "audit-apac")}
    audit["sinks"]["asia"] = {"path": str(tmp_path / "audit-asia")}
    gateway = base.model_dump()["gateway"]
    gateway.update(signals_url="http://central.example/api/v1/signals", signals_token_env="TOKEN")
    sanitize = base.model_dump()["sanitize"]
    canary = sanitize["canaries"][0]
    sanitize["canaries"] = [canary, "x" * 32, canary]
    settings = _with(base, regions=regions, audit=audit, gateway=gateway, sanitize=sanitize)
    warnings = check_servable(settings)
    assert warnings == [
        "t.toml: regions.apac.countries: is empty and gateway.on_missing_country is 'reject': region 'apac' never "
        "serves a request (a region serves the countries it lists, and requests without a trusted country only "
        "when on_missing_country names it)",
        "t.toml: regions.us.countries.1: 'DE' is listed by region 'eu' too, which comes first in t.toml: visitors "
        "from DE are served by 'eu', and by 'us' only with a key that may not use 'eu' (clients.regions) or a "
        "model 'eu' does not serve (regions.eu.models)",
        "t.toml: audit.sinks.asia: there is no region 'asia' (regions.*): nothing is written to this sink; remove "
        "it, or correct the region's name",
        "t.toml: gateway.signals_url: 'http://central.example/api/v1/signals' is plain http to another host: the "
        "bearer token (gateway.signals_token_env) and every signal travel in clear text; use https://",
        "t.toml: sanitize.canaries.2: is the same token as sanitize.canaries.0: a copy adds nothing (the token "
        "is not shown)",
    ]
    assert not any(canary in warning for warning in warnings)


def test_an_anomaly_alpha_other_than_the_default_is_warned_about_as_unused(tmp_path: Path) -> None:
    base = _settings(tmp_path)
    gateway = base.model_dump()["gateway"]
    assert check_servable(_with(base, gateway=gateway)) == []  # the default, as a dump writes it: no warning
    gateway["anomalies"]["alpha"] = 0.3
    assert check_servable(_with(base, gateway=gateway)) == [
        "t.toml: gateway.anomalies.alpha: is no longer used: each minute is judged against the median and MAD of "
        "its window (window_minutes), not an average of past medians (see docs/gateway.md, Volume anomalies); "
        "remove it"
    ]


def test_the_near_misses_of_those_settings_are_not_warned_about(tmp_path: Path) -> None:
    """A region without countries that on_missing_country names serves; loopback signals over http stay on
    the machine; a canary that only shares a prefix is another canary."""
    base = _settings(tmp_path)
    regions = base.model_dump()["regions"]
    regions["apac"] = {"upstream": "http://127.0.0.1:9/v1", "countries": []}
    audit = base.model_dump()["audit"]
    audit["sinks"]["apac"] = {"path": str(tmp_path / "audit-apac")}
    gateway = base.model_dump()["gateway"]
    gateway.update(
        on_missing_country="apac", signals_url="http://127.0.0.1:8080/api/v1/signals", signals_token_env="TOKEN"
    )
    sanitize = base.model_dump()["sanitize"]
    sanitize["canaries"] = [sanitize["canaries"][0], sanitize["canaries"][0] + "x"]
    settings = _with(base, regions=regions, audit=audit, gateway=gateway, sanitize=sanitize)
    assert check_servable(settings) == []
    gateway["signals_url"] = "http://localhost:8080/api/v1/signals"
    assert check_servable(_with(settings, gateway=gateway)) == []


def test_an_empty_protected_corpus_file_is_warned_about_by_preflight(tmp_path: Path) -> None:
    settings = write_settings(tmp_path, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")
    assert preflight(settings) == []
    (tmp_path / "system-prompt.txt").write_text(" \n\n", encoding="utf-8")
    assert preflight(settings) == [
        f"{tmp_path / 'leakline.toml'}: sanitize.protected_corpus.0: {str(tmp_path / 'system-prompt.txt')!r} is "
        "empty: no text of it can be recognised, so nothing is protected by it"
    ]


# -- item 12: waiting for a pooled connection --------------------------------------------------------------


def test_a_request_beyond_upstream_connections_waits_a_bounded_time_then_gets_503(tmp_path: Path) -> None:
    from leakline.web.app import create_app

    upstream = UpstreamThread(ScriptedUpstream()).start()
    upstream.upstream.mode = "slow"  # each answer after 5 s: the only connection stays busy
    settings = write_settings(
        tmp_path,
        upstream.upstream_url,
        upstream.upstream_url,
        upstream_connections=1,
        upstream_pool_timeout_seconds=0.5,
        connect_timeout_seconds=0.5,
    )
    served = serve(create_app(settings))
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"authorization": f"Bearer {KEYS['storefront']}", **DE}
    first: list[httpx.Response] = []
    holder = threading.Thread(
        target=lambda: first.append(
            httpx.post(f"{served.url}/v1/chat/completions", json=body, headers=headers, timeout=30)
        )
    )
    try:
        holder.start()
        deadline = time.monotonic() + 10
        while not upstream.upstream.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert upstream.upstream.requests, "the first request never reached the upstream"
        started = time.monotonic()
        second = httpx.post(f"{served.url}/v1/chat/completions", json=body, headers=headers, timeout=30)
        waited = time.monotonic() - started
        holder.join(30)
        metrics = httpx.get(f"{served.url}/metrics", timeout=10).text
    finally:
        served.stop()
        upstream.stop()
    assert second.status_code == 503, second.text
    assert second.json() == {
        "error": {
            "message": "the upstream of region 'eu' is busy: no connection to it was free within 0.5 s; retry later",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_busy",
        }
    }
    assert 0.9 <= waited < 4.0, waited  # the 0.5 s wait plus the 0.5 s connect budget, not the 5 s answer
    assert [r.status_code for r in first] == [200]
    assert len(upstream.upstream.requests) == 1
    assert 'leakline_gateway_upstream_errors_total{code="upstream_busy",region="eu"} 1.0' in metrics


def test_the_pool_timeout_is_a_documented_key(tmp_path: Path) -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "gateway.md").read_text(encoding="utf-8")
    assert _settings(tmp_path).gateway.upstream_pool_timeout_seconds == 30.0
    assert "upstream_pool_timeout_seconds = 30.0" in doc


def test_readyz_probes_do_not_wait_for_the_requests_pool(tmp_path: Path) -> None:
    # Every pooled connection busy with a long answer is not an upstream that is down: before, the probe waited
    # for a pooled connection and /readyz answered 503, pulling a busy replica out of the load balancer.
    from leakline.web.app import create_app

    upstream = UpstreamThread(ScriptedUpstream()).start()
    upstream.upstream.mode = "slow"  # chat answers after 5 s; GET /models at once
    settings = write_settings(
        tmp_path,
        upstream.upstream_url,
        upstream.upstream_url,
        upstream_connections=1,
        readiness_timeout_seconds=1.0,
        readiness_cache_seconds=0.0,
    )
    served = serve(create_app(settings))
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"authorization": f"Bearer {KEYS['storefront']}", **DE}
    holder = threading.Thread(
        target=lambda: httpx.post(f"{served.url}/v1/chat/completions", json=body, headers=headers, timeout=30)
    )
    try:
        holder.start()
        deadline = time.monotonic() + 10
        while not upstream.upstream.requests and time.monotonic() < deadline:
            time.sleep(0.02)
        assert upstream.upstream.requests, "the first request never reached the upstream"
        ready = httpx.get(f"{served.url}/readyz", timeout=10)
        holder.join(30)
    finally:
        served.stop()
        upstream.stop()
    assert ready.status_code == 200, ready.text
    assert ready.json()["upstreams"] == {"eu": {"status": "ok"}, "us": {"status": "ok"}}
