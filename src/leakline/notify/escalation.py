"""Escalation and reminders, run by every worker pass.

- An internal alert (compliance, owner team) not acknowledged `[escalation] ack_minutes` after it was
  delivered goes to the next contact of `[escalation] chain` (the first one, when the recipient is not
  in the chain); each step happens once, across any number of workers, guarded by a `notify_marks` key.
- Before each required obligation's `due_at`, while it is not met, the compliance contacts are reminded
  at `[escalation] reminder_hours` offsets (only the latest offset already reached when a worker was down
  for a while, so nobody gets three reminders at once).
- When `due_at` passes with the obligation not met, the whole chain is alerted once (overdue escalation).
- A required obligation with no `due_at` ("without undue delay", GDPR Art. 34) is reminded every
  `[escalation] undue_delay_reminder_hours` after the incident opened while it is not met.
- Information a delivered GDPR Art. 33 notice said would follow (Art. 33(4): "without undue further
  delay") is reminded every `undue_delay_reminder_hours` after that notice (or the last supplement) was
  delivered, while its supplement is not delivered or the facts do not give it yet: the duty is `met`
  by the first phase, so neither the deadline reminders nor the overdue escalation would ever mention it.
- "Not met" is the obligation status of `incidents.service.obligation_progress` (open or queued): a duty
  drafted in several language versions (GDPR Art. 34) stays unmet until every version not withdrawn is
  delivered, and its reminders name the versions still outstanding.
- A dead-lettered message raises an alert to the compliance contacts, on other channels when they have
  any (the failed one may be what is down).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, load_only

from leakline.incidents.models import Incident, Status
from leakline.incidents.timeline import Recorder, note
from leakline.notify import drafting
from leakline.notify.models import CommState, Communication, NotifyMark
from leakline.store.engine import Store

if TYPE_CHECKING:
    from leakline.config import Settings
    from leakline.incidents.service import OwedSupplement
    from leakline.notify.settings import Contact

ESCALATION_ACTOR = "escalation"
_COMPLIANCE_ROLES = ("compliance", "dpo")


def _once(store: Store, key: str, now: datetime, action: Callable[[Session], None]) -> bool:
    """Run `action` in one transaction together with inserting mark `key`; False if the mark exists."""
    try:
        with store.transaction() as session:
            if session.get(NotifyMark, key) is not None:
                return False
            session.add(NotifyMark(key=key, at=now))
            session.flush()
            action(session)
    except IntegrityError:
        return False  # another worker did it first
    return True


def _context(session: Session, incident: Incident) -> drafting.IncidentContext:
    from leakline.incidents.service import incident_context

    return incident_context(session, incident)


def compliance_contacts(settings: Settings) -> list[Contact]:
    return [c for c in settings.contacts if c.role in _COMPLIANCE_ROLES]


def next_in_chain(settings: Settings, recipient: str) -> Contact | None:
    chain = settings.escalation.chain
    position = chain.index(recipient) + 1 if recipient in chain else 0
    while position < len(chain):
        found = drafting.contacts_named(settings, [chain[position]])
        if found:
            return found[0]
        position += 1
    return None


def escalate_unacknowledged(store: Store, settings: Settings, *, recorder: Recorder, now: datetime) -> int:
    with store.transaction() as session:
        overdue = session.scalars(
            select(Communication).where(
                Communication.state == CommState.SENT,
                Communication.ack_due_at <= now,
                Communication.escalated_at.is_(None),
                Communication.kind.in_(drafting.ESCALATING_KINDS),
                Communication.is_alert.is_(False),
            )
        ).all()
        groups = sorted(
            {(c.incident_id, c.kind, c.recipient, c.escalation_level, c.obligation_key) for c in overdue},
            key=lambda g: (g[0], g[1], g[2], g[3], g[4] or ""),
        )
    done = 0
    for incident_id, kind, recipient, level, obligation_key in groups:
        key = f"ack:{incident_id}:{kind}:{recipient}:{level}:{obligation_key or '-'}"

        def action(
            session: Session,
            *,
            incident_id: str = incident_id,
            kind: str = kind,
            recipient: str = recipient,
            level: int = level,
            okey: str | None = obligation_key,
        ) -> None:
            comms = session.scalars(
                select(Communication).where(
                    Communication.incident_id == incident_id,
                    Communication.kind == kind,
                    Communication.recipient == recipient,
                    Communication.escalation_level == level,
                    Communication.escalated_at.is_(None),
                )
            ).all()
            comms = [c for c in comms if c.obligation_key == okey]
            if any(c.state == CommState.ACKED for c in comms):
                return
            for comm in comms:
                comm.escalated_at = now
            incident = session.get(Incident, incident_id)
            if incident is None or incident.status == Status.CLOSED:
                return
            successor = next_in_chain(settings, recipient)
            if successor is None:
                note(
                    session,
                    recorder=recorder,
                    incident_id=incident_id,
                    at=now,
                    actor=ESCALATION_ACTOR,
                    event="escalation.exhausted",
                    detail=f"{kind} to {recipient} not acknowledged; nobody left in [escalation] chain",
                )
                return
            obligation = _obligation(incident, okey)
            drafting.draft_internal(
                session,
                settings,
                recorder=recorder,
                incident=incident,
                context=_context(session, incident),
                recipients=[(kind, successor)],
                now=now,
                actor=ESCALATION_ACTOR,
                obligation=obligation,
                escalation_level=level + 1,
                alert={"reason": "unacknowledged", "previous": recipient, "minutes": settings.escalation.ack_minutes},
                announce=(
                    "escalation",
                    f"{kind} to {recipient} not acknowledged within "
                    f"{settings.escalation.ack_minutes} min; escalated to {successor.name}",
                ),
            )

        if _once(store, key, now, action):
            done += 1
    return done


def _obligation(incident: Incident, key: str | None) -> dict[str, Any] | None:
    if key is None or not incident.assessment:
        return None
    for obligation in incident.assessment.get("obligations", []):
        if drafting.obligation_key(obligation) == key:
            return dict(obligation)
    return None


def _parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _unmet(session: Session, incidents: Sequence[Incident]) -> list[tuple[Incident, dict[str, Any], list[str]]]:
    """(incident, obligation, language versions not delivered) for each required obligation of `incidents`
    that is not met (with or without a `due_at`); the languages only when the duty has several versions."""
    # Imported here: incidents.service imports this package.
    from leakline.incidents.service import OPEN, QUEUED, obligation_progress

    notices: dict[str, list[Communication]] = {}
    if incidents:
        # One query for every open incident's notices (reminders also carry an obligation's key, so only the
        # notice kinds); their bodies are not needed to know where a duty stands.
        for comm in session.scalars(
            select(Communication)
            .options(
                load_only(
                    Communication.incident_id,
                    Communication.kind,
                    Communication.obligation_key,
                    Communication.withdrawn,
                    Communication.language,
                    Communication.state,
                    Communication.sent_at,
                )
            )
            .where(
                Communication.incident_id.in_([incident.id for incident in incidents]),
                Communication.kind.in_(drafting.APPROVAL_KINDS),
            )
        ):
            notices.setdefault(comm.incident_id, []).append(comm)
    unmet: list[tuple[Incident, dict[str, Any], list[str]]] = []
    for incident in incidents:
        obligations = list((incident.assessment or {}).get("obligations", []))
        progress = obligation_progress(obligations, notices.get(incident.id, []))
        for obligation, p in zip(obligations, progress, strict=True):
            if p.status in (OPEN, QUEUED):
                languages = [c.language for c in p.outstanding] if len(p.notices) > 1 else []
                unmet.append((incident, obligation, languages))
    return unmet


def _versions_left(languages: list[str]) -> str:
    return f"; language versions not delivered: {', '.join(languages)}" if languages else ""


def remind_deadlines(store: Store, settings: Settings, *, recorder: Recorder, now: datetime) -> int:
    """Reminders before due_at and the overdue escalation, for every open incident's unmet obligations."""
    with store.transaction() as session:
        incidents = session.scalars(
            select(Incident).where(Incident.status != Status.CLOSED, Incident.assessment.is_not(None))
        ).all()
        pending = [(incident.id, incident.opened_at, obligation, languages)
                   for incident, obligation, languages in _unmet(session, incidents)]  # fmt: skip
        supplements = _supplements_owed(session, incidents)
    done = sum(
        _remind_supplement(store, settings, recorder=recorder, now=now, incident_id=incident_id, owed=owed)
        for incident_id, owed in supplements
    )
    offsets = sorted(settings.escalation.reminder_hours)
    for incident_id, opened_at, obligation, languages in pending:
        okey = drafting.obligation_key(obligation)
        # Templates get the outstanding versions too (`alert.languages`), only for duties that have several.
        versions: dict[str, Any] = {"languages": languages} if languages else {}
        if not obligation["due_at"]:
            done += _remind_undue_delay(
                store, settings, recorder=recorder, now=now, incident_id=incident_id, opened_at=opened_at,
                obligation=obligation, okey=okey, languages=languages, versions=versions,
            )  # fmt: skip
            continue
        due = _parse(obligation["due_at"])
        if now >= due:
            if settings.escalation.overdue:
                chain = drafting.contacts_named(settings, settings.escalation.chain) or compliance_contacts(settings)
                done += _alert(
                    store,
                    settings,
                    recorder=recorder,
                    now=now,
                    key=f"overdue:{incident_id}:{okey}",
                    incident_id=incident_id,
                    obligation=obligation,
                    contacts=chain,
                    level=1,
                    alert={"reason": "overdue", **versions},
                    detail=f"overdue: {obligation['regime']} {obligation['jurisdiction']} "
                    f"{obligation['recipient']} was due {obligation['due_at']}{_versions_left(languages)}",
                )
            continue
        reached = [hours for hours in offsets if now >= due - timedelta(hours=hours)]
        if not reached:
            continue
        hours = reached[0]
        done += _alert(
            store,
            settings,
            recorder=recorder,
            now=now,
            key=f"reminder:{incident_id}:{okey}:{hours:g}",
            incident_id=incident_id,
            obligation=obligation,
            contacts=compliance_contacts(settings),
            level=0,
            alert={"reason": "reminder", **versions},
            detail=f"reminder: {obligation['regime']} {obligation['jurisdiction']} "
            f"{obligation['recipient']} due {obligation['due_at']} (≤ {hours:g} h){_versions_left(languages)}",
            also_marks=[f"reminder:{incident_id}:{okey}:{h:g}" for h in reached[1:]],
        )
    return done


