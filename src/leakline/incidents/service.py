"""The incident workflow as keyword-only functions over a session (Dispatch's service layer).

No function commits: the caller's transaction (`Store.transaction()`) covers each state change, its
timeline entries, its audit events and the outbox rows it queues, so a crash leaves either all of
them or none. Facts are validated with the obligations engine's own parser before anything is
written; each accepted version is kept, and obligations are recomputed with `assess()` whenever the
facts change.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from leakline.incidents.errors import IncidentClosed, IncidentNotFound, InvalidTransition, UnmetObligations
from leakline.incidents.models import (
    LIFECYCLE,
    FactsVersion,
    Incident,
    IncidentSummary,
    SignalAccepted,
    SignalRecord,
    Status,
    TimelineEntry,
    TimelineRead,
)
from leakline.incidents.timeline import Recorder, note
from leakline.notify import drafting
from leakline.notify.models import CommState, Communication, CommunicationRead
from leakline.obligations import Facts, assess, parse_facts
from leakline.obligations.facts import COUNTRIES
from leakline.signals import Signal, SignalKind

if TYPE_CHECKING:
    from leakline.config import Settings

_SEVERITY_RANK = {"low": 1, "medium": 2, "high": 3, "critical": 4}
_CAUSE_BY_SIGNAL = {SignalKind.LEAK_CAUGHT: "llm-output-leak"}
# The gateway's sanitizer actions (`[sanitize.actions]`) that keep a hit from reaching the client.
_CONTAINING_ACTIONS = frozenset({"redact", "block"})
_SIGNAL_ACTOR = "signal:"
DEFAULT_SEVERITY = "high"


# Required duties that are kept, not sent (GDPR Art. 33(5) register, PIPEDA record, ...): not notifications.
RECORD_RECIPIENT = "internal-record"


def required_notifications(obligations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The required duties to tell someone (authority, people, CSIRT, ...), without records to keep."""
    return [o for o in obligations if o["required"] and o["recipient"] != RECORD_RECIPIENT]


# An obligation's status (`incident show`, the JSON document's `obligations[].status`).
MET = "met"
"""Its notices were all delivered (sent, or recorded as delivered by hand) by its deadline, or it has none."""
MET_LATE = "met-late"
"""Its notices were all delivered, the last after its deadline."""
QUEUED = "queued"
"""Every notice of it not yet delivered is queued for delivery by the workers."""
OPEN = "open"
"""A notice of it is not delivered nor queued: a draft, an approved notice, a failed delivery, no address,
or no notice drafted yet."""
FAILED = "failed"
"""Shown for an open duty one of whose notices the workers gave up delivering (dead-lettered): queue it
again or deliver it by hand. Reminders and overdue alerts treat it as open."""
RECORD = "record"
"""A record to keep (GDPR Art. 33(5)): the incident itself; nothing to send."""
OUTSIDE = "outside"
"""Required, but answered by no message of leakline (an SEC filing prepared by counsel)."""
NOT_REQUIRED = "not-required"
_DELIVERED_STATES = ("sent", "acked")


@dataclass(frozen=True)
class Progress:
    """Where an obligation stands: its status, and the notices that answer it (one per language version
    for GDPR Art. 34 to the people affected; withdrawn ones aside), those not yet delivered among them."""

    status: str
    notices: tuple[Communication, ...] = ()
    supplements: tuple[Communication, ...] = ()
    """Supplements to the notices (GDPR Art. 33(4), `escalation_level` ≥ 1), withdrawn ones aside: they add
    what a notice said would follow, and do not decide whether its deadline was met."""

    @property
    def outstanding(self) -> list[Communication]:
        return [c for c in self.notices if c.state not in _DELIVERED_STATES]


def obligation_progress(obligations: list[dict[str, Any]], communications: Sequence[Communication]) -> list[Progress]:
    """The progress of each obligation (in order). A duty drafted in several language versions is met only
    once every version is delivered: the people who read the other languages have not been told yet."""
    notices: dict[str, list[Communication]] = {}
    supplements: dict[str, list[Communication]] = {}
    for c in communications:
        if c.kind in drafting.APPROVAL_KINDS and not c.withdrawn and c.obligation_key is not None:
            # Only authority notices have supplements; asking others would load a column the reminders' query
            # leaves out (one query per message).
            is_supplement = c.kind == "supervisory-authority" and c.escalation_level > 0
            (supplements if is_supplement else notices).setdefault(c.obligation_key, []).append(c)
    progress: list[Progress] = []
    for o in obligations:
        # By language, so that every listing of a duty's versions reads the same (de, then fr).
        answered = tuple(sorted(notices.get(drafting.obligation_key(o), ()), key=lambda c: (c.language, c.id)))
        later = tuple(
            sorted(supplements.get(drafting.obligation_key(o), ()), key=lambda c: (c.language, c.escalation_level))
        )
        if not o["required"]:
            progress.append(Progress(NOT_REQUIRED))
        elif o["recipient"] == RECORD_RECIPIENT:
            progress.append(Progress(RECORD))
        elif drafting.kind_for_obligation(o) is None:
            progress.append(Progress(OUTSIDE))
        else:
            progress.append(Progress(_notice_status(o, answered), answered, later))
    return progress


