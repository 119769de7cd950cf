"""The SRE review of `leakline serve` (issue 6): header hygiene, the answer's model name, /v1/models across
regions, start-up checks of settings that cannot work, key variables with whitespace, `--host ::`, and
readiness logged once per change with several workers. Real gateways and upstreams on 127.0.0.1."""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiohttp import web

from leakline.config import Settings, parse_settings
from leakline.errors import ConfigError
from leakline.guard.auth import KeyStore, key_digest
from leakline.guard.build import check_servable, preflight
from leakline.guard.errors import GatewayConfigError
from leakline.guard.fields import opaque_id
from leakline.guard.headers import DENY_PATTERNS, filter_upstream_headers, response_headers
from leakline.guard.readiness import SharedStates
from leakline.guard.settings import ClientSettings
from leakline.guard.upstream import UpstreamThread
from leakline.web.cli import bind_dual_stack, check_address
from tests.guard.conftest import Env
from tests.guard.helpers import serve, start_serve, write_settings
from tests.guard.test_gateway_fields import Canned, _chunk, _completion, _delta, answers, post, sse, whole
from tests.guard.test_gateway_http import DE, auth, sse_events
from tests.guard.test_serve_cli import _gateway_toml

LEAKY = {
    "server-timing": 'model;desc="llama3.1-70b";dur=812',
    "x-processing-time": "812",
    "x-runtime": "0.81",
    "x-served-by": "gpu-node-7.internal.eu",
    "x-kubernetes-pod": "vllm-7f9c",
    "link": "<http://10.0.0.5/debug>; rel=debug",
    "access-control-allow-origin": "*",
    "alt-svc": 'h3=":443"',
    "openai-processing-ms": "812",
}
SECURITY = {
    "cache-control": "no-store",
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "x-frame-options": "DENY",
    "content-security-policy": "default-src 'none'; frame-ancestors 'none'",
}


def _canned(tmp: Path, **gateway: Any) -> Env:
    from leakline.web.app import create_app

    upstream = UpstreamThread(Canned()).start()
    settings = write_settings(tmp, upstream.upstream_url, upstream.upstream_url, **gateway)
    return Env(serve(create_app(settings)), upstream, upstream, settings, tmp)


@pytest.fixture
def deny(tmp_path: Path) -> Iterator[Env]:
    env = _canned(tmp_path, header_mode="deny")
    yield env
    env.served.stop()
    env.eu.stop()


@pytest.fixture
def allow(tmp_path: Path) -> Iterator[Env]:
    env = _canned(tmp_path)
    yield env
    env.served.stop()
    env.eu.stop()


def whole_with(data: dict[str, Any], headers: list[tuple[str, str]]) -> Any:
    """A canned whole answer with `headers` (a name may repeat)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.json_response(data)
        for name, value in headers:
            response.headers.add(name, value)
        return response

    return handler


def sse_with(events: list[dict[str, Any]], headers: list[tuple[str, str]]) -> Any:
    """A canned stream of `events` and [DONE], with `headers` (a name may repeat)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        for name, value in headers:
            response.headers.add(name, value)
        await response.prepare(request)
        for event in events:
            await response.write(f"data: {json.dumps(event)}\n\n".encode())
        await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    return handler


def _headers_of(response: httpx.Response) -> list[tuple[str, str]]:
    return [(name.decode("latin-1").lower(), value.decode("latin-1")) for name, value in response.headers.raw]


# -- item 3: deny mode, the allow-list, the body's model and fingerprint --------------------------------

BODY = {**_completion({"content": "hello"}), "model": "/models/acme-customer-finetune-v3",
        "system_fingerprint": "vllm-0.6.3-gpu-node-7.internal"}  # fmt: skip


