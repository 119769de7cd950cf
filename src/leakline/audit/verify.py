"""Verification of an audit log as pure functions over its bytes.

`verify_bytes` checks, in one pass: the header hash; every checkpoint's fields, link to the previous
checkpoint and Ed25519 signature (and that its signer is the key in force at that size); each record's
framing, hash, sequence number, chain link and nonce counter; the RFC 6962 root at every checkpoint's
size; and, given the data key, that every payload authenticates under its epoch key. It raises the typed
error of the first damage found (see `leakline.audit.errors`) naming the first bad record, or returns a
`VerifyReport`. Without a data key only integrity is checked; nothing is decrypted. `verify_log` reads
a log directory without taking the writers' lock: the log only grows, and the checkpoint file is read
first, so a concurrent append shows up as records not yet covered, never as damage.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mmap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from leakline.audit import format as fmt
from leakline.audit.errors import (
    AuditIntegrityError,
    CheckpointDeleted,
    CheckpointForged,
    HeaderDamaged,
    LogNotFound,
    LogTruncated,
    NotAnAuditLog,
    RecordDeleted,
    RecordModified,
    RecordReordered,
    RootMismatch,
    UnsupportedFormatVersion,
)
from leakline.audit.keys import DataKeys, epoch_key, public_key_fingerprint, signature_valid
from leakline.audit.merkle import LEAF_PREFIX, Frontier

# A writer that is up writes at least one record per heartbeat interval; allow for scheduling delays.
HEARTBEAT_GRACE_FACTOR = 2
HEARTBEAT_GRACE_US = 1_000_000

Buffer = bytes | bytearray | memoryview | mmap.mmap


def iso_time(time_us: int) -> str:
    return datetime.fromtimestamp(time_us / 1_000_000, tz=UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class Record:
    """One decrypted record, as `show` and `export` present it."""

    seq: int
    offset: int
    type: fmt.RecordType
    time_us: int
    epoch: int
    meta: dict[str, Any]
    payload: Any
    """The decrypted payload (a JSON value), or None for records that carry none."""

    @property
    def time(self) -> str:
        return iso_time(self.time_us)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "time": self.time,
            "type": self.type.name.lower(),
            "epoch": self.epoch,
            **self.meta,
            "payload": self.payload,
        }


@dataclass(frozen=True)
class CheckpointSummary:
    number: int
    tree_size: int
    log_bytes: int
    time: str
    root: str
    signer: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            "tree_size": self.tree_size,
            "log_bytes": self.log_bytes,
            "time": self.time,
            "root": self.root,
            "signer": self.signer,
        }


@dataclass(frozen=True)
class VerifyReport:
    log_id: str
    region: str | None
    format_version: int
    records: int
    log_bytes: int
    """Bytes of the header and all complete records."""
    root: str
    """The Merkle root over all complete records (hex)."""
    checkpoints: int
    last_checkpoint: CheckpointSummary | None
    uncovered_records: int
    """Complete records after the last checkpoint: readable, but not yet under a signature."""
    torn_tail_bytes: int
    torn_checkpoint_bytes: int
    decrypted: int
    """Records whose payload was decrypted and authenticated (0 without the data key)."""
    signing_keys: tuple[str, ...]
    warnings: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "intact": True,
            "log_id": self.log_id,
            "region": self.region,
            "format_version": self.format_version,
            "records": self.records,
            "log_bytes": self.log_bytes,
            "root": self.root,
            "checkpoints": self.checkpoints,
            "last_checkpoint": self.last_checkpoint.to_dict() if self.last_checkpoint else None,
            "uncovered_records": self.uncovered_records,
            "torn_tail_bytes": self.torn_tail_bytes,
            "torn_checkpoint_bytes": self.torn_checkpoint_bytes,
            "decrypted": self.decrypted,
            "signing_keys": list(self.signing_keys),
            "warnings": list(self.warnings),
        }


def parse_header(buf: Buffer, *, file: str = fmt.LOG_FILENAME) -> fmt.Header:
    """Decode and check the log header; raise the header error that applies."""
    if len(buf) < len(fmt.LOG_MAGIC) or bytes(buf[: len(fmt.LOG_MAGIC)]) != fmt.LOG_MAGIC:
        raise NotAnAuditLog("the file does not start with the audit log magic bytes", offset=0, file=file)
    if len(buf) < fmt.HEADER_FIXED.size + fmt.HASH_SIZE:
        raise HeaderDamaged("the header is incomplete", offset=0, file=file)
    _magic, version, size, log_id, created_us, public_key, key_check, region_len = fmt.HEADER_FIXED.unpack_from(
        buf, 0
    )
    if version != fmt.FORMAT_VERSION:
        raise UnsupportedFormatVersion(
            f"format version {version}; this leakline reads version {fmt.FORMAT_VERSION}", offset=8, file=file
        )
    if region_len > fmt.MAX_REGION_LEN or size != fmt.HEADER_FIXED.size + region_len + fmt.HASH_SIZE:
        raise HeaderDamaged("the header length fields are inconsistent", offset=10, file=file)
    if len(buf) < size:
        raise HeaderDamaged("the header is incomplete", offset=0, file=file)
    raw = bytes(buf[:size])
    if fmt.header_hash(raw[: -fmt.HASH_SIZE]) != raw[-fmt.HASH_SIZE :]:
        raise HeaderDamaged("the header hash does not match its contents", offset=0, file=file)
    region_bytes = raw[fmt.HEADER_FIXED.size : fmt.HEADER_FIXED.size + region_len]
    try:
        region = region_bytes.decode("ascii") if region_len else None
    except UnicodeDecodeError:
        region = ""
    if region is not None and not fmt.valid_region(region):
        raise HeaderDamaged("the region name is not valid", offset=fmt.HEADER_FIXED.size, file=file)
    return fmt.Header(
        log_id=log_id,
        created_us=created_us,
        signing_public_key=public_key,
        key_check=key_check,
        region=region,
        raw=raw,
    )


def parse_checkpoints(
    buf: Buffer, header: fmt.Header, *, file: str = fmt.CHECKPOINT_FILENAME
) -> tuple[list[fmt.Checkpoint], int, dict[int, CheckpointForged]]:
    """Decode the checkpoint file, checking each checkpoint's fields and signature.

    Returns the checkpoints, the length of a torn trailing fragment (a crash mid-write), and the
    problems that depend on a neighbour (a broken link to the previous checkpoint, a size smaller than
    the previous one) by checkpoint number. Those are raised by the record scan only after it has
    checked whether the neighbour's signer was allowed to sign at its size, so that a replaced
    checkpoint is named, not the honest one after it.
    """
    count, torn = divmod(len(buf), fmt.CHECKPOINT_SIZE)
    checkpoints: list[fmt.Checkpoint] = []
    deferred: dict[int, CheckpointForged] = {}
    prev_hash = header.hash
    prev_size = prev_bytes = 0
    body_size = fmt.CHECKPOINT_BODY.size
    for number in range(count):
        offset = number * fmt.CHECKPOINT_SIZE
        raw = bytes(buf[offset : offset + fmt.CHECKPOINT_SIZE])
        (magic, version, reserved, log_id, no, size, log_bytes, time_us, root, hhash, link, public_key) = (
            fmt.CHECKPOINT_BODY.unpack_from(raw, 0)
        )
        signature = raw[body_size:]

        def forged(why: str, *, offset: int = offset, number: int = number) -> CheckpointForged:
            return CheckpointForged(f"checkpoint #{number}: {why}", offset=offset, file=file)

        if not signature_valid(public_key, signature, fmt.checkpoint_signed_message(raw[:body_size])):
            raise forged("the signature does not verify")
        if magic != fmt.CHECKPOINT_MAGIC or version != fmt.FORMAT_VERSION or reserved != 0:
            raise forged("unknown magic, version or reserved bits")
        if log_id != header.log_id or hhash != header.hash:
            raise forged("it belongs to another log")
        if no != number:
            raise forged(f"it is numbered {no} but stored in position {number}")
        if link != prev_hash:
            deferred.setdefault(
                number, forged("it does not link to the previous checkpoint (one was removed, reordered or replaced)")
            )
        if size < prev_size or log_bytes < prev_bytes or (size == prev_size) != (log_bytes == prev_bytes):
            deferred.setdefault(number, forged("it covers less of the log than the checkpoint before it"))
        if log_bytes < header.size + size * fmt.RECORD_OVERHEAD:
            raise forged("its byte count is too small for its record count")
        checkpoint = fmt.Checkpoint(
            number=no,
            tree_size=size,
            log_bytes=log_bytes,
            time_us=time_us,
            root=root,
            header_hash=hhash,
            prev_hash=link,
            public_key=public_key,
            signature=signature,
            raw=raw,
        )
        checkpoints.append(checkpoint)
        prev_hash = checkpoint.hash
        prev_size, prev_bytes = size, log_bytes
    return checkpoints, torn, deferred


def check_trusted_checkpoint(
    checkpoints: list[fmt.Checkpoint], trusted: bytes, header: fmt.Header, *, file: str
) -> None:
    """The log's checkpoint file must hold, unchanged, the checkpoint an auditor kept from before."""
    from leakline.audit.errors import AuditUsageError

    if not trusted or len(trusted) % fmt.CHECKPOINT_SIZE:
        raise AuditUsageError("the trusted checkpoint is not a checkpoint (or a checkpoint file)")
    raw = trusted[-fmt.CHECKPOINT_SIZE :]
    fields = fmt.CHECKPOINT_BODY.unpack_from(raw, 0)
    number, tree_size, public_key = fields[4], fields[5], fields[11]
    body_size = fmt.CHECKPOINT_BODY.size
    if fields[3] != header.log_id:
        raise AuditUsageError("the trusted checkpoint belongs to another log")
    if not signature_valid(public_key, raw[body_size:], fmt.checkpoint_signed_message(raw[:body_size])):
        raise AuditUsageError("the trusted checkpoint's signature does not verify")
    if number >= len(checkpoints):
        raise LogTruncated(
            f"the trusted checkpoint #{number} ({tree_size} records) is missing: the log and its checkpoints "
            f"were cut back to {len(checkpoints)} checkpoints",
            offset=len(checkpoints) * fmt.CHECKPOINT_SIZE, file=file,
        )
    if checkpoints[number].raw != raw:
        raise CheckpointForged(f"checkpoint #{number} differs from the trusted copy",
                               offset=number * fmt.CHECKPOINT_SIZE, file=file)