def shown_status(progress: Progress) -> str:
    """The status `incident show` gives a duty: `failed` where a notice of it was given up on by the workers
    (dead-lettered), which the reminders still count as open."""
    if progress.status == OPEN and any(c.state == CommState.FAILED for c in progress.notices):
        return FAILED
    return progress.status


def _notice_status(obligation: dict[str, Any], answered: Sequence[Communication]) -> str:
    waiting = [c for c in answered if c.state not in _DELIVERED_STATES]
    if not answered or waiting:
        return QUEUED if waiting and all(c.state == "queued" for c in waiting) else OPEN
    due = obligation["due_at"]
    last = max((c.sent_at for c in answered if c.sent_at is not None), default=None)
    late = due is not None and last is not None and last > datetime.fromisoformat(due.replace("Z", "+00:00"))
    return MET_LATE if late else MET


def versions_text(versions: Sequence[tuple[str, str]]) -> str:
    """`de sent, fr draft` from (language, state) pairs: a duty's language versions, when it has several."""
    return ", ".join(f"{language} {state}" for language, state in versions) if len(versions) > 1 else ""


def _communications(session: Session, incident_id: str) -> Sequence[Communication]:
    return session.scalars(
        select(Communication)
        .where(Communication.incident_id == incident_id)
        .order_by(Communication.created_at, Communication.id)
    ).all()


RECEIPT_EVENT = "message.receipt"
"""The timeline event of a recipient's confirmation of receipt (`leakline incident receipt`)."""
_RECEIPT_WORDS = ": receipt confirmed by the recipient at "


def receipt_detail(communication: str, *, at: str, reference: str, by: str) -> str:
    """The timeline detail of a confirmation of receipt; reference and recorder are JSON strings, so that
    `parse_receipt` reads back exactly what was given, whatever it contains."""
    return (
        f"{communication}{_RECEIPT_WORDS}{at} (reference {json.dumps(reference, ensure_ascii=False)}, "
        f"recorded by {json.dumps(by, ensure_ascii=False)})"
    )


def parse_receipt(detail: str) -> dict[str, Any] | None:
    """`{"communication", "at", "reference", "by"}` from a `receipt_detail`; None for any other text."""
    communication, found, rest = detail.partition(_RECEIPT_WORDS)
    at, found_at, rest = rest.partition(" (reference ")
    if not found or not found_at:
        return None
    decoder = json.JSONDecoder()
    try:
        reference, end = decoder.raw_decode(rest)
        marker = ", recorded by "
        if not rest[end:].startswith(marker):
            return None
        by, end_by = decoder.raw_decode(rest, end + len(marker))
    except ValueError:
        return None
    if rest[end_by:] != ")" or not isinstance(reference, str) or not isinstance(by, str):
        return None
    return {"communication": communication, "at": at, "reference": reference, "by": by}


def new_incident_id(now: datetime) -> str:
    return f"INC-{now:%Y%m%d}-{uuid.uuid4().hex[:8]}"


def get_incident(session: Session, *, incident_id: str) -> Incident:
    incident = session.get(Incident, incident_id)
    if incident is None:
        raise IncidentNotFound(f"no incident {incident_id!r}", hint="`leakline incident list` shows the ids")
    return incident


def open_for_change(session: Session, *, incident_id: str) -> Incident:
    """The incident, unless it is closed (a closed incident accepts no more changes, its messages included)."""
    incident = get_incident(session, incident_id=incident_id)
    if incident.status == Status.CLOSED:
        raise IncidentClosed(f"incident {incident_id} is closed; it accepts no more changes")
    return incident


def caught_before_delivery(signal: Signal) -> bool:
    """A leak the gateway caught and fully stopped: every hit's action (`details.actions`, as
    `leakline serve` reports them) was to redact or to block, so nothing of it reached anyone. A hit only
    alerted on passed through; a signal that does not say what was done is not presumed contained."""
    actions = signal.details.get("actions")
    if signal.kind != SignalKind.LEAK_CAUGHT or not isinstance(actions, str) or not actions:
        return False
    return set(actions.split(",")) <= _CONTAINING_ACTIONS


