"""Each gateway worker's copy of the keys kept in the database: read at start-up, then every
`[gateway] database_keys_refresh_seconds`. Each read is accepted for `database_keys_max_stale_seconds`:
`KeyStore.authenticate` itself refuses the keys once their last read is older (fail closed), so a revoked key
cannot outlive its revocation by more than that, whether the database is down, a read hangs on a lock, or the
refresh task died. The configured keys are never affected."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from leakline.guard.auth import ActiveKeyLike, KeyStore
from leakline.guard.metrics import GatewayMetrics

log = logging.getLogger("leakline.guard")

READ_TIMEOUT_SECONDS = 5
"""A read of the keys gives up after this long (a connection, a lock, a query): the next refresh tries again."""


class Reader(Protocol):
    def __call__(self) -> Sequence[ActiveKeyLike]: ...


class DatabaseReader:
    """Reads the active keys from leakline's database at `url`. The first read opens the store (migrating
    it, as every leakline process does on first use: the database user needs the rights to create the
    table once); later reads use a connection of their own, read-only in effect and bounded in time (SQLite
    waits `READ_TIMEOUT_SECONDS` for a lock instead of the store's 30 s and does not take the write lock;
    PostgreSQL gets a connect and a statement timeout)."""

    def __init__(self, url: str) -> None:
        self._url = url
        self._engine: Any = None

    def __call__(self) -> Sequence[ActiveKeyLike]:
        from sqlalchemy.orm import Session

        from leakline.guard.keys.service import active_keys

        if self._engine is None:
            from sqlalchemy import create_engine
            from sqlalchemy.engine import make_url

            from leakline.store.engine import open_store

            open_store(self._url)
            if make_url(self._url).get_backend_name() == "postgresql":
                args: dict[str, Any] = {
                    "connect_timeout": READ_TIMEOUT_SECONDS,
                    "options": f"-c statement_timeout={READ_TIMEOUT_SECONDS * 1000}",
                }
            else:
                args = {"timeout": READ_TIMEOUT_SECONDS}
            self._engine = create_engine(self._url, connect_args=args, pool_pre_ping=True)
        with Session(self._engine) as session:
            return active_keys(session=session)

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def database_reader(url: str) -> DatabaseReader:
    return DatabaseReader(url)


class DatabaseKeys:
    """Keeps a `KeyStore`'s database keys current (see the module docstring)."""

    def __init__(
        self,
        keys: KeyStore,
        read: Reader,
        *,
        refresh_seconds: float,
        max_stale_seconds: float,
        metrics: GatewayMetrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        log_skipped: bool = True,
    ) -> None:
        self._keys = keys
        self._read = read
        self._refresh = refresh_seconds
        self._max_stale = max_stale_seconds
        self._metrics = metrics
        self._clock = clock
        self._read_at: float | None = None
        """When (`clock`) the keys were last read successfully."""
        self._reported: set[str] = set()
        """Why keys were left out, each logged once per worker (not at every refresh)."""
        self._log_skipped = log_skipped
        self._dropped = False
        self.failures = 0
        """Failed reads in a row."""

    def load(self) -> list[str]:
        """Read the keys now; returns why keys were left out (each is logged once per worker). Raises what the
        read raises (at start-up: the worker does not start without them)."""
        keys = self._read()
        skipped = self._keys.use_database(keys, valid_for=self._max_stale, clock=self._clock)
        for why in skipped if self._log_skipped else ():
            if why not in self._reported:
                self._reported.add(why)
                log.warning("%s", why)
        self._read_at = self._clock()
        if self.failures or self._dropped:
            log.warning("the database keys are read again (%d accepted)", self._keys.database_key_count)
        self.failures = 0
        self._dropped = False
        if self._metrics is not None:
            self._metrics.database_keys.set(self._keys.database_key_count)
        return skipped

    async def refresh(self) -> None:
        """One refresh: read in a thread (the database may be slow); on failure the keys read before stay
        accepted until they are `max_stale_seconds` old (`KeyStore.authenticate` checks that by itself)."""
        try:
            await asyncio.to_thread(self.load)
        except Exception as exc:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        self.failures += 1
        try:
            if self._metrics is not None:
                self._metrics.database_key_reads_failed.inc()
        except Exception:  # a metrics directory that cannot be written must not stop the refresh
            log.debug("database key metrics not updated", exc_info=True)
        # The exception's class only: a driver's message may quote the URL with its password.
        age = self._clock() - self._read_at if self._read_at is not None else float("inf")
        if age > self._max_stale:
            if not self._dropped:
                self._dropped = True
                dropped = self._keys.drop_database()
                if self._metrics is not None:
                    self._metrics.database_keys.set(0)
                log.error(
                    "database keys not read for %.0f s (%s): the %d keys kept in the database are refused until a "
                    "read succeeds (database_keys_max_stale_seconds = %g)",
                    age, type(exc).__name__, dropped, self._max_stale,
                )  # fmt: skip
            elif self.failures & (self.failures - 1) == 0:  # 1, 2, 4, 8, ... failures: not every refresh
                log.error(
                    "reading the database keys failed (%s, %d in a row); none are accepted until a read succeeds",
                    type(exc).__name__, self.failures,
                )  # fmt: skip
        elif self.failures & (self.failures - 1) == 0:
            log.warning(
                "reading the database keys failed (%s, %d in a row); the keys read %.0f s ago stay accepted "
                "until they are %g s old",
                type(exc).__name__, self.failures, age, self._max_stale,
            )  # fmt: skip

    async def run(self) -> None:
        """Refresh every `refresh_seconds` until cancelled."""
        while True:
            await asyncio.sleep(self._refresh)
            await self.refresh()

    def ended(self, task: asyncio.Task[None]) -> None:
        """The refresh task's done-callback: a refresh that ended other than by cancellation is logged (the
        keys it read stop being accepted `max_stale_seconds` after its last read, by `authenticate`)."""
        if task.cancelled():
            return
        exc = task.exception()
        log.error(
            "the refresh of the database keys stopped (%s): they are refused %g s after the last read, until the "
            "worker restarts",
            type(exc).__name__ if exc is not None else "returned", self._max_stale,
        )  # fmt: skip

    def close(self) -> None:
        close = getattr(self._read, "close", None)
        if close is not None:
            close()