def test_deny_mode_drops_timing_host_cors_and_link_headers_and_passes_a_repeated_header_once(deny: Env) -> None:
    extra = [*LEAKY.items(), ("x-request-id", "r-1"), ("x-request-id", "r-2"), ("x-custom", "ok")]
    answers(deny)["hdr"] = whole_with(BODY, extra)
    answers(deny)["hdr-s"] = sse_with([_chunk(_delta({"role": "assistant", "content": "hello"}, "stop"))], extra)
    for prompt, stream, content_type in (("hdr", False, "application/json"), ("hdr-s", True, "text/event-stream")):
        response = post(deny, prompt, stream=stream)
        assert response.status_code == 200, response.text
        got = [(n, v) for n, v in _headers_of(response) if n not in ("content-length", "date", "transfer-encoding")]
        assert got[0][0] == "content-type" and got[0][1].startswith(content_type)
        own = [("x-accel-buffering", "no")] if stream else []  # the gateway's own, for proxies in front
        assert got[1:] == [("x-request-id", "r-1"), ("x-custom", "ok"), *SECURITY.items(), *own], got


def test_a_header_whose_value_a_detector_matches_is_dropped_in_deny_mode(
    deny: Env, caplog: pytest.LogCaptureFixture
) -> None:
    # Before: deny mode passed every header it had no rule for as the upstream wrote it (red team R6).
    from leakline.guard.upstream import DEMO_CANARY

    leaky = [
        ("x-canary", DEMO_CANARY),
        ("x-custom-leak", "jane.doe@example.com"),
        ("x-cache-key", "4111111111111111"),
        ("x-internal-host", "10.0.0.7"),
        ("x-custom", "ok"),
        ("x-order", "A-10023 4006381333931"),  # the near miss: an order number and an EAN pass
    ]
    answers(deny)["judged"] = whole_with(BODY, leaky)
    answers(deny)["judged-s"] = sse_with([_chunk(_delta({"role": "assistant", "content": "hello"}, "stop"))], leaky)
    with caplog.at_level("WARNING", logger="leakline.guard"):
        for prompt, stream in (("judged", False), ("judged-s", True)):
            response = post(deny, prompt, stream=stream)
            assert response.status_code == 200, response.text
            names = [n for n, _ in _headers_of(response) if n.startswith("x-") and n != "x-accel-buffering"]
            assert [n for n in names if n not in SECURITY] == ["x-custom", "x-order"]
            assert DEMO_CANARY not in str(response.headers)
    dropped = sorted(r.getMessage() for r in caplog.records if "its value holds" in r.getMessage())
    assert dropped == [
        "dropped the upstream header x-cache-key: its value holds payment_card",
        "dropped the upstream header x-canary: its value holds canary",
        "dropped the upstream header x-custom-leak: its value holds email",
        "dropped the upstream header x-internal-host: its value holds ip_address",
    ]  # once per name, never the value


def test_the_default_allow_list_no_longer_passes_openai_processing_ms(allow: Env) -> None:
    answers(allow)["ms"] = whole_with(BODY, [("openai-processing-ms", "812"), ("x-request-id", "r-1")])
    response = post(allow, "ms")
    assert response.status_code == 200
    assert "openai-processing-ms" not in response.headers
    assert response.headers["x-request-id"] == "r-1"
    assert Settings().gateway.allowed_headers == ["content-type", "x-request-id", "openai-version"]


def test_answers_name_the_model_asked_for_and_carry_no_fingerprint_whole_and_streamed(allow: Env) -> None:
    answers(allow)["fp"] = whole(BODY)
    assert post(allow, "fp").json() == {
        "id": opaque_id("x", "chatcmpl-"),
        "object": "chat.completion",
        "created": 1,
        "model": "llama3.1:8b",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
        "system_fingerprint": None,
    }
    leaky = {"model": "/models/acme-customer-finetune-v3", "system_fingerprint": "vllm-0.6.3-gpu-node-7.internal"}
    answers(allow)["fp-s"] = sse(
        {**_chunk(_delta({"role": "assistant", "content": "hel"})), **leaky},
        {**_chunk(_delta({"content": "lo"}, "stop")), **leaky},
    )
    response = post(allow, "fp-s", stream=True)
    meta = {"id": opaque_id("c", "chatcmpl-"), "object": "chat.completion.chunk", "created": 1, "model": "llama3.1:8b"}
    assert sse_events(response.text) == [
        {**meta, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}],
         "system_fingerprint": None},
        {**meta, "choices": [{"index": 0, "delta": {"content": "hello"}, "finish_reason": "stop"}],
         "system_fingerprint": None},
        "[DONE]",
    ]  # fmt: skip
    assert "acme-customer" not in response.text and "gpu-node" not in response.text


