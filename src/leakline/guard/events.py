"""Off the hot path: audit records, signals and volume counters, handled by one thread per worker.

The request pipeline only builds an `Exchange` (or a `Signal`) and appends it to a bounded queue; this
thread writes the audit record to the sink of the exchange's region (prompt and responses encrypted,
metadata in clear: what was scanned, detector versions, hits by position, never their text), emits
signals through the configured `SignalSink`, feeds the volume monitor and evaluates closed minutes.
When the queue is full the request does not wait: the event is counted in `dropped`, which
`/metrics`-style readers and the tests see, rather than slowing every response behind a slow disk.
A signal the sink cannot deliver (the incident engine's database down, the central leakline
unreachable) is audited like any other and written to the durable signal outbox (`leakline.guard.outbox`,
fsynced) to be tried again every `RETRY_EVERY_SECONDS` and when a worker starts (idempotent by its id),
so an outage or a restart delays incidents instead of losing them. Without an outbox (or when it cannot
be written) the signal is kept in this thread's memory instead, and what is still waiting there when the
process stops is logged, and remains in the audit log only.

The thread works in batches: woken by the first event of an idle spell, it lets `BATCH_WINDOW_SECONDS`
of events gather and handles them together. Woken per event instead, it asked for the GIL in the middle
of nearly every request, and each such hand-over (the Hyperscan scan alone gives the GIL up and takes it
back per match) cost the serving thread more CPU than the event's own work (docs/gateway.md, Benchmark).
"""

from __future__ import annotations

import errno
import logging
import os
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from leakline.audit.errors import AuditIOError
from leakline.findings import Severity
from leakline.guard.anomaly import Anomaly, VolumeMonitor, current_minute, edge_series, volume_signal
from leakline.guard.metrics import GatewayMetrics
from leakline.guard.outbox import OutboxWriteError, SignalOutbox
from leakline.guard.signals_out import SignalDeliveryError, SignalSink
from leakline.signals import Signal, SignalKind

log = logging.getLogger("leakline.guard")

QUEUE_SIZE = 10_000
EVALUATE_EVERY_SECONDS = 5.0
FLUSH_EVERY_SECONDS = 0.2
BATCH_WINDOW_SECONDS = 0.01
"""How long the thread lets events gather once woken (it only delays audit records and signals)."""
RETRY_EVERY_SECONDS = 5.0
"""How often signals that could not be delivered (incident engine's database down, central leakline
unreachable) are tried again, oldest first; delivery is idempotent by signal id."""
REPLAY_BATCHES_PER_ROUND = 5
"""Outbox batches (`outbox.CLAIM_BATCH` entries each) sent per round before the thread handles its queue."""
REFUSED_FOR_GOOD = frozenset({400, 413, 422})
"""Statuses with which a receiver refuses a signal itself (not the gateway's token, not its own state):
such an entry is set aside in the outbox's rejected table instead of blocking the ones behind it."""
AUDIT_RETRY_SECONDS = 1.0
"""While an audit sink cannot be written, how often the thread tries again without traffic (by writing the
gap record, `AUDIT_GAP_KIND`): a replica pulled from the load balancer by `/readyz` gets no exchanges, and
must still notice that the disk has room again."""
AUDIT_ROOM_CHECK_SECONDS = 2.0
"""How often the thread looks at the free space of the sinks that work (one `statvfs` each): with
`--workers N`, a worker without traffic then sees a full disk as soon as the workers that write do, and
its `/readyz` says the same as theirs instead of answering 200 to a load balancer's every other probe."""
AUDIT_MIN_FREE_BYTES = 256 * 1024
"""A sink that failed for want of space is tried again, or taken to work again, only once its file system
has this much free: a full disk still takes a small write into the last, partly used block of the log
file, and a gap record written there would end an outage that the next exchange begins again."""
AUDIT_GAP_KIND = "gateway.audit_gap"
"""The record a sink gets once it can be written again: how many records were lost, of which kinds, when."""
RETRY_LIMIT = 10_000
"""Signals kept in memory for retry at most (no outbox, or it cannot be written); beyond it the oldest are
given up (each is in the audit log anyway)."""
_STOP = object()


@dataclass(frozen=True)
class _Drain:
    """A marker: set `done` once every event queued before it is handled and the audit log flushed."""

    done: threading.Event = field(default_factory=threading.Event)


@dataclass
class _SinkState:
    """What the event thread knows of one audit sink's writes: the records appended since its last flush
    that succeeded (they are lost if the write fails), and the outage it is in, if any."""

    unsettled: deque[tuple[int, str, float]] = field(default_factory=deque)
    """(sequence number, kind, when) of each record appended and not known to be on disk."""
    failing_since: float | None = None
    reason: str = ""
    """The OS error, without the sink's path (e.g. "No space left on device"): `/readyz` shows it."""
    no_space: bool = False
    """It failed for want of space (ENOSPC, EDQUOT): see AUDIT_MIN_FREE_BYTES."""
    lost: dict[str, int] = field(default_factory=dict)
    first_lost: float | None = None
    last_lost: float | None = None
    failures: int = 0
    gap_pending: bool = False
    """The gap record is appended and waits for the flush that ends the outage."""


