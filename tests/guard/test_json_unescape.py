"""`JsonUnescaper`: streamed JSON text with its `\\uXXXX` escapes written as characters, the same JSON value
for any document and any chunking (hypothesis), escapes cut between pieces held until complete."""

from __future__ import annotations

import json
import random
import re
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.guard.sanitize.jsontext import JsonUnescaper


def run(*pieces: str) -> list[str]:
    """What each `feed` returned, then what `finish` returned."""
    unescaper = JsonUnescaper()
    return [*(unescaper.feed(piece) for piece in pieces), unescaper.finish()]


def test_an_escape_cut_between_pieces_is_held_until_complete() -> None:
    assert run('{"email": "ann\\u00', "40ex", 'ample.com"}') == ['{"email": "ann', "@ex", 'ample.com"}', ""]
    assert run("a\\", "u", "0", "0", "4", "0b") == ["a", "", "", "", "", "@b", ""]


def test_backslash_parity_decides_what_is_an_escape() -> None:
    assert run('"\\\\u0040"') == ['"\\\\u0040"', ""]  # a backslash, then the letters u0040
    assert run('"\\\\\\u0040"') == ['"\\\\@"', ""]  # a backslash, then @
    assert run('"\\\\', 'u0040"') == ['"\\\\', 'u0040"', ""]  # the escaped backslash is complete at the cut
    assert run('"\\', '\\u0040"') == ['"', '\\\\u0040"', ""]


def test_what_json_needs_escaped_stays_escaped() -> None:
    text = '"\\u0022 \\u005c \\u005C \\u0000 \\u001f \\n \\t \\/ \\u0020 \\u007e"'
    assert run(text) == ['"\\" \\\\ \\\\ \\u0000 \\u001f \\n \\t \\/   ~"', ""]
    assert json.loads(run(text)[0]) == json.loads(text)


def test_surrogate_pairs_become_one_character_and_lone_ones_stay_escaped() -> None:
    pair = '"\\uD83D\\uDE00"'
    for cut in range(len(pair) + 1):
        assert "".join(run(pair[:cut], pair[cut:])) == '"\U0001f600"', cut
    assert run('"\\ud800 \\udc00 \\uDBFF\\uD83D\\uDE00 \\uD83D\\n"') == [
        '"\\ud800 \\udc00 \\uDBFF\U0001f600 \\uD83D\\n"',
        "",
    ]
    # A stream that ends inside an escape, or after a high surrogate, gets it back as it was.
    assert run('"x\\uD83D') == ['"x', "\\uD83D"]
    assert run('"x\\uD83D\\uDE') == ['"x', "\\uD83D\\uDE"]
    assert run('"x\\u00') == ['"x', "\\u00"]


def test_text_that_is_not_an_escape_is_copied() -> None:
    assert run("\\uZZ \\u12G4 \\x") == ["\\uZZ \\u12G4 \\x", ""]
    assert run("\\u1", "2G4") == ["", "\\u12G4", ""]


def spell(value: Any, rnd: random.Random) -> str:
    """`value` as JSON with characters of its strings written as `\\uXXXX` (upper or lower case) at random,
    as models and servers write them: `ann\\u0040example.com`, emoji as surrogate pairs."""
    if isinstance(value, str):
        return '"' + "".join(_spell_char(c, rnd) for c in value) + '"'
    if isinstance(value, dict):
        return "{" + ",".join(f"{spell(k, rnd)}:{spell(v, rnd)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ",".join(spell(item, rnd) for item in value) + "]"
    return json.dumps(value)


def _spell_char(c: str, rnd: random.Random) -> str:
    code = ord(c)
    escape = "\\u{:04X}" if rnd.random() < 0.5 else "\\u{:04x}"
    if code > 0xFFFF:
        high, low = 0xD800 + ((code - 0x10000) >> 10), 0xDC00 + ((code - 0x10000) & 0x3FF)
        return escape.format(high) + escape.format(low) if rnd.random() < 0.5 else c
    if rnd.random() < 0.5:
        return escape.format(code)
    return json.dumps(c)[1:-1]  # as is, or JSON's own short escape (`\\"`, `\\n`, `\\ud800`)


_ESCAPES = re.compile(r"\\(?:u([0-9a-fA-F]{4})|.)", re.DOTALL)
"""The escapes of JSON text, read from the left (so `\\\\u0040` is `\\\\` and then letters)."""


def escaped_codes(text: str) -> list[tuple[int, int, int]]:
    """(start, end, code point) of each `\\uXXXX` escape left in `text`."""
    return [(m.start(), m.end(), int(m.group(1), 16)) for m in _ESCAPES.finditer(text) if m.group(1)]


_any_char = st.characters(exclude_categories=())  # lone surrogates too
_keys = st.text(_any_char, max_size=8)
_json: Any = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(_any_char, max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_keys, inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(
    value=_json,
    rnd=st.randoms(use_true_random=False),
    cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12),
)
def test_any_document_cut_anywhere_keeps_its_value(value: Any, rnd: random.Random, cuts: list[int]) -> None:
    text = spell(value, rnd)
    bounds = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    out = "".join(run(*(text[a:b] for a, b in pairwise(bounds))))
    assert json.loads(out) == json.loads(text)
    # Only what JSON needs escaped still is: control characters and lone surrogates, never a pair.
    left = escaped_codes(out)
    assert all(code < 0x20 or 0xD800 <= code <= 0xDFFF for _, _, code in left), left
    assert not any(a[1] == b[0] and 0xD800 <= a[2] <= 0xDBFF and 0xDC00 <= b[2] <= 0xDFFF for a, b in pairwise(left)), (
        left
    )


@pytest.mark.parametrize("text", ["", "plain text, no escapes", '{"a": [1, 2.5e3, null, true]}'])
def test_text_without_a_backslash_passes_unchanged(text: str) -> None:
    assert run(text) == [text, ""]
