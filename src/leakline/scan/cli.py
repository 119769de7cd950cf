"""`leakline scan PATH`: run the rules and print findings as text, JSON or SARIF.

The Typer declaration of the command (its options, help and conversions); what it does is
`leakline.scan.command.run_scan`, which `leakline.scan.argv` also runs for plain command lines without
Typer.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from leakline.cli_params import PlainParamsCommand
from leakline.findings import Severity
from leakline.scan.command import DEFAULT_BASELINE, OutputFormat, run_scan

app = typer.Typer()


@app.command(cls=PlainParamsCommand)
def scan(
    path: Annotated[Path, typer.Argument(help="A Next.js app, or a monorepo holding several.")],
    output_format: Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")] = OutputFormat.TEXT,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report here instead of stdout.")
    ] = None,
    fail_on: Annotated[
        Severity | None,
        typer.Option(
            "--fail-on",
            help="Exit 1 when an active finding has at least this severity [default: high, or [scan] fail_on].",
        ),
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option("--baseline", help="Findings in this baseline file are suppressed.")
    ] = None,
    write_baseline: Annotated[
        bool,
        typer.Option(
            "--write-baseline",
            help=f"Accept the current findings: write them to --baseline (default PATH/{DEFAULT_BASELINE}).",
        ),
    ] = False,
    rule: Annotated[list[str] | None, typer.Option("--rule", help="Run only this rule (repeatable).")] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Show a progress bar on stderr.")] = True,
    cache: Annotated[
        bool,
        typer.Option(
            "--cache/--no-cache",
            help="Keep compiled prefilter databases in $LEAKLINE_CACHE_DIR (default ~/.cache/leakline).",
        ),
    ] = True,
    skip_rule: Annotated[
        list[str] | None,
        typer.Option("--skip-rule", help="Do not run this rule (repeatable); [scan] disable_rules per app."),
    ] = None,
) -> None:
    """Find leak risks in a Next.js app: source, config and .next build output.

    Exit status: 0 no failing finding; 1 failing findings; 2 bad usage or settings, or an incomplete scan (a
    rule could not check a file: `rule error` lines name the rule and the file).
    """
    raise typer.Exit(
        run_scan(path, output_format, output, fail_on, baseline, write_baseline, rule, progress, cache, skip_rule)
    )