DETECTOR_CATEGORIES: dict[str, str] = {
    "email": "contact",
    "phone": "contact",
    "payment_card": "payment-card",
    "iban": "financial",
    "us_ssn": "government-id",
    "uk_nino": "government-id",
    "national_id": "government-id",
    "ip_address": "identity",
    "secret": "credentials",
    "canary": "prompts",
    "protected_text": "business",
}


@dataclass(frozen=True)
class Hit:
    """A detector hit without its text: which detector, what was done, where in the response (or, for a
    prompt's hit, in which field of the request: `where`, e.g. `messages[1].content`)."""

    detector: str
    action: str
    start: int
    end: int
    redacted_preview: str
    where: str | None = None

    def to_meta(self) -> dict[str, Any]:
        meta: dict[str, Any] = {"detector": self.detector, "action": self.action, "start": self.start, "end": self.end}
        if self.where is not None:
            meta["where"] = self.where
        return meta


@dataclass(frozen=True)
class Exchange:
    """One request/response through the gateway, as the audit log and the monitor see it."""

    route: str
    client: str
    region: str | None
    country: str | None
    pop: str | None
    model: str | None
    status: int
    stream: bool
    prompt: Any
    response_text: str
    upstream_text: str
    prompt_bytes: int
    response_bytes: int
    scanned_bytes: int
    detector_versions: dict[str, str] = field(default_factory=dict)
    hits: tuple[Hit, ...] = ()
    invisible_removed: int = 0
    """Invisible characters the sanitizer removed from the answer (`SanitizeResult.invisible_removed`, a
    stream's after `finish`): the audit says that what was sent differs from what the upstream wrote even
    where no detector fired (a zero-width space, bidi overrides, tag characters: a side channel)."""
    prompt_hits: tuple[Hit, ...] = ()
    """Hits of the input side (prompts redacted before the upstream saw them); never a signal."""
    blocked: bool = False
    error: str | None = None
    at: float = field(default_factory=time.time)
    client_key: str | None = None
    """Which of the client's keys was used (`key_sha256[1]`, `$VAR`; see `auth.Client.key`), never the key."""


NO_PREVIEW = frozenset({"canary", "protected_text"})
"""Detectors whose hits a signal describes by length only. A preview keeps a value's first and last
characters (`Zq7…dM3c`): harmless for a card, but seven characters of a canary are a third of the secret
planted in every system prompt, and the receiver (a central leakline) may not know this gateway's canaries
to redact them; a protected text's ends are the operator's own words."""


def _preview(hit: Hit) -> str:
    if hit.detector in NO_PREVIEW:
        return f"{hit.detector}=({hit.end - hit.start} characters)"
    return f"{hit.detector}={hit.redacted_preview}"


def leak_signal(exchange: Exchange) -> Signal | None:
    """The `leak-caught` signal of an exchange with detector hits (None without hits)."""
    if not exchange.hits:
        return None
    detectors = sorted({h.detector for h in exchange.hits})
    actions = sorted({h.action for h in exchange.hits})
    categories = sorted({DETECTOR_CATEGORIES[d] for d in detectors if d in DETECTOR_CATEGORIES})
    severity = (
        Severity.HIGH
        if exchange.blocked or {"canary", "protected_text", "secret"} & set(detectors)
        else Severity.MEDIUM
    )
    previews = ", ".join(sorted({_preview(h) for h in exchange.hits}))[:500]
    return Signal(
        kind=SignalKind.LEAK_CAUGHT,
        source=f"gateway:{exchange.region or 'none'}",
        severity=severity,
        fingerprint=f"gateway-leak:{exchange.client}:{'+'.join(detectors)}"[:200],
        region=exchange.region,
        country=exchange.country,
        data_categories=categories,  # values of obligations.facts.Category
        summary=f"model output {'blocked' if exchange.blocked else 'sanitized'} on {exchange.route}: "
        f"{len(exchange.hits)} hit(s) of {', '.join(detectors)}",
        details={
            "client": exchange.client,
            "model": exchange.model,
            "route": exchange.route,
            "actions": ",".join(actions),
            "blocked": exchange.blocked,
            "hits": len(exchange.hits),
            "previews": previews,
            "pop": exchange.pop,
        },
    )


def anomaly_signal(anomaly: Anomaly) -> Signal:
    """One signal per series and minute, every metric that rose in it (built where the anomaly is defined)."""
    return volume_signal(anomaly)


