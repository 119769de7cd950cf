"""Key rotation: re-wrap the data key under a new key-encryption key, and hand over checkpoint signing.

The data key itself never changes, so every record written before stays readable with the new key.
When the new key file also holds a new signing key, the log records a KEY_ROTATION record endorsed by
the old signing key, and every later checkpoint is signed by the new one. Writers still running with
the old key file stop at their next checkpoint and ask to be restarted with the new one. A new key
with the current key-encryption key is refused before the log is opened: the old key would still open
the log, which is what a rotation is for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from leakline.audit.errors import AuditUsageError
from leakline.audit.keys import AuditKeys
from leakline.audit.log import AuditLog, CommitPolicy
from leakline.audit.verify import log_paths, parse_header


@dataclass(frozen=True)
class RotationResult:
    old_kek_id: str
    new_kek_id: str
    signing_rotated_at: int | None
    """Sequence number of the KEY_ROTATION record, or None when the signing key stayed the same."""


def rotate_keys(directory: Path, old: AuditKeys, new: AuditKeys) -> RotationResult:
    if new.wrapper.key_id == old.wrapper.key_id:
        # Checked before the log is opened as a writer, so that a refused rotation leaves every file as it was.
        raise AuditUsageError(
            f"{new.source}: same key-encryption key ({new.wrapper.key_id}) as the current key {old.source}; "
            "rotating to it would change nothing, and the old key would still open the log",
            hint="create a new key file with `leakline audit keygen NEWKEY` and pass it as --new-key",
        )
    log_path, _ = log_paths(directory)
    with log_path.open("rb") as handle:
        header = parse_header(handle.read(4096), file=str(log_path))
    log = AuditLog.open(
        directory, old, region=header.region, create=False, policy=CommitPolicy(mode="record"), background=False
    )
    with log:
        log.rewrap_data_key(new.wrapper)
        log.append(
            kind="audit.key_rotated",
            actor="leakline audit rotate-key",
            region=header.region,
            meta={"old_kek_id": old.wrapper.key_id, "new_kek_id": new.wrapper.key_id},
        )
        rotated_at = None
        if new.signer.public_key != log.signing_key:
            rotated_at = log.rotate_signing_key(new.signer)
    return RotationResult(old_kek_id=old.wrapper.key_id, new_kek_id=new.wrapper.key_id,
                          signing_rotated_at=rotated_at)

