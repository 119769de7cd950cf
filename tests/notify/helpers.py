"""Shared steps of the delivery tests: a runtime on a test env, opening incidents, worker passes at chosen times."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select

from leakline.config import load_settings
from leakline.incidents import service
from leakline.incidents.runtime import Runtime, start
from leakline.notify.models import Communication, OutboxMessage
from leakline.notify.worker import PassReport, run
from leakline.obligations import parse_facts
from leakline.store.engine import forget_store
from tests.incidents.helpers import FACTS
from tests.store.helpers import Env

T0 = datetime.now(UTC).replace(microsecond=0)
RECENT_FACTS = dict(FACTS, aware_at=(T0 - timedelta(minutes=30)).isoformat())
"""The shared facts, aware half an hour before T0: T0 is the real clock (leases, SMTP dates), so a fixed
awareness date would put the 24 h and 72 h deadlines behind T0 a day after it was written."""


@contextmanager
def runtime(env: Env) -> Iterator[Runtime]:
    rt = start(load_settings(env.config))
    try:
        yield rt
    finally:
        rt.recorder.close()
        forget_store(rt.store.url)


def open_incident(rt: Runtime, *, now: datetime = T0, facts: dict[str, Any] | None = None, **kwargs: Any) -> str:
    with rt.store.transaction() as session:
        incident = service.open_incident(
            session,
            rt.settings,
            recorder=rt.recorder,
            facts=parse_facts(facts or RECENT_FACTS, source="test"),
            title="Chat leak",
            actor="test",
            now=now,
            **kwargs,
        )
        return incident.id


def worker_pass(rt: Runtime, now: datetime, owner: str = "w1") -> PassReport:
    return asyncio.run(run(rt.store, rt.settings, recorder=rt.recorder, once=True, clock=lambda: now, owner=owner))


def comms(rt: Runtime, incident_id: str) -> list[Communication]:
    with rt.store.transaction() as session:
        return list(
            session.scalars(
                select(Communication)
                .where(Communication.incident_id == incident_id)
                .order_by(Communication.created_at, Communication.id)
            )
        )


def states(rt: Runtime, incident_id: str) -> dict[tuple[str, str, str], str]:
    """(kind, recipient, channel) → state, for messages that are not escalation copies."""
    return {(c.kind, c.recipient, c.channel): c.state for c in comms(rt, incident_id) if c.escalation_level == 0}


def outbox_rows(rt: Runtime) -> list[OutboxMessage]:
    with rt.store.transaction() as session:
        return list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)))