def facts_from_signal(settings: Settings, signal: Signal) -> Facts | None:
    """Provisional facts from what a signal says, so obligations show up within seconds of a leak.

    None when the signal names no data categories or `[organisation] establishments` is empty: without
    them no law can be evaluated, and people provide the facts with `leakline incident facts`.
    """
    org = settings.organisation
    if not org.establishments or not signal.data_categories:
        return None
    subjects = signal.subjects_estimate or 0
    # A gateway's "country" may be a CDN's placeholder ("XX" unknown, "T1" Tor) that the facts refuse: its
    # people are then counted without a place (where the organisation is established), not refused with it.
    country = signal.country if signal.country in COUNTRIES else None
    breach: dict[str, Any] = {"types": ["confidentiality"], "cause": _CAUSE_BY_SIGNAL.get(signal.kind, "unknown")}
    if caught_before_delivery(signal):
        # Nothing left the gateway. The cause stays "unknown" (why the model produced the data is not known
        # yet): "llm-output-leak" means the answer reached a user, and the engine scores it as a misdelivery
        # before it reads `exfiltration`.
        breach = {"types": ["confidentiality"], "cause": "unknown", "exfiltration": "ruled-out"}
    data: dict[str, Any] = {
        "aware_at": signal.at_utc().isoformat(),
        "controller": {"establishments": list(org.establishments), "sector": org.sector, "size": org.size},
        "breach": breach,
        "data": {
            "categories": sorted(set(signal.data_categories)),
            "subjects": subjects,
            "subjects_by_jurisdiction": {country: subjects} if country else {},
        },
    }
    return parse_facts(data, source=f"signal {signal.id}")


def signal_context(signal: Signal | SignalRecord) -> dict[str, Any]:
    return {
        "kind": str(signal.kind),
        "source": signal.source,
        "severity": str(signal.severity),
        "surface": None if signal.surface is None else str(signal.surface),
        "summary": signal.summary,
    }


def incident_context(
    session: Session,
    incident: Incident,
    *,
    facts: dict[str, Any] | None = None,
    signal: dict[str, Any] | None = None,
) -> drafting.IncidentContext:
    """The template context of an incident; `facts`/`signal` given by a caller that has them save queries."""
    if facts is None:
        facts = _current_facts(session, incident)
    assessment = incident.assessment or {}
    if signal is None:
        last = session.scalars(
            select(SignalRecord)
            .where(SignalRecord.incident_id == incident.id)
            .order_by(SignalRecord.at.desc())
            .limit(1)
        ).first()
        signal = None if last is None else signal_context(last)
    return drafting.IncidentContext(
        phases=notice_phases(session, incident),
        incident={
            "id": incident.id,
            "title": incident.title,
            "status": incident.status,
            "detected_at": drafting.iso(incident.opened_at),
            "aware_at": facts.get("aware_at") if facts else None,
            "summary": signal["summary"] if signal else incident.title,
            "risk": incident.risk,
            "risk_reasons": list(assessment.get("reasons", [])),
            "facts": facts or {},
            "deadlines": deadlines(assessment.get("obligations", [])),
        },
        signal=signal,
    )


def notice_phases(session: Session, incident: Incident) -> dict[tuple[str, str], drafting.Phase]:
    """(obligation key, language) → the last delivered notice or supplement of each duty that may be notified
    in phases (GDPR Art. 33(4)), with what it said would follow (from the facts version it was drafted from)."""
    delivered = [
        c
        for c in _communications(session, incident.id)
        if c.kind == "supervisory-authority"
        and c.regime in drafting.PHASED_BASIS
        and c.obligation_key is not None
        and not c.withdrawn
        and c.state in _DELIVERED_STATES
    ]
    if not delivered:
        return {}
    versions = session.scalars(
        select(FactsVersion).where(FactsVersion.incident_id == incident.id).order_by(FactsVersion.version)
    ).all()
    # The authority's case number, which a supplement quotes: the latest confirmation of receipt recorded
    # for any delivered phase (an acknowledgement may come first, the case number later).
    references: dict[str, str] = {}
    for entry in session.scalars(
        select(TimelineEntry)
        .where(TimelineEntry.incident_id == incident.id, TimelineEntry.event == RECEIPT_EVENT)
        .order_by(TimelineEntry.id)
    ):
        parsed = parse_receipt(entry.detail)
        if parsed is not None:
            references[parsed["communication"]] = parsed["reference"]
    phases: dict[tuple[str, str], drafting.Phase] = {}
    for c in sorted(delivered, key=lambda c: (c.escalation_level, c.created_at)):
        rendered = c.rendered_at or c.created_at
        used = [v.facts for v in versions if v.at <= rendered]
        key = (c.obligation_key or "", c.language)
        before = phases.get(key)
        sent_at = drafting.iso(c.sent_at or rendered) or ""
        phases[key] = drafting.Phase(
            communication=c.id,
            sent_at=sent_at,
            promised=drafting.promised_by(used[-1] if used else None),
            number=c.escalation_level,
            initial=(before.initial or before.communication) if before else c.id,
            initial_sent_at=(before.initial_sent_at or before.sent_at) if before else sent_at,
            reference=references.get(c.id) or (before.reference if before else None),
        )
    return phases


