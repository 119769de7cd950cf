"""Volume anomalies per edge location and per key: robust per-minute baselines shared by all workers.

Each exchange adds to per-minute counters (requests, prompt bytes, response bytes, detector hits) of
two series: the edge location (`edge:<country>/<pop>`) and the key (`key:<client>`). Counters are
summed in each worker, then added to a SQLite table that every worker of the host shares; a minute is
evaluated once it is over (plus one minute of grace for slower workers), by whichever worker first
claims it (a primary-key insert decides), inside one write transaction.

The baseline of a series and metric is the sliding window of its last `window_minutes` fed minutes; a
minute is judged against the window's own median and MAD (median absolute deviation), before the minute
joins it. Only increases count: the score is (x − median) / scale with
scale = max(1.4826 · MAD, `RELATIVE_FLOOR` · median, `MIN_SCALE`), and a minute is anomalous when it
exceeds the threshold after warm-up. Judged against the window itself, a partial first minute is one
outlier the median ignores (an EWMA of window medians started from it lagged for half an hour and flagged
steady traffic), and a constant series scores 0 whatever the floor. All metrics of a series that jumped in
one minute make one `Anomaly`, hence one signal, whose fingerprint names the series only: one burst is one
incident per series, not one per metric.

The number of series is bounded: at most `MAX_EDGE_SERIES` edge series with a named PoP; further PoPs are
counted under `edge:<country>/other` (countries are ISO codes, keys are the configured clients). A series
not fed for `PRUNE_AFTER_WINDOWS` windows loses its baseline. State is one row per series in
`gateway_baselines` (metric `SERIES_ROW`); the one-row-per-metric rows of earlier versions are converted
when first read.

Where the state lives (`[gateway.anomalies] store`): `"file"` (default) is a SQLite file that the
workers of one `leakline serve --workers N` share without another service; SQLite's write lock
(`BEGIN IMMEDIATE`) makes the claim-then-update atomic. `"database"` keeps the same tables in leakline's
`[database]` (migration 0002): with PostgreSQL, replicas on several hosts add to the same counters and
share one baseline per series; every evaluation takes a transaction-scoped advisory lock, so minutes are
claimed and baselines updated by one process at a time, in minute order.
Minutes without any traffic on a series are not fed to its baseline (a spike is what leaks look like).
"""

from __future__ import annotations

import base64
import json
import logging
import re
import sys
import threading
import time
from array import array
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from leakline.guard.settings import AnomalySettings

if TYPE_CHECKING:
    from sqlalchemy import Connection, Engine

    from leakline.signals import Signal

log = logging.getLogger("leakline.guard")

METRICS = ("requests", "prompt_bytes", "response_bytes", "hits")
MAD_TO_SIGMA = 1.4826
MIN_SCALE = 1.0
"""Absolute floor of the scale: on a series of a few requests a minute, +1 is never an anomaly by itself."""
RELATIVE_FLOOR = 0.1
"""Floor of the scale relative to the median: a series steadier than its MAD can tell (an uptime probe's
identical requests have MAD 0) must rise by more than threshold × 10 % of its median (+60 % at the default
threshold 6) to be anomalous, instead of by a few bytes."""
MAX_EDGE_SERIES = 1000
"""Edge series with a named PoP that get their own baseline; PoPs beyond it count as `edge:<country>/other`.
Per process and minute at recording, and over the shared baselines at judging."""
PRUNE_AFTER_WINDOWS = 48
"""A series not fed for this many windows (24 h with the default 30-minute window) loses its baseline: long
enough to keep a storefront's nightly lull warm, short enough that PoPs seen once do not stay forever."""
FOLDED_POP = "other"
SERIES_ROW = "*"
"""The `metric` column of a series' one baseline row (rows naming a metric are an earlier version's)."""
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


def _median(ordered: Sequence[float]) -> float:
    n = len(ordered)
    mid = n // 2
    return ordered[mid] if n % 2 else (ordered[mid - 1] + ordered[mid]) / 2


@dataclass(frozen=True)
class Verdict:
    """How far a minute rose above its window: the window's median and MAD and the robust score."""

    median: float
    mad: float
    score: float


