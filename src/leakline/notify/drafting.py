"""Drafting communications: which messages an incident needs, to whom, over which channel, in which language.

Per required obligation (from the assessment) one message to the recipient that `[authorities.XX]`
routes it to; per internal contact (compliance and DPO at once, the owner team of the signal's surface
from `[owners]`, the executives when the risk is high) one message per configured channel. Text comes
from `leakline.notify.render` and is stored with the message, so what was approved is what is sent.
Messages to authorities and data subjects start as drafts that need approval; internal alerts are
queued in the outbox at once, in the caller's transaction. A `[notify] templates` override that fails
while notices are (re)drafted gives way to the built-in template for that message only, so that one
broken file never holds back the other notices; the caller is told which messages (`Fallback`).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from leakline.incidents.models import Incident
from leakline.incidents.timeline import Recorder, note
from leakline.notify.models import CommState, Communication, OutboxMessage, OutboxState

if TYPE_CHECKING:
    from leakline.config import Settings
    from leakline.notify.settings import Contact

# Obligation recipients answered by a message; "internal-record" is the incident itself and
# "public-filing" (SEC 8-K) is prepared by counsel from the executive brief.
_AUTHORITY_RECIPIENTS = frozenset(
    {
        "supervisory-authority",
        "regulator",
        "attorney-general",
        "market-surveillance-authority",
        "consumer-reporting-agencies",
        "controller",
    }
)
_US_SAMPLE_COPY_RECIPIENTS = frozenset({"attorney-general", "consumer-reporting-agencies"})
_NIS2_KIND_BY_BASIS_SUFFIX = {
    "23(4)(a)": "nis2-early-warning",
    "23(4)(b)": "nis2-notification",
    "23(4)(d)": "nis2-final-report",
}
APPROVAL_KINDS = frozenset(
    {
        "supervisory-authority",
        "nis2-early-warning",
        "nis2-notification",
        "nis2-final-report",
        "data-subject",
        "data-subject-us",
        "us-sample-copy",
    }
)
ESCALATING_KINDS = frozenset({"internal-compliance", "owner-team"})
_LANGUAGE_BY_JURISDICTION = {
    "DE": "de",
    "AT": "de",
    "LI": "de",
    "CH": "de",
    "FR": "fr",
    "BE": "fr",
    "LU": "fr",
    "MC": "fr",
    "CA-QC": "fr",
}
DEFAULT_LANGUAGE = "en"
NO_CHANNEL = "none"
_IMMEDIATE_ROLES = ("compliance", "dpo")


def language_for(jurisdiction: str | None) -> str:
    if jurisdiction is None:
        return DEFAULT_LANGUAGE
    return _LANGUAGE_BY_JURISDICTION.get(jurisdiction, DEFAULT_LANGUAGE)


def establishment_of(settings: Settings) -> str | None:
    """The main establishment (first of `[organisation] establishments`), if any."""
    return settings.organisation.establishments[0] if settings.organisation.establishments else None


def establishments_of(settings: Settings, facts: dict[str, Any] | None) -> list[str]:
    """Where the organisation is established for this incident, main establishment first: the facts'
    `controller.establishments` once there are facts (they are what the obligations were assessed on, and
    a notice must not name other member states than the assessment did), else `[organisation]`'s."""
    controller = (facts or {}).get("controller") or {}
    stated = controller.get("establishments")
    return list(stated) if stated else list(settings.organisation.establishments)


def kind_for_obligation(obligation: dict[str, Any]) -> str | None:
    """The message kind that answers an obligation, or None when no message is sent for it."""
    recipient = obligation["recipient"]
    if recipient in _US_SAMPLE_COPY_RECIPIENTS and str(obligation["jurisdiction"]).startswith("US"):
        # What a US state's law asks of them is a copy of the residents' notice (Cal. Civ. Code § 1798.82(f)),
        # never a GDPR notice with other countries' headcounts.
        return "us-sample-copy"
    if recipient in _AUTHORITY_RECIPIENTS:
        return "supervisory-authority"
    if recipient == "csirt":
        basis = str(obligation["basis"])
        for suffix, kind in _NIS2_KIND_BY_BASIS_SUFFIX.items():
            if basis.endswith(suffix):
                return kind
        return "nis2-notification"
    if recipient == "data-subjects":
        return "data-subject-us" if str(obligation["jurisdiction"]).startswith("US") else "data-subject"
    return None


def obligation_key(obligation: dict[str, Any]) -> str:
    return "|".join(str(obligation[k]) for k in ("regime", "jurisdiction", "recipient", "basis"))


def route(settings: Settings, jurisdiction: str, recipient: str) -> tuple[str, str]:
    """(channel, to) for an obligation's recipient; `("none", "")` when nothing is configured."""
    routes = settings.authorities.get(jurisdiction) or settings.authorities.get(jurisdiction.split("-")[0]) or {}
    address = routes.get(recipient)
    if address is None:
        return NO_CHANNEL, ""
    scheme, _, rest = address.partition(":")
    if scheme == "mailto":
        return "smtp", rest
    return f"{scheme}.{rest}", f"{scheme}.{rest}"


