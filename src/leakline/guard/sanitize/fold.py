"""Look-alike characters folded to ASCII before the detectors read a text: other scripts' digits, full-width
forms, Unicode spaces and dashes.

A model asked to (or tricked by a prompt injection into) writing a card number in full-width digits
(`４１１１ １１１１ …`), in Arabic-Indic digits, with no-break or thin spaces between its groups, or an e-mail
address with a full-width `＠`, would otherwise pass detectors that read ASCII. Each such character is replaced
by the ASCII character it stands for, one for one, so an offset in the folded text is the same offset in the
original: the detectors read the folded text, and redaction cuts the original (whose other characters,
full-width prices in a Japanese answer included, are sent as they came).

Invisible format characters are different: a browser draws nothing for a soft hyphen or a zero-width space,
so `john.doe\u200b@example.com` is an address to its reader, and a page removes them with one `replace`.
`strip_invisible` deletes them from the text itself, before folding and detection, so what the detectors
read is what is sent (no offset map). See docs/sanitize.md, "Invisible characters".

`rendered` is not a fold step: it gives what a Markdown/HTML renderer shows of a slice (references decoded,
markers dropped), with a map back to the original, for the canary and e-mail matchers to read near their
triggers (docs/sanitize.md, "Canaries and addresses as a renderer shows them").
"""

from __future__ import annotations

import functools
import re
import unicodedata

_DENSE = 64
"""With more than one non-ASCII character per this many, a set test over the whole text (in C) comes first."""
_SMALL_AT = "\ufe6b"
_MINUS = "\u2212"


@functools.cache
def fold_table() -> dict[str, str]:
    """Character -> its ASCII stand-in. Built once per process (~50 ms): `Sanitizer` builds it at start-up."""
    table: dict[str, str] = {chr(cp): chr(cp - 0xFEE0) for cp in range(0xFF01, 0xFF5F)}  # full-width forms
    for cp in (*range(0x80, 0x10000), *range(0x1D7CE, 0x1D800)):  # the BMP, and the mathematical digits
        ch = chr(cp)
        category = unicodedata.category(ch)
        if category == "Nd":
            table.setdefault(ch, str(unicodedata.decimal(ch)))
        elif category == "Zs":
            table.setdefault(ch, " ")
        elif category == "Pd":
            table.setdefault(ch, "-")
    table[_SMALL_AT] = "@"
    table[_MINUS] = "-"
    return table


@functools.cache
def _foldable() -> frozenset[str]:
    return frozenset(fold_table())


_TRANSLATED = 0x20000
"""Code points below this are in `_translation` (the BMP and the mathematical digits); `str.translate` leaves
the others as they are."""


@functools.cache
def _translation() -> str:
    """`fold_table` as a `str.translate` table indexed by code point (a string is read in C, a dict is not)."""
    table = fold_table()
    return "".join(table.get(chr(cp), chr(cp)) for cp in range(_TRANSLATED))


def warm_fold() -> None:
    """Build the tables `fold` reads (~70 ms once per process)."""
    _foldable()
    _translation()


def fold(text: str, projection: bytes | None = None) -> tuple[str, bytes | None]:
    """`(folded, projection)`: `text` with its look-alikes replaced (`text` itself when it has none), and the
    ASCII projection of the folded text (each other non-ASCII character a `?`), or None when `text` is ASCII.
    `projection`: `text`'s own, when the caller has it (`strip_projected` computes it)."""
    if text.isascii():
        return text, None
    data = text.encode("ascii", "replace") if projection is None else projection
    marks = data.count(b"?")
    table = fold_table()
    if marks * _DENSE > len(text):
        # Dense non-ASCII (CJK, Cyrillic, Greek): a walk mark by mark would cost ~1 us a character.
        if _foldable().isdisjoint(text):
            return text, data
        folded = text.translate(_translation())
        return folded, folded.encode("ascii", "replace")
    found: list[int] = []
    find = data.find
    i = find(b"?")
    while i >= 0:
        if text[i] in table:
            found.append(i)
        i = find(b"?", i + 1)
    return _folded(text, data, found)


