"""Trigger engines: one native pass over the text that finds where a matcher needs to look.

Triggers are cheap anchors (`@`, the first digit of a digit run, a colon between hex digits) plus gate
patterns (canary spellings, fingerprint k-grams of the protected corpus). Two interchangeable engines,
chosen by measurement (bench/sanitize_bench.py): Hyperscan over the text's ASCII projection (every
non-ASCII character becomes `?`, so byte offsets are character offsets), and Python's `re` as the
pure-Python fallback when the `hyperscan` wheel is not installed. Both report the same positions.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from leakline.guard.sanitize.matchers import SECRET_ANCHORS, Triggers

_AT, _DIGIT, _DCOLON, _HEXCOLON, _CANARY, _PROTECTED, _LETTER_DIGIT, _SECRET = range(8)
# Hyperscan reports match ends; each trigger pattern has a fixed length, so start = end - length.
# A digit trigger is the first digit of a run of at least 7 number characters (the shortest identifier,
# 1.2.3.4, has 7), or a digit right after two capitals (IBAN, NINO, codice fiscale): prices, versions and
# counts in prose never reach Python.
_HS_PATTERNS: tuple[tuple[int, bytes, int], ...] = (
    (_AT, rb"@", 1),
    (_DIGIT, rb"[^0-9][0-9][0-9 \-./)]{6}", 7),
    (_LETTER_DIGIT, rb"[A-Z][A-Z] ?[0-9]", 1),
    (_DCOLON, rb"::", 2),
    (_HEXCOLON, rb"[0-9A-Fa-f]:[0-9A-Fa-f]", 2),
)
_RE_DIGIT = re.compile(r"(?<![0-9])[0-9](?=[0-9 \-./)]{6})|(?<=[A-Z][A-Z])[0-9]|(?<=[A-Z][A-Z] )[0-9]")
_SECRET_BASE = 1000
_ANCHOR_LENGTHS = tuple(len(a) for a in SECRET_ANCHORS)
_HS_START_DIGIT = re.compile(rb"[0-9][0-9 \-./)]{6}")
_RE_COLON = re.compile(r"(?<=:):|(?<=[0-9A-Fa-f]):(?=[0-9A-Fa-f])")


class TriggerEngine(ABC):
    """Finds trigger positions; one instance is compiled per policy and shared by all requests."""

    name: str

    @abstractmethod
    def scan(self, text: str) -> Triggers:
        """The sorted trigger positions in `text`."""


class ReEngine(TriggerEngine):
    """Pure Python: `str.find` for `@`, compiled `re` patterns for the rest; gates are left to the matchers."""

    name = "re"

    def scan(self, text: str) -> Triggers:
        at: list[int] = []
        pos = text.find("@")
        while pos >= 0:
            at.append(pos)
            pos = text.find("@", pos + 1)
        digit = [m.start() for m in _RE_DIGIT.finditer(text)]
        colon = [m.start() - 1 if text[m.start() - 1] == ":" else m.start() for m in _RE_COLON.finditer(text)]
        return Triggers(at=at, digit=digit, colon=colon)


class HyperscanEngine(TriggerEngine):
    """Hyperscan block mode: one database for the triggers and every gate pattern, one scan per text."""

    name = "hyperscan"

    def __init__(self, canary_patterns: Sequence[str], protected_patterns: Sequence[str]) -> None:
        import hyperscan

        expressions = [p for _, p, _ in _HS_PATTERNS]
        ids = [i for i, _, _ in _HS_PATTERNS]
        flags = [0] * len(expressions)
        for pattern in canary_patterns:
            expressions.append(pattern.encode())
            ids.append(_CANARY)
            flags.append(hyperscan.HS_FLAG_CASELESS)
        for pattern in protected_patterns:
            expressions.append(pattern.encode())
            ids.append(_PROTECTED)
            flags.append(hyperscan.HS_FLAG_CASELESS)
        for i, anchor in enumerate(SECRET_ANCHORS):
            expressions.append(re.escape(anchor).encode())
            ids.append(_SECRET_BASE + i)
            flags.append(0)
        self._has_canary = bool(canary_patterns)
        self._has_protected = bool(protected_patterns)
        self._db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        self._db.compile(expressions=expressions, ids=ids, flags=flags)
        self._scratch = hyperscan.Scratch(self._db)
        self._local = threading.local()

    def _thread_scratch(self) -> Any:
        # A Scratch must not be used by two scans at once: one clone per thread, made on first use.
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._scratch.clone()
        return scratch

    def scan(self, text: str) -> Triggers:
        data = text.encode("ascii", "replace")
        buckets: tuple[list[int], ...] = ([], [], [], [], [], [], [], [])

        def on_match(pattern_id: int, _start: int, end: int, _flags: int, _context: Any) -> None:
            if pattern_id >= _SECRET_BASE:
                buckets[_SECRET].append(end - _ANCHOR_LENGTHS[pattern_id - _SECRET_BASE])
            else:
                buckets[pattern_id].append(end)

        self._db.scan(data, match_event_handler=on_match, scratch=self._thread_scratch())
        at = [e - 1 for e in buckets[_AT]]
        digits = {e - 7 for e in buckets[_DIGIT]} | {e - 1 for e in buckets[_LETTER_DIGIT]}
        if _HS_START_DIGIT.match(data):
            digits.add(0)
        digit = sorted(digits)
        colon = sorted({e - 2 for e in buckets[_DCOLON]} | {e - 2 for e in buckets[_HEXCOLON]})
        return Triggers(
            at=at,
            digit=digit,
            colon=colon,
            canary_ends=buckets[_CANARY] if self._has_canary else [],
            protected_ends=buckets[_PROTECTED] if self._has_protected else [],
            secret_anchors=sorted(buckets[_SECRET]),
        )


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True
