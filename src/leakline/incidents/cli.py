"""`leakline incident open|list|show|facts|assess|approve|send|delivered|receipt|ack|move|close`.

Every command takes `--config` (default ./leakline.toml); the database named there is created and
migrated on first use. Changes run in one transaction each and go to the audit log; errors are
`LeaklineError`s that the root CLI turns into a message and an exit code.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from rich.console import Console
    from rich.table import Table

    from leakline.incidents.models import IncidentSummary
    from leakline.notify.drafting import Fallback
    from leakline.obligations.facts import Facts

app = typer.Typer(add_completion=False, no_args_is_help=True)

ConfigOption = Annotated[Path, typer.Option("--config", help="leakline.toml to read.")]
DEFAULT_CONFIG = Path("leakline.toml")
HOURS_SHOWN_AS_HOURS = 72
WIDE_LIST = 120
"""Terminal width from which `incident list` prints each incident on one line (a 60-character title)."""
# Obligation statuses (`incident_document`) whose deadline still runs: the others show no time left.
_PENDING = ("open", "queued", "failed")
# The article that lets a notified authority be given more information later, by regime.
_UPDATE_BASIS = {"gdpr-33": "GDPR Art. 33(4)", "uk-gdpr-33": "UK GDPR Art. 33(4)"}


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


FormatOption = Annotated[OutputFormat, typer.Option("--format", help="text for people, json for machines.")]


class Target(StrEnum):
    TRIAGED = "triaged"
    CONTAINED = "contained"
    NOTIFYING = "notifying"
    CLOSED = "closed"


def _echo_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, ensure_ascii=False, default=str))


def _now() -> Any:
    from datetime import UTC, datetime

    return datetime.now(UTC)


@app.command("open")
def open_command(
    facts: Annotated[
        str, typer.Option("--facts", help="Facts file (JSON or TOML, as for `leakline assess`), - for stdin.")
    ],
    title: Annotated[str | None, typer.Option("--title", help="A short title (no personal data).")] = None,
    by: Annotated[str, typer.Option("--by", help="Who opens it (for the timeline).")] = "cli",
    config: ConfigOption = DEFAULT_CONFIG,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Open an incident from facts: assess it, draft notices, alert the internal contacts."""
    from leakline.incidents import service
    from leakline.incidents.runtime import change
    from leakline.obligations import load_facts
    from leakline.obligations.facts import refuse_future_dates

    parsed = load_facts(facts)  # validated before the database is touched
    refuse_future_dates(parsed, now=_now(), source="<stdin>" if facts == "-" else facts)
    _warn_uncovered(parsed, facts)
    with change(config) as (rt, session):
        incident = service.open_incident(
            session,
            rt.settings,
            recorder=rt.recorder,
            facts=parsed,
            title=title or "Incident",
            actor=by,
            now=_now(),
        )
        doc = service.incident_document(session, incident_id=incident.id)
    if output is OutputFormat.JSON:
        _echo_json(doc)
    else:
        typer.echo(opened_summary(doc, _now()))
    # Opened and stored all the same; exit 2 as `facts` and `assess` do, so that a script notices.
    report_fallbacks(doc["id"], fallbacks_of(doc), stored="the incident was opened and stored")


def _warn_uncovered(parsed: Facts, path: str) -> None:
    """People the facts list where no regime reaches them: stored and counted, and said on stderr."""
    from leakline.obligations.engine import uncovered_people

    for warning in uncovered_people(parsed):
        typer.echo(f"warning: {'<stdin>' if path == '-' else path}: {warning}", err=True)


def _fallback_warning(communication: str, kind: str, where: str) -> str:
    from leakline.notify.drafting import fallback_notice

    return f"warning: {communication} ({kind}): {fallback_notice(where)}"


def fallbacks_of(doc: dict[str, Any]) -> list[Fallback]:
    """The messages of an incident document that the built-in template drafted because an override failed."""
    from leakline.notify.drafting import Fallback

    return [
        Fallback(c["id"], c["kind"], c["template_fallback"])
        for c in doc["communications"]
        if c["template_fallback"] is not None
    ]


def template_warnings(doc: dict[str, Any]) -> list[str]:
    """One line per message the built-in template drafted because a `[notify] templates` override failed."""
    return [_fallback_warning(f.communication, f.kind, f.where) for f in fallbacks_of(doc)]


