"""`Sanitizer`: one compiled detector set per policy; `sanitize(text)` finds, resolves and redacts.

Invisible format characters are removed first (`fold.strip_invisible`): the text scanned, redacted and
sent is the text without them, so every offset refers to it.

A scan is: one trigger pass (Hyperscan, or `re` as fallback) → each matcher looks near its triggers →
overlapping candidates are resolved left to right (earliest start, then longest, then detector
priority) → the kept hits are applied: `redact` replaces, `alert` only reports, and the first `block`
ends the usable text there (`text` keeps only what precedes it: what a stream may already have sent).
If any matcher raises, `SanitizerFailed` propagates: the caller must refuse, never pass the text on.
A gateway sanitizes every answer, most of them short and clean, so a whole-text scan skips what cannot
change its result: a family none of whose triggers fired is not called, and with no candidate nothing is
resolved or rendered (tests/guard/test_sanitize_fastpath.py checks each result against the full steps).
The object holds no per-request state, so one instance serves every request and thread.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from leakline.findings import redact
from leakline.guard.sanitize.engine import HyperscanEngine, ReEngine, TriggerEngine, hyperscan_available
from leakline.guard.sanitize.errors import PolicyError, SanitizerFailed
from leakline.guard.sanitize.fold import fold, strip_and_fold, warm_fold, warm_invisible
from leakline.guard.sanitize.matchers import (
    DETECTORS,
    PRIORITY,
    CanaryMatcher,
    Candidate,
    EmailMatcher,
    Ipv6Matcher,
    LocalMatcher,
    Matcher,
    NumberMatcher,
    ProtectedCorpus,
    ProtectedTextMatcher,
    SecretMatcher,
    Triggers,
    canary_reach,
)
from leakline.guard.sanitize.policy import Action, Policy

if TYPE_CHECKING:
    from leakline.guard.sanitize.stream import StreamSanitizer

DETECTOR_VERSION = "1"
REDACTION_FORMAT = "[REDACTED:{}]"


@dataclass(frozen=True, slots=True)
class DetectorHit:
    """One match: `start`/`end` are character offsets in the text without its invisible characters (what is
    sent, before redaction)."""

    detector: str
    action: Action
    start: int
    end: int
    redacted_preview: str


@dataclass(frozen=True)
class SanitizeResult:
    text: str
    """The text to send: invisible characters removed, redactions applied; when `blocked`, only the text before
    the blocking match."""
    hits: list[DetectorHit]
    blocked: bool
    scanned_bytes: int
    """UTF-8 bytes of input examined, counted as received (invisible characters included)."""
    detector_versions: dict[str, str] = field(default_factory=dict)
    invisible_removed: int = 0
    """Invisible characters removed from the text (see docs/sanitize.md, "Invisible characters")."""


@dataclass(frozen=True, slots=True)
class _Family:
    name: str
    matcher: Matcher


_READS: dict[str, tuple[str, ...]] = {
    "email": ("at",),
    "number": ("digit", "number_runs", "capital_digits", "card_ends"),
    "ip_address": ("colon",),
    "secret": ("secret_anchors",),
    "canary": ("canary_ends",),
    "protected_text": ("protected_ends",),
}
"""The `Triggers` fields each family's `find` reads its positions from: when all of them are empty, it finds
nothing (a gate's None means that no prefilter ran, and is not empty). `sanitize` skips such a family: most
short answers have no `@`, colon or gate match, and a call of `find` costs more than the test."""


@dataclass(frozen=True, slots=True)
class LocalFamily:
    name: str
    matcher: LocalMatcher


def utf8_length(text: str, ascii_projection: bytes | None = None) -> int:
    """Bytes of `text` in UTF-8 (a lone surrogate counts 3, as `surrogatepass` writes it).

    With the engine's ASCII projection (each non-ASCII character a `?` at its own index) and few such
    characters, only those are measured: encoding a mostly-ASCII text that holds one `€` walks every
    character (~1.4 ns each, 7 ms for 5 MB)."""
    if text.isascii():
        return len(text)
    if ascii_projection is not None:
        size = len(text)
        marks = len(text) // _SPARSE_NON_ASCII + 1
        find = ascii_projection.find  # memchr: a byte loop like bytes.count costs more than the whole walk
        i = find(b"?")
        while i >= 0 and marks:
            code = ord(text[i])
            if code >= 0x80:
                size += 1 if code < 0x800 else 2 if code < 0x10000 else 3
            i = find(b"?", i + 1)
            marks -= 1
        if i < 0:
            return size
    return len(text.encode("utf-8", "surrogatepass"))


_SPARSE_NON_ASCII = 1000
"""Measure non-ASCII characters one by one only while `?` marks are at most one per this many characters."""


def _check_holdback(policy: Policy) -> None:
    """A stream releases text up to `holdback_chars` before its end, so a canary spelling longer than
    that (spaced out, base64, hex, or written for a renderer: `CANARY_RENDERED_MAX`) could be split across a
    release and pass unseen: refuse the policy."""
    for i, token in enumerate(policy.canaries):
        longest = canary_reach(token)
        if policy.holdback_chars <= longest:
            raise PolicyError(
                f"sanitize.stream_holdback_chars: {policy.holdback_chars} is not longer than the longest "
                f"spelling of sanitize.canaries[{i}] ({longest} characters, spaced, encoded or written for a "
                "renderer)",
                hint=f"set stream_holdback_chars to at least {longest + 1}, or use a shorter canary",
            )


_STRICTNESS = {Action.ALERT: 0, Action.REDACT: 1, Action.BLOCK: 2}
"""Which action wins where two matches overlap (`Sanitizer.resolve`)."""


class Sanitizer:
    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        _check_holdback(policy)
        corpus = ProtectedCorpus.build(policy.protected_documents, policy.min_protected_tokens)
        self._canary = CanaryMatcher(policy.canaries)
        self._protected = ProtectedTextMatcher(corpus)
        self._families = (
            _Family("email", EmailMatcher()),
            _Family("number", NumberMatcher(policy.phone_regions)),
            _Family("ip_address", Ipv6Matcher()),
            _Family("secret", SecretMatcher()),
            _Family("canary", self._canary),
            _Family("protected_text", self._protected),
        )
        self.engine = self._engine(policy)
        # The tables are built now, not by the first request whose answer is not ASCII.
        warm_fold()
        warm_invisible()
        self._replacement = {name: REDACTION_FORMAT.format(name.upper()) for name in DETECTORS}
        self._strictness = {name: _STRICTNESS[action] for name, action in policy.actions.items()}
        self.detector_versions = self._versions(policy, corpus)
        # Split once: every stream (one per streamed choice) reads them.
        self.local_families = tuple(
            LocalFamily(f.name, f.matcher) for f in self._families if isinstance(f.matcher, LocalMatcher)
        )
        """Families judged trigger by trigger (a stream judges each trigger once)."""
        self.gated_families = tuple(f for f in self._families if not isinstance(f.matcher, LocalMatcher))
        """Families that look at windows around gate matches (a stream re-runs them while a gate is near)."""
        self._whole_families = tuple(
            (family, tuple(Triggers._fields.index(name) for name in _READS[family.name])) for family in self._families
        )
        """Each family with the indices in `Triggers` of the fields it reads (`_READS`)."""

    def _engine(self, policy: Policy) -> TriggerEngine:
        if policy.engine == "re" or (policy.engine == "auto" and not hyperscan_available()):
            return ReEngine()
        if not hyperscan_available():
            raise PolicyError("sanitize.engine: 'hyperscan' is set but the hyperscan package is not installed",
                              hint="pip install hyperscan, or set engine = \"auto\"")  # fmt: skip
        canary = self._canary.gate_patterns if self.policy.canaries else []
        return HyperscanEngine(canary, self._protected.gate_patterns(), canary_max_length=self._canary.max_length)

    @staticmethod
    def _versions(policy: Policy, corpus: ProtectedCorpus) -> dict[str, str]:
        versions = {name: DETECTOR_VERSION for name in policy.actions}
        digest = hashlib.sha256("\x00".join(policy.protected_documents).encode()).hexdigest()[:16]
        versions["protected_text"] = (
            f"{DETECTOR_VERSION} winnow k={corpus.k} n={corpus.min_tokens} "
            f"fingerprints={len(corpus.fingerprints)} corpus-sha256={digest}"
        )
        versions["canary"] = f"{DETECTOR_VERSION} tokens={len(policy.canaries)}"
        return versions

    # ---- the scan ----------------------------------------------------------------------------------

    def candidates(self, text: str) -> list[Candidate]:
        """Every candidate in `text` as given (`sanitize` strips invisible characters first), before overlaps
        are resolved. Raises `SanitizerFailed`."""
        seen, projection = fold(text)
        return self.candidates_of(self._families, seen, self._triggers(seen, projection))

    def _triggers(self, text: str, projection: bytes | None) -> Triggers:
        try:
            return self.engine.scan_whole(text, projection)
        except Exception as exc:
            raise SanitizerFailed(f"engine:{self.engine.name}", exc) from exc

    @staticmethod
    def candidates_of(families: Iterable[_Family | LocalFamily], text: str, triggers: Triggers) -> list[Candidate]:
        """The candidates these families find at `triggers`. Raises `SanitizerFailed`."""
        out: list[Candidate] = []
        for family in families:
            try:
                out.extend(family.matcher.find(text, triggers))
            except Exception as exc:
                raise SanitizerFailed(family.name, exc) from exc
        return out

    def whole_candidates(self, text: str, triggers: Triggers) -> list[Candidate]:
        """`candidates_of(self._families, text, triggers)`, without calling the families that have no
        trigger to look at (`_READS`). Raises `SanitizerFailed`."""
        out: list[Candidate] = []
        for family, reads in self._whole_families:
            for i in reads:
                positions = triggers[i]
                if positions or positions is None:
                    break
            else:
                continue
            try:
                out.extend(family.matcher.find(text, triggers))
            except Exception as exc:
                raise SanitizerFailed(family.name, exc) from exc
        return out

    def resolve(self, candidates: Iterable[Candidate], *, since: int = 0) -> list[Candidate]:
        """Non-overlapping hits, left to right: earliest start, then longest, then detector priority. A candidate
        that overlaps the hit kept before it and has a stricter action (block over redact over alert) is not
        dropped: the kept hit takes its detector and covers both. Otherwise the longer match decided, and a
        canary inside an e-mail address (`<canary>@example.com`) was redacted as an e-mail instead of blocking,
        or passed in clear where a key set `email = "alert"` (red team R6)."""
        strictness = self._strictness
        ordered = sorted(
            (c for c in candidates if c.start >= since and c.detector in strictness),
            key=lambda c: (c.start, c.start - c.end, PRIORITY[c.detector]),
        )
        kept: list[Candidate] = []
        end = -1
        for c in ordered:
            if c.start >= end:
                kept.append(c)
                end = c.end
            elif strictness[c.detector] > strictness[kept[-1].detector]:
                last = kept[-1]
                kept[-1] = Candidate(c.detector, last.start, max(last.end, c.end))
                end = kept[-1].end
        return kept

    def hits(self, text: str, candidates: Iterable[Candidate], *, offset: int = 0) -> list[DetectorHit]:
        """The reported hits for `candidates` of `text`; `offset` shifts them to whole-response offsets."""
        actions = self.policy.actions
        return [
            DetectorHit(
                c.detector, actions[c.detector], c.start + offset, c.end + offset, redact(text[c.start : c.end])
            )
            for c in candidates
        ]

    def render(self, text: str, hits: Sequence[Candidate], lo: int, hi: int) -> tuple[str, bool]:
        """Sanitized `text[lo:hi]` given the resolved hits inside it; stops at the first block."""
        parts: list[str] = []
        append = parts.append
        actions = self.policy.actions
        replacement = self._replacement
        pos = lo
        for c in hits:
            action = actions[c.detector]
            if action is Action.ALERT:
                continue
            append(text[pos : c.start])
            if action is Action.BLOCK:
                return "".join(parts), True
            append(replacement[c.detector])
            pos = c.end
        append(text[pos:hi])
        return "".join(parts), False

    def sanitize(self, text: str) -> SanitizeResult:
        # What is detected is what is sent: a soft hyphen inside an address hides it from the detectors only.
        # The detectors read the folded text `seen` (same offsets); what is sent and shown is cut from `text`.
        # `size`: the UTF-8 bytes of the text as received.
        text, removed, seen, projection, size = strip_and_fold(text)
        candidates = self.whole_candidates(seen, self._triggers(seen, projection))
        if not candidates:
            # Most answers: nothing to resolve, render or report.
            return SanitizeResult(
                text=text,
                hits=[],
                blocked=False,
                scanned_bytes=size,
                detector_versions=dict(self.detector_versions),
                invisible_removed=removed,
            )
        kept = self.resolve(candidates)
        cut = next((i for i, c in enumerate(kept) if self.policy.actions[c.detector] is Action.BLOCK), None)
        reported = kept if cut is None else kept[: cut + 1]
        out, blocked = self.render(text, reported, 0, len(text))
        return SanitizeResult(
            text=out,
            hits=self.hits(text, reported),
            blocked=blocked,
            scanned_bytes=size,
            detector_versions=dict(self.detector_versions),
            invisible_removed=removed,
        )

    def stream(self) -> StreamSanitizer:
        """A new hold-back stream (one per choice of a streamed response): the compiled twin of
        `StreamSanitizer` when it was built from this source, the pure-Python class otherwise (`native`)."""
        from leakline.guard.sanitize.native import stream_implementation

        return stream_implementation().cls(self)
