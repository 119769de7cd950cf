"""`StreamSanitizer`: sanitizing a streamed response with a bounded hold-back buffer.

The stream keeps the original text it has not released yet, plus `LEFT_CONTEXT` characters before it.
Each time `holdback_chars` new characters have arrived (and the hold-back is full) it finds the hits in
that window and releases text up to a *cut* that no match can straddle:

- at least `holdback_chars` before the end (longer than any bounded match plus its right-hand context);
- before any hit that ends inside that last stretch (it could still grow or vanish);
- before the trailing run of non-space ASCII characters (keys, JWTs and URLs have no bounded length, and
  are ASCII: text in a script written without spaces is not one run);
- before the first `-----BEGIN ` with no whole `-----END …-----` line after it (PEM blocks: a match runs
  from an unterminated header on to a later block's END), up to `PEM_PENDING_MAX`;
- before the last `min_protected_tokens` tokens when a protected corpus is configured;
- never inside a hit.

Because every matcher's verdict depends only on bounded nearby text, hits before the cut are exactly the
hits of the whole text, so the concatenated output equals `Sanitizer.sanitize(whole).text` for any
chunking (property-tested). A blocking hit stops the stream: the text before it is released, nothing after.

How a pass finds its hits depends on how often passes come. With a release interval (the gateway's
`stream_release_ms`), passes are few: one per interval, or one per `BURST_STEP_HOLDBACKS` hold-backs when
the text comes faster, so each pass scans its whole window as `Sanitizer.sanitize` scans a text (`_window`).
Without one (a `Policy` built in code), a pass comes every `holdback_chars`, and nothing is scanned twice
where it need not be. The engine reads only the new text (`scan_tail`). E-mail,
number and IPv6 triggers (`LocalMatcher`s) are judged once each, as soon as enough text follows them
(`settled`); their hits are kept until released. A trigger not yet settled is judged only if a hit from it
could start before `len - holdback` (it could then move the cut), and judged again later. The gated
families (canaries, secrets, protected text) re-run on the whole window, as a whole-text scan of it would,
but only while a gate match lies inside it: they are rare, and their windows need the widening they do.
Their gates come from `scan_tail`, which lists each one once (Hyperscan without a protected corpus), so a
window is not scanned a second time to find them; canary gates too far behind the release point to give
a match after it are dropped.

Invisible characters are removed from the new text at each release, before anything reads it, by the same
rule as `Sanitizer.sanitize` (`fold.InvisibleStripper`): a joiner's fate depends on the last character kept,
the end of the window, and a U+FE0F at the very end waits for the next piece (a keycap mark may follow).
Doing it per release rather than per `feed` keeps a token's `feed` as cheap as before; the output is the
same either way. `scanned_bytes` counts the bytes received, invisible characters included.

Latency: without a release interval and a structural hold (a non-space run, an open PEM block, a protected
run or a hit straddling the cut), `pending_chars` stays below `2 × holdback_chars` after every `feed`. With
a release interval (`Policy.release_seconds`, leakline.toml's `stream_release_ms`), a `feed` that comes at
least that long after the last release pass, while more than `holdback_chars` are unreleased, makes a pass
too: a model writing a few characters per token then shows its text `holdback_chars` behind, in small
steps, instead of in bursts of `holdback_chars` each `holdback_chars` late. The clock is read only in that
state, and a piece that finds the interval not over defers the next read by what the stream's pace would
bring in half the time left (at most `CLOCK_SKIP_MAX` characters), so a stream fed faster than the interval
(a fast model, a cached answer, a benchmark) reads it every few pieces. Where each pass cuts does not depend
on when passes happen, so the output stays the whole-text result.
"""

from __future__ import annotations

import sys
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable
from typing import TYPE_CHECKING

from leakline.guard.sanitize.errors import SanitizerFailed, StreamClosed
from leakline.guard.sanitize.fold import InvisibleStripper, fold, fold_visible
from leakline.guard.sanitize.matchers import Candidate, Triggers, normalized_tokens
from leakline.guard.sanitize.policy import Action

if TYPE_CHECKING:
    from leakline.guard.sanitize.core import DetectorHit, LocalFamily, Sanitizer
    from leakline.guard.sanitize.engine import LocalTriggers