def contact_addresses(contact: Contact) -> list[tuple[str, str]]:
    """(channel, to) for each channel the contact is reached on; chat channels address the channel itself."""
    return [(channel, (contact.email or "") if channel == "smtp" else channel) for channel in contact.channels]


@dataclass(frozen=True)
class IncidentContext:
    """What the templates need to know about an incident, built once per drafting pass."""

    incident: dict[str, Any]
    signal: dict[str, Any] | None
    phases: dict[tuple[str, str], Phase] | None = None
    """(obligation key, language) → the last delivered phase of a notice that may be given in phases
    (GDPR Art. 33(4)), for the supplements `sync_obligation_drafts` drafts; None when not looked up."""


@dataclass(frozen=True)
class Phase:
    """A delivered notice (or supplement) of a duty that may be given in phases: when it went out, and what
    it said would follow (`render.derive`'s `missing` for the facts it was drafted from)."""

    communication: str
    sent_at: str
    promised: tuple[str, ...]
    number: int = 0
    """0 for the initial notice, 1, 2, ... for its supplements (the message's `escalation_level`)."""
    initial: str = ""
    """The initial notice (phase 0) the supplements refer to; "" when it is this phase."""
    initial_sent_at: str = ""
    reference: str | None = None
    """The recipient's reference for the notice (the latest confirmation of receipt of any delivered phase,
    `leakline incident receipt`): the authority files a supplement under its own case number."""


def organisation_context(settings: Settings, facts: dict[str, Any] | None = None) -> dict[str, Any]:
    """The templates' `organisation` key; `establishments` are the incident's `facts` ones when given
    (`establishments_of`)."""
    org = settings.organisation
    dpo = org.dpo
    return {
        "name": org.name,
        "establishments": establishments_of(settings, facts),
        "sector": org.sector,
        "size": org.size,
        "dpo": {"name": dpo.name, "email": dpo.email, "phone": dpo.phone} if dpo else None,
    }


@dataclass(frozen=True)
class Text:
    """A message's subject and body, and why the built-in template drafted it if an override failed."""

    subject: str
    body: str
    fallback: str | None = None
    """`<file>:<line>: <error>` of the `[notify] templates` override that failed, or None."""
    template: str = ""
    """Which file rendered it (`Rendered.template`): `builtin/<language>/<kind>.j2` or an override's path."""


@dataclass(frozen=True)
class Fallback:
    """A message the built-in template drafted in this pass because its override failed."""

    communication: str
    kind: str
    where: str
    """`<file>:<line>: <error>` of the override (values it failed on replaced by '…')."""


# Facts fields the notices quote where the law asks for them, as the templates' optional `incident` keys
# (without them a notice carries a placeholder that approval refuses).
_NOTICE_DATA_FIELDS = ("subject_categories", "records")
_NOTICE_FIELDS = ("law_enforcement_delay", "delay_reasons", "identity_protection_enrolment")


def notice_incident(incident: dict[str, Any]) -> dict[str, Any]:
    """The incident context with what its facts say for the notices (`subject_categories`, `records`,
    `law_enforcement_delay`, `delay_reasons`, `identity_protection_enrolment`; keys the caller set win),
    `detected_at` from the facts' `discovered_at` (default `aware_at`) once there are facts, and `summary`
    from the facts' `description` when they give one."""
    facts = incident.get("facts") or {}
    data = facts.get("data") or {}
    known = {key: data[key] for key in _NOTICE_DATA_FIELDS if data.get(key) is not None}
    known.update({key: facts[key] for key in _NOTICE_FIELDS if facts.get(key) is not None})
    # The incident opens when leakline hears of it, which may be after awareness: a notice saying the breach
    # was detected after the controller became aware of it contradicts itself.
    detected = facts.get("discovered_at") or facts.get("aware_at")
    merged = {**known, **incident} if known else dict(incident)
    if detected is not None:
        merged["detected_at"] = detected
    if facts.get("description"):
        # The DPO's words for what happened, not a gateway's English one-liner in a German notice.
        merged["summary"] = facts["description"]
    return merged