def deadlines(obligations: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The required notifications, soonest first (no fixed deadline last), as the templates' `incident.deadlines`."""
    keys = ("regime", "jurisdiction", "recipient", "due_at")
    required = required_notifications(obligations)
    return [{k: o[k] for k in keys} for o in sorted(required, key=lambda o: (o["due_at"] is None, o["due_at"] or ""))]


def _current_facts(session: Session, incident: Incident) -> dict[str, Any] | None:
    if incident.facts_version == 0:
        return None
    row = session.get(FactsVersion, (incident.id, incident.facts_version))
    return None if row is None else row.facts


def current_facts(session: Session, incident: Incident) -> dict[str, Any] | None:
    """The latest version of the incident's facts (as JSON), or None before any."""
    return _current_facts(session, incident)


def _store_facts(
    session: Session,
    settings: Settings,
    *,
    recorder: Recorder,
    incident: Incident,
    facts: Facts,
    actor: str,
    reason: str,
    now: datetime,
    signal: dict[str, Any] | None = None,
    fallbacks: list[drafting.Fallback] | None = None,
) -> None:
    """Keep a new facts version, recompute obligations, refresh the drafts that answer them."""
    incident.facts_version += 1
    facts_data = facts.model_dump(mode="json")
    session.add(
        FactsVersion(
            incident_id=incident.id,
            version=incident.facts_version,
            facts=facts_data,
            actor=actor,
            reason=reason,
            at=now,
        )
    )
    note(
        session,
        recorder=recorder,
        incident_id=incident.id,
        at=now,
        actor=actor,
        event="facts.version",
        detail=f"facts version {incident.facts_version}: {reason}",
        data={"version": incident.facts_version},
    )
    _assess(
        session,
        settings,
        recorder=recorder,
        incident=incident,
        facts=facts,
        actor=actor,
        now=now,
        context_facts=facts_data,
        signal=signal,
        fallbacks=fallbacks,
    )


def _assess(
    session: Session,
    settings: Settings,
    *,
    recorder: Recorder,
    incident: Incident,
    facts: Facts,
    actor: str,
    now: datetime,
    context_facts: dict[str, Any] | None = None,
    signal: dict[str, Any] | None = None,
    fallbacks: list[drafting.Fallback] | None = None,
) -> None:
    """Assess the facts and bring the obligations' drafts in line; a notice whose `[notify] templates`
    override fails is drafted with the built-in template and appended to `fallbacks`, the others as usual."""
    before = incident.assessment
    assessment = assess(facts, now=now).to_dict()
    incident.assessment = assessment
    incident.risk = assessment["risk"]
    incident.updated_at = now
    required = required_notifications(assessment["obligations"])
    first_due = min((o["due_at"] for o in required if o["due_at"]), default=None)
    note(
        session,
        recorder=recorder,
        incident_id=incident.id,
        at=now,
        actor=actor,
        event="assessed",
        detail=f"risk {assessment['risk']}; {len(required)} required notifications"
        + (f", first due {first_due}" if first_due else ""),
    )
    if incident.status == Status.DETECTED:
        _move(session, recorder=recorder, incident=incident, to=Status.TRIAGED, actor=actor, now=now)
    context = incident_context(session, incident, facts=context_facts, signal=signal)
    drafting.sync_obligation_drafts(
        session,
        settings,
        recorder=recorder,
        incident=incident,
        context=context,
        now=now,
        actor=actor,
        fallbacks=fallbacks,
    )
    if before is not None:
        _alert_new_duties(
            session,
            settings,
            recorder=recorder,
            incident=incident,
            before=before,
            context=context,
            actor=actor,
            now=now,
        )


NEW_DUTIES = "new-duties"
"""The timeline event of the internal alert sent when a reassessment makes new notifications required."""


def _alert_new_duties(
    session: Session,
    settings: Settings,
    *,
    recorder: Recorder,
    incident: Incident,
    before: dict[str, Any],
    context: drafting.IncidentContext,
    actor: str,
    now: datetime,
) -> None:
    """Tell compliance and the DPO when new facts make notifications required that were not before: the alert
    sent when the incident opened (perhaps still queued) speaks of the old facts, and nothing else would
    bring the new deadlines to anyone's attention before the reminders."""
    known = {drafting.obligation_key(o) for o in required_notifications(list(before.get("obligations", [])))}
    new = [
        o
        for o in required_notifications((incident.assessment or {})["obligations"])
        if drafting.obligation_key(o) not in known
    ]
    recipients = drafting.internal_recipients(settings, surface=None, risk=None)
    if not new or not recipients:
        return
    duties = [{k: o[k] for k in ("regime", "jurisdiction", "recipient", "due_at")} for o in new]
    listed = "; ".join(
        f"{d['regime']} {d['jurisdiction']} {d['recipient']} due {d['due_at'] or 'without undue delay'}" for d in duties
    )
    drafting.draft_internal(
        session,
        settings,
        recorder=recorder,
        incident=incident,
        context=context,
        recipients=recipients,
        now=now,
        actor=actor,
        new_duties={"facts_version": incident.facts_version, "duties": duties},
        announce=(
            NEW_DUTIES,
            f"facts v{incident.facts_version}: {len(new)} new required notification{'' if len(new) == 1 else 's'}: "
            f"{listed}; compliance and the DPO are alerted",
        ),
        builtin_fallback=True,
    )


def refresh_drafts(
    session: Session, settings: Settings, *, recorder: Recorder, incident: Incident, actor: str, now: datetime
) -> None:
    """Render the drafts of notices again after the incident changed without new facts (its status: the
    notices state it and the measures taken): a draft left as it was would be refused as out of date at
    approval. Approved notices keep their approval and words (what was approved is what is sent)."""
    if incident.assessment is None:
        return
    drafting.sync_obligation_drafts(
        session,
        settings,
        recorder=recorder,
        incident=incident,
        context=incident_context(session, incident),
        now=now,
        actor=actor,
        recheck_approved=False,
    )


def _move(session: Session, *, recorder: Recorder, incident: Incident, to: Status, actor: str, now: datetime) -> None:
    before = incident.status
    incident.status = to
    incident.updated_at = now
    if to == Status.CLOSED:
        incident.closed_at = now
    note(
        session,
        recorder=recorder,
        incident_id=incident.id,
        at=now,
        actor=actor,
        event="status",
        detail=f"{before} → {to}",
        data={"from": before, "to": str(to)},
    )


def transition(
    session: Session,
    *,
    recorder: Recorder,
    incident_id: str,
    to: Status,
    actor: str,
    now: datetime,
    force: bool = False,
    reason: str | None = None,
    settings: Settings | None = None,
) -> Incident:
    """Move the lifecycle forward (steps may be skipped; it never moves back). Closing is refused while a
    required notification (or a supplement a delivered notice promised, GDPR Art. 33(4)) is not delivered,
    unless `force`; a `reason` goes to the timeline and audit log. With `settings`, the unsent notices of an
    incident that stays open are rendered again for its new status (`refresh_drafts`)."""
    incident = open_for_change(session, incident_id=incident_id)
    current = Status(incident.status)
    if to.rank <= current.rank:
        order = " → ".join(LIFECYCLE)
        raise InvalidTransition(f"incident {incident_id} is {current}; it cannot go to {to} (lifecycle: {order})")
    if to == Status.CLOSED:
        _check_close(session, recorder=recorder, incident=incident, actor=actor, now=now, force=force, reason=reason)
    _move(session, recorder=recorder, incident=incident, to=to, actor=actor, now=now)
    if settings is not None and to != Status.CLOSED:
        refresh_drafts(session, settings, recorder=recorder, incident=incident, actor=actor, now=now)
    return incident


def _check_close(
    session: Session,
    *,
    recorder: Recorder,
    incident: Incident,
    actor: str,
    now: datetime,
    force: bool,
    reason: str | None,
) -> None:
    # Closing stops the reminders and overdue alerts: never while a notice the law requires is undelivered,
    # unless someone says why (`close --force --reason`).
    unmet = unmet_notifications(session, incident)
    if unmet and not force:
        raise UnmetObligations(
            f"incident {incident.id} has {len(unmet)} required notification{'' if len(unmet) == 1 else 's'} "
            "not delivered:\n" + "\n".join(f"  {line}" for line in unmet),
            hint=f"deliver them (`leakline incident show {incident.id}` says how), or close anyway: "
            f'leakline incident close {incident.id} --force --reason "WHY"',
        )
    if reason is None:
        return
    note(
        session,
        recorder=recorder,
        incident_id=incident.id,
        at=now,
        actor=actor,
        event="close.forced" if unmet else "close.reason",
        detail=(f"closed with {'; '.join(unmet)} not delivered; " if unmet else "") + f"reason: {reason}",
        data={"reason": reason, "unmet": unmet},
    )


def unmet_notifications(session: Session, incident: Incident) -> list[str]:
    """The required notifications whose notice is not delivered, soonest due first, one line each."""
    obligations = list((incident.assessment or {}).get("obligations", []))
    progress = obligation_progress(obligations, _communications(session, incident.id))
    unmet = sorted(
        ((o, p) for o, p in zip(obligations, progress, strict=True) if p.status in (OPEN, QUEUED)),
        key=lambda pair: (pair[0]["due_at"] is None, pair[0]["due_at"] or ""),
    )
    lines = []
    for o, p in unmet:
        state = (
            "queued, not yet delivered"
            if p.status == QUEUED
            else "delivery failed"
            if shown_status(p) == FAILED
            else "not sent"
        )
        versions = versions_text([(c.language, c.state) for c in p.notices])
        lines.append(
            f"{o['regime']} {o['jurisdiction']} {o['recipient']} due {o['due_at'] or 'without undue delay'} "
            f"({state}{f'; language versions: {versions}' if versions else ''})"
        )
    return lines + [line for _, line in supplements_owed(session, incident)]


@dataclass(frozen=True)
class OwedSupplement:
    """Information a delivered notice said would follow (GDPR Art. 33(4)) that the authority does not have
    yet: a supplement drafted and not delivered (`pending`), or items the facts do not give yet (`still`)."""

    obligation: dict[str, Any]
    language: str
    phase: drafting.Phase | None
    """The last delivered phase (the notice or supplement that made the promise); None if not found."""
    pending: Communication | None
    still: tuple[str, ...]
    line: str
    """What `close` and `show` say about it."""


def owed_supplements(session: Session, incident: Incident) -> list[OwedSupplement]:
    """Each duty's information that a delivered notice said would follow (GDPR Art. 33(4)) and that has not
    been delivered: a supplement drafted and not delivered yet, or information the facts do not give yet."""
    obligations = list((incident.assessment or {}).get("obligations", []))
    if not any(o["required"] and drafting.phased(o) for o in obligations):
        return []
    phases = notice_phases(session, incident)
    if not phases:
        return []  # nothing delivered that could have promised anything (the workers ask every few seconds)
    comms = _communications(session, incident.id)
    facts = _current_facts(session, incident)
    owed: list[OwedSupplement] = []
    for o, p in zip(obligations, obligation_progress(obligations, comms), strict=True):
        key = drafting.obligation_key(o)
        if not o["required"] or not drafting.phased(o):
            continue
        duty = f"{o['regime']} {o['jurisdiction']} {o['recipient']}"
        basis = drafting.PHASED_BASIS[o["regime"]]["en"]
        for c in p.supplements:
            if c.state not in _DELIVERED_STATES:
                state = "delivery failed" if c.state == CommState.FAILED else str(c.state)
                line = f"{duty}: supplement {c.id} ({basis}) not delivered ({state})"
                owed.append(OwedSupplement(o, c.language, phases.get((key, c.language)), c, (), line))
        if any(c.state not in _DELIVERED_STATES for c in p.supplements):
            continue
        for (phase_key, language), phase in sorted(phases.items()):
            still = tuple(item for item in phase.promised if item in drafting.promised_by(facts))
            if phase_key == key and still:
                line = (
                    f"{duty}: {phase.communication}{f' ({language})' if len(p.notices) > 1 else ''} said "
                    f"{', '.join(still)} would follow ({basis}); not known yet: set "
                    f"{', '.join(drafting.PROMISED_FIELDS.get(item, item) for item in still)} in the facts "
                    f"(`leakline incident facts {incident.id} --facts FILE` drafts the supplement)"
                )
                owed.append(OwedSupplement(o, language, phase, None, still, line))
    return owed


def supplements_owed(session: Session, incident: Incident) -> list[tuple[str, str]]:
    """(obligation key, line) for each of `owed_supplements`."""
    return [(drafting.obligation_key(o.obligation), o.line) for o in owed_supplements(session, incident)]


def open_incident(
    session: Session,
    settings: Settings,
    *,
    recorder: Recorder,
    facts: Facts | None,
    title: str,
    actor: str,
    now: datetime,
    severity: str = DEFAULT_SEVERITY,
    surface: str | None = None,
    fingerprint: str | None = None,
    categories: list[str] | None = None,
    signal: dict[str, Any] | None = None,
) -> Incident:
    """A new incident; with facts, assessed at once. `signal` is the context of the signal that opened it.

    A `[notify] templates` override that fails never stops an incident from opening: that message is
    drafted with the built-in template and the failure goes to the timeline (`message.template_fallback`)."""
    incident = Incident(
        id=new_incident_id(now),
        title=title,
        status=Status.DETECTED,
        severity=severity,
        risk=None,
        fingerprint=fingerprint,
        surface=surface,
        region=None,
        categories=sorted(set(categories or (facts.data.categories if facts else ()))),
        signal_count=0,
        facts_version=0,
        assessment=None,
        opened_at=now,
        updated_at=now,
    )
    session.add(incident)
    note(
        session,
        recorder=recorder,
        incident_id=incident.id,
        at=now,
        actor=actor,
        event="opened",
        detail=f"incident opened: {title}",
    )
    # The tables have foreign keys but no ORM relationships: the incident row must exist first.
    session.flush()
    if facts is not None:
        _store_facts(
            session,
            settings,
            recorder=recorder,
            incident=incident,
            facts=facts,
            actor=actor,
            reason="initial",
            now=now,
            signal=signal,
        )
    drafting.draft_internal(
        session,
        settings,
        recorder=recorder,
        incident=incident,
        context=incident_context(
            session, incident, facts=facts.model_dump(mode="json") if facts else {}, signal=signal
        ),
        recipients=drafting.internal_recipients(settings, surface=surface, risk=incident.risk),
        now=now,
        actor=actor,
        builtin_fallback=True,
    )
    return incident


def amend_facts(
    session: Session,
    settings: Settings,
    *,
    recorder: Recorder,
    incident_id: str,
    facts: Facts,
    actor: str,
    reason: str,
    now: datetime,
    fallbacks: list[drafting.Fallback] | None = None,
) -> Incident:
    """Keep a new version of the facts and reassess; `fallbacks` as for `reassess`."""
    incident = open_for_change(session, incident_id=incident_id)
    _store_facts(
        session,
        settings,
        recorder=recorder,
        incident=incident,
        facts=facts,
        actor=actor,
        reason=reason,
        now=now,
        fallbacks=fallbacks,
    )
    return incident


def reassess(
    session: Session,
    settings: Settings,
    *,
    recorder: Recorder,
    incident_id: str,
    actor: str,
    now: datetime,
    fallbacks: list[drafting.Fallback] | None = None,
) -> Incident:
    """Run the obligations engine again on the current facts (deadlines' urgency moves with the clock).

    A `[notify] templates` override that fails holds back no notice: the message is drafted with the
    built-in template, recorded (`message.template_fallback`) and appended to `fallbacks`, so that the
    caller reports it once everything else is stored."""
    incident = open_for_change(session, incident_id=incident_id)
    facts = _current_facts(session, incident)
    if facts is None:
        raise IncidentClosed(
            f"incident {incident_id} has no facts yet",
            hint=f"add them with `leakline incident facts {incident_id} --facts FILE`",
        )
    _assess(
        session,
        settings,
        recorder=recorder,
        incident=incident,
        facts=parse_facts(facts, source=f"{incident_id} facts v{incident.facts_version}", stored=True),
        actor=actor,
        now=now,
        fallbacks=fallbacks,
    )
    return incident


def _lock_fingerprint(session: Session, fingerprint: str) -> None:
    # SQLite transactions here are BEGIN IMMEDIATE (already serialised); on PostgreSQL two replicas
    # receiving the same leak at once must not open two incidents.
    if session.get_bind().dialect.name == "postgresql":
        key = int.from_bytes(hashlib.sha256(fingerprint.encode()).digest()[:8], "big", signed=True)
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})


