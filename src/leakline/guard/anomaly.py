"""Volume anomalies per edge location and per key: robust per-minute baselines shared by all workers.

Each exchange adds to per-minute counters (requests, prompt bytes, response bytes, detector hits) of
two series: the edge location (`edge:<country>/<pop>`) and the key (`key:<client>`). Counters are
summed in each worker, then added to a SQLite table that every worker of the host shares; a minute is
evaluated once it is over (plus one minute of grace for slower workers), by whichever worker first
claims it (a primary-key insert decides), inside one write transaction. The baseline of a series and
metric is an EWMA of the median and of the MAD (median absolute deviation) of a sliding window of
past minutes; it raises nothing during warm-up. A minute whose robust z-score
|x − median| / (1.4826 · MAD) exceeds the threshold is an `Anomaly`.

Where the state lives (`[gateway.anomalies] store`): `"file"` (default) is a SQLite file that the
workers of one `leakline serve --workers N` share without another service; SQLite's write lock
(`BEGIN IMMEDIATE`) makes the claim-then-update atomic. `"database"` keeps the same tables in leakline's
`[database]` (migration 0002): with PostgreSQL, replicas on several hosts add to the same counters and
share one baseline per series; every evaluation takes a transaction-scoped advisory lock, so minutes are
claimed and baselines updated by one process at a time, in minute order.
Minutes without any traffic on a series are not fed to its baseline (a spike is what leaks look like).
"""

from __future__ import annotations

import json
import statistics
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from leakline.guard.settings import AnomalySettings

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

METRICS = ("requests", "prompt_bytes", "response_bytes", "hits")
MAD_TO_SIGMA = 1.4826
MIN_SCALE = 1.0
"""Floor of the scale so that a perfectly flat history does not make every +1 an anomaly."""
GRACE_MINUTES = 1
PG_EVALUATION_LOCK_ID = 0x1EA4_0A0A
"""Advisory lock id every process takes while it judges minutes (any constant shared by all of them)."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS gateway_volume ("
    " minute INTEGER NOT NULL, series TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,"
    " PRIMARY KEY (minute, series, metric))",
    "CREATE TABLE IF NOT EXISTS gateway_minutes_done (minute INTEGER PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS gateway_baselines (series TEXT NOT NULL, metric TEXT NOT NULL,"
    " state TEXT NOT NULL, PRIMARY KEY (series, metric))",
)
"""The file store's tables (the database store gets the same ones from migration 0002)."""
_ADD = (
    "INSERT INTO gateway_volume (minute, series, metric, value) VALUES (:minute, :series, :metric, :value)"
    " ON CONFLICT (minute, series, metric) DO UPDATE SET value = gateway_volume.value + excluded.value"
)
_SAVE_BASELINE = (
    "INSERT INTO gateway_baselines (series, metric, state) VALUES (:series, :metric, :state)"
    " ON CONFLICT (series, metric) DO UPDATE SET state = excluded.state"
)


@dataclass(frozen=True)
class Baseline:
    """The robust baseline of one series and metric."""

    window: tuple[float, ...] = ()
    median: float = 0.0
    mad: float = 0.0
    minutes: int = 0

    def score(self, value: float) -> float:
        scale = max(MAD_TO_SIGMA * self.mad, MIN_SCALE)
        return abs(value - self.median) / scale

    def updated(self, value: float, *, alpha: float, window: int) -> Baseline:
        values = (*self.window, value)[-window:]
        med = statistics.median(values)
        mad = statistics.median(abs(v - med) for v in values)
        if self.minutes == 0:
            return Baseline(values, med, mad, 1)
        return Baseline(
            values,
            (1 - alpha) * self.median + alpha * med,
            (1 - alpha) * self.mad + alpha * mad,
            self.minutes + 1,
        )

    def to_json(self) -> str:
        return json.dumps({"w": list(self.window), "m": self.median, "d": self.mad, "n": self.minutes})

    @classmethod
    def from_json(cls, text: str) -> Baseline:
        data = json.loads(text)
        return cls(tuple(float(v) for v in data["w"]), float(data["m"]), float(data["d"]), int(data["n"]))


@dataclass(frozen=True)
class Anomaly:
    minute: int
    series: str
    metric: str
    value: float
    median: float
    mad: float
    score: float


def judge(baseline: Baseline, value: float, settings: AnomalySettings) -> tuple[Baseline, float | None]:
    """The next baseline, and the score if this minute is anomalous (None otherwise)."""
    score = baseline.score(value)
    anomalous = baseline.minutes >= settings.warmup_minutes and score > settings.threshold
    return baseline.updated(value, alpha=settings.alpha, window=settings.window_minutes), score if anomalous else None


def edge_series(country: str | None, pop: str | None) -> str:
    return f"edge:{country or '--'}/{pop or '-'}"