def render_message(
    settings: Settings,
    *,
    kind: str,
    language: str,
    context: IncidentContext,
    obligation: dict[str, Any] | None,
    recipient: dict[str, Any],
    now: datetime,
    alert: dict[str, Any] | None = None,
    supplement: dict[str, Any] | None = None,
    builtin_fallback: bool = False,
) -> Text:
    """Render one message; with `builtin_fallback`, an override template that fails gives way to the
    built-in template of the same name (the failure is returned in `Text.fallback`). A built-in template
    that fails is a bug and raises, with the override's error when there was one. `supplement` is the
    templates' `supplement` key (`supplement_context`) when the notice is a GDPR Art. 33(4) supplement."""
    from leakline.notify.render import MessageKind, TemplateError, render, templates_dir

    ctx = {
        "organisation": organisation_context(settings, context.incident.get("facts")),
        "incident": notice_incident(context.incident),
        "obligation": obligation,
        "recipient": recipient,
        "signal": context.signal,
        "now": iso(now),
        "alert": alert,
        "supplement": supplement,
    }
    # `[notify] templates` overrides the shipped templates file by file.
    user_dir = templates_dir(settings)
    try:
        rendered = render(MessageKind(kind), language=language, context=ctx, template_dir=user_dir)
    except TemplateError as failed:
        if not builtin_fallback or user_dir is None:
            raise
        try:
            rendered = render(MessageKind(kind), language=language, context=ctx)
        except TemplateError:
            raise failed from None
        return Text(rendered.subject, rendered.body, fallback=failed.where(), template=rendered.template)
    return Text(rendered.subject, rendered.body, template=rendered.template)


def rerender(
    settings: Settings, *, comm: Communication, context: IncidentContext, obligation: dict[str, Any], now: datetime
) -> Text:
    """A stored notice's text rendered again as of `now` (an override that fails gives way to the built-in
    template, as when it was drafted)."""
    if comm.escalation_level > 0:
        phase = (context.phases or {}).get((comm.obligation_key or "", comm.language))
        if phase is not None:
            return render_supplement(
                settings, language=comm.language, context=context, obligation=obligation, phase=phase,
                number=comm.escalation_level, now=now,
            )  # fmt: skip
    return render_message(
        settings,
        kind=comm.kind,
        language=comm.language,
        context=context,
        obligation=obligation,
        recipient={"name": comm.recipient, "kind": comm.kind, "role": comm.role},
        now=now,
        builtin_fallback=True,
    )


def supplement_context(phase: Phase, *, number: int, facts: dict[str, Any] | None) -> dict[str, Any]:
    """The templates' `supplement` key for supplement `number` after `phase` (GDPR Art. 33(4)): the initial
    notice it refers to, the phase before it, the recipient's reference and what is new since that phase
    (codes of `L.missing`; what is still missing is `known.missing`, as in any notice)."""
    return {
        "number": number,
        "initial": {"id": phase.initial or phase.communication, "sent_at": phase.initial_sent_at or phase.sent_at},
        "previous": {"id": phase.communication, "sent_at": phase.sent_at, "number": phase.number},
        "reference": phase.reference,
        "provided": provided(phase, facts),
    }


def render_supplement(
    settings: Settings,
    *,
    language: str,
    context: IncidentContext,
    obligation: dict[str, Any],
    phase: Phase,
    number: int,
    now: datetime,
) -> Text:
    """Supplement `number` (GDPR Art. 33(4)) to the notice of `obligation`: the supervisory-authority template
    with its `supplement` key, which words the whole notice as a supplement. An override template that
    never reads that key would send a notice calling itself an initial notification with nothing else to
    tell it apart, so its text is introduced as a supplement from outside (`as_supplement`)."""
    text = render_message(
        settings,
        kind="supervisory-authority",
        language=language,
        context=context,
        obligation=obligation,
        recipient={"name": obligation["recipient"], "kind": "supervisory-authority", "role": obligation["recipient"]},
        now=now,
        supplement=supplement_context(phase, number=number, facts=context.incident.get("facts")),
        builtin_fallback=True,
    )
    if _reads_supplement(text.template):
        return text
    return as_supplement(text, language=language, obligation=obligation, phase=phase, context=context)


def _reads_supplement(template: str) -> bool:
    """Whether the template that rendered a notice words supplements itself: the built-in ones do, and so does
    an override that reads `supplement` or extends a built-in one (whose blocks do)."""
    from leakline.notify.render import BUILTIN_PREFIX

    if not template or template.startswith(f"{BUILTIN_PREFIX}/"):
        return True
    try:
        source = Path(template).read_text(encoding="utf-8")
    except OSError:
        return False
    return "supplement" in source or f"{BUILTIN_PREFIX}/" in source


# Duties whose notice may be given in phases (GDPR Art. 33(4)): the article, as the supplement cites it.
PHASED_BASIS = {
    "gdpr-33": {"de": "Art. 33 Abs. 4 DSGVO", "en": "GDPR Art. 33(4)", "fr": "article 33, paragraphe 4, du RGPD"},
    "uk-gdpr-33": {"de": "Art. 33(4) UK GDPR", "en": "UK GDPR Art. 33(4)", "fr": "article 33(4) du UK GDPR"},
}
# The words around the notice of an override template that does not word supplements itself (one language
# each: a German or French notice carries no English); the built-in templates read `supplement` instead.
_SUPPLEMENT = {
    "de": (
        "Nachmeldung ({basis})",
        "Nachmeldung nach {basis} zu unserer Meldung vom {sent}, unser Aktenzeichen {incident}.\n"
        "Folgende Informationen, die wir darin nachzureichen angekündigt hatten, liegen jetzt vor und sind in der "
        "folgenden aktualisierten Meldung enthalten:\n{items}",
    ),
    "en": (
        "Supplementary information ({basis})",
        "Supplementary information under {basis} to our notification of {sent}, our reference {incident}.\n"
        "The following information, which we said would follow, is now known and is included in the updated "
        "notification below:\n{items}",
    ),
    "fr": (
        "Informations complémentaires ({basis})",
        "Informations complémentaires, au titre de l'{basis}, à notre notification du {sent}, notre référence "
        "{incident}.\n"
        "Les informations suivantes, que nous avions annoncé communiquer ultérieurement, sont désormais connues et "
        "figurent dans la notification mise à jour ci-dessous :\n{items}",
    ),
}