@dataclass(frozen=True)
class Baseline:
    """The robust baseline of one series and metric: its last fed minutes (oldest first)."""

    window: tuple[float, ...] = ()
    minutes: int = 0
    """Minutes fed so far (warm-up counts these; the window keeps only the last `window_minutes`)."""

    def verdict(self, value: float, threshold: float) -> Verdict | None:
        """The verdict when `value` rises more than `threshold` scales above the window's median, else None."""
        if not self.window:
            return None
        ordered = sorted(self.window)
        median = _median(ordered)
        excess = value - median
        floor = max(RELATIVE_FLOOR * median, MIN_SCALE)
        # The scale is at least the floor, so below threshold × floor no MAD can make it anomalous: most
        # minutes of most series end here, after one sort of the window.
        if excess <= threshold * floor:
            return None
        mad = _median(sorted(abs(v - median) for v in ordered))
        score = excess / max(MAD_TO_SIGMA * mad, floor)
        return Verdict(median, mad, score) if score > threshold else None

    def updated(self, value: float, *, window: int) -> Baseline:
        return Baseline((*self.window, value)[-window:], self.minutes + 1)


def judge(baseline: Baseline, value: float, settings: AnomalySettings) -> tuple[Baseline, float | None]:
    """The next baseline, and the score if this minute is anomalous (None otherwise)."""
    verdict = baseline.verdict(value, settings.threshold) if baseline.minutes >= settings.warmup_minutes else None
    return baseline.updated(value, window=settings.window_minutes), verdict.score if verdict else None


@dataclass
class SeriesState:
    """What `gateway_baselines` keeps of one series: the last minute it was fed and a baseline per metric."""

    fed: int
    metrics: dict[str, Baseline] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(
            {"fed": self.fed, "m": {k: [b.minutes, _pack(b.window)] for k, b in self.metrics.items()}},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str) -> SeriesState:
        data = json.loads(text)
        return cls(int(data["fed"]), {str(k): Baseline(_unpack(w), int(n)) for k, (n, w) in data["m"].items()})


# Windows are stored as base64 of little-endian float64s: parsing 5,000 series × 4 windows of 30 numbers as
# JSON floats took most of a minute's judging (0.6 s of 1 s); these take a few microseconds each.
def _pack(window: tuple[float, ...]) -> str:
    values = array("d", window)
    if sys.byteorder == "big":
        values.byteswap()
    return base64.b64encode(values.tobytes()).decode("ascii")


def _unpack(text: str) -> tuple[float, ...]:
    values = array("d", base64.b64decode(text, validate=True))
    if sys.byteorder == "big":
        values.byteswap()
    return tuple(values)


def legacy_baseline(text: str) -> Baseline:
    """A baseline row of the earlier one-row-per-metric format ({"w": window, "m", "d", "n"})."""
    data = json.loads(text)
    return Baseline(tuple(float(v) for v in data["w"]), int(data["n"]))


@dataclass(frozen=True)
class MetricJump:
    """One metric of a series that rose in a minute."""

    metric: str
    value: float
    median: float
    mad: float
    score: float


@dataclass(frozen=True)
class Anomaly:
    """Every metric of one series that rose in one minute, the strongest first."""

    minute: int
    series: str
    jumps: tuple[MetricJump, ...]

    # The strongest jump, for readers of the one-metric shape (events.anomaly_signal until it uses
    # volume_signal, which reports every metric).
    @property
    def metric(self) -> str:
        return self.jumps[0].metric

    @property
    def value(self) -> float:
        return self.jumps[0].value

    @property
    def median(self) -> float:
        return self.jumps[0].median

    @property
    def mad(self) -> float:
        return self.jumps[0].mad

    @property
    def score(self) -> float:
        return self.jumps[0].score

    @property
    def minute_start(self) -> str:
        return minute_iso(self.minute)


