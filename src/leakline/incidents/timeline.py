"""The timeline: every change to an incident, written to its table and to the audit log together.

`Recorder` is the plug point to the audit log (one abstract method). `note()` adds the timeline row in
the caller's transaction and appends the same event to the audit log; the audit payload (encrypted) may
carry detail, the clear metadata only ids and the event name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from leakline.incidents.models import TimelineEntry

if TYPE_CHECKING:
    from leakline.audit.sinks import AuditRouter

AUDIT_KIND_PREFIX = "incident."


class Recorder(ABC):
    """Where incident events go besides the database."""

    @abstractmethod
    def record(self, *, event: str, actor: str, incident: str, detail: Mapping[str, Any]) -> None:
        """Record one event; raise if it could not be recorded (the caller's transaction then rolls back)."""


class AuditRecorder(Recorder):
    """Appends every incident event to leakline's encrypted, hash-chained audit log."""

    def __init__(self, router: AuditRouter) -> None:
        self.router = router

    def record(self, *, event: str, actor: str, incident: str, detail: Mapping[str, Any]) -> None:
        self.router.append(
            kind=AUDIT_KIND_PREFIX + event, actor=actor, incident=incident, payload=dict(detail), meta={"event": event}
        )

    def flush(self) -> None:
        self.router.flush()

    def close(self) -> None:
        self.router.close()


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
    """One timeline entry, in the session's transaction, and the same event in the audit log."""
    session.add(TimelineEntry(incident_id=incident_id, at=at, actor=actor, event=event, detail=detail))
    recorder.record(event=event, actor=actor, incident=incident_id, detail={"detail": detail, **(data or {})})