def _seqs_after(buf: Buffer, offset: int) -> Iterator[int]:
    """Sequence numbers of the well-framed records from `offset` on (for telling deletion from reordering)."""
    end = len(buf)
    while end - offset >= fmt.RECORD_OVERHEAD:
        length, _t, _r, seq, *_ = fmt.RECORD_FIXED.unpack_from(buf, offset)
        if length < fmt.RECORD_OVERHEAD or offset + length > end:
            return
        yield seq
        offset += length


def _diagnose_sequence(buf: Buffer, offset: int, expected: int, found: int, file: str) -> AuditIntegrityError:
    if found < expected:
        return RecordReordered(
            f"found the record with sequence {found} again after record {expected - 1}", seq=expected,
            offset=offset, file=file,
        )
    if expected in _seqs_after(buf, offset):
        return RecordReordered(
            f"found sequence {found} where {expected} belongs; {expected} comes later in the file",
            seq=expected, offset=offset, file=file,
        )
    missing = f"{expected}" if found == expected + 1 else f"{expected} to {found - 1}"
    return RecordDeleted(f"records {missing} are missing (the next record is {found})", seq=expected,
                         offset=offset, file=file)


class _Epochs:
    """Per-epoch nonce counters and heartbeat intervals, checked as records stream by."""

    def __init__(self) -> None:
        self.next_counter: dict[int, int] = {}
        self.heartbeat_us: dict[int, int] = {}
        self.last_time: dict[int, int] = {}
        self.max_epoch = -1
        self.checkpoint_interval_us = 0
        """The longest checkpoint interval any writer declared (0: none declared)."""


