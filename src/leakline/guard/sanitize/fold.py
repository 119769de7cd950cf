"""Look-alike characters folded to ASCII before the detectors read a text: other scripts' digits, full-width
forms, Unicode spaces and dashes.

A model asked to (or tricked by a prompt injection into) writing a card number in full-width digits
(`４１１１ １１１１ …`), in Arabic-Indic digits, with no-break or thin spaces between its groups, or an e-mail
address with a full-width `＠`, would otherwise pass detectors that read ASCII. Each such character is replaced
by the ASCII character it stands for, one for one, so an offset in the folded text is the same offset in the
original: the detectors read the folded text, and redaction cuts the original (whose other characters,
full-width prices in a Japanese answer included, are sent as they came).
"""

from __future__ import annotations

import functools
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


def fold(text: str) -> tuple[str, bytes | None]:
    """`(folded, projection)`: `text` with its look-alikes replaced (`text` itself when it has none), and the
    ASCII projection of the folded text (each other non-ASCII character a `?`), or None when `text` is ASCII."""
    if text.isascii():
        return text, None
    data = text.encode("ascii", "replace")
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
    if not found:
        return text, data
    parts: list[str] = []
    projection = bytearray(data)
    pos = 0
    for i in found:
        ascii_char = table[text[i]]
        parts.append(text[pos:i])
        parts.append(ascii_char)
        projection[i] = ord(ascii_char)
        pos = i + 1
    parts.append(text[pos:])
    return "".join(parts), bytes(projection)