def _folded(text: str, data: bytes, found: list[int]) -> tuple[str, bytes]:
    """`text` (projection `data`) with the look-alikes at `found` (sorted) replaced, and its projection."""
    if not found:
        return text, data
    table = fold_table()
    parts: list[str] = []
    folded_data = bytearray(data)
    pos = 0
    for i in found:
        ascii_char = table[text[i]]
        parts.append(text[pos:i])
        parts.append(ascii_char)
        folded_data[i] = ord(ascii_char)
        pos = i + 1
    parts.append(text[pos:])
    return "".join(parts), bytes(folded_data)


# ---- invisible characters -------------------------------------------------------------------------------

_ALWAYS_RANGES = (
    (0x00AD, 0x00AD), (0x034F, 0x034F), (0x061C, 0x061C), (0x115F, 0x1160), (0x17B4, 0x17B5), (0x180B, 0x180F),
    (0x200B, 0x200B), (0x200E, 0x200F), (0x202A, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0x3164, 0x3164),
    (0xFEFF, 0xFEFF), (0xFFA0, 0xFFA0), (0x1BCA0, 0x1BCA3), (0xE0000, 0xE007F),
)  # fmt: skip
"""Removed wherever they are: soft hyphen, grapheme joiner, Arabic letter mark, Hangul and Khmer fillers,
Mongolian selectors, zero-width space, direction marks, bidi embeddings, overrides and isolates (Trojan
Source), word joiner and invisible operators, BOM, halfwidth filler, shorthand format controls, and the tag
characters (an invisible copy of ASCII)."""
_JOINER_RANGES = ((0x200C, 0x200D), (0xFE00, 0xFE0F))
"""ZWNJ, ZWJ and the variation selectors: they build emoji (👨‍👩‍👧, ❤️) and shape Persian and Indic words,
so they are removed only where they join nothing that needs them: after ASCII or a character `fold`
maps to ASCII (`john\u200d.doe`, `４\u200d１`), or at the start of the text."""
ALWAYS_INVISIBLE = frozenset(chr(cp) for lo, hi in _ALWAYS_RANGES for cp in range(lo, hi + 1))
INVISIBLE = ALWAYS_INVISIBLE | frozenset(chr(cp) for lo, hi in _JOINER_RANGES for cp in range(lo, hi + 1))
_VS16 = "\ufe0f"
_KEYCAP = "\u20e3"
"""`1️⃣` is `1` U+FE0F U+20E3: the selector after an ASCII digit is kept when the keycap mark follows."""
_NOT_ASCII = "\u00e9"
"""Stands for a kept character that is neither ASCII nor folded (nor invisible) in front of a piece."""


def _class(code_points: list[int]) -> str:
    """A character class body of `re` for these code points, consecutive ones as ranges."""
    out: list[str] = []
    i = 0
    while i < len(code_points):
        j = i
        while j + 1 < len(code_points) and code_points[j + 1] == code_points[j] + 1:
            j += 1
        lo, hi = code_points[i], code_points[j]
        out.append(f"\\U{lo:08x}" if lo == hi else f"\\U{lo:08x}-\\U{hi:08x}")
        i = j + 1
    return "".join(out)


@functools.cache
def _invisible() -> re.Pattern[str]:
    """One pattern whose every match is deleted. Each match begins with an invisible character, so `re`
    skips to candidates with its character-set scan (in C) instead of trying every position.

    A match is either a whole run of invisible characters (`[R]+`) after ASCII, a folded look-alike or the
    start of the text (less a keycap's U+FE0F, which ends its run), or one always-removed character in a
    run after anything else. In that second case the joiners of the run stay: the character they follow,
    the last one kept, is an emoji or a letter. A run after ASCII is always matched from its first
    character, so the scan never resumes inside one (the lookbehinds see original text)."""
    ascii_like = _class([*range(0x80), *sorted(ord(c) for c in fold_table())])
    always = _class(sorted(ord(c) for c in ALWAYS_INVISIBLE))
    run = f"[{_class(sorted(ord(c) for c in INVISIBLE))}]"
    keep_keycap = f"(?:(?<!{_VS16})|(?!{_KEYCAP}))"
    rest = f"(?:(?!{_VS16}{_KEYCAP}){run})*"
    return re.compile(f"{run}(?:(?:(?<=[{ascii_like}]{run})|(?<=\\A{run})){keep_keycap}{rest}|(?<=[{always}]))")