def _epoch_meta(meta: bytes) -> dict[str, Any]:
    try:
        value = json.loads(meta)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return {}
    return value if isinstance(value, dict) else {}


def verify_bytes(
    log: Buffer,
    checkpoints_buf: Buffer,
    *,
    data_key: DataKeys | bytes | None = None,
    on_record: Callable[[Record], None] | None = None,
    trusted: bytes | None = None,
    log_file: str = fmt.LOG_FILENAME,
    checkpoint_file: str = fmt.CHECKPOINT_FILENAME,
) -> VerifyReport:
    """Verify a whole log; with `data_key`, also decrypt every payload (passed to `on_record`).

    `data_key` is the log's `DataKeys` (`read_data_key`), one per rotation, each for the epochs from its
    first one on; plain bytes stand for a log that was never rotated.

    `trusted` is a checkpoint (or a checkpoint file, whose last one counts) that the verifier obtained
    earlier, out of band: the log must still contain it, which rules out a roll-back of both files.
    """
    header = parse_header(log, file=log_file)
    checkpoints, torn_checkpoint, deferred = parse_checkpoints(checkpoints_buf, header, file=checkpoint_file)
    if trusted is not None:
        check_trusted_checkpoint(checkpoints, trusted, header, file=checkpoint_file)
    if data_key is None and on_record is not None:
        raise ValueError("on_record needs the data key")
    data_keys = DataKeys.single(data_key) if isinstance(data_key, bytes) else data_key
    if data_keys is not None:
        from leakline.audit.keys import key_check_value

        if key_check_value(data_keys.first, header.log_id) != header.key_check:
            from leakline.audit.errors import KeyMismatch

            raise KeyMismatch(f"{log_file}: the data key does not belong to this log")

    view = memoryview(log)
    try:
        return _scan(log, view, header, checkpoints, torn_checkpoint, deferred, data_keys, on_record, log_file,
                     checkpoint_file)
    finally:
        view.release()