def report_fallbacks(
    incident_id: str, fallbacks: list[Fallback], *, stored: str = "everything else was assessed and stored"
) -> None:
    """After a change was stored and printed: a warning per message that the built-in template drafted in
    its place, then the error (a `TemplateError`, exit 2) naming each override that failed. `stored` says
    what was kept in spite of it."""
    from leakline.notify.drafting import APPROVAL_KINDS
    from leakline.notify.render import TemplateError

    if not fallbacks:
        return
    for fallback in fallbacks:
        typer.echo(_fallback_warning(fallback.communication, fallback.kind, fallback.where), err=True)
    failures = "; ".join(dict.fromkeys(fallback.where for fallback in fallbacks))
    notices = sum(1 for fallback in fallbacks if fallback.kind in APPROVAL_KINDS)
    alerts = len(fallbacks) - notices
    drafted = " and ".join(_plural(count, word) for count, word in ((notices, "notice"), (alerts, "alert")) if count)
    hint = stored + (", and its alerts were queued with the built-in text" if alerts else "")
    # Notices wait for approval, so a reassessment can still draft them with the fixed template; queued
    # alerts are on their way.
    hint += (
        f"; fix the template, then `leakline incident assess {incident_id}` drafts {'it' if notices == 1 else 'them'} "
        "again"
        if notices
        else "; fix the template: the messages drafted from now on use it"
    )
    raise TemplateError(f"{incident_id}: {drafted} drafted with the built-in template: {failures}", hint=hint)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def opened_summary(doc: dict[str, Any], now: Any) -> str:
    """What someone who just opened an incident needs first: how much is due by when, and where to look."""
    from leakline.incidents.service import required_notifications
    from leakline.notify.drafting import APPROVAL_KINDS

    required = required_notifications(doc["obligations"])
    first_due = min((o["due_at"] for o in required if o["due_at"]), default=None)
    drafts = [
        c for c in doc["communications"] if c["state"] == "draft" and c["kind"] in APPROVAL_KINDS and not c["withdrawn"]
    ]
    line = (
        f"opened {doc['id']} ({doc['status']}, risk {doc['risk']}); {_plural(len(required), 'required notification')}"
    )
    if first_due is not None:
        line += f", first due {first_due} ({_left(first_due, now)})"
    if drafts:
        line += f"; {_plural(len(drafts), 'notice')} to approve"
    return f"{line}\nnext: leakline incident show {doc['id']}"


@app.command("list")
def list_command(
    config: ConfigOption = DEFAULT_CONFIG,
    output: FormatOption = OutputFormat.TEXT,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many, newest first.")] = 100,
) -> None:
    """Incidents, newest first."""
    from rich.console import Console

    from leakline.incidents import service
    from leakline.incidents.runtime import runtime

    with runtime(config) as rt, rt.store.transaction() as session:
        rows = service.list_incidents(session, limit=limit)
    if output is OutputFormat.JSON:
        _echo_json([row.model_dump(mode="json") for row in rows])
        return
    console = Console(highlight=False)
    console.print(incident_table(rows, width=console.width))


def incident_table(rows: list[IncidentSummary], *, width: int) -> Table:
    """The incident list for a terminal `width` wide: ids and the short columns never wrap (an id is copied
    into the next command); the title takes what is left and folds. Below `WIDE_LIST` columns the
    padding between columns collapses and the time of opening goes on two lines (date, time)."""
    from rich import box
    from rich.table import Table

    from leakline.notify.drafting import iso

    narrow = width < WIDE_LIST
    table = Table(title="Incidents", box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=narrow)
    table.add_column("id", no_wrap=True, min_width=max((len(row.id) for row in rows), default=2))
    for column in ("status", "severity", "risk", "signals"):
        table.add_column(column, no_wrap=True)
    table.add_column("opened\n(UTC)" if narrow else "opened (UTC)", no_wrap=True)
    table.add_column("title", overflow="fold", ratio=1)
    for row in rows:
        opened = iso(row.opened_at.replace(microsecond=0)) or ""
        table.add_row(
            row.id,
            row.status,
            row.severity,
            row.risk or "—",
            str(row.signal_count),
            opened.replace("T", "\n") if narrow else opened,
            row.title,
        )
    return table


