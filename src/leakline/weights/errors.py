"""Errors of the weights domain: one typed error for each way a weights file, key or transfer can be wrong.

Integrity failures (a damaged, truncated, reordered or foreign file; a wrong key; a bad signature) derive
from `IntegrityError` and exit 1. Mistakes in how leakline was called (missing files, unreadable key files,
an existing destination) derive from `UsageError` and exit 2. Refused or failed transfers exit 1: nothing
usable was stored. Messages name the file, the field or segment and the byte offset; they never contain key
material or plaintext.
"""

from __future__ import annotations

from pathlib import Path

from leakline.errors import ConfigError, IntegrityError, LeaklineError, UsageError


class WeightsError(LeaklineError):
    """Base of every error raised by `leakline.weights`."""


class WeightsUsageError(WeightsError, UsageError):
    """A path, option or argument given to a weights command is wrong."""


class KeyFileError(WeightsError, UsageError):
    """A key file is missing, unreadable, has unsafe permissions or is malformed."""


class OutputError(WeightsError, UsageError):
    """A file cannot be written: read-only or full file system, no permission, a path that cannot exist.

    The message is `PATH: <the system's reason>`, PATH being the file the user asked for (not a temporary
    name beside it); whatever was partly written has been removed (or, for `pull`, kept as `.part`).
    """

    @classmethod
    def of(cls, path: Path | str, exc: OSError) -> OutputError:
        return cls(f"{path}: {exc.strerror or exc}")


class WeightsConfigError(WeightsError, ConfigError):
    """The [weights] section of leakline.toml cannot be used as given."""


# --- integrity: the container --------------------------------------------------------------------


class FormatError(WeightsError, IntegrityError):
    """The file is not a well-formed leakline weights container."""


class BadMagicError(FormatError):
    """The first bytes are not the leakline weights magic."""


class UnsupportedVersionError(FormatError):
    """The container declares a format version this leakline cannot read."""


class HeaderMalformedError(FormatError):
    """A header field is out of range or inconsistent; the message names the field and its byte offset."""

    def __init__(self, message: str, *, field: str, offset: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field
        self.offset = offset


class TruncatedError(FormatError):
    """The file ends before a structure it declares is complete."""

    def __init__(self, message: str, *, offset: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.offset = offset


class KeyMismatchError(FormatError):
    """The file was encrypted for a different key than the one given."""


class WrappedKeyError(FormatError):
    """The wrapped data key does not unwrap under the given key: the header was edited or the key is wrong."""


class HeaderAuthenticationError(FormatError):
    """The header's MAC does not match: a header field (model id, version, salt, segment size…) was edited."""


class SegmentError(FormatError):
    """A segment failed to decrypt. `index` is the segment's position in the file, `offset` its first byte."""

    def __init__(self, message: str, *, index: int, offset: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.index = index
        self.offset = offset


class SegmentAuthenticationError(SegmentError):
    """The segment's bytes were modified, or the segment comes from another file."""


class SegmentReorderedError(SegmentError):
    """The segment is authentic but belongs at another position: segments were reordered or duplicated."""

    def __init__(self, message: str, *, index: int, offset: int, belongs_at: int) -> None:
        super().__init__(message, index=index, offset=offset)
        self.belongs_at = belongs_at


class SegmentTruncationError(SegmentError):
    """The final-segment flag is wrong here: segments were cut off the end, or appended after the last one."""


class TrailerError(FormatError):
    """The manifest trailer at the end of the file is missing or malformed."""


class ManifestSignatureError(FormatError):
    """The manifest's Ed25519 signature does not verify under the trusted verify key."""


class ManifestMismatchError(FormatError):
    """A manifest field disagrees with the file or with what the caller pinned (e.g. an older version)."""

    def __init__(self, message: str, *, field: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.field = field


# --- transfer --------------------------------------------------------------------------------------


class TransferError(WeightsError):
    """A serve/pull transfer failed; nothing usable was stored."""

    exit_code = 1


class UnreachableError(TransferError):
    """The server cannot be reached (refused, reset, timed out before an answer); a pull retries these."""


class ResidencyRefusedError(TransferError):
    """The server refused the pull: the puller's region is not allowed for this model."""


class TLSSetupError(WeightsError, UsageError):
    """A certificate, key or CA file for TLS cannot be loaded."""
