"""Engines, sessions and programmatic migrations (see the package docstring for the why)."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

from leakline.store.errors import DatabaseUrlError, MigrationError, StoreError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 30_000
# Any constant works; it only has to be the same in every process that migrates this database.
PG_MIGRATION_LOCK_ID = 0x1EA4_11E5
SUPPORTED_DIALECTS = ("sqlite", "postgresql")


class Base(DeclarativeBase):
    """The declarative base of every leakline table (one metadata, one migration history)."""


@dataclass(frozen=True)
class Store:
    """An engine with its schema migrated, and the session factory bound to it."""

    url: str
    engine: Engine
    sessions: sessionmaker[Session]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: committed when the block ends normally, rolled back on any exception."""
        with self.sessions.begin() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def resolve_url(url: str, *, base: Path | None) -> str:
    """Make a relative SQLite path relative to `base` (the directory of leakline.toml)."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseUrlError(
            f"database.url: not a database URL: {url!r}",
            hint="use sqlite:///path/to/leakline.db or postgresql+psycopg://user@host/dbname",
        ) from None
    if parsed.get_backend_name() not in SUPPORTED_DIALECTS:
        raise DatabaseUrlError(
            f"database.url: unsupported database {parsed.get_backend_name()!r}; expected sqlite or postgresql"
        )
    if parsed.get_backend_name() == "sqlite" and parsed.database and parsed.database != ":memory:":
        path = Path(parsed.database)
        if not path.is_absolute() and base is not None:
            return parsed.set(database=str(base / path)).render_as_string(hide_password=False)
    return url


def sqlite_engine(url: str) -> Engine:
    """A SQLite engine whose transactions begin IMMEDIATE (writers queue instead of failing), in WAL mode."""
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" below issue BEGIN itself (pysqlite's implicit BEGIN is deferred).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        _use_wal(cursor)
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # IMMEDIATE takes the write lock up front, so two workers' claim transactions serialise
        # instead of one failing with "database is locked" when it upgrades a read lock.
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


WAL_ATTEMPTS = 6
"""Tries to switch a new database file to WAL: the switch needs the file to itself, which processes opening it
for the first time together (two gateway replicas on one state file) do not give it at once."""


def _use_wal(cursor: Any) -> None:
    """WAL mode is a property of the file: once set, every later connection finds it and changes nothing."""
    if str(cursor.execute("PRAGMA journal_mode").fetchone()[0]).lower() == "wal":
        return
    for attempt in range(WAL_ATTEMPTS):
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if attempt == WAL_ATTEMPTS - 1:
                raise
            time.sleep(0.05 * 2**attempt)


def _make_engine(url: str) -> Engine:
    try:
        if make_url(url).get_backend_name() == "sqlite":
            return sqlite_engine(url)
        return create_engine(url, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError) as exc:
        raise DatabaseUrlError(f"database.url: cannot open {make_url(url)!r}: {exc}") from None


def migrate(engine: Engine) -> None:
    """Apply every shipped migration not yet applied (idempotent; safe from several processes)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as connection:
            if engine.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_MIGRATION_LOCK_ID})
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
    except OperationalError as exc:
        raise StoreError(f"database: cannot connect or migrate: {exc.orig}") from None
    except SQLAlchemyError as exc:
        raise MigrationError(f"database: migration failed: {exc}") from None


_stores: dict[str, Store] = {}
_stores_lock = threading.Lock()


def open_store(url: str) -> Store:
    """The migrated store for `url`, created once per process."""
    with _stores_lock:
        store = _stores.get(url)
        if store is None:
            engine = _make_engine(url)
            migrate(engine)
            store = Store(url, engine, sessionmaker(engine, expire_on_commit=False))
            _stores[url] = store
        return store


def forget_store(url: str) -> None:
    """Drop the cached store for `url` (tests that delete databases; a worker after fork)."""
    with _stores_lock:
        store = _stores.pop(url, None)
    if store is not None:
        store.dispose()