def open_audit_sinks(audit: Any, regions: list[str], *, source: str, configured: bool = True) -> None:
    """Open `audit`'s sink without a region and those of `regions` (an `AuditRouter`; anything without
    `log_for` is left alone). Errors are `GatewayConfigError`s naming the leakline.toml key at fault
    (`source` is the file); with `configured` false (no `[audit]` section: the default sink under the
    working directory) a key error names the default key file and says how to configure `[audit]`."""
    from leakline.audit.errors import KeyFileError
    from leakline.errors import LeaklineError
    from leakline.guard.errors import GatewayConfigError

    log_for = getattr(audit, "log_for", None)
    if log_for is None:
        return
    for region in [None, *regions]:
        key = "audit.path" if region is None else f"audit.sinks.{region}.path"
        try:
            log_for(region)
        except KeyFileError as exc:  # the key is loaded with the first sink
            if configured:
                raise GatewayConfigError(f"{source}: audit.key: {exc.message}", hint=exc.hint) from exc
            # No audit.key to blame: the file at fault is the default one, and the way out is [audit].
            hint = f"{exc.hint}, or " if exc.hint else ""
            raise GatewayConfigError(
                f"{source} has no [audit] section; the default audit key {exc.message}",
                hint=f"{hint}configure [audit] path and key in {source} "
                "(`leakline audit keygen KEYFILE` creates a key)",
            ) from exc
        except LeaklineError as exc:
            raise GatewayConfigError(f"{source}: {key}: {exc.message}", hint=exc.hint) from exc
        except OSError as exc:
            # A write that fails (a full disk) names no file: the sink's directory is the one to check.
            where = exc.filename or getattr(audit, "sinks", {}).get(region)
            raise GatewayConfigError(
                f"{source}: {key}: cannot open the audit log in {where} ({exc.strerror or type(exc).__name__})"
            ) from exc


