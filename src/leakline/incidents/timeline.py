"""The timeline: every change to an incident, written to its table and to the audit log as it commits.

`Recorder` is the plug point to the audit log. `note()` adds the timeline row in the caller's
transaction and keeps the same event on the session. When the outermost transaction commits, the
session is flushed first (a constraint the change breaks fails there, before anything is recorded) and
then the events are appended, before the database's COMMIT: an event that cannot be recorded (a missing
key, a full disk) rolls the change back, so the database never holds a change its tamper-evident log does
not. Events of a transaction or savepoint that rolls back before that point are dropped; if the COMMIT
itself fails after the append (a lost connection, a serialization failure), an `incident.rolled_back`
record names the events that did not happen. The audit payload (encrypted) may carry detail, the clear
metadata only ids and the event name.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction

from leakline.incidents.models import TimelineEntry

if TYPE_CHECKING:
    from leakline.audit.sinks import AuditRouter

AUDIT_KIND_PREFIX = "incident."
_PENDING = "leakline.timeline.pending"
"""`Session.info` key of the events noted in the session's open transaction, not yet recorded."""
_RECORDED = "leakline.timeline.recorded"
"""`Session.info` key of the events recorded for a COMMIT that has not completed yet."""
_COMMITTING = "leakline.timeline.committing"
"""`Session.info` key set while the outermost transaction, whose events were recorded, commits."""
ROLLED_BACK = "rolled_back"
"""The event (audit kind `incident.rolled_back`) naming recorded events whose COMMIT failed."""
_log = logging.getLogger(__name__)


class Recorder(ABC):
    """Where incident events go besides the database."""

    @abstractmethod
    def record(self, *, event: str, actor: str, incident: str, detail: Mapping[str, Any]) -> int | None:
        """Record one event of a transaction about to commit (its sequence number, if the recorder has them);
        raise if it could not be recorded: the transaction then rolls back."""


class AuditRecorder(Recorder):
    """Appends every incident event to leakline's encrypted, hash-chained audit log."""

    def __init__(self, router: AuditRouter) -> None:
        self.router = router

    def record(self, *, event: str, actor: str, incident: str, detail: Mapping[str, Any]) -> int | None:
        # Incident events carry no region: they go to the [audit] path sink.
        return self.router.append(
            kind=AUDIT_KIND_PREFIX + event, actor=actor, incident=incident, payload=dict(detail), meta={"event": event}
        )

    def flush(self) -> None:
        self.router.flush()

    def close(self) -> None:
        self.router.close()


@dataclass(frozen=True)
class _Noted:
    recorder: Recorder
    transaction: SessionTransaction | None
    event: str
    actor: str
    incident: str
    detail: dict[str, Any]


def note(
    session: Session,
    *,
    recorder: Recorder,
    incident_id: str,
    at: datetime,
    actor: str,
    event: str,
    detail: str,
    data: Mapping[str, Any] | None = None,
) -> None:
    """One timeline entry in the session's transaction; the same event goes to `recorder` once it commits."""
    session.add(TimelineEntry(incident_id=incident_id, at=at, actor=actor, event=event, detail=detail))
    noted = _Noted(
        recorder,
        session.get_nested_transaction() or session.get_transaction(),
        event,
        actor,
        incident_id,
        {"detail": detail, **(data or {})},
    )
    session.info.setdefault(_PENDING, []).append(noted)


def _within(transaction: SessionTransaction | None, ended: SessionTransaction) -> bool:
    if transaction is None:
        return True  # noted outside a transaction: it belongs to whichever ends first
    while transaction is not None:
        if transaction is ended:
            return True
        transaction = transaction.parent
    return False


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return  # a savepoint released: its events commit (or not) with the transaction around it
    pending: list[_Noted] = session.info.get(_PENDING, [])
    if not pending:
        return
    session.info[_COMMITTING] = True
    # What the change breaks (a foreign key, a unique index) fails here, before anything is recorded.
    session.flush()
    recorded: list[tuple[_Noted, int | None]] = session.info.setdefault(_RECORDED, [])
    while pending:
        noted = pending.pop(0)
        # Raising rolls the transaction back: nothing is stored that the log could not take.
        seq = noted.recorder.record(event=noted.event, actor=noted.actor, incident=noted.incident, detail=noted.detail)
        recorded.append((noted, seq))


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    # Also called when a savepoint is released: only the outermost COMMIT, which recorded them, ends them.
    if session.info.pop(_COMMITTING, False):
        session.info.pop(_PENDING, None)
        session.info.pop(_RECORDED, None)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # Only the events of the transaction (or savepoint) that rolled back are dropped.
    pending = session.info.get(_PENDING)
    if pending:
        pending[:] = [n for n in pending if not _within(n.transaction, previous_transaction)]
    if previous_transaction.parent is None:
        session.info.pop(_COMMITTING, None)
        _mark_rolled_back(session.info.pop(_RECORDED, []))


def _mark_rolled_back(recorded: list[tuple[_Noted, int | None]]) -> None:
    """Events appended for a COMMIT that then failed: one record per incident says they did not happen."""
    by_incident: dict[tuple[int, str], list[tuple[_Noted, int | None]]] = {}
    for noted, seq in recorded:
        by_incident.setdefault((id(noted.recorder), noted.incident), []).append((noted, seq))
    for items in by_incident.values():
        first = items[0][0]
        detail = {
            "detail": "the database transaction of these events rolled back after they were recorded",
            "events": [noted.event for noted, _ in items],
            "records": [seq for _, seq in items if seq is not None],
        }
        try:
            first.recorder.record(event=ROLLED_BACK, actor=first.actor, incident=first.incident, detail=detail)
        except Exception:  # a rollback must finish; the log says what it could not mark
            _log.error(
                "audit: %d record(s) of incident %s describe changes that rolled back and could not be marked so",
                len(items), first.incident,
            )  # fmt: skip