# The facts fields (docs/assess.md) that give what a notice said would follow (`promised_by` codes): what
# the person is told to set, since "jurisdictions" names no field of the facts file.
PROMISED_FIELDS = {
    "facts": "the facts (docs/assess.md)",
    "categories": "data.categories",
    "subjects": "data.subjects",
    "records": "data.records",
    "cause": "breach.cause (not unknown)",
    "exfiltration": "breach.exfiltration (not unknown)",
    "jurisdictions": "data.subjects_by_jurisdiction",
}


def phased(obligation: dict[str, Any]) -> bool:
    """Whether the duty's notice may be given in phases (GDPR Art. 33(4)), so that what it promised is owed."""
    return obligation["regime"] in PHASED_BASIS and kind_for_obligation(obligation) == "supervisory-authority"


def promised_by(facts: dict[str, Any] | None, status: str | None = None) -> tuple[str, ...]:
    """What a notice drafted from these facts says will follow (`render.derive`'s `missing`, the codes
    of `L.missing` in the templates): what an Art. 33(4) supplement owes the authority."""
    from leakline.notify.render import derive

    incident = notice_incident({"facts": facts or {}, "status": status})
    return tuple(derive("promised", {"incident": incident})["missing"])


def provided(phase: Phase, facts: dict[str, Any] | None) -> list[str]:
    """What `phase` promised that the facts now give."""
    still = set(promised_by(facts))
    return [item for item in phase.promised if item not in still]


def _missing_labels(language: str) -> dict[str, str]:
    """The templates' own words for what a notice says will follow (`L.missing` of `_common.j2`)."""
    from leakline.notify.render import _environment, normalise_language

    module = _environment(None).get_template(f"{normalise_language(language)}/_common.j2").module
    return dict(module.missing)  # type: ignore[attr-defined]


def as_supplement(
    text: Text, *, language: str, obligation: dict[str, Any], phase: Phase, context: IncidentContext
) -> Text:
    """The notice rendered with the current facts, introduced as a supplement to `phase` (GDPR Art. 33(4)):
    the subject says so and the body first names what was promised and is now given."""
    from leakline.notify.render import format_human, normalise_language

    lang = normalise_language(language)
    lang = lang if lang in _SUPPLEMENT else "en"
    subject_words, intro = _SUPPLEMENT[lang]
    bases = PHASED_BASIS.get(obligation["regime"], PHASED_BASIS["gdpr-33"])
    labels = _missing_labels(lang)
    given = provided(phase, context.incident.get("facts"))
    items = "\n".join(f"  - {labels.get(item, item)}" for item in given)
    body = intro.format(
        sent=format_human(phase.sent_at, language=lang),
        incident=context.incident["id"],
        basis=bases[lang],
        items=items,
    )
    subject = f"{subject_words.format(basis=bases[lang])} – {text.subject}"
    return Text(subject, f"{body}\n\n{text.body}", fallback=text.fallback)


def obligation_of(incident: Incident, comm: Communication) -> dict[str, Any] | None:
    """The required obligation of the current assessment that the message answers, if any."""
    for obligation in (incident.assessment or {}).get("obligations", []):
        if obligation["required"] and obligation_key(obligation) == comm.obligation_key:
            return dict(obligation)
    return None


# Kinds whose recipients are the people affected: their address is personal data.
DATA_SUBJECT_KINDS = frozenset({"data-subject", "data-subject-us"})


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def evidence(comm: Communication, *, subject: str, body: str) -> dict[str, Any]:
    """What the audit record of an approval or a delivery proves: which message, to which address over which
    channel (for the people affected, a SHA-256 of their address: it is their personal data), and SHA-256
    digests of the exact subject and body approved or sent."""
    address = {"to_sha256": sha256_hex(comm.to)} if comm.kind in DATA_SUBJECT_KINDS else {"to": comm.to}
    return {
        "communication": comm.id,
        "channel": comm.channel,
        **address,
        "subject_sha256": sha256_hex(subject),
        "body_sha256": sha256_hex(body),
    }


def note_fallback(session: Session, *, recorder: Recorder, comm: Communication, now: datetime, actor: str) -> None:
    """Say in the timeline (and the audit log) that the built-in template drafted a message, and why."""
    note_message(
        session,
        recorder=recorder,
        comm=comm,
        event="message.template_fallback",
        now=now,
        actor=actor,
        about=fallback_notice(comm.template_fallback or ""),
    )


