"""`leakline assess FACTS [--format text|json] [--explain] [--now T]`: run the rules engine on incident facts.

FACTS is a JSON or TOML file, or `-` for stdin. Errors in the facts exit with status 2 and name the field;
people listed where no regime reaches them (`uncovered_people`) are a warning on stderr.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"


@app.command()
def assess_command(
    facts: Annotated[str, typer.Argument(help="Facts file (JSON or TOML), or - to read stdin.")],
    output: Annotated[OutputFormat, typer.Option("--format", help="text for people, json for machines.")] = (
        OutputFormat.TEXT
    ),
    explain: Annotated[
        bool, typer.Option("--explain", help="For every duty: the rule, its source and the facts that decided.")
    ] = False,
    now: Annotated[
        str | None, typer.Option("--now", help="Assess as of this ISO 8601 time (default: now); sets urgency.")
    ] = None,
) -> None:
    """Which laws apply to a leak, who must be told, by when and with what."""
    from datetime import datetime

    from rich.console import Console

    from leakline.obligations.engine import assess, uncovered_people
    from leakline.obligations.errors import ObligationsError
    from leakline.obligations.facts import load_facts
    from leakline.obligations.render import print_text, to_json

    moment = None
    if now is not None:
        try:
            moment = datetime.fromisoformat(now)
        except ValueError:
            raise ObligationsError(f"--now: expected an ISO 8601 date-time with offset, got {now!r}") from None
        if moment.tzinfo is None:
            raise ObligationsError(f"--now: expected a UTC offset (e.g. {now}+00:00)")
    parsed = load_facts(facts)
    # On stderr, so that --format json stays one document; the people are assessed all the same.
    for warning in uncovered_people(parsed):
        typer.echo(f"warning: {'<stdin>' if facts == '-' else facts}: {warning}", err=True)
    assessment = assess(parsed, now=moment)
    if output is OutputFormat.JSON:
        typer.echo(to_json(assessment))
    else:
        print_text(assessment, Console(highlight=False), explain=explain)
