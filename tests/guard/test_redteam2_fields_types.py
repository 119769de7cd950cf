"""Red team, round 2 (fields side): values of an unexpected JSON type, numbers in id channels, embeddings.

Problems 2, 7 and 9 of the report: a field whose value had a type the pipeline does not read (a string
choice, a string `message`, a list inside a content part, a tool call's `function` as a string) went out
unread; `created`, a choice's and a tool call's `index` carried a card number; an embedding's `object`,
`index` and a base64-looking string carried the canary and an address. A canned upstream on 127.0.0.1
sends each payload; the tests read the exact JSON the client receives, whole and streamed.
"""

from __future__ import annotations

import base64
import struct
import time
from collections.abc import Iterator
from typing import Any

import pytest

from leakline.guard.errors import UpstreamProtocolError
from leakline.guard.fields import DROPPED, MAX_INDEX, is_vector, opaque_id, screen_choice
from leakline.guard.upstream import DEMO_CANARY
from tests.guard.conftest import Env
from tests.guard.test_gateway_fields import _canned_gateway, _chunk, _completion, _delta, answers, post, sse, whole
from tests.guard.test_gateway_http import sse_events

EMAIL = "ann.lee@example.com"
CARD = "4111111111111111"
SECRETS = (DEMO_CANARY, EMAIL, "ann.lee", CARD, "4111")
META = {"id": opaque_id("x", "chatcmpl-"), "object": "chat.completion", "created": 1, "model": "llama3.1:8b"}
CHUNK_META = {
    "id": opaque_id("c", "chatcmpl-"),
    "object": "chat.completion.chunk",
    "created": 1,
    "model": "llama3.1:8b",
}


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    env = _canned_gateway(tmp_path_factory.mktemp("redteam2-fields"))
    yield env
    env.served.stop()
    env.eu.stop()


def _clean(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


def _protocol_error(response: Any, message: str) -> None:
    assert response.status_code == 502, response.text
    assert response.json() == {
        "error": {"message": message, "type": "upstream_error", "param": None, "code": "upstream_protocol_error"}
    }


def _stream(gw: Env, prompt: str, *events: dict[str, Any]) -> list[Any]:
    answers(gw)[prompt] = sse(*events)
    response = post(gw, prompt, stream=True)
    assert response.status_code == 200, response.text
    _clean(response.text)
    return sse_events(response.text)


# -- problem 2: a value of another type than the one read ------------------------------------------------


def test_a_choice_that_is_a_string_refuses_the_whole_answer(gw: Env) -> None:
    data = _completion({"content": "ok"})
    data["choices"].append(f"mail {EMAIL} card {CARD} {DEMO_CANARY}")
    answers(gw)["t-choice-str"] = whole(data)
    response = post(gw, "t-choice-str")
    _protocol_error(response, "the upstream sent a choice that is not an object")
    _clean(response.text)


def test_a_message_or_delta_that_is_a_string_is_an_upstream_protocol_error_whole_and_streamed(gw: Env) -> None:
    data = _completion({})
    data["choices"][0]["message"] = f"mail {EMAIL} {DEMO_CANARY}"
    answers(gw)["t-msg-str"] = whole(data)
    response = post(gw, "t-msg-str")
    _protocol_error(response, "the upstream sent a choice whose `message` is not an object")
    _clean(response.text)
    # Streamed: was a 500 internal_error (AttributeError in the relay) and logged as a gateway bug.
    answers(gw)["t-delta-str"] = sse(_chunk({"index": 0, "delta": f"mail {EMAIL}", "finish_reason": None}))
    response = post(gw, "t-delta-str", stream=True)
    _clean(response.text)
    assert "upstream_protocol_error" in response.text and "internal_error" not in response.text


def test_lists_inside_content_parts_are_dropped_whole(gw: Env) -> None:
    before = DROPPED.copy()
    answers(gw)["t-parts"] = whole(
        _completion(
            {
                "content": [{"type": "text", "text": "hello"}, [f"{DEMO_CANARY} {EMAIL}"]],
                "reasoning_content": [[CARD]],
            }
        )
    )
    response = post(gw, "t-parts")
    assert response.status_code == 200, response.text
    _clean(response.text)
    assert response.json() == {
        **META,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": [{"type": "text", "text": "hello"}],
                    "reasoning_content": [],
                },
                "finish_reason": "stop",
            }
        ],
    }
    assert DROPPED["message.content[]"] - before["message.content[]"] == 1
    assert DROPPED["message.reasoning_content[]"] - before["message.reasoning_content[]"] == 1