def _remind_undue_delay(
    store: Store,
    settings: Settings,
    *,
    recorder: Recorder,
    now: datetime,
    incident_id: str,
    opened_at: datetime,
    obligation: dict[str, Any],
    okey: str,
    languages: list[str],
    versions: dict[str, Any],
) -> int:
    """The periodic reminder of a duty with no fixed deadline ("without undue delay"): no clock runs out, so
    nothing else would ever bring it back to mind while the people affected go untold. One per
    `undue_delay_reminder_hours` since the incident opened; a worker that was down sends only the latest."""
    every = settings.escalation.undue_delay_reminder_hours
    if every <= 0:
        return 0
    opened = opened_at if opened_at.tzinfo is not None else opened_at.replace(tzinfo=UTC)
    periods = int((now - opened) / timedelta(hours=every))
    if periods < 1:
        return 0
    hours = periods * every
    return _alert(
        store,
        settings,
        recorder=recorder,
        now=now,
        key=f"reminder-undue:{incident_id}:{okey}:{periods}",
        incident_id=incident_id,
        obligation=obligation,
        contacts=compliance_contacts(settings),
        level=0,
        alert={"reason": "reminder", "undue_delay_hours": f"{hours:g}", **versions},
        detail=f"reminder: {obligation['regime']} {obligation['jurisdiction']} {obligation['recipient']} "
        f"has no fixed deadline (without undue delay) and is not delivered {hours:g} h after the incident "
        f"opened{_versions_left(languages)}",
    )


