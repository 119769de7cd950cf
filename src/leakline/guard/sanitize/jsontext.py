"""JSON-aware sanitization: tool arguments judged as the application's `json.loads` will read them.

Text sanitization of a JSON document misses what JSON encodes (`"ann\\uff20example.com"` is an e-mail
address once decoded) and breaks what it redacts outside a string (`{"card": 4111111111111111}` became
`{"card": [REDACTED:PAYMENT_CARD]}`, which no parser accepts). `sanitize_json` decodes the document,
passes every string value, every key and every number (as its decimal text, as written) to the caller's
`clean`, and encodes the result again (compact, UTF-8): a number that `clean` changes becomes the
redaction string, quoted. Text that is not JSON gives None and the caller falls back to text
sanitization.

JSON content streamed as text (JSON mode, or content that starts with `{` or `[`) goes through a pair of
transducers around the detectors. `JsonStringDecoder` runs before them: inside each JSON string it writes
every escape as the character the application's parser will read (`\\u0040` as `@`, `\\n` as a line
break, `\\/` as `/`), so `"4111\\n1111\\n1111\\n1111"` is judged as the card number `JSON.parse` gives the
app, as the whole answer's `sanitize_json` judges it. `JsonQuoter` runs on what is released: it follows
the string state again, writes every control character inside a string back as its escape (the released
text stays JSON) and quotes a redaction token that landed outside a string.
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


_RELEASED = re.compile(r'\[REDACTED:[A-Z_]+\]|["\\/\x00-\x1f]')
"""What `JsonQuoter` looks at in released JSON text: a redaction token, a quote, a backslash, a slash, a
control character."""
_CONTROL_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _default_spelling(ch: str) -> str:
    """How `ch` is written inside a JSON string when nothing says otherwise (a slash needs no escape)."""
    if ch == "/":
        return ch
    return _CONTROL_ESCAPES.get(ch) or f"\\u{ord(ch):04x}"


class JsonQuoter:
    """Keeps released JSON text JSON, across the pieces of one streamed text: a redaction token released
    outside a JSON string is quoted, and (with a `source` decoder) a control character released inside a
    string is written as an escape again, in the spelling the model used.

    The tokens hold no quote, backslash, slash or control character, so the string state of the released
    text is the state the client's parser will see. A token is rendered whole in one release, never split
    between two. `source` is the `JsonStringDecoder` that wrote the text's escapes as characters before
    the detectors: every control character inside a string is one it decoded and goes back to an escape,
    and a control character or slash it decoded from a spelling other than the plain one (`\\u000a`,
    `\\/`) gets that spelling back (`JsonStringDecoder.spelled`, by its place among the same characters
    inside strings), so text with nothing redacted is released as the model wrote it, but for `\\uXXXX`
    escapes of other characters. After a redaction that swallowed such a character, a later one of the
    same kind may get the plain spelling or another's: the same value either way. Once the decoder found
    the text is not JSON (`JsonStringDecoder.broken`) control characters are released as they are.
    """

    __slots__ = ("_counts", "_escaped", "_in_string", "_quote", "_source")

    def __init__(self, source: JsonStringDecoder | None = None, *, quote: bool = True) -> None:
        self._in_string = False
        self._escaped = False
        self._source = source
        self._quote = quote
        """Whether a token outside a string is quoted (False: only escapes are written back)."""
        self._counts: dict[str, int] = {}
        """Per control character or slash: how many were released inside strings (their place)."""

    def feed(self, text: str) -> str:
        source = self._source
        if source is not None and source.broken:
            source = None
        if source is None and (not self._quote or "[REDACTED:" not in text):
            self._advance(text)
            return text
        parts: list[str] = []
        in_string, escaped = self._in_string, self._escaped
        pos = 0
        if escaped and text:  # the piece before ended with a backslash inside a string: this is what it escapes
            parts.append(text[0])
            pos, escaped = 1, False
        size = len(text)
        while True:
            found = _RELEASED.search(text, pos)
            if found is None:
                parts.append(text[pos:])
                break
            at = found.start()
            parts.append(text[pos:at])
            pos = found.end()
            mark = found.group()
            if len(mark) > 1:  # a redaction token
                parts.append(mark if in_string or not self._quote else f'"{mark}"')
            elif mark == '"':
                parts.append(mark)
                in_string = not in_string
            elif mark == "\\":
                if in_string and pos < size:
                    parts.append(text[at : at + 2])
                    pos += 1
                else:
                    parts.append(mark)
                    escaped = in_string
            elif in_string and source is not None:
                place = self._counts.get(mark, 0)
                self._counts[mark] = place + 1
                parts.append(source.spelled.pop((mark, place), "") or _default_spelling(mark))
            else:
                parts.append(mark)
        self._in_string, self._escaped = in_string, escaped
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


_SHORT_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "/": "/"}
_IN_STRING = re.compile(r'["\\\x00-\x1f]')
"""What ends a plain run inside a JSON string: its closing quote, an escape, a raw control character."""
_RESPELLED = frozenset(chr(c) for c in range(0x20)) | {"/"}
"""Characters `JsonQuoter` writes back as escapes inside strings (a slash only when the model escaped it)."""


class JsonStringDecoder:
    """Writes the escapes inside the strings of streamed JSON text as the characters they stand for: the
    text the detectors judge is what the application's parser reads (`JSON.parse`, `json.loads`).

    A streaming transducer: `feed` returns the text with every complete escape inside a string decoded
    (`\\n`, `\\r`, `\\t`, `\\b`, `\\f`, `\\/` and `\\uXXXX`, a surrogate pair as its one character) and holds
    back an escape cut between two pieces (`4111\\` + `n1111`) until it is complete; `finish` returns what
    is still held, as it was. The output is not JSON: a decoded line break is raw inside its string, so
    the released text goes through a `JsonQuoter` given this decoder, which writes it back (`spelled`
    keeps the spellings it cannot guess). Kept as they are, so the string state stays readable: `\\"` and
    `\\\\` (a quote or a backslash written as `\\uXXXX` becomes them), a lone surrogate's escape (no UTF-8
    text carries one), and a backslash that starts no JSON escape. Text outside strings is copied (a
    backslash there is no escape).

    A raw control character inside a string is something no JSON parser accepts: the text is prose (an
    answer that began with `[1]` and holds an inch mark), so from there on nothing is decoded and `broken`
    tells the quoter to leave line breaks as they are.
    """

    __slots__ = ("_counts", "_held", "_in_string", "broken", "spelled")

    def __init__(self) -> None:
        self._held = ""
        self._in_string = False
        self.broken = False
        """Whether the text turned out not to be JSON (a raw control character inside a string)."""
        self._counts: dict[str, int] = {}
        """Per control character or slash: how many were written inside strings so far."""
        self.spelled: dict[tuple[str, int], str] = {}
        """(character, its place among the same characters inside strings) -> the escape it was decoded
        from, when that is not how `JsonQuoter` writes it by default (`\\u000a`, `\\/`)."""

    def _decoded(self, ch: str, spelling: str) -> str:
        if ch in _RESPELLED:
            place = self._counts.get(ch, 0)
            self._counts[ch] = place + 1
            if spelling != _default_spelling(ch):
                self.spelled[(ch, place)] = spelling
        return ch

    def _plain(self, run: str) -> str:
        """A run inside a string with nothing to decode: its slashes take their places."""
        if "/" in run:
            self._counts["/"] = self._counts.get("/", 0) + run.count("/")
        return run

    def feed(self, text: str) -> str:
        buf = self._held + text if self._held else text
        self._held = ""
        if self.broken:
            return buf
        in_string = self._in_string
        if not in_string and '"' not in buf:
            return buf
        out: list[str] = []
        pos = 0
        size = len(buf)
        while True:
            if not in_string:
                at = buf.find('"', pos)
                if at < 0:
                    out.append(buf[pos:])
                    break
                out.append(buf[pos : at + 1])
                pos, in_string = at + 1, True
                continue
            found = _IN_STRING.search(buf, pos)
            if found is None:
                out.append(self._plain(buf[pos:]))
                break
            at = found.start()
            out.append(self._plain(buf[pos:at]))
            ch = buf[at]
            if ch == '"':
                out.append(ch)
                pos, in_string = at + 1, False
                continue
            if ch != "\\":
                self.broken = True
                out.append(buf[at:])
                break
            if at + 1 >= size:  # a backslash at the end: what it escapes comes with the next piece
                self._held = buf[at:]
                break
            kind = buf[at + 1]
            short = _SHORT_ESCAPES.get(kind)
            if short is not None:
                out.append(self._decoded(short, buf[at : at + 2]))
                pos = at + 2
                continue
            if kind != "u":  # `\"`, `\\`, or no JSON escape: copied, so the string state stays readable
                out.append(buf[at : at + 2])
                pos = at + 2
                continue
            digits = buf[at + 2 : at + 6]
            if not all(c in _HEX for c in digits):
                out.append(buf[at : at + 2])
                pos = at + 2
                continue
            if len(digits) < 4:
                self._held = buf[at:]
                break
            code = int(digits, 16)
            pos = at + 6
            if 0xD800 <= code <= 0xDBFF:
                low = buf[at + 6 : at + 12]
                if len(low) < 6 and _low_surrogate(low):
                    self._held = buf[at:]
                    break
                if len(low) == 6 and _low_surrogate(low):
                    out.append(chr(0x10000 + ((code - 0xD800) << 10) + (int(low[2:], 16) - 0xDC00)))
                    pos = at + 12
                else:
                    out.append(buf[at : at + 6])  # a lone high surrogate
            elif code == 0x22:
                out.append('\\"')
            elif code == 0x5C:
                out.append("\\\\")
            elif 0xDC00 <= code <= 0xDFFF:
                out.append(buf[at : at + 6])
            else:
                out.append(self._decoded(chr(code), buf[at : at + 6]))
        self._in_string = in_string
        return "".join(out)

    def finish(self) -> str:
        """What is still held (an escape the stream ended inside, or a high surrogate without its pair)."""
        held, self._held = self._held, ""
        return held


def decode_strings(text: str) -> tuple[str, JsonStringDecoder]:
    """`text` (whole JSON text that does not parse) as `JsonStringDecoder` writes it, and the decoder (for
    the `JsonQuoter` that releases it)."""
    decoder = JsonStringDecoder()
    return decoder.feed(text) + decoder.finish(), decoder