# -- item 4 (headers): a value HTTP/1.1 cannot carry -----------------------------------------------------


def test_a_header_value_outside_latin1_is_dropped_and_logged_by_name_not_a_500(
    allow: Env, caplog: pytest.LogCaptureFixture
) -> None:
    from leakline.guard import headers

    headers._REFUSED_NAMES.discard("x-request-id")
    caplog.set_level(logging.WARNING, logger="leakline.guard")
    answers(allow)["l1"] = whole_with(BODY, [("x-request-id", "réq-€")])
    answers(allow)["l1-s"] = sse_with([_chunk(_delta({"content": "hello"}, "stop"))], [("x-request-id", "réq-€")])
    for prompt, stream in (("l1", False), ("l1-s", True)):
        response = post(allow, prompt, stream=stream)
        assert response.status_code == 200, response.text
        assert "x-request-id" not in response.headers
    messages = [
        r.getMessage() for r in caplog.records if r.name == "leakline.guard" and "upstream header" in r.getMessage()
    ]
    assert messages == [
        "dropped the upstream header x-request-id: its value is not Latin-1 or holds control characters"
    ]
    assert "réq" not in caplog.text


def test_control_characters_and_non_latin1_values_are_dropped_by_both_header_functions() -> None:
    upstream = [("X-Request-Id", "a\r\nset-cookie: s=1"), ("X-A", "t\x01"), ("X-B", "€"), ("X-C", "ok\tfine")]
    out = filter_upstream_headers(upstream, mode="deny", allowed=frozenset(), denied=DENY_PATTERNS)
    assert out == [("x-c", "ok\tfine")]
    sent = response_headers([("x-a", "t\x7f"), ("x-b", "ü"), ("x-c", "€")], content_type=b"application/json")
    assert sent[:2] == [(b"content-type", b"application/json"), (b"x-b", "ü".encode("latin-1"))]


# -- item 8: key variables with whitespace ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("sk-live-0123456789\n", "ends with whitespace (a newline?)"),
        ("sk-live-0123456789 ", "ends with whitespace (a space or a tab?)"),
        (" sk-live-0123456789", "starts with whitespace (a space or a tab?)"),
        ("   ", "holds only whitespace"),
        ("", "is unset or empty"),
    ],
)
def test_a_key_variable_with_whitespace_is_refused_without_showing_the_value(value: str, message: str) -> None:
    clients = [
        ClientSettings(name="storefront", key_sha256=["0" * 64]),
        ClientSettings(name="backoffice", key_env=["BACKOFFICE_KEY"]),
    ]
    with pytest.raises(GatewayConfigError) as caught:
        KeyStore.from_settings(clients, environ={"BACKOFFICE_KEY": value})
    assert caught.value.message == f"leakline.toml: clients.1.key_env: environment variable 'BACKOFFICE_KEY' {message}"
    assert "sk-live" not in str(caught.value) and "sk-live" not in (caught.value.hint or "")


def test_a_clean_key_variable_still_authenticates() -> None:
    store = KeyStore.from_settings(
        [ClientSettings(name="backoffice", key_env=["BACKOFFICE_KEY"])], environ={"BACKOFFICE_KEY": "sk-live-1"}
    )
    assert store.authenticate("Bearer sk-live-1").name == "backoffice"


# -- item 11: settings under which nothing can work ------------------------------------------------------