def _supplements_owed(session: Session, incidents: Sequence[Incident]) -> list[tuple[str, OwedSupplement]]:
    """(incident id, what is owed) for each GDPR Art. 33(4) supplement owed by `incidents`."""
    from leakline.incidents.service import owed_supplements

    return [(incident.id, owed) for incident in incidents for owed in owed_supplements(session, incident)]


def _remind_supplement(
    store: Store, settings: Settings, *, recorder: Recorder, now: datetime, incident_id: str, owed: OwedSupplement
) -> int:
    """The periodic reminder of a supplement (GDPR Art. 33(4)) owed since a delivered notice promised it:
    one per `undue_delay_reminder_hours` since that notice was delivered; a worker that was down sends only
    the latest; counted again from each supplement delivered (it may promise more)."""
    every = settings.escalation.undue_delay_reminder_hours
    phase = owed.phase
    if every <= 0 or phase is None:
        return 0
    periods = int((now - _parse(phase.sent_at)) / timedelta(hours=every))
    if periods < 1:
        return 0
    hours = f"{periods * every:g}"
    obligation = owed.obligation
    okey = drafting.obligation_key(obligation)
    pending = owed.pending
    if pending is None:
        owed_now = (
            f"{phase.communication} said {', '.join(owed.still)} would follow; not in the facts {hours} h after it "
            "was delivered"
        )
    else:
        state = "delivery failed" if pending.state == CommState.FAILED else str(pending.state)
        owed_now = (
            f"supplement {pending.id} not delivered ({state}) {hours} h after {phase.communication} was delivered"
        )
    supplement: dict[str, Any] = {
        "hours": hours,
        "previous": {"id": phase.communication, "sent_at": phase.sent_at, "number": phase.number},
        "pending": None if pending is None else {"id": pending.id, "state": str(pending.state)},
        "missing": list(owed.still),
    }
    return _alert(
        store,
        settings,
        recorder=recorder,
        now=now,
        key=f"reminder-supplement:{incident_id}:{okey}:{owed.language}:{phase.communication}:{periods}",
        incident_id=incident_id,
        obligation=obligation,
        contacts=compliance_contacts(settings),
        level=0,
        alert={"reason": "reminder", "supplement": supplement},
        detail=f"reminder: {obligation['regime']} {obligation['jurisdiction']} {obligation['recipient']}: {owed_now} "
        f"({drafting.PHASED_BASIS[obligation['regime']]['en']}: without undue further delay)",
    )


