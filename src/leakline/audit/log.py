"""The audit log writer: `AuditLog.open(...)`, `.append(...)`, group commit, checkpoints, heartbeats.

Concurrency design: one log directory is shared by any number of writer processes through an
exclusive `flock` on `audit.lock`. A writer takes the lock for one batch at a time, and before adding
to the log it re-reads whatever other writers appended since its last batch (their sequence numbers,
hashes, epochs and checkpoints), so there is one sequence, one hash chain and one Merkle tree per log.
Each writer encrypts under its own epoch, allocated under the lock and recorded by an EPOCH record
before any ciphertext of that epoch is written, so two writers never share an epoch key or a nonce.
Threads of one process share one `AuditLog` (an internal mutex serialises them).

Group commit: in "group" mode `append` encrypts the record into an in-memory batch and returns its
sequence number; the batch is written and fsync'ed when it is `group_commit_ms` old (by a background
thread), when it reaches `MAX_BATCH_BYTES`, or on `flush()`/`close()`. The batch is written outside
the writer's mutex, so appends go on while it is fsync'ed; batches reach the file in the order they
were taken. The lock is held from the first record of a batch until it is on disk, so other writers
wait at most about one group-commit interval. In "record" mode every `append` returns only after its
record is fsync'ed. A record is durable once `flush()` returns. One `AuditLog` per process: a log
inherited across `fork` refuses to append.

Recovery: bytes after the last complete record (a write cut short by a crash or power loss) are moved
to a `torn-record-<offset>-<µs>.bin` file in the log directory and cut from the log, under the lock, by
the next writer; everything before them is kept. Their epoch, if readable, is never used again.
"""

from __future__ import annotations

import atexit
import base64
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import socket
import threading
import time
import weakref
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal, Self

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from leakline.audit import format as fmt
from leakline.audit.errors import (
    AuditIntegrityError,
    AuditIOError,
    AuditUsageError,
    KeyMismatch,
    LogBusy,
    LogNotFound,
    RecordTooLarge,
    ResidencyRefused,
)
from leakline.audit.keys import (
    AuditKeys,
    CheckpointSigner,
    DataKeys,
    KeyWrapper,
    decode_data_keys,
    encode_data_keys,
    epoch_key,
    key_check_value,
    new_data_key,
    public_key_fingerprint,
)
from leakline.audit.merkle import LEAF_PREFIX, Frontier
from leakline.audit.verify import parse_header
from leakline.errors import LeaklineError

CommitMode = Literal["record", "group"]

MAX_BATCH_BYTES = 4 * 1024 * 1024
_LEAF_HASHER = hashlib.sha256(LEAF_PREFIX)
_pack_record = fmt.RECORD_FIXED.pack
# Appends change only the data and the file size, which fdatasync makes durable (without the mtime).
_datasync = getattr(os, "fdatasync", os.fsync)
_RESYNC_CHUNK = 8 * 1024 * 1024
_HEADER_READ = 4096  # more than the largest header (101 + 32 + 32 bytes)
_EPOCH_FIELD_END = 28  # bytes 24..27 of a record hold its epoch
DIR_MODE = 0o700
FILE_MODE = 0o600
_MAX_NAME_LEN = 200


@dataclass(frozen=True)
class CommitPolicy:
    """When records reach the disk, and how often checkpoints and heartbeats are written."""

    mode: CommitMode = "group"
    group_commit_ms: int = 5
    checkpoint_every_records: int = 1000
    checkpoint_every_seconds: float = 60.0
    heartbeat_seconds: int = 300

    def __post_init__(self) -> None:
        if self.mode not in ("record", "group"):
            raise AuditUsageError(f"commit mode must be 'record' or 'group', got {self.mode!r}")
        if self.group_commit_ms < 1 or self.checkpoint_every_records < 1:
            raise AuditUsageError("group_commit_ms and checkpoint_every_records must be at least 1")
        if self.checkpoint_every_seconds <= 0 or self.heartbeat_seconds < 1:
            raise AuditUsageError("checkpoint_every_seconds and heartbeat_seconds must be positive")


def _now_us() -> int:
    return time.time_ns() // 1000


def _writer_identity() -> dict[str, Any]:
    """Who writes an epoch (in its EPOCH record): enough to find the process, nothing personal."""
    return {"pid": os.getpid(), "host": socket.gethostname()}


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _pwrite_all(fd: int, data: bytes, offset: int) -> None:
    view = memoryview(data)
    while view:
        written = os.pwrite(fd, view, offset)
        view = view[written:]
        offset += written


