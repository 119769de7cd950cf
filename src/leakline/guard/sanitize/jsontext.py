"""JSON-aware sanitization: tool arguments judged as the application's `json.loads` will read them.

Text sanitization of a JSON document misses what JSON encodes (`"ann\\uff20example.com"` is an e-mail
address once decoded) and breaks what it redacts outside a string (`{"card": 4111111111111111}` became
`{"card": [REDACTED:PAYMENT_CARD]}`, which no parser accepts). `sanitize_json` decodes the document,
passes every string value, every key and every number (as its decimal text, as written) to the caller's
`clean`, and encodes the result again (compact, UTF-8): a number that `clean` changes becomes the
redaction string, quoted. Text that is not JSON gives None and the caller falls back to text
sanitization. `JsonQuoter` serves JSON-mode content streamed as text: it follows the string state of
the released text and quotes a redaction token that landed outside a JSON string. `JsonUnescaper` runs
before the detectors on that streamed text: it writes each `\\uXXXX` escape as the character it stands
for, so `"ann\\u0040example.com"` is judged as the address the application's parser will read.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

_TOKEN = re.compile(r"\[REDACTED:[A-Z_]+\]")


class _Number(str):
    """A JSON number as it was written (so `12.50` stays `12.50` and big integers keep every digit)."""

    __slots__ = ()


class _Pairs(list[tuple[str, Any]]):
    """A JSON object's members in order, duplicates kept: each one is sanitized and sent."""


def _decode(text: str) -> Any:
    return json.loads(text, parse_int=_Number, parse_float=_Number, object_pairs_hook=_Pairs)


def _encode(value: Any, clean: Callable[[str], str]) -> str:
    if isinstance(value, _Number):
        out = clean(str(value))
        return str(value) if out == value else json.dumps(out, ensure_ascii=False)
    if isinstance(value, str):
        return json.dumps(clean(value), ensure_ascii=False)
    if isinstance(value, _Pairs):
        members = (json.dumps(clean(k), ensure_ascii=False) + ":" + _encode(v, clean) for k, v in value)
        return "{" + ",".join(members) + "}"
    if isinstance(value, list):
        return "[" + ",".join(_encode(item, clean) for item in value) + "]"
    return json.dumps(value)  # true, false, null, and the constants NaN / Infinity json.loads accepts


def sanitize_json(text: str, clean: Callable[[str], str]) -> str | None:
    """`text` decoded, each string, key and number passed through `clean`, encoded again if any changed
    (else `text` itself); None if `text` is not JSON."""
    try:
        value = _decode(text)
    except (ValueError, RecursionError):
        return None
    changed = False

    def judged(piece: str) -> str:
        nonlocal changed
        out = clean(piece)
        changed = changed or out != piece
        return out

    try:
        encoded = _encode(value, judged)
    except RecursionError:
        return None
    # Nothing redacted: the bytes the model wrote, as it wrote them.
    return encoded if changed else text


class JsonQuoter:
    """Quotes redaction tokens released outside a JSON string, across the pieces of one streamed text.

    The tokens hold no quote or backslash, so the string state of the released text is the state the
    client's parser will see. A token is rendered whole in one release, never split between two.
    """

    __slots__ = ("_escaped", "_in_string")

    def __init__(self) -> None:
        self._in_string = False
        self._escaped = False

    def feed(self, text: str) -> str:
        if "[REDACTED:" not in text:
            self._advance(text)
            return text
        parts: list[str] = []
        pos = 0
        for match in _TOKEN.finditer(text):
            self._advance(text[pos : match.start()])
            parts.append(text[pos : match.start()])
            token = match.group()
            parts.append(token if self._in_string else f'"{token}"')
            pos = match.end()
        self._advance(text[pos:])
        parts.append(text[pos:])
        return "".join(parts)

    def _advance(self, text: str) -> None:
        if not self._in_string and '"' not in text:
            return
        in_string, escaped = self._in_string, self._escaped
        for ch in text:
            if escaped:
                escaped = False
            elif in_string and ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = not in_string
        self._in_string, self._escaped = in_string, escaped


def quote_tokens(text: str) -> str:
    """`text` (a whole JSON-mode answer that does not parse) with tokens outside strings quoted."""
    return JsonQuoter().feed(text)


_HEX = frozenset("0123456789abcdefABCDEF")
_LOW_SHAPE = (frozenset("\\"), frozenset("u"), frozenset("dD"), frozenset("cdefCDEF"), _HEX, _HEX)
"""A low surrogate's escape, `\\uDC00` to `\\uDFFF`, character by character."""


def _low_surrogate(text: str) -> bool:
    """Whether `text` (up to 6 characters) is a low surrogate's escape, or the start of one."""
    return all(c in allowed for allowed, c in zip(_LOW_SHAPE, text, strict=False))


class JsonUnescaper:
    """Rewrites the `\\uXXXX` escapes of streamed JSON text as the characters they stand for.

    A streaming transducer: `feed` returns the text with every complete escape decoded and holds back
    an escape cut between two pieces (`ann\\u00` + `40ex`) until it is complete, `finish` returns what is
    still held, as it was. The document's value is unchanged, so the application parses the same data:
    a surrogate pair (`\\uD83D\\uDE00`) becomes its one character; a quote and a backslash become `\\"`
    and `\\\\`, a control character (below U+0020) and a lone surrogate stay as they are, since JSON
    requires them escaped (and no UTF-8 text can carry a lone surrogate). Other escapes (`\\n`, `\\\\`)
    are copied whole, so `\\\\u0040` stays a backslash followed by `u0040`. A backslash means something
    only inside a JSON string, so the string state need not be followed.
    """

    __slots__ = ("_held",)

    def __init__(self) -> None:
        self._held = ""

    def feed(self, text: str) -> str:
        buf = self._held + text if self._held else text
        self._held = ""
        if "\\" not in buf:
            return buf
        out: list[str] = []
        pos = 0
        size = len(buf)
        while True:
            at = buf.find("\\", pos)
            if at < 0:
                out.append(buf[pos:])
                break
            out.append(buf[pos:at])
            if at + 1 >= size:  # a backslash at the end: what it escapes comes with the next piece
                self._held = buf[at:]
                break
            if buf[at + 1] != "u":
                out.append(buf[at : at + 2])
                pos = at + 2
                continue
            digits = buf[at + 2 : at + 6]
            if not all(c in _HEX for c in digits):  # not an escape JSON accepts: copied as it is
                out.append(buf[at : at + 2])
                pos = at + 2
                continue
            if len(digits) < 4:
                self._held = buf[at:]
                break
            code = int(digits, 16)
            if 0xD800 <= code <= 0xDBFF:
                low = buf[at + 6 : at + 12]
                if len(low) < 6 and _low_surrogate(low):
                    self._held = buf[at:]
                    break
                if len(low) == 6 and _low_surrogate(low):
                    pair = 0x10000 + ((code - 0xD800) << 10) + (int(low[2:], 16) - 0xDC00)
                    out.append(chr(pair))
                    pos = at + 12
                    continue
                out.append(buf[at : at + 6])  # a lone high surrogate
            elif code == 0x22:
                out.append('\\"')
            elif code == 0x5C:
                out.append("\\\\")
            elif code < 0x20 or 0xDC00 <= code <= 0xDFFF:
                out.append(buf[at : at + 6])
            else:
                out.append(chr(code))
            pos = at + 6
        return "".join(out)

    def finish(self) -> str:
        """What is still held (an escape the stream ended inside, or a high surrogate without its pair)."""
        held, self._held = self._held, ""
        return held