def _alert(
    store: Store,
    settings: Settings,
    *,
    recorder: Recorder,
    now: datetime,
    key: str,
    incident_id: str,
    obligation: dict[str, Any] | None,
    contacts: list[Contact],
    level: int,
    detail: str,
    alert: dict[str, Any],
    also_marks: list[str] | None = None,
    is_alert: bool = False,
) -> int:
    def action(session: Session) -> None:
        for extra in also_marks or ():
            if session.get(NotifyMark, extra) is None:
                session.add(NotifyMark(key=extra, at=now))
        incident = session.get(Incident, incident_id)
        if incident is None:
            return
        drafting.draft_internal(
            session,
            settings,
            recorder=recorder,
            incident=incident,
            context=_context(session, incident),
            recipients=[("internal-compliance", c) for c in contacts],
            now=now,
            actor=ESCALATION_ACTOR,
            obligation=obligation,
            escalation_level=level,
            is_alert=is_alert,
            alert=alert,
            announce=("reminder" if key.startswith("reminder") else "escalation", detail),
        )

    return 1 if _once(store, key, now, action) else 0


def alert_dead_letter(
    store: Store, settings: Settings, *, recorder: Recorder, now: datetime, comm: Communication
) -> int:
    """Tell compliance that a message could not be delivered (once per message; never for an alert)."""
    if comm.is_alert:
        return 0
    contacts = []
    for contact in compliance_contacts(settings):
        others = [ch for ch in contact.channels if ch != comm.channel]
        contacts.append(contact.model_copy(update={"channels": others}) if others else contact)
    return _alert(
        store,
        settings,
        recorder=recorder,
        now=now,
        key=f"dead:{comm.id}",
        incident_id=comm.incident_id,
        obligation=None,
        contacts=contacts,
        level=0,
        is_alert=True,
        alert={
            "reason": "dead-letter",
            "message": {"id": comm.id, "kind": comm.kind, "recipient": comm.recipient, "channel": comm.channel},
        },
        detail=f"delivery failed for good: {comm.id} ({comm.kind} to {comm.recipient} via {comm.channel})",
    )