def _scan(
    raw: Buffer,
    view: memoryview,
    header: fmt.Header,
    checkpoints: list[fmt.Checkpoint],
    torn_checkpoint: int,
    deferred: dict[int, CheckpointForged],
    data_keys: DataKeys | None,
    on_record: Callable[[Record], None] | None,
    log_file: str,
    checkpoint_file: str,
) -> VerifyReport:
    end = len(view)
    unpack = fmt.RECORD_FIXED.unpack_from
    fixed = fmt.RECORD_FIXED.size
    overhead = fmt.RECORD_OVERHEAD
    hash_size = fmt.HASH_SIZE
    leaf_hasher = hashlib.sha256(LEAF_PREFIX)
    frontier = Frontier()
    epochs = _Epochs()
    warnings: list[str] = []
    signing_key = header.signing_public_key
    all_keys = [signing_key]
    ciphers: dict[int, AESGCM] = {}
    decrypted = 0

    pending = iter(checkpoints)
    next_checkpoint = next(pending, None)
    last_checkpoint: fmt.Checkpoint | None = None

    def check_gap(first_us: int, last_us: int) -> None:
        interval = epochs.checkpoint_interval_us
        if first_us >= 0 and interval and last_us - first_us > HEARTBEAT_GRACE_FACTOR * interval + HEARTBEAT_GRACE_US:
            warnings.append(
                f"records from {iso_time(first_us)} to {iso_time(last_us)} went without a checkpoint for longer "
                f"than twice the writers' interval ({interval / 1_000_000:g}s): a writer was stalled, or "
                "checkpoints are missing"
            )

    def check_checkpoint(cp: fmt.Checkpoint, offset: int, seq: int) -> None:
        if cp.public_key != signing_key:
            raise CheckpointForged(
                f"checkpoint #{cp.number} is signed by {public_key_fingerprint(cp.public_key)}, "
                f"but the log's signing key at that point is {public_key_fingerprint(signing_key)}",
                offset=cp.number * fmt.CHECKPOINT_SIZE, file=checkpoint_file,
            )
        if cp.number in deferred:
            raise deferred[cp.number]
        if cp.log_bytes != offset or cp.root != frontier.root():
            first = last_checkpoint.tree_size if last_checkpoint else 0
            raise RootMismatch(
                f"checkpoint #{cp.number} signs a different log: records {first} to {seq - 1} were "
                "rewritten after it was made",
                seq=first, file=log_file,
            )

    seq = 0
    offset = header.size
    prev = header.hash
    sha256 = hashlib.sha256
    node_prefix = b"\x01"
    stack = frontier.stack
    leaf_copy = leaf_hasher.copy
    max_record = fmt.MAX_RECORD_BYTES
    rotation_type = int(fmt.RecordType.KEY_ROTATION)
    event_type = int(fmt.RecordType.EVENT)
    claimed_checkpoints, claimed_by = 0, 0
    max_counter = fmt.MAX_RECORDS_PER_EPOCH
    cur_epoch = -1
    cur_next = 0
    cur_heartbeat = 0
    cur_limit = 0
    cur_last = 0
    span_first_us = span_last_us = -1  # records since the last checkpoint: first and last time
    next_size = next_checkpoint.tree_size if next_checkpoint is not None else -1
    while True:
        if seq == next_size:
            frontier.size = seq
            check_gap(span_first_us, span_last_us)
            span_first_us = -1
            while next_checkpoint is not None and next_checkpoint.tree_size == seq:
                check_checkpoint(next_checkpoint, offset, seq)
                last_checkpoint = next_checkpoint
                next_checkpoint = next(pending, None)
            next_size = next_checkpoint.tree_size if next_checkpoint is not None else -1
        if end - offset < overhead:
            break
        (length, rtype, reserved, rseq, time_us, epoch, counter, link, meta_len, ct_len) = unpack(view, offset)
        stop = offset + length
        if length != overhead + meta_len + ct_len or length > max_record:
            if length == 0 and not any(view[offset:]):
                break  # zero-filled tail: blocks allocated by a write that never completed
            raise RecordModified("the record's length fields are inconsistent", seq=seq, offset=offset,
                                 file=log_file)
        if stop > end:
            break
        digest_end = stop - hash_size
        hasher = leaf_copy()
        hasher.update(view[offset:digest_end])
        digest = hasher.digest()
        if digest != raw[digest_end:stop]:
            raise RecordModified("the record's hash does not match its contents", seq=seq, offset=offset,
                                 file=log_file)
        if rseq != seq:
            raise _diagnose_sequence(view, offset, seq, rseq, log_file)
        if link != prev:
            raise RecordModified(
                "the record does not link to the record before it (one of the two was replaced)",
                seq=seq, offset=offset, file=log_file,
            )
        if (
            rtype != event_type
            or epoch != cur_epoch
            or counter != cur_next
            or counter >= max_counter
            or reserved != b"\0\0\0"
        ):
            if cur_epoch != -1:  # the fast path keeps these in locals; hand them back
                epochs.next_counter[cur_epoch] = cur_next
                epochs.last_time[cur_epoch] = cur_last
            claimed = _check_record_fields(view, offset, seq, rtype, reserved, epoch, counter, meta_len, epochs,
                                           log_file)
            if claimed > claimed_checkpoints:
                claimed_checkpoints, claimed_by = claimed, seq
            cur_epoch = epoch
            cur_heartbeat = epochs.heartbeat_us.get(epoch, 0)
            cur_limit = HEARTBEAT_GRACE_FACTOR * cur_heartbeat + HEARTBEAT_GRACE_US
            cur_last = epochs.last_time.get(epoch, time_us)
            if rtype == rotation_type:
                signing_key = _check_rotation(view, offset, fixed, meta_len, seq, header.log_id, signing_key,
                                              log_file)
                all_keys.append(signing_key)
        cur_next = counter + 1
        if cur_heartbeat and time_us - cur_last > cur_limit:
            warnings.append(
                f"writer epoch {epoch} wrote nothing from {iso_time(cur_last)} to {iso_time(time_us)} "
                f"(heartbeat every {cur_heartbeat // 1_000_000}s): the writer was stalled or suspended"
            )
        cur_last = span_last_us = time_us
        if span_first_us < 0:
            span_first_us = time_us

        if data_keys is not None:
            cipher = ciphers.get(epoch)
            if cipher is None:
                cipher = ciphers[epoch] = AESGCM(epoch_key(data_keys.for_epoch(epoch), header.log_id, epoch))
            ct_start = offset + fixed + meta_len
            try:
                plaintext = cipher.decrypt(
                    fmt.nonce_for(counter),
                    bytes(view[ct_start:digest_end]),
                    fmt.record_associated_data(header.log_id, view[offset:ct_start]),
                )
            except InvalidTag:
                raise RecordModified("the payload does not authenticate under the log's key", seq=seq,
                                     offset=offset, file=log_file) from None
            decrypted += 1
            if on_record is not None:
                on_record(_decode_record(view, offset, seq, rtype, time_us, epoch, meta_len, plaintext, log_file))

        # Frontier.append, inlined: the hot loop of verification.
        node = digest
        size = seq
        while size & 1:
            node = sha256(node_prefix + stack.pop() + node).digest()
            size >>= 1
        stack.append(node)
        prev = digest
        seq += 1
        offset = stop
    frontier.size = seq

    tail = end - offset
    if next_checkpoint is not None:
        for cp in [next_checkpoint, *pending]:
            if cp.number in deferred:
                raise deferred[cp.number]
            if cp.public_key not in all_keys:
                raise CheckpointForged(
                    f"checkpoint #{cp.number} is signed by an unknown key "
                    f"{public_key_fingerprint(cp.public_key)}",
                    offset=cp.number * fmt.CHECKPOINT_SIZE, file=checkpoint_file,
                )
        if end >= next_checkpoint.log_bytes and tail:
            raise RecordModified("the record's length points past the end of the file", seq=seq,
                                 offset=offset, file=log_file)
        raise LogTruncated(
            f"the log holds {seq} complete records ({offset} bytes), but checkpoint #{next_checkpoint.number} "
            f"of {iso_time(next_checkpoint.time_us)} covers {next_checkpoint.tree_size} records "
            f"({next_checkpoint.log_bytes} bytes)",
            seq=seq, offset=offset, file=log_file,
        )
    check_gap(span_first_us, span_last_us)
    if claimed_checkpoints > len(checkpoints):
        raise CheckpointDeleted(
            f"record {claimed_by} says {claimed_checkpoints} checkpoints had been written, but the file holds "
            f"{len(checkpoints)}",
            offset=len(checkpoints) * fmt.CHECKPOINT_SIZE, file=checkpoint_file,
        )
    if tail:
        warnings.append(
            f"{tail} bytes at offset {offset} are a torn record (a write that never completed); "
            "the next writer moves them aside"
        )
    if torn_checkpoint:
        warnings.append(f"{torn_checkpoint} bytes at the end of the checkpoint file are a torn checkpoint")
    covered = last_checkpoint.tree_size if last_checkpoint else 0
    if seq > covered:
        warnings.append(
            f"records {covered} to {seq - 1} are not yet covered by a signed checkpoint "
            "(a writer is running, or stopped without a clean shutdown)"
        )
    summary = None
    if last_checkpoint is not None:
        summary = CheckpointSummary(
            number=last_checkpoint.number,
            tree_size=last_checkpoint.tree_size,
            log_bytes=last_checkpoint.log_bytes,
            time=iso_time(last_checkpoint.time_us),
            root=last_checkpoint.root.hex(),
            signer=public_key_fingerprint(last_checkpoint.public_key),
        )
    return VerifyReport(
        log_id=header.log_id.hex(),
        region=header.region,
        format_version=fmt.FORMAT_VERSION,
        records=seq,
        log_bytes=offset,
        root=frontier.root().hex(),
        checkpoints=len(checkpoints),
        last_checkpoint=summary,
        uncovered_records=seq - covered,
        torn_tail_bytes=tail,
        torn_checkpoint_bytes=torn_checkpoint,
        decrypted=decrypted,
        signing_keys=tuple(dict.fromkeys(public_key_fingerprint(k) for k in all_keys)),
        warnings=tuple(warnings),
    )


