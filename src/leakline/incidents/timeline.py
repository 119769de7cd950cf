"""The timeline: every change to an incident, written to its table and to the audit log once it commits.

`Recorder` is the plug point to the audit log. `note()` adds the timeline row in the caller's
transaction and keeps the same event on the session; the events go to the recorder only once that
transaction has committed, and are dropped when it rolls back, so the tamper-evident log never claims a
change the database does not hold (a rollback after an error, a lost insert race, a once-only mark that
another worker took first). Before the commit each recorder is made `ready()`: a log that cannot be
opened (a missing or unreadable key) still rolls the change back. The audit payload (encrypted) may
carry detail, the clear metadata only ids and the event name.
"""

from __future__ import annotations

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


class Recorder(ABC):
    """Where incident events go besides the database."""

    @abstractmethod
    def record(self, *, event: str, actor: str, incident: str, detail: Mapping[str, Any]) -> None:
        """Record one event of a transaction that has committed; raise if it could not be recorded."""

    @abstractmethod
    def ready(self) -> None:
        """Raise if events could not be recorded now; called before the transaction that noted them commits."""


class AuditRecorder(Recorder):
    """Appends every incident event to leakline's encrypted, hash-chained audit log."""

    def __init__(self, router: AuditRouter) -> None:
        self.router = router

    def record(self, *, event: str, actor: str, incident: str, detail: Mapping[str, Any]) -> None:
        self.router.append(
            kind=AUDIT_KIND_PREFIX + event, actor=actor, incident=incident, payload=dict(detail), meta={"event": event}
        )

    def ready(self) -> None:
        # Incident events carry no region: they go to the [audit] path sink. Opening it loads the keys.
        self.router.log_for(None)

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
    # Raising here rolls the transaction back: nothing is stored that the log could not take.
    for recorder in {id(n.recorder): n.recorder for n in session.info.get(_PENDING, ())}.values():
        recorder.ready()


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    for noted in session.info.pop(_PENDING, ()):
        noted.recorder.record(event=noted.event, actor=noted.actor, incident=noted.incident, detail=noted.detail)


@event.listens_for(Session, "after_soft_rollback")
def _after_rollback(session: Session, previous_transaction: SessionTransaction) -> None:
    # Only the events of the transaction (or savepoint) that rolled back are dropped.
    pending = session.info.get(_PENDING)
    if pending:
        pending[:] = [n for n in pending if not _within(n.transaction, previous_transaction)]