@functools.cache
def _any_invisible() -> re.Pattern[str]:
    return re.compile(f"[{_class(sorted(ord(c) for c in INVISIBLE))}]")


def warm_invisible() -> None:
    """Compile what `strip_invisible` reads (~2 ms once per process, after `fold_table`)."""
    _invisible()
    _any_invisible()


def _has_invisible(text: str, data: bytes) -> bool:
    """Whether non-ASCII `text` (ASCII projection `data`) holds an invisible character. The character-set
    scan of `re` costs ~15 ns a character; where non-ASCII characters are sparse (a `€`, an accent in a
    5 MB answer) they are looked at one by one from the projection instead, as `fold` does."""
    if data.count(b"?") * _DENSE > len(text):
        return _any_invisible().search(text) is not None
    invisible = INVISIBLE
    find = data.find
    i = find(b"?")
    while i >= 0:
        if text[i] in invisible:
            return True
        i = find(b"?", i + 1)
    return False


def strip_projected(text: str, data: bytes | None = None) -> tuple[str, int, bytes | None]:
    """`(text without its invisible characters, how many were removed, the ASCII projection of the first
    if it was computed on the way)`. The first is `text` itself when nothing was removed. `data`: `text`'s
    ASCII projection, when the caller has it."""
    if text.isascii():
        return text, 0, None
    if data is None:
        data = text.encode("ascii", "replace")
    if not _has_invisible(text, data):
        return text, 0, data
    out = _invisible().sub("", text)
    return out, len(text) - len(out), None


def strip_and_fold(text: str) -> tuple[str, int, str, bytes | None, int]:
    """`(sent, removed, seen, projection, size)`: what a whole-text scan needs before its trigger pass.
    `sent, removed` are `strip_invisible(text)`, `seen, projection` are `fold(sent)`, and `size` is the UTF-8
    length of `text` as received (a lone surrogate counts 3, as `surrogatepass` writes it).

    A short answer with a `€` or an accent would otherwise be encoded and walked mark by mark three times
    (invisible characters, look-alikes, UTF-8 length): where non-ASCII characters are sparse, one walk over
    the projection's `?` marks answers all three, and at the first invisible character the text takes the
    separate steps, which remove it."""
    if text.isascii():
        return text, 0, text, None, len(text)
    data = text.encode("ascii", "replace")
    quick = fold_visible(text, data)
    if quick is not None:
        seen, folded_data, size = quick
        return text, 0, seen, folded_data, size
    sent, removed, projection = strip_projected(text, data)
    seen, projection = fold(sent, projection)
    return sent, removed, seen, projection, len(text.encode("utf-8", "surrogatepass"))


def fold_visible(text: str, data: bytes) -> tuple[str, bytes, int] | None:
    """`(seen, projection, size)` of non-ASCII `text` (ASCII projection `data`), as `strip_and_fold` gives
    them, when its non-ASCII characters are sparse and none is invisible: one walk over the `?` marks. None
    otherwise, and the caller takes the separate steps."""
    if data.count(b"?") * _DENSE > len(text):
        return None
    invisible = INVISIBLE
    table = fold_table()
    size = len(text)
    found: list[int] = []
    find = data.find
    i = find(b"?")
    while i >= 0:
        ch = text[i]
        if ch >= "\x80":  # not a `?` of the text itself
            if ch in invisible:
                return None
            code = ord(ch)
            size += 1 if code < 0x800 else 2 if code < 0x10000 else 3
            if ch in table:
                found.append(i)
        i = find(b"?", i + 1)
    seen, folded_data = _folded(text, data, found)
    return seen, folded_data, size


def strip_invisible(text: str) -> tuple[str, int]:
    """`(text without its invisible characters, how many were removed)`; `text` itself when none were."""
    out, removed, _ = strip_projected(text)
    return out, removed


def _ascii_like(ch: str) -> bool:
    return ch < "\x80" or ch in _foldable()


