"""Trigger engines: one native pass over the text that finds where a matcher needs to look.

Triggers are cheap anchors (`@` and the tails of `&#64;`/`&#x40;`/`&commat;`/`%40`, the first digit of a
digit run, a colon between hex digits) plus gate patterns (canary spellings, fingerprint k-grams of the
protected corpus). Two interchangeable engines, chosen by measurement (bench/sanitize_bench.py):
Hyperscan over the text's ASCII projection (every non-ASCII character becomes `?`, so byte offsets are
character offsets), and Python's `re` as the pure-Python fallback when the `hyperscan` wheel is not
installed. Both report the same positions.

A stream does not re-scan what it has seen: `scan_tail` reports only the triggers that text appended
since the last call settles (see `stream.py`). A whole text is scanned by `scan_whole`, which may report
number triggers per run of number characters instead of per digit run (fewer callbacks into Python; the
number matcher walks each run itself): a stream needs each trigger on its own, a whole text does not.
"""

from __future__ import annotations

import re
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from leakline.guard.sanitize.matchers import (
    AT_TOKEN_TAILS,
    SECRET_GATES,
    WIDE_CARD_AFTER,
    WIDE_CARD_SHAPE,
    Triggers,
)

_AT, _DIGIT, _DCOLON, _HEXCOLON, _CANARY, _PROTECTED, _LETTER_DIGIT, _SECRET, _RUN, _CAPITAL_DIGIT = range(10)
_WIDE_CARD = 10
_KINDS = 11
# Hyperscan reports match ends; each trigger pattern has a fixed length, so start = end - length.
# A digit trigger is the first digit of a run of at least 7 number characters (the shortest identifier,
# 1.2.3.4, has 7), or a digit right after two capitals (IBAN, NINO, codice fiscale): prices, versions and
# counts in prose never reach Python.
_HS_SHARED: tuple[tuple[int, bytes, int], ...] = (
    (_AT, rb"@", 1),
    # What HTML and URLs render or decode as `@` (`&#64;`, `&#x40;`, `&commat;`, `%40`; see AT_TOKEN_TAILS):
    # the trigger is the token's last character, read with three before it like every other trigger, and
    # the e-mail matcher checks the whole token (leading zeros included) before it.
    *((_AT, tail.encode(), len(tail)) for tail in AT_TOKEN_TAILS),
    (_LETTER_DIGIT, rb"[A-Z][A-Z] ?[0-9]", 1),
    (_DCOLON, rb"::", 2),
    (_HEXCOLON, rb"[0-9A-Fa-f]:[0-9A-Fa-f]", 2),
)
_HS_PATTERNS = (
    *_HS_SHARED,
    (_DIGIT, rb"[^0-9][0-9][0-9 \-./)]{6}", 7),
    # The first digit of a card whose groups `_` or line breaks join (no number run) or 2-3 separators part
    # (`4111 - 1111`, no region): a digit trigger like the one above.
    (_DIGIT, b"[^0-9][0-9]" + WIDE_CARD_AFTER.encode(), 7),
)
# The whole-text database reports, instead of every digit trigger, the first digit of each run of number
# characters that holds one (one callback for a spaced card or a grouped IBAN, not one per group), and the
# digit triggers right after a capital letter (the letter-prefixed identifiers: IBAN, NINO, NIE, ...).
_HS_WHOLE_PATTERNS = (
    *_HS_SHARED,
    (_RUN, rb"(?:^|[^0-9 \-./)])[ \-./)]*[0-9][0-9 \-./)]{6}", 7),
    (_CAPITAL_DIGIT, rb"[A-Z][0-9][0-9 \-./)]{6}", 7),
    # Where such a card's last group ends: the matcher finds its first digit 17-25 characters before.
    (_WIDE_CARD, WIDE_CARD_SHAPE.encode(), 0),
)
_RE_DIGIT = re.compile(
    rf"(?<![0-9])[0-9](?=[0-9 \-./)]{{6}}|{WIDE_CARD_AFTER})|(?<=[A-Z][A-Z])[0-9]|(?<=[A-Z][A-Z] )[0-9]"
)
_SECRET_BASE = 1000
_ANCHOR_LENGTHS = tuple(length for _, length, _ in SECRET_GATES)
_HS_START_DIGIT = re.compile(rb"[0-9](?:[0-9 \-./)]{6}|" + WIDE_CARD_AFTER.encode() + b")")
_RE_COLON = re.compile(r"(?<=:):|(?<=[0-9A-Fa-f]):(?=[0-9A-Fa-f])")
LOCAL_LOOKBEHIND = 3
"""A trigger at `p` depends on text from `p - 3` (`AB 1`, a non-digit before a digit, a hex digit before `:`)..."""
LOCAL_LOOKAHEAD = 6
"""...to `p + 6` (a digit trigger needs six more number characters)."""
# The same tails for `str.find`: the literal part, and the characters one of which must precede it.
_AT_NEEDLES = tuple(
    (tail[tail.index("]") + 1 :], tail[1 : tail.index("]")]) if tail.startswith("[") else (tail, "")
    for tail in AT_TOKEN_TAILS
)
LocalTriggers = dict[str, list[int]]
"""The `at`, `digit` and `colon` trigger positions by `Triggers` field name; from an engine that
`reports_gates`, also the new gate matches: `canary_ends` (match ends) and `secret_anchors` (anchor starts)."""


