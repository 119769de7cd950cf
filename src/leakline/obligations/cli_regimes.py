"""`leakline regimes [--format text|json]`: the regimes leakline knows, their rules, sources and review dates."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from leakline.obligations.cli_assess import OutputFormat

app = typer.Typer(add_completion=False)


@app.command()
def regimes_command(
    output: Annotated[OutputFormat, typer.Option("--format", help="text for people, json for machines.")] = (
        OutputFormat.TEXT
    ),
) -> None:
    """List breach-notification regimes with their rules, official sources and last review date."""
    import json

    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from leakline.obligations.regimes import load_regimes

    regimes = load_regimes()
    if output is OutputFormat.JSON:
        listing: list[dict[str, Any]] = [
            {
                "id": regime.id,
                "name": regime.name,
                "last_reviewed": regime.last_reviewed.isoformat(),
                "applies_from": regime.applies_from.isoformat() if regime.applies_from else None,
                "sources": list(regime.sources),
                "rules": [
                    {"id": r.id, "recipient": r.recipient, "basis": r.basis, "source": r.source, "deadline": r.deadline}
                    for r in regime.rules
                ],
            }
            for regime in regimes
        ]
        typer.echo(json.dumps(listing, indent=2, ensure_ascii=False))
        return
    table = Table(title="Breach-notification regimes", show_lines=True)
    for column in ("regime ids", "law", "applies from", "reviewed", "sources"):
        table.add_column(column, overflow="fold")
    for regime in regimes:
        ids = "\n".join(dict.fromkeys(rule.id for rule in regime.rules))
        applies = regime.applies_from.isoformat() if regime.applies_from else "—"
        table.add_row(
            ids, escape(regime.name), applies, regime.last_reviewed.isoformat(), escape("\n".join(regime.sources))
        )
    Console(highlight=False).print(table)
