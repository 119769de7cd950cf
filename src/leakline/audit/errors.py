"""Errors of the audit log, one class per way things can go wrong.

Two families. *Integrity* errors (exit code 1) mean the stored log or its checkpoints are not what
the writer wrote: each names the kind of damage (`damage`), the first bad record by its expected
sequence number and byte offset, and the file. *Usage* errors (exit code 2) mean the command, the
key or the configuration is wrong. Messages never contain payloads or key material.
"""

from __future__ import annotations

from leakline.errors import ConfigError, IntegrityError, LeaklineError, UsageError


class AuditUsageError(UsageError):
    """A wrong argument to an audit command or API call."""


class AuditConfigError(ConfigError):
    """The `[audit]` section of leakline.toml cannot be used as given."""


class ResidencyRefused(AuditUsageError):
    """A record names a region that has no sink; it is refused, never written elsewhere."""


class RecordTooLarge(AuditUsageError):
    """The clear metadata or the payload of a record exceeds the format's limits."""


class KeyFileError(AuditUsageError):
    """A key file (or the LEAKLINE_AUDIT_KEY variable) is missing, unreadable or malformed."""


class KeyMismatch(AuditUsageError):
    """The key given does not belong to this log (wrong key-encryption key or signing key)."""


class LogNotFound(AuditUsageError):
    """The directory given is not an audit log."""


class LogBusy(AuditUsageError):
    """The log refuses writes (for example after its signing key was rotated by another process)."""


class AuditIOError(LeaklineError):
    """The operating system refused a write (disk full, permissions); nothing partial is kept."""

    exit_code = 1


class AuditIntegrityError(IntegrityError):
    """The log or its checkpoints were changed after they were written."""

    damage = "damaged"

    def __init__(
        self,
        message: str,
        *,
        seq: int | None = None,
        offset: int | None = None,
        file: str | None = None,
        hint: str | None = None,
    ) -> None:
        where = []
        if file:
            where.append(file)
        if seq is not None:
            where.append(f"record {seq}")
        if offset is not None:
            where.append(f"byte offset {offset}")
        prefix = f"{', '.join(where)}: " if where else ""
        super().__init__(f"{prefix}{self.damage}: {message}", hint=hint)
        self.detail = message
        self.seq = seq
        self.offset = offset
        self.file = file


class NotAnAuditLog(AuditIntegrityError):
    """The log file does not start with the audit log magic bytes."""

    damage = "not an audit log"


class UnsupportedFormatVersion(AuditIntegrityError):
    """The log was written in a format version this leakline does not read."""

    damage = "unsupported format version"


class HeaderDamaged(AuditIntegrityError):
    """The log header (log id, region, signing key) was changed."""

    damage = "header modified"


class RecordModified(AuditIntegrityError):
    """A record's bytes differ from what was written (hash, chain link or payload tag mismatch)."""

    damage = "modified"


class RecordDeleted(AuditIntegrityError):
    """A sequence number is missing from the middle of the log."""

    damage = "deleted"


class RecordReordered(AuditIntegrityError):
    """Records appear in a different order from the one they were written in."""

    damage = "reordered"


class LogTruncated(AuditIntegrityError):
    """The log ends before the end that a signed checkpoint covers."""

    damage = "truncated before the last checkpoint"


class CheckpointForged(AuditIntegrityError):
    """A checkpoint's signature, link or fields are invalid: it was not made by this log's writer."""

    damage = "forged checkpoint"


class CheckpointDeleted(AuditIntegrityError):
    """The checkpoint file holds fewer checkpoints than the log's own records say were written."""

    damage = "checkpoint deleted"


class RootMismatch(AuditIntegrityError):
    """A validly signed checkpoint does not match the records: records were rewritten consistently."""

    damage = "modified (records rewritten under a signed checkpoint)"


class DataKeyDamaged(AuditIntegrityError):
    """datakey.json names the key-encryption key given, yet its wrapped data key does not open under it."""

    damage = "data key file modified or damaged"
