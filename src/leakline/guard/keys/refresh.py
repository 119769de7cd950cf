"""Each gateway worker's copy of the keys kept in the database: read at start-up, then every
`[gateway] database_keys_refresh_seconds`, and dropped (fail closed) after `database_keys_max_stale_seconds`
without a successful read, so that a revoked key cannot outlive its revocation by more than that while the
database is down. The configured keys are never affected."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from leakline.guard.auth import ActiveKeyLike, KeyStore
from leakline.guard.metrics import GatewayMetrics

log = logging.getLogger("leakline.guard")

Reader = Callable[[], Sequence[ActiveKeyLike]]


def database_reader(url: str) -> Reader:
    """Reads the active keys from leakline's database at `url` (migrated on first use, like every store)."""

    def read() -> Sequence[ActiveKeyLike]:
        from leakline.guard.keys.service import active_keys
        from leakline.store.engine import open_store

        with open_store(url).transaction() as session:
            return active_keys(session=session)

    return read


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
        self.failures = 0
        """Failed reads in a row."""

    def load(self) -> list[str]:
        """Read the keys now; returns why keys were left out (each is logged once per worker). Raises what the
        read raises (at start-up: the worker does not start without them)."""
        keys = self._read()
        skipped = self._keys.use_database(keys)
        for why in skipped if self._log_skipped else ():
            if why not in self._reported:
                self._reported.add(why)
                log.warning("%s", why)
        self._read_at = self._clock()
        self.failures = 0
        if self._metrics is not None:
            self._metrics.database_keys.set(self._keys.database_key_count)
        return skipped

    async def refresh(self) -> None:
        """One refresh: read in a thread (the database may be slow); on failure keep the keys read before,
        unless they are older than `max_stale_seconds`."""
        try:
            await asyncio.to_thread(self.load)
        except Exception as exc:
            self.failures += 1
            if self._metrics is not None:
                self._metrics.database_key_reads_failed.inc()
            # The exception's class only: a driver's message may quote the URL with its password.
            age = self._clock() - self._read_at if self._read_at is not None else float("inf")
            if age > self._max_stale and self._keys.database_key_count:
                dropped = self._keys.drop_database()
                if self._metrics is not None:
                    self._metrics.database_keys.set(0)
                log.error(
                    "database keys not read for %.0f s (%s): the %d keys kept in the database are no longer "
                    "accepted until a read succeeds (database_keys_max_stale_seconds = %g)",
                    age, type(exc).__name__, dropped, self._max_stale,
                )  # fmt: skip
            else:
                log.warning(
                    "reading the database keys failed (%s, %d in a row); the keys read %.0f s ago stay accepted",
                    type(exc).__name__, self.failures, age,
                )  # fmt: skip

    async def run(self) -> None:
        """Refresh every `refresh_seconds` until cancelled."""
        while True:
            await asyncio.sleep(self._refresh)
            await self.refresh()