def _check_record_fields(
    view: memoryview, offset: int, seq: int, rtype: int, reserved: bytes, epoch: int, counter: int,
    meta_len: int, epochs: _Epochs, file: str,
) -> int:
    """The rare path of the scan: a record that is not an event, or starts or switches epochs.

    Returns how many checkpoints the record says existed when it was written (0 if it does not say):
    EPOCH and HEARTBEAT records carry that count, so deleting checkpoints is detected.
    """
    if reserved != fmt.RESERVED3 or rtype not in fmt.RECORD_TYPES:
        raise RecordModified("unknown record type or reserved bits set", seq=seq, offset=offset, file=file)
    claimed = 0
    if rtype in (fmt.RecordType.EPOCH, fmt.RecordType.HEARTBEAT):
        start = offset + fmt.RECORD_FIXED.size
        count = _epoch_meta(bytes(view[start : start + meta_len])).get("checkpoints")
        claimed = count if isinstance(count, int) else 0
    # Nonce discipline: an epoch starts with an EPOCH record at counter 0, epochs only grow,
    # and counters within an epoch are consecutive, so no (key, nonce) pair can repeat.
    expected_counter = epochs.next_counter.get(epoch)
    if expected_counter is None:
        if epoch <= epochs.max_epoch or counter != 0 or rtype != fmt.RecordType.EPOCH:
            raise RecordModified(f"epoch {epoch} starts out of order", seq=seq, offset=offset, file=file)
        epochs.max_epoch = epoch
        start = offset + fmt.RECORD_FIXED.size
        declared = _epoch_meta(bytes(view[start : start + meta_len]))
        interval = declared.get("heartbeat_s")
        if isinstance(interval, int) and interval > 0:
            epochs.heartbeat_us[epoch] = interval * 1_000_000
        every = declared.get("checkpoint_every_s")
        if isinstance(every, int | float) and every > 0:
            epochs.checkpoint_interval_us = max(epochs.checkpoint_interval_us, int(every * 1_000_000))
    elif counter != expected_counter or counter >= fmt.MAX_RECORDS_PER_EPOCH:
        raise RecordModified(f"nonce counter {counter} of epoch {epoch} is out of order", seq=seq,
                             offset=offset, file=file)
    return claimed


