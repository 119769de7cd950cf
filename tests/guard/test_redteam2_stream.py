"""The red team's round-2 wire-protocol findings on the stream side and the model list (problems 1, 3, 5, 6,
8, 11, 12 of the report), each through the real gateway on 127.0.0.1 in front of a canned upstream.

Each test sends what a hostile (or merely unusual) upstream sends and reads what the client receives: the
exact events of the stream, or the exact JSON of the answer.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web

from leakline.guard.fields import opaque_id
from leakline.guard.upstream import DEMO_CANARY, UpstreamThread
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, serve, write_settings
from tests.guard.test_gateway_fields import Canned, Handler, _chunk, _completion, _delta, post, sse, whole
from tests.guard.test_gateway_http import DE, auth, sse_events

HALF_A, HALF_B = DEMO_CANARY[:18], DEMO_CANARY[18:]
EMAIL = "ann.lee@example.com"
CARD = "4111111111111111"
WHO = "the upstream of region 'eu'"
CHUNK_TOP = {"id": opaque_id("c", "chatcmpl-"), "object": "chat.completion.chunk", "created": 1, "model": "llama3.1:8b"}


class CannedModels(Canned):
    """`Canned`, whose `GET /v1/models` answers `model_list` when it is set."""

    def __init__(self) -> None:
        super().__init__()
        self.model_list: dict[str, Any] | None = None

    async def models(self, request: web.Request) -> web.Response:
        if self.model_list is None:
            return await super().models(request)
        return web.json_response(self.model_list)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    from leakline.web.app import create_app

    tmp = tmp_path_factory.mktemp("redteam2")
    upstream = UpstreamThread(CannedModels()).start()
    settings = write_settings(tmp, upstream.upstream_url, upstream.upstream_url)
    env = Env(serve(create_app(settings)), upstream, upstream, settings, tmp)
    yield env
    env.served.stop()
    upstream.stop()


def canned(env: Env) -> CannedModels:
    upstream = env.eu.upstream
    assert isinstance(upstream, CannedModels)
    return upstream


def error_event(message: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": "upstream_error", "param": None, "code": "upstream_protocol_error"}}


def blocked_end() -> list[Any]:
    return [{**CHUNK_TOP, "choices": [{"index": 0, "finish_reason": "content_filter", "delta": {}}]}, "[DONE]"]


# -- 1. text after a choice's finish_reason --


def event_bytes(*events: dict[str, Any]) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events)


def paced(*parts: bytes, pause: float = 0.3) -> Handler:
    """Writes each part, then waits: the gateway has read and relayed it before the next one comes."""

    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for part in parts:
            await response.write(part)
            await asyncio.sleep(pause)
        await response.write_eof()
        return response

    return handler


AFTER_FINISH = ["mail ann.lee@", "example.com card 4111 1111", " 1111 1111", HALF_A, "-" + HALF_B]
AFTER_FINISH_EVENTS = [
    _chunk(_delta({"role": "assistant", "content": AFTER_FINISH[0]}, "stop")),
    *(_chunk(_delta({"content": p}, "stop")) for p in AFTER_FINISH[1:]),
]


def test_text_for_a_choice_after_its_finish_reason_is_an_upstream_protocol_error(gw: Env) -> None:
    # All in one read: nothing was sent yet, so the answer is the 502.
    canned(gw).answers["after-finish"] = paced(event_bytes(*AFTER_FINISH_EVENTS) + b"data: [DONE]\n\n")
    response = post(gw, "after-finish", stream=True)
    message = f"{WHO} sent more text for choice 0 after its finish_reason"
    assert (response.status_code, response.json()) == (502, error_event(message))
    # The first choice's end arrives (and is relayed) before the rest: the stream ends with the error event.
    canned(gw).answers["after-finish-paced"] = paced(
        event_bytes(AFTER_FINISH_EVENTS[0]), event_bytes(*AFTER_FINISH_EVENTS[1:]) + b"data: [DONE]\n\n"
    )
    response = post(gw, "after-finish-paced", stream=True)
    assert response.status_code == 200
    assert sse_events(response.text) == [
        {**CHUNK_TOP, "choices": [_delta({"role": "assistant", "content": "mail ann.lee@"}, "stop")]},
        error_event(message),
    ]
    for secret in ("example.com", "1111", HALF_A, HALF_B):
        assert secret not in response.text


def test_completion_text_after_the_finish_reason_ends_the_stream_with_an_error(gw: Env) -> None:
    def text_chunk(text: str) -> dict[str, Any]:
        return {"id": "c", "object": "text_completion", "created": 1, "model": "llama3.1:8b",
                "choices": [{"index": 0, "text": text, "finish_reason": "stop"}]}  # fmt: skip

    canned(gw).answers["after-finish-text"] = paced(
        event_bytes(text_chunk("mail ann.lee@")), event_bytes(text_chunk("example.com")) + b"data: [DONE]\n\n"
    )
    response = post(gw, "after-finish-text", stream=True, route="completions")
    events = sse_events(response.text)
    assert [e.get("error") or e["choices"] for e in events] == [
        [{"index": 0, "text": "mail ann.lee@", "finish_reason": "stop"}],
        error_event(f"{WHO} sent more text for choice 0 after its finish_reason")["error"],
    ]
    assert "example.com" not in response.text


def test_an_empty_delta_or_a_usage_chunk_after_the_finish_is_relayed_as_before(gw: Env) -> None:
    usage = {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    canned(gw).answers["finish-then-empty"] = sse(
        _chunk(_delta({"role": "assistant", "content": "Hello there"})),
        _chunk(_delta({"content": ""}, "stop")),
        _chunk(_delta({"content": ""}, "stop")),
        {**_chunk(), "usage": usage},
    )
    response = post(gw, "finish-then-empty", stream=True)
    assert sse_events(response.text) == [
        {**CHUNK_TOP, "choices": [_delta({"role": "assistant", "content": ""})]},
        {**CHUNK_TOP, "choices": [_delta({"content": "Hello there"}, "stop")]},
        {**CHUNK_TOP, "choices": [_delta({"content": ""}, "stop")]},
        {**CHUNK_TOP, "choices": [], "usage": usage},
        "[DONE]",
    ]


# -- 3. a streamed JSON document without response_format --

ESCAPED_DOC = '{"contact": "ann.lee\\u0040example.com", "card": "\\u0034111111111111111"}'


def test_streamed_content_that_is_a_json_document_is_judged_with_its_escapes_decoded(gw: Env) -> None:
    canned(gw).answers["esc-doc"] = sse(
        _chunk(_delta({"role": "assistant", "content": ESCAPED_DOC[:30]})),
        _chunk(_delta({"content": ESCAPED_DOC[30:]})),
        _chunk(_delta({}, "stop")),
    )
    canned(gw).answers["esc-doc-whole"] = whole(_completion({"content": ESCAPED_DOC}))
    streamed = post(gw, "esc-doc", stream=True)
    text = "".join(c["delta"].get("content") or "" for e in sse_events(streamed.text)[:-1] for c in e["choices"])
    assert text == '{"contact": "[REDACTED:EMAIL]", "card": "[REDACTED:PAYMENT_CARD]"}'
    assert "u0040" not in streamed.text and "u0034" not in streamed.text
    got = post(gw, "esc-doc-whole").json()["choices"][0]["message"]["content"]
    assert got == '{"contact":"[REDACTED:EMAIL]","card":"[REDACTED:PAYMENT_CARD]"}'
    assert json.loads(text) == json.loads(got)


def test_a_streamed_json_document_with_an_escaped_canary_is_refused(gw: Env) -> None:
    # `\u006c` is the canary's first letter: only its decoded spelling is the canary.
    doc = ' [{"k": "\\u006c' + DEMO_CANARY[1:] + '"}]'
    canned(gw).answers["esc-canary"] = sse(
        _chunk(_delta({"role": "assistant", "content": doc[:12]})),
        _chunk(_delta({"content": doc[12:]})),
        _chunk(_delta({}, "stop")),
    )
    response = post(gw, "esc-canary", stream=True)
    assert sse_events(response.text) == [
        {**CHUNK_TOP, "choices": [_delta({"role": "assistant", "content": ""})]},
        {**CHUNK_TOP, "choices": [_delta({"content": ""})]},
        *blocked_end(),
    ]
    assert DEMO_CANARY[1:12] not in response.text


# -- 5. a canary split across the values of streamed tool arguments --


def test_a_canary_split_across_two_values_of_streamed_arguments_is_refused(gw: Env) -> None:
    arguments = json.dumps({"first": HALF_A, "second": HALF_B})
    canned(gw).answers["args-two-values"] = sse(
        _chunk(_delta({"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": arguments[:20]}}]})),
        _chunk(_delta({"tool_calls": [{"index": 0, "function": {"arguments": arguments[20:]}}]})),
        _chunk(_delta({}, "tool_calls")),
    )  # fmt: skip
    response = post(gw, "args-two-values", stream=True)
    assert sse_events(response.text)[-2:] == blocked_end()
    assert HALF_B not in response.text and HALF_A[4:] not in response.text


def test_a_canary_split_across_two_parallel_streamed_calls_is_refused(gw: Env) -> None:
    canned(gw).answers["args-two-calls"] = sse(
        _chunk(_delta({"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "f", "arguments": '{"q":"' + HALF_A}}]})),
        _chunk(_delta({"tool_calls": [
            {"index": 1, "id": "call_2", "type": "function", "function": {"name": "g", "arguments": '{"q":"' + HALF_B}}]})),
        _chunk(_delta({"tool_calls": [{"index": 0, "function": {"arguments": '"}'}}]})),
        _chunk(_delta({"tool_calls": [{"index": 1, "function": {"arguments": '"}'}}]})),
        _chunk(_delta({}, "tool_calls")),
    )  # fmt: skip
    response = post(gw, "args-two-calls", stream=True)
    assert sse_events(response.text)[-2:] == blocked_end()
    assert HALF_B not in response.text and HALF_A[4:] not in response.text


# -- 6. a tool call's name in pieces --


def test_a_streamed_tool_name_in_pieces_is_judged_whole_and_each_call_sent_whole(gw: Env) -> None:
    canned(gw).answers["name-split"] = sse(
        _chunk(_delta({"role": "assistant", "tool_calls": [
            {"index": 0, "id": "call_1", "type": "function", "function": {"name": "ann.lee@", "arguments": ""}}]})),
        _chunk(_delta({"tool_calls": [{"index": 0, "function": {"name": "example.com", "arguments": "{}"}}]})),
        _chunk(_delta({"tool_calls": [
            {"index": 1, "id": "call_2", "type": "function", "function": {"name": "4111 1111 ", "arguments": "{}"}}]})),
        _chunk(_delta({"tool_calls": [{"index": 1, "function": {"name": "1111 1111", "arguments": ""}}]})),
        _chunk(_delta({}, "tool_calls")),
    )  # fmt: skip
    response = post(gw, "name-split", stream=True)
    sent: list[dict[str, Any]] = [
        {"index": 0, "id": opaque_id("call_1", "call_"), "type": "function",
         "function": {"name": "[REDACTED:EMAIL]", "arguments": "{}"}},
        {"index": 1, "id": opaque_id("call_2", "call_"), "type": "function",
         "function": {"name": "[REDACTED:PAYMENT_CARD]", "arguments": "{}"}},
    ]  # fmt: skip
    assert sse_events(response.text) == [
        {**CHUNK_TOP, "choices": [_delta({"role": "assistant"})]},
        {**CHUNK_TOP, "choices": [_delta({})]},
        {**CHUNK_TOP, "choices": [_delta({})]},
        {**CHUNK_TOP, "choices": [_delta({})]},
        {**CHUNK_TOP, "choices": [_delta({"tool_calls": sent}, "tool_calls")]},
        "[DONE]",
    ]
    # The OpenAI SDK joins what it is sent into the same calls.
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=KEYS["storefront"], default_headers=DE, max_retries=0)
    with client.chat.completions.stream(model="llama3.1:8b", messages=[{"role": "user", "content": "name-split"}]) as s:
        for _ in s:
            pass
        final = s.get_final_completion()
    got = [(c.id, c.function.name, c.function.arguments) for c in final.choices[0].message.tool_calls or []]
    assert got == [(c["id"], c["function"]["name"], c["function"]["arguments"]) for c in sent]


def test_a_legacy_function_name_in_pieces_is_judged_whole(gw: Env) -> None:
    canned(gw).answers["fname-split"] = sse(
        _chunk(_delta({"role": "assistant", "function_call": {"name": "ann.lee@", "arguments": "{"}})),
        _chunk(_delta({"function_call": {"name": "example.com", "arguments": "}"}})),
        _chunk(_delta({}, "function_call")),
    )
    response = post(gw, "fname-split", stream=True)
    assert sse_events(response.text) == [
        {**CHUNK_TOP, "choices": [_delta({"role": "assistant"})]},
        {**CHUNK_TOP, "choices": [_delta({})]},
        {**CHUNK_TOP, "choices": [
            _delta({"function_call": {"name": "[REDACTED:EMAIL]", "arguments": "{}"}}, "function_call")]},
        "[DONE]",
    ]  # fmt: skip


# -- 8. GET /v1/models --


def test_model_entries_keep_openais_four_keys_with_sanitized_values(gw: Env) -> None:
    canned(gw).model_list = {
        "object": "list",
        "data": [
            {"id": "llama3.1:8b", "object": "model", "created": 4111111111111111, "owned_by": DEMO_CANARY,
             "root": "/models/acme-customer-finetune-v3", "parent": None, "max_model_len": 8192,
             "meta": {"note": f"contact {EMAIL}", "card": CARD}, "permission": [{"id": "modelperm-1"}]},
        ],
    }  # fmt: skip
    try:
        listed = httpx.get(f"{gw.url}/v1/models", headers={**auth(), **DE})
        one = httpx.get(f"{gw.url}/v1/models/llama3.1:8b", headers={**auth(), **DE})
    finally:
        canned(gw).model_list = None
    entry = {"id": "llama3.1:8b", "object": "model", "created": 0, "owned_by": "system"}
    assert (listed.status_code, listed.json()) == (200, {"object": "list", "data": [entry]})
    assert (one.status_code, one.json()) == (200, entry)
    for secret in (DEMO_CANARY, "acme", "ann.lee", CARD):
        assert secret not in listed.text and secret not in one.text


def test_a_model_entry_with_plain_values_is_passed_as_the_upstream_wrote_it(gw: Env) -> None:
    canned(gw).model_list = {
        "object": "list",
        "data": [{"id": "llama3.1:8b", "object": "model", "created": 1721000000, "owned_by": "vllm"}],
    }
    try:
        listed = httpx.get(f"{gw.url}/v1/models", headers={**auth(), **DE})
    finally:
        canned(gw).model_list = None
    assert listed.json()["data"] == [
        {"id": "llama3.1:8b", "object": "model", "created": 1721000000, "owned_by": "vllm"}
    ]


def test_a_model_whose_name_the_sanitizer_would_change_is_left_out(tmp_path: Path) -> None:
    from leakline.guard.pipeline import Gateway, Route, _Request, load_sanitizer

    settings = write_settings(tmp_path, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")
    route = Route(Gateway(settings), "models", "/models")
    sanitizer = load_sanitizer(settings)
    req = _Request(route="/v1/models")
    assert route.model_entry(req, sanitizer, {"id": f"ft:{EMAIL}"}) is None
    assert route.model_entry(req, sanitizer, {"id": DEMO_CANARY}) is None
    assert route.model_entry(req, sanitizer, {"id": "a\nb"}) is None
    assert route.model_entry(req, sanitizer, {"id": "meta-llama/Llama-3.1-8B", "owned_by": "ann.lee@example.com"}) == {
        "id": "meta-llama/Llama-3.1-8B",
        "object": "model",
        "created": 0,
        "owned_by": "system",
    }


# -- 11. raw U+2028, U+2029, U+0085 inside an event's JSON --


@pytest.mark.parametrize("char", ["\u2028", "\u2029", "\x85"])
def test_a_raw_unicode_line_separator_inside_a_json_string_is_not_an_sse_line_end(gw: Env, char: str) -> None:
    raw = '{"id":"c","object":"chat.completion.chunk","created":1,"model":"m","choices":[{"index":0,'
    raw += '"delta":{"role":"assistant","content":"line one' + char + 'line two"},"finish_reason":null}]}'
    canned(gw).answers["u2028"] = sse(b"data: " + raw.encode() + b"\n\n", _chunk(_delta({}, "stop")))
    response = post(gw, "u2028", stream=True)
    assert response.status_code == 200
    assert sse_events(response.text) == [
        {**CHUNK_TOP, "choices": [_delta({"role": "assistant", "content": ""})]},
        {**CHUNK_TOP, "choices": [_delta({"content": f"line one{char}line two"}, "stop")]},
        "[DONE]",
    ]


# -- 12. a delta that is not an object --


def test_a_delta_that_is_a_string_is_an_upstream_protocol_error(gw: Env) -> None:
    canned(gw).answers["delta-str"] = sse(_chunk(_delta(f"delta {DEMO_CANARY} {EMAIL}", "stop")))  # type: ignore[arg-type]
    response = post(gw, "delta-str", stream=True)
    assert (response.status_code, response.json()) == (
        502,
        error_event(f"{WHO} sent a choice whose `delta` is not an object"),
    )
    canned(gw).answers["delta-str-later"] = paced(
        event_bytes(_chunk(_delta({"role": "assistant", "content": "hi"}))),
        event_bytes(_chunk(_delta([f"{DEMO_CANARY} {EMAIL}"], "stop"))),  # type: ignore[arg-type]
    )
    later = post(gw, "delta-str-later", stream=True)
    assert sse_events(later.text)[-1] == error_event(f"{WHO} sent a choice whose `delta` is not an object")
    assert DEMO_CANARY not in later.text and "ann.lee" not in later.text