def fallback_notice(fallback: str) -> str:
    return f"drafted with the built-in template: {fallback}"


def iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def new_communication_id() -> str:
    return f"msg_{uuid.uuid4().hex[:20]}"


def note_message(
    session: Session,
    *,
    recorder: Recorder,
    comm: Communication,
    event: str,
    now: datetime,
    actor: str,
    about: str | None = None,
    data: dict[str, Any] | None = None,
) -> None:
    """A timeline entry (and audit record) about one message: "msg_…: kind to recipient via channel", or
    "msg_…: <about>"; `data` replaces the audit payload's `{"communication": id}`."""
    note(
        session,
        recorder=recorder,
        incident_id=comm.incident_id,
        at=now,
        actor=actor,
        event=event,
        detail=f"{comm.id}: {about or f'{comm.kind} to {comm.recipient} via {comm.channel}'}",
        data=data if data is not None else {"communication": comm.id},
    )


def add_communication(
    session: Session,
    settings: Settings,
    *,
    recorder: Recorder,
    incident: Incident,
    context: IncidentContext,
    kind: str,
    recipient: str,
    role: str,
    channel: str,
    to: str,
    language: str,
    obligation: dict[str, Any] | None,
    now: datetime,
    actor: str,
    escalation_level: int = 0,
    is_alert: bool = False,
    rendered: Text | None = None,
    builtin_fallback: bool = False,
) -> Communication:
    """Render (unless `rendered` holds its text) and store one message; queue it in the outbox now unless
    it needs approval first."""
    text = rendered or render_message(
        settings,
        kind=kind,
        language=language,
        context=context,
        obligation=obligation,
        recipient={"name": recipient, "kind": kind, "role": role},
        now=now,
        builtin_fallback=builtin_fallback,
    )
    needs_approval = kind in APPROVAL_KINDS
    comm = Communication(
        id=new_communication_id(),
        incident_id=incident.id,
        kind=kind,
        regime=obligation["regime"] if obligation else None,
        jurisdiction=obligation["jurisdiction"] if obligation else None,
        obligation_key=obligation_key(obligation) if obligation else None,
        recipient=recipient,
        role=role,
        channel=channel,
        to=to,
        language=language,
        state=CommState.DRAFT,
        subject=text.subject,
        body=text.body,
        needs_approval=needs_approval,
        withdrawn=False,
        template_fallback=text.fallback,
        is_alert=is_alert,
        escalation_level=escalation_level,
        created_at=now,
        rendered_at=now,
    )
    session.add(comm)
    note_message(session, recorder=recorder, comm=comm, event="message.drafted", now=now, actor=actor)
    if text.fallback is not None:
        note_fallback(session, recorder=recorder, comm=comm, now=now, actor=actor)
    if not needs_approval and channel != NO_CHANNEL:
        enqueue(session, recorder=recorder, comm=comm, now=now, actor=actor)
    return comm


def enqueue(session: Session, *, recorder: Recorder, comm: Communication, now: datetime, actor: str) -> None:
    """Put a message in the outbox (same transaction as whatever made it due)."""
    comm.state = CommState.QUEUED
    comm.queued_at = now
    session.add(
        OutboxMessage(
            communication_id=comm.id,
            idempotency_key=comm.id,
            state=OutboxState.PENDING,
            attempts=0,
            next_attempt_at=now,
            created_at=now,
        )
    )
    note_message(session, recorder=recorder, comm=comm, event="message.queued", now=now, actor=actor)


def contacts_named(settings: Settings, names: Iterable[str]) -> list[Contact]:
    by_name = {contact.name: contact for contact in settings.contacts}
    return [by_name[name] for name in names if name in by_name]


def internal_recipients(settings: Settings, *, surface: str | None, risk: str | None) -> list[tuple[str, Contact]]:
    """(kind, contact) for the alerts a new incident sends at once, each contact once per kind."""
    chosen: list[tuple[str, Contact]] = [
        ("internal-compliance", c) for c in settings.contacts if c.role in _IMMEDIATE_ROLES
    ]
    if surface is not None:
        owners = settings.owners.for_surface(surface)
        named = contacts_named(settings, owners) if owners else [c for c in settings.contacts if c.role == surface]
        chosen += [("owner-team", c) for c in named]
    if risk == "high":
        chosen += [("executive-brief", c) for c in settings.contacts if c.role == "executive"]
    return chosen