def pop_from_header(value: str | None) -> str | None:
    """The PoP of `x-vercel-id` (`fra1::iad1::…` → `fra1`); short, lowercase alphanumerics only."""
    if not value:
        return None
    head = value.split("::", 1)[0].strip().lower()
    if 0 < len(head) <= 16 and head.isascii() and head.isalnum():
        return head
    return None


class VolumeMonitor:
    """Counters of this worker, flushed to the shared tables; evaluation of closed minutes."""

    def __init__(self, connect: Callable[[], Engine], settings: AnomalySettings, *, owns_engine: bool) -> None:
        self.settings = settings
        self._connect = connect
        self._owns_engine = owns_engine
        """A file store's engine is this monitor's; a database store's belongs to the process-wide store cache."""
        self._engine: Engine | None = None
        self._lock = threading.Lock()
        self._pending: dict[tuple[int, str, str], float] = defaultdict(float)

    @classmethod
    def on_file(cls, path: Path, settings: AnomalySettings) -> VolumeMonitor:
        """State in a SQLite file shared by the workers of one host."""

        def connect() -> Engine:
            from sqlalchemy import text

            from leakline.store.engine import sqlite_engine

            path.parent.mkdir(parents=True, exist_ok=True)
            engine = sqlite_engine(f"sqlite:///{path}")
            with engine.begin() as conn:
                for statement in _SCHEMA:
                    conn.execute(text(statement))
            return engine

        return cls(connect, settings, owns_engine=True)

    @classmethod
    def on_database(cls, url: str, settings: AnomalySettings) -> VolumeMonitor:
        """State in leakline's database (migrated; PostgreSQL shares it across hosts)."""

        def connect() -> Engine:
            from leakline.store.engine import open_store

            return open_store(url).engine

        return cls(connect, settings, owns_engine=False)

    def open(self) -> None:
        self._conn()

    def _conn(self) -> Engine:
        with self._lock:
            if self._engine is None:
                self._engine = self._connect()
            return self._engine

    def record(self, minute: int, series: tuple[str, ...], values: dict[str, float]) -> None:
        for name in series:
            for metric, value in values.items():
                self._pending[(minute, name, metric)] += value

    def flush(self) -> None:
        if not self._pending:
            return
        from sqlalchemy import text

        # Sorted: concurrent upserts from several processes then lock rows in the same order (no deadlock).
        rows = [
            {"minute": m, "series": s, "metric": k, "value": v} for (m, s, k), v in sorted(self._pending.items())
        ]
        with self._conn().begin() as conn:
            conn.execute(text(_ADD), rows)
        self._pending.clear()

    def evaluate(self, now_minute: int) -> list[Anomaly]:
        """Judge every minute that is over (and past grace) and not yet judged by any worker or replica."""
        from sqlalchemy import text

        self.flush()
        engine = self._conn()
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": PG_EVALUATION_LOCK_ID})
            return self._judge_closed_minutes(conn, now_minute)

    def _judge_closed_minutes(self, conn: Connection, now_minute: int) -> list[Anomaly]:
        from sqlalchemy import text

        found: list[Anomaly] = []
        done = conn.execute(text("SELECT COALESCE(MAX(minute), -1) FROM gateway_minutes_done")).scalar_one()
        # Counts a slow process added to a minute already judged can no longer count: drop them.
        conn.execute(text("DELETE FROM gateway_volume WHERE minute <= :done"), {"done": done})
        minutes = conn.execute(
            text(
                "SELECT DISTINCT minute FROM gateway_volume WHERE minute > :done AND minute < :before ORDER BY minute"
            ),
            {"done": done, "before": now_minute - GRACE_MINUTES},
        ).scalars().all()
        for minute in minutes:
            conn.execute(text("INSERT INTO gateway_minutes_done (minute) VALUES (:minute)"), {"minute": minute})
            rows = conn.execute(
                text("SELECT series, metric, value FROM gateway_volume WHERE minute = :minute ORDER BY series, metric"),
                {"minute": minute},
            ).all()
            for series, metric, value in rows:
                stored = conn.execute(
                    text("SELECT state FROM gateway_baselines WHERE series = :series AND metric = :metric"),
                    {"series": series, "metric": metric},
                ).scalar_one_or_none()
                baseline = Baseline.from_json(stored) if stored else Baseline()
                nxt, score = judge(baseline, float(value), self.settings)
                if score is not None:
                    found.append(Anomaly(minute, series, metric, float(value), baseline.median, baseline.mad, score))
                conn.execute(text(_SAVE_BASELINE), {"series": series, "metric": metric, "state": nxt.to_json()})
            # Raw minutes are only needed until judged.
            conn.execute(text("DELETE FROM gateway_volume WHERE minute = :minute"), {"minute": minute})
        return found

    def close(self) -> None:
        with self._lock:
            if self._engine is not None and self._owns_engine:
                self._engine.dispose()
            self._engine = None


def current_minute(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 60)