def atomic_write(path: Path, data: bytes) -> None:
    """Replace `path` with `data` (mode 0600) so that a crash leaves the old or the new file, never half."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        _write_all(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    _fsync_dir(path.parent)


def _check_text(field: str, value: object, *, required: bool) -> str | None:
    if value is None:
        if required:
            raise AuditUsageError(f"{field} is required")
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > _MAX_NAME_LEN:
        raise AuditUsageError(f"{field} must be a non-empty string of at most {_MAX_NAME_LEN} characters")
    return value


class _DirLock:
    """The writers' exclusive lock on one log directory (advisory `flock`, released if a writer dies)."""

    def __init__(self, directory: Path) -> None:
        self.fd = os.open(directory / fmt.LOCK_FILENAME, os.O_RDWR | os.O_CREAT, FILE_MODE)
        self.held = False

    def acquire(self) -> None:
        fcntl.flock(self.fd, fcntl.LOCK_EX)
        self.held = True

    def release(self) -> None:
        if self.held:
            fcntl.flock(self.fd, fcntl.LOCK_UN)
            self.held = False

    def close(self) -> None:
        self.release()
        os.close(self.fd)


def _new_log_id() -> bytes:
    return secrets.token_bytes(fmt.LOG_ID_SIZE)


def create_log(directory: Path, keys: AuditKeys, *, region: str | None) -> None:
    """Create an empty log in `directory` unless one exists (safe against concurrent creators)."""
    if region is not None and not fmt.valid_region(region):
        raise AuditUsageError(f"region {region!r} is not a valid name (lowercase letters, digits, '-', '_')")
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    lock = _DirLock(directory)
    try:
        lock.acquire()
        log_path = directory / fmt.LOG_FILENAME
        if log_path.exists():
            return
        log_id = _new_log_id()
        data_key = new_data_key()
        header = fmt.encode_header(
            log_id=log_id,
            created_us=_now_us(),
            signing_public_key=keys.signer.public_key,
            key_check=key_check_value(data_key, log_id),
            region=region,
        )
        # The wrapped data key first: a log file without its key could never be read.
        atomic_write(
            directory / fmt.DATAKEY_FILENAME, encode_data_keys(log_id, keys.wrapper, DataKeys.single(data_key))
        )
        atomic_write(directory / fmt.CHECKPOINT_FILENAME, b"")
        atomic_write(log_path, header)
    finally:
        lock.close()


_Stamp = tuple[int, int, int]
"""(inode, size, mtime in ns) of datakey.json: `atomic_write` replaces the file, so a rotation changes it."""


def _datakey_stamp(info: os.stat_result) -> _Stamp:
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _read_data_keys(directory: Path, header: fmt.Header, keys: AuditKeys) -> tuple[DataKeys, _Stamp]:
    path = directory / fmt.DATAKEY_FILENAME
    try:
        with path.open("rb") as handle:
            stamp = _datakey_stamp(os.fstat(handle.fileno()))
            raw = handle.read()
    except OSError as exc:
        raise LogNotFound(f"{path}: cannot read the wrapped data key: {exc.strerror}") from None
    data_keys = decode_data_keys(raw, header.log_id, keys.unwrapper, source=str(path))
    if key_check_value(data_keys.first, header.log_id) != header.key_check:
        raise KeyMismatch(f"{path}: the data key does not match the log's header")
    return data_keys, stamp


def read_data_key(directory: Path, header: fmt.Header, keys: AuditKeys) -> DataKeys:
    """The log's data keys (one per rotation), unwrapped with `keys`; pass them to `verify_log(data_key=…)`."""
    return _read_data_keys(directory, header, keys)[0]


class _State:
    """What a writer knows about the shared log; valid while it holds the lock (after `_resync`)."""

    def __init__(self, header: fmt.Header) -> None:
        self.offset = header.size
        self.seq = 0
        self.prev = header.hash
        self.frontier = Frontier()
        self.max_epoch = -1
        self.signing_key = header.signing_public_key
        self.checkpoints = 0
        self.checkpoint_hash = header.hash
        self.checkpoint_size = 0

    def snapshot(self) -> tuple[Any, ...]:
        frontier = Frontier()
        frontier.size = self.frontier.size
        frontier.stack = list(self.frontier.stack)
        return (self.offset, self.seq, self.prev, frontier)

    def restore(self, snap: tuple[Any, ...]) -> None:
        self.offset, self.seq, self.prev, self.frontier = snap


@dataclass(frozen=True)
class _Job:
    """One batch on its way to the disk."""

    data: bytes
    offset: int
    snapshot: tuple[Any, ...] | None
    tree_size: int
    stack: list[bytes] | None
    """The Merkle frontier at `tree_size`, when a checkpoint is due with this batch."""
    ticket: int
    generation: int


_open_logs: weakref.WeakSet[AuditLog] = weakref.WeakSet()


@atexit.register
def _close_open_logs() -> None:
    for log in list(_open_logs):
        with contextlib.suppress(Exception):
            log.close()