class TriggerEngine(ABC):
    """Finds trigger positions; one instance is compiled per policy and shared by all requests."""

    name: str
    gate_reach = 0
    """How far before `gate_from` a gate match reported by `scan_tail` may start."""
    reports_gates = False
    """Whether `scan_tail` lists its new gate matches, so a stream can find a window's gates without
    scanning the window again (`scan(window)` reports exactly those that lie wholly inside it)."""

    @abstractmethod
    def scan(self, text: str) -> Triggers:
        """The sorted trigger positions in `text`."""

    def scan_whole(self, text: str, projection: bytes | None = None) -> Triggers:
        """What a whole-text scan needs: `scan(text)`, or the same triggers with the digit ones given as
        `Triggers.number_runs` and `Triggers.capital_digits` (the number matcher finds the same candidates).
        `projection`: `text`'s ASCII projection when the caller has it already."""
        return self.scan(text)

    @abstractmethod
    def scan_tail(
        self, text: str, local_from: int, gate_from: int, final: bool
    ) -> tuple[LocalTriggers, int, int]:
        """What a stream learns when `text` has grown since the previous call.

        `text` is a suffix of the stream starting at least 512 characters before `local_from` (or the whole
        stream so far); `final` says no more text follows. Returns `(triggers, local_to, gate_end)`:
        `triggers["at"]`, `["digit"]` and `["colon"]` hold exactly the positions in `[local_from, local_to)`
        that `scan(whole stream)` reports (the next call starts from `local_to`); `gate_end` is the largest
        end of a gate match (canary, secret anchor) ending after `gate_from`, -1 when there is none, or
        `len(text)` when this engine cannot tell (the gated matchers must then run on every window).
        When the engine `reports_gates`, `triggers["canary_ends"]` and `triggers["secret_anchors"]` hold
        every canary match end and secret anchor start (in `text` offsets) of the matches ending after
        `gate_from`: each gate match is reported by exactly one call.
        """

    def canary_ends(self, text: str) -> list[int]:
        """The ends of the canary gate matches that lie wholly inside `text` (what `scan(text)` reports)."""
        return list(self.scan(text).canary_ends or ())


