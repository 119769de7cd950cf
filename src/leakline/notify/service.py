"""Approval, sending and acknowledgement of communications (keyword-only functions over a session).

Approving records who and when; sending puts approved (or approval-free) messages in the outbox in the
same transaction as their state change; a message delivered outside leakline is recorded as delivered
the way the worker records a channel delivery; acknowledging an internal alert stops its escalation,
and applies to every channel the same alert went out on.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from leakline.incidents.models import Incident, Status
from leakline.incidents.service import open_for_change
from leakline.incidents.timeline import Recorder, note
from leakline.notify.drafting import NO_CHANNEL, enqueue, evidence, iso, note_message, obligation_of, rerender
from leakline.notify.errors import (
    ApprovalRequired,
    CommunicationNotFound,
    InvalidCommunicationState,
    NoRoute,
    PlaceholderLeft,
)
from leakline.notify.models import CommState, Communication, OutboxMessage, OutboxState
from leakline.notify.render import placeholders

if TYPE_CHECKING:
    from leakline.config import Settings

# The facts fields (docs/assess.md) that fill each kind's placeholders, for the refusal's hint: (field, what
# to give, the words on the placeholder's line that say the field is needed there, or None when any
# placeholder of the kind needs it while the facts lack it).
_FIELDS: dict[str, tuple[tuple[str, str, str | None], ...]] = {
    "supervisory-authority": (
        ("data.subject_categories", 'who the people are, e.g. ["customers"]', None),
        # Only in a notice made more than 72 hours after awareness (its line names the 72 hours).
        ("delay_reasons", "why the notice comes more than 72 hours after awareness", "72"),
    ),
    "data-subject-us": (
        ("law_enforcement_delay", "true or false", None),
        # Only when government ids leaked (its line offers 12 months of identity protection).
        ("identity_protection_enrolment", "how the people enrol in identity protection", "12"),
    ),
}
_FIELDS["us-sample-copy"] = _FIELDS["data-subject-us"]
_US_FIELDS = "law_enforcement_delay (true or false) and, when government ids leaked, identity_protection_enrolment"
_FILLED_BY = {
    "supervisory-authority": "data.subject_categories (who the people are) and, for a notice made more than "
    "72 hours after awareness, delay_reasons",
    "data-subject-us": _US_FIELDS,
    "us-sample-copy": _US_FIELDS,
}


def _given(facts: dict[str, Any], field: str) -> bool:
    node: Any = facts
    for part in field.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node is not None and node != []


def placeholder_fields(kind: str, *, subject: str, body: str, facts: dict[str, Any] | None) -> list[str]:
    """The facts fields that would fill a text's placeholders, each with what to give (`delay_reasons (why
    …)`): those the facts lack among the kind's fields, a conditional one only when a placeholder is on
    its line. Empty when the text has none, or when none of them explains it (an override's own)."""
    if not placeholders(subject, body):
        return []
    lines = [line for line in f"{subject}\n{body}".splitlines() if placeholders(line)]
    return [
        f"{field} ({what})"
        for field, what, marker in _FIELDS.get(kind, ())
        if not _given(facts or {}, field) and (marker is None or any(marker in line for line in lines))
    ]


def _facts_of(session: Session, incident_id: str) -> dict[str, Any] | None:
    from leakline.incidents.service import current_facts

    incident = session.get(Incident, incident_id)
    return None if incident is None else current_facts(session, incident)


def changeable_communication(session: Session, *, incident_id: str, communication_id: str) -> Communication:
    """A message of an incident that is still open (approving, sending and acknowledging are changes)."""
    # The incident first: a mistyped incident id is named as such, not blamed on the message id.
    open_for_change(session, incident_id=incident_id)
    comm = session.get(Communication, communication_id)
    if comm is None or comm.incident_id != incident_id:
        raise CommunicationNotFound(
            f"incident {incident_id} has no communication {communication_id!r}",
            hint=f"`leakline incident show {incident_id}` lists its communications",
        )
    return comm


def _refuse_withdrawn(comm: Communication) -> None:
    if comm.withdrawn:
        raise InvalidCommunicationState(f"{comm.id} was withdrawn: its duty no longer arises")


def refuse_placeholders(
    comm: Communication, *, incident_id: str, action: str, facts: dict[str, Any] | None = None
) -> None:
    """Fail closed: a text that still asks its approver to complete it is never approved nor queued. The
    hint names the facts fields to set: those `facts` (the current ones) lack, else every field of the kind."""
    left = placeholders(comm.subject, comm.body)
    if not left:
        return
    named = placeholder_fields(comm.kind, subject=comm.subject, body=comm.body, facts=facts) if facts else []
    fields = " and ".join(named) or _FILLED_BY.get(comm.kind)
    where = f"set {fields} in the facts (docs/assess.md)" if fields else "give the facts it asks for"
    raise PlaceholderLeft(
        f"{comm.id} ({comm.kind} to {comm.recipient}, {comm.jurisdiction or 'internal'}) cannot be {action}: "
        f"its text still has {len(left)} placeholder{'s' if len(left) != 1 else ''} to complete: " + "; ".join(left),
        hint=f"{where}, then `leakline incident facts {incident_id} --facts FILE` drafts it again without them",
    )


def _date_at_approval(session: Session, settings: Settings, *, comm: Communication, now: datetime) -> None:
    """Render the notice again as of its approval, so that the date it gives for itself ("this notification")
    is when it was approved, not when it was drafted; what is stored is then exactly what is sent.

    Only the date may change: if the draft's own moment no longer gives the stored words (the status,
    facts or a template changed since), the person would approve words that are not what would be sent."""
    from leakline.incidents.service import incident_context

    incident = session.get(Incident, comm.incident_id)
    obligation = None if incident is None else obligation_of(incident, comm)
    if incident is None or obligation is None:
        return
    context = incident_context(session, incident)
    then = rerender(
        settings, comm=comm, context=context, obligation=obligation, now=comm.rendered_at or comm.created_at
    )
    if (then.subject, then.body, then.fallback) != (comm.subject, comm.body, comm.template_fallback):
        raise InvalidCommunicationState(
            f"{comm.id}: the draft is out of date: the incident, its facts or a template changed since it was "
            "drafted and would change more than its date, so approving it would send words nobody reviewed",
            hint=f"`leakline incident assess {comm.incident_id}` drafts it again; review it, then approve it",
        )
    fresh = rerender(settings, comm=comm, context=context, obligation=obligation, now=now)
    comm.subject, comm.body, comm.rendered_at = fresh.subject, fresh.body, now


def approve(
    session: Session,
    *,
    recorder: Recorder,
    incident_id: str,
    communication_id: str,
    by: str,
    now: datetime,
    settings: Settings | None = None,
) -> Communication:
    """Approve a draft. With `settings`, its text is first rendered again as of `now` (the notification
    date it gives is the approval's); a text with a placeholder is refused either way."""
    comm = changeable_communication(session, incident_id=incident_id, communication_id=communication_id)
    if comm.state != CommState.DRAFT:
        raise InvalidCommunicationState(f"{communication_id} is {comm.state}; only drafts can be approved")
    _refuse_withdrawn(comm)
    if settings is not None:
        _date_at_approval(session, settings, comm=comm, now=now)
    refuse_placeholders(comm, incident_id=incident_id, action="approved", facts=_facts_of(session, incident_id))
    comm.state = CommState.APPROVED
    comm.approved_by = by
    comm.approved_at = now
    note(
        session,
        recorder=recorder,
        incident_id=incident_id,
        at=now,
        actor=by,
        event="message.approved",
        detail=f"{comm.id}: {comm.kind} to {comm.recipient} approved by {by}",
        data=evidence(comm, subject=comm.subject, body=comm.body),
    )
    return comm


def send(
    session: Session,
    *,
    recorder: Recorder,
    incident_id: str,
    communication_id: str | None,
    by: str,
    now: datetime,
    settings: Settings | None = None,
) -> list[Communication]:
    """Queue one approved message, or (without an id) every approved message of the incident. With
    `settings`, the notices left unsent are rendered again if the incident moves to notifying."""
    if communication_id is not None:
        chosen = [changeable_communication(session, incident_id=incident_id, communication_id=communication_id)]
    else:
        open_for_change(session, incident_id=incident_id)
        chosen = list(
            session.scalars(
                select(Communication)
                .where(Communication.incident_id == incident_id, Communication.state == CommState.APPROVED)
                .order_by(Communication.created_at, Communication.id)
            )
        )
    for comm in chosen:
        _refuse_withdrawn(comm)
        if comm.state == CommState.DRAFT and comm.needs_approval:
            raise ApprovalRequired(
                f"{comm.id} ({comm.kind}) needs approval before it is sent",
                hint=f"leakline incident approve {incident_id} {comm.id} --by NAME",
            )
        if comm.state not in (CommState.APPROVED, CommState.DRAFT, CommState.FAILED):
            raise InvalidCommunicationState(f"{comm.id} is {comm.state}; it cannot be sent again")
        if comm.channel == NO_CHANNEL:
            raise NoRoute(
                f"{comm.id}: no address for {comm.recipient} in {comm.jurisdiction}",
                hint=f'add [authorities.{comm.jurisdiction}] {comm.recipient} = "mailto:..." to leakline.toml '
                "(then amend the facts or reassess to re-draft), or deliver it yourself and record it: "
                f'leakline incident delivered {incident_id} {comm.id} --channel "HOW" --by NAME',
            )
        refuse_placeholders(comm, incident_id=incident_id, action="sent", facts=_facts_of(session, incident_id))
        enqueue(session, recorder=recorder, comm=comm, now=now, actor=by)
    if any(c.needs_approval for c in chosen):
        _notifying(session, recorder=recorder, incident_id=incident_id, by=by, now=now, settings=settings)
    return chosen


def _notifying(
    session: Session, *, recorder: Recorder, incident_id: str, by: str, now: datetime, settings: Settings | None
) -> None:
    """A notice that needed approval is on its way: the incident is notifying (unless it is further on).
    With `settings`, the notices still to approve are rendered again: they state the status."""
    incident = session.get(Incident, incident_id)
    if incident is not None and incident.status in (Status.DETECTED, Status.TRIAGED, Status.CONTAINED):
        before = incident.status
        incident.status = Status.NOTIFYING
        incident.updated_at = now
        note(
            session,
            recorder=recorder,
            incident_id=incident_id,
            at=now,
            actor=by,
            event="status",
            detail=f"{before} → {Status.NOTIFYING}",
        )
        if settings is not None:
            from leakline.incidents.service import refresh_drafts

            refresh_drafts(session, settings, recorder=recorder, incident=incident, actor=by, now=now)


def record_delivery(
    session: Session,
    *,
    recorder: Recorder,
    incident_id: str,
    communication_id: str,
    channel: str,
    at: datetime,
    by: str,
    reference: str | None,
    ack_after: timedelta | None,
    now: datetime,
    settings: Settings | None = None,
) -> Communication:
    """Record a message delivered outside leakline (a portal, a phone call, a letter) as a channel delivery
    is recorded: sent at `at`, its deadline met, acknowledgement due as for a delivered alert; an outbox
    row still waiting is closed so that no worker delivers it a second time."""
    comm = changeable_communication(session, incident_id=incident_id, communication_id=communication_id)
    _refuse_withdrawn(comm)
    if comm.state in (CommState.SENT, CommState.ACKED):
        how = comm.delivery or f"via {comm.channel}"
        raise InvalidCommunicationState(f"{comm.id} was already delivered at {iso(comm.sent_at)} {how}")
    if comm.state == CommState.DRAFT and comm.needs_approval:
        raise ApprovalRequired(
            f"{comm.id} ({comm.kind}) needs approval before it is delivered",
            hint=f"leakline incident approve {incident_id} {comm.id} --by NAME",
        )
    session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.communication_id == comm.id,
            OutboxMessage.state.in_((OutboxState.PENDING, OutboxState.LEASED)),
        )
        .values(state=OutboxState.SENT, sent_at=at, lease_owner=None, lease_expires_at=None)
    )
    comm.state = CommState.SENT
    comm.sent_at = at
    comm.ack_due_at = at + ack_after if ack_after is not None else None
    noted = f" (reference {reference})" if reference else ""
    comm.delivery = f"by hand via {channel}{noted}, recorded by {by}"
    note_message(
        session,
        recorder=recorder,
        comm=comm,
        event="message.sent",
        now=now,
        actor=by,
        about=f"delivered {comm.delivery}",
        data=evidence(comm, subject=comm.subject, body=comm.body),
    )
    if comm.needs_approval:
        _notifying(session, recorder=recorder, incident_id=incident_id, by=by, now=now, settings=settings)
    return comm


def record_receipt(
    session: Session,
    *,
    recorder: Recorder,
    incident_id: str,
    communication_id: str,
    reference: str,
    at: datetime,
    by: str,
    now: datetime,
    settings: Settings | None = None,
) -> Communication:
    """Record that the recipient of a delivered notice confirmed its receipt (an authority's case number,
    a CSIRT's acknowledgement): evidence for the timeline and the audit log; the message stays as it is.
    With `settings`, drafts are rendered again: a GDPR Art. 33(4) supplement quotes the authority's
    reference, and a draft left without it would be refused at approval as out of date."""
    from leakline.incidents.service import RECEIPT_EVENT, receipt_detail, refresh_drafts

    comm = changeable_communication(session, incident_id=incident_id, communication_id=communication_id)
    if not comm.needs_approval:
        raise InvalidCommunicationState(
            f"{communication_id} is an internal {comm.kind} alert: a receipt is recorded for notices to "
            "authorities and the people affected",
            hint=f"acknowledge an internal alert: leakline incident ack {incident_id} {communication_id} --by NAME",
        )
    if comm.state not in (CommState.SENT, CommState.ACKED) or comm.sent_at is None:
        raise InvalidCommunicationState(
            f"{communication_id} is {comm.state}: only a delivered notice can be confirmed as received",
            hint=f"deliver it first (`leakline incident show {incident_id}` says how)",
        )
    if not reference.strip():
        raise InvalidCommunicationState(f"{communication_id}: --reference is empty: give the recipient's reference")
    if at < comm.sent_at:
        raise InvalidCommunicationState(
            f"{communication_id}: receipt at {iso(at)} is before the notice was delivered ({iso(comm.sent_at)})"
        )
    note(
        session,
        recorder=recorder,
        incident_id=incident_id,
        at=now,
        actor=by,
        event=RECEIPT_EVENT,
        detail=receipt_detail(comm.id, at=iso(at) or "", reference=reference, by=by),
        data={"communication": comm.id, "reference": reference, "at": iso(at), "by": by},
    )
    incident = session.get(Incident, incident_id)
    if settings is not None and incident is not None:
        session.flush()  # the receipt is read back from the timeline by the drafts' context
        refresh_drafts(session, settings, recorder=recorder, incident=incident, actor=by, now=now)
    return comm


def awaiting_approval(session: Session, *, incident_id: str) -> list[Communication]:
    """Drafts of the incident that a person must approve before they can be sent (withdrawn ones aside)."""
    return list(
        session.scalars(
            select(Communication)
            .where(
                Communication.incident_id == incident_id,
                Communication.state == CommState.DRAFT,
                Communication.needs_approval.is_(True),
                Communication.withdrawn.is_(False),
            )
            .order_by(Communication.created_at, Communication.id)
        )
    )


def ack(
    session: Session, *, recorder: Recorder, incident_id: str, communication_id: str, by: str, now: datetime
) -> list[Communication]:
    """Acknowledge a delivered message (and its copies on the recipient's other channels)."""
    comm = changeable_communication(session, incident_id=incident_id, communication_id=communication_id)
    if comm.needs_approval:
        # An acknowledgement recorded on a notice would read as the authority (or the people) confirming receipt.
        raise InvalidCommunicationState(
            f"{communication_id} is a {comm.kind} notice to {comm.recipient}"
            f"{f' ({comm.jurisdiction})' if comm.jurisdiction else ''}: only internal alerts are acknowledged "
            "(an acknowledgement stops their escalation); it does not record a recipient's confirmation of receipt",
            hint=f"`leakline incident show {incident_id}` lists the internal alerts and their state",
        )
    if comm.state == CommState.ACKED:
        # Nothing changes, so nothing goes to the timeline and the audit log (it would read as a second ack).
        raise InvalidCommunicationState(
            f"{communication_id} was already acknowledged by {comm.acked_by} at {iso(comm.acked_at)}"
        )
    if comm.state != CommState.SENT:
        raise InvalidCommunicationState(f"{communication_id} is {comm.state}; only sent messages can be acknowledged")
    siblings = session.scalars(
        select(Communication).where(
            Communication.incident_id == incident_id,
            Communication.kind == comm.kind,
            Communication.recipient == comm.recipient,
            Communication.escalation_level == comm.escalation_level,
            Communication.obligation_key.is_(None)
            if comm.obligation_key is None
            else Communication.obligation_key == comm.obligation_key,
            Communication.state == CommState.SENT,
        )
    ).all()
    acked = [c for c in {comm, *siblings} if c.state == CommState.SENT]
    for item in acked:
        item.state = CommState.ACKED
        item.acked_by = by
        item.acked_at = now
    note(
        session,
        recorder=recorder,
        incident_id=incident_id,
        at=now,
        actor=by,
        event="message.acked",
        detail=f"{comm.id}: acknowledged by {by}",
        data={"communications": sorted(c.id for c in acked)},
    )
    return acked