def ingest_signal(
    session: Session, settings: Settings, *, recorder: Recorder, signal: Signal, now: datetime
) -> SignalAccepted:
    """Record a signal once (by id); attach it to the open incident with its fingerprint or open one."""
    known = session.get(SignalRecord, signal.id)
    if known is not None:
        return SignalAccepted(signal_id=signal.id, incident_id=known.incident_id, duplicate=True, new_incident=False)
    _lock_fingerprint(session, signal.fingerprint)
    window_start = signal.at_utc() - timedelta(minutes=settings.incidents.dedupe_minutes)
    incident = session.scalars(
        select(Incident)
        .where(
            Incident.fingerprint == signal.fingerprint,
            Incident.status != Status.CLOSED,
            Incident.last_signal_at >= window_start,
        )
        .order_by(Incident.opened_at.desc())
        .limit(1)
    ).first()
    actor = f"{_SIGNAL_ACTOR}{signal.source}"
    created = incident is None
    if incident is None:
        incident = open_incident(
            session,
            settings,
            recorder=recorder,
            facts=facts_from_signal(settings, signal),
            title=f"{signal.kind}: {signal.summary}"[:300],
            actor=actor,
            now=now,
            severity=signal.severity,
            surface=signal.surface,
            fingerprint=signal.fingerprint,
            categories=list(signal.data_categories),
            signal=signal_context(signal),
        )
    else:
        if _SEVERITY_RANK[signal.severity] > _SEVERITY_RANK[incident.severity]:
            incident.severity = signal.severity
        incident.categories = sorted(set(incident.categories) | set(signal.data_categories))
        _reassess_if_no_longer_contained(
            session, settings, recorder=recorder, incident=incident, signal=signal, now=now
        )
    incident.signal_count += 1
    incident.last_signal_at = max(filter(None, (incident.last_signal_at, signal.at_utc())))
    incident.updated_at = now
    session.add(
        SignalRecord(
            id=signal.id,
            incident_id=incident.id,
            fingerprint=signal.fingerprint,
            kind=signal.kind,
            source=signal.source,
            severity=signal.severity,
            surface=signal.surface,
            at=signal.at_utc(),
            received_at=now,
            summary=signal.summary,
            data=signal.model_dump(mode="json"),
        )
    )
    note(
        session,
        recorder=recorder,
        incident_id=incident.id,
        at=now,
        actor=actor,
        event="signal",
        detail=f"{signal.id} ({signal.kind}, {signal.severity}) {'opened' if created else 'attached to'} the incident",
        data={"signal": signal.id, "fingerprint": signal.fingerprint},
    )
    return SignalAccepted(signal_id=signal.id, incident_id=incident.id, duplicate=False, new_incident=created)