def _at_positions(text: str, lo: int, hi: int) -> list[int]:
    """The `at` triggers `p` with `lo <= p < hi`: each `@`, and the last character of each `AT_TOKEN_TAILS`
    match (what the Hyperscan engine reports). `str.find` per literal: they are rare, and a `re` pass
    over the text would cost more than all of them."""
    at: list[int] = []
    pos = text.find("@", lo, hi)
    while pos >= 0:
        at.append(pos)
        pos = text.find("@", pos + 1, hi)
    tokens = False
    for needle, before in _AT_NEEDLES:
        last = len(needle) - 1
        pos = text.find(needle, max(0, lo - last), hi)
        while pos >= 0:
            if not before or (pos > 0 and text[pos - 1] in before):
                at.append(pos + last)
                tokens = True
            pos = text.find(needle, pos + 1, hi)
    if tokens:
        at.sort()
    return at


class ReEngine(TriggerEngine):
    """Pure Python: `str.find` for `@` and its encoded spellings, compiled `re` patterns for the rest; gates
    are left to the matchers."""

    name = "re"

    def scan(self, text: str) -> Triggers:
        at = _at_positions(text, 0, len(text))
        digit = [m.start() for m in _RE_DIGIT.finditer(text)]
        colon = [m.start() - 1 if text[m.start() - 1] == ":" else m.start() for m in _RE_COLON.finditer(text)]
        return Triggers(at=at, digit=digit, colon=colon)

    def scan_tail(
        self, text: str, local_from: int, gate_from: int, final: bool
    ) -> tuple[LocalTriggers, int, int]:
        local_to = len(text) if final else max(local_from, len(text) - LOCAL_LOOKAHEAD)
        at = _at_positions(text, local_from, local_to)
        # `pos` in finditer is not a slice: the look-behinds still see the text before it.
        digit: list[int] = []
        for m in _RE_DIGIT.finditer(text, local_from):
            if m.start() >= local_to:
                break
            digit.append(m.start())
        colon: list[int] = []
        for m in _RE_COLON.finditer(text, local_from):
            p = m.start() - 1 if text[m.start() - 1] == ":" else m.start()
            if p >= local_to:
                break
            if p >= local_from:
                colon.append(p)
        return {"at": at, "digit": digit, "colon": colon}, local_to, len(text)


