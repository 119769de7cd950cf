"""OpenAI streaming helpers: parse `data:` events, sanitize each choice's deltas, re-emit valid chunks.

`SSEParser` turns upstream bytes into events (`[DONE]` or a JSON chunk object), strict about what the
sanitizer relies on: an event larger than `MAX_EVENT_BYTES`, bytes that are not UTF-8, a `data:` line
that is not a JSON object, or a chunk whose `choices` are malformed raise a typed `SSEError` naming
the byte offset. `ChunkRewriter` keeps one `StreamSanitizer` per choice index for `delta.content` and
one per tool call for `function.arguments`, so a leak split across chunks is caught within its own
field; it re-emits chunks with only released text, flushes held-back text before a choice's
`finish_reason`, and ends a choice that hit a `block` with `finish_reason: "content_filter"`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from leakline.guard.sanitize.errors import SSEBadChunk, SSEBadJSON, SSEError, SSEEventTooLarge

if TYPE_CHECKING:
    from leakline.guard.sanitize.core import DetectorHit, Sanitizer
    from leakline.guard.sanitize.stream import StreamSanitizer

DONE = "[DONE]"
DONE_EVENT = b"data: [DONE]\n\n"
MAX_EVENT_BYTES = 4 * 1024 * 1024
CONTENT_FILTER = "content_filter"
_EVENT_ENDS = (b"\r\n\r\n", b"\n\n", b"\r\r")


@dataclass(frozen=True)
class SSEEvent:
    """One `data:` payload: `done` for `[DONE]`, else the parsed chunk object."""

    offset: int
    chunk: dict[str, Any] | None
    done: bool = False


class SSEParser:
    """Incremental: `feed(bytes)` yields the events completed so far; `close()` checks nothing is left."""

    def __init__(self) -> None:
        self._buffer = b""
        self._offset = 0

    def feed(self, data: bytes) -> Iterator[SSEEvent]:
        self._buffer += data
        while True:
            found = [(i, len(sep)) for sep in _EVENT_ENDS if (i := self._buffer.find(sep)) >= 0]
            if not found:
                if len(self._buffer) > MAX_EVENT_BYTES:
                    raise SSEEventTooLarge(f"an event is larger than {MAX_EVENT_BYTES} bytes", offset=self._offset)
                return
            end, sep_len = min(found)
            raw, self._buffer = self._buffer[:end], self._buffer[end + sep_len :]
            start = self._offset
            self._offset += end + sep_len
            event = self._parse(raw, start)
            if event is not None:
                yield event

    def close(self) -> None:
        if self._buffer.strip():
            raise SSEError("the stream ended inside an event", offset=self._offset)

    @staticmethod
    def _parse(raw: bytes, offset: int) -> SSEEvent | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise SSEError("bytes that are not UTF-8", offset=offset + exc.start) from None
        data: list[str] = []
        for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n"):
            if line.startswith("data:"):
                value = line[5:]
                data.append(value[1:] if value.startswith(" ") else value)
            # comments (":") and the other fields (event, id, retry) carry nothing to sanitize
        if not data:
            return None
        payload = "\n".join(data)
        if payload.strip() == DONE:
            return SSEEvent(offset, None, done=True)
        try:
            chunk = json.loads(payload)
        except json.JSONDecodeError as exc:
            raise SSEBadJSON(f"a data line is not JSON ({exc.msg})", offset=offset) from None
        if not isinstance(chunk, dict):
            raise SSEBadJSON("a data line is JSON but not an object", offset=offset)
        validate_chunk(chunk, offset)
        return SSEEvent(offset, chunk)


def validate_chunk(chunk: dict[str, Any], offset: int) -> None:
    """The parts of a chat/completions chunk the rewriter touches must have their documented types."""
    choices = chunk.get("choices", [])
    if not isinstance(choices, list):
        raise SSEBadChunk("'choices' is not an array", offset=offset)
    for n, choice in enumerate(choices):
        where = f"choices[{n}]"
        if not isinstance(choice, dict) or not isinstance(choice.get("index", 0), int):
            raise SSEBadChunk(f"{where} is not an object with an integer 'index'", offset=offset)
        delta = choice.get("delta", {})
        if not isinstance(delta, dict):
            raise SSEBadChunk(f"{where}.delta is not an object", offset=offset)
        if not isinstance(delta.get("content") or "", str) or not isinstance(choice.get("text") or "", str):
            raise SSEBadChunk(f"{where} content is not a string", offset=offset)
        calls = delta.get("tool_calls") or []
        if not isinstance(calls, list):
            raise SSEBadChunk(f"{where}.delta.tool_calls is not an array", offset=offset)
        for m, call in enumerate(calls):
            function = call.get("function", {}) if isinstance(call, dict) else None
            if not isinstance(function, dict) or not isinstance(function.get("arguments") or "", str):
                raise SSEBadChunk(f"{where}.delta.tool_calls[{m}].function.arguments is not a string", offset=offset)


def encode_event(chunk: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(chunk, ensure_ascii=False, separators=(",", ":")).encode() + b"\n\n"


class ChunkRewriter:
    """Sanitizes one streamed response, chunk by chunk. `blocked` once any choice hit a `block`."""

    def __init__(self, sanitizer: Sanitizer) -> None:
        self._sanitizer = sanitizer
        self._streams: dict[tuple[int, str, int], StreamSanitizer] = {}
        self._tool_meta: dict[tuple[int, int], dict[str, Any]] = {}
        self._done: set[int] = set()
        self._last: dict[str, Any] = {}

    @property
    def blocked(self) -> bool:
        return any(s.blocked for s in self._streams.values())

    @property
    def hits(self) -> list[DetectorHit]:
        return [h for s in self._streams.values() for h in s.hits]

    @property
    def scanned_bytes(self) -> int:
        return sum(s.scanned_bytes for s in self._streams.values())

    def _stream(self, key: tuple[int, str, int]) -> StreamSanitizer:
        if key not in self._streams:
            self._streams[key] = self._sanitizer.stream()
        return self._streams[key]

    def rewrite(self, chunk: dict[str, Any]) -> list[dict[str, Any]]:
        """The chunks to send for one upstream chunk (sanitized; maybe none)."""
        self._last = {k: v for k, v in chunk.items() if k not in ("choices", "usage")}
        out_choices: list[dict[str, Any]] = []
        for choice in chunk.get("choices", []):
            index = choice.get("index", 0)
            if index in self._done:
                continue
            new = dict(choice)
            if "text" in choice and isinstance(choice["text"], str):  # legacy /v1/completions
                new["text"] = self._stream((index, "text", 0)).feed(choice["text"])
            delta = choice.get("delta")
            if isinstance(delta, dict):
                new["delta"] = self._delta(index, delta)
            if any(s.blocked for (i, _, _), s in self._streams.items() if i == index):
                self._done.add(index)
                new["finish_reason"] = CONTENT_FILTER
            elif choice.get("finish_reason") is not None:
                self._flush_into(index, new)
                self._done.add(index)
                if any(s.blocked for (i, _, _), s in self._streams.items() if i == index):
                    new["finish_reason"] = CONTENT_FILTER
            out_choices.append(new)
        if not out_choices and "usage" not in chunk:
            return []
        return [{**chunk, "choices": out_choices}]

    def _delta(self, index: int, delta: dict[str, Any]) -> dict[str, Any]:
        new = dict(delta)
        if isinstance(delta.get("content"), str):
            new["content"] = self._stream((index, "content", 0)).feed(delta["content"])
        calls = delta.get("tool_calls")
        if isinstance(calls, list):
            new_calls = []
            for call in calls:
                call_index = call.get("index", 0)
                meta = self._tool_meta.setdefault((index, call_index), {})
                if "id" in call:
                    meta["id"] = call["id"]
                new_call = dict(call)
                function = dict(call.get("function") or {})
                if isinstance(function.get("arguments"), str):
                    function["arguments"] = self._stream((index, "tool", call_index)).feed(function["arguments"])
                new_call["function"] = function
                new_calls.append(new_call)
            new["tool_calls"] = new_calls
        return new

    def _flush_into(self, index: int, choice: dict[str, Any]) -> None:
        """Append the held-back tails of choice `index` to the chunk that carries its finish_reason."""
        delta = choice.setdefault("delta", {}) if "text" not in choice else None
        for (i, field_name, call_index), stream in list(self._streams.items()):
            if i != index or stream.blocked:
                continue
            tail = stream.finish()
            if field_name == "text":
                choice["text"] = choice.get("text", "") + tail
            elif field_name == "content" and delta is not None:
                delta["content"] = (delta.get("content") or "") + tail
            elif delta is not None and tail:
                calls = delta.setdefault("tool_calls", [])
                same = next((c for c in calls if c.get("index", 0) == call_index), None)
                if same is None:
                    calls.append({"index": call_index, "function": {"arguments": tail}})
                else:
                    function = same.setdefault("function", {})
                    function["arguments"] = (function.get("arguments") or "") + tail

    def finish(self) -> list[dict[str, Any]]:
        """At `[DONE]` (or the end of the upstream): flush choices that never sent a finish_reason."""
        out = []
        for index in sorted({i for i, _, _ in self._streams} - self._done):
            choice: dict[str, Any] = {"index": index, "delta": {}, "finish_reason": None}
            if any(f == "text" for i, f, _ in self._streams if i == index):
                choice = {"index": index, "text": "", "finish_reason": None}
            self._flush_into(index, choice)
            self._done.add(index)
            if any(s.blocked for (i, _, _), s in self._streams.items() if i == index):
                choice["finish_reason"] = CONTENT_FILTER
            out.append({**self._last, "choices": [choice]})
        return out
