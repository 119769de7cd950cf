"""Exact multi-literal search: where any of a set of known values (env secrets, endpoints) occurs in a text.

Build output is minified, so the reliable way to see a secret in it is to look for the secret's value
itself. `LiteralMatcher` is built once from `label → value` and then searched over many texts, by
default with one `str.find` pass per value: the search runs in C at memory speed and skips ahead,
while CPython's regex engine tries an alternation of escaped values at every position. Measured with
bench/secrets_bench.py on minified output, the combined regex was 5-19x slower than the find passes
for 8 to 512 random values, so it is kept only as an explicit strategy for comparison.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Literal

from leakline.detectors.errors import EmptyLiteralError

Strategy = Literal["find", "regex"]


@dataclass(frozen=True, slots=True)
class LiteralMatch:
    label: str
    start: int
    end: int


class LiteralMatcher:
    """Finds every occurrence of a fixed set of values; labels say which value matched, never the value."""

    def __init__(self, literals: Mapping[str, str], strategy: Strategy = "find") -> None:
        by_value: dict[str, str] = {}
        for label, value in literals.items():
            if not value:
                raise EmptyLiteralError(f"literal {label!r} is empty; an empty value would match everywhere")
            by_value.setdefault(value, label)
        # Longest first, so that a value that contains another one is reported as itself.
        self._values = sorted(by_value, key=len, reverse=True)
        self._label_of = by_value
        self._combined: re.Pattern[str] | None = None
        if strategy == "regex" and self._values:
            self._combined = re.compile("|".join(re.escape(v) for v in self._values))

    def __len__(self) -> int:
        return len(self._values)

    def finditer(self, text: str) -> Iterator[LiteralMatch]:
        """Occurrences in order of position.

        The find strategy reports each value's non-overlapping occurrences, even inside another value's;
        the regex strategy reports one match per stretch of text, the longest value first.
        """
        if self._combined is not None:
            for match in self._combined.finditer(text):
                yield LiteralMatch(self._label_of[match.group()], match.start(), match.end())
            return
        found: list[LiteralMatch] = []
        for value in self._values:
            label = self._label_of[value]
            pos = text.find(value)
            while pos >= 0:
                found.append(LiteralMatch(label, pos, pos + len(value)))
                pos = text.find(value, pos + len(value))
        found.sort(key=lambda m: (m.start, -m.end))
        yield from found
