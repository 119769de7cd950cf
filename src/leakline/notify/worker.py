"""The delivery worker: escalations and reminders, then every due outbox message, in passes.

`run_pass` does one pass at one instant (`now`, injectable for tests): deliver what is due, escalate
unacknowledged alerts, send reminders and overdue escalations, then claim due messages (the alerts just
queued among them) in batches, deliver them concurrently through their channels, and record each outcome
in its own transaction. `leakline worker --once` is
one pass; without `--once` passes repeat every `poll_seconds` until interrupted. Any number of workers
may run against one database (see `outbox` for the claim protocol).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from leakline.errors import LeaklineError
from leakline.incidents.timeline import Recorder
from leakline.notify import escalation, outbox
from leakline.notify.channels import Channel, build_channels
from leakline.notify.drafting import APPROVAL_KINDS, iso
from leakline.notify.errors import DeliveryError
from leakline.notify.render import placeholders
from leakline.store.engine import Store

if TYPE_CHECKING:
    from leakline.config import Settings

log = logging.getLogger("leakline.notify.worker")
DEFAULT_BATCH = 50
DEFAULT_CONCURRENCY = 16
DEFAULT_POLL_SECONDS = 1.0
DEFAULT_SCAN_SECONDS = 5.0


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class PassReport:
    sent: int = 0
    retried: int = 0
    dead: int = 0
    lost_leases: int = 0
    escalations: int = 0
    reminders: int = 0

    def __add__(self, other: PassReport) -> PassReport:
        return PassReport(
            self.sent + other.sent,
            self.retried + other.retried,
            self.dead + other.dead,
            self.lost_leases + other.lost_leases,
            self.escalations + other.escalations,
            self.reminders + other.reminders,
        )


async def _attempt(channels: dict[str, Channel], claimed: outbox.Claimed) -> str | None:
    left = placeholders(claimed.message.subject, claimed.message.body)
    if left and claimed.message.kind in APPROVAL_KINDS:
        # Queued before approval checked for them (an older leakline): never deliver it to the recipient.
        return f"refused: its text still has {len(left)} placeholder(s) to complete"
    channel = channels.get(claimed.channel)
    if channel is None:
        return f"channel {claimed.channel!r} is not configured"
    try:
        await channel.deliver(claimed.message)
    except DeliveryError as exc:
        return str(exc)
    return None


def _drafting_failed(what: str, exc: LeaklineError, failures: list[LeaklineError] | None) -> None:
    """A message the worker drafts itself (reminder, escalation, dead-letter alert) could not be rendered.

    Logged and kept for the caller, never raised here: messages already rendered and queued, notices to
    authorities among them, must still go out. The step is retried on the next pass (its mark was not
    written), so it happens once the template is fixed."""
    log.error("%s skipped (deliveries go on): %s", what, exc.message)
    if failures is not None:
        failures.append(exc)


def _described(item: outbox.Claimed) -> str:
    """`msg_… (kind to audience) via channel`: what a log line says of a message, never its address or text."""
    return f"{item.message.communication_id} ({item.message.kind} to {item.audience}) via {item.channel}"


async def deliver_due(
    store: Store,
    settings: Settings,
    *,
    recorder: Recorder,
    channels: dict[str, Channel],
    owner: str,
    now: datetime,
    batch: int = DEFAULT_BATCH,
    concurrency: int = DEFAULT_CONCURRENCY,
    failures: list[LeaklineError] | None = None,
) -> PassReport:
    cfg = settings.channels
    lease = timedelta(seconds=cfg.lease_seconds)
    ack_after = timedelta(minutes=settings.escalation.ack_minutes)
    gate = asyncio.Semaphore(concurrency)
    report = PassReport()

    async def one(claimed: outbox.Claimed) -> tuple[outbox.Claimed, str | None]:
        async with gate:
            return claimed, await _attempt(channels, claimed)

    while True:
        with store.transaction() as session:
            claimed = outbox.claim(session, owner=owner, now=now, lease=lease, limit=batch)
        if not claimed:
            return report
        results = await asyncio.gather(*(one(c) for c in claimed))
        delivered = [item for item, error in results if error is None]
        if delivered:
            # One transaction for the whole batch's successes: each row is still fenced by its lease.
            with store.transaction() as session:
                marked = [
                    outbox.mark_sent(session, recorder=recorder, claimed=item, now=now, ack_after=ack_after)
                    for item in delivered
                ]
            report += PassReport(sent=marked.count(True), lost_leases=marked.count(False))
            for item, ok in zip(delivered, marked, strict=True):
                if ok:
                    log.info("sent %s, attempt %d", _described(item), item.attempt)
                else:
                    log.info("sent %s, attempt %d; another worker took its lease over", _described(item), item.attempt)
        for item, error in results:
            if error is None:
                continue
            with store.transaction() as session:
                dead = outbox.mark_failed(
                    session,
                    recorder=recorder,
                    claimed=item,
                    error=error,
                    now=now,
                    max_attempts=cfg.max_attempts,
                    base_seconds=cfg.backoff_seconds,
                    max_seconds=cfg.backoff_max_seconds,
                )
            if dead is None:
                report += PassReport(retried=1)
                if item.attempt < cfg.max_attempts:
                    delay = outbox.backoff(
                        item.attempt, base_seconds=cfg.backoff_seconds, max_seconds=cfg.backoff_max_seconds
                    )
                    log.warning(
                        "retry %s: attempt %d of %d failed: %s; next attempt at %s",
                        _described(item),
                        item.attempt,
                        cfg.max_attempts,
                        error,
                        iso(now + delay),
                    )
            else:
                report += PassReport(dead=1)
                log.error(
                    "failed %s: gave up after %d attempts: %s; the compliance contacts are alerted",
                    _described(item),
                    item.attempt,
                    error,
                )
                try:
                    escalation.alert_dead_letter(store, settings, recorder=recorder, now=now, comm=dead)
                except LeaklineError as exc:
                    _drafting_failed(f"the dead-letter alert for {dead.id}", exc, failures)


async def run_pass(
    store: Store,
    settings: Settings,
    *,
    recorder: Recorder,
    channels: dict[str, Channel],
    owner: str,
    now: datetime | None = None,
    scan: bool = True,
    failures: list[LeaklineError] | None = None,
) -> PassReport:
    """Every due delivery, escalations and reminders (when `scan`), then the deliveries they made due,
    all as of `now`.

    A message the pass cannot draft (a user template that fails) is logged and appended to `failures`;
    the rest of the pass, deliveries above all, goes on."""
    moment = now or utcnow()
    report = PassReport()
    if scan:
        # Deliver first: a notice queued since the last pass is then sent, not reported overdue to the whole
        # chain; the alerts the scans queue go out below, in the same pass.
        report += await deliver_due(
            store, settings, recorder=recorder, channels=channels, owner=owner, now=moment, failures=failures
        )
        try:
            report += PassReport(
                escalations=escalation.escalate_unacknowledged(store, settings, recorder=recorder, now=moment)
            )
        except LeaklineError as exc:
            _drafting_failed("escalation of unacknowledged alerts", exc, failures)
        try:
            report += PassReport(reminders=escalation.remind_deadlines(store, settings, recorder=recorder, now=moment))
        except LeaklineError as exc:
            _drafting_failed("deadline reminders", exc, failures)
    return report + await deliver_due(
        store, settings, recorder=recorder, channels=channels, owner=owner, now=moment, failures=failures
    )


async def run(
    store: Store,
    settings: Settings,
    *,
    recorder: Recorder,
    once: bool,
    clock: Callable[[], datetime] = utcnow,
    poll_seconds: float = DEFAULT_POLL_SECONDS,
    scan_seconds: float = DEFAULT_SCAN_SECONDS,
    stop: asyncio.Event | None = None,
    owner: str | None = None,
    failures: list[LeaklineError] | None = None,
) -> PassReport:
    """One pass (`once`) or passes until `stop` is set; returns the totals (drafting failures, which do
    not stop the passes, are appended to `failures`).

    Deliveries are polled every `poll_seconds`; the escalation and reminder scans, whose deadlines are
    minutes and hours apart, run every `scan_seconds` so that they do not slow the delivery path.
    """
    import aiohttp

    me = owner or worker_id()
    total = PassReport()
    timeout = aiohttp.ClientTimeout(total=settings.channels.http_timeout_seconds)
    last_scan = -math.inf
    async with aiohttp.ClientSession(timeout=timeout) as session:
        channels = build_channels(settings, session)
        if once:
            log.info("worker %s started: one pass over everything due now", me)
        else:
            log.info(
                "worker %s started: deliveries every %g s, escalations and reminders every %g s",
                me,
                poll_seconds,
                scan_seconds,
            )
        while True:
            scan = time.monotonic() - last_scan >= scan_seconds
            if scan:
                last_scan = time.monotonic()
            total += await run_pass(
                store,
                settings,
                recorder=recorder,
                channels=channels,
                owner=me,
                now=clock(),
                scan=scan,
                failures=failures,
            )
            if once or (stop is not None and stop.is_set()):
                return total
            try:
                await asyncio.wait_for((stop or asyncio.Event()).wait(), timeout=poll_seconds)
            except TimeoutError:
                continue
            return total
