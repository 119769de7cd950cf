"""The gateway's durable signal outbox: signals not delivered yet, kept on local disk across restarts.

A signal the sink cannot take (the central leakline unreachable, the incident engine's database down)
is written here, and fsynced, before the event thread reports it as kept; the event thread replays the
outbox oldest first when the worker starts and every `RETRY_EVERY_SECONDS` after, and deletes an entry
only once the sink accepted it (a 2xx from the central leakline). The receiver records a signal once by
its id (`leakline.incidents.service.ingest_signal`), so an entry sent again after a crash between the
POST and the delete is harmless.

One SQLite file (stdlib `sqlite3`, WAL, `synchronous=FULL`) rather than an append-only JSONL file:
the workers of `leakline serve --workers N` share it through SQLite's own locking (`BEGIN IMMEDIATE`
for every write), an entry is deleted in place instead of by rewriting a file, and a worker claims a
batch with a lease (`claimed_until`), so two workers do not post the same entries at once and a batch
claimed by a worker that died is taken over when its lease runs out. Each row carries the SHA-256 of
its body, checked before it is sent: SQLite checks its own structure, not the bytes of a row.

Bounded by `[gateway] signal_outbox_max_entries` and `signal_outbox_max_bytes`: when full, the oldest
entries (the evidence of how a leak began) are kept and the new signal is refused; the caller counts
and logs it. A damaged outbox never stops the gateway: a row whose checksum or content is wrong is
moved to `signal_outbox_rejected` with a warning naming the file and the row; a file that is not a
database, or whose pages are damaged, is renamed to `<file>.damaged-<UTC time>` (kept for the
operator), every row that can still be read is copied into a new outbox, and the warning names the
file and the rows that could not be read. Warnings name signals by id, never by their text.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from pydantic import ValidationError

from leakline.guard.errors import GatewayConfigError
from leakline.signals import Signal

log = logging.getLogger("leakline.guard")

CLAIM_BATCH = 100
"""Entries one worker claims at a time (sent oldest first, until one fails)."""
CLAIM_LEASE_SECONDS = 120.0
"""How long a claim holds: another worker (or the next start) takes over entries claimed longer ago."""
BUSY_TIMEOUT_SECONDS = 30.0
SALVAGE_PROBE_LIMIT = 1_000_000
"""In a damaged file, row numbers are probed one by one past a damaged page at most this far..."""
SALVAGE_GAP_LIMIT = 10_000
"""...or this far when the highest row number given cannot be read either."""
_CORRUPT = {"SQLITE_CORRUPT", "SQLITE_NOTADB"}

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS signal_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        signal_id TEXT NOT NULL UNIQUE,
        body BLOB NOT NULL,
        sha256 TEXT NOT NULL,
        bytes INTEGER NOT NULL,
        queued_at TEXT NOT NULL,
        claimed_by TEXT,
        claimed_until REAL NOT NULL DEFAULT 0
    )""",
    """CREATE TABLE IF NOT EXISTS signal_outbox_rejected (
        seq INTEGER PRIMARY KEY,
        signal_id TEXT,
        body BLOB,
        sha256 TEXT,
        queued_at TEXT,
        reason TEXT NOT NULL,
        rejected_at TEXT NOT NULL
    )""",
    # Totals kept by triggers: the cap is checked on every write, and counting rows of a few KiB each
    # would read the whole table.
    "CREATE TABLE IF NOT EXISTS signal_outbox_totals (one INTEGER PRIMARY KEY CHECK (one = 1), "
    "entries INTEGER NOT NULL, bytes INTEGER NOT NULL)",
    "INSERT OR IGNORE INTO signal_outbox_totals VALUES (1, 0, 0)",
    """CREATE TRIGGER IF NOT EXISTS signal_outbox_added AFTER INSERT ON signal_outbox BEGIN
        UPDATE signal_outbox_totals SET entries = entries + 1, bytes = bytes + NEW.bytes;
    END""",
    """CREATE TRIGGER IF NOT EXISTS signal_outbox_removed AFTER DELETE ON signal_outbox BEGIN
        UPDATE signal_outbox_totals SET entries = entries - 1, bytes = bytes - OLD.bytes;
    END""",
)