class AuditLog:
    """One log directory, open for appending. Use `AuditLog.open(...)`; close it (or use `with`)."""

    def __init__(
        self,
        directory: Path,
        keys: AuditKeys,
        header: fmt.Header,
        data_keys: tuple[DataKeys, _Stamp],
        policy: CommitPolicy,
        background: bool,
    ) -> None:
        self.directory = directory
        self.region = header.region
        self.log_id = header.log_id
        self.policy = policy
        self._keys = keys
        self._signer: CheckpointSigner = keys.signer
        self._header = header
        self._data_keys, self._datakey_stamp = data_keys
        self._datakey_path = str(directory / fmt.DATAKEY_FILENAME)
        self._ad_prefix = fmt.record_associated_data(header.log_id, b"")
        self._state = _State(header)
        self._mu = threading.RLock()
        self._wake = threading.Condition(self._mu)
        self._lock = _DirLock(directory)
        self._log_fd = os.open(directory / fmt.LOG_FILENAME, os.O_RDWR)
        self._cp_fd = os.open(directory / fmt.CHECKPOINT_FILENAME, os.O_RDWR | os.O_CREAT, FILE_MODE)
        self._pid = os.getpid()
        self._epoch: int | None = None
        self._counter = 0
        self._cipher: AESGCM | None = None
        self._batch: list[bytes] = []
        self._batch_bytes = 0
        self._batch_deadline = 0.0
        self._batch_snapshot: tuple[Any, ...] | None = None
        # Group commit writes a batch outside `_mu`, so appends go on while it is fsync'ed. Batches are
        # written strictly in the order they were taken (tickets), and after a failed write every later
        # batch of the same generation is dropped, never written behind a hole.
        self._io = threading.Condition(threading.Lock())
        self._next_ticket = 0
        self._now_serving = 0
        self._generation = 0
        self._io_failure: tuple[BaseException, tuple[Any, ...] | None] | None = None
        self._checkpoint_error: BaseException | None = None
        self._checkpoint_claimed = 0
        self._last_write = time.monotonic()
        self._last_checkpoint = time.monotonic()
        self._error: BaseException | None = None
        self._discarded_from: int | None = None
        self._closed = False
        self.torn_recovered: list[Path] = []
        self._thread: threading.Thread | None = None
        if background:
            self._thread = threading.Thread(target=self._background, name=f"audit-{directory.name}", daemon=True)
            self._thread.start()
        _open_logs.add(self)

    # -- opening -------------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path | str,
        keys: AuditKeys,
        *,
        region: str | None = None,
        create: bool = True,
        policy: CommitPolicy | None = None,
        background: bool = True,
    ) -> Self:
        """Open (and with `create`, first create) the log in `directory` as the sink for `region`.

        `region` None is the sink for records that concern no region. Opening an existing log as the
        sink for a region other than the one it was created for is refused.
        """
        directory = Path(directory)
        if region is not None and not fmt.valid_region(region):
            raise AuditUsageError(f"region {region!r} is not a valid name (lowercase letters, digits, '-', '_')")
        log_path = directory / fmt.LOG_FILENAME
        if not log_path.exists():
            if not create:
                raise LogNotFound(f"{directory}: not an audit log (no {fmt.LOG_FILENAME})")
            create_log(directory, keys, region=region)
        with log_path.open("rb") as handle:
            header = parse_header(handle.read(_HEADER_READ), file=str(log_path))
        if header.region != region:
            raise ResidencyRefused(
                f"{directory} is the audit sink for {_region_name(header.region)}, "
                f"not for {_region_name(region)}"
            )
        data_keys = _read_data_keys(directory, header, keys)
        log = cls(directory, keys, header, data_keys, policy or CommitPolicy(), background)
        try:
            with log._mu:
                log._acquire()
                log._release_if_idle()
        except BaseException:
            with log._mu:
                log._shutdown()
            raise
        return log

    # -- the API other domains call ------------------------------------------------------------

    def append(
        self,
        *,
        kind: str,
        actor: str,
        region: str | None = None,
        incident: str | None = None,
        payload: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> int:
        """Add one record; return its sequence number. Durable on return in "record" mode, else after flush."""
        _check_text("kind", kind, required=True)
        _check_text("actor", actor, required=True)
        _check_text("incident", incident, required=False)
        if region != self.region:
            raise ResidencyRefused(
                f"a record for {_region_name(region)} cannot go to {self.directory}, "
                f"the audit sink for {_region_name(self.region)}"
            )
        if meta is not None and not isinstance(meta, dict):
            raise AuditUsageError("meta must be a JSON object (a dict)")
        try:
            body = fmt.canonical_json(payload) if payload is not None else b""
        except (TypeError, ValueError) as exc:
            raise AuditUsageError(f"payload is not JSON-serialisable: {exc}") from None
        try:
            meta_bytes = fmt.event_metadata(
                kind=kind, actor=actor, payload_bytes=len(body), region=region, incident=incident, meta=meta
            )
        except (TypeError, ValueError) as exc:
            raise AuditUsageError(f"meta is not JSON-serialisable: {exc}") from None
        if len(body) > fmt.MAX_PAYLOAD_BYTES:
            raise RecordTooLarge(f"payload has {len(body)} bytes; the limit is {fmt.MAX_PAYLOAD_BYTES}")
        if len(meta_bytes) > fmt.MAX_META_BYTES:
            raise RecordTooLarge(f"clear metadata has {len(meta_bytes)} bytes; the limit is {fmt.MAX_META_BYTES}")
        with self._mu:
            return self._add(fmt.RecordType.EVENT, meta_bytes, body)

    def flush(self) -> None:
        """Write and fsync the pending batch, then write a checkpoint if one is due."""
        with self._mu:
            self._raise_pending_error()
            self._flush_locked()

    def checkpoint(self) -> None:
        """Flush, then sign a checkpoint over everything in the log now (if it grew)."""
        with self._mu:
            self._raise_pending_error()
            self._acquire()
            try:
                self._flush_batch()
                self._write_checkpoint()
            finally:
                self._release_if_idle()

    def close(self) -> None:
        """Flush, sign a final checkpoint (clean shutdown) and release everything."""
        if os.getpid() != self._pid:
            self._abandon()
            return
        with self._mu:
            if self._closed:
                return
            try:
                self._raise_pending_error()
                if self._state.seq or self._batch:
                    self.checkpoint()
            finally:
                self._shutdown()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def size(self) -> int:
        """Records in the log as far as this writer knows (including its unflushed batch)."""
        return self._state.seq

    @property
    def signing_key(self) -> bytes:
        """The public key that signs this log's checkpoints now (after any rotation)."""
        return self._state.signing_key

    def rotate_data_key(self, wrapper: KeyWrapper) -> int:
        """Start a new data key for the epochs from now on; store all data keys wrapped under `wrapper`.

        Under the writers' lock: the new key's first epoch is the next one to be allocated, and this writer
        starts it at once (its EPOCH record is the first under the new key), so every record after the
        rotation is encrypted under a key that the old key-encryption key never wrapped. Returns that epoch.
        """
        with self._mu:
            self._raise_pending_error()
            self._acquire()
            try:
                self._flush_batch()
                if self._state.max_epoch < self._data_keys.latest[0]:
                    # No epoch used the newest key yet (a log never written to): use one, or the new key
                    # would start at the same epoch as the old.
                    self._start_epoch()
                first_epoch = self._state.max_epoch + 1
                rotated = self._data_keys.with_new_key(first_epoch, new_data_key())
                path = self.directory / fmt.DATAKEY_FILENAME
                atomic_write(path, encode_data_keys(self.log_id, wrapper, rotated))
                self._data_keys, self._datakey_stamp = rotated, _datakey_stamp(path.stat())
                self._start_epoch()
                self._flush_batch()
                return first_epoch
            finally:
                self._release_if_idle()

    def rotate_signing_key(self, new_signer: CheckpointSigner) -> int:
        """Hand checkpoint signing to `new_signer`, endorsed by the current key in a KEY_ROTATION record."""
        with self._mu:
            self._raise_pending_error()
            self._acquire()
            try:
                self._flush_batch()
                self._check_signer()
                self._ensure_epoch()
                seq = self._state.seq
                endorsement = self._signer.sign(
                    fmt.rotation_signed_message(self.log_id, seq, new_signer.public_key)
                )
                meta = fmt.canonical_json(
                    {
                        "new_signing_key": base64.b64encode(new_signer.public_key).decode("ascii"),
                        "endorsement": base64.b64encode(endorsement).decode("ascii"),
                    }
                )
                self._add(fmt.RecordType.KEY_ROTATION, meta, b"")
                # The checkpoint that covers the rotation record is the new key's to sign.
                self._signer = new_signer
                self._state.signing_key = new_signer.public_key
                self._flush_batch()
                self._write_checkpoint()
            finally:
                self._release_if_idle()
            return seq

    def take_discarded(self) -> int | None:
        """After `append` or `flush` raised: the sequence number from which records this writer had
        already acknowledged (appended, not on disk yet) were dropped with the failed write, or None if
        none were (e.g. only a checkpoint failed). Reported once: the next call says None until another
        write fails. A caller that keeps the numbers `append` returned knows exactly which records are lost."""
        with self._mu:
            seq, self._discarded_from = self._discarded_from, None
            return seq

    # -- internals -----------------------------------------------------------------------------

    def _raise_pending_error(self) -> None:
        if self._closed:
            raise AuditUsageError(f"{self.directory}: the audit log is closed")
        self._settle_io()
        if self._error is not None:
            error, self._error = self._error, None
            raise error

    def _add(self, record_type: fmt.RecordType, meta: bytes, body: bytes) -> int:
        if os.getpid() != self._pid:
            # A forked child shares the parent's lock and file offsets: it must open its own log.
            raise AuditUsageError(
                f"{self.directory}: this audit log was opened by process {self._pid}",
                hint="open the audit log after forking (one AuditLog per process)",
            )
        self._raise_pending_error()
        self._acquire()
        self._ensure_epoch()
        seq = self._encode(record_type, meta, body)
        if self.policy.mode == "record" or self._batch_bytes >= MAX_BATCH_BYTES:
            self._flush_locked()
        return seq

    def _ensure_epoch(self) -> None:
        if self._epoch is None or self._counter >= fmt.MAX_RECORDS_PER_EPOCH:
            self._start_epoch()

    def _start_epoch(self) -> None:
        # Also here: a rotation that died before its EPOCH record reached the log left only datakey.json,
        # and the epoch allocated next is the new data key's.
        self._follow_data_key_rotation()
        state = self._state
        if state.max_epoch >= fmt.MAX_EPOCH:
            raise LogBusy(f"{self.directory}: all epochs are used; start a new log")
        self._epoch = state.max_epoch + 1
        state.max_epoch = self._epoch
        self._counter = 0
        self._cipher = AESGCM(epoch_key(self._data_keys.for_epoch(self._epoch), self.log_id, self._epoch))
        writer = _writer_identity()
        meta = fmt.canonical_json(
            {
                "writer": writer,
                "commit": self.policy.mode,
                "heartbeat_s": self.policy.heartbeat_seconds,
                "checkpoint_every_records": self.policy.checkpoint_every_records,
                "checkpoint_every_s": self.policy.checkpoint_every_seconds,
                "checkpoints": state.checkpoints,
            }
        )
        self._encode(fmt.RecordType.EPOCH, meta, b"")

    def _encode(self, record_type: fmt.RecordType, meta: bytes, body: bytes) -> int:
        state = self._state
        cipher, epoch = self._cipher, self._epoch
        if cipher is None or epoch is None:
            raise RuntimeError("internal: a record was encoded before its epoch started")
        if self._batch_snapshot is None:
            # The first record of a batch: its age decides when the background thread commits it.
            self._batch_snapshot = state.snapshot()
            if self.policy.mode == "group":  # in record mode the caller writes it before returning
                self._batch_deadline = time.monotonic() + self.policy.group_commit_ms / 1000
                self._wake.notify()
        seq = state.seq
        counter = self._counter
        ct_len = len(body) + fmt.TAG_SIZE
        # fmt.encode_record_head, inlined (it is on every append's path).
        head = _pack_record(
            fmt.RECORD_OVERHEAD + len(meta) + ct_len, record_type, fmt.RESERVED3, seq, _now_us(), epoch, counter,
            state.prev, len(meta), ct_len,
        ) + meta
        ciphertext = cipher.encrypt(fmt.nonce_for(counter), body, self._ad_prefix + head)
        # fmt.finish_record, without copying the record: the batch keeps its parts until the write.
        hasher = _LEAF_HASHER.copy()
        hasher.update(head)
        hasher.update(ciphertext)
        digest = hasher.digest()
        self._counter = counter + 1
        self._batch += (head, ciphertext, digest)
        self._batch_bytes += len(head) + len(ciphertext) + fmt.HASH_SIZE
        state.frontier.append(digest)
        state.prev = digest
        state.seq = seq + 1
        return seq

    def _acquire(self) -> None:
        if not self._lock.held:
            self._lock.acquire()
            try:
                self._resync()
            except BaseException:
                self._lock.release()
                raise

    def _release_if_idle(self) -> None:
        if not self._batch and self._next_ticket == self._now_serving:
            self._lock.release()

    def _checkpoint_due(self) -> bool:
        state = self._state
        if state.seq <= self._checkpoint_claimed:
            return False
        return (
            state.seq - self._checkpoint_claimed >= self.policy.checkpoint_every_records
            or time.monotonic() - self._last_checkpoint >= self.policy.checkpoint_every_seconds
        )

    def _take_batch(self) -> _Job | None:
        """Claim the log bytes of the pending batch and hand it over for writing (under `_mu`)."""
        if not self._batch:
            return None
        state = self._state
        data = b"".join(self._batch)
        stack = None
        if self._checkpoint_due():
            stack = list(state.frontier.stack)
            self._checkpoint_claimed = state.seq
        job = _Job(
            data=data,
            offset=state.offset,
            snapshot=self._batch_snapshot,
            tree_size=state.seq,
            stack=stack,
            ticket=self._next_ticket,
            generation=self._generation,
        )
        self._next_ticket += 1
        state.offset += len(data)
        self._batch.clear()
        self._batch_bytes = 0
        self._batch_snapshot = None
        return job

    def _run_job(self, job: _Job) -> None:
        """Write and fsync one batch in ticket order, then sign its checkpoint if one is due."""
        with self._io:
            while job.ticket != self._now_serving:
                self._io.wait()
            try:
                if self._io_failure is not None or job.generation != self._generation:
                    return  # an earlier batch failed: this one was built on it and is dropped
                try:
                    _pwrite_all(self._log_fd, job.data, job.offset)
                    _datasync(self._log_fd)
                except OSError as exc:
                    # Cut the partial batch; its epoch is never reused (its nonces may have reached the disk).
                    with contextlib.suppress(OSError):
                        os.ftruncate(self._log_fd, job.offset)
                        os.fsync(self._log_fd)
                    error = AuditIOError(f"{self.directory}: records could not be written: {exc.strerror}")
                    error.__cause__ = exc  # the OS error itself, for callers that report it without the path
                    self._io_failure = (error, job.snapshot)
                    return
                self._last_write = time.monotonic()
                if job.stack is not None:
                    frontier = Frontier()
                    frontier.size, frontier.stack = job.tree_size, job.stack
                    try:
                        self._sign_checkpoint(job.tree_size, job.offset + len(job.data), frontier.root())
                    except (LeaklineError, OSError) as exc:  # the records are durable; report the checkpoint
                        self._checkpoint_error = exc
            finally:
                self._now_serving += 1
                self._io.notify_all()

    def _settle_io(self) -> None:
        """Under `_mu`: after a failed write, forget everything built on it and report the error once."""
        if self._checkpoint_error is not None:
            self._error, self._checkpoint_error = self._checkpoint_error, None
        if self._io_failure is None:
            return
        error, snapshot = self._io_failure
        if snapshot is not None:
            self._note_discarded(snapshot[1])
            self._state.restore(snapshot)
            self._epoch = None
            self._batch.clear()
            self._batch_bytes = 0
            self._batch_snapshot = None
            self._checkpoint_claimed = min(self._checkpoint_claimed, self._state.seq)
            self._generation += 1
        self._io_failure = None
        self._error = error

    def _note_discarded(self, seq: int) -> None:
        """Under `_mu`: records from `seq` on were dropped (see `take_discarded`)."""
        if self._discarded_from is None or seq < self._discarded_from:
            self._discarded_from = seq

    def _wait_for_writes(self) -> None:
        """Under `_mu`: block until every batch taken so far is on disk."""
        with self._io:
            while self._now_serving != self._next_ticket:
                self._io.wait()

    def _flush_locked(self) -> None:
        """Under `_mu`: write the pending batch now (and its checkpoint if due); raise any write error."""
        if not self._lock.held:
            return
        try:
            self._flush_batch()
        finally:
            self._release_if_idle()

    def _flush_batch(self) -> None:
        job = self._take_batch()
        if job is not None:
            self._run_job(job)
        self._wait_for_writes()
        self._settle_io()
        self._raise_pending_error()

    def _write_checkpoint(self) -> None:
        """Under `_mu`, after `_flush_batch`: sign a checkpoint over everything written so far."""
        state = self._state
        with self._io:
            self._sign_checkpoint(state.seq, state.offset, state.frontier.root())
        self._checkpoint_claimed = max(self._checkpoint_claimed, state.seq)

    def _sign_checkpoint(self, tree_size: int, log_bytes: int, root: bytes) -> None:
        """Under the I/O lock: append checkpoint number `state.checkpoints` covering `tree_size` records."""
        state = self._state
        if tree_size == 0 or tree_size <= state.checkpoint_size:
            return
        self._check_signer()
        body = fmt.checkpoint_body(
            log_id=self.log_id,
            number=state.checkpoints,
            tree_size=tree_size,
            log_bytes=log_bytes,
            time_us=_now_us(),
            root=root,
            header_hash=self._header.hash,
            prev_hash=state.checkpoint_hash,
            public_key=self._signer.public_key,
        )
        raw = body + self._signer.sign(fmt.checkpoint_signed_message(body))
        _pwrite_all(self._cp_fd, raw, state.checkpoints * fmt.CHECKPOINT_SIZE)
        _datasync(self._cp_fd)
        state.checkpoints += 1
        state.checkpoint_hash = _sha256(raw)
        state.checkpoint_size = tree_size
        self._last_checkpoint = time.monotonic()

    def _follow_data_key_rotation(self) -> None:
        """Under the lock, before this writer adds anything: has another process rotated the data key?

        A stat, when other writers appended and when an epoch starts. A writer that can unwrap the new data
        keys (its KEK is the new one) starts its next epoch under the newest key; one that cannot must not
        write another record under the old data key, which the old key-encryption key still opens.
        """
        try:
            stamp = _datakey_stamp(os.stat(self._datakey_path))  # noqa: PTH116 (a str path: no Path per call)
        except OSError:
            return  # reported by the next command that reads the data keys; records are still authenticated
        if stamp == self._datakey_stamp:
            return
        try:
            data_keys, stamp = _read_data_keys(self.directory, self._header, self._keys)
        except KeyMismatch:
            raise LogBusy(
                f"{self.directory}: the data key was rotated to another key-encryption key; this writer holds "
                f"{self._keys.unwrapper.key_id}",
                hint="the key was rotated: restart this writer with the new key file",
            ) from None
        if data_keys.latest != self._data_keys.latest:
            self._epoch = None  # the next record starts an epoch under the newest data key
        self._data_keys, self._datakey_stamp = data_keys, stamp

    def _check_signer(self) -> None:
        if self._signer.public_key != self._state.signing_key:
            raise LogBusy(
                f"{self.directory}: checkpoints are now signed by {public_key_fingerprint(self._state.signing_key)}; "
                f"this writer holds {public_key_fingerprint(self._signer.public_key)}",
                hint="the signing key was rotated: restart this writer with the new key file",
            )

    def _resync(self) -> None:
        """Catch up with records and checkpoints other writers added; cut a torn tail."""
        state = self._state
        size = os.fstat(self._log_fd).st_size
        if size < state.offset:
            raise AuditIntegrityError(
                f"the log shrank from {state.offset} to {size} bytes while open", file=str(self.directory)
            )
        if size > state.offset:
            # Another writer appended; a rotation always does (its EPOCH record), so this is when to look.
            self._follow_data_key_rotation()
        while state.offset < size:
            remaining = size - state.offset
            data = os.pread(self._log_fd, min(remaining, _RESYNC_CHUNK), state.offset)
            if self._absorb(data):
                continue
            # Nothing complete at the start of the chunk: a record longer than the chunk, or a torn tail.
            length = fmt.RECORD_FIXED.unpack_from(data, 0)[0] if len(data) >= fmt.RECORD_FIXED.size else 0
            fits = len(data) < remaining and fmt.RECORD_OVERHEAD <= length <= remaining
            if fits and self._absorb(os.pread(self._log_fd, length, state.offset)):
                continue
            self._cut_torn_tail(size)
            break
        cp_size = os.fstat(self._cp_fd).st_size
        count, torn = divmod(cp_size, fmt.CHECKPOINT_SIZE)
        if torn:
            self._quarantine(self._cp_fd, count * fmt.CHECKPOINT_SIZE, cp_size, "checkpoint")
        if count != state.checkpoints:
            last = os.pread(self._cp_fd, fmt.CHECKPOINT_SIZE, (count - 1) * fmt.CHECKPOINT_SIZE)
            fields = fmt.CHECKPOINT_BODY.unpack_from(last, 0)
            state.checkpoints = count
            state.checkpoint_hash = _sha256(last)
            state.checkpoint_size = fields[5]
            self._checkpoint_claimed = max(self._checkpoint_claimed, state.checkpoint_size)

    def _absorb(self, data: bytes) -> int:
        """Take in the complete records at the start of `data` (bytes at `state.offset`); return their size."""
        state = self._state
        view = memoryview(data)
        pos = 0
        end = len(data)
        log_file = str(self.directory / fmt.LOG_FILENAME)
        while end - pos >= fmt.RECORD_OVERHEAD:
            (length, rtype, _r, seq, _t, epoch, _c, link, meta_len, ct_len) = fmt.RECORD_FIXED.unpack_from(view, pos)
            if length == 0:
                break  # possibly zero-filled blocks of a write that never completed: see _cut_torn_tail
            if length != fmt.record_length(meta_len, ct_len) or length > fmt.MAX_RECORD_BYTES:
                raise AuditIntegrityError(
                    "a record in the log is damaged; run `leakline audit verify` before writing more",
                    seq=state.seq, offset=state.offset + pos, file=log_file,
                )
            if pos + length > end:
                break
            if seq != state.seq or link != state.prev:
                raise AuditIntegrityError(
                    "the log does not continue where this writer expects; run `leakline audit verify`",
                    seq=state.seq, offset=state.offset + pos, file=log_file,
                )
            digest = bytes(view[pos + length - fmt.HASH_SIZE : pos + length])
            state.frontier.append(digest)
            state.prev = digest
            state.seq += 1
            state.max_epoch = max(state.max_epoch, epoch)
            if rtype == fmt.RecordType.KEY_ROTATION:
                start = pos + fmt.RECORD_FIXED.size
                try:
                    meta = json.loads(bytes(view[start : start + meta_len]))
                    state.signing_key = base64.b64decode(meta["new_signing_key"], validate=True)
                except (ValueError, KeyError, TypeError):
                    raise AuditIntegrityError(
                        "a signing key rotation record is damaged; run `leakline audit verify`",
                        seq=state.seq - 1, offset=state.offset + pos, file=log_file,
                    ) from None
            pos += length
        view.release()
        state.offset += pos
        return pos

    def _cut_torn_tail(self, size: int) -> None:
        """The bytes from `state.offset` to `size` are not a complete record: a write cut short."""
        state = self._state
        head = os.pread(self._log_fd, fmt.RECORD_FIXED.size, state.offset)
        if len(head) >= 4 and not any(head[:4]):
            # A zero length field: only zero-filled blocks may follow, anything else is damage.
            pos = state.offset
            while pos < size:
                chunk = os.pread(self._log_fd, min(size - pos, _RESYNC_CHUNK), pos)
                if any(chunk):
                    raise AuditIntegrityError(
                        "a record in the log is damaged; run `leakline audit verify` before writing more",
                        seq=state.seq, offset=state.offset, file=str(self.directory / fmt.LOG_FILENAME),
                    )
                pos += len(chunk)
        elif len(head) >= _EPOCH_FIELD_END:
            # The torn record's epoch may have put ciphertext on disk: never use it again.
            state.max_epoch = max(state.max_epoch, int.from_bytes(head[_EPOCH_FIELD_END - 4 : _EPOCH_FIELD_END]))
        self._quarantine(self._log_fd, state.offset, size, "record")

    def _quarantine(self, fd: int, start: int, stop: int, what: str) -> None:
        """Move bytes [start, stop) of a file aside to torn-<...>.bin, then cut them from the file."""
        data = os.pread(fd, stop - start, start)
        name = f"{fmt.TORN_PREFIX}{what}-{start}-{_now_us()}.bin"
        path = self.directory / name
        fd_out = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        try:
            _write_all(fd_out, data)
            os.fsync(fd_out)
        finally:
            os.close(fd_out)
        _fsync_dir(self.directory)
        os.ftruncate(fd, start)
        os.fsync(fd)
        self.torn_recovered.append(path)

    def _background(self) -> None:
        """Commit batches when due (writing outside `_mu`), sign time-based checkpoints, write heartbeats."""
        policy = self.policy
        while True:
            job = None
            with self._mu:
                if self._closed:
                    return
                now = time.monotonic()
                deadlines = [self._last_write + policy.heartbeat_seconds]
                if self._batch:
                    deadlines.append(self._batch_deadline)
                if self._state.seq > self._checkpoint_claimed:
                    deadlines.append(self._last_checkpoint + policy.checkpoint_every_seconds)
                timeout = min(deadlines) - now
                if timeout > 0 or self._error is not None:
                    self._wake.wait(timeout if timeout > 0 else policy.group_commit_ms / 1000)
                    continue
                try:
                    if now >= self._last_write + policy.heartbeat_seconds and not self._batch:
                        self._acquire()  # the count below must include other writers' checkpoints
                        beat = fmt.canonical_json({"checkpoints": self._state.checkpoints})
                        self._add(fmt.RecordType.HEARTBEAT, beat, b"")
                    if self._batch and now >= self._batch_deadline:
                        job = self._take_batch()
                    elif now >= self._last_checkpoint + policy.checkpoint_every_seconds:
                        self._acquire()
                        try:
                            self._flush_batch()
                            self._write_checkpoint()
                        finally:
                            self._release_if_idle()
                        self._last_checkpoint = time.monotonic()
                except BaseException as exc:  # reported to the next caller of append/flush/close
                    self._error = exc
                    if self._batch and self._batch_snapshot is not None:
                        # Forget the unwritten batch entirely, and its epoch with it.
                        self._note_discarded(self._batch_snapshot[1])
                        self._state.restore(self._batch_snapshot)
                        self._epoch = None
                    self._batch.clear()
                    self._batch_bytes = 0
                    self._batch_snapshot = None
                    self._release_if_idle()
            if job is not None:
                self._run_job(job)
                with self._mu:
                    self._settle_io()
                    if not self._closed:
                        self._release_if_idle()

    def _abandon(self) -> None:
        """In a forked child: let go of the inherited descriptors without writing or unlocking anything.

        The lock and the files are shared with the parent's open file descriptions; unlocking or writing
        here would act on the parent's log.
        """
        self._closed = True
        for fd in (self._log_fd, self._cp_fd, self._lock.fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        _open_logs.discard(self)

    def _shutdown(self) -> None:
        self._wait_for_writes()  # a batch taken by the background thread must not outlive its file
        self._closed = True
        self._wake.notify_all()
        self._lock.close()
        for fd in (self._log_fd, self._cp_fd):
            with contextlib.suppress(OSError):
                os.close(fd)
        _open_logs.discard(self)


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def _region_name(region: str | None) -> str:
    return f"region {region!r}" if region is not None else "records without a region"