def test_lists_inside_content_parts_are_dropped_streamed(gw: Env) -> None:
    events = _stream(
        gw,
        "t-parts-s",
        _chunk(_delta({"role": "assistant", "content": [{"type": "text", "text": "hel"}, [f"{DEMO_CANARY}"]]})),
        _chunk(_delta({"reasoning_content": [[CARD], [EMAIL]]})),
        _chunk(_delta({"content": "lo"}, "stop")),
    )
    assert events[0] == {
        **CHUNK_META,
        "choices": [{"index": 0, "delta": {"role": "assistant", "content": [{"type": "text", "text": ""}]},
                     "finish_reason": None}],
    }  # fmt: skip
    assert events[1] == {
        **CHUNK_META,
        "choices": [{"index": 0, "delta": {"reasoning_content": []}, "finish_reason": None}],
    }
    assert events[-1] == "[DONE]"


def test_a_tool_call_whose_function_is_a_string_loses_it_whole_and_streamed(gw: Env) -> None:
    before = DROPPED.copy()
    leaky = f"mail {EMAIL} card {CARD} {DEMO_CANARY}"
    answers(gw)["t-fn-str"] = whole(
        _completion(
            {"content": None, "tool_calls": [{"id": "call_1", "type": "function", "function": leaky}]}, "tool_calls"
        )
    )
    response = post(gw, "t-fn-str")
    assert response.status_code == 200, response.text
    _clean(response.text)
    assert response.json()["choices"] == [
        {
            "index": 0,
            "message": {"role": "assistant", "content": None,
                        "tool_calls": [{"id": opaque_id("call_1", "call_"), "type": "function"}]},
            "finish_reason": "tool_calls",
        }
    ]  # fmt: skip
    assert DROPPED["message.tool_calls[].function"] - before["message.tool_calls[].function"] == 1
    events = _stream(
        gw,
        "t-fn-str-s",
        _chunk(_delta({"role": "assistant", "tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                                                             "function": leaky}]})),
        _chunk(_delta({}, "tool_calls")),
    )  # fmt: skip
    # How the relay holds and numbers a streamed call is the pipeline's; what matters here: no string function.
    sent = [call for e in events[:-1] for c in e["choices"] for call in c["delta"].get("tool_calls", ())]
    assert all(isinstance(call.get("function", {}), dict) for call in sent), sent
    assert DROPPED["delta.tool_calls[].function"] - before["delta.tool_calls[].function"] == 1


def test_a_tool_calls_list_holding_a_string_and_wrong_typed_calls_keys_are_dropped(gw: Env) -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "lookup", "arguments": "{}"}}
    answers(gw)["t-calls-mixed"] = whole(
        _completion({"tool_calls": [f"{DEMO_CANARY} {EMAIL}", call], "function_call": [EMAIL]}, "tool_calls")
    )
    response = post(gw, "t-calls-mixed")
    assert response.status_code == 200, response.text
    _clean(response.text)
    assert response.json()["choices"][0]["message"] == {
        "role": "assistant",
        "tool_calls": [{"id": opaque_id("call_1", "call_"), "type": "function",
                        "function": {"name": "lookup", "arguments": "{}"}}],
    }  # fmt: skip


def test_screen_choice_keeps_message_only_in_a_whole_answer_and_delta_only_in_a_chunk() -> None:
    def choice() -> dict[str, Any]:
        return {"index": 0, "message": {"content": "a"}, "delta": {"content": EMAIL}, "finish_reason": None}

    whole_choice, chunk_choice, unsaid = choice(), choice(), choice()
    screen_choice(whole_choice, "chat", streamed=False)
    screen_choice(chunk_choice, "chat", streamed=True)
    screen_choice(unsaid, "chat")
    assert whole_choice == {"index": 0, "message": {"content": "a"}, "finish_reason": None}
    assert chunk_choice == {"index": 0, "delta": {"content": EMAIL}, "finish_reason": None}
    assert unsaid == choice()  # the caller did not say which path: both kept, as before


def test_a_whole_answer_keeps_only_message_and_a_chunk_only_delta(gw: Env) -> None:
    data = _completion({"content": "ok"})
    data["choices"][0]["delta"] = {"content": f"mail {EMAIL} {DEMO_CANARY}"}
    answers(gw)["t-whole-delta"] = whole(data)
    response = post(gw, "t-whole-delta")
    _clean(response.text)
    assert response.json()["choices"] == [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ]
    events = _stream(
        gw,
        "t-chunk-message",
        _chunk(_delta({"content": "ok"}, message={"content": f"mail {EMAIL} {DEMO_CANARY}"})),
        _chunk(_delta({}, "stop")),
    )
    sent = [c for e in events[:-1] for c in e["choices"]]
    assert all("message" not in c for c in sent), sent
    assert "".join(c["delta"].get("content") or "" for c in sent) == "ok"


# -- problem 9: numbers the upstream chooses ---------------------------------------------------------------


def test_created_that_is_no_plausible_time_becomes_the_gateways_clock_whole_and_streamed(gw: Env) -> None:
    answers(gw)["t-created"] = whole({**_completion({"content": "ok"}), "created": int(CARD)})
    response = post(gw, "t-created")
    assert response.status_code == 200, response.text
    _clean(response.text)
    assert abs(response.json()["created"] - time.time()) < 120
    events = _stream(
        gw,
        "t-created-s",
        {**_chunk(_delta({"content": "o"})), "created": int(CARD)},
        {**_chunk(_delta({"content": "k"}, "stop")), "created": -int(CARD)},
    )
    assert [abs(e["created"] - time.time()) < 120 for e in events[:-1]] == [True, True]


def test_every_chunk_of_a_stream_carries_the_first_chunks_created(gw: Env) -> None:
    # Plausible times one second apart are no protocol error, but a `created` chosen per chunk is ~31 bits a chunk.
    start = int(time.time()) - 60
    events = _stream(
        gw,
        "t-created-varies",
        {**_chunk(_delta({"content": "o"})), "created": start},
        {**_chunk(_delta({"content": "k"})), "created": start + 41},
        {**_chunk(_delta({"content": "!"}, "stop")), "created": start + 11},
    )
    assert {e["created"] for e in events if isinstance(e, dict) and "created" in e} == {start}


def test_a_choice_index_that_is_no_small_number_refuses_the_answer_whole_and_streamed(gw: Env) -> None:
    message = f"the upstream sent a choice whose index is not a number from 0 to {MAX_INDEX}"
    for index in (int(CARD), MAX_INDEX + 1):
        answers(gw)["t-index"] = whole(_completion({"content": "ok"}, index=index))
        response = post(gw, "t-index")
        _protocol_error(response, message)
        _clean(response.text)
    answers(gw)["t-index"] = whole(_completion({"content": "ok"}, index=True))
    response = post(gw, "t-index")  # refused by the pipeline's own check or by screen_choice: either says so
    assert response.status_code == 502 and response.json()["error"]["code"] == "upstream_protocol_error"
    answers(gw)["t-index-s"] = sse(_chunk(_delta({"content": "ok"}, "stop", index=int(CARD))))
    response = post(gw, "t-index-s", stream=True)
    _clean(response.text)
    assert "upstream_protocol_error" in response.text


def test_a_whole_answers_tool_call_index_is_its_position(gw: Env) -> None:
    calls = [
        {"index": DEMO_CANARY, "id": "call_1", "type": "function", "function": {"name": "a", "arguments": "{}"}},
        {"index": int(CARD), "id": "call_2", "type": "function", "function": {"name": "b", "arguments": "{}"}},
        {"id": "call_3", "type": "function", "function": {"name": "c", "arguments": "{}"}},
    ]
    answers(gw)["t-call-index"] = whole(_completion({"tool_calls": calls}, "tool_calls"))
    response = post(gw, "t-call-index")
    assert response.status_code == 200, response.text
    _clean(response.text)
    got = response.json()["choices"][0]["message"]["tool_calls"]
    assert got == [
        {
            "index": 0,
            "id": opaque_id("call_1", "call_"),
            "type": "function",
            "function": {"name": "a", "arguments": "{}"},
        },
        {
            "index": 1,
            "id": opaque_id("call_2", "call_"),
            "type": "function",
            "function": {"name": "b", "arguments": "{}"},
        },
        {"id": opaque_id("call_3", "call_"), "type": "function", "function": {"name": "c", "arguments": "{}"}},
    ]


def test_a_streamed_tool_call_index_that_is_no_small_number_gets_its_slot(gw: Env) -> None:
    events = _stream(
        gw,
        "t-call-index-s",
        _chunk(_delta({"tool_calls": [{"index": int(CARD), "id": "call_9", "type": "function",
                                       "function": {"name": "lookup", "arguments": '{"q": 1}'}}]})),
        _chunk(_delta({"tool_calls": [{"index": DEMO_CANARY, "function": {"arguments": ""}}]})),
        _chunk(_delta({}, "tool_calls")),
    )  # fmt: skip
    sent = [call for e in events[:-1] for c in e["choices"] for call in c["delta"].get("tool_calls", ())]
    assert sent and {call["index"] for call in sent} == {0}, sent
    arguments = "".join(call.get("function", {}).get("arguments", "") for call in sent)
    assert arguments == '{"q": 1}'


# -- problem 7: embeddings -------------------------------------------------------------------------------

VECTOR_B64 = base64.b64encode(struct.pack("<3f", 0.1, -0.2, 0.3)).decode()
TWO_FLOATS = base64.b64encode(struct.pack("<2f", 0.5, 0.25)).decode()  # 8 bytes: 12 characters, one "="


def test_is_vector_accepts_number_lists_and_float32_base64_only() -> None:
    assert is_vector([0.1, -2, 3.5e-3]) and is_vector(VECTOR_B64) and is_vector(TWO_FLOATS)
    non_canonical = TWO_FLOATS[:-2] + chr(ord(TWO_FLOATS[-2]) + 1) + "="  # stray bits before the padding
    for value in (
        DEMO_CANARY,  # 24 base64 letters: 18 bytes, no float32 array
        DEMO_CANARY + CARD,  # 40: 30 bytes
        CARD,  # 16 digits: 12 canonical bytes, but no float32 a model writes (1e14 and more)
        non_canonical,
        VECTOR_B64 + "\n",
        VECTOR_B64[:-1],
        "",
        [[0.1]],
        [True, 0.1],
        ["0.1"],
        {"v": [0.1]},
        7,
        base64.b64encode(struct.pack("<2f", 0.5, float("inf"))).decode(),
        base64.b64encode(struct.pack("<2f", 0.5, float("nan"))).decode(),
        base64.b64encode(struct.pack("<2f", 0.5, 2e6)).decode(),
    ):
        assert not is_vector(value), value


def test_an_embeddings_answer_keeps_object_embedding_a_small_index_and_vectors_only(gw: Env) -> None:
    before = DROPPED.copy()
    answers(gw)["t-embed"] = whole(
        {
            "id": "embd-1",
            "object": "list",
            "created": 1,
            "model": "llama3.1:8b",
            "data": [
                {"object": DEMO_CANARY, "index": EMAIL, "embedding": [0.1, -0.2]},
                {"object": "embedding", "index": 1, "embedding": DEMO_CANARY + CARD},
                {"object": "embedding", "index": int(CARD), "embedding": VECTOR_B64},
                {"object": ["embedding"], "index": 3, "embedding": [[0.1], [EMAIL]]},
                f"{DEMO_CANARY}",
                4111111111111111,
            ],
            "usage": {"prompt_tokens": 2, "total_tokens": 2},
        }
    )
    response = post(gw, "t-embed", route="embeddings", input="t-embed")
    assert response.status_code == 200, response.text
    _clean(response.text)
    assert response.json() == {
        "id": opaque_id("embd-1", "chatcmpl-"),
        "object": "list",
        "created": 1,
        "model": "llama3.1:8b",
        "data": [
            {"object": "embedding", "index": 0, "embedding": [0.1, -0.2]},
            {"object": "embedding", "index": 1},
            {"object": "embedding", "index": 2, "embedding": VECTOR_B64},
            {"object": "embedding", "index": 3},
        ],
        "usage": {"prompt_tokens": 2, "total_tokens": 2},
    }
    delta = {k: DROPPED[k] - before[k] for k in ("answer.data[].object", "answer.data[].index",
                                                  "answer.data[].embedding", "answer.data[]")}  # fmt: skip
    assert delta == {"answer.data[].object": 2, "answer.data[].index": 2, "answer.data[].embedding": 2,
                     "answer.data[]": 2}  # fmt: skip


def test_screen_choice_raises_for_a_choice_frame_of_the_wrong_type() -> None:
    with pytest.raises(UpstreamProtocolError, match="`delta` is not an object"):
        screen_choice({"index": 0, "delta": [EMAIL]}, "chat", streamed=True)
    with pytest.raises(UpstreamProtocolError, match="index is not a number"):
        screen_choice({"index": "0", "text": "a"}, "completions")