def minute_iso(minute: int) -> str:
    """The start of a minute (minutes since the Unix epoch) in ISO 8601 UTC: `2026-11-27T03:56:00Z`."""
    return datetime.fromtimestamp(minute * 60, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def volume_signal(anomaly: Anomaly) -> Signal:
    """The signal of one anomaly: fingerprint per series (one incident per series per burst), every metric
    that rose in the summary and in details (`<metric>.value`, `.median`, `.mad`, `.score`)."""
    from leakline.findings import Severity
    from leakline.signals import Signal, SignalKind

    parts = "; ".join(
        f"{j.metric} {j.value:g} against a median of {j.median:g} (MAD {j.mad:g}, robust z {j.score:.1f})"
        for j in anomaly.jumps
    )
    details: dict[str, str | int | float | bool | None] = {
        "series": anomaly.series,
        "minute": minute_iso(anomaly.minute),
        "minute_start_unix": anomaly.minute * 60,
        "metrics": ",".join(j.metric for j in anomaly.jumps),
    }
    for j in anomaly.jumps:
        details[f"{j.metric}.value"] = j.value
        details[f"{j.metric}.median"] = j.median
        details[f"{j.metric}.mad"] = j.mad
        details[f"{j.metric}.score"] = round(j.score, 3)
    country = _edge_country(anomaly.series)
    return Signal(
        kind=SignalKind.VOLUME_ANOMALY,
        source="gateway:volume",
        severity=Severity.MEDIUM,
        fingerprint=f"gateway-volume:{anomaly.series}"[:200],
        country=country if country is not None and re.fullmatch(r"[A-Z]{2}", country) else None,
        summary=f"unusual volume on {anomaly.series} in the minute from {minute_iso(anomaly.minute)}: {parts}"[:2000],
        details=details,
    )


def edge_series(country: str | None, pop: str | None) -> str:
    return f"edge:{country or '--'}/{pop or '-'}"


def _edge_country(series: str) -> str | None:
    if not series.startswith("edge:"):
        return None
    return series[5:].partition("/")[0]


def _named_pop(series: str) -> bool:
    """An edge series of one named PoP (the ones the cap bounds; `-` and `other` are one per country)."""
    if not series.startswith("edge:"):
        return False
    pop = series.partition("/")[2]
    return pop not in ("-", FOLDED_POP)


def folded_series(series: str) -> str:
    """Where an edge series beyond the cap is counted: `edge:<country>/other`."""
    return f"edge:{_edge_country(series) or '--'}/{FOLDED_POP}"


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
        self._edges: dict[int, set[str]] = {}
        """Named-PoP edge series recorded per minute by this process (bounds pending counts and raw rows)."""

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
            if _named_pop(name):
                name = self._admit(minute, name)
            for metric, value in values.items():
                self._pending[(minute, name, metric)] += value

    def _admit(self, minute: int, name: str) -> str:
        seen = self._edges.get(minute)
        if seen is None:
            for old in [m for m in self._edges if m < minute - GRACE_MINUTES - 1]:
                del self._edges[old]
            seen = self._edges[minute] = set()
        if name in seen:
            return name
        if len(seen) >= MAX_EDGE_SERIES:
            return folded_series(name)
        seen.add(name)
        return name

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
        if not minutes:
            return found
        store = _Baselines.load(conn, first_minute=minutes[0])
        previous = done
        for minute in minutes:
            conn.execute(text("INSERT INTO gateway_minutes_done (minute) VALUES (:minute)"), {"minute": minute})
            rows = conn.execute(
                text("SELECT series, metric, value FROM gateway_volume WHERE minute = :minute"), {"minute": minute}
            ).all()
            fed: dict[str, dict[str, float]] = defaultdict(dict)
            for series, metric, value in rows:
                fed[series][metric] = float(value)
            for series, values in sorted(store.admit(fed).items()):
                anomaly = store.feed(series, minute, values, self.settings)
                if anomaly is not None:
                    found.append(anomaly)
            # Raw minutes are only needed until judged.
            conn.execute(text("DELETE FROM gateway_volume WHERE minute = :minute"), {"minute": minute})
            window = self.settings.window_minutes
            if minute // window != previous // window:
                store.prune(minute - PRUNE_AFTER_WINDOWS * window)
                # Only the last judged minute is ever read again.
                conn.execute(text("DELETE FROM gateway_minutes_done WHERE minute < :minute"), {"minute": minute})
            previous = minute
        store.save(conn)
        return found

    def close(self) -> None:
        with self._lock:
            if self._engine is not None and self._owns_engine:
                self._engine.dispose()
            self._engine = None


class _Baselines:
    """The baseline rows of one evaluation: all read once, parsed when needed, changed ones written back."""

    def __init__(self, raw: dict[str, str], converted: dict[str, SeriesState], legacy: bool) -> None:
        self._raw = raw
        self._states: dict[str, SeriesState] = dict(converted)
        self._dirty: set[str] = set(converted)
        self._gone: set[str] = set()
        self._legacy = legacy
        self._named = sum(1 for s in {*raw, *converted} if _named_pop(s))

    @classmethod
    def load(cls, conn: Connection, *, first_minute: int) -> _Baselines:
        from sqlalchemy import text

        raw: dict[str, str] = {}
        old: dict[str, dict[str, Baseline]] = defaultdict(dict)
        legacy = False
        for series, metric, state in conn.execute(text("SELECT series, metric, state FROM gateway_baselines")):
            if metric == SERIES_ROW:
                raw[series] = state
                continue
            legacy = True
            try:
                old[series][metric] = legacy_baseline(state)
            except (ValueError, KeyError, TypeError) as exc:
                _unreadable(series, exc)
        # An earlier version's rows keep their windows; when they were last fed is unknown: from now on.
        converted = {s: SeriesState(first_minute, metrics) for s, metrics in old.items() if s not in raw}
        return cls(raw, converted, legacy=legacy)

    def _state(self, series: str) -> SeriesState | None:
        state = self._states.get(series)
        if state is None and series in self._raw:
            try:
                state = self._states[series] = SeriesState.from_json(self._raw.pop(series))
            except (ValueError, KeyError, TypeError) as exc:
                # One bad row must not stop every later minute from being judged: that series starts again.
                _unreadable(series, exc)
                self._gone.add(series)
        return state

    def admit(self, fed: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
        """`fed` with new named-PoP edge series beyond MAX_EDGE_SERIES counted under `edge:<cc>/other`
        (the busiest new ones are admitted first)."""
        new = [s for s in fed if _named_pop(s) and s not in self._raw and s not in self._states]
        room = MAX_EDGE_SERIES - self._named
        if len(new) <= room:
            self._named += len(new)
            return fed
        new.sort(key=lambda s: (-fed[s].get("requests", 0.0), s))
        self._named += max(room, 0)
        for series in new[max(room, 0) :]:
            into = fed[folded_series(series)]
            for metric, value in fed.pop(series).items():
                into[metric] = into.get(metric, 0.0) + value
        return fed

    def feed(self, series: str, minute: int, values: dict[str, float], settings: AnomalySettings) -> Anomaly | None:
        state = self._state(series)
        if state is None:
            state = self._states[series] = SeriesState(minute)
        jumps: list[MetricJump] = []
        for metric, value in values.items():
            baseline = state.metrics.get(metric, Baseline())
            if baseline.minutes >= settings.warmup_minutes:
                verdict = baseline.verdict(value, settings.threshold)
                if verdict is not None:
                    jumps.append(MetricJump(metric, value, verdict.median, verdict.mad, verdict.score))
            state.metrics[metric] = baseline.updated(value, window=settings.window_minutes)
        state.fed = minute
        self._dirty.add(series)
        self._gone.discard(series)
        if not jumps:
            return None
        order = {m: i for i, m in enumerate(METRICS)}
        jumps.sort(key=lambda j: (-j.score, order.get(j.metric, len(order)), j.metric))
        return Anomaly(minute, series, tuple(jumps))

    def prune(self, before: int) -> None:
        """Forget series last fed before minute `before`."""
        for series in list(self._raw):
            self._state(series)
        for series, state in list(self._states.items()):
            if state.fed < before:
                del self._states[series]
                self._dirty.discard(series)
                self._gone.add(series)
                if _named_pop(series):
                    self._named -= 1

    def save(self, conn: Connection) -> None:
        from sqlalchemy import text

        if self._legacy:
            conn.execute(text("DELETE FROM gateway_baselines WHERE metric <> :row"), {"row": SERIES_ROW})
        if self._gone:
            gone = [{"series": s} for s in sorted(self._gone)]
            conn.execute(text("DELETE FROM gateway_baselines WHERE series = :series"), gone)
        if self._dirty:
            rows = [
                {"series": s, "metric": SERIES_ROW, "state": self._states[s].to_json()} for s in sorted(self._dirty)
            ]
            conn.execute(text(_SAVE_BASELINE), rows)


def _unreadable(series: str, exc: Exception) -> None:
    log.warning("gateway_baselines: the baseline of %s cannot be read (%s: %s); it starts again", series,
                type(exc).__name__, exc)  # fmt: skip


def current_minute(now: float | None = None) -> int:
    return int((time.time() if now is None else now) // 60)