LEFT_CONTEXT = 512
"""Original characters kept before the release point: matchers look back (keywords, Firebase markers)."""
PEM_PENDING_MAX = 12_288
"""A PEM header without its END line holds the stream back at most this far (the secret matcher's bound)."""
TRAILING_RUN_MAX = 16_384
"""A run of non-space characters longer than this is released even though it has not ended."""
BURST_STEP_HOLDBACKS = 128
"""With a release interval, a pass also comes every this many `holdback_chars` of new text (56 KiB at the
default hold-back): a stream fed faster than the interval (a fast model, a cached answer) makes few passes,
each scanning its window whole, so under 2 % of its text (the hold-back and `LEFT_CONTEXT` around each cut)
is scanned twice, and each pass's fixed cost is spread over 56 KiB (64 gave 47-48 MB/s with the compiled
twin, 128 gave 53, 256 no more: bench/sanitize_bench.py). The clock, not this step, keeps a slower stream's
text flowing; the step bounds what one pass holds and returns."""
CLOCK_SKIP_MAX = 256
"""With a release interval, a piece that comes before the interval is over defers the next clock read by at
most this many characters (half of what the stream's pace since the last pass would bring before the
interval ends): a stream fed in fast small pieces reads the clock every dozen pieces, not on each one (one
read per piece was a third of its cost; 128 here gave 34.5 MB/s streamed, 256 37.3), and a stream that
slows down right then waits at most this much more text for its pass, once (a model that sends a cached
prefix at once, then writes 70 characters a second, shows its next text up to 3.7 s later). A stream at a
steady pace is not deferred past the interval: half the text to come is always less than the text to come."""
_SHORT_RUN = 128
"""The trailing run is usually a word: one C-level `rsplit` over this much finds it before any walk back."""
_PEM_BEGIN = "-----BEGIN "
_PEM_END = "-----END "
_PEM_DASHES = "-----"


