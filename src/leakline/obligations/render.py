"""Render an `Assessment` for people (a Rich table coloured by urgency, optional explanation) or machines (JSON).

Urgency is measured from `assessed_at`: overdue and due within 24 hours are red, within 72 hours
yellow, later green; duties without a hard deadline are cyan; duties that do not arise are dimmed and
only shown with --explain, which also prints each rule's article, source URL and the facts that decided.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leakline.obligations.engine import Assessment, Obligation, iso_utc
from leakline.obligations.regimes import load_regimes

URGENT = timedelta(hours=24)
SOON = timedelta(hours=72)
HOURS_SHOWN_AS_HOURS = 72
RISK_STYLE = {"none": "green", "risk": "yellow", "high": "bold red"}


def urgency_style(obligation: Obligation, now: datetime) -> str:
    if not obligation.required:
        return "dim"
    if obligation.due_at is None:
        return "cyan"
    left = obligation.due_at - now
    if left < timedelta(0):
        return "bold red"
    if left <= URGENT:
        return "red"
    if left <= SOON:
        return "yellow"
    return "green"


def _remaining(obligation: Obligation, now: datetime) -> str:
    if obligation.due_at is None:
        return "no hard deadline"
    left = obligation.due_at - now
    hours = abs(left.total_seconds()) / 3600
    amount = f"{hours:.0f}h" if hours < HOURS_SHOWN_AS_HOURS else f"{hours / 24:.1f}d"
    return f"overdue by {amount}" if left < timedelta(0) else f"in {amount}"


def to_json(assessment: Assessment) -> str:
    return json.dumps(assessment.to_dict(), indent=2, ensure_ascii=False)


def _sources() -> dict[str, str]:
    """ "regime id@recipient" → the rule's source URL, processor hops included."""
    sources = {rule.id + "@" + rule.recipient: rule.source for regime in load_regimes() for rule in regime.rules}
    for regime in load_regimes():
        if regime.processor is not None:
            sources[regime.processor.rule + "@controller"] = regime.processor.source
    return sources


def print_text(assessment: Assessment, console: Console, *, explain: bool) -> None:
    now = assessment.assessed_at
    risk_style = RISK_STYLE[assessment.risk]
    console.print(f"GDPR risk level: [{risk_style}]{assessment.risk}[/]  (assessed {iso_utc(now)})")
    for reason in assessment.reasons:
        console.print(f"  - {escape(reason)}")
    shown = [o for o in assessment.obligations if o.required or explain]
    table = Table(title="Obligations, by due time (UTC)", show_lines=False, expand=False)
    for column in ("due (UTC)", "left", "regime", "where", "recipient", "authority"):
        table.add_column(column, overflow="fold")
    for obligation in shown:
        style = urgency_style(obligation, now)
        due = iso_utc(obligation.due_at) or "—"
        left = _remaining(obligation, now) if obligation.required else "not required"
        table.add_row(
            due,
            left,
            obligation.regime,
            obligation.jurisdiction,
            obligation.recipient,
            escape(obligation.authority),
            style=style,
        )
    console.print(table)
    hidden = len(assessment.obligations) - len(shown)
    if hidden:
        console.print(f"[dim]{hidden} duties considered but not required; --explain shows why.[/]")
    if explain:
        _print_explanation(assessment, console)


def _print_explanation(assessment: Assessment, console: Console) -> None:
    # Soft wrap: the terminal may fold long lines, but URLs and reasons stay whole when copied or piped.
    def say(text: str) -> None:
        console.print(text, soft_wrap=True)

    sources = _sources()
    say("\n[bold]Why[/]")
    for obligation in assessment.obligations:
        source = sources.get(f"{obligation.regime}@{obligation.recipient}", "")
        say(
            f"[bold]{obligation.regime}[/] {obligation.jurisdiction} → {obligation.recipient}: {escape(obligation.why)}"
        )
        say(f"    rule: {escape(obligation.basis)} — {escape(obligation.deadline)}")
        if source:
            say(f"    source: {escape(source)}")
        if obligation.required:
            say(f"    content: {escape('; '.join(obligation.content))}")
    if assessment.not_applicable:
        say("\n[bold]Did not apply[/]")
        for entry in assessment.not_applicable:
            where = f" {entry.jurisdiction}" if entry.jurisdiction else ""
            say(f"[dim]{entry.regime}{where}: {escape(entry.why)}[/]")