def _left(due: str | None, now: Any) -> str:
    from datetime import datetime

    if due is None:
        return "no hard deadline"
    left = datetime.fromisoformat(due.replace("Z", "+00:00")) - now
    hours = abs(left.total_seconds()) / 3600
    amount = f"{hours:.0f}h" if hours < HOURS_SHOWN_AS_HOURS else f"{hours / 24:.1f}d"
    return f"overdue by {amount}" if left.total_seconds() < 0 else f"in {amount}"


def print_incident(doc: dict[str, Any], console: Console, now: Any) -> None:
    from rich.markup import escape
    from rich.table import Table

    from leakline.incidents.service import versions_text

    console.print(f"[bold]{doc['id']}[/] {escape(doc['title'])}")
    console.print(
        f"status {doc['status']} · severity {doc['severity']} · risk {doc['risk'] or 'not assessed'} · "
        f"facts v{doc['facts_version']} · {doc['signals']} signals"
    )
    obligations = Table(title="Obligations (required)")
    for column in ("due (UTC)", "left", "status", "regime", "where", "recipient", "authority"):
        obligations.add_column(column, overflow="fold")
    for o in doc["obligations"]:
        if o["required"]:
            # A duty drafted in several languages is met once each version is delivered: say which are not.
            versions = versions_text([(n["language"], n["state"]) for n in o["notices"]])
            status = f"{o['status']} ({versions})" if versions else o["status"]
            # A supplement (GDPR Art. 33(4)) owed after the notice met its deadline: say so beside it.
            later = [n for n in o.get("supplements", []) if n["state"] not in ("sent", "acked")]
            if later:
                status += "; supplement " + ", ".join(f"{n['id']} {n['state']}" for n in later)
            elif o.get("supplement_owed"):
                status += "; supplement owed (promised information not known yet)"
            obligations.add_row(
                o["due_at"] or "—",
                _left(o["due_at"], now) if o["status"] in _PENDING else "—",
                status,
                o["regime"],
                o["jurisdiction"],
                o["recipient"],
                escape(o["authority"]),
            )
    console.print(obligations)
    messages = Table(title="Communications")
    for column in ("id", "kind", "for", "recipient", "channel", "state", "subject"):
        messages.add_column(column, overflow="fold")
    several = _language_versions(doc)
    for c in doc["communications"]:
        state = c["state"] + (" (withdrawn)" if c["withdrawn"] else "")
        if c.get("receipts"):
            state += "".join(f"; receipt {r['reference']} at {r['at']}" for r in c["receipts"])
        messages.add_row(
            c["id"], c["kind"], _duty(c, several), escape(c["recipient"]), c["channel"], state, escape(c["subject"])
        )
    console.print(messages)
    for warning in template_warnings(doc):
        console.print(escape(warning), soft_wrap=True)
    timeline = Table(title="Timeline (UTC)")
    for column in ("at", "actor", "event", "detail"):
        timeline.add_column(column, overflow="fold")
    for t in doc["timeline"]:
        timeline.add_row(t["at"], escape(t["actor"]), t["event"], escape(t["detail"]))
    console.print(timeline)
    steps = next_steps(doc)
    if steps:
        console.print("Next steps")
        for step in steps:
            console.print(f"  {escape(step)}", soft_wrap=True)


def _duty(communication: dict[str, Any], versions: frozenset[str] = frozenset()) -> str:
    """Which duty a message answers ("gdpr-33 DE"), so that notices to two authorities can be told apart;
    with its language ("gdpr-34 EU fr") when it is one of `versions`, the ids of duties' language versions."""
    if communication["regime"] is None:
        return "—"
    language = f" {communication['language']}" if communication["id"] in versions else ""
    phase = communication.get("phase") or 0
    # The second supplement is told apart from the first ("gdpr-33 DE supplement 2").
    supplement = "" if not phase else " supplement" if phase == 1 else f" supplement {phase}"
    return f"{communication['regime']} {communication['jurisdiction']}{language}{supplement}"


def _language_versions(doc: dict[str, Any]) -> frozenset[str]:
    """The ids of the notices that are one of several language versions of a duty (GDPR Art. 34)."""
    return frozenset(n["id"] for o in doc["obligations"] if len(o["notices"]) > 1 for n in o["notices"])


