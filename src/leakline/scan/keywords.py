"""Byte-level keyword prefilters: does a file's bytes hold any of a rule's keywords?

Most rules skip a file unparsed when none of their keywords is in it, and ask this of every source file of the
app: `any(word in data for word in words)` reads each file once per word (~20 us for 12 words on a 4 KB file,
~0.1 s per rule on a 5,000-file app). Once a set has been asked about enough files to pay for it, it is
answered by one Hyperscan pass instead (~3 us; compiling a set of literals takes ~1 ms). Without Hyperscan, and
for the first files of a scan (a small app never compiles anything), the plain substring tests answer; both
give the same answers (literal bytes, ASCII case folding only: that of `bytes.lower`).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterable
from typing import Any

HYPERSCAN_AFTER = 300
"""Files asked about in plain Python before a set is compiled: below this, compiling costs more than it saves."""
_MIN_WORDS = 3
"""Sets of fewer words are always searched in Python: a Hyperscan call costs about two substring searches."""


class Keywords:
    """Byte strings a prefilter looks for; `in_bytes` tells whether any of them occurs in some bytes.

    `caseless`: the words are lower-case and are looked for in the lower-cased bytes (`word in data.lower()`);
    a word with an upper-case letter can never occur there and is dropped."""

    def __init__(self, words: Iterable[bytes], *, caseless: bool = False) -> None:
        unique = tuple(dict.fromkeys(words))
        self.caseless = caseless
        self.words = tuple(w for w in unique if w == w.lower()) if caseless else unique
        self._asked = 0
        # None: not tried yet; False: plain Python for good (no Hyperscan, or too few words).
        self._scanner: Any = None if len(self.words) >= _MIN_WORDS else False

    def in_bytes(self, data: bytes) -> bool:
        scanner = self._scanner
        if scanner is None:
            self._asked += 1
            if self._asked > HYPERSCAN_AFTER:
                scanner = self._scanner = _compile(self.words, caseless=self.caseless) or False
        if scanner:
            return bool(scanner.found_in(data))
        if self.caseless:
            data = data.lower()
        return any(word in data for word in self.words)


class Expressions:
    """Regular expressions (bytes, in the syntax both `re` and Hyperscan read alike: literals, classes, `\\b`, `\\w`,
    `\\s`, `*`) whose matches a prefilter looks at. `starts` gives, for each expression, the start of each of its
    matches, overlapping ones included (`re.finditer` skips those), from one Hyperscan pass; or None while the
    expressions are not compiled (see `HYPERSCAN_AFTER`) or without Hyperscan: the caller then runs its own
    regular expression."""

    def __init__(self, expressions: Iterable[bytes]) -> None:
        self.expressions = tuple(expressions)
        self._asked = 0
        # None: not compiled yet; False: never (no Hyperscan).
        self._scanner: _StartsScanner | bool | None = None

    def starts(self, data: bytes) -> list[list[int]] | None:
        scanner = self._scanner
        if scanner is None:
            self._asked += 1
            if self._asked <= HYPERSCAN_AFTER:
                return None
            scanner = self._scanner = _compile_expressions(self.expressions) or False
        if not isinstance(scanner, _StartsScanner):
            return None
        return scanner.starts(data, len(self.expressions))


class Prefilter:
    """One regular expression (bytes, in the syntax both `re` and Hyperscan read alike); `may_match` tells whether
    it matches anywhere in some bytes, from one Hyperscan pass, or None while it is not compiled (see
    `HYPERSCAN_AFTER`) or without Hyperscan: the caller then decides as it would without it."""

    def __init__(self, expression: bytes) -> None:
        self.expression = expression
        self._asked = 0
        # None: not compiled yet; False: never (no Hyperscan).
        self._scanner: _Scanner | bool | None = None

    def may_match(self, data: bytes) -> bool | None:
        scanner = self._scanner
        if scanner is None:
            self._asked += 1
            if self._asked <= HYPERSCAN_AFTER:
                return None
            scanner = self._scanner = _compile((self.expression,), caseless=False, literal=False) or False
        if not isinstance(scanner, _Scanner):
            return None
        return scanner.found_in(data)


class _StartsScanner:
    def __init__(self, hyperscan: Any, database: Any) -> None:
        self._db = database
        self._scratch = hyperscan.Scratch(database)

    def starts(self, data: bytes, count: int) -> list[list[int]]:
        found: list[list[int]] = [[] for _ in range(count)]
        if data:

            def on_match(expression: int, start: int, _end: int, _flags: int, _context: object) -> None:
                found[expression].append(start)

            self._db.scan(data, match_event_handler=on_match, scratch=self._scratch)
        return found


def _compile_expressions(expressions: tuple[bytes, ...]) -> _StartsScanner | None:
    try:
        import hyperscan
    except ImportError:
        return None
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        database.compile(
            expressions=list(expressions),
            ids=list(range(len(expressions))),
            flags=[hyperscan.HS_FLAG_SOM_LEFTMOST] * len(expressions),
        )
    except hyperscan.error:
        return None
    return _StartsScanner(hyperscan, database)


class _Scanner:
    def __init__(self, hyperscan: Any, database: Any) -> None:
        self._db = database
        self._scratch = hyperscan.Scratch(database)
        self._terminated: type[BaseException] = hyperscan.ScanTerminated
        self._found = False

    def _on_match(self, _id: int, _start: int, _end: int, _flags: int, _context: object) -> bool:
        self._found = True
        return True  # stop the scan: the answer cannot change any more

    def found_in(self, data: bytes) -> bool:
        if not data:
            return False
        self._found = False
        with contextlib.suppress(self._terminated):  # raised when `_on_match` stops the scan
            self._db.scan(data, match_event_handler=self._on_match, scratch=self._scratch)
        return self._found


def _compile(words: tuple[bytes, ...], *, caseless: bool, literal: bool = True) -> _Scanner | None:
    """A Hyperscan database matching any of `words` (literally, or ASCII-caselessly; or regular expressions if not
    `literal`), None without Hyperscan."""
    try:
        import hyperscan
    except ImportError:
        return None
    flags = hyperscan.HS_FLAG_SINGLEMATCH | (hyperscan.HS_FLAG_CASELESS if caseless else 0)
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        database.compile(
            expressions=[re.escape(word) if literal else word for word in words],
            ids=list(range(len(words))),
            flags=[flags] * len(words),
        )
    except hyperscan.error:
        return None
    return _Scanner(hyperscan, database)
