"""The transactional outbox: claiming due messages under a lease, marking them sent, retrying, dead letters.

Rows are claimed in a short transaction (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so concurrent workers
take disjoint rows without waiting; SQLite: the transaction is `BEGIN IMMEDIATE`, so claims serialise).
A claim stamps the row with the worker's id and a lease expiry; a row whose lease expired (its worker
died mid-send) is claimable again. Marking sent is fenced by the lease owner: a worker that lost its
lease changes nothing, and the new owner redelivers with the same idempotency key. Delivery is thus
at-least-once; receivers drop duplicates by key (SMTP `Message-ID`, HTTP `Idempotency-Key`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from leakline.incidents.models import Incident
from leakline.incidents.timeline import Recorder, note
from leakline.notify.channels import Outgoing
from leakline.notify.drafting import DATA_SUBJECT_KINDS, evidence, obligation_of
from leakline.notify.models import CommState, Communication, OutboxMessage, OutboxState

WORKER_ACTOR = "worker"


@dataclass(frozen=True, slots=True)
class Claimed:
    outbox_id: int
    owner: str
    attempt: int
    channel: str
    message: Outgoing
    audience: str = ""
    """Who it is for, fit for logs (no personal data): the authority's name, "data subjects", or the internal
    contact's role."""


def audience(session: Session, comm: Communication) -> str:
    """Who a message is for, without personal data: the authority the obligation names, "data subjects"
    for the people affected (never their address), the role of an internal contact (never their name)."""
    if comm.kind in DATA_SUBJECT_KINDS:
        return "data subjects"
    if not comm.needs_approval:
        # Internal alerts, reminders about an obligation among them.
        return f"internal {comm.role}"
    incident = session.get(Incident, comm.incident_id)
    obligation = None if incident is None else obligation_of(incident, comm)
    if obligation is None or not obligation.get("authority"):
        return f"{comm.recipient} {comm.jurisdiction or ''}".strip()
    return str(obligation["authority"])


def backoff(attempt: int, *, base_seconds: float, max_seconds: float) -> timedelta:
    """Delay before retry number `attempt` + 1: base, 2 x base, 4 x base, ... capped."""
    return timedelta(seconds=min(max_seconds, base_seconds * 2 ** max(0, attempt - 1)))


def claim(session: Session, *, owner: str, now: datetime, lease: timedelta, limit: int) -> list[Claimed]:
    """Lease up to `limit` due messages to `owner` (commit the session right after, before sending)."""
    due = or_(
        and_(OutboxMessage.state == OutboxState.PENDING, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.state == OutboxState.LEASED, OutboxMessage.lease_expires_at <= now),
    )
    query = select(OutboxMessage).where(due).order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(limit)
    if session.get_bind().dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    claimed = []
    for row in session.scalars(query).all():
        row.state = OutboxState.LEASED
        row.lease_owner = owner
        row.lease_expires_at = now + lease
        row.attempts += 1
        comm = session.get(Communication, row.communication_id)
        if comm is None:  # the foreign key makes this impossible; skip rather than crash a worker
            continue
        claimed.append(
            Claimed(
                outbox_id=row.id,
                owner=owner,
                attempt=row.attempts,
                channel=comm.channel,
                audience=audience(session, comm),
                message=Outgoing(
                    communication_id=comm.id,
                    incident_id=comm.incident_id,
                    idempotency_key=row.idempotency_key,
                    kind=comm.kind,
                    to=comm.to,
                    subject=comm.subject,
                    body=comm.body,
                    language=comm.language,
                ),
            )
        )
    return claimed


def _fenced(session: Session, claimed: Claimed, values: dict[str, object]) -> bool:
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.id == claimed.outbox_id,
            OutboxMessage.lease_owner == claimed.owner,
            OutboxMessage.state == OutboxState.LEASED,
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0) == 1)


def mark_sent(
    session: Session, *, recorder: Recorder, claimed: Claimed, now: datetime, ack_after: timedelta | None
) -> bool:
    """Record a delivery; False when the lease was lost (the new owner will deliver and record it)."""
    if not _fenced(session, claimed, {"state": OutboxState.SENT, "sent_at": now, "lease_expires_at": None}):
        return False
    comm = session.get(Communication, claimed.message.communication_id)
    if comm is not None:
        comm.state = CommState.SENT
        comm.sent_at = now
        comm.ack_due_at = now + ack_after if ack_after is not None else None
        note(
            session,
            recorder=recorder,
            incident_id=comm.incident_id,
            at=now,
            actor=WORKER_ACTOR,
            event="message.sent",
            detail=f"{comm.id}: delivered via {comm.channel} (attempt {claimed.attempt})",
            # The digests are of the text handed to the channel, which is what the recipient got.
            data={
                **evidence(comm, subject=claimed.message.subject, body=claimed.message.body),
                "attempt": claimed.attempt,
            },
        )
    return True


def mark_failed(
    session: Session,
    *,
    recorder: Recorder,
    claimed: Claimed,
    error: str,
    now: datetime,
    max_attempts: int,
    base_seconds: float,
    max_seconds: float,
) -> Communication | None:
    """Schedule a retry, or dead-letter the message; returns the communication when it was dead-lettered."""
    if claimed.attempt >= max_attempts:
        if not _fenced(session, claimed, {"state": OutboxState.DEAD, "last_error": error, "lease_expires_at": None}):
            return None
        comm = session.get(Communication, claimed.message.communication_id)
        if comm is None:
            return None
        comm.state = CommState.FAILED
        note(
            session,
            recorder=recorder,
            incident_id=comm.incident_id,
            at=now,
            actor=WORKER_ACTOR,
            event="message.dead-letter",
            detail=f"{comm.id}: gave up after {claimed.attempt} attempts via {comm.channel}: {error}",
            data={"communication": comm.id, "attempts": claimed.attempt},
        )
        return comm
    retry_at = now + backoff(claimed.attempt, base_seconds=base_seconds, max_seconds=max_seconds)
    _fenced(
        session,
        claimed,
        {"state": OutboxState.PENDING, "last_error": error, "next_attempt_at": retry_at, "lease_expires_at": None},
    )
    return None