def _settings(tmp: Path, *, clients: list[dict[str, Any]] | None = None, **gateway: Any) -> Settings:
    return write_settings(tmp, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1", clients=clients, **gateway)


def _client(name: str = "shop", **extra: Any) -> dict[str, Any]:
    return {"name": name, "key_sha256": key_digest(f"sk-{name}"), **extra}


@pytest.mark.parametrize(
    ("clients", "gateway", "message", "hint"),
    [
        (
            [_client(country="JP")],
            {},
            "t.toml: clients.0.country: no region serves visitors from 'JP' (no regions.*.countries lists it): "
            "every request with the key of client 'shop' would be refused (451)",
            "add 'JP' to the countries of the region that should serve this key, or correct clients.country (an "
            "ISO 3166-1 code such as 'DE')",
        ),
        (
            [_client(country="XX")],
            {},
            "t.toml: clients.0.country: no region serves visitors from 'XX' (no regions.*.countries lists it): "
            "every request with the key of client 'shop' would be refused (451)",
            None,
        ),
        (
            [_client(country="DE", regions=["us"])],
            {},
            "t.toml: clients.0.regions: visitors from 'DE' (clients.0.country) are served by region(s) eu, none of "
            "which this key may use: every request with the key of client 'shop' would be refused (451)",
            "add one of eu to clients.0.regions, or correct the country",
        ),
        (
            [_client(models=["gpt-5"])],
            {},
            "t.toml: clients.0.models: no region this key may use serves 'gpt-5' (regions.*.models): every request "
            "with the key of client 'shop' would be refused",
            "correct the model names (as the upstreams call them) or add them to a region's models",
        ),
        (
            [_client(country="NL"), _client("web"), _client("app")],
            {"trusted_proxies": []},
            "t.toml: gateway.trusted_proxies: is empty while gateway.on_missing_country is 'reject': no "
            "x-vercel-ip-country header is believed, so every request of client(s) 'web', 'app' (no "
            "clients.country) would be refused (451)",
            'list the addresses of the edge proxies that set the header (e.g. trusted_proxies = ["10.0.0.0/8"]), '
            "set on_missing_country to a region, or bind each key to a country",
        ),
    ],
)
def test_settings_under_which_a_key_is_never_served_are_refused_naming_the_key(
    tmp_path: Path, clients: list[dict[str, Any]], gateway: dict[str, Any], message: str, hint: str | None
) -> None:
    settings = _settings(tmp_path, clients=clients, **gateway).model_copy(update={"source": "t.toml"})
    with pytest.raises(GatewayConfigError) as caught:
        check_servable(settings)
    assert caught.value.message == message
    if hint is not None:
        assert caught.value.hint == hint


def test_settings_that_work_pass_and_catch_all_proxies_are_warned_about(tmp_path: Path) -> None:
    # The test keys (one bound to NL, one to models eu and us serve) pass; on_missing_country saves [].
    assert check_servable(_settings(tmp_path)) == []
    assert check_servable(_settings(tmp_path, trusted_proxies=[], on_missing_country="eu")) == []
    assert check_servable(_settings(tmp_path, clients=[_client(country="NL")], trusted_proxies=[])) == []
    settings = _settings(
        tmp_path,
        clients=[_client(models=["llama3.1:8b", "gpt-5"])],
        trusted_proxies=["10.0.0.0/8", "0.0.0.0/0", "::/0"],
    ).model_copy(update={"source": "t.toml"})
    assert check_servable(settings) == [
        "t.toml: gateway.trusted_proxies.1: '0.0.0.0/0' trusts every address: anyone who reaches the gateway "
        "chooses the region that serves them with a x-vercel-ip-country header; list only the edge proxies' addresses",
        "t.toml: gateway.trusted_proxies.2: '::/0' trusts every address: anyone who reaches the gateway chooses "
        "the region that serves them with a x-vercel-ip-country header; list only the edge proxies' addresses",
        "t.toml: clients.0.models: no region this key may use serves 'gpt-5': requests for them are refused",
    ]


def test_preflight_returns_the_warnings_and_serve_prints_them(tmp_path: Path) -> None:
    _gateway_toml(tmp_path, extra_gateway='trusted_proxies = ["0.0.0.0/0"]')
    from leakline.config import load_settings

    warning = (
        "leakline.toml: gateway.trusted_proxies.0: '0.0.0.0/0' trusts every address: anyone who reaches the "
        "gateway chooses the region that serves them with a x-vercel-ip-country header; list only the edge "
        "proxies' addresses"
    )
    cwd = Path.cwd()
    os.chdir(tmp_path)
    try:
        assert preflight(load_settings(Path("leakline.toml"))) == [warning]
    finally:
        os.chdir(cwd)
    port = _free_port()
    proc = start_serve(tmp_path, port)
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert f"warning: {warning}\n" in stderr, stderr


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("EU", "a region name is lowercase letters, digits, '-' and '_' (did you mean 'eu'?), got 'EU'"),
        ("eu west", "a region name is lowercase letters, digits, '-' and '_' (did you mean 'eu-west'?), got 'eu west'"),
        ("-", "a region name is lowercase letters, digits, '-' and '_' (at most 63, the first a letter or a digit), got '-'"),
    ],
)  # fmt: skip
def test_a_region_name_out_of_pattern_is_explained_in_words(value: str, expected: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings({"clients": [{"name": "a", "key_env": "X", "regions": [value]}]}, source="leakline.toml")
    assert caught.value.message == f"leakline.toml: clients.0.regions.0: {expected}"


def test_a_region_table_out_of_pattern_is_explained_with_a_suggestion(tmp_path: Path) -> None:
    from leakline.guard.build import check_gateway_settings

    settings = _settings(tmp_path)
    regions = {("EU" if name == "eu" else name): region for name, region in settings.regions.items()}
    with pytest.raises(GatewayConfigError) as caught:
        check_gateway_settings(settings.model_copy(update={"regions": regions, "source": "t.toml"}))
    assert caught.value.message == (
        "t.toml: regions.EU: a region name is lowercase letters, digits, '-' and '_' (did you mean 'eu'?)"
    )


# -- item 12c: /v1/models joins every region that may serve the visitor ----------------------------------


@pytest.fixture
def two_regions_for_de(tmp_path: Path) -> Iterator[Env]:
    from leakline.web.app import create_app

    eu, us = UpstreamThread().start(), UpstreamThread().start()
    settings = write_settings(tmp_path, eu.upstream_url, us.upstream_url)
    regions = dict(settings.regions)
    regions["us"] = regions["us"].model_copy(update={"countries": ["US", "CA", "DE"]})
    settings = settings.model_copy(update={"regions": regions})
    env = Env(serve(create_app(settings)), eu, us, settings, tmp_path)
    yield env
    env.served.stop()
    eu.stop()
    us.stop()


def test_models_lists_every_region_that_may_serve_the_visitor(
    two_regions_for_de: Env, caplog: pytest.LogCaptureFixture
) -> None:
    env = two_regions_for_de
    listed = httpx.get(f"{env.url}/v1/models", headers={**auth(), **DE}, timeout=20)
    assert listed.status_code == 200
    assert [m["id"] for m in listed.json()["data"]] == ["llama3.1:8b", "mistral:7b"]
    one = httpx.get(f"{env.url}/v1/models/mistral:7b", headers={**auth(), **DE}, timeout=20)
    assert one.status_code == 200 and one.json()["id"] == "mistral:7b"
    # What is listed is served: mistral from us, the first region of DE that serves it.
    body = {"model": "mistral:7b", "messages": [{"role": "user", "content": "hi"}]}
    assert (
        httpx.post(f"{env.url}/v1/chat/completions", json=body, headers={**auth(), **DE}, timeout=20).status_code == 200
    )
    assert [r["model"] for r in env.us.upstream.requests] == ["mistral:7b"] and env.eu.upstream.requests == []
    # A key limited to eu sees eu's list only.
    eu_only = httpx.get(f"{env.url}/v1/models", headers={**auth("eu-only"), **DE}, timeout=20)
    assert [m["id"] for m in eu_only.json()["data"]] == ["llama3.1:8b"]
    # One region down: the other's list, and the failure in the log.
    caplog.set_level(logging.WARNING, logger="leakline.guard")
    env.us.stop()
    partial = httpx.get(f"{env.url}/v1/models", headers={**auth(), **DE}, timeout=20)
    assert partial.status_code == 200
    assert [m["id"] for m in partial.json()["data"]] == ["llama3.1:8b"]
    assert any(
        r.getMessage().startswith("upstream_unavailable on /v1/models: the upstream of region 'us' is unreachable")
        for r in caplog.records
    ), caplog.text


# -- item 10: --host :: takes IPv4 too -------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_ipv6_wildcard_socket_accepts_ipv4_and_ipv6_clients() -> None:
    with bind_dual_stack("::", 0) as sock:
        sock.listen(2)
        port = sock.getsockname()[1]
        for address in ("127.0.0.1", "::1"):
            with socket.create_connection((address, port), timeout=5):
                accepted, _ = sock.accept()
                accepted.close()


def test_a_port_ipv4_holds_is_refused_for_host_ipv6_wildcard() -> None:
    from leakline.errors import UsageError

    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        with pytest.raises(UsageError) as caught:
            check_address("::", port)
    assert caught.value.message == f"--port {port}: [::]:{port} is already in use (Address already in use)"


def test_serve_on_the_ipv6_wildcard_answers_ipv4_and_ipv6(tmp_path: Path) -> None:
    _gateway_toml(tmp_path)
    port = _free_port()
    proc = start_serve(tmp_path, port, "--host", "::")
    try:
        assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5).status_code == 200
        assert httpx.get(f"http://[::1]:{port}/healthz", timeout=5).status_code == 200
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert f"Uvicorn running on http://[::]:{port}, IPv6 and IPv4" in stderr, stderr