def next_steps(doc: dict[str, Any]) -> list[str]:
    """The commands that move an open incident's messages on, in the order a person runs them; notices
    whose duty falls due first come first."""
    from leakline.notify.drafting import APPROVAL_KINDS, ESCALATING_KINDS, NO_CHANNEL
    from leakline.notify.service import placeholder_fields

    if doc["status"] == "closed":
        return []
    due = {(o["regime"], o["jurisdiction"], o["recipient"]): o["due_at"] for o in doc["obligations"]}
    versions = _language_versions(doc)

    def urgency(c: dict[str, Any]) -> tuple[bool, str, str, str]:
        when = due.get((c["regime"], c["jurisdiction"], c["recipient"]))
        return (when is None, when or "", _duty(c, versions), c["id"])

    incident = doc["id"]
    steps: list[str] = []
    if doc["facts_version"] == 0:
        # Opened by a signal that named no data (or before [organisation] establishments was set): no law
        # can be assessed until someone states the facts.
        steps.append(
            "no facts yet, so no obligations: write them (fields and an example: docs/assess.md, 'Facts') "
            f"and add them: leakline incident facts {incident} --facts facts.json"
        )
    notices = queued = False
    acks: set[tuple[str, str]] = set()
    for c in sorted(doc["communications"], key=urgency):
        if c["withdrawn"]:
            continue
        duty = _duty(c, versions)
        unsent = c["state"] in ("draft", "approved") and c["kind"] in APPROVAL_KINDS
        if unsent and c["channel"] == NO_CHANNEL:
            steps.append(
                f"no address for {duty}: add [authorities.{c['jurisdiction']}] {c['recipient']} = "
                f'"mailto:..." to leakline.toml, then leakline incident assess {incident}'
            )
        draft = unsent and c["state"] == "draft"
        text = {"subject": c.get("subject", ""), "body": c.get("body", "")}
        fields = placeholder_fields(c["kind"], **text, facts=doc.get("facts")) if draft else []
        if fields:
            # Approval would be refused: say what to complete before telling anyone to approve it.
            steps.append(
                f"complete {duty} before approving it: set {' and '.join(fields)} in the facts (docs/assess.md), "
                f"then leakline incident facts {incident} --facts FILE"
            )
        elif draft:
            steps.append(
                f"approve {duty} once you have read it (leakline incident show {incident} {c['id']}): "
                f"leakline incident approve {incident} {c['id']} --by NAME"
            )
        notices = notices or unsent
        queued = queued or c["state"] == "queued"
        if c["state"] == "failed":
            steps.append(
                f"delivery failed for {c['id']} ({c['kind']} to {c['recipient']} via {c['channel']}): fix the "
                f"channel and queue it again: leakline incident send {incident} {c['id']}, or deliver it another "
                f'way and record it: leakline incident delivered {incident} {c["id"]} --channel "HOW" --by NAME'
            )
        superseded = any(
            later["phase"] > c.get("phase", 0)
            and not later["withdrawn"]
            and (later["regime"], later["jurisdiction"], later["language"])
            == (c["regime"], c["jurisdiction"], c["language"])
            for later in doc["communications"]
            if later.get("phase")
        )
        if (
            c["state"] in ("sent", "acked")
            and c["kind"] in APPROVAL_KINDS
            and c.get("facts_changed")
            and not superseded
        ):
            basis = _UPDATE_BASIS.get(c["regime"] or "")
            steps.append(
                f"facts changed since {c['id']} ({duty}) was sent (facts v{c['facts_version']}, now "
                f"v{doc['facts_version']}): an update or supplementary notice may be due"
                + (f" ({basis})" if basis else "")
                + f"; compare the versions: leakline incident facts {incident}"
            )
        if c["state"] == "sent" and c["kind"] in ESCALATING_KINDS and (c["kind"], c["recipient"]) not in acks:
            # One ack covers the copies on the recipient's other channels.
            acks.add((c["kind"], c["recipient"]))
            steps.append(
                f"acknowledge the alert to {c['recipient']}: leakline incident ack {incident} {c['id']} --by NAME"
            )
    for o in doc["obligations"]:
        for line in o.get("supplement_owed", []):
            if "not known yet" in line:
                steps.append(f"supplement owed: {line}")
    if notices:
        steps.append(f"then queue the approved notices: leakline incident send {incident}")
    if notices or queued:
        steps.append("then deliver: leakline worker (or leakline worker --once)")
    return steps