def _check_rotation(
    view: memoryview, offset: int, fixed: int, meta_len: int, seq: int, log_id: bytes, current: bytes, file: str
) -> bytes:
    meta = _epoch_meta(bytes(view[offset + fixed : offset + fixed + meta_len]))
    try:
        new_key = base64.b64decode(str(meta.get("new_signing_key", "")), validate=True)
        endorsement = base64.b64decode(str(meta.get("endorsement", "")), validate=True)
    except ValueError:
        new_key = endorsement = b""
    if not signature_valid(current, endorsement, fmt.rotation_signed_message(log_id, seq, new_key)):
        raise RecordModified("the signing key rotation is not endorsed by the previous signing key", seq=seq,
                             offset=offset, file=file)
    return new_key


def _decode_record(
    view: memoryview, offset: int, seq: int, rtype: int, time_us: int, epoch: int, meta_len: int,
    plaintext: bytes, file: str,
) -> Record:
    start = offset + fmt.RECORD_FIXED.size
    try:
        meta = json.loads(bytes(view[start : start + meta_len]))
        payload = json.loads(plaintext) if plaintext else None
    except (UnicodeDecodeError, json.JSONDecodeError):
        # Authenticated bytes that are not JSON were written by something other than leakline.
        raise RecordModified("authenticated, but not leakline's JSON encoding", seq=seq, offset=offset,
                             file=file) from None
    if not isinstance(meta, dict):
        raise RecordModified("metadata is not a JSON object", seq=seq, offset=offset, file=file)
    return Record(seq=seq, offset=offset, type=fmt.RecordType(rtype), time_us=time_us, epoch=epoch, meta=meta,
                  payload=payload)


