"""`StreamSanitizer`: sanitizing a streamed response with a bounded hold-back buffer.

The stream keeps the original text it has not released yet, plus `LEFT_CONTEXT` characters before it.
On each `feed` (once enough new text has arrived) it scans that window with the same matchers as a
whole-text scan and releases text up to a *cut* that no match can straddle:

- at least `holdback_chars` before the end (longer than any bounded match plus its right-hand context);
- before any hit that ends inside that last stretch (it could still grow or vanish);
- before the trailing run of non-space characters (keys, JWTs and URLs have no bounded length);
- before a `-----BEGIN ` whose `-----END` has not arrived (PEM blocks), up to `PEM_PENDING_MAX`;
- before the last `min_protected_tokens` tokens when a protected corpus is configured;
- never inside a hit.

Because every matcher's verdict depends only on bounded nearby text, hits before the cut are exactly the
hits of the whole text, so the concatenated output equals `Sanitizer.sanitize(whole).text` for any
chunking (property-tested). A blocking hit stops the stream: the text before it is released, nothing after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from leakline.guard.sanitize.errors import StreamClosed
from leakline.guard.sanitize.matchers import Candidate, normalized_tokens
from leakline.guard.sanitize.policy import Action

if TYPE_CHECKING:
    from leakline.guard.sanitize.core import DetectorHit, Sanitizer

LEFT_CONTEXT = 512
"""Original characters kept before the release point: matchers look back (keywords, Firebase markers)."""
PEM_PENDING_MAX = 12_288
"""A PEM header without its END line holds the stream back at most this far (the secret matcher's bound)."""
TRAILING_RUN_MAX = 16_384
"""A run of non-space characters longer than this is released even though it has not ended."""
_PEM_BEGIN = "-----BEGIN "
_PEM_END = "-----END "


class StreamSanitizer:
    """One per choice of a streamed response. Not thread-safe (a stream is fed by one task)."""

    def __init__(self, sanitizer: Sanitizer) -> None:
        self._sanitizer = sanitizer
        self._actions = sanitizer.policy.actions
        self._holdback = sanitizer.policy.holdback_chars
        self._step = max(64, self._holdback // 2)
        self._protected_tokens = sanitizer.policy.min_protected_tokens if sanitizer.policy.protected_documents else 0
        self._buf = ""
        self._base = 0
        """Offset in the whole text of `_buf[0]`."""
        self._released = 0
        """Offset in the whole text up to which sanitized output has been returned."""
        self._finished = False
        self.blocked = False
        self.hits: list[DetectorHit] = []
        self.scanned_bytes = 0

    @property
    def pending_chars(self) -> int:
        """Characters received and not yet released (the current hold-back)."""
        return self._base + len(self._buf) - self._released

    def feed(self, delta: str) -> str:
        """Add a piece of the response; returns the sanitized text that is safe to send now (maybe "")."""
        if self._finished:
            raise StreamClosed("feed() after finish() on a sanitizer stream")
        if self.blocked or not delta:
            return ""
        self._buf += delta
        self.scanned_bytes += len(delta.encode("utf-8", "surrogatepass"))
        if self.pending_chars < self._holdback + self._step:
            return ""
        return self._advance(final=False)

    def finish(self) -> str:
        """End of the stream: everything still held back, sanitized."""
        if self._finished:
            raise StreamClosed("finish() called twice on a sanitizer stream")
        self._finished = True
        if self.blocked:
            return ""
        return self._advance(final=True)

    def _advance(self, *, final: bool) -> str:
        s = self._sanitizer
        lo = max(self._base, self._released - LEFT_CONTEXT)
        window = self._buf[lo - self._base :]
        n = lo + len(window)
        kept = s.resolve((Candidate(c.detector, c.start + lo, c.end + lo) for c in s.candidates(window)),
                         since=self._released)  # fmt: skip
        cut = n if final else self._cut(window, lo, n, kept)
        stable = [c for c in kept if c.start < cut]
        block_at = next((i for i, c in enumerate(stable) if self._actions[c.detector] is Action.BLOCK), None)
        if block_at is not None:
            stable = stable[: block_at + 1]
        local = [Candidate(c.detector, c.start - lo, c.end - lo) for c in stable]
        out, blocked = s.render(window, local, self._released - lo, cut - lo)
        self.hits.extend(s.hit(window, c, offset=lo) for c in local)
        self.blocked = blocked
        self._released = cut
        keep_from = max(self._base, cut - LEFT_CONTEXT)
        self._buf = self._buf[keep_from - self._base :]
        self._base = keep_from
        return out

    def _cut(self, window: str, lo: int, n: int, kept: list[Candidate]) -> int:
        cut = n - self._holdback
        for c in kept:
            if c.end > cut:
                cut = min(cut, c.start)
        run = _trailing_run(window)
        if run < TRAILING_RUN_MAX:
            cut = min(cut, n - run)
        begin = window.rfind(_PEM_BEGIN, max(0, self._released - lo - len(_PEM_BEGIN)))
        if begin >= 0 and window.find(_PEM_END, begin) < 0 and len(window) - begin < PEM_PENDING_MAX:
            cut = min(cut, lo + begin)
        if self._protected_tokens:
            tokens = normalized_tokens(window, max(0, self._released - lo))
            if len(tokens) >= self._protected_tokens:
                cut = min(cut, lo + tokens[-self._protected_tokens][1])
            elif tokens:
                cut = min(cut, lo + tokens[0][1])
        for c in reversed(kept):
            if c.start < cut < c.end:
                cut = c.start
        return max(cut, self._released)


def _trailing_run(window: str) -> int:
    """Length of the run of non-space characters at the end of `window` (scanned backwards: it is short)."""
    i = len(window)
    limit = max(0, i - TRAILING_RUN_MAX)
    while i > limit and not window[i - 1].isspace():
        i -= 1
    return len(window) - i if i > limit or limit == 0 else TRAILING_RUN_MAX