def _reassess_if_no_longer_contained(
    session: Session, settings: Settings, *, recorder: Recorder, incident: Incident, signal: Signal, now: datetime
) -> None:
    """An incident whose facts are still the provisional ones of a leak the gateway stopped gets this
    signal's facts when this one was let through: from now on something did reach someone. Facts that a
    person gave are theirs to amend; a signal never overrides them."""
    if signal.kind != SignalKind.LEAK_CAUGHT or caught_before_delivery(signal) or incident.facts_version == 0:
        return
    row = session.get(FactsVersion, (incident.id, incident.facts_version))
    if row is None or not row.actor.startswith(_SIGNAL_ACTOR):
        return
    if row.facts.get("breach", {}).get("exfiltration") != "ruled-out":
        return
    facts = facts_from_signal(settings, signal)
    if facts is None:
        return
    _store_facts(
        session,
        settings,
        recorder=recorder,
        incident=incident,
        facts=facts,
        actor=f"{_SIGNAL_ACTOR}{signal.source}",
        reason=f"signal {signal.id}: the gateway let a hit through (actions {signal.details.get('actions') or '?'})",
        now=now,
        signal=signal_context(signal),
    )


def close_incident(
    session: Session,
    *,
    recorder: Recorder,
    incident_id: str,
    actor: str,
    now: datetime,
    force: bool = False,
    reason: str | None = None,
) -> Incident:
    return transition(
        session,
        recorder=recorder,
        incident_id=incident_id,
        to=Status.CLOSED,
        actor=actor,
        now=now,
        force=force,
        reason=reason,
    )


