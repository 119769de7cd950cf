"""Canaries and protected text split across the fields or choices of one answer (issue 6).

Each text field of each choice is sanitized on its own, so `"Zq7XbN2vLp9R"` in choice 0 and `"tY4sKw8HdM3c"`
in choice 1 (or in `reasoning_content` and `content`) passed although the client can join them. Here the
canary and protected-text detectors also read the fields joined (`"\\n"` between two fields: a line break is
one of the separators a canary's spaced spelling allows, and it keeps protected-text tokens apart).

Only hits that span two fields count: one inside a single field was judged there already. Such a hit cannot
be cut out of each field, so `redact` refuses the answer like `block`; `alert` reports it.

- Whole answers (`across_fields`): every text joined in the order the gateway judged them, and again in the
  reverse order, so a two-field split is caught whichever half comes first.
- Streams (`CanaryWatch`), canaries only: the pieces of every field in arrival order (a rolling window), and
  each field's first and last characters joined in field order and reversed (what a client joining whole
  fields reads). The watch judges before a field's stream can release the piece a split canary began in.
- Both, with more than two texts (canaries only): every text in which a canary gate fires joined with every
  other one (`_pairs`): halves in two JSON values with keys between, or in two parallel tool calls.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from itertools import accumulate
from typing import Any

from leakline.guard.sanitize.core import REDACTION_FORMAT, DetectorHit, Sanitizer
from leakline.guard.sanitize.errors import SanitizerFailed
from leakline.guard.sanitize.fold import InvisibleStripper, fold, strip_invisible
from leakline.guard.sanitize.matchers import (
    CANARY,
    CANARY_SPLIT_GAP,
    PROTECTED_TEXT,
    CanaryMatcher,
    canary_max_length,
)
from leakline.guard.sanitize.policy import Action

FIELD_SEPARATOR = "\n"
_GAP = "\n#" * (CANARY_SPLIT_GAP // 2 + 2) + "\n"
"""Stands for the middle of a long field: longer than the gap a split canary may have (`CANARY_SPLIT_GAP`)
and more separators than a spaced canary allows, and neither a base64 character, nor a line break alone,
nor a hex separator."""
WHERE = "across fields"
"""The `where` of an across-field hit in the audit record; its offsets are in the fields joined."""


def refuses(hits: Sequence[DetectorHit]) -> bool:
    """Whether these across-field hits refuse the answer: any but `alert` (a split cannot be redacted)."""
    return any(h.action is not Action.ALERT for h in hits)


def _spanning(sanitizer: Sanitizer, texts: Sequence[str], detectors: frozenset[str]) -> list[DetectorHit]:
    """Hits of `detectors` in `texts` joined that start in one text and end in another."""
    starts: list[int] = []
    pos = 0
    for text in texts:
        starts.append(pos)
        pos += len(text) + len(FIELD_SEPARATOR)
    joined = FIELD_SEPARATOR.join(texts)
    seen, _ = fold(joined)
    try:
        triggers = sanitizer.engine.scan(seen)
    except Exception as exc:
        raise SanitizerFailed(f"engine:{sanitizer.engine.name}", exc) from exc
    families = [f for f in sanitizer.gated_families if f.name in detectors]
    kept = sanitizer.resolve(sanitizer.candidates_of(families, seen, triggers))
    split = [c for c in kept if bisect_right(starts, c.start) != bisect_right(starts, c.end - 1)]
    return sanitizer.hits(joined, split) if split else []


def across_fields(sanitizer: Any, texts: Sequence[str]) -> list[DetectorHit]:
    """Canary and protected-text hits that span two of `texts` (a whole answer's judged texts, in order),
    joined in order or in reverse order. A stand-in without detectors (not a `Sanitizer`) finds none."""
    if not isinstance(sanitizer, Sanitizer):
        return []
    stripped = [strip_invisible(t)[0] for t in texts if t]
    if len(stripped) < 2:
        return []
    detectors = frozenset(d for d in (CANARY, PROTECTED_TEXT) if sanitizer.policy.actions.get(d) is not None)
    if not detectors or not (sanitizer.policy.canaries or sanitizer.policy.protected_documents):
        return []
    hits = _spanning(sanitizer, stripped, detectors)
    hits = hits or _spanning(sanitizer, stripped[::-1], detectors)
    if not hits and CANARY in detectors and sanitizer.policy.canaries and len(stripped) > 2:
        room = 2 * _canary_matcher(sanitizer).max_length
        hits = _pairs(sanitizer, [t if len(t) <= 2 * room else t[:room] + _GAP + t[-room:] for t in stripped])
    return hits


def _canary_matcher(sanitizer: Sanitizer) -> CanaryMatcher:
    matcher = next(f.matcher for f in sanitizer.gated_families if f.name == CANARY)
    assert isinstance(matcher, CanaryMatcher)
    return matcher


def _pairs(sanitizer: Sanitizer, texts: Sequence[str]) -> list[DetectorHit]:
    """Canary hits in one text's end joined to another's start, for every ordered pair of `texts` (each
    whole, or its first and last characters with `_GAP` between): the halves of a canary in two JSON
    values with keys between (`{"first": "Zq7XbN2vLp9R", "second": "tY4sKw8HdM3c"}`), in two parallel
    tool calls, in the first and third of three fields. A split at one place leaves one of the canary's
    gate runs whole (`canary_gate_spans`), so only texts in which a gate fires are paired, each with every
    other one: O(gated x fields) joins of a few hundred characters, none for an answer without one."""
    gate_ends = _canary_matcher(sanitizer).gate_ends
    gated = [i for i, t in enumerate(texts) if gate_ends(t)]
    for i in gated:
        for j in range(len(texts)):
            if j == i:
                continue
            for pair in ((texts[i], texts[j]), (texts[j], texts[i])):
                hits = _spanning(sanitizer, pair, frozenset({CANARY}))
                if hits:
                    return hits
    return []


class CanaryWatch:
    """One per streamed response: the pieces of all its fields in arrival order, judged for canaries that
    span two fields.

    A field's stream releases a character only once `holdback_chars` more of that field arrived after it,
    and every one of them arrived after it in this order too. A split canary is at most `reach` characters
    long, so the watch judges at least every `holdback_chars - reach` characters received (counted as
    received, invisible ones included: a field keeps no more than that), and before any text is released
    whole (a choice's end, a function name, complete call arguments): a split canary is found before a field
    can release the piece it began in. A window holds only one field's text most of the time (a plain
    answer): then nothing is joined or scanned.
    """

    def __init__(self, sanitizer: Any) -> None:
        self._sanitizer: Sanitizer | None = None
        self._reach = 0
        policy = sanitizer.policy if isinstance(sanitizer, Sanitizer) else None
        if policy is not None and policy.canaries and policy.actions.get(CANARY) is not None:
            self._sanitizer = sanitizer
            self._reach = max(canary_max_length(t) for t in policy.canaries)
        holdback = policy.holdback_chars if policy is not None else 0
        self.due = max(1, (holdback - self._reach) // 2)
        """Received characters after which the watch judges (half the margin the hold-back leaves)."""
        self._old: list[tuple[Any, str]] = []
        """Pieces judged already and kept as left context (at least `reach` characters)."""
        self._new: list[tuple[Any, str]] = []
        self._unjudged = 0
        self._last_key: Any = None
        self._mixed = False
        """Whether the pieces held come from more than one field."""
        self._ends: dict[Any, list[str]] = {}
        """Per field, its first and its last `2 × reach` characters: where a client joining whole fields
        puts one field's end against the next one's start."""
        self._heads_grew = False
        """Whether a field's first characters changed since the fields were last judged joined."""
        self._reported: set[tuple[str, str, int]] = set()
        self.hits: list[DetectorHit] = []

    @property
    def active(self) -> bool:
        return self._sanitizer is not None

    def feed(self, key: Any, text: str) -> list[DetectorHit]:
        """A piece of field `key` as received; the across-field hits found if the watch judged now."""
        if self._sanitizer is None or not text:
            return []
        if key != self._last_key:
            if self._last_key is not None:
                self._mixed = True
            self._last_key = key
        self._new.append((key, text))
        self._unjudged += len(text)
        ends = self._ends.get(key)
        room = 2 * self._reach
        if ends is None:
            self._ends[key] = [text[:room], text[-room:]]
            self._heads_grew = True
        else:
            if len(ends[0]) < room:
                ends[0] += text[: room - len(ends[0])]
                self._heads_grew = True
            ends[1] = (ends[1] + text)[-room:]
        if self._unjudged < self.due:
            return []
        return self.judge(release=False)

    def judge(self, *, release: bool = True) -> list[DetectorHit]:
        """Judge what arrived since the last time; `release`: text is about to be released whole.

        The fields joined whole are judged only then or while a field's first characters still grow: a
        field's end that grows further moves on (its old end is no longer where a join puts it), and its
        last characters stay held back until it ends."""
        if self._sanitizer is None:
            return []
        found: list[DetectorHit] = []
        if self._new and self._mixed:
            found = self._judge(self._sanitizer)
        if not found and len(self._ends) > 1 and (release or self._heads_grew):
            self._heads_grew = False
            found = self._junctions(self._sanitizer)
        self._old.extend(self._new)
        self._new = []
        self._unjudged = 0
        self._trim()
        self.hits.extend(found)
        if refuses(found):
            self._sanitizer = None  # the response is refused: nothing more is judged or reported
        return found

    def _segments(self, pieces: list[tuple[Any, str]], last_key: Any) -> tuple[list[str], Any]:
        """Consecutive pieces of one field joined, invisible characters removed."""
        out: list[str] = []
        run: list[str] = []
        for key, text in pieces:
            if key != last_key and run:
                out.append(strip_invisible("".join(run))[0])
                run = []
            run.append(text)
            last_key = key
        if run:
            out.append(strip_invisible("".join(run))[0])
        return [t for t in out if t], last_key

    def _judge(self, sanitizer: Sanitizer) -> list[DetectorHit]:
        old, last = self._segments(self._old, None)
        new, _ = self._segments(self._new, last)
        joined_old = FIELD_SEPARATOR.join(old)
        continues = bool(self._old) and self._new[0][0] == self._old[-1][0]
        # A first new piece that continues the last old field is joined to it without a separator.
        texts = [*old[:-1], old[-1] + new[0], *new[1:]] if continues and old and new else [*old, *new]
        new_from = len(joined_old)
        hits = _spanning(sanitizer, texts, frozenset({CANARY}))
        return [h for h in hits if h.end > new_from]

    def _junctions(self, sanitizer: Sanitizer) -> list[DetectorHit]:
        """The fields joined whole (in key order, then reversed), as a whole answer is judged: each field by
        its first and last characters, with a break no canary spelling crosses between them."""
        texts = []
        for key in sorted(self._ends, key=repr):
            head, tail = self._ends[key]
            texts.append(strip_invisible(head if head == tail else head + _GAP + tail)[0])
        texts = [t for t in texts if t]
        if len(texts) < 2:
            return []
        out: list[DetectorHit] = []
        for order, ordered in enumerate((texts, texts[::-1])):
            for hit in _spanning(sanitizer, ordered, frozenset({CANARY})):
                if (hit.detector, hit.redacted_preview, order) not in self._reported:
                    self._reported.add((hit.detector, hit.redacted_preview, order))
                    out.append(hit)
            if out:
                return out
        if len(texts) > 2:
            # Not only neighbours: the halves may be in the first and third field (two tool calls' values).
            for hit in _pairs(sanitizer, texts):
                if (hit.detector, hit.redacted_preview, 2) not in self._reported:
                    self._reported.add((hit.detector, hit.redacted_preview, 2))
                    out.append(hit)
        return out

    def _trim(self) -> None:
        """Keep at least `reach` characters of judged text as left context for the next judgement."""
        # Counted without invisible characters: the canary's reach is measured in the text judged.
        sizes = [len(t) if t.isascii() else len(strip_invisible(t)[0]) for _, t in self._old]
        size = sum(sizes)
        drop = 0
        while drop < len(sizes) - 1 and size - sizes[drop] >= self._reach:
            size -= sizes[drop]
            drop += 1
        del self._old[:drop]
        keys = {k for k, _ in self._old}
        self._mixed = len(keys) > 1


def split_joined(texts: Sequence[str], sanitized: str, hits: Sequence[Any]) -> list[str] | None:
    """The sanitizer's output for `texts` joined with nothing between (a message's content parts, which a
    client renders joined) cut back into one text per element: each keeps what is left of its own
    characters, a redaction's token goes to the text its match starts in and what the match covers of
    the texts after it is removed, so the pieces join to `sanitized`. `hits` are the judgement's hits
    (offsets in the joined text without its invisible characters); text from a blocking hit on is gone.
    None when the pieces do not join to `sanitized` (a stand-in sanitizer without offsets)."""
    stripper = InvisibleStripper()
    kept: list[str] = []
    last = ""
    for text in texts:
        piece = stripper.feed(text, last)
        kept.append(piece)
        last = piece[-1:] or last
    if kept:
        kept[-1] += stripper.finish(last)
    ends = list(accumulate(len(k) for k in kept))
    out: list[list[str]] = [[] for _ in kept]

    def copy(lo: int, hi: int) -> None:
        first = bisect_right(ends, lo)
        for i in range(first, len(kept)):
            start = ends[i] - len(kept[i])
            if start >= hi:
                break
            out[i].append(kept[i][max(lo, start) - start : min(hi, ends[i]) - start])

    pos = 0
    total = ends[-1] if ends else 0
    try:
        for hit in sorted(hits, key=lambda h: h.start):
            if hit.action == Action.ALERT:
                continue
            copy(pos, hit.start)
            if hit.action == Action.BLOCK:
                pos = total
                break
            out[min(bisect_right(ends, hit.start), len(kept) - 1)].append(REDACTION_FORMAT.format(hit.detector.upper()))
            pos = hit.end
    except (AttributeError, TypeError):
        return None
    copy(pos, total)
    pieces = ["".join(p) for p in out]
    return pieces if "".join(pieces) == sanitized else None


__all__ = ["FIELD_SEPARATOR", "WHERE", "CanaryWatch", "across_fields", "refuses", "split_joined"]