class EventWorker:
    """The per-process thread that does everything slow about an exchange."""

    def __init__(
        self,
        *,
        audit: Any,
        signals: SignalSink,
        monitor: VolumeMonitor | None,
        outbox: SignalOutbox | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._audit = audit
        self._signals = signals
        self._monitor = monitor
        self._outbox = outbox
        self.metrics: GatewayMetrics | None = None
        """Where the outbox's depth and dropped signals are counted (set by the gateway before `open`)."""
        self.signals_dropped = 0
        """Signals this worker could neither deliver nor keep (the outbox was full)."""
        self._clock = clock
        # deque.append/popleft are atomic: the serving thread never takes a lock to queue an event.
        self._pending: deque[Exchange | Signal | _Drain | object] = deque()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._mu = threading.Lock()
        self.dropped = 0
        self.failures = 0
        self._last_eval = 0.0
        self._last_flush = 0.0
        self._dirty = False
        self._undelivered: deque[Signal] = deque()
        self._outbox_entries = 0
        self._outbox_broken = False
        self._last_retry = 0.0  # the outbox is replayed at once when the thread starts
        self._sinks: dict[str | None, _SinkState] = {}
        self._opened: list[str | None] = []
        """The sinks `open` opened: those `start` checks for room before the thread takes events."""
        self._last_audit_try = 0.0
        self._last_room_check = 0.0
        self.audit_failing: frozenset[str | None] = frozenset()
        """The sinks (regions, None for `[audit] path`) that cannot be written now; replaced, never changed
        in place, so that the serving thread may read it without a lock (`/readyz`, `on_failure`)."""

    @property
    def undelivered(self) -> int:
        """Signals waiting to be tried again: in memory, and in the outbox as this worker last read it."""
        return len(self._undelivered) + self._outbox_entries

    @property
    def outbox(self) -> SignalOutbox | None:
        return self._outbox

    @property
    def monitor(self) -> VolumeMonitor | None:
        """The volume monitor this thread feeds (None when anomalies are disabled)."""
        return self._monitor

    def start(self) -> None:
        with self._mu:
            if self._thread is None:
                # Before the thread exists: the sinks' state is its own once it runs.
                self._check_room()
                self._thread = threading.Thread(target=self._run, name="leakline-guard-events", daemon=True)
                self._thread.start()

    def open(self, regions: list[str], *, source: str = "leakline.toml") -> None:
        """Open the audit sinks of these regions (and the one without a region) and the volume store now,
        so that a wrong audit key or an unwritable directory stops the start-up, not the first record.
        Errors are `GatewayConfigError`s naming the leakline.toml key at fault (see `open_audit_sinks`)."""
        from leakline.guard.errors import GatewayConfigError

        # Regions need [audit.sinks.R] (check_gateway_settings): their audit is always configured.
        open_audit_sinks(self._audit, regions, source=source)
        self._opened = [None, *regions]
        if self._outbox is not None:
            self._outbox.open()  # a damaged file is salvaged with a warning; an unusable path is refused
            self._observe_outbox()
        if self._monitor is not None:
            try:
                self._monitor.open()
            except Exception as exc:
                # The first line only: a database driver's later lines may quote the statement.
                reason = (str(exc).strip().splitlines() or [""])[0][:200]
                raise GatewayConfigError(
                    f"{source}: gateway.anomalies: the volume store cannot be opened ({type(exc).__name__}: {reason})"
                ) from exc

    def submit(self, item: Exchange | Signal) -> None:
        self.start()
        if len(self._pending) >= QUEUE_SIZE:
            self.dropped += 1
            return
        self._put(item)

    def _put(self, item: Exchange | Signal | _Drain | object) -> None:
        self._pending.append(item)
        if not self._wake.is_set():
            self._wake.set()

    def drain(self, timeout: float = 10.0) -> None:
        """Wait until everything submitted so far is handled and the audit log flushed (tests, shutdown)."""
        self.start()
        marker = _Drain()
        self._put(marker)
        marker.done.wait(timeout)

    def close(self) -> None:
        with self._mu:
            thread, self._thread = self._thread, None
        if thread is not None:
            self._put(_STOP)
            thread.join(timeout=30)
        for region, sink in self._sinks.items():
            if sink.failing_since is not None:
                log.error(
                    "audit sink %s still cannot be written when the gateway stops (%s): %s since %s, and no "
                    "gap record says so in the log",
                    _sink_name(region),
                    sink.reason,
                    _lost_text(sink.lost),
                    _iso(sink.failing_since),
                )
        if self._undelivered:
            log.error(
                "%d signal(s) not delivered when the gateway stopped; each is in the audit log (kind gateway.signal)",
                len(self._undelivered),
            )
        if self._outbox is not None:
            self._close_outbox(self._outbox, served=thread is not None)
        if self._monitor is not None:
            self._monitor.close()
        self._signals.close()
        try:
            self._audit.close()
        except Exception as exc:  # reported above when a sink was failing; a traceback would add nothing
            log.error("the audit log could not be closed cleanly: %s", _failure_reason(exc, with_text=True))

    def _run(self) -> None:
        while True:
            woken = self._wake.wait(FLUSH_EVERY_SECONDS)
            self._wake.clear()
            if woken:
                time.sleep(BATCH_WINDOW_SECONDS)
            while self._pending:
                item = self._pending.popleft()
                if item is _STOP:
                    self._flush_audit()
                    return
                if isinstance(item, _Drain):
                    self._flush_audit()
                    self._maybe_evaluate()
                    self._maybe_retry()
                    item.done.set()
                elif isinstance(item, (Exchange, Signal)):
                    try:
                        self._handle(item)
                    except Exception:  # one bad event must not stop the thread
                        self.failures += 1
                        log.exception("gateway event failed")
            # The audit log group-commits on its own; an explicit flush at most every
            # FLUSH_EVERY_SECONDS bounds what a crash of the whole host could lose.
            if self._dirty and self._clock() - self._last_flush >= FLUSH_EVERY_SECONDS:
                self._flush_audit()
            if self.audit_failing:
                self._maybe_try_audit()
            if self._clock() - self._last_room_check >= AUDIT_ROOM_CHECK_SECONDS:
                self._check_room(when="")
            self._maybe_evaluate()
            self._maybe_retry()

    def _flush_audit(self) -> None:
        self._last_flush = self._clock()
        self._dirty = False
        if getattr(self._audit, "log_for", None) is None:  # one log, or a test's stand-in
            try:
                self._audit.flush()
            except Exception as exc:
                self.failures += 1
                self._write_failed(None, self._sink(None), exc)
            else:
                for region, sink in list(self._sinks.items()):
                    self._settled(region, sink)
            return
        # Sink by sink: a full disk under one region's log must not keep the others' records unflushed,
        # and it tells which records were lost.
        for region, sink in list(self._sinks.items()):
            self._flush_sink(region, sink)

    def _flush_sink(self, region: str | None, sink: _SinkState) -> None:
        self._last_audit_try = self._clock()
        try:
            self._audit.log_for(region).flush()
        except Exception as exc:
            self.failures += 1
            self._write_failed(region, sink, exc)
            return
        self._settled(region, sink)

    def _sink(self, region: str | None) -> _SinkState:
        sink = self._sinks.get(region)
        if sink is None:
            sink = self._sinks[region] = _SinkState()
        return sink

    def _append(
        self, *, kind: str, actor: str, region: str | None, payload: Any = None, meta: dict[str, Any], at: float
    ) -> None:
        """Append a record to the sink of `region`, noting it as unsettled until its flush; raise what the
        log raised."""
        sink = self._sink(region)
        try:
            seq = self._audit.append(kind=kind, actor=actor, region=region, payload=payload, meta=meta)
        except AuditIOError as exc:
            # A write of earlier records failed and is reported now: this record was not tried. Once more.
            self.failures += 1
            self._write_failed(region, sink, exc)
            seq = self._audit.append(kind=kind, actor=actor, region=region, payload=payload, meta=meta)
        if isinstance(seq, int):
            sink.unsettled.append((seq, kind, at))

    def _append_gap(self, region: str | None, sink: _SinkState) -> None:
        """The record that says what this sink lost, appended (never raising) ahead of the next records."""
        if sink.failing_since is None:
            return
        now = self._clock()
        details: dict[str, Any] = {
            "sink": region,
            "reason": sink.reason,
            "failing_since": _iso(sink.failing_since),
            "written_at": _iso(now),
            "failures": sink.failures,
            "lost": dict(sorted(sink.lost.items())),
            "lost_records": sum(sink.lost.values()),
            "first_lost": None if sink.first_lost is None else _iso(sink.first_lost),
            "last_lost": None if sink.last_lost is None else _iso(sink.last_lost),
        }
        try:
            seq = self._audit.append(kind=AUDIT_GAP_KIND, actor="gateway", region=region, payload=details,
                                     meta=details)  # fmt: skip
        except Exception as exc:
            self.failures += 1
            self._write_failed(region, sink, exc)
            return
        sink.gap_pending = True
        if isinstance(seq, int):
            sink.unsettled.append((seq, AUDIT_GAP_KIND, now))

    def _maybe_try_audit(self) -> None:
        """Without traffic, every AUDIT_RETRY_SECONDS: write the gap record of each failing sink."""
        if self._clock() - self._last_audit_try < AUDIT_RETRY_SECONDS:
            return
        self._last_audit_try = self._clock()
        for region in self.audit_failing:
            sink = self._sink(region)
            if not self._has_room(region, sink):
                continue
            if not sink.gap_pending:
                self._append_gap(region, sink)
            if sink.gap_pending:
                self._flush_one(region, sink)

    def _flush_one(self, region: str | None, sink: _SinkState) -> None:
        if getattr(self._audit, "log_for", None) is None:
            self._flush_audit()
        else:
            self._flush_sink(region, sink)

    def _has_room(self, region: str | None, sink: _SinkState) -> bool:
        """False while a sink that failed for want of space has less than AUDIT_MIN_FREE_BYTES free."""
        path = self._sink_path(region) if sink.no_space else None
        free = None if path is None else _free_bytes(path)
        return free is None or free >= AUDIT_MIN_FREE_BYTES  # None: the write itself says why

    def _sink_path(self, region: str | None) -> Any:
        sinks = getattr(self._audit, "sinks", None)
        return sinks.get(region) if isinstance(sinks, dict) else None

    def _check_room(self, *, when: str = " when the gateway starts") -> None:
        """At start: a sink opened on a file system with less than AUDIT_MIN_FREE_BYTES free is failing from
        the start, as if its first write had failed (the ERROR line, `/readyz` 503, the metrics, "refuse").
        Then every AUDIT_ROOM_CHECK_SECONDS, for the sinks that work: a worker that writes nothing sees the
        disk fill as the others do.

        A log that already exists opens without writing a byte, so a full disk under it went unnoticed until
        the first exchange (or not at all on a replica with no traffic) while `/readyz` said ready. Free space
        is the test, not a probe write: the log only ever appends to its own files, so a probe file would
        cost a block the log needs and refuse a directory the log does not write to; and this is the rule
        that decides when a full sink works again, so an outage begun here ends the same way (a gap record
        once the disk has room, `_maybe_try_audit`)."""
        self._last_room_check = self._clock()
        for region in self._opened:
            path = self._sink_path(region)
            free = None if path is None else _free_bytes(path)
            sink = self._sink(region)
            if free is None or free >= AUDIT_MIN_FREE_BYTES or sink.failing_since is not None:
                continue
            sink.failures += 1
            if self.metrics is not None:
                self.metrics.audit_failure(region)
            self._begin_outage(
                region,
                sink,
                reason=os.strerror(errno.ENOSPC),
                no_space=True,
                why=f"{path}: its file system has {free // 1024} KiB free{when}, less than the "
                f"{AUDIT_MIN_FREE_BYTES // 1024} KiB the audit log needs ({os.strerror(errno.ENOSPC)})",
            )

    def _lose(self, region: str | None, sink: _SinkState, kind: str, at: float, count: int = 1) -> None:
        """`count` records of `kind` will never be written: counted for the gap record and the metrics."""
        if kind == AUDIT_GAP_KIND:
            return  # it is written again, with the new numbers
        label = kind.rsplit(".", 1)[-1]
        sink.lost[label] = sink.lost.get(label, 0) + count
        sink.first_lost = at if sink.first_lost is None else min(sink.first_lost, at)
        sink.last_lost = at if sink.last_lost is None else max(sink.last_lost, at)
        if self.metrics is not None:
            self.metrics.audit_records_lost(region, label, count)

    def _write_failed(self, region: str | None, sink: _SinkState, exc: BaseException) -> None:
        """A write to the sink failed: count what it took with it; the first failure of an outage is logged
        (one line, no traceback) and turns `/readyz` to 503."""
        if not _is_io_error(exc):
            return  # a record the log refused (its payload), not a sink that cannot write: see _audit_exchange
        first = self._discarded_from(region, sink)
        if first is not None:
            for seq, kind, at in sink.unsettled:
                if seq >= first:
                    self._lose(region, sink, kind, at)
        sink.unsettled.clear()
        sink.gap_pending = False
        sink.failures += 1
        self._last_audit_try = self._clock()
        if self.metrics is not None:
            self.metrics.audit_failure(region)
        if sink.failing_since is not None:
            return
        self._begin_outage(
            region,
            sink,
            reason=_os_error(exc),
            no_space=_errno(exc) in (errno.ENOSPC, errno.EDQUOT),
            why=_failure_reason(exc, with_text=True),
        )

    def _begin_outage(self, region: str | None, sink: _SinkState, *, reason: str, no_space: bool, why: str) -> None:
        """The sink is failing from now: one ERROR line (no traceback), `/readyz` 503, the gauge at 1."""
        sink.failing_since = self._clock()
        sink.reason = reason
        sink.no_space = no_space
        self._last_audit_try = self._clock()
        self.audit_failing = self.audit_failing | {region}
        if self.metrics is not None:
            self.metrics.audit_state(region, True)
        log.error(
            "audit sink %s cannot be written: %s; its exchanges are not recorded until it can be written again "
            "(tried every %g s; /readyz answers 503)",
            _sink_name(region),
            why,
            AUDIT_RETRY_SECONDS,
        )

    def _discarded_from(self, region: str | None, sink: _SinkState) -> int | None:
        """From which sequence number the sink dropped the records it had acknowledged (`AuditLog.take_discarded`);
        a log that cannot say (a stand-in) is taken to have dropped all of them."""
        log_for = getattr(self._audit, "log_for", None)
        if log_for is None:
            return sink.unsettled[0][0] if sink.unsettled else None
        try:
            taken = getattr(log_for(region), "take_discarded", None)
        except Exception:  # the sink could not even be opened: nothing of it was acknowledged
            return None
        return taken() if taken is not None else (sink.unsettled[0][0] if sink.unsettled else None)

    def _settled(self, region: str | None, sink: _SinkState) -> None:
        """A flush of the sink succeeded: what was appended is on disk, and an outage whose gap record went
        with it is over. Records written while the sink was failing mean the disk takes writes again: the
        gap record follows them at once (traffic ends an outage before the next `_maybe_try_audit`)."""
        wrote = bool(sink.unsettled)
        sink.unsettled.clear()
        if sink.failing_since is None:
            return
        if not sink.gap_pending:
            if wrote and self._has_room(region, sink):
                self._append_gap(region, sink)
                if sink.gap_pending:
                    self._flush_one(region, sink)
            return
        log.warning(
            "audit sink %s can be written again (it failed from %s: %s); %s; recorded as %s",
            _sink_name(region),
            _iso(sink.failing_since),
            sink.reason,
            _lost_text(sink.lost),
            AUDIT_GAP_KIND,
        )
        self._sinks[region] = _SinkState()
        self.audit_failing = self.audit_failing - {region}
        if self.metrics is not None:
            self.metrics.audit_state(region, False)

    def audit_outages(self) -> dict[str | None, str]:
        """The sinks that cannot be written now, each with why and since when, without its path (`/readyz`)."""
        outages: dict[str | None, str] = {}
        for region in self.audit_failing:
            sink = self._sinks.get(region)
            if sink is None or sink.failing_since is None:
                continue
            outages[region] = (
                f"the audit log cannot be written ({sink.reason}) since {_iso(sink.failing_since)}; "
                f"{_lost_text(sink.lost)} so far"
            )
        return outages

    def _close_outbox(self, outbox: SignalOutbox, *, served: bool) -> None:
        try:
            if served and self._outbox_entries:  # not after `leakline serve`'s check before it starts
                entries, _ = outbox.depth()
                if entries:
                    log.warning(
                        "%d signal(s) wait in the signal outbox %s; they are delivered when the gateway runs again",
                        entries,
                        outbox.path,
                    )
        except Exception:
            log.exception("signal outbox %s could not be read", outbox.path)
        outbox.close()

    def _observe_outbox(self) -> None:
        if self._outbox is None:
            return
        entries, size = self._outbox.depth()
        self._outbox_entries = entries
        if self.metrics is not None:
            self.metrics.outbox(entries, size)

    def _keep(self, signal: Signal, exc: SignalDeliveryError) -> None:
        """After a failed delivery: into the outbox (fsynced), else into memory."""
        if self._outbox is not None:
            try:
                kept = self._outbox.put(signal)
                self._observe_outbox()
            except (OutboxWriteError, sqlite3.Error) as write_error:
                log.error(
                    "signal %s not delivered: %s; the signal outbox cannot be written (%s), kept in memory only",
                    signal.id,
                    exc,
                    write_error,
                )
                self._keep_in_memory(signal)
                return
            if kept:
                log.error(
                    "signal %s not delivered: %s; kept in the signal outbox to retry every %g s (%d waiting)",
                    signal.id,
                    exc,
                    RETRY_EVERY_SECONDS,
                    self._outbox_entries,
                )
                return
            self.signals_dropped += 1
            if self.metrics is not None:
                self.metrics.signal_dropped()
            log.error(
                "signal %s not delivered (%s) and not kept: the signal outbox %s is full (%d signals, limits "
                "gateway.signal_outbox_max_entries = %d, signal_outbox_max_bytes = %d; the oldest are kept); "
                "%d dropped by this worker, each in the audit log (kind gateway.signal)",
                signal.id,
                exc,
                self._outbox.path,
                self._outbox_entries,
                self._outbox.max_entries,
                self._outbox.max_bytes,
                self.signals_dropped,
            )
            return
        self._keep_in_memory(signal)
        log.error(
            "signal %s not delivered: %s; kept to retry every %g s (%d waiting)",
            signal.id,
            exc,
            RETRY_EVERY_SECONDS,
            len(self._undelivered),
        )

    def _keep_in_memory(self, signal: Signal) -> None:
        if len(self._undelivered) >= RETRY_LIMIT:
            self._undelivered.popleft()
        if not self._undelivered and self._outbox is None:
            self._last_retry = self._clock()  # the first retry a whole interval later
        self._undelivered.append(signal)

    def _emit(self, signal: Signal) -> None:
        try:
            self._signals.emit(signal)
        except SignalDeliveryError as exc:
            self.failures += 1
            self._keep(signal, exc)
        try:
            self._append(
                kind="gateway.signal",
                actor="gateway",
                region=signal.region,
                meta={"signal": signal.model_dump(mode="json")},
                at=self._clock(),
            )
        except Exception as exc:
            self.failures += 1
            sink = self._sink(signal.region)
            if _is_io_error(exc):
                self._write_failed(signal.region, sink, exc)
                self._lose(signal.region, sink, "gateway.signal", self._clock())
            else:
                log.error("the audit record of signal %s could not be written (%s)", signal.id, _failure_reason(exc))

    def _handle(self, item: Exchange | Signal) -> None:
        self._dirty = True
        if isinstance(item, Signal):
            self._emit(item)
            return
        # Each step on its own: an exchange that cannot be audited whole (a payload the log refuses) must
        # still raise its leak signal and count in the volume series, or it would be invisible.
        self._audit_exchange(item)
        try:
            signal = leak_signal(item)
            if signal is not None:
                self._emit(signal)
        except Exception:
            self.failures += 1
            log.exception("the leak signal of an exchange on %s could not be emitted", item.route)
        if self._monitor is not None:
            values = {
                "requests": 1.0,
                "prompt_bytes": float(item.prompt_bytes),
                "response_bytes": float(item.response_bytes),
                "hits": float(len(item.hits)),
            }
            self._monitor.record(
                current_minute(item.at), (edge_series(item.country, item.pop), f"key:{item.client}"), values
            )

    def _audit_exchange(self, item: Exchange) -> None:
        """The exchange's record; if the log refuses it, the same record without its payload, noting why."""
        meta = exchange_meta(item)
        try:
            self._append(
                kind="gateway.exchange",
                actor=f"gateway:{item.client}",
                region=item.region,
                payload={
                    "prompt": item.prompt,
                    "response": item.response_text,
                    "upstream_response": item.upstream_text,
                },
                meta=meta,
                at=item.at,
            )
            return
        except AuditIOError as exc:
            # The sink cannot write (tried twice): the payload is not the problem, the record is lost.
            self.failures += 1
            sink = self._sink(item.region)
            self._write_failed(item.region, sink, exc)
            self._lose(item.region, sink, "gateway.exchange", item.at)
            return
        except Exception as exc:
            self.failures += 1
            sink = self._sink(item.region)
            if _is_io_error(exc) and sink.failing_since is not None:
                self._write_failed(item.region, sink, exc)
                self._lose(item.region, sink, "gateway.exchange", item.at)
                return  # the outage's line says it; one per record would flood the log
            reason = _failure_reason(exc)
        # The exception's text is not logged unless it is leakline's own: it may quote the payload.
        log.error(
            "the audit record of an exchange on %s (client %s, status %d) could not be written with its payload "
            "(%s); writing it without the payload",
            item.route,
            item.client,
            item.status,
            reason,
        )
        meta = {**meta, "model": None if item.model is None else item.model[:200], "payload_not_recorded": reason}
        try:
            self._append(
                kind="gateway.exchange", actor=f"gateway:{item.client}", region=item.region, meta=meta, at=item.at
            )
        except Exception as exc:
            if _is_io_error(exc):
                sink = self._sink(item.region)
                self._write_failed(item.region, sink, exc)
                self._lose(item.region, sink, "gateway.exchange", item.at)
                if sink.failing_since is not None:
                    return  # the outage's line says it; one per record would flood the log
            log.error(
                "the audit record of an exchange on %s (client %s, status %d) could not be written at all (%s)",
                item.route,
                item.client,
                item.status,
                _failure_reason(exc),
            )

    def _maybe_retry(self) -> None:
        """Every RETRY_EVERY_SECONDS, and at once when the thread starts: deliver the outbox's entries (any
        worker's), then those kept in memory, oldest first, until one fails again (the rest wait for the
        next round; one log line per outage, not per attempt). Not audited again."""
        if self._outbox is None and not self._undelivered:
            return
        if self._clock() - self._last_retry < RETRY_EVERY_SECONDS:
            return
        self._last_retry = self._clock()
        if self._outbox is not None and self._replay(self._outbox):
            return
        delivered = 0
        while self._undelivered:
            try:
                self._signals.emit(self._undelivered[0])
            except SignalDeliveryError:
                break
            self._undelivered.popleft()
            delivered += 1
        if delivered:
            log.info("%d signal(s) delivered on retry", delivered)

    def _replay(self, outbox: SignalOutbox) -> bool:
        """One round over the outbox; True when the round ended early (the sink failed again, or more is
        left for the next round), so that the signals kept in memory wait too."""
        delivered, failed, more = 0, False, False
        try:
            self._observe_outbox()
            if not self._outbox_entries:
                return False
            for _ in range(REPLAY_BATCHES_PER_ROUND):
                batch = outbox.claim()
                if not batch:
                    break
                done: list[int] = []
                waiting: list[int] = []
                for index, item in enumerate(batch):
                    try:
                        self._signals.emit(item.signal)
                    except SignalDeliveryError as exc:
                        if exc.status not in REFUSED_FOR_GOOD:
                            failed = True
                            waiting = [rest.seq for rest in batch[index:]]
                            break
                        # Sent again it would be refused again, and block every entry behind it.
                        outbox.reject(item.seq, f"the receiver refused it: {exc}")
                        continue
                    done.append(item.seq)
                outbox.settle(done, waiting)
                delivered += len(done)
                if failed:
                    break
            else:
                more = True
            self._observe_outbox()
        except sqlite3.Error as exc:
            self.failures += 1
            if not self._outbox_broken:
                log.error("signal outbox %s cannot be read (%s); tried again every %g s", outbox.path, exc,
                          RETRY_EVERY_SECONDS)  # fmt: skip
            self._outbox_broken = True
            return False  # what waits in memory does not depend on the file
        self._outbox_broken = False
        if delivered:
            log.info("%d signal(s) delivered from the signal outbox (%d waiting)", delivered, self._outbox_entries)
        if more:
            # Cut short only to let the queued exchanges through: the next round comes at once.
            self._last_retry = self._clock() - RETRY_EVERY_SECONDS
        return failed or more

    def _maybe_evaluate(self) -> None:
        if self._monitor is None:
            return
        now = self._clock()
        if now - self._last_eval < EVALUATE_EVERY_SECONDS:
            return
        self._last_eval = now
        try:
            anomalies = self._monitor.evaluate(current_minute(now))
        except Exception:
            self.failures += 1
            log.exception("volume evaluation failed")
            return
        for anomaly in anomalies:
            self._emit(anomaly_signal(anomaly))


def _failure_reason(exc: BaseException, *, with_text: bool = False) -> str:
    """Why an append failed: leakline's own message (it names no payload), else the exception's class
    (`with_text`: an OSError's own text too, which names a file at most)."""
    from leakline.errors import LeaklineError

    if isinstance(exc, LeaklineError):
        return f"{type(exc).__name__}: {(exc.message.splitlines() or [''])[0][:300]}"
    if with_text and isinstance(exc, OSError):
        return f"{type(exc).__name__}: {exc}"[:300]
    return type(exc).__name__


def _free_bytes(path: Any) -> int | None:
    """What the audit log may still write under `path` (None if the OS cannot say)."""
    try:
        fs = os.statvfs(path)
    except OSError:
        return None
    blocks = fs.f_bfree if os.geteuid() == 0 else fs.f_bavail  # root may write into the reserved blocks
    return blocks * fs.f_frsize


def _is_io_error(exc: BaseException) -> bool:
    """A sink that cannot write (full disk, I/O error, a directory gone), as opposed to a record refused."""
    return isinstance(exc, (AuditIOError, OSError))


def _os_error(exc: BaseException) -> str:
    """The OS's words for a failed write, without any path (the reason `/readyz` shows)."""
    cause = exc if isinstance(exc, OSError) else exc.__cause__
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror
    return type(exc).__name__


def _errno(exc: BaseException) -> int | None:
    cause = exc if isinstance(exc, OSError) else exc.__cause__
    return cause.errno if isinstance(cause, OSError) else None


def _sink_name(region: str | None) -> str:
    return "[audit] path (records without a region)" if region is None else f"of region {region!r}"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _lost_text(lost: dict[str, int]) -> str:
    if not lost:
        return "no record lost"
    parts = [f"{count} {kind} record(s)" for kind, count in sorted(lost.items())]
    return f"{' and '.join(parts)} lost"


def exchange_meta(item: Exchange) -> dict[str, Any]:
    """An exchange record's clear metadata: no text of the prompt or the answers."""
    return {
        "route": item.route,
        "client": item.client,
        "client_key": item.client_key,
        "model": item.model,
        "status": item.status,
        "stream": item.stream,
        "country": item.country,
        "pop": item.pop,
        "prompt_bytes": item.prompt_bytes,
        "response_bytes": item.response_bytes,
        "scanned_bytes": item.scanned_bytes,
        "invisible_removed": item.invisible_removed,
        "detector_versions": item.detector_versions,
        "hits": [h.to_meta() for h in item.hits],
        "prompt_hits": [h.to_meta() for h in item.prompt_hits],
        "blocked": item.blocked,
        "error": item.error,
    }