class InvisibleStripper:
    """`strip_invisible` for a text that arrives in pieces: the pieces' outputs join to the whole text's.

    A joiner's fate depends on the last character kept before it, which the caller passes (it holds the
    kept text), and a trailing U+FE0F's on the character after it (a keycap mark), so that one character
    is held until the next piece or `finish`."""

    __slots__ = ("held", "removed")

    def __init__(self) -> None:
        self.held = ""
        """A U+FE0F that ended the last piece (its fate waits for the next character), or ""."""
        self.removed = 0
        """Characters removed so far."""

    def feed(self, piece: str, last_kept: str) -> str:
        """`piece` without its invisible characters; `last_kept` is the last character kept so far ("" if none)."""
        text = self.held + piece if self.held else piece
        self.held = ""
        if text.isascii() or not _has_invisible(text, text.encode("ascii", "replace")):
            return text
        if text[-1] == _VS16:
            text, self.held = text[:-1], _VS16
        return self._strip(text, last_kept)

    def finish(self, last_kept: str) -> str:
        """What is still held, stripped as the end of the text."""
        text, self.held = self.held, ""
        return self._strip(text, last_kept) if text else ""

    def _strip(self, text: str, last_kept: str) -> str:
        if not last_kept:
            out = _invisible().sub("", text)
        else:
            # One stand-in character gives the lookbehinds what the last kept character decides.
            out = _invisible().sub("", ("a" if _ascii_like(last_kept) else _NOT_ASCII) + text)[1:]
        self.removed += len(text) - len(out)
        return out


# ---- the rendered view ----------------------------------------------------------------------------------

REFERENCE_MAX = 34
"""The longest character reference `rendered` decodes (`&` + a 32-character name + `;`)."""
_RENDER_TOKEN = re.compile(
    r"&#([0-9]{1,7});|&#[xX]([0-9A-Fa-f]{1,6});|&([A-Za-z][A-Za-z0-9]{1,31});"
    r"|</?[A-Za-z][A-Za-z0-9\-]{0,15}(?:\s[^<>]{0,64})?/?>"
    r"|(?m:^[ \t]{0,3}(?:[0-9]{1,9}[.)]|[-*+])[ \t]+)"
    r"|[*_~`]+"
)
"""What a Markdown or HTML renderer turns into other text: numeric and named character references (decoded),
tags (dropped), list item markers at a line's start (dropped), emphasis, strike-through and code markers
(dropped)."""


@functools.cache
def _named_references() -> dict[str, str]:
    import html.entities

    return {name[:-1]: value for name, value in html.entities.html5.items() if name.endswith(";")}


def _reference(match: re.Match[str]) -> str | None:
    """What a character reference renders as; None when it renders as itself (an unknown name, a code point
    no renderer writes)."""
    decimal, hexadecimal, name = match.group(1, 2, 3)
    if name is not None:
        return _named_references().get(name)
    code = int(decimal) if decimal is not None else int(hexadecimal, 16)
    if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
        return None
    return chr(code)


def rendered(text: str, lo: int = 0, hi: int | None = None) -> tuple[str, list[int], list[int]]:
    """`(view, starts, ends)`: `text[lo:hi]` as a Markdown/HTML renderer shows it (character references
    decoded; tags, list markers and emphasis/code markers removed), and for each character of the view the
    span `[starts[i], ends[i])` of `text` it comes from. A decoded reference's characters all map to the
    whole reference, so a hit found in the view covers the original spelling. Invisible characters a
    reference decodes to are dropped, as `strip_invisible` drops them from the text itself."""
    hi = len(text) if hi is None else hi
    parts: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    pos = lo
    for m in _RENDER_TOKEN.finditer(text, lo, hi):
        a, b = m.span()
        if a > pos:
            parts.append(text[pos:a])
            starts.extend(range(pos, a))
            ends.extend(range(pos + 1, a + 1))
        pos = b
        if text[a] != "&":
            continue  # a marker: dropped
        value = _reference(m)
        if value is None:
            value = m.group()
            starts.extend(range(a, b))
            ends.extend(range(a + 1, b + 1))
            parts.append(value)
            continue
        value = "".join(ch for ch in value if ch not in INVISIBLE)
        parts.append(value)
        starts.extend([a] * len(value))
        ends.extend([b] * len(value))
    if hi > pos:
        parts.append(text[pos:hi])
        starts.extend(range(pos, hi))
        ends.extend(range(pos + 1, hi + 1))
    return "".join(parts), starts, ends
