"""`leakline rules [ID]`: list the scan rules, or print one rule's documentation page."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer()


@app.command()
def rules(rule_id: Annotated[str | None, typer.Argument(help="A rule id such as LL007.")] = None) -> None:
    """List the scan rules, or print one rule's documentation."""
    from rich.console import Console
    from rich.markdown import Markdown
    from rich.table import Table

    from leakline.scan.errors import UnknownRuleError
    from leakline.scan.rules import registry
    from leakline.scan.rules.docs import rule_doc

    metas = registry()
    console = Console()
    if rule_id is None:
        table = Table(title="leakline scan rules")
        for column in ("id", "name", "severity", "title"):
            table.add_column(column)
        for meta in metas.values():
            table.add_row(meta.id, meta.name, meta.severity.value, meta.title)
        console.print(table)
        return
    key = rule_id.upper()
    if key not in metas:
        raise UnknownRuleError(f"unknown rule {rule_id!r}", hint="`leakline rules` lists them")
    doc = rule_doc(key)
    console.print(Markdown(doc) if doc else metas[key].title)