def list_incidents(session: Session, *, status: Status | None = None, limit: int = 100) -> list[IncidentSummary]:
    query = select(Incident).order_by(Incident.opened_at.desc()).limit(limit)
    if status is not None:
        query = query.where(Incident.status == status)
    return [IncidentSummary.model_validate(row) for row in session.scalars(query)]


def facts_versions(session: Session, *, incident_id: str) -> list[dict[str, Any]]:
    get_incident(session, incident_id=incident_id)
    rows = session.scalars(
        select(FactsVersion).where(FactsVersion.incident_id == incident_id).order_by(FactsVersion.version)
    )
    return [
        {"version": r.version, "at": drafting.iso(r.at), "actor": r.actor, "reason": r.reason, "facts": r.facts}
        for r in rows
    ]


def _drafted_from(
    comm: Communication, versions: Sequence[FactsVersion], current: dict[str, Any] | None
) -> dict[str, Any]:
    """`facts_version`: the facts version in force when the message's text was rendered (None: no facts
    yet); `facts_changed`: whether the current facts differ from it (a sent notice may need an update)."""
    rendered = comm.rendered_at or comm.created_at
    used = [v for v in versions if v.at <= rendered]
    if not used:
        return {"facts_version": None, "facts_changed": current is not None}
    return {"facts_version": used[-1].version, "facts_changed": used[-1].facts != current}