class StreamSanitizer:
    """One per choice of a streamed response. Not thread-safe (a stream is fed by one task)."""

    def __init__(self, sanitizer: Sanitizer, *, clock: Callable[[], float] = time.monotonic) -> None:
        self._sanitizer = sanitizer
        self._actions = sanitizer.policy.actions
        self._holdback = sanitizer.policy.holdback_chars
        # One release per `holdback_chars` new characters: each costs ~10 µs of Python however little it
        # frees (bench/sanitize_bench.py), and the hold-back already sets the latency an operator accepts.
        # With a release interval the clock keeps the latency down, so a stream fed faster than it (a fast
        # model, a cached answer) can take longer steps and fewer passes.
        self._step = self._holdback * (BURST_STEP_HOLDBACKS if sanitizer.policy.release_seconds > 0 else 1)
        self._protected_tokens = sanitizer.policy.min_protected_tokens if sanitizer.policy.protected_documents else 0
        self._families = sanitizer.local_families
        self._gated = sanitizer.gated_families
        self._pending: tuple[list[int], ...] = tuple([] for _ in self._families)
        """Per local family, the triggers (whole-text offsets, ascending) not yet settled."""
        self._settled: list[Candidate] = []
        """Candidates of settled triggers (whole-text offsets) not yet behind the release point."""
        self._local_from = 0
        """Whole-text offset from which the engine has not yet reported local triggers."""
        self._gate_from = 0
        """Whole-text length the engine has seen (gate matches ending up to here are known)."""
        self._gate_end = -1
        """The largest end of a gate match seen (whole-text offset)."""
        self._tracked = sanitizer.engine.reports_gates
        """The engine lists each gate match once (`scan_tail`): a window's gates need no scan of their own."""
        self._gate_reach = sanitizer.engine.gate_reach
        self._canary_ends: list[int] = []
        """Ends of the canary gate matches (whole-text offsets) that may still matter, when `_tracked`."""
        self._secret_anchors: list[int] = []
        """Starts of the secret anchors (whole-text offsets) still inside the window, when `_tracked`."""
        self._buf = ""
        self._seen = self._buf
        """`_buf` folded (the same object while nothing was folded)."""
        self._projection = b""
        """`_seen`'s ASCII projection (each non-ASCII character a `?`), kept by windowed streams."""
        self._base = 0
        """Offset in the whole text of `_buf[0]`."""
        self._parts: list[str] = []
        """Text fed since the last release, not yet in `_buf` (joined once per release, not per chunk)."""
        self._push = self._parts.append
        self._new = 0
        self._due = self._holdback + self._step
        """Characters of new text that trigger the next release."""
        interval = sanitizer.policy.release_seconds
        self._interval = interval
        self._clock = clock
        self._soon = self._holdback + 1 if interval > 0 else sys.maxsize
        """Characters of new text beyond which a release would free some: from then on, the clock decides."""
        self._next_at = float("-inf")
        """When (`clock`) a piece may make a release pass before `_due` characters have come: the first
        pass at once (nothing was released yet), then at most one per interval."""
        self._check = min(self._due, self._soon)
        """Characters of new text from which `feed` looks further (`_due`, the clock, or a stopped stream):
        the one comparison a piece below it costs."""
        self._windowed = interval > 0
        """Each pass scans its whole window (see `_advance`): with a release interval passes are few."""
        self._bytes = 0
        self._invisible = InvisibleStripper()
        self._released = 0
        """Offset in the whole text up to which sanitized output has been returned."""
        self._passes = 0
        """Release passes made so far (`finish` of a stream that made none judges the whole text at once)."""
        self._finished = False
        self._stopped = False
        """Finished or blocked: `feed` has nothing to do."""
        self.blocked = False
        self.hits: list[DetectorHit] = []

    @property
    def scanned_bytes(self) -> int:
        """UTF-8 bytes fed so far (as received: invisible characters count)."""
        return self._bytes + sum(len(p.encode("utf-8", "surrogatepass")) for p in self._parts)

    @property
    def invisible_removed(self) -> int:
        """Invisible characters removed from the text released or judged so far (all of it after `finish`)."""
        return self._invisible.removed

    @property
    def pending_chars(self) -> int:
        """Characters received and not yet released (the current hold-back)."""
        return self._base + len(self._buf) + self._new - self._released

    def feed(self, delta: str) -> str:
        """Add a piece of the response; returns the sanitized text that is safe to send now (maybe "")."""
        # The common call (a token or two) must cost next to nothing: all the work waits for a release, and
        # a stopped stream has `_check` -1, so one comparison routes every other case to `_looked_at`.
        self._push(delta)
        new = self._new = self._new + len(delta)
        if new < self._check:
            return ""
        return self._looked_at(new)

    def _looked_at(self, new: int) -> str:
        """`feed` past `_check`: a release pass when `_due` characters have come or the interval is over."""
        if self._stopped:
            self._parts.clear()
            self._new = 0
            if self._finished:
                raise StreamClosed("feed() after finish() on a sanitizer stream")
            return ""
        if new >= self._due:
            return self._advance(final=False)
        now = self._clock()
        if now >= self._next_at:
            return self._advance(final=False)
        # Too early: read the clock again after half the text this pace would bring before the interval is
        # over, at least on the next piece and at most `CLOCK_SKIP_MAX` characters later.
        elapsed = now - (self._next_at - self._interval)
        ahead = (self._next_at - now) / elapsed * new / 2 if elapsed > 0 else CLOCK_SKIP_MAX
        self._check = min(self._due, new + 1 + int(min(ahead, CLOCK_SKIP_MAX)))
        return ""

    def finish(self) -> str:
        """End of the stream: everything still held back, sanitized."""
        if self._finished:
            raise StreamClosed("finish() called twice on a sanitizer stream")
        self._finished = self._stopped = True
        self._check = -1
        if self.blocked:
            return ""
        if not self._passes:
            return self._whole()
        return self._advance(final=True)

    def _whole(self) -> str:
        """The end of a stream that never made a release pass (an answer shorter than the hold-back, the most
        common kind): the text is the whole answer, so `Sanitizer.sanitize` judges it, with its shortcuts for
        short texts. The result is the one a pass would give (stream == whole is the property the passes keep)."""
        text = "".join(self._parts)
        self._parts.clear()
        try:
            result = self._sanitizer.sanitize(text)
        except SanitizerFailed:
            raise
        except Exception as exc:
            raise _failed(f"engine:{self._sanitizer.engine.name}", exc) from exc
        self._bytes = result.scanned_bytes
        self._invisible.removed = result.invisible_removed
        self.hits.extend(result.hits)
        if result.blocked:
            self.blocked = True
        self._new = 0
        self._base = self._released = len(text)
        return result.text

    def _advance(self, *, final: bool) -> str:
        self._passes += 1
        s = self._sanitizer
        parts = self._parts
        new = parts[0] if len(parts) == 1 else "".join(parts)
        parts.clear()
        self._new = 0
        strip = self._invisible
        # The detectors read the folded window (same offsets, see fold.py); what is released is cut from `buf`.
        plain = new.isascii()
        quick = None
        projected: bytes | None
        if not plain and not strip.held:
            # Most new text holds no invisible character: one walk gives its folded form and its UTF-8 length.
            quick = fold_visible(new, new.encode("ascii", "replace"))
        if quick is not None:
            seen_new, projected, size = quick
            self._bytes += size
        else:
            self._bytes += len(new) if plain else len(new.encode("utf-8", "surrogatepass"))
            if not plain or strip.held:
                new = strip.feed(new, self._buf[-1:])
            if final and strip.held:
                new += strip.finish(new[-1:] or self._buf[-1:])
            seen_new, projected = fold(new)
        base = self._base
        buf = self._buf + new
        seen = buf if seen_new is new and self._seen is self._buf else self._seen + seen_new
        projection = b""
        if self._windowed:
            # The window's ASCII projection, for the engine: fold made the new text's, and encoding the window
            # again with `replace` cost as much as the trigger scan itself.
            projection = self._projection + (projected if projected is not None else seen_new.encode("ascii"))
        n = len(buf)
        released = self._released - base
        if self._windowed:
            candidates = self._window(seen, projection)
        else:
            candidates = self._incremental(seen, base, released, final)
        kept = s.resolve(candidates, since=released) if candidates else candidates
        cut = n if final else self._cut(seen, released, kept)
        stable = [c for c in kept if c.start < cut] if kept else kept
        if stable:
            actions = self._actions
            for i, c in enumerate(stable):
                if actions[c.detector] is Action.BLOCK:
                    del stable[i + 1 :]
                    break
            out, blocked = s.render(buf, stable, released, cut)
            if blocked:
                self.blocked = self._stopped = True
                self._check = -1
            self.hits.extend(s.hits(buf, stable, offset=base))
        else:
            out = buf[released:cut]
        released = self._released = cut + base
        if self._settled:
            self._settled = [c for c in self._settled if c.start >= released]
        for pending in self._pending:
            if pending and pending[0] < released:
                # Local hits start at or before their trigger: one behind the release point is moot.
                del pending[: bisect_left(pending, released)]
        keep_from = max(base, released - LEFT_CONTEXT)
        if self._canary_ends:
            # Gone from the next window, or too far behind the release point to give a match after it.
            behind = max(keep_from, released - self._gate_reach)
            self._canary_ends = [e for e in self._canary_ends if e > behind]
        if self._secret_anchors and self._secret_anchors[0] < keep_from:
            self._secret_anchors = [a for a in self._secret_anchors if a >= keep_from]
        self._buf = buf[keep_from - base :]
        self._seen = self._buf if seen is buf else seen[keep_from - base :]
        if self._windowed:
            self._projection = projection[keep_from - base :]
        self._base = keep_from
        self._due = max(self._step, self._holdback + self._step - (n - cut))
        if self._interval > 0:
            self._soon = max(1, self._holdback + 1 - (n - cut))
            self._next_at = self._clock() + self._interval
        if not self._stopped:
            self._check = min(self._due, self._soon)
        return out

    def _window(self, seen: str, projection: bytes) -> list[Candidate]:
        """Every candidate in the (folded) window, found as `Sanitizer.sanitize` finds them in a whole text.

        A stream with a release interval makes few passes, each on a long new stretch (up to
        `BURST_STEP_HOLDBACKS` hold-backs when fed fast, what a model writes in an interval when not), so
        scanning its window whole costs about what scanning the new text alone would, without the
        bookkeeping that carries triggers from pass to pass (with the changes around it, 20 -> 38 MB/s
        streamed in 20-byte pieces, bench/sanitize_bench.py). Candidates before the release point are dropped
        by `resolve`; local hits start at or before their trigger and the window keeps `LEFT_CONTEXT` before
        that point, so those after it are the whole text's."""
        s = self._sanitizer
        try:
            triggers = s.engine.scan_whole(seen, projection)
        except Exception as exc:
            raise _failed(f"engine:{s.engine.name}", exc) from exc
        return s.whole_candidates(seen, triggers)

    def _incremental(self, seen: str, base: int, released: int, final: bool) -> list[Candidate]:
        """The candidates of this pass from the new text's triggers and those carried from earlier passes."""
        s = self._sanitizer
        n = len(seen)
        try:
            triggers, local_to, gate_end = s.engine.scan_tail(
                seen, self._local_from - base, self._gate_from - base, final
            )
        except Exception as exc:
            raise _failed(f"engine:{s.engine.name}", exc) from exc
        self._local_from = local_to + base
        self._gate_from = n + base
        if self._tracked:
            fresh = triggers["canary_ends"]
            if fresh:
                self._canary_ends.extend([e + base for e in fresh])
            fresh = triggers["secret_anchors"]
            if fresh:
                self._secret_anchors = sorted([*self._secret_anchors, *(a + base for a in fresh)])
        elif gate_end >= 0 and gate_end + base > self._gate_end:
            self._gate_end = gate_end + base
        return self._candidates(seen, base, released, triggers, final)

    def _candidates(
        self, buf: str, base: int, released: int, triggers: LocalTriggers, final: bool
    ) -> list[Candidate]:
        """Every candidate that can matter for this release, in `buf` offsets."""
        s = self._sanitizer
        out = [Candidate(c.detector, c.start - base, c.end - base) for c in self._settled] if self._settled else []
        # A candidate starting at or after `horizon` cannot move the cut (it is at most `horizon`) nor beat
        # an earlier candidate in `resolve`: an unsettled trigger that can only give such needs no look yet.
        n = len(buf)
        horizon = n - self._holdback
        for family, pending in zip(self._families, self._pending, strict=True):
            matcher = family.matcher
            fresh = triggers[matcher.trigger_field]
            if fresh:
                pending.extend([p + base for p in fresh])
            if not pending:
                continue
            # `pending` is sorted and settling is monotone in the position: the settled triggers lead it.
            if final:
                k = len(pending)
            elif matcher.settle_reach is not None:
                k = bisect_right(pending, base + n - matcher.settle_reach)
            else:
                k = 0
                while k < len(pending) and matcher.settled(buf, pending[k] - base):
                    k += 1
            if k:
                found = self._find(family, buf, [p - base for p in pending[:k]])
                if found:
                    out.extend(found)
                    self._settled.extend([Candidate(c.detector, c.start + base, c.end + base) for c in found])
                del pending[:k]
            # Unsettled triggers whose candidates could start before `horizon` are looked at now and again later.
            j = bisect_left(pending, base + horizon + matcher.start_reach)
            if j:
                out.extend(self._find(family, buf, [p - base for p in pending[:j]]))
        if self._tracked:
            if self._canary_ends or self._secret_anchors:
                gates = self._gates(buf, base, released)
                if gates is not None:
                    out.extend(s.candidates_of(self._gated, buf, gates))
        elif self._gate_end > base:
            # A gate match lies in the window: its families see the window exactly as a whole-window scan would.
            try:
                gated = s.engine.scan(buf)
            except Exception as exc:
                raise _failed(f"engine:{s.engine.name}", exc) from exc
            out.extend(s.candidates_of(self._gated, buf, gated))
        return out

    def _find(self, family: LocalFamily, buf: str, positions: list[int]) -> list[Candidate]:
        return self._sanitizer.candidates_of((family,), buf, family.matcher.only(positions))

    def _gates(self, buf: str, base: int, released: int) -> Triggers | None:
        """The gates `engine.scan(buf)` would report (`buf` offsets), from the ones `scan_tail` listed, less the
        canary matches that can only give candidates before `released` (which `resolve` drops); None when
        no gate is left.

        Every gate match lying wholly in `buf` was listed (it is at most `gate_reach` long, and the call that
        first saw its end scanned that far back). A listed match ending within `gate_reach` of `buf`'s start
        may have begun before it: there, the head of `buf` is scanned to keep only what `buf` itself holds."""
        reach = self._gate_reach
        # A canary match is looked for within `reach` of its gate's end: a gate ending `reach` or more before
        # `released` gives only matches before it.
        ends = [q for e in self._canary_ends if (q := e - base) + reach > released]
        if ends and min(ends) <= reach:
            try:
                head = self._sanitizer.engine.canary_ends(buf[:reach])
            except Exception as exc:
                raise _failed(f"engine:{self._sanitizer.engine.name}", exc) from exc
            ends = [q for q in head if q + reach > released] + [q for q in ends if q > reach]
        anchors = [a - base for a in self._secret_anchors]  # sorted, none before `buf` (pruned each release)
        if not ends and not anchors:
            return None
        return Triggers(canary_ends=ends, protected_ends=[], secret_anchors=anchors)

    def _cut(self, window: str, released: int, kept: list[Candidate]) -> int:
        """The release point, in `window` offsets (as `released` and `kept` are)."""
        n = len(window)
        cut = n - self._holdback
        for c in kept:
            if c.end > cut and c.start < cut:
                cut = c.start
        run = _trailing_run(window)
        if run < TRAILING_RUN_MAX and n - run < cut:
            cut = n - run
        # The first header without an END line after it (one within `PEM_PENDING_MAX`), not the last: a
        # secret match runs from an unterminated header on to a later block's END, as in the whole text, so
        # releasing the text after the first header showed the second key in clear (a reviewer's finding).
        lo = max(0, released - len(_PEM_BEGIN))
        last_end = window.rfind(_PEM_END, lo)
        while last_end >= 0 and window.find(_PEM_DASHES, last_end + len(_PEM_END)) < 0:
            last_end = window.rfind(_PEM_END, lo, last_end)  # an END line not yet whole ends nothing yet
        since = max(lo, last_end + 1, n - PEM_PENDING_MAX + 1)
        begin = window.find(_PEM_BEGIN, since)
        if begin >= 0:
            cut = min(cut, begin)
        if self._protected_tokens:
            tokens = normalized_tokens(window, max(0, released))
            if len(tokens) >= self._protected_tokens:
                cut = min(cut, tokens[-self._protected_tokens][1])
            elif tokens:
                cut = min(cut, tokens[0][1])
        for c in reversed(kept):
            if c.start < cut < c.end:
                cut = c.start
        return max(cut, released)


