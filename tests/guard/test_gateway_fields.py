"""Every text-bearing field of an answer passes the sanitizer, and nothing else leaves: the reviewer's cases.

A canned upstream on 127.0.0.1 sends, per prompt, the exact OpenAI payload a real server sends (vLLM's
`reasoning`, Ollama's `thinking`, legacy `function_call`, `logprobs`, content as a list of parts, tool
arguments with bare numbers or `\\uXXXX` escapes, streams without `[DONE]` or without tool-call `index`).
The tests read what the client receives, byte for byte where it matters, and the audit record.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from leakline.guard import fields
from leakline.guard.fields import DROPPED, opaque_id
from leakline.guard.upstream import ScriptedUpstream, UpstreamThread
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, audit_records, meta_of, serve, write_settings
from tests.guard.test_gateway_http import DE, auth, sse_events

CANARY = "lkc-7f3a9c1e5b2d48e6a0c4f8b1d3e5a7c9"
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def _completion(message: dict[str, Any], finish: str = "stop", **choice: Any) -> dict[str, Any]:
    return {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "llama3.1:8b",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish, **choice}],
    }


def _chunk(*choices: dict[str, Any], obj: str = "chat.completion.chunk") -> dict[str, Any]:
    return {"id": "c", "object": obj, "created": 1, "model": "llama3.1:8b", "choices": list(choices)}


def _delta(delta: dict[str, Any], finish: str | None = None, index: int = 0, **extra: Any) -> dict[str, Any]:
    return {"index": index, "delta": delta, "finish_reason": finish, **extra}


def whole(data: dict[str, Any], status: int = 200, headers: dict[str, str] | None = None) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.json_response(data, status=status, headers=headers)

    return handler


def sse(*events: dict[str, Any] | bytes, done: bool = True, abort: bool = False) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"content-type": "text/event-stream"})
        await response.prepare(request)
        for event in events:
            await response.write(event if isinstance(event, bytes) else f"data: {json.dumps(event)}\n\n".encode())
        if abort:
            assert request.transport is not None
            request.transport.abort()
            return response
        if done:
            await response.write(b"data: [DONE]\n\n")
        await response.write_eof()
        return response

    return handler


class Canned(ScriptedUpstream):
    """Answers each prompt with the handler registered for it."""

    def __init__(self) -> None:
        super().__init__()
        self.answers: dict[str, Handler] = {}

    async def _answer(self, request: web.Request, kind: str) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        key = body["prompt"] if kind == "completions" else body["messages"][-1]["content"]
        return await self.answers[key](request)

    async def embeddings(self, request: web.Request) -> web.Response:
        body = await request.json()
        handler = self.answers.get(body["input"]) if isinstance(body["input"], str) else None
        if handler is None:
            return await super().embeddings(request)
        self.requests.append(body)
        response = await handler(request)
        assert isinstance(response, web.Response)
        return response


def _canned_gateway(tmp: Path) -> Env:
    from leakline.web.app import create_app

    upstream = UpstreamThread(Canned()).start()
    settings = write_settings(tmp, upstream.upstream_url, upstream.upstream_url)
    return Env(serve(create_app(settings)), upstream, upstream, settings, tmp)


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    env = _canned_gateway(tmp_path_factory.mktemp("fields"))
    yield env
    env.served.stop()
    env.eu.stop()


def answers(env: Env) -> dict[str, Handler]:
    canned = env.eu.upstream
    assert isinstance(canned, Canned)
    return canned.answers


def post(
    env: Env, prompt: str, *, stream: bool = False, route: str = "chat/completions", **extra: Any
) -> httpx.Response:
    body: dict[str, Any] = {"model": "llama3.1:8b", "stream": stream, **extra}
    if route == "completions":
        body["prompt"] = prompt
    else:
        body["messages"] = [{"role": "user", "content": prompt}]
    return httpx.post(f"{env.url}/v1/{route}", json=body, headers={**auth(), **DE}, timeout=20)


def last_exchange(env: Env) -> dict[str, Any]:
    env.drain()
    records = audit_records(env.tmp / "audit-eu", env.tmp / "audit.key")
    return meta_of([r for r in records if meta_of(r).get("kind") == "gateway.exchange"][-1])


def choices(events: list[Any]) -> list[dict[str, Any]]:
    return [c for e in events if e != "[DONE]" for c in e["choices"]]


# -- 1. logprobs --

LOGPROBS = {
    "content": [
        {
            "token": "gina@example.com",
            "logprob": -0.1,
            "bytes": list(b"gina@example.com"),
            "top_logprobs": [{"token": "gina@example.com", "logprob": -0.1, "bytes": None}],
        }
    ]
}


def test_logprobs_are_dropped_from_a_whole_chat_answer(gw: Env) -> None:
    answers(gw)["lp"] = whole(_completion({"content": "mail gina@example.com"}, logprobs=LOGPROBS))
    response = post(gw, "lp", logprobs=True, top_logprobs=1)
    assert response.status_code == 200
    assert response.json()["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "mail [REDACTED:EMAIL]"},
            "finish_reason": "stop",
            "logprobs": None,
        }
    ]
    assert "gina" not in response.text


def test_logprobs_are_dropped_from_every_streamed_chunk_and_a_block_leaves_no_canary(gw: Env) -> None:
    parts = ["ref Zq", CANARY[:10], CANARY[10:] + " end"]
    answers(gw)["lps"] = sse(
        *(
            _chunk(_delta({"content": p}, logprobs={"content": [{"token": p, "logprob": -0.1, "bytes": None,
                                                                 "top_logprobs": [{"token": CANARY, "logprob": -1}]}]}))
            for p in parts
        ),
        _chunk(_delta({}, "stop")),
    )  # fmt: skip
    response = post(gw, "lps", stream=True, logprobs=True)
    assert CANARY[:10] not in response.text and "lkc-" not in response.text
    got = choices(sse_events(response.text))
    assert all(c.get("logprobs") is None for c in got)
    assert got[-1] == {"index": 0, "finish_reason": "content_filter", "delta": {}}


def test_a_choice_keeps_only_known_keys_that_hold_text_whole_and_streamed(gw: Env) -> None:
    # vLLM's stop_reason is the stop string that matched (text, dropped) or a token id (no text, kept).
    answers(gw)["ck"] = whole(
        _completion({"content": "ok"}, stop_reason="sent to gina@example.com", citations=[{"url": "mail gina@example.com"}])
    )
    response = post(gw, "ck")
    assert response.json()["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ]
    assert DROPPED["choice.stop_reason"] >= 1 and DROPPED["choice.citations"] >= 1
    answers(gw)["cks"] = sse(
        _chunk(_delta({"content": "ok"}, stop_reason=None)),
        _chunk(_delta({}, "stop", stop_reason="gina@example.com")),
        _chunk(_delta({}, None, stop_reason=128009)),
    )
    response = post(gw, "cks", stream=True)
    assert "gina" not in response.text
    # Unknown keys go whatever they hold: a number the upstream chose (a token id here) is a channel too.
    assert [c.get("stop_reason", "absent") for c in choices(sse_events(response.text))] == ["absent"] * 3


def test_logprobs_are_dropped_from_completions_whole_and_streamed(gw: Env) -> None:
    lp = {"tokens": ["call", " olga@example.com"], "token_logprobs": [-0.1, -0.2],
          "top_logprobs": [{"call": -0.1}, {" olga@example.com": -0.2}], "text_offset": [0, 4]}  # fmt: skip
    answers(gw)["c-lp"] = whole(
        {"id": "c", "object": "text_completion", "created": 1, "model": "m",
         "choices": [{"index": 0, "text": "call olga@example.com", "logprobs": lp, "finish_reason": "stop"}]}
    )  # fmt: skip
    response = post(gw, "c-lp", route="completions", logprobs=1)
    assert response.json()["choices"] == [
        {"index": 0, "text": "call [REDACTED:EMAIL]", "logprobs": None, "finish_reason": "stop"}
    ]
    answers(gw)["c-lps"] = sse(
        *(_chunk({"index": 0, "text": p, "logprobs": {"tokens": [p]}, "finish_reason": None}, obj="text_completion")
          for p in ["call ol", "ga@exa", "mple.com"]),
        _chunk({"index": 0, "text": "", "logprobs": None, "finish_reason": "stop"}, obj="text_completion"),
    )  # fmt: skip
    streamed = post(gw, "c-lps", route="completions", stream=True, logprobs=1)
    assert "olga" not in streamed.text and "ga@exa" not in streamed.text
    got = choices(sse_events(streamed.text))
    assert all(c["logprobs"] is None for c in got)
    assert "".join(c["text"] for c in got) == "call [REDACTED:EMAIL]"


# -- 2. every text-bearing field; unknown ones dropped --


def test_reasoning_thinking_refusal_and_content_parts_are_sanitized_and_unknown_text_keys_dropped(gw: Env) -> None:
    message = {
        "content": [{"type": "text", "text": "mail rita@example.com"}],
        "reasoning": "user is dave@example.com",
        "thinking": "card 4111 1111 1111 1111",
        "reasoning_content": "and ann@example.com",
        "refusal": "I won't mail erin@example.com",
        "x_debug": {"prompt": "zoe@example.com"},
        "x_cached": True,
        "x_score": [1, 2],
    }
    answers(gw)["fields"] = whole(_completion(message))
    before = DROPPED["message.x_debug"]
    response = post(gw, "fields")
    assert DROPPED["message.x_debug"] == before + 1
    # Unknown keys go whatever they hold: a flag or a list of numbers is a channel as much as text is.
    assert DROPPED["message.x_cached"] >= 1 and DROPPED["message.x_score"] >= 1
    assert response.json()["choices"][0]["message"] == {
        "role": "assistant",
        "content": [{"type": "text", "text": "mail [REDACTED:EMAIL]"}],
        "reasoning": "user is [REDACTED:EMAIL]",
        "thinking": "card [REDACTED:PAYMENT_CARD]",
        "reasoning_content": "and [REDACTED:EMAIL]",
        "refusal": "I won't mail [REDACTED:EMAIL]",
    }
    assert "zoe" not in response.text


@pytest.mark.parametrize("field", ["reasoning", "thinking"])
def test_streamed_reasoning_and_thinking_are_sanitized(gw: Env, field: str) -> None:
    answers(gw)[f"s-{field}"] = sse(
        *(_chunk(_delta({field: p})) for p in ["user is da", "ve@examp", "le.com, card 4111 1111 ", "1111 1111"]),
        _chunk(_delta({"content": "done", "x_trace": "tom@example.com"})),
        _chunk(_delta({}, "stop")),
    )
    response = post(gw, f"s-{field}", stream=True)
    got = choices(sse_events(response.text))
    assert "".join(c["delta"].get(field) or "" for c in got) == "user is [REDACTED:EMAIL], card [REDACTED:PAYMENT_CARD]"
    assert "".join(c["delta"].get("content") or "" for c in got) == "done"
    assert "tom@" not in response.text and "x_trace" not in response.text


def test_a_block_empties_every_text_field_of_every_choice(gw: Env) -> None:
    message = {
        "content": f"the ref is {CANARY}",
        "refusal": "fine, mail quinn@example.com",
        "reasoning": f"ref {CANARY}",
        "function_call": {"name": "send", "arguments": '{"to": "quinn@example.com"}'},
    }
    answers(gw)["blockmix"] = whole(
        _completion(
            message, logprobs={"content": [{"token": CANARY, "logprob": -0.1, "bytes": None, "top_logprobs": []}]}
        )
    )
    response = post(gw, "blockmix")
    assert response.json()["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": ""},
            "finish_reason": "content_filter",
            "logprobs": None,
        }
    ]
    assert last_exchange(gw)["blocked"] is True


# -- 3/4. tool and function arguments as JSON --


def test_whole_tool_arguments_are_sanitized_as_decoded_json_and_stay_json(gw: Env) -> None:
    fw = "\uff14\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11 \uff11\uff11\uff11\uff11"
    arguments = json.dumps({"card": fw, "email": "ann\uff20example.com", "n": 4111111111111111, "amount": 12.50})
    assert "\\uff20" in arguments  # what the app's json.loads decodes
    calls = [{"id": "call_1", "type": "function", "function": {"name": "pay", "arguments": arguments}}]
    answers(gw)["tools"] = whole(_completion({"content": None, "tool_calls": calls}, "tool_calls"))
    response = post(gw, "tools")
    got = response.json()["choices"][0]["message"]["tool_calls"][0]["function"]["arguments"]
    assert got == (
        '{"card":"[REDACTED:PAYMENT_CARD]","email":"[REDACTED:EMAIL]","n":"[REDACTED:PAYMENT_CARD]","amount":12.5}'
    )
    assert json.loads(got)["amount"] == 12.5


def test_arguments_that_are_not_json_keep_text_sanitization(gw: Env) -> None:
    calls = [
        {"id": "call_1", "type": "function", "function": {"name": "pay", "arguments": "to bob@example.com {"}},
        # Ollama's native shape: arguments as an object, which the gateway does not read: dropped.
        {"id": "call_2", "type": "function", "function": {"name": "mail", "arguments": {"to": "bob@example.com"}}},
    ]
    answers(gw)["tools-text"] = whole(_completion({"content": None, "tool_calls": calls}, "tool_calls"))
    got = post(gw, "tools-text").json()["choices"][0]["message"]["tool_calls"]
    assert [c["function"] for c in got] == [{"name": "pay", "arguments": "to [REDACTED:EMAIL] {"}, {"name": "mail"}]


def test_legacy_function_call_is_sanitized_whole_and_streamed(gw: Env) -> None:
    arguments = json.dumps({"to": "frank@example.com"})
    answers(gw)["fcall"] = whole(
        _completion({"content": None, "function_call": {"name": "send", "arguments": arguments}}, "function_call")
    )
    assert post(gw, "fcall").json()["choices"][0]["message"]["function_call"] == {
        "name": "send",
        "arguments": '{"to":"[REDACTED:EMAIL]"}',
    }
    answers(gw)["s-fcall"] = sse(
        _chunk(_delta({"role": "assistant", "function_call": {"name": "send", "arguments": arguments[:9]}})),
        _chunk(_delta({"function_call": {"arguments": arguments[9:]}})),
        _chunk(_delta({}, "function_call")),
    )
    response = post(gw, "s-fcall", stream=True)
    assert "frank" not in response.text
    got = choices(sse_events(response.text))
    calls = [c["delta"]["function_call"] for c in got if "function_call" in c["delta"]]
    assert "".join(c.get("arguments", "") for c in calls) == '{"to":"[REDACTED:EMAIL]"}'
    assert [c.get("name") for c in calls if c.get("name")] == ["send"]


def test_streamed_tool_arguments_are_held_until_the_call_is_complete(gw: Env) -> None:
    a0 = json.dumps({"to": "frank@example.com"})
    a1 = json.dumps({"card": 4111111111111111})
    answers(gw)["s-tools"] = sse(
        _chunk(_delta({"role": "assistant", "tool_calls": [
            {"index": 0, "id": "c0", "type": "function", "function": {"name": "a", "arguments": a0[:9]}}]})),
        _chunk(_delta({"tool_calls": [{"index": 0, "function": {"arguments": a0[9:]}}]})),
        _chunk(_delta({"tool_calls": [
            {"index": 1, "id": "c1", "type": "function", "function": {"name": "b", "arguments": a1[:12]}}]})),
        _chunk(_delta({"tool_calls": [{"index": 1, "function": {"arguments": a1[12:]}}]})),
        _chunk(_delta({}, "tool_calls")),
    )  # fmt: skip
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=KEYS["storefront"], default_headers=DE, max_retries=0)
    with client.chat.completions.stream(model="llama3.1:8b", messages=[{"role": "user", "content": "s-tools"}]) as s:
        for _ in s:
            pass
        final = s.get_final_completion()
    calls = final.choices[0].message.tool_calls or []
    assert [(c.id, c.function.name, c.function.arguments) for c in calls] == [  # type: ignore[union-attr]
        (opaque_id("c0", "call_"), "a", '{"to":"[REDACTED:EMAIL]"}'),
        (opaque_id("c1", "call_"), "b", '{"card":"[REDACTED:PAYMENT_CARD]"}'),
    ]


def test_interleaved_streamed_tool_calls_release_no_partial_arguments(gw: Env) -> None:
    a0 = json.dumps({"to": "frank@example.com"})
    a1 = json.dumps({"card": "4111 1111 1111 1111"})
    answers(gw)["interleaved"] = sse(
        _chunk(_delta({"role": "assistant", "tool_calls": [
            {"index": 0, "id": "c0", "type": "function", "function": {"name": "a", "arguments": a0[:9]}}]})),
        _chunk(_delta({"tool_calls": [
            {"index": 1, "id": "c1", "type": "function", "function": {"name": "b", "arguments": a1[:12]}}]})),
        _chunk(_delta({"tool_calls": [{"index": 0, "function": {"arguments": a0[9:]}}]})),
        _chunk(_delta({"tool_calls": [{"index": 1, "function": {"arguments": a1[12:]}}]})),
        _chunk(_delta({}, "tool_calls")),
    )  # fmt: skip
    response = post(gw, "interleaved", stream=True)
    got = choices(sse_events(response.text))
    sent = [
        (call["index"], call["function"].get("arguments")) for c in got for call in c["delta"].get("tool_calls", ())
    ]
    assert [a for _, a in sent if a] == ['{"to":"[REDACTED:EMAIL]"}', '{"card":"[REDACTED:PAYMENT_CARD]"}']
    assert [i for i, a in sent if a] == [0, 1]
    assert got[-1]["finish_reason"] == "tool_calls" and "1111" not in response.text


def test_streamed_tool_calls_without_index_keep_their_position(gw: Env) -> None:
    a0 = json.dumps({"to": "x"})
    a1 = json.dumps({"card": "4111 1111 1111 1111"})
    answers(gw)["noindex"] = sse(
        _chunk(_delta({"role": "assistant", "tool_calls": [
            {"id": "c0", "type": "function", "function": {"name": "a", "arguments": a0}},
            {"id": "c1", "type": "function", "function": {"name": "b", "arguments": a1}}]})),
        _chunk(_delta({}, "tool_calls")),
    )  # fmt: skip
    response = post(gw, "noindex", stream=True)
    calls: dict[int, dict[str, str]] = {}
    for c in choices(sse_events(response.text)):
        for call in c["delta"].get("tool_calls") or ():
            slot = calls.setdefault(call["index"], {"id": "", "args": ""})
            slot["id"] += call.get("id") or ""
            slot["args"] += call.get("function", {}).get("arguments") or ""
    assert calls == {
        0: {"id": opaque_id("c0", "call_"), "args": '{"to": "x"}'},
        1: {"id": opaque_id("c1", "call_"), "args": '{"card":"[REDACTED:PAYMENT_CARD]"}'},
    }


def test_json_mode_content_keeps_a_redacted_bare_number_valid_json(gw: Env) -> None:
    content = '{"card": 4111111111111111, "note": "ok"}'
    answers(gw)["jm"] = whole(_completion({"content": content}))
    got = post(gw, "jm", response_format={"type": "json_object"}).json()["choices"][0]["message"]["content"]
    assert json.loads(got) == {"card": "[REDACTED:PAYMENT_CARD]", "note": "ok"}
    answers(gw)["s-jm"] = sse(
        *(_chunk(_delta({"content": p})) for p in ['{"card": 41111', "11111111111", ', "mail": "a@b.example.com"}']),
        _chunk(_delta({}, "stop")),
    )
    response = post(gw, "s-jm", stream=True, response_format={"type": "json_object"})
    text = "".join(c["delta"].get("content") or "" for c in choices(sse_events(response.text)))
    assert text == '{"card": "[REDACTED:PAYMENT_CARD]", "mail": "[REDACTED:EMAIL]"}'


def streamed_text(response: httpx.Response) -> str:
    return "".join(c["delta"].get("content") or "" for c in choices(sse_events(response.text)))


def test_streamed_json_mode_content_is_judged_with_its_escapes_decoded(gw: Env) -> None:
    # The escape is cut between two chunks and the address between two more: held until both are whole.
    pieces = ['{"email": "ann\\u00', "40exam", 'ple.com", "n": 1}']
    answers(gw)["s-mailesc"] = sse(*(_chunk(_delta({"content": p})) for p in pieces), _chunk(_delta({}, "stop")))
    answers(gw)["mailesc-whole"] = whole(_completion({"content": "".join(pieces)}))
    json_mode = {"type": "json_object"}
    streamed = post(gw, "s-mailesc", stream=True, response_format=json_mode)
    assert "ann" not in streamed.text and "exam" not in streamed.text
    assert streamed_text(streamed) == '{"email": "[REDACTED:EMAIL]", "n": 1}'
    whole_content = post(gw, "mailesc-whole", response_format=json_mode).json()["choices"][0]["message"]["content"]
    assert whole_content == '{"email":"[REDACTED:EMAIL]","n":1}'
    assert json.loads(streamed_text(streamed)) == json.loads(whole_content)


def test_streamed_json_mode_content_keeps_its_value_when_nothing_is_redacted(gw: Env) -> None:
    pieces = ['{"note": "caf\\u00e9 \\uD83D', '\\uDE00 \\\\u0040 \\u0022q\\u0022", "nl": "\\u000a"}']
    answers(gw)["s-noesc"] = sse(*(_chunk(_delta({"content": p})) for p in pieces), _chunk(_delta({}, "stop")))
    got = streamed_text(post(gw, "s-noesc", stream=True, response_format={"type": "json_object"}))
    assert got == '{"note": "caf\u00e9 \U0001f600 \\\\u0040 \\"q\\"", "nl": "\\u000a"}'
    assert json.loads(got) == json.loads("".join(pieces))
    # Without JSON mode the text is not JSON to the app: a code sample's `\\u0040` is shown as written.
    answers(gw)["s-noesc-text"] = sse(_chunk(_delta({"content": "print('\\u0040')"})), _chunk(_delta({}, "stop")))
    assert streamed_text(post(gw, "s-noesc-text", stream=True)) == "print('\\u0040')"


def test_whole_json_mode_content_that_does_not_parse_is_judged_with_its_escapes_decoded(gw: Env) -> None:
    # Cut off by max_tokens: not a JSON document, still JSON text to the app that repairs or shows it.
    answers(gw)["cut-mailesc"] = whole(_completion({"content": '{"email": "ann\\u0040example.com", "n'}, "length"))
    got = post(gw, "cut-mailesc", response_format={"type": "json_object"}).json()["choices"][0]["message"]["content"]
    assert got == '{"email": "[REDACTED:EMAIL]", "n'


def test_a_whole_answer_that_is_json_is_judged_with_its_escapes_decoded(gw: Env) -> None:
    answers(gw)["mailesc"] = whole(_completion({"content": '{"email": "ann\\u0040example.com", "n": 1}'}))
    got = post(gw, "mailesc").json()["choices"][0]["message"]["content"]
    assert got == '{"email":"[REDACTED:EMAIL]","n":1}'
    answers(gw)["plain-brace"] = whole(_completion({"content": "{ not json: bob@example.com"}))
    assert post(gw, "plain-brace").json()["choices"][0]["message"]["content"] == "{ not json: [REDACTED:EMAIL]"


def test_prompt_redaction_keeps_tool_arguments_json(tmp_path: Path) -> None:
    from leakline.guard.pipeline import load_sanitizer
    from leakline.guard.policies import redact_prompt

    settings = write_settings(tmp_path, "http://127.0.0.1:9/v1", "http://127.0.0.1:9/v1")
    prompts = load_sanitizer(settings).policy.for_prompts()  # type: ignore[attr-defined]
    from leakline.guard.sanitize import Sanitizer

    arguments = json.dumps({"card": 4111111111111111, "mail": "ann\uff20example.com"})
    body = {"messages": [{"role": "assistant", "tool_calls": [
        {"id": "c", "type": "function", "function": {"name": "pay", "arguments": arguments}}]}]}  # fmt: skip
    out, hits = redact_prompt("chat", Sanitizer(prompts), body)
    assert out["messages"][0]["tool_calls"][0]["function"]["arguments"] == (
        '{"card":"[REDACTED:PAYMENT_CARD]","mail":"[REDACTED:EMAIL]"}'
    )
    assert [(h.detector, h.where) for h in hits] == [
        ("payment_card", "messages[0].tool_calls[0].function.arguments"),
        ("email", "messages[0].tool_calls[0].function.arguments"),
    ]


# -- 5. a stream that ends without [DONE] --


def test_a_stream_ending_without_done_before_its_finish_is_an_upstream_error(gw: Env) -> None:
    answers(gw)["nodone"] = sse(*(_chunk(_delta({"content": p})) for p in ["hi th", "ere ", "friend"]), done=False)
    response = post(gw, "nodone", stream=True)
    events = sse_events(response.text)
    assert events[-1] == {
        "error": {
            "message": "the upstream of region 'eu' ended the stream before choice 0 finished (no [DONE])",
            "type": "upstream_error",
            "param": None,
            "code": "upstream_protocol_error",
        }
    }
    assert "[DONE]" not in events
    meta = last_exchange(gw)
    assert (meta["status"], meta["error"]) == (502, "upstream_protocol_error")


def test_a_finished_stream_without_done_is_tolerated(gw: Env) -> None:
    answers(gw)["nodone-ok"] = sse(_chunk(_delta({"content": "hi"})), _chunk(_delta({}, "stop")), done=False)
    events = sse_events(post(gw, "nodone-ok", stream=True).text)
    assert events[-1] == "[DONE]"
    assert choices(events)[-1]["finish_reason"] == "stop"


def test_an_event_stream_of_raw_json_lines_is_an_upstream_error(gw: Env) -> None:
    line = json.dumps(_completion({"content": "hello vic@example.com"})).encode() + b"\n"
    answers(gw)["rawjson"] = sse(line, done=False)
    response = post(gw, "rawjson", stream=True)
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_protocol_error"
    assert "vic" not in response.text


def test_a_connection_dropped_mid_stream_is_upstream_unavailable(gw: Env) -> None:
    answers(gw)["abort"] = sse(*(_chunk(_delta({"content": p})) for p in ["hi pa", "ul@exam", "ple.com "]), abort=True)
    response = post(gw, "abort", stream=True)
    events = sse_events(response.text)
    assert events[-1]["error"]["code"] == "upstream_unavailable"
    assert "paul" not in response.text and "ul@exam" not in response.text
    meta = last_exchange(gw)
    assert (meta["status"], meta["error"]) == (502, "upstream_unavailable")
    samples = {
        tuple(sorted(s.labels.items())): s.value
        for metric in gw.gateway.metrics.upstream_errors.collect()
        for s in metric.samples
        if s.name.endswith("_total")
    }
    assert samples[(("code", "upstream_unavailable"), ("region", "eu"))] >= 1


# -- 6. streamed tool calls without index: see above; 7. retry-after --


@pytest.mark.parametrize(("status", "code"), [(429, "upstream_rejected"), (503, "upstream_unavailable")])
def test_retry_after_of_an_upstream_refusal_reaches_the_client(gw: Env, status: int, code: str) -> None:
    answers(gw)[f"err{status}"] = whole(
        {"error": {"message": "slow down", "type": "x"}},
        status=status,
        headers={"retry-after": "7", "retry-after-ms": "7000", "x-ollama-model": "q4"},
    )
    response = post(gw, f"err{status}")
    assert response.json()["error"]["code"] == code
    assert (response.headers.get("retry-after"), response.headers.get("retry-after-ms")) == ("7", "7000")
    assert "x-ollama-model" not in response.headers


# -- 9. GET /v1/models/{id} --


def test_a_model_is_retrieved_from_the_filtered_list(gw: Env) -> None:
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=KEYS["eu-only"], default_headers=DE, max_retries=0)
    model = client.models.retrieve("llama3.1:8b")
    assert (model.id, model.object) == ("llama3.1:8b", "model")
    with pytest.raises(openai.NotFoundError) as missing:
        client.models.retrieve("mistral:7b")  # the upstream has it; the key may not use it
    assert missing.value.body == {
        "message": "the model 'mistral:7b' does not exist or this key may not use it",
        "type": "invalid_request_error",
        "param": "model",
        "code": "model_not_found",
    }


# -- 10. the top level of an answer and of every chunk --

# What vLLM sends with `prompt_logprobs` / `return_token_ids`: the prompt token by token (system prompt,
# the canary the gateway planted), as decoded text or as bare numbers; both are the prompt.
PROMPT_LOGPROBS = [
    None,
    {"2675": {"logprob": -1.5, "rank": 1, "decoded_token": "You are the shopping assistant"}},
    {"1111": {"logprob": -0.2, "rank": 1, "decoded_token": CANARY}},
    {"3012": {"logprob": -0.7, "rank": 2}},
]
USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 3,
    "total_tokens": 15,
    "prompt_tokens_details": {"cached_tokens": 8, "note": "cache hit for 'You are the shopping assistant'"},
    "completion_tokens_details": None,
    "debug": "prompt was: You are the shopping assistant",
    "per_token": [1, 2, 3],
}
USAGE_KEPT = {
    "prompt_tokens": 12,
    "completion_tokens": 3,
    "total_tokens": 15,
    "prompt_tokens_details": {"cached_tokens": 8},
    "completion_tokens_details": None,
}


def test_a_whole_answers_top_level_keeps_known_keys_and_usage_numbers_only(gw: Env) -> None:
    answer = _completion({"content": "hello"}, token_ids=[9906, 0])
    answer.update(
        system_fingerprint=None,
        service_tier="default",
        usage=USAGE,
        prompt_logprobs=PROMPT_LOGPROBS,
        prompt_token_ids=[128000, 2675, 527],
        kv_transfer_params={"remote_engine_id": "prefill-0", "remote_block_ids": [4, 5]},
        timings={"prompt_n": 12, "predicted_ms": 31.5},  # llama.cpp's: numbers the upstream chose, dropped
        x_cache="HIT",  # llama.cpp's `__verbose` and the like: text the sanitizer never read
        context=[128000, 2675, 527],  # a list of numbers may be token ids: dropped
    )
    answers(gw)["top"] = whole(answer)
    before = {name: DROPPED[name] for name in ("answer.prompt_logprobs", "answer.usage.debug", "choice.token_ids")}
    response = post(gw, "top")
    assert response.json() == {
        "id": opaque_id("x", "chatcmpl-"),
        "object": "chat.completion",
        "created": 1,
        "model": "llama3.1:8b",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": "hello"}, "finish_reason": "stop"}],
        "system_fingerprint": None,
        "service_tier": "default",
        "usage": USAGE_KEPT,
    }
    assert {name: DROPPED[name] - count for name, count in before.items()} == dict.fromkeys(before, 1)
    assert CANARY not in response.text and "shopping" not in response.text and "128000" not in response.text


def test_every_streamed_chunks_top_level_is_screened(gw: Env) -> None:
    first = _chunk(_delta({"role": "assistant", "content": "hel"}, token_ids=[9906]))
    first.update(prompt_logprobs=PROMPT_LOGPROBS, prompt_token_ids=[128000, 2675, 527], x_trace="prompt: hi")
    usage = {**_chunk(), "usage": USAGE, "kv_transfer_params": {"remote_block_ids": [4, 5]}}
    answers(gw)["top-s"] = sse(first, _chunk(_delta({"content": "lo"}, "stop", token_ids=[385])), usage)
    response = post(gw, "top-s", stream=True, stream_options={"include_usage": True})
    meta = {"id": opaque_id("c", "chatcmpl-"), "object": "chat.completion.chunk", "created": 1, "model": "llama3.1:8b"}
    expected = [
        {**meta, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        {**meta, "choices": [{"index": 0, "delta": {"content": "hello"}, "finish_reason": "stop"}]},
        {**meta, "choices": [], "usage": USAGE_KEPT},
    ]
    assert response.text == "".join(f"data: {json.dumps(e, separators=(',', ':'))}\n\n" for e in expected) + (
        "data: [DONE]\n\n"
    )


def test_completions_choices_lose_the_prompt_and_token_ids_whole_and_streamed(gw: Env) -> None:
    choice = {"index": 0, "text": "ok", "logprobs": None, "finish_reason": "stop",
              "prompt_logprobs": PROMPT_LOGPROBS, "prompt_token_ids": [128000, 2675], "token_ids": [564]}  # fmt: skip
    answers(gw)["c-top"] = whole(
        {"id": "c", "object": "text_completion", "created": 1, "model": "m", "choices": [choice], "usage": USAGE}
    )
    assert post(gw, "c-top", route="completions").json() == {
        "id": opaque_id("c", "cmpl-"),
        "object": "text_completion",
        "created": 1,
        "model": "llama3.1:8b",  # the model asked for, not the upstream's name ("m")
        "choices": [{"index": 0, "text": "ok", "logprobs": None, "finish_reason": "stop"}],
        "usage": USAGE_KEPT,
    }
    answers(gw)["c-top-s"] = sse(
        {**_chunk({**choice, "finish_reason": None}, obj="text_completion"), "prompt_token_ids": [128000]},
        _chunk({"index": 0, "text": "", "finish_reason": "stop", "token_ids": [128009]}, obj="text_completion"),
    )
    got = sse_events(post(gw, "c-top-s", route="completions", stream=True).text)
    meta = {"id": opaque_id("c", "cmpl-"), "object": "text_completion", "created": 1, "model": "llama3.1:8b"}
    assert got == [
        {**meta, "choices": [{"index": 0, "text": "", "logprobs": None, "finish_reason": None}]},
        {**meta, "choices": [{"index": 0, "text": "ok", "finish_reason": "stop"}]},
        "[DONE]",
    ]


def test_an_embeddings_answer_keeps_vectors_and_numbers_only(gw: Env) -> None:
    vector_b64 = "zczMPc3MTL6amZk+"  # three float32, as `encoding_format: "base64"` sends them
    answers(gw)["embed this"] = whole(
        {
            "id": "embd-1",
            "object": "list",
            "created": 1,
            "model": "llama3.1:8b",
            "data": [
                {"object": "embedding", "index": 0, "embedding": [0.1, -0.2, 0.3], "text": "embed this"},
                {"object": "embedding", "index": 1, "embedding": vector_b64},
                {"object": "embedding", "index": 2, "embedding": "input: embed mail ann@example.com"},
            ],
            "usage": {"prompt_tokens": 6, "total_tokens": 6, "tokens": ["embed", " mail"]},
            "prompt_token_ids": [128000, 336],
            "input": "embed mail ann@example.com",
        }
    )
    response = post(gw, "embed this", route="embeddings", input="embed this")
    assert response.json() == {
        "id": opaque_id("embd-1", "chatcmpl-"),
        "object": "list",
        "created": 1,
        "model": "llama3.1:8b",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.1, -0.2, 0.3]},
            {"object": "embedding", "index": 1, "embedding": vector_b64},
            {"object": "embedding", "index": 2},
        ],
        "usage": {"prompt_tokens": 6, "total_tokens": 6},
    }
    client = openai.OpenAI(base_url=f"{gw.url}/v1", api_key=KEYS["storefront"], default_headers=DE, max_retries=0)
    plain = client.embeddings.create(model="llama3.1:8b", input=["a", "b"])  # the scripted upstream's own answer
    assert [(e.index, e.embedding) for e in plain.data] == [(0, [0.1, -0.2, 0.3]), (1, [0.1, -0.2, 0.3])]


# -- 11. every dropped field is a Prometheus series --


def dropped_series(env: Env) -> dict[str, float]:
    """`leakline_gateway_dropped_fields_total` by `field`, from one scrape of `/metrics`."""
    text = httpx.get(f"{env.url}/metrics", timeout=10).text
    return {
        sample.labels["field"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "leakline_gateway_dropped_fields_total"
    }


def test_dropped_fields_are_counted_by_name_in_metrics_whole_and_streamed(gw: Env) -> None:
    answer = _completion({"content": "ok", "x_debug": "zoe@example.com"}, stop_reason="gina@example.com")
    answers(gw)["m-drop"] = whole({**answer, "prompt_logprobs": PROMPT_LOGPROBS})
    first = {**_chunk(_delta({"content": "ok", "x_debug": "zoe"})), "prompt_token_ids": [128000]}
    answers(gw)["m-drop-s"] = sse(first, _chunk(_delta({}, "stop", stop_reason="gina@example.com")))
    names = ("answer.prompt_logprobs", "answer.prompt_token_ids", "choice.stop_reason", "message.x_debug",
             "delta.x_debug")  # fmt: skip
    before = dropped_series(gw)
    assert post(gw, "m-drop").status_code == 200
    assert post(gw, "m-drop-s", stream=True).status_code == 200
    after = dropped_series(gw)
    assert {name: after[name] - before.get(name, 0.0) for name in names} == {
        "answer.prompt_logprobs": 1,
        "answer.prompt_token_ids": 1,
        "choice.stop_reason": 2,
        "message.x_debug": 1,
        "delta.x_debug": 1,
    }
    assert not any("@" in name or "zoe" in name for name in after)


def test_the_dropped_fields_metric_has_at_most_a_hundred_names_and_other(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fresh process-wide table and a fresh gateway: the names other tests dropped take no slot here.
    monkeypatch.setattr(fields, "DROPPED", Counter())
    env = _canned_gateway(tmp_path)
    try:
        keys = {f"x_{i}": "text" for i in range(150)}
        keys["mail ann@example.com"] = "text"  # a key's name is upstream text too: never a label
        answers(env)["many"] = whole({**_completion({"content": "ok"}), **keys})
        response = post(env, "many")
        assert response.json()["choices"][0]["message"] == {"role": "assistant", "content": "ok"}
        series = dropped_series(env)
    finally:
        env.served.stop()
        env.eu.stop()
    assert series == {**{f"answer.x_{i}": 1.0 for i in range(100)}, "other": 51.0}
    table = fields.DROPPED
    assert table == Counter({**{f"answer.x_{i}": 1 for i in range(100)}, "other": 51})


# -- protocol words and ids: what an upstream chooses cannot carry anything out --

SECRET_WORD = "ann@example.com"


def _hostile_whole() -> dict[str, Any]:
    return {
        "id": CANARY,
        "object": SECRET_WORD,
        "created": 1,
        "model": "llama3.1:8b",
        "service_tier": CANARY,
        "choices": [{
            "index": 0,
            "message": {
                "role": CANARY,
                "content": [{"type": SECRET_WORD, "text": "hi"}],
                "tool_calls": [{"id": CANARY, "type": SECRET_WORD, "function": {"name": "f", "arguments": "{}"}}],
            },
            "finish_reason": SECRET_WORD,
        }],
        "usage": {"prompt_tokens": 4111111111111111, "completion_tokens": 3, "total_tokens": 7, "x": {"a": 493012345678},
                  "prompt_tokens_details": {"cached_tokens": 2, "card": 4111111111111111}},
        "timings": {"c1": 4111111111111111},
    }  # fmt: skip


def test_protocol_words_ids_and_numbers_an_upstream_chooses_carry_nothing_out_whole(gw: Env) -> None:
    """A hostile or compromised upstream (or a tool parser copying model text) wrote the canary and an address
    into fields no detector reads: `id`, `object`, `service_tier`, `finish_reason`, `role`, a tool call's `id`
    and `type`, a part's `type`, and a card number into token counts and made-up numeric keys. All of them
    reached the client. Protocol words are now one of their known values, ids are replaced, and counts are
    counts."""
    answers(gw)["hostile"] = whole(_hostile_whole())
    response = post(gw, "hostile")
    assert response.status_code == 200
    assert response.json() == {
        "id": opaque_id(CANARY, "chatcmpl-"),
        "object": "chat.completion",
        "created": 1,
        "model": "llama3.1:8b",
        "service_tier": None,
        "choices": [{
            "index": 0,
            "message": {
                "role": "assistant",
                "content": [{"type": "text", "text": "hi"}],
                "tool_calls": [{"id": opaque_id(CANARY, "call_"), "type": "function",
                                "function": {"name": "f", "arguments": "{}"}}],
            },
            "finish_reason": "stop",
        }],
        "usage": {"completion_tokens": 3, "total_tokens": 7, "prompt_tokens_details": {"cached_tokens": 2}},
    }  # fmt: skip
    for secret in (CANARY, SECRET_WORD, "4111111111111111", "493012345678"):
        assert secret not in response.text


def test_protocol_words_and_ids_carry_nothing_out_streamed(gw: Env) -> None:
    first = {**_chunk(_delta({"role": CANARY, "content": "hel"})), "id": CANARY, "object": SECRET_WORD,
             "service_tier": SECRET_WORD}  # fmt: skip
    call = {"index": 0, "id": CANARY, "type": SECRET_WORD, "function": {"name": "f", "arguments": "{}"}}
    second = {**_chunk(_delta({"tool_calls": [call]}, SECRET_WORD)), "id": CANARY}
    answers(gw)["hostile-s"] = sse(first, second)
    response = post(gw, "hostile-s", stream=True)
    for secret in (CANARY, SECRET_WORD):
        assert secret not in response.text
    events = [e for e in sse_events(response.text) if e != "[DONE]"]
    assert {e["id"] for e in events} == {opaque_id(CANARY, "chatcmpl-")}  # one id for the whole stream
    assert {e["object"] for e in events} == {"chat.completion.chunk"}
    deltas = [c["delta"] for c in choices(events)]
    assert deltas[0].get("role") == "assistant"
    calls = [call for d in deltas for call in d.get("tool_calls", [])]
    assert [(c.get("id"), c.get("type")) for c in calls if "id" in c] == [(opaque_id(CANARY, "call_"), "function")]
    assert [c["finish_reason"] for c in choices(events)][-1] == "stop"


def test_a_choice_whose_index_is_not_a_number_is_an_upstream_protocol_error(gw: Env) -> None:
    answer = _completion({"content": "ok"})
    answer["choices"][0]["index"] = CANARY
    answers(gw)["bad-index"] = whole(answer)
    response = post(gw, "bad-index")
    assert response.status_code == 502
    assert response.json()["error"]["code"] == "upstream_protocol_error"
    assert CANARY not in response.text


def test_opaque_ids_keep_prefix_length_and_alphabet_and_map_one_to_one() -> None:
    mistral = opaque_id("a1B2c3D4e", "call_")  # Mistral's templates check nine letters and digits
    assert len(mistral) == 9 and mistral.isalnum() and mistral != "a1B2c3D4e"
    assert opaque_id("a1B2c3D4e", "call_") == mistral
    assert opaque_id("call_abc", "call_").startswith("call_") and len(opaque_id("call_abc", "call_")) == 8
    assert opaque_id("chatcmpl-" + "x" * 80, "chatcmpl-").startswith("chatcmpl-")
    assert len(opaque_id("chatcmpl-" + "x" * 80, "chatcmpl-")) == 64
    assert opaque_id(7, "cmpl-").startswith("cmpl-")
    assert opaque_id("c0", "call_") != opaque_id("c1", "call_")
