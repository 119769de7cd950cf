"""Volume anomalies per edge location and per key: robust per-minute baselines shared by all workers.

Each exchange adds to per-minute counters (requests, prompt bytes, response bytes, detector hits) of
two series: the edge location (`edge:<country>/<pop>`) and the key (`key:<client>`). Counters are
summed in each worker, then added to a SQLite table that every worker of the host shares; a minute is
evaluated once it is over (plus one minute of grace for slower workers), by whichever worker first
claims it (a primary-key insert decides), inside one write transaction. The baseline of a series and
metric is an EWMA of the median and of the MAD (median absolute deviation) of a sliding window of
past minutes; it raises nothing during warm-up. A minute whose robust z-score
|x − median| / (1.4826 · MAD) exceeds the threshold is an `Anomaly`.

Why SQLite: the workers of one `leakline serve --workers N` share a file without another service, and
SQLite's write lock makes the claim-then-update atomic. Replicas on several hosts would each keep their
own baselines (one per host): a shared PostgreSQL table is the way to aggregate them, not built yet.
Minutes without any traffic on a series are not fed to its baseline (a spike is what leaks look like).
"""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from leakline.guard.settings import AnomalySettings

METRICS = ("requests", "prompt_bytes", "response_bytes", "hits")
MAD_TO_SIGMA = 1.4826
MIN_SCALE = 1.0
"""Floor of the scale so that a perfectly flat history does not make every +1 an anomaly."""
GRACE_MINUTES = 1

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS gateway_volume ("
    " minute INTEGER NOT NULL, series TEXT NOT NULL, metric TEXT NOT NULL, value REAL NOT NULL,"
    " PRIMARY KEY (minute, series, metric))",
    "CREATE TABLE IF NOT EXISTS gateway_minutes_done (minute INTEGER PRIMARY KEY)",
    "CREATE TABLE IF NOT EXISTS gateway_baselines (series TEXT NOT NULL, metric TEXT NOT NULL,"
    " state TEXT NOT NULL, PRIMARY KEY (series, metric))",
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
    """Counters of this worker, flushed to the shared table; evaluation of closed minutes."""

    def __init__(self, path: Path, settings: AnomalySettings) -> None:
        self.settings = settings
        self._path = path
        self._db: sqlite3.Connection | None = None
        self._pending: dict[tuple[int, str, str], float] = defaultdict(float)

    def open(self) -> None:
        self._conn()

    def _conn(self) -> sqlite3.Connection:
        if self._db is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self._path, timeout=10.0, isolation_level=None, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            for statement in _SCHEMA:
                db.execute(statement)
            self._db = db
        return self._db

    def record(self, minute: int, series: tuple[str, ...], values: dict[str, float]) -> None:
        for name in series:
            for metric, value in values.items():
                self._pending[(minute, name, metric)] += value

    def flush(self) -> None:
        if not self._pending:
            return
        rows = [(m, s, k, v) for (m, s, k), v in self._pending.items()]
        db = self._conn()
        db.execute("BEGIN IMMEDIATE")
        try:
            db.executemany(
                "INSERT INTO gateway_volume (minute, series, metric, value) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (minute, series, metric) DO UPDATE SET value = value + excluded.value",
                rows,
            )
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        self._pending.clear()

    def evaluate(self, now_minute: int) -> list[Anomaly]:
        """Judge every minute that is over (and past grace) and not yet judged by any worker."""
        self.flush()
        db = self._conn()
        found: list[Anomaly] = []
        db.execute("BEGIN IMMEDIATE")
        try:
            done = db.execute("SELECT COALESCE(MAX(minute), -1) FROM gateway_minutes_done").fetchone()[0]
            minutes = [
                row[0]
                for row in db.execute(
                    "SELECT DISTINCT minute FROM gateway_volume WHERE minute > ? AND minute < ? ORDER BY minute",
                    (done, now_minute - GRACE_MINUTES),
                )
            ]
            for minute in minutes:
                db.execute("INSERT INTO gateway_minutes_done (minute) VALUES (?)", (minute,))
                rows = db.execute(
                    "SELECT series, metric, value FROM gateway_volume WHERE minute = ?", (minute,)
                ).fetchall()
                for series, metric, value in rows:
                    stored = db.execute(
                        "SELECT state FROM gateway_baselines WHERE series = ? AND metric = ?", (series, metric)
                    ).fetchone()
                    baseline = Baseline.from_json(stored[0]) if stored else Baseline()
                    nxt, score = judge(baseline, float(value), self.settings)
                    if score is not None:
                        found.append(
                            Anomaly(minute, series, metric, float(value), baseline.median, baseline.mad, score)
                        )
                    db.execute(
                        "INSERT INTO gateway_baselines (series, metric, state) VALUES (?, ?, ?)"
                        " ON CONFLICT (series, metric) DO UPDATE SET state = excluded.state",
                        (series, metric, nxt.to_json()),
                    )
                # Raw minutes are only needed until judged.
                db.execute("DELETE FROM gateway_volume WHERE minute = ?", (minute,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise
        return found

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


def current_minute(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 60)