def _failed(where: str, exc: BaseException) -> SanitizerFailed:
    """`SanitizerFailed` caused by `exc`. The cause is set here as well as by `raise ... from`: the compiled
    twin (setup.py) drops what `from` gives, and the log of a refused response needs the detector's error."""
    error = SanitizerFailed(where, exc)
    error.__cause__ = exc
    return error


def _trailing_run(window: str) -> int:
    """Length of the run of non-space ASCII characters at the end of `window` (the folded window: look-alike
    letters are ASCII there), at most `TRAILING_RUN_MAX`.

    The matches of unbounded length (keys, JWTs, URLs) are ASCII, so any other character ends the run: text in
    Chinese, Japanese, Korean or Thai, written without spaces, was one run and held back whole, up to
    `TRAILING_RUN_MAX` characters (a reviewer's 1,320-character Japanese answer showed nothing until its end)."""
    if not window or window[-1].isspace() or not window[-1].isascii():
        return 0
    tail = window[-_SHORT_RUN:]
    word = tail.rsplit(None, 1)[-1]  # same whitespace as str.isspace; stops at the last space, in C
    if not word.isascii():
        return _ascii_suffix(word)
    if len(word) < len(tail):
        return len(word)
    i = len(window)
    limit = max(0, i - TRAILING_RUN_MAX)
    while i > limit and not window[i - 1].isspace() and window[i - 1].isascii():
        i -= 1
    return len(window) - i if i > limit or limit == 0 else TRAILING_RUN_MAX


def _ascii_suffix(word: str) -> int:
    """Length of the ASCII characters at the end of `word`."""
    k = len(word)
    while k and word[k - 1].isascii():
        k -= 1
    return len(word) - k