@dataclass(frozen=True)
class Queued:
    """One entry claimed for delivery: its row number and the signal as it was written."""

    seq: int
    signal: Signal


class OutboxWriteError(Exception):
    """The outbox could not be written (disk full, I/O error); the message names the file and the reason."""


def _utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def checksum(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()


def _corrupt(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorname", "") in _CORRUPT


@contextlib.contextmanager
def _opening(path: Path) -> Iterator[None]:
    """Serialises opening (and salvaging) between the workers that start together (a lock file next to
    the outbox); on the way out, makes the directory's entries durable (the file and its WAL, new or
    renamed, survive a power loss)."""
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
        directory = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)
    finally:
        os.close(fd)  # closing releases the lock


class SignalOutbox:
    """The outbox file of one host, shared by its workers (each worker opens its own connection)."""

    def __init__(self, path: Path, *, max_entries: int, max_bytes: int, source: str = "leakline.toml") -> None:
        self.path = path
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._source = source
        self._conn: sqlite3.Connection | None = None
        self._mu = threading.Lock()
        # Several processes share the file: a claim names its process (and this object, for tests that
        # open two outboxes in one process).
        self._claimer = f"{os.getpid()}:{id(self):x}"

    # -- opening, checking, salvaging --

    def open(self) -> None:
        """Open (create) the outbox; a damaged file is salvaged with a warning, never refused. A file that
        cannot be opened at all (no such directory, no permission) is a `GatewayConfigError` naming
        `gateway.signal_outbox`."""
        if self._conn is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with _opening(self.path):
                try:
                    self._conn = self._connect_checked()
                except sqlite3.DatabaseError as exc:
                    if not (_corrupt(exc) or isinstance(exc, _Damaged)):
                        raise
                    self._salvage(exc)
                    self._conn = self._connect_checked()
        except (sqlite3.Error, OSError) as exc:
            self._conn = None
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            raise GatewayConfigError(
                f"{self._source}: gateway.signal_outbox: cannot open the signal outbox {self.path} ({reason})"
            ) from exc

    def _connect(self) -> sqlite3.Connection:
        # The event thread uses the connection after the worker's start-up opened it, never both at once.
        conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            # FULL: a commit is on disk (WAL fsynced) before the event thread says the signal is kept.
            conn.execute("PRAGMA synchronous=FULL")
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _connect_checked(self) -> sqlite3.Connection:
        conn = self._connect()
        try:
            problems = [row[0] for row in conn.execute("PRAGMA quick_check(5)")]
            if problems != ["ok"]:
                raise _Damaged("; ".join(str(p) for p in problems))
            with _transaction(conn):
                for statement in _SCHEMA:
                    conn.execute(statement)
        except sqlite3.Error:
            conn.close()
            raise
        return conn

    def _salvage(self, cause: sqlite3.DatabaseError) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        damaged = self.path.with_name(f"{self.path.name}.damaged-{stamp}")
        for suffix in ("", "-wal", "-shm"):
            source = Path(f"{self.path}{suffix}")
            if source.exists():
                source.replace(Path(f"{damaged}{suffix}"))
        recovered, unreadable, stopped = _read_damaged(damaged)
        conn = self._connect()
        try:
            with _transaction(conn):
                for statement in _SCHEMA:
                    conn.execute(statement)
                for row in recovered:
                    conn.execute(
                        "INSERT OR IGNORE INTO signal_outbox (seq, signal_id, body, sha256, bytes, queued_at) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                        row,
                    )
        finally:
            conn.close()
        not_sqlite = getattr(cause, "sqlite_errorname", "") == "SQLITE_NOTADB"
        what = "is not an SQLite database" if not_sqlite else "is damaged"
        lost = ""
        if unreadable:
            lost = f"; row(s) {_ranges(unreadable)} could not be read"
        if stopped:
            lost += f"; {stopped}"
        log.warning(
            "signal outbox %s %s (%s): moved to %s; %d signal(s) recovered from it into a new outbox%s",
            self.path,
            what,
            cause,
            damaged.name,
            len(recovered),
            lost,
        )

    # -- writing --

    def put(self, signal: Signal) -> bool:
        """Write `signal` (fsynced) unless the outbox is full: True when it is kept (or already was)."""
        body = signal.model_dump_json().encode("utf-8")
        conn = self._connection()
        try:
            with self._mu, _transaction(conn):
                if conn.execute("SELECT 1 FROM signal_outbox WHERE signal_id = ?", (signal.id,)).fetchone():
                    return True
                entries, size = self._totals(conn)
                if entries + 1 > self.max_entries or size + len(body) > self.max_bytes:
                    return False
                conn.execute(
                    "INSERT INTO signal_outbox (signal_id, body, sha256, bytes, queued_at) VALUES (?, ?, ?, ?, ?)",
                    (signal.id, body, checksum(body), len(body), _utc_now()),
                )
        except sqlite3.Error as exc:
            raise OutboxWriteError(f"{self.path}: {exc}") from exc
        return True

    def claim(self, *, now: float | None = None, limit: int = CLAIM_BATCH) -> list[Queued]:
        """The oldest entries no other worker holds, claimed for `CLAIM_LEASE_SECONDS`. Entries whose
        checksum or content is wrong are moved to `signal_outbox_rejected` (one warning each)."""
        now = time.time() if now is None else now
        conn = self._connection()
        claimed: list[Queued] = []
        with self._mu, _transaction(conn):
            rows = conn.execute(
                "SELECT seq, signal_id, body, sha256 FROM signal_outbox WHERE claimed_until < ? ORDER BY seq LIMIT ?",
                (now, limit),
            ).fetchall()
            for seq, signal_id, body, digest in rows:
                signal, reason = _decode(bytes(body), str(digest))
                if signal is None:
                    self._reject(conn, int(seq), str(signal_id), reason)
                    continue
                claimed.append(Queued(int(seq), signal))
            conn.executemany(
                "UPDATE signal_outbox SET claimed_by = ?, claimed_until = ? WHERE seq = ?",
                [(self._claimer, now + CLAIM_LEASE_SECONDS, item.seq) for item in claimed],
            )
        return claimed

    def settle(self, delivered: list[int], released: list[int]) -> None:
        """Delete the entries the sink took; give the others back at once (not after the lease)."""
        if not delivered and not released:
            return
        conn = self._connection()
        with self._mu, _transaction(conn):
            conn.executemany("DELETE FROM signal_outbox WHERE seq = ?", [(seq,) for seq in delivered])
            conn.executemany(
                "UPDATE signal_outbox SET claimed_by = NULL, claimed_until = 0 WHERE seq = ? AND claimed_by = ?",
                [(seq, self._claimer) for seq in released],
            )

    def reject(self, seq: int, reason: str) -> None:
        """Set one claimed entry aside (`signal_outbox_rejected`) with a warning: it will not be sent again."""
        conn = self._connection()
        with self._mu, _transaction(conn):
            row = conn.execute("SELECT signal_id FROM signal_outbox WHERE seq = ?", (seq,)).fetchone()
            if row is not None:
                self._reject(conn, seq, str(row[0]), reason)

    def _reject(self, conn: sqlite3.Connection, seq: int, signal_id: str, reason: str) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO signal_outbox_rejected (seq, signal_id, body, sha256, queued_at, reason, "
            "rejected_at) SELECT seq, signal_id, body, sha256, queued_at, ?, ? FROM signal_outbox WHERE seq = ?",
            (reason, _utc_now(), seq),
        )
        conn.execute("DELETE FROM signal_outbox WHERE seq = ?", (seq,))
        log.warning(
            "signal outbox %s: row %d (signal %s) skipped: %s; kept in its table signal_outbox_rejected, not sent",
            self.path,
            seq,
            signal_id[:128],
            reason,
        )

    # -- reading --

    def depth(self) -> tuple[int, int]:
        """(entries, bytes) waiting, whichever worker wrote them."""
        return self._totals(self._connection())

    def rejected(self) -> list[tuple[int, str, str]]:
        """(row, signal id, reason) of the entries set aside as damaged."""
        rows = (
            self._connection()
            .execute("SELECT seq, signal_id, reason FROM signal_outbox_rejected ORDER BY seq")
            .fetchall()
        )
        return [(int(seq), str(signal_id), str(reason)) for seq, signal_id, reason in rows]

    @staticmethod
    def _totals(conn: sqlite3.Connection) -> tuple[int, int]:
        entries, size = conn.execute("SELECT entries, bytes FROM signal_outbox_totals").fetchone()
        return int(entries), int(size)

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None:
            self.open()
        assert self._conn is not None
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class _Damaged(sqlite3.DatabaseError):
    """`PRAGMA quick_check` found problems in a file SQLite could open."""


@contextlib.contextmanager
def _transaction(conn: sqlite3.Connection) -> Iterator[None]:
    # IMMEDIATE: the write lock is taken at the start, so two workers never both decide on stale totals.
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _decode(body: bytes, digest: str) -> tuple[Signal | None, str]:
    if checksum(body) != digest:
        return None, "its checksum does not match its content (the entry is damaged)"
    try:
        return Signal.model_validate_json(body), ""
    except ValidationError as exc:
        # The fields at fault, never their values.
        fields = sorted({".".join(str(p) for p in error["loc"]) or "(the entry)" for error in exc.errors()})
        return None, f"not a signal this version can read ({', '.join(fields)[:200]})"


Row = tuple[int, str, bytes, str, int, str]
_SALVAGE_NEXT = (
    "SELECT seq, signal_id, body, sha256, bytes, queued_at FROM signal_outbox WHERE seq > ? ORDER BY seq LIMIT 1"
)
_SALVAGE_ROW = "SELECT seq, signal_id, body, sha256, bytes, queued_at FROM signal_outbox WHERE seq = ?"


def _read_damaged(path: Path) -> tuple[list[Row], list[int], str]:
    """What can still be read from a damaged outbox: its rows (each checked when claimed), the row numbers
    that could not be read (the lost entries are among them; others may have been deleted before), and
    why reading stopped early ('' when it did not)."""
    rows: list[Row] = []
    unreadable: list[int] = []
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, isolation_level=None)
    except sqlite3.Error as exc:
        return rows, unreadable, f"it cannot be opened ({exc})"
    try:
        # Past a truncation the header's page count exceeds the file: SQLite refuses the whole file
        # unless the schema is writable (nothing is written: the connection is read-only).
        conn.execute("PRAGMA writable_schema=ON")
        try:
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        except sqlite3.Error as exc:
            return rows, unreadable, f"it cannot be read ({exc})"
        try:
            (high,) = conn.execute(
                "SELECT coalesce(max(seq), 0) FROM sqlite_sequence WHERE name = 'signal_outbox'"
            ).fetchone()
        except sqlite3.Error:
            high = None
        known = high is not None
        last, misses = 0, 0
        while misses <= (SALVAGE_PROBE_LIMIT if known else SALVAGE_GAP_LIMIT):
            try:
                row = conn.execute(_SALVAGE_NEXT, (last,)).fetchone()
            except sqlite3.Error:
                # The next row lies on a damaged page: probe the row numbers after it one by one (up to the
                # highest ever given, when the sequence table can still be read).
                last += 1
                if known and last > int(high):
                    break
                try:
                    row = conn.execute(_SALVAGE_ROW, (last,)).fetchone()
                except sqlite3.Error:
                    unreadable.append(last)
                    misses += 1
                    continue
                if row is None:
                    misses += 1
                    continue
            if row is None:
                break
            seq, signal_id, body, digest, _, queued_at = row
            # Damaged pages may hold values of any type: the checksum, checked when claimed, sorts them out.
            data = body if isinstance(body, bytes) else str(body).encode("utf-8")
            rows.append((int(seq), str(signal_id), data, str(digest), len(data), str(queued_at)))
            last, misses = int(seq), 0
        else:
            stopped = f"reading stopped after row {last}"
            return rows, unreadable, stopped
    except sqlite3.Error as exc:
        return rows, unreadable, f"it cannot be read ({exc})"
    finally:
        conn.close()
    return rows, unreadable, ""


def _ranges(numbers: list[int]) -> str:
    parts: list[str] = []
    start = prev = numbers[0]
    for n in numbers[1:]:
        if n == prev + 1:
            prev = n
            continue
        parts.append(f"{start}" if start == prev else f"{start}-{prev}")
        start = prev = n
    parts.append(f"{start}" if start == prev else f"{start}-{prev}")
    return ", ".join(parts)