# -- item 12d: readiness changes logged once per host with several workers -------------------------------


def test_shared_states_let_one_worker_log_each_change(tmp_path: Path) -> None:
    path = str(tmp_path / "readiness.json")
    first, second = SharedStates(path), SharedStates(path)
    assert [
        first.first_to_log("region:eu", True),
        second.first_to_log("region:eu", True),
        second.first_to_log("region:eu", False),
        first.first_to_log("region:eu", False),
        first.first_to_log("database", True),
    ] == [True, False, True, False, True]
    assert json.loads(Path(path).read_text(encoding="utf-8")) == {"region:eu": False, "database": True}


def test_two_workers_log_a_failing_region_once(tmp_path: Path) -> None:
    _gateway_toml(tmp_path)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("PROMETHEUS_MULTIPROC_DIR", "LEAKLINE_READINESS_STATE")}
    proc = start_serve(tmp_path, port, "--workers", "2", env={**env, "TMPDIR": str(tmpdir)}, wait=90)
    try:
        [folder] = tmpdir.glob("leakline-metrics-*")
        assert len(list(tmpdir.glob("leakline-readiness-*.json"))) == 1
        asked = 0
        # New connections until both workers have checked (each keeps its gauge in a file named by its pid).
        while asked < 200 and (asked < 10 or len({p.stem.rsplit("_", 1)[-1] for p in folder.glob("gauge_*.db")}) < 2):
            httpx.get(f"http://127.0.0.1:{port}/readyz", headers={"connection": "close"}, timeout=10)
            asked += 1
        assert len({p.stem.rsplit("_", 1)[-1] for p in folder.glob("gauge_*.db")}) == 2, "one worker took all"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    lines = [line for line in stderr.splitlines() if "readiness: region 'eu' cannot serve" in line]
    assert lines == [
        "WARNING:  readiness: region 'eu' cannot serve: the upstream is unreachable (Connection refused) "
        "(http://127.0.0.1:9/v1); no region can serve: the replica is not ready"
    ], stderr
    assert list(tmpdir.glob("leakline-readiness-*")) == []