def draft_internal(
    session: Session,
    settings: Settings,
    *,
    recorder: Recorder,
    incident: Incident,
    context: IncidentContext,
    recipients: list[tuple[str, Contact]],
    now: datetime,
    actor: str,
    obligation: dict[str, Any] | None = None,
    escalation_level: int = 0,
    is_alert: bool = False,
    announce: tuple[str, str] | None = None,
    alert: dict[str, Any] | None = None,
    builtin_fallback: bool = False,
    new_duties: dict[str, Any] | None = None,
) -> list[Communication]:
    """Internal alerts to `recipients`, one per channel of each contact; `alert` (the templates' `alert`
    key) says why a reminder, escalation or dead-letter alert was sent; `builtin_fallback` as for
    `render_message`; `new_duties` (`facts_version`, `duties`) makes it the alert about notifications that
    new facts made required (`_with_new_duties`).

    Every text is rendered before anything is recorded, then `announce` (event, detail), the step that
    sends the alerts, goes to the timeline. A template that fails raises before that, and the caller's
    transaction rolls back with whatever it noted (the audit log gets events only once they commit)."""
    made = []
    language = language_for(establishment_of(settings))
    texts = {
        (kind, contact.name): _with_new_duties(
            language,
            new_duties,
            render_message(
                settings,
                kind=kind,
                language=language,
                context=context,
                obligation=obligation,
                recipient={"name": contact.name, "kind": kind, "role": contact.role},
                now=now,
                alert=alert,
                builtin_fallback=builtin_fallback,
            ),
        )
        for kind, contact in recipients
    }
    if announce is not None:
        event, detail = announce
        note(session, recorder=recorder, incident_id=incident.id, at=now, actor=actor, event=event, detail=detail)
    for kind, contact in recipients:
        for channel, to in contact_addresses(contact):
            made.append(
                add_communication(
                    session,
                    settings,
                    recorder=recorder,
                    incident=incident,
                    context=context,
                    kind=kind,
                    recipient=contact.name,
                    role=contact.role,
                    channel=channel,
                    to=to,
                    language=language,
                    obligation=obligation,
                    now=now,
                    actor=actor,
                    escalation_level=escalation_level,
                    is_alert=is_alert,
                    rendered=texts[(kind, contact.name)],
                )
            )
    return made


# The alert sent when new facts make notifications required: its subject and the paragraph after the
# greeting, in the language of the alert (the templates know only the alerts of the escalation machinery).
_NEW_DUTIES = {
    "de": (
        "Neue Meldepflichten mit Faktenversion {version}",
        "Neue Meldepflichten: Mit Faktenversion {version} sind diese Meldungen neu erforderlich (Stand der "
        "Fakten unten):\n{items}",
        "keine feste Frist (unverzüglich)",
    ),
    "en": (
        "New notification duties with facts version {version}",
        "New duties: with facts version {version} these notifications are now required (the facts as they "
        "stand are below):\n{items}",
        "no fixed deadline (without undue delay)",
    ),
    "fr": (
        "Nouvelles obligations de notification avec la version {version} des faits",
        "Nouvelles obligations : avec la version {version} des faits, ces notifications sont désormais requises "
        "(les faits actuels figurent ci-dessous) :\n{items}",
        "pas de délai fixe (dans les meilleurs délais)",
    ),
}


def _with_new_duties(language: str, alert: dict[str, Any] | None, text: Text) -> Text:
    """An internal alert about new duties (`alert`: `facts_version`, `duties`) says so in its subject and
    names each new duty with its deadline right after the greeting; without `alert`, `text` as it is."""
    if alert is None:
        return text
    from leakline.notify.render import format_when

    lang = language if language in _NEW_DUTIES else "en"
    subject_words, intro, undue = _NEW_DUTIES[lang]
    items = "\n".join(
        f"  - {d['regime']} ({d['jurisdiction']}) → {d['recipient']}: "
        + (format_when(d["due_at"], language=lang) if d["due_at"] else undue)
        for d in alert["duties"]
    )
    paragraph = intro.format(version=alert["facts_version"], items=items)
    head, gap, rest = text.body.partition("\n\n")
    body = f"{head}{gap}{paragraph}\n\n{rest}" if gap else f"{paragraph}\n\n{text.body}"
    subject = f"{subject_words.format(version=alert['facts_version'])} – {text.subject}"
    return Text(subject, body, fallback=text.fallback)


def notice_languages(settings: Settings, obligation: dict[str, Any], context: IncidentContext) -> list[str]:
    """The languages an obligation's message is drafted in: one, the jurisdiction's (the main establishment's
    for Union-wide duties), except for the Union-wide notice to the people affected (GDPR Art. 34), which
    is drafted once per language of the EEA countries they live in (the main establishment's first, if
    spoken there; with no country known, the main establishment's alone)."""
    from leakline.obligations.predicates import EEA, country_of

    established = establishments_of(settings, context.incident.get("facts"))
    main = language_for(
        (established[0] if established else None) if obligation["jurisdiction"] == "EU" else obligation["jurisdiction"]
    )
    if obligation["jurisdiction"] != "EU" or kind_for_obligation(obligation) != "data-subject":
        return [main]
    counts = ((context.incident.get("facts") or {}).get("data") or {}).get("subjects_by_jurisdiction") or {}
    # Most people first, so that the order follows who is affected, not the alphabet.
    where = sorted((code for code, n in counts.items() if n > 0 and country_of(code) in EEA), key=lambda c: -counts[c])
    spoken = list(dict.fromkeys(language_for(country_of(code)) for code in where))
    if not spoken:
        return [main]
    return [main, *(lang for lang in spoken if lang != main)] if main in spoken else spoken


