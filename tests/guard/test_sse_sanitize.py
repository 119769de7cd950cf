"""SSE helpers: parsing upstream events strictly, and re-emitting sanitized OpenAI chunks per choice."""

from __future__ import annotations

import json
from typing import Any

import pytest

from leakline.guard.sanitize import Policy, Sanitizer
from leakline.guard.sanitize.errors import SSEBadChunk, SSEBadJSON, SSEError, SSEEventTooLarge
from leakline.guard.sanitize.sse import DONE_EVENT, ChunkRewriter, SSEParser, encode_event

CANARY = "Zq7XbN2vLp9RtY4sKw8HdM3c"


@pytest.fixture(scope="module")
def sanitizer() -> Sanitizer:
    return Sanitizer(Policy(canaries=(CANARY,)))


def _chunk(index: int, content: str | None = None, finish: str | None = None, **delta: Any) -> dict[str, Any]:
    d = dict(delta)
    if content is not None:
        d["content"] = content
    return {"id": "c1", "object": "chat.completion.chunk", "model": "m",
            "choices": [{"index": index, "delta": d, "finish_reason": finish}]}  # fmt: skip


def _sse(chunks: list[dict[str, Any]]) -> bytes:
    return b"".join(encode_event(c) for c in chunks) + DONE_EVENT


def _run(sanitizer: Sanitizer, raw: bytes, step: int) -> tuple[list[dict[str, Any]], ChunkRewriter, bool]:
    parser, rewriter, out, done = SSEParser(), ChunkRewriter(sanitizer), [], False
    for i in range(0, len(raw), step):
        for event in parser.feed(raw[i : i + step]):
            if event.done:
                out.extend(rewriter.finish())
                done = True
            else:
                assert event.chunk is not None
                out.extend(rewriter.rewrite(event.chunk))
    parser.close()
    return out, rewriter, done


def _content(chunks: list[dict[str, Any]], index: int) -> str:
    return "".join(c["delta"].get("content") or "" for ch in chunks for c in ch["choices"] if c["index"] == index)


@pytest.mark.parametrize("step", [1, 7, 64, 10_000])
def test_two_choices_are_sanitized_independently(sanitizer: Sanitizer, step: int) -> None:
    upstream = [
        _chunk(0, role="assistant", content=""),
        _chunk(1, role="assistant", content=""),
        _chunk(0, "Write to jane.d"),
        _chunk(1, "Card 4111 11"),
        _chunk(0, "oe@exam"),
        _chunk(1, "11 1111 1111 ok"),
        _chunk(0, "ple.com please."),
        _chunk(0, None, finish="stop"),
        _chunk(1, None, finish="stop"),
    ]
    out, rewriter, done = _run(sanitizer, _sse(upstream), step)
    assert done is True
    assert _content(out, 0) == "Write to [REDACTED:EMAIL] please."
    assert _content(out, 1) == "Card [REDACTED:PAYMENT_CARD] ok"
    finishes = [(c["index"], c["finish_reason"]) for ch in out for c in ch["choices"] if c["finish_reason"]]
    assert finishes == [(0, "stop"), (1, "stop")]
    assert sorted(h.detector for h in rewriter.hits) == ["email", "payment_card"]
    for ch in out:  # every re-emitted chunk is valid JSON of the same shape
        assert json.loads(encode_event(ch)[6:]) == ch


def test_tool_call_arguments_are_sanitized(sanitizer: Sanitizer) -> None:
    first = {"index": 0, "id": "call_1", "type": "function", "function": {"name": "save", "arguments": '{"email": "ja'}}
    upstream = [
        _chunk(0, tool_calls=[first]),
        _chunk(0, tool_calls=[{"index": 0, "function": {"arguments": 'ne@example.com"}'}}]),
        _chunk(0, None, finish="tool_calls"),
    ]
    out, _, _ = _run(sanitizer, _sse(upstream), 5)
    args = "".join(
        call["function"].get("arguments", "")
        for ch in out for c in ch["choices"] for call in c["delta"].get("tool_calls", [])
    )  # fmt: skip
    assert args == '{"email": "[REDACTED:EMAIL]"}'
    assert out[0]["choices"][0]["delta"]["tool_calls"][0]["id"] == "call_1"


def test_block_ends_the_choice_with_content_filter(sanitizer: Sanitizer) -> None:
    upstream = [_chunk(0, "ok " * 300), _chunk(0, "secret " + CANARY + " rest " * 200), _chunk(0, "more"),
                _chunk(0, None, finish="stop")]  # fmt: skip
    out, rewriter, _ = _run(sanitizer, _sse(upstream), 4096)
    assert rewriter.blocked is True
    assert _content(out, 0) == "ok " * 300 + "secret "
    assert [c["finish_reason"] for ch in out for c in ch["choices"]][-1] == "content_filter"
    assert all(CANARY not in json.dumps(ch) for ch in out)


def test_stream_without_finish_reason_is_flushed_at_done(sanitizer: Sanitizer) -> None:
    out, _, _ = _run(sanitizer, _sse([_chunk(0, "mail jane@example.com")]), 3)
    assert _content(out, 0) == "mail [REDACTED:EMAIL]"


def test_legacy_completions_text(sanitizer: Sanitizer) -> None:
    chunks = [{"id": "x", "object": "text_completion", "choices": [{"index": 0, "text": t, "finish_reason": f}]}
              for t, f in (("IBAN DE89 3704 0044 ", None), ("0532 0130 00.", "stop"))]  # fmt: skip
    out, _, _ = _run(sanitizer, _sse(chunks), 11)
    assert "".join(c["text"] for ch in out for c in ch["choices"]) == "IBAN [REDACTED:IBAN]."


def test_parser_handles_crlf_comments_and_multiline_data() -> None:
    raw = b": keep-alive\r\n\r\nevent: x\r\ndata: {\"choices\":\r\ndata: []}\r\n\r\ndata: [DONE]\r\n\r\n"
    events = list(SSEParser().feed(raw))
    assert [(e.chunk, e.done) for e in events] == [({"choices": []}, False), (None, True)]
    assert events[0].offset == len(b": keep-alive\r\n\r\n")


@pytest.mark.parametrize(
    ("raw", "error", "offset"),
    [
        (b"data: {}\n\ndata: {not json}\n\n", SSEBadJSON, 10),
        (b"data: [1, 2]\n\n", SSEBadJSON, 0),
        (b'data: {"choices": {}}\n\n', SSEBadChunk, 0),
        (b'data: {"choices": [{"index": "0"}]}\n\n', SSEBadChunk, 0),
        (b'data: {"choices": [{"index": 0, "delta": {"content": 5}}]}\n\n', SSEBadChunk, 0),
        (b"data: {}\n\ndata: \"\xff\"\n\n", SSEError, 17),
    ],
)
def test_malformed_streams_name_the_byte_offset(raw: bytes, error: type[SSEError], offset: int) -> None:
    with pytest.raises(error) as info:
        list(SSEParser().feed(raw))
    assert info.value.offset == offset
    assert f"byte offset {offset}" in info.value.message


def test_truncated_and_oversized_events() -> None:
    parser = SSEParser()
    list(parser.feed(b'data: {"choices": []}\n\ndata: {"cho'))
    with pytest.raises(SSEError) as info:
        parser.close()
    assert info.value.offset == len(b'data: {"choices": []}\n\n')
    with pytest.raises(SSEEventTooLarge):
        list(SSEParser().feed(b"data: " + b"x" * (4 * 1024 * 1024 + 1)))