def message_text(c: dict[str, Any]) -> str:
    """One message whole, as its recipient will read it, with who it goes to and where it stands."""
    to = f"{c['recipient']} <{c['to']}> via {c['channel']}" if c["to"] else f"{c['recipient']} (no address yet)"
    state = c["state"] + (" (withdrawn: its duty no longer arises)" if c["withdrawn"] else "")
    lines = [f"{c['id']} · {c['kind']} · {_duty(c)} · {state}", f"to: {to}"]
    if c["approved_by"]:
        lines.append(f"approved by {c['approved_by']} at {c['approved_at']}")
    if c["sent_at"]:
        lines.append(f"sent at {c['sent_at']}" + (f" {c['delivery']}" if c["delivery"] else ""))
    for r in c.get("receipts", []):
        lines.append(f"receipt confirmed at {r['at']}, reference {r['reference']}, recorded by {r['by']}")
    lines += [f"subject: {c['subject']}", "", c["body"].rstrip("\n")]
    return "\n".join(lines)


@app.command("show")
def show_command(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    message_id: Annotated[
        str | None, typer.Argument(metavar="[MESSAGE_ID]", help="Print this message whole (subject, recipient, body).")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Timeline, obligations with deadlines and time left, messages with their delivery state; with
    MESSAGE_ID, that message whole."""
    from rich.console import Console

    from leakline.incidents import service
    from leakline.incidents.runtime import runtime
    from leakline.notify.errors import CommunicationNotFound

    with runtime(config) as rt, rt.store.transaction() as session:
        doc = service.incident_document(session, incident_id=incident_id)
    if message_id is not None:
        found = [c for c in doc["communications"] if c["id"] == message_id]
        if not found:
            raise CommunicationNotFound(
                f"incident {incident_id} has no communication {message_id!r}",
                hint=f"`leakline incident show {incident_id}` lists its communications",
            )
        if output is OutputFormat.JSON:
            _echo_json(found[0])
        else:
            typer.echo(message_text(found[0]))
        return
    if output is OutputFormat.JSON:
        _echo_json(doc)
    else:
        print_incident(doc, Console(highlight=False, width=160), _now())


@app.command("facts")
def facts_command(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    facts: Annotated[str | None, typer.Option("--facts", help="New facts (JSON/TOML file, - for stdin).")] = None,
    reason: Annotated[str, typer.Option("--reason", help="Why the facts changed.")] = "amended",
    by: Annotated[str, typer.Option("--by", help="Who amends them.")] = "cli",
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Amend the facts (a new version; obligations recompute), or print every version without --facts."""
    from leakline.incidents import service
    from leakline.incidents.runtime import change
    from leakline.obligations import load_facts
    from leakline.obligations.facts import refuse_future_dates

    parsed = load_facts(facts) if facts is not None else None
    if parsed is not None and facts is not None:
        refuse_future_dates(parsed, now=_now(), source="<stdin>" if facts == "-" else facts)
        _warn_uncovered(parsed, facts)
    fallbacks: list[Fallback] = []
    with change(config) as (rt, session):
        if parsed is None:
            _echo_json(service.facts_versions(session, incident_id=incident_id))
            return
        incident = service.amend_facts(
            session,
            rt.settings,
            recorder=rt.recorder,
            incident_id=incident_id,
            facts=parsed,
            actor=by,
            reason=reason,
            now=_now(),
            fallbacks=fallbacks,
        )
        version, risk = incident.facts_version, incident.risk
    typer.echo(f"{incident_id}: facts version {version}, risk {risk}")
    report_fallbacks(incident_id, fallbacks)


@app.command("assess")
def assess_command(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    by: Annotated[str, typer.Option("--by", help="Who asks (for the timeline).")] = "cli",
    config: ConfigOption = DEFAULT_CONFIG,
    output: FormatOption = OutputFormat.TEXT,
) -> None:
    """Recompute the obligations from the current facts and print them."""
    from leakline.incidents import service
    from leakline.incidents.runtime import change

    fallbacks: list[Fallback] = []
    with change(config) as (rt, session):
        incident = service.reassess(
            session,
            rt.settings,
            recorder=rt.recorder,
            incident_id=incident_id,
            actor=by,
            now=_now(),
            fallbacks=fallbacks,
        )
        assessment = dict(incident.assessment or {})
    if output is OutputFormat.JSON:
        _echo_json(assessment)
    else:
        now = _now()
        for o in assessment.get("obligations", []):
            if o["required"]:
                typer.echo(
                    f"{o['due_at'] or '—':22} {_left(o['due_at'], now):18} {o['regime']:10} "
                    f"{o['jurisdiction']:6} {o['recipient']}"
                )
    report_fallbacks(incident_id, fallbacks)


@app.command("approve")
def approve_command(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    communication_id: Annotated[str, typer.Argument(metavar="COMMUNICATION_ID")],
    by: Annotated[str, typer.Option("--by", help="Who approves (recorded with the time).")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Approve a notice to an authority or to data subjects."""
    from leakline.incidents.runtime import change
    from leakline.notify import service
    from leakline.notify.models import CommunicationRead

    with change(config) as (rt, session):
        approved = service.approve(
            session,
            recorder=rt.recorder,
            incident_id=incident_id,
            communication_id=communication_id,
            by=by,
            now=_now(),
            # Rendered again as of now: the notice gives the approval's date, not the draft's.
            settings=rt.settings,
        )
        text = message_text(CommunicationRead.model_validate(approved).model_dump(mode="json"))
    # What was approved is what will be sent: say so with the text itself.
    typer.echo(f"{communication_id}: approved by {by}; this text is what will be sent:\n\n{text}")


@app.command("send")
def send_command(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    communication_id: Annotated[str | None, typer.Argument(metavar="[COMMUNICATION_ID]")] = None,
    by: Annotated[str, typer.Option("--by", help="Who sends.")] = "cli",
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Queue an approved message (or all approved ones) for delivery by the workers."""
    from leakline.incidents.runtime import change
    from leakline.notify import service

    with change(config) as (rt, session):
        queued = [
            c.id
            for c in service.send(
                session,
                recorder=rt.recorder,
                incident_id=incident_id,
                communication_id=communication_id,
                by=by,
                now=_now(),
                settings=rt.settings,
            )
        ]
        waiting = len(service.awaiting_approval(session, incident_id=incident_id)) if not queued else 0
    if queued:
        typer.echo(f"queued: {', '.join(queued)}")
    elif waiting:
        typer.echo(
            f"queued: nothing ({_plural(waiting, 'notice')} await{'s' if waiting == 1 else ''} approval: "
            f"leakline incident show {incident_id})"
        )
    else:
        typer.echo("queued: nothing (no approved messages)")


def _instant(option: str, value: str) -> Any:
    """An ISO 8601 date-time with a UTC offset, as UTC (read as facts' dates are); an error naming the option."""
    from leakline.errors import UsageError
    from leakline.obligations.facts import aware_datetime

    try:
        return aware_datetime(value)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}, got {value!r}") from None


@app.command("delivered")
def delivered_command(
    incident_id: Annotated[str, typer.Argument(metavar="INCIDENT_ID")],
    communication_id: Annotated[str, typer.Argument(metavar="MESSAGE_ID")],
    channel: Annotated[str, typer.Option("--channel", help="How it went out: 'ICO portal', 'registered letter'.")],
    at: Annotated[
        str | None, typer.Option("--at", help="When (ISO 8601 with a UTC offset); default now.", show_default=False)
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who records it.")] = "cli",
    reference: Annotated[
        str | None, typer.Option("--reference", help="The recipient's reference (case number, receipt).")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Record a message you delivered yourself (no address configured, a portal, a letter): it counts as
    delivered, and its deadline as met."""
    from datetime import timedelta

    from leakline.errors import UsageError
    from leakline.incidents.runtime import change
    from leakline.notify import service
    from leakline.notify.drafting import iso

    now = _now()
    when = now if at is None else _instant("--at", at)
    if when > now:
        raise UsageError(f"--at: {iso(when)} is in the future")
    with change(config) as (rt, session):
        service.record_delivery(
            session,
            recorder=rt.recorder,
            incident_id=incident_id,
            communication_id=communication_id,
            channel=channel,
            at=when,
            by=by,
            reference=reference,
            ack_after=timedelta(minutes=rt.settings.escalation.ack_minutes),
            now=now,
            settings=rt.settings,
        )
    typer.echo(f"{communication_id}: delivered by hand via {channel} at {iso(when)}, recorded by {by}")


@app.command("receipt")
def receipt_command(
    incident_id: Annotated[str, typer.Argument(metavar="INCIDENT_ID")],
    communication_id: Annotated[str, typer.Argument(metavar="MESSAGE_ID")],
    reference: Annotated[
        str, typer.Option("--reference", help="The recipient's reference: case number, receipt number.")
    ],
    at: Annotated[
        str | None,
        typer.Option(
            "--at", help="When they confirmed it (ISO 8601 with a UTC offset); default now.", show_default=False
        ),
    ] = None,
    by: Annotated[str, typer.Option("--by", help="Who records it.")] = "cli",
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Record that an authority (or a CSIRT) confirmed receipt of a delivered notice, with its reference:
    kept in the timeline and the audit log, shown by `show`."""
    from leakline.errors import UsageError
    from leakline.incidents.runtime import change
    from leakline.notify import service
    from leakline.notify.drafting import iso

    now = _now()
    when = now if at is None else _instant("--at", at)
    if when > now:
        raise UsageError(f"--at: {iso(when)} is in the future")
    if not reference.strip():
        raise UsageError("--reference: empty; give the recipient's reference (case number, receipt)")
    with change(config) as (rt, session):
        service.record_receipt(
            session,
            recorder=rt.recorder,
            incident_id=incident_id,
            communication_id=communication_id,
            reference=reference,
            at=when,
            by=by,
            now=now,
            settings=rt.settings,
        )
    typer.echo(f"{communication_id}: receipt confirmed at {iso(when)}, reference {reference}, recorded by {by}")


@app.command("ack")
def ack_command(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    communication_id: Annotated[str, typer.Argument(metavar="COMMUNICATION_ID")],
    by: Annotated[str, typer.Option("--by", help="Who acknowledges.")],
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Acknowledge a delivered alert (stops its escalation)."""
    from leakline.incidents.runtime import change
    from leakline.notify import service

    with change(config) as (rt, session):
        acked = [
            c.id
            for c in service.ack(
                session,
                recorder=rt.recorder,
                incident_id=incident_id,
                communication_id=communication_id,
                by=by,
                now=_now(),
            )
        ]
    typer.echo(f"acknowledged by {by}: {', '.join(sorted(acked))}")


@app.command("move")
def move_command(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    status: Annotated[Target, typer.Argument(help="triaged, contained, notifying or closed (forward only).")],
    by: Annotated[str, typer.Option("--by", help="Who moves it.")] = "cli",
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Move the lifecycle forward: detected → triaged → contained → notifying → closed."""
    from leakline.incidents import service
    from leakline.incidents.models import Status
    from leakline.incidents.runtime import change

    with change(config) as (rt, session):
        service.transition(
            session,
            recorder=rt.recorder,
            incident_id=incident_id,
            to=Status(status.value),
            actor=by,
            now=_now(),
            settings=rt.settings,
        )
    typer.echo(f"{incident_id}: {status.value}")


@app.command("close")
def close_command(
    incident_id: Annotated[str, typer.Argument(metavar="ID")],
    by: Annotated[str, typer.Option("--by", help="Who closes it.")] = "cli",
    force: Annotated[
        bool, typer.Option("--force", help="Close although required notifications are not delivered (--reason).")
    ] = False,
    reason: Annotated[
        str | None, typer.Option("--reason", help="Why (kept in the timeline and the audit log).")
    ] = None,
    config: ConfigOption = DEFAULT_CONFIG,
) -> None:
    """Close the incident (no more changes; escalations and reminders stop). Refused while a required
    notification is not delivered, unless --force --reason."""
    from leakline.errors import UsageError
    from leakline.incidents import service
    from leakline.incidents.runtime import change

    if force and not (reason or "").strip():
        raise UsageError('--force needs --reason "WHY" (kept in the timeline and the audit log)')
    with change(config) as (rt, session):
        service.close_incident(
            session, recorder=rt.recorder, incident_id=incident_id, actor=by, now=_now(), force=force, reason=reason
        )
    typer.echo(f"{incident_id}: closed")