def _route_unrouted(
    session: Session, settings: Settings, *, recorder: Recorder, comm: Communication, now: datetime, actor: str
) -> None:
    """Give a message drafted without an address the one `[authorities.XX]` now has.

    Only messages that had none: an approval covers the text, and an address chosen before stays the
    one the approver saw."""
    if comm.channel != NO_CHANNEL or comm.jurisdiction is None:
        return
    channel, to = route(settings, comm.jurisdiction, comm.recipient)
    if channel == NO_CHANNEL:
        return
    comm.channel, comm.to = channel, to
    note_message(session, recorder=recorder, comm=comm, event="message.routed", now=now, actor=actor)


def _back_to_draft(
    session: Session, *, recorder: Recorder, comm: Communication, event: str, reason: str, now: datetime, actor: str
) -> None:
    """Return a draft or approved message to a draft; an approval it had no longer applies, and the
    timeline says whose it was."""
    why = f" (the approval by {comm.approved_by} no longer applies)" if comm.state == CommState.APPROVED else ""
    comm.state, comm.approved_by, comm.approved_at = CommState.DRAFT, None, None
    note_message(session, recorder=recorder, comm=comm, event=event, now=now, actor=actor, about=f"{reason}{why}")


def sync_obligation_drafts(
    session: Session,
    settings: Settings,
    *,
    recorder: Recorder,
    incident: Incident,
    context: IncidentContext,
    now: datetime,
    actor: str,
    fallbacks: list[Fallback] | None = None,
    recheck_approved: bool = True,
) -> None:
    """After (re)assessment or a change of status: draft messages for new duties, refresh unapproved drafts,
    withdraw stale ones, route messages drafted before their `[authorities.XX]` address was configured, and
    draft a supplement (GDPR Art. 33(4)) when the facts now give what a delivered notice said would follow
    (`context.phases`). Without `recheck_approved` (a change of status, not of facts), approved notices keep
    their approval and their words: what was approved was true when approved, and is what is sent.

    A message whose override template fails is drafted with the built-in one (as `render_message` with
    `builtin_fallback`) and appended to `fallbacks`; every other message is drafted as usual."""
    assessment = incident.assessment or {"obligations": []}
    wanted: dict[str, dict[str, Any]] = {}
    for obligation in assessment["obligations"]:
        if obligation["required"] and kind_for_obligation(obligation) is not None:
            wanted[obligation_key(obligation)] = obligation
    existing = session.scalars(
        select(Communication).where(Communication.incident_id == incident.id, Communication.obligation_key.is_not(None))
    ).all()
    failed: list[Fallback] = fallbacks if fallbacks is not None else []
    languages = {key: notice_languages(settings, obligation, context) for key, obligation in wanted.items()}
    seen: set[tuple[str, str]] = set()
    facts = context.incident.get("facts")
    for comm in existing:
        key = comm.obligation_key or ""
        seen.add((key, comm.language))
        if comm.escalation_level > 0 and (context.phases is None or comm.withdrawn):
            # A supplement is drafted only with the phases at hand, and one withdrawn stays so: a new one is
            # drafted when something promised becomes known again.
            continue
        obligation = wanted.get(key)
        withdrawal = "the duty no longer arises with the current facts"
        if obligation is not None and comm.language not in languages[key]:
            obligation = None  # nobody speaking its language is among the people affected any more
        if obligation is not None and comm.escalation_level > 0 and comm.state in (CommState.DRAFT, CommState.APPROVED):
            phase = (context.phases or {}).get((key, comm.language))
            if phase is None or not provided(phase, facts):
                obligation = None
                withdrawal = "the current facts give nothing that the notice before it promised"
        if obligation is not None and comm.state in (CommState.DRAFT, CommState.APPROVED):
            _route_unrouted(session, settings, recorder=recorder, comm=comm, now=now, actor=actor)
        if obligation is None and comm.state in (CommState.DRAFT, CommState.APPROVED) and not comm.withdrawn:
            # An approval given for a duty the facts no longer show does not carry over: the message goes
            # back to a withdrawn draft (never sent; approved again if the duty comes back).
            comm.withdrawn = True
            _back_to_draft(
                session,
                recorder=recorder,
                comm=comm,
                event="message.withdrawn",
                reason=withdrawal,
                now=now,
                actor=actor,
            )
        if obligation is None:
            continue

        def text_at(moment: datetime, comm: Communication = comm, obligation: dict[str, Any] = obligation) -> Text:
            return rerender(settings, comm=comm, context=context, obligation=obligation, now=moment)

        if comm.state == CommState.APPROVED and not recheck_approved:
            continue
        if comm.state == CommState.APPROVED:
            # Rendered as of the moment the approved text was, only the facts can make it differ (the
            # notices print their own date). An approval covers the words approved, not newer ones.
            then = text_at(comm.rendered_at or comm.created_at)
            if then.fallback is not None and comm.template_fallback is None:
                # The approved words came from the override that now fails: whether the facts change them
                # cannot be told, and an unchecked approval must not stand.
                reason = "its template fails, so it cannot be checked against the current facts; approve again"
            elif (then.subject, then.body) == (comm.subject, comm.body):
                if then.fallback is not None:
                    failed.append(Fallback(comm.id, comm.kind, then.fallback))
                continue
            else:
                reason = "facts changed; approve again"
            _back_to_draft(
                session,
                recorder=recorder,
                comm=comm,
                event="message.approval_withdrawn",
                reason=reason,
                now=now,
                actor=actor,
            )
        if comm.state != CommState.DRAFT:
            continue
        comm.withdrawn = False
        text = text_at(now)
        comm.subject, comm.body, comm.rendered_at = text.subject, text.body, now
        noted = text.fallback is not None and text.fallback != comm.template_fallback
        comm.template_fallback = text.fallback
        if noted:
            note_fallback(session, recorder=recorder, comm=comm, now=now, actor=actor)
        if text.fallback is not None:
            failed.append(Fallback(comm.id, comm.kind, text.fallback))
    for key, obligation in wanted.items():
        kind = kind_for_obligation(obligation)
        if kind is None:
            continue
        for language in languages[key]:
            if (key, language) in seen:
                continue
            comm = _add_notice(
                session, settings, recorder=recorder, incident=incident, context=context, kind=kind,
                obligation=obligation, language=language, now=now, actor=actor, builtin_fallback=True,
            )  # fmt: skip
            if comm.template_fallback is not None:
                failed.append(Fallback(comm.id, comm.kind, comm.template_fallback))
    if context.phases is not None:
        _draft_supplements(
            session,
            settings,
            recorder=recorder,
            incident=incident,
            context=context,
            wanted=wanted,
            existing=existing,
            now=now,
            actor=actor,
            failed=failed,
        )