class HyperscanEngine(TriggerEngine):
    """Hyperscan block mode: one database for the triggers and every gate pattern, one scan per text."""

    name = "hyperscan"

    def __init__(
        self, canary_patterns: Sequence[str], protected_patterns: Sequence[str], *, canary_max_length: int
    ) -> None:
        import hyperscan

        expressions: list[bytes] = []
        ids: list[int] = []
        flags: list[int] = []
        for pattern in canary_patterns:
            expressions.append(pattern.encode())
            ids.append(_CANARY)
            flags.append(hyperscan.HS_FLAG_CASELESS)
        for pattern in protected_patterns:
            expressions.append(pattern.encode())
            ids.append(_PROTECTED)
            flags.append(hyperscan.HS_FLAG_CASELESS)
        for i, (gate, _, caseless) in enumerate(SECRET_GATES):
            expressions.append(gate)
            ids.append(_SECRET_BASE + i)
            # find_secrets reads an AWS key's name, a PEM header and a lenient key prefix in any case.
            flags.append(hyperscan.HS_FLAG_CASELESS if caseless else 0)
        self._has_canary = bool(canary_patterns)
        self._has_protected = bool(protected_patterns)
        # A gate match that ends after `gate_from` starts at most this far before it (canary spellings are
        # bounded; protected k-grams are not, which is why a protected corpus makes gates untracked).
        self.gate_reach = max(canary_max_length, *_ANCHOR_LENGTHS) + 1
        self.reports_gates = not self._has_protected
        # The same gates in both databases; each gets its own scratch (sized for it).
        self._db, self._scratch = self._compile(hyperscan, _HS_PATTERNS, expressions, ids, flags)
        self._whole_db, self._whole_scratch = self._compile(hyperscan, _HS_WHOLE_PATTERNS, expressions, ids, flags)
        self._local = threading.local()

    @staticmethod
    def _compile(
        hyperscan: Any, triggers: Sequence[tuple[int, bytes, int]], expressions: list[bytes], ids: list[int],
        flags: list[int],
    ) -> tuple[Any, Any]:
        db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
        db.compile(
            expressions=[p for _, p, _ in triggers] + expressions,
            ids=[i for i, _, _ in triggers] + ids,
            flags=[0] * len(triggers) + flags,
        )
        return db, hyperscan.Scratch(db)

    def _thread_scratch(self, whole: bool = False) -> Any:
        # A Scratch must not be used by two scans at once: one clone per thread and database, made on first use.
        name = "whole_scratch" if whole else "scratch"
        scratch = getattr(self._local, name, None)
        if scratch is None:
            scratch = (self._whole_scratch if whole else self._scratch).clone()
            setattr(self._local, name, scratch)
        return scratch

    def _buckets(self, data: bytes, whole: bool = False) -> tuple[list[int], ...]:
        """Match ends per trigger kind (secret anchors: their start)."""
        # `_KINDS` lists as a literal (0.24 us; built by a loop, 0.75): on a short answer each step of a scan's
        # fixed cost shows.
        buckets: tuple[list[int], ...] = ([], [], [], [], [], [], [], [], [], [], [])
        db = self._whole_db if whole else self._db
        db.scan(data, match_event_handler=_into_bucket, context=buckets, scratch=self._thread_scratch(whole))
        return buckets

    def scan(self, text: str) -> Triggers:
        data = text.encode("ascii", "replace")
        buckets = self._buckets(data)
        at = sorted([e - 1 for e in buckets[_AT]])
        digits = {e - 7 for e in buckets[_DIGIT]} | {e - 1 for e in buckets[_LETTER_DIGIT]}
        if _HS_START_DIGIT.match(data):
            digits.add(0)
        digit = sorted(digits)
        colon = sorted({e - 2 for e in buckets[_DCOLON]} | {e - 2 for e in buckets[_HEXCOLON]})
        return self._triggers(data, buckets, at, digit, colon)

    def _triggers(
        self, data: bytes, buckets: tuple[list[int], ...], at: list[int], digit: list[int], colon: list[int],
        number_runs: list[int] | None = None, capital_digits: Sequence[int] = (), card_ends: Sequence[int] = (),
    ) -> Triggers:
        return Triggers(
            at=at,
            digit=digit,
            colon=colon,
            canary_ends=buckets[_CANARY] if self._has_canary else [],
            protected_ends=buckets[_PROTECTED] if self._has_protected else [],
            secret_anchors=sorted(buckets[_SECRET]),
            ascii_projection=data,
            number_runs=number_runs,
            capital_digits=capital_digits,
            card_ends=card_ends,
        )

    def scan_whole(self, text: str, projection: bytes | None = None) -> Triggers:
        data = projection if projection is not None else text.encode("ascii", "replace")
        buckets = self._buckets(data, whole=True)
        # Most kinds have no match in a short answer: an empty bucket (a new list per scan) is its own
        # result, and a list of one needs no sort (each step of a scan's fixed cost shows on short answers).
        at = buckets[_AT]
        if at:
            at = [e - 1 for e in at]
            if len(at) > 1:
                at.sort()
        capitals = buckets[_LETTER_DIGIT]
        if capitals:
            capitals = [e - 1 for e in capitals]
        if buckets[_CAPITAL_DIGIT]:
            capitals = sorted({e - 7 for e in buckets[_CAPITAL_DIGIT]}.union(capitals))
        colon = buckets[_DCOLON]
        if colon or buckets[_HEXCOLON]:
            colon = sorted({e - 2 for e in colon} | {e - 2 for e in buckets[_HEXCOLON]})
        runs = buckets[_RUN]
        if runs:
            runs = [e - 7 for e in runs]
        secrets = buckets[_SECRET]
        if len(secrets) > 1:
            secrets.sort()
        canary_ends = buckets[_CANARY] if self._has_canary else []
        protected_ends = buckets[_PROTECTED] if self._has_protected else []
        # In the order of the fields: a NamedTuple built from keywords costs 0.6 us more.
        return Triggers(at, [], colon, canary_ends, protected_ends, secrets, data, runs, capitals, buckets[_WIDE_CARD])

    def scan_tail(
        self, text: str, local_from: int, gate_from: int, final: bool
    ) -> tuple[LocalTriggers, int, int]:
        local_to = len(text) if final else max(local_from, len(text) - LOCAL_LOOKAHEAD)
        # Every pattern that can report something new lies inside this slice: triggers need LOCAL_LOOKBEHIND
        # characters before their position, gates at most `gate_reach` before their end.
        a = max(0, min(local_from - LOCAL_LOOKBEHIND, gate_from - self.gate_reach))
        data = text[a:].encode("ascii", "replace")
        found: list[tuple[int, int]] = []

        def on_match(pattern_id: int, _start: int, end: int, _flags: int, _context: Any) -> None:
            found.append((pattern_id, end))

        self._db.scan(data, match_event_handler=on_match, scratch=self._thread_scratch())
        at: list[int] = []
        digit: list[int] = []
        colon: list[int] = []
        canary: list[int] = []
        anchors: list[int] = []
        lo, hi = local_from - a, local_to - a
        new_gate = gate_from - a
        gate_end = -1
        # Called once per release on a few hundred new characters: a handful of matches, one plain loop.
        for pattern_id, end in found:
            if pattern_id == _DIGIT:
                if lo <= end - 7 < hi:
                    digit.append(end - 7 + a)
            elif pattern_id == _LETTER_DIGIT:
                if lo <= end - 1 < hi:
                    digit.append(end - 1 + a)
            elif pattern_id == _AT:
                if lo <= end - 1 < hi:
                    at.append(end - 1 + a)
            elif pattern_id in (_DCOLON, _HEXCOLON):
                if lo <= end - 2 < hi:
                    colon.append(end - 2 + a)
            elif pattern_id != _PROTECTED:
                if end > gate_end:
                    gate_end = end
                if end > new_gate:
                    if pattern_id == _CANARY:
                        canary.append(end + a)
                    else:
                        anchors.append(end - _ANCHOR_LENGTHS[pattern_id - _SECRET_BASE] + a)
        if a == 0 and lo <= 0 < hi and _HS_START_DIGIT.match(data):
            digit.append(0)
        if len(at) > 1:
            at.sort()  # several patterns report `at` triggers
        if len(digit) > 1:
            digit = sorted(set(digit))
        if len(colon) > 1:
            colon = sorted(set(colon))
        if self._has_protected:
            gate_end = len(text)  # protected gates end in \b: a window's own scan can see one this cannot
        elif gate_end + a <= gate_from:
            gate_end = -1
        else:
            gate_end += a
        triggers = {"at": at, "digit": digit, "colon": colon, "canary_ends": canary, "secret_anchors": anchors}
        return triggers, local_to, gate_end

    def canary_ends(self, text: str) -> list[int]:
        ends: list[int] = []

        def on_match(pattern_id: int, _start: int, end: int, _flags: int, _context: Any) -> None:
            if pattern_id == _CANARY:
                ends.append(end)

        self._db.scan(text.encode("ascii", "replace"), match_event_handler=on_match, scratch=self._thread_scratch())
        return ends


def _into_bucket(pattern_id: int, _start: int, end: int, _flags: int, buckets: tuple[list[int], ...]) -> None:
    """Hyperscan's match callback for `_buckets`: the buckets come as the scan's context, so no closure is
    made per scan."""
    if pattern_id >= _SECRET_BASE:
        buckets[_SECRET].append(end - _ANCHOR_LENGTHS[pattern_id - _SECRET_BASE])
    else:
        buckets[pattern_id].append(end)


def hyperscan_available() -> bool:
    try:
        import hyperscan  # noqa: F401
    except ImportError:
        return False
    return True
