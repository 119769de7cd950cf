"""Key rotation: a new data key under a new key-encryption key, and checkpoint signing handed over.

The records from the rotation on are encrypted under a new data key (from the next epoch), and every data
key of the log, old ones included, is stored wrapped under the new key-encryption key: records written
before stay readable with the new key, and the old key-encryption key (with any copy of the old
datakey.json) opens none of the records written after the rotation. When the new key file also holds a
new signing key, the log records a KEY_ROTATION record endorsed by the old signing key, and every later
checkpoint is signed by the new one. Writers still running with the old key file refuse to add another
record once they see the new datakey.json (the next time they take the lock) and ask to be restarted
with the new one. A new key
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
    new_data_key_from_epoch: int
    """The first epoch encrypted under the new data key."""
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
        first_epoch = log.rotate_data_key(new.wrapper)
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
                          new_data_key_from_epoch=first_epoch, signing_rotated_at=rotated_at)

