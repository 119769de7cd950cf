"""Reading the upstream's Server-Sent Events: bytes in, complete `data:` payloads out.

A small incremental parser for what OpenAI-compatible servers send (`data: {...}` events separated by
a blank line, `data: [DONE]` at the end; comments and other fields ignored). It is strict where a
sanitizer depends on it: an event larger than `MAX_EVENT_BYTES`, or bytes that are not UTF-8, are a
`MalformedStream` naming the byte offset in the stream, and the gateway then refuses rather than
forwarding anything it could not read.
"""

from __future__ import annotations

from collections.abc import Iterator

DONE = "[DONE]"
MAX_EVENT_BYTES = 4 * 1024 * 1024
_SEPARATORS = (b"\r\n\r\n", b"\n\n", b"\r\r")
_BOM = b"\xef\xbb\xbf"
"""A UTF-8 byte order mark: the SSE grammar allows one at the start of the stream, and readers drop it."""


class MalformedStream(Exception):
    def __init__(self, message: str, offset: int) -> None:
        super().__init__(f"{message} at byte offset {offset} of the upstream stream")
        self.offset = offset


def _split_event(buffer: bytes) -> tuple[bytes, bytes] | None:
    best: tuple[int, int] | None = None
    for sep in _SEPARATORS:
        i = buffer.find(sep)
        if i >= 0 and (best is None or i < best[0]):
            best = (i, len(sep))
    if best is None:
        return None
    return buffer[: best[0]], buffer[best[0] + best[1] :]


class SseReader:
    """Feed raw bytes; get each event's joined `data` field (events without data are skipped)."""

    def __init__(self) -> None:
        self._buffer = b""
        self._offset = 0
        self._at_start = True

    def feed(self, chunk: bytes) -> Iterator[str]:
        self._buffer += chunk
        if self._at_start:
            # Read as part of the first line, a BOM made `data:` a field of another name, and the first event
            # (with the first piece of the answer) was dropped without a word.
            if len(self._buffer) < len(_BOM) and _BOM.startswith(self._buffer):
                return
            self._at_start = False
            if self._buffer.startswith(_BOM):
                self._buffer = self._buffer[len(_BOM) :]
                self._offset = len(_BOM)
        if b"\r" not in self._buffer:
            yield from self._feed_lf()
            return
        while True:
            split = _split_event(self._buffer)
            if split is None:
                if len(self._buffer) > MAX_EVENT_BYTES:
                    raise MalformedStream("an event larger than 4 MiB", self._offset)
                return
            raw, rest = split
            start = self._offset
            self._offset += len(self._buffer) - len(rest)
            self._buffer = rest
            data = self._data(raw, start)
            if data is not None:
                yield data

    def _feed_lf(self) -> Iterator[str]:
        """`feed` when the buffer holds no CR (what servers send): one split instead of three finds per event."""
        *events, rest = self._buffer.split(b"\n\n")
        self._buffer = rest
        if not events and len(rest) > MAX_EVENT_BYTES:
            raise MalformedStream("an event larger than 4 MiB", self._offset)
        for raw in events:
            start = self._offset
            self._offset += len(raw) + 2
            data = self._data(raw, start)
            if data is not None:
                yield data
        if events and len(rest) > MAX_EVENT_BYTES:
            raise MalformedStream("an event larger than 4 MiB", self._offset)

    def finish(self) -> Iterator[str]:
        """The last event if the stream ended without a blank line after it."""
        raw, self._buffer = self._buffer, b""
        if raw.strip():
            data = self._data(raw, self._offset)
            if data is not None:
                yield data

    @staticmethod
    def _data(raw: bytes, offset: int) -> str | None:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedStream("invalid UTF-8", offset + exc.start) from None
        # Lines end at CR, LF or CRLF only (the SSE grammar): `str.splitlines` also cuts at U+2028, U+2029,
        # U+0085 and the like, which vLLM's pydantic JSON writes raw inside a string value.
        lines = text.split("\n") if "\r" not in text else text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
        parts: list[str] = []
        for line in lines:
            if line.startswith("data:"):
                value = line[5:]
                parts.append(value[1:] if value.startswith(" ") else value)
        return "\n".join(parts) if parts else None


def encode_event(data: str) -> bytes:
    return f"data: {data}\n\n".encode()


def encode_json_event(data: bytes) -> bytes:
    """`encode_event` of JSON already encoded (`fastjson.dumps`)."""
    return b"data: " + data + b"\n\n"