def incident_document(session: Session, *, incident_id: str) -> dict[str, Any]:
    """Everything `incident show` and `GET /api/v1/incidents/{id}` return."""
    incident = get_incident(session, incident_id=incident_id)
    assessment = incident.assessment or {}
    comms = _communications(session, incident_id)
    obligations = list(assessment.get("obligations", []))
    progress = obligation_progress(obligations, comms)
    versions = session.scalars(
        select(FactsVersion).where(FactsVersion.incident_id == incident_id).order_by(FactsVersion.version)
    ).all()
    current = versions[-1].facts if versions else None
    timeline = session.scalars(
        select(TimelineEntry).where(TimelineEntry.incident_id == incident_id).order_by(TimelineEntry.id)
    ).all()
    signals = session.scalar(
        select(func.count()).select_from(SignalRecord).where(SignalRecord.incident_id == incident_id)
    )
    owed = supplements_owed(session, incident)
    receipts: dict[str, list[dict[str, Any]]] = {}
    for entry in timeline:
        if entry.event == RECEIPT_EVENT:
            parsed = parse_receipt(entry.detail)
            if parsed is not None:
                receipts.setdefault(parsed.pop("communication"), []).append(parsed)
    return {
        "id": incident.id,
        "title": incident.title,
        "status": incident.status,
        "severity": incident.severity,
        "risk": incident.risk,
        "risk_reasons": list(assessment.get("reasons", [])),
        "categories": list(incident.categories),
        "signals": signals or 0,
        "facts_version": incident.facts_version,
        "facts": _current_facts(session, incident),
        "opened_at": drafting.iso(incident.opened_at),
        "updated_at": drafting.iso(incident.updated_at),
        "closed_at": drafting.iso(incident.closed_at),
        "assessed_at": assessment.get("assessed_at"),
        "obligations": [
            {
                **o,
                "status": shown_status(p),
                "notices": [{"id": c.id, "language": c.language, "state": c.state} for c in p.notices],
                "outstanding": [c.id for c in p.outstanding],
                "supplements": [{"id": c.id, "language": c.language, "state": c.state} for c in p.supplements],
                "supplement_owed": [line for key, line in owed if key == drafting.obligation_key(o)],
            }
            for o, p in zip(obligations, progress, strict=True)
        ],
        "communications": [
            {
                **CommunicationRead.model_validate(c).model_dump(mode="json"),
                **_drafted_from(c, versions, current),
                "phase": c.escalation_level if c.kind in drafting.APPROVAL_KINDS else 0,
                "receipts": receipts.get(c.id, []),
            }
            for c in comms
        ],
        "timeline": [TimelineRead.model_validate(t).model_dump(mode="json") for t in timeline],
    }
