"""The gateway over real HTTP: auth, forwarding, header hygiene, bad input, upstream failures."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.guard.conftest import Env
from tests.guard.helpers import KEYS

DE = {"x-vercel-ip-country": "DE", "x-vercel-id": "fra1::iad1::abc"}


def auth(name: str = "storefront") -> dict[str, str]:
    return {"authorization": f"Bearer {KEYS[name]}"}


def chat(
    env: Env, prompt: str, *, stream: bool = False, headers: dict[str, str] | None = None, model: str = "llama3.1:8b"
) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": prompt}], "stream": stream}
    return httpx.post(
        f"{env.url}/v1/chat/completions", json=body, headers={**auth(), **DE, **(headers or {})}, timeout=20
    )


def sse_events(text: str) -> list[Any]:
    out: list[Any] = []
    for block in text.split("\n\n"):
        if block.startswith("data: "):
            data = block[6:]
            out.append(data if data == "[DONE]" else json.loads(data))
    return out


def streamed_content(events: list[Any]) -> str:
    return "".join(
        e["choices"][0].get("delta", {}).get("content") or "" for e in events if e != "[DONE]" and e["choices"]
    )


def test_non_stream_benign_answer_passes_unchanged_and_goes_to_the_eu_upstream(env: Env) -> None:
    response = chat(env, "where is my order?")
    assert response.status_code == 200
    body = response.json()
    assert body["choices"][0]["message"]["content"] == (
        "Your order A-10023 (SKU 4006381333931) ships on 2026-12-01 for €49.99; tracking 1Z999AA10123456784."
    )
    assert body["choices"][0]["finish_reason"] == "stop"
    assert len(env.eu.upstream.requests) == 1
    assert env.us.upstream.requests == []


def test_an_answer_larger_than_one_read_is_relayed_whole(env: Env) -> None:
    expected = "Our oak tables ship flat-packed, with every tool included. " * 4000
    whole = chat(env, "the catalogue please")
    assert whole.status_code == 200
    assert whole.json()["choices"][0]["message"]["content"] == expected
    streamed = chat(env, "the catalogue please", stream=True)
    assert streamed_content(sse_events(streamed.text)) == expected


def test_stream_benign_answer_is_reassembled_exactly(env: Env) -> None:
    response = chat(env, "where is my order?", stream=True)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    assert streamed_content(events) == (
        "Your order A-10023 (SKU 4006381333931) ships on 2026-12-01 for €49.99; tracking 1Z999AA10123456784."
    )
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    assert all(e["object"] == "chat.completion.chunk" for e in events[:-1])


def test_leaky_upstream_headers_are_stripped_and_security_headers_set(env: Env) -> None:
    for stream in (False, True):
        response = chat(env, "hello", stream=stream)
        names = {k.lower() for k in response.headers}
        assert not {"x-ollama-model", "x-prompt-tokens", "x-powered-by"} & names
        assert response.headers.get("server") is None
        assert response.headers["cache-control"] == "no-store"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"


@pytest.mark.parametrize(
    ("headers", "message"),
    [
        ({}, "missing API key: send `Authorization: Bearer <key>`"),
        ({"authorization": "Bearer sk-wrong"}, "invalid API key"),
        ({"authorization": "Basic abc"}, "the Authorization header must use the Bearer scheme"),
    ],
)
def test_missing_or_invalid_key_is_401_in_openai_shape(env: Env, headers: dict[str, str], message: str) -> None:
    body = {"model": "llama3.1:8b", "messages": []}
    response = httpx.post(f"{env.url}/v1/chat/completions", json=body, headers={**DE, **headers})
    assert response.status_code == 401
    assert response.json() == {
        "error": {"message": message, "type": "invalid_request_error", "param": None, "code": "invalid_api_key"}
    }
    assert env.eu.upstream.requests == []


def test_malformed_json_is_400_naming_the_byte_offset(env: Env) -> None:
    response = httpx.post(
        f"{env.url}/v1/chat/completions",
        content=b'{"model": "llama3.1:8b", "messages": [}',
        headers={**auth(), **DE, "content-type": "application/json"},
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid_json"
    assert error["message"].startswith("request body is not valid JSON at byte offset 38: ")


def test_wrong_content_type_is_415(env: Env) -> None:
    response = httpx.post(
        f"{env.url}/v1/chat/completions",
        content=b"model=x",
        headers={**auth(), **DE, "content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 415
    assert response.json()["error"]["param"] == "content-type"


def test_body_over_the_limit_is_413(make_env: Any) -> None:
    env = make_env(max_body_bytes=1000)
    response = chat(env, "x" * 2000)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert env.eu.upstream.requests == []


def test_unknown_model_is_404(env: Env) -> None:
    response = chat(env, "hi", model="gpt-9")
    assert response.status_code == 404
    assert response.json()["error"] == {
        "message": "the model 'gpt-9' does not exist or no region serves it",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


def test_missing_messages_is_400_naming_the_field(env: Env) -> None:
    response = httpx.post(f"{env.url}/v1/chat/completions", json={"model": "llama3.1:8b"}, headers={**auth(), **DE})
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "messages"


def _upstream_error(message: str, code: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "upstream_error", "param": None, "code": code}}


def test_upstream_down_is_502_naming_the_region_not_its_address(
    fresh_env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    port = fresh_env.eu.port
    fresh_env.eu.stop()
    with caplog.at_level("WARNING", logger="leakline.guard"):
        for stream in (False, True):
            response = chat(fresh_env, "hi", stream=stream)
            assert response.status_code == 502
            # The client (and a browser behind the storefront) learns which region failed, not where the
            # model runs: the upstream's address is the operator's, in the log.
            assert response.json() == _upstream_error(
                "the upstream of region 'eu' is unreachable", "upstream_unavailable"
            )
    logged = [r.getMessage() for r in caplog.records if r.name == "leakline.guard"]
    assert len(logged) == 2
    assert (
        logged
        == [
            "upstream_unavailable on /v1/chat/completions: the upstream of region 'eu' is unreachable "
            f"(http://127.0.0.1:{port}/v1: Connection refused)"
        ]
        * 2
    )


def test_upstream_timeout_is_504(make_env: Any) -> None:
    env = make_env(read_timeout_seconds=0.3)
    env.eu.upstream.mode = "slow"
    for stream in (False, True):
        response = chat(env, "hi", stream=stream)
        assert response.status_code == 504
        assert response.json() == _upstream_error(
            "the upstream of region 'eu' did not answer in time", "upstream_timeout"
        )


def test_malformed_upstream_sse_is_a_502_json_error_with_no_upstream_bytes(env: Env) -> None:
    env.eu.upstream.mode = "malformed"
    response = chat(env, "hi", stream=True)
    assert response.status_code == 502
    assert response.headers["content-type"] == "application/json"
    assert response.json() == _upstream_error(
        "the upstream of region 'eu' sent an SSE event that is not JSON", "upstream_protocol_error"
    )
    assert "jane" not in response.text


def test_credentials_in_an_upstream_url_reach_neither_the_client_nor_the_log(
    tmp_path: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from leakline.web.app import create_app
    from tests.guard.helpers import free_socket, serve, write_settings

    closed = free_socket()  # bound, never listening: connections are refused
    port = closed.getsockname()[1]
    upstream = f"http://vllm:s3cr3t-pw@127.0.0.1:{port}/v1"
    served = serve(create_app(write_settings(tmp_path, upstream, upstream)))
    try:
        with caplog.at_level("WARNING", logger="leakline.guard"):
            for path, body in (
                ("/v1/chat/completions", {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hi"}]}),
                ("/v1/models", None),
            ):
                if body is None:
                    response = httpx.get(f"{served.url}{path}", headers={**auth(), **DE}, timeout=20)
                else:
                    response = httpx.post(f"{served.url}{path}", json=body, headers={**auth(), **DE}, timeout=20)
                assert response.status_code == 502
                assert response.json() == _upstream_error(
                    "the upstream of region 'eu' is unreachable", "upstream_unavailable"
                )
        logged = [r.getMessage() for r in caplog.records if r.name == "leakline.guard"]
        assert logged == [
            f"upstream_unavailable on {path}: the upstream of region 'eu' is unreachable "
            f"(http://127.0.0.1:{port}/v1: Connection refused)"
            for path in ("/v1/chat/completions", "/v1/models")
        ]
    finally:
        served.stop()
        closed.close()


def test_models_lists_what_the_region_and_key_allow(env: Env) -> None:
    response = httpx.get(f"{env.url}/v1/models", headers={**auth(), **DE})
    assert response.status_code == 200
    assert [m["id"] for m in response.json()["data"]] == ["llama3.1:8b"]
    us = httpx.get(f"{env.url}/v1/models", headers={**auth(), "x-vercel-ip-country": "US"})
    assert [m["id"] for m in us.json()["data"]] == ["llama3.1:8b", "mistral:7b"]


def test_embeddings_are_forwarded(env: Env) -> None:
    response = httpx.post(
        f"{env.url}/v1/embeddings", json={"model": "llama3.1:8b", "input": ["a", "b"]}, headers={**auth(), **DE}
    )
    assert response.status_code == 200
    assert [d["index"] for d in response.json()["data"]] == [0, 1]


def test_completions_stream_and_not(env: Env) -> None:
    body = {"model": "llama3.1:8b", "prompt": "order status"}
    whole = httpx.post(f"{env.url}/v1/completions", json=body, headers={**auth(), **DE})
    assert whole.status_code == 200
    text = whole.json()["choices"][0]["text"]
    streamed = httpx.post(f"{env.url}/v1/completions", json={**body, "stream": True}, headers={**auth(), **DE})
    events = sse_events(streamed.text)
    assert "".join(e["choices"][0]["text"] for e in events[:-1]) == text
    assert events[-1] == "[DONE]"


def test_an_endpoint_the_gateway_does_not_serve_is_an_openai_shaped_404(env: Env) -> None:
    # e.g. the Responses API, which newer OpenAI SDKs and the Vercel AI SDK use by default.
    response = httpx.post(f"{env.url}/v1/responses", json={"model": "llama3.1:8b", "input": "hi"}, headers=auth())
    assert response.status_code == 404
    assert response.json() == {
        "error": {
            "message": "the gateway has no endpoint POST /v1/responses; it serves POST /v1/chat/completions, "
            "POST /v1/completions, POST /v1/embeddings, GET /v1/models and GET /v1/models/{model}",
            "type": "invalid_request_error",
            "param": None,
            "code": "unknown_url",
        }
    }
    assert response.headers["cache-control"] == "no-store"
    assert env.eu.upstream.requests == [] and env.us.upstream.requests == []


def test_a_wrong_method_on_a_gateway_endpoint_is_an_openai_shaped_405(env: Env) -> None:
    response = httpx.get(f"{env.url}/v1/chat/completions", headers=auth())
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {
        "error": {
            "message": "GET is not allowed on /v1/chat/completions; use POST",
            "type": "invalid_request_error",
            "param": None,
            "code": "method_not_allowed",
        }
    }


def test_an_upstream_falling_silent_mid_stream_ends_the_stream_with_an_error_event_and_an_audit_record(
    make_env: Any,
) -> None:
    from tests.guard.helpers import audit_records, meta_of

    env = make_env(read_timeout_seconds=0.5)
    env.eu.upstream.delay = 1.5  # the role chunk goes out at once, then the upstream is silent
    response = chat(env, "email", stream=True)  # read to its end: the body is a complete chunked message
    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert events[-1] == _upstream_error("the upstream of region 'eu' did not answer in time", "upstream_timeout")
    assert len(events) == 2 and "[DONE]" not in response.text
    env.drain()
    records = audit_records(env.tmp / "audit-eu", env.tmp / "audit.key")
    (meta,) = [meta_of(r) for r in records if meta_of(r).get("kind") == "gateway.exchange"]
    assert (meta["status"], meta["error"], meta["stream"], meta["blocked"]) == (504, "upstream_timeout", True, False)


@pytest.mark.parametrize(
    ("upstream_body", "status"),
    [
        # OpenAI, llama.cpp's server and Ollama's /v1 routes nest the error.
        ({"error": {"message": "model 'x' not found, try pulling it first", "type": "api_error"}}, 404),
        # vLLM's ErrorResponse is flat.
        (
            {"object": "error", "message": "model 'x' not found, try pulling it first", "type": "NotFoundError",
             "param": None, "code": 404},
            404,
        ),
        # Ollama's native errors are a bare string.
        ({"error": "model 'x' not found, try pulling it first"}, 400),
    ],
)  # fmt: skip
def test_an_upstream_refusal_keeps_its_reason_whatever_the_server_s_error_shape(
    tmp_path: Any, upstream_body: dict[str, Any], status: int
) -> None:
    from aiohttp import web

    from leakline.guard.upstream import ScriptedUpstream, UpstreamThread
    from leakline.web.app import create_app
    from tests.guard.helpers import serve, write_settings

    class Refusing(ScriptedUpstream):
        async def chat(self, request: web.Request) -> web.StreamResponse:
            return web.json_response(upstream_body, status=status)

    upstream = UpstreamThread(Refusing()).start()
    served = serve(create_app(write_settings(tmp_path, upstream.upstream_url, upstream.upstream_url)))
    try:
        response = chat(Env(served, upstream, upstream, None, tmp_path), "hi")  # type: ignore[arg-type]
        assert response.status_code == status
        assert response.json() == {
            "error": {
                "message": f"the upstream answered HTTP {status}: model 'x' not found, try pulling it first",
                "type": "invalid_request_error",
                "param": None,
                "code": "upstream_rejected",
            }
        }
    finally:
        served.stop()
        upstream.stop()


@pytest.mark.parametrize("status", [401, 403, 407])
def test_an_upstream_refusing_the_gateway_s_own_credentials_is_a_502_not_the_caller_s_401(
    tmp_path: Any, caplog: pytest.LogCaptureFixture, status: int
) -> None:
    from aiohttp import web

    from leakline.guard.upstream import ScriptedUpstream, UpstreamThread
    from leakline.web.app import create_app
    from tests.guard.helpers import serve, write_settings

    class Refusing(ScriptedUpstream):
        async def chat(self, request: web.Request) -> web.StreamResponse:
            # What a vLLM started with --api-key answers a wrong key; the body must not reach the caller.
            return web.json_response(
                {"error": {"message": "invalid key sk-upstream-9f3a", "type": "auth"}}, status=status
            )

    upstream = UpstreamThread(Refusing()).start()
    served = serve(create_app(write_settings(tmp_path, upstream.upstream_url, upstream.upstream_url)))
    try:
        with caplog.at_level("WARNING", logger="leakline.guard"):
            response = chat(Env(served, upstream, upstream, None, tmp_path), "hi")  # type: ignore[arg-type]
        assert response.status_code == 502
        assert response.json() == _upstream_error(
            f"the upstream of region 'eu' refused the gateway's credentials (HTTP {status})", "upstream_auth_failed"
        )
        logged = [r.getMessage() for r in caplog.records if r.name == "leakline.guard"]
        assert logged == [
            f"upstream_auth_failed on /v1/chat/completions: the upstream of region 'eu' refused the gateway's "
            f"credentials (HTTP {status}) ({upstream.upstream_url}: HTTP {status}; check the region's api_key_env)"
        ]
        assert "sk-upstream" not in response.text and "sk-upstream" not in " ".join(logged)
    finally:
        served.stop()
        upstream.stop()


def test_an_upstream_error_sent_in_pieces_keeps_its_whole_reason(tmp_path: Any) -> None:
    import asyncio

    from aiohttp import web

    from leakline.guard.upstream import ScriptedUpstream, UpstreamThread
    from leakline.web.app import create_app
    from tests.guard.helpers import serve, write_settings

    body = b'{"error": {"message": "model \'x\' not found, try pulling it first", "type": "api_error"}}'

    class Slow(ScriptedUpstream):
        async def chat(self, request: web.Request) -> web.StreamResponse:
            response = web.StreamResponse(status=404, headers={"content-type": "application/json"})
            await response.prepare(request)
            await response.write(body[:20])
            await asyncio.sleep(0.2)  # the gateway's first read returns the first piece alone
            await response.write(body[20:])
            await response.write_eof()
            return response

    upstream = UpstreamThread(Slow()).start()
    served = serve(create_app(write_settings(tmp_path, upstream.upstream_url, upstream.upstream_url)))
    try:
        response = chat(Env(served, upstream, upstream, None, tmp_path), "hi")  # type: ignore[arg-type]
        assert response.status_code == 404
        assert response.json()["error"]["message"] == (
            "the upstream answered HTTP 404: model 'x' not found, try pulling it first"
        )
    finally:
        served.stop()
        upstream.stop()