def _add_notice(
    session: Session,
    settings: Settings,
    *,
    recorder: Recorder,
    incident: Incident,
    context: IncidentContext,
    kind: str,
    obligation: dict[str, Any],
    language: str,
    now: datetime,
    actor: str,
    **extra: Any,
) -> Communication:
    """The notice that answers `obligation`, in `language`, routed to its recipient (a first notice or a supplement)."""
    channel, to = route(settings, obligation["jurisdiction"], obligation["recipient"])
    return add_communication(
        session, settings, recorder=recorder, incident=incident, context=context, kind=kind,
        recipient=obligation["recipient"], role=obligation["recipient"], channel=channel, to=to, language=language,
        obligation=obligation, now=now, actor=actor, **extra,
    )  # fmt: skip


def _draft_supplements(
    session: Session,
    settings: Settings,
    *,
    recorder: Recorder,
    incident: Incident,
    context: IncidentContext,
    wanted: dict[str, dict[str, Any]],
    existing: Iterable[Communication],
    now: datetime,
    actor: str,
    failed: list[Fallback],
) -> None:
    """A supplement (GDPR Art. 33(4)) for each delivered notice whose promised information the facts now give,
    unless one is already on its way: the supervisory-authority notice rendered with the current facts and
    worded as a supplement (`render_supplement`), marked by its phase (`escalation_level` 1, 2, ...), drafted
    for approval like the notice itself."""
    phases = context.phases or {}
    facts = context.incident.get("facts")
    for (key, language), phase in sorted(phases.items()):
        obligation = wanted.get(key)
        if obligation is None or not phased(obligation) or not provided(phase, facts):
            continue
        same = [c for c in existing if c.obligation_key == key and c.language == language]
        if any(not c.withdrawn and c.state not in (CommState.SENT, CommState.ACKED) for c in same):
            continue  # the notice or a supplement is still on its way: it carries the current facts
        number = max(c.escalation_level for c in same) + 1
        text = render_supplement(
            settings, language=language, context=context, obligation=obligation, phase=phase, number=number, now=now
        )
        comm = _add_notice(
            session, settings, recorder=recorder, incident=incident, context=context, kind="supervisory-authority",
            obligation=obligation, language=language, now=now, actor=actor, escalation_level=number, rendered=text,
        )  # fmt: skip
        given = ", ".join(provided(phase, facts))
        note_message(
            session,
            recorder=recorder,
            comm=comm,
            event="message.supplement",
            now=now,
            actor=actor,
            about=f"supplement to {phase.communication} ({obligation['regime']} {obligation['jurisdiction']}, "
            f"{PHASED_BASIS[obligation['regime']]['en']}): it gives what that notice said would follow ({given})",
        )
        if comm.template_fallback is not None:
            failed.append(Fallback(comm.id, comm.kind, comm.template_fallback))
