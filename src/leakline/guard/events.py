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

import logging
import sqlite3
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

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
RETRY_LIMIT = 10_000
"""Signals kept in memory for retry at most (no outbox, or it cannot be written); beyond it the oldest are
given up (each is in the audit log anyway)."""
_STOP = object()


@dataclass(frozen=True)
class _Drain:
    """A marker: set `done` once every event queued before it is handled and the audit log flushed."""

    done: threading.Event = field(default_factory=threading.Event)


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
            raise GatewayConfigError(
                f"{source}: {key}: cannot open the audit log in {exc.filename} ({exc.strerror})"
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
                self._thread = threading.Thread(target=self._run, name="leakline-guard-events", daemon=True)
                self._thread.start()

    def open(self, regions: list[str], *, source: str = "leakline.toml") -> None:
        """Open the audit sinks of these regions (and the one without a region) and the volume store now,
        so that a wrong audit key or an unwritable directory stops the start-up, not the first record.
        Errors are `GatewayConfigError`s naming the leakline.toml key at fault (see `open_audit_sinks`)."""
        from leakline.guard.errors import GatewayConfigError

        # Regions need [audit.sinks.R] (check_gateway_settings): their audit is always configured.
        open_audit_sinks(self._audit, regions, source=source)
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
        self._audit.close()

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
            self._maybe_evaluate()
            self._maybe_retry()

    def _flush_audit(self) -> None:
        self._last_flush = self._clock()
        self._dirty = False
        try:
            self._audit.flush()
        except Exception:
            self.failures += 1
            log.exception("audit flush failed")

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
            self._audit.append(
                kind="gateway.signal",
                actor="gateway",
                region=signal.region,
                meta={"signal": signal.model_dump(mode="json")},
            )
        except Exception:
            self.failures += 1
            log.exception("audit of signal %s failed", signal.id)

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
            self._audit.append(
                kind="gateway.exchange",
                actor=f"gateway:{item.client}",
                region=item.region,
                payload={
                    "prompt": item.prompt,
                    "response": item.response_text,
                    "upstream_response": item.upstream_text,
                },
                meta=meta,
            )
            return
        except Exception as exc:
            self.failures += 1
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
            self._audit.append(
                kind="gateway.exchange", actor=f"gateway:{item.client}", region=item.region, payload=None, meta=meta
            )
        except Exception as exc:
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


def _failure_reason(exc: BaseException) -> str:
    """Why an append failed: leakline's own message (it names no payload), else the exception's class."""
    from leakline.errors import LeaklineError

    if isinstance(exc, LeaklineError):
        return f"{type(exc).__name__}: {(exc.message.splitlines() or [''])[0][:300]}"
    return type(exc).__name__


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
