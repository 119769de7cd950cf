"""Errors of the output sanitizer: a bad `[sanitize]` policy, a detector that failed, a malformed SSE stream.

A detector failure is fatal on purpose: the gateway turns `SanitizerFailed` into a refusal (fail closed),
it never passes text it could not check. Messages never quote the text being scanned.
"""

from __future__ import annotations

from leakline.errors import ConfigError, LeaklineError


class SanitizeError(LeaklineError):
    """Base of every error raised by `leakline.guard.sanitize`."""


class PolicyError(SanitizeError, ConfigError):
    """`[sanitize]` names an unknown detector or action, a too-short canary, an unreadable corpus file."""


class SanitizerFailed(SanitizeError):
    """A detector raised while scanning: the response must be refused, not passed through."""

    def __init__(self, detector: str, cause: BaseException) -> None:
        super().__init__(
            f"sanitizer detector {detector!r} failed ({type(cause).__name__}); the response was refused",
            hint="this is a bug in leakline; the text was not released",
        )
        self.detector = detector


class StreamClosed(SanitizeError):
    """`feed()` or `finish()` was called on a stream that was already finished."""


class SSEError(SanitizeError):
    """The upstream's server-sent event stream is malformed."""

    def __init__(self, message: str, *, offset: int) -> None:
        super().__init__(f"malformed SSE stream at byte offset {offset}: {message}")
        self.offset = offset


class SSEEventTooLarge(SSEError):
    """One event grew past the size limit without a terminating blank line."""


class SSEBadJSON(SSEError):
    """A `data:` line is neither `[DONE]` nor a JSON object."""


class SSEBadChunk(SSEError):
    """A JSON chunk does not have the shape of an OpenAI streaming chunk."""