@contextmanager
def _mapped(path: Path) -> Iterator[Buffer]:
    with path.open("rb") as handle:
        size = handle.seek(0, 2)
        if size == 0:
            yield b""
            return
        with mmap.mmap(handle.fileno(), size, access=mmap.ACCESS_READ) as mapped:
            yield mapped


def log_paths(directory: Path) -> tuple[Path, Path]:
    log_path = directory / fmt.LOG_FILENAME
    if not directory.is_dir():
        if directory.exists():
            raise LogNotFound(f"{directory}: exists and is not a directory")
        raise LogNotFound(f"{directory}: no such directory")
    if not log_path.is_file():
        raise LogNotFound(f"{directory}: not an audit log (no {fmt.LOG_FILENAME})")
    return log_path, directory / fmt.CHECKPOINT_FILENAME


def verify_log(
    directory: Path,
    *,
    data_key: DataKeys | bytes | None = None,
    on_record: Callable[[Record], None] | None = None,
    trusted: bytes | None = None,
) -> VerifyReport:
    """Verify the log in `directory` (see `verify_bytes`)."""
    log_path, checkpoint_path = log_paths(directory)
    # Checkpoints first: the log only grows, so every checkpoint read covers bytes already written.
    checkpoints = checkpoint_path.read_bytes() if checkpoint_path.exists() else b""
    with _mapped(log_path) as log:
        return verify_bytes(
            log, checkpoints, data_key=data_key, on_record=on_record, trusted=trusted,
            log_file=str(log_path), checkpoint_file=str(checkpoint_path),
        )
