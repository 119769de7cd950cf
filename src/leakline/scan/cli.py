"""`leakline scan PATH`: run the rules and print findings as text, JSON or SARIF."""

from __future__ import annotations

import importlib
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from leakline.cli_params import PlainParamsCommand
from leakline.errors import EXIT_FINDINGS, EXIT_OK, UsageError
from leakline.findings import Finding, Severity

if TYPE_CHECKING:
    from leakline.scan.engine import ScanResult

app = typer.Typer()

DEFAULT_BASELINE = ".leakline-baseline.json"


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


def _baseline_targets(result: ScanResult, explicit: Path | None, path: Path) -> dict[Path, list[Finding]]:
    """Where --write-baseline writes: --baseline for everything; else each app's `[scan] baseline`, or
    PATH/.leakline-baseline.json for apps without one."""
    if explicit is not None:
        return {explicit: result.findings}
    default = path / DEFAULT_BASELINE
    targets: dict[Path, list[Finding]] = {}
    for app in result.apps:
        targets.setdefault(app.root / app.settings.scan.baseline if app.settings.scan.baseline else default, [])
    for finding in result.findings:
        owner = result.app_of(finding)
        configured = owner.settings.scan.baseline if owner is not None else None
        target = owner.root / configured if owner is not None and configured else default
        targets.setdefault(target, []).append(finding)
    return targets


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
) -> None:
    """Find leak risks in a Next.js app: source, config and .next build output."""
    from leakline.scan.baseline import write_baseline as write_baseline_file
    from leakline.scan.engine import scan as run_scan

    rule_ids = [r.upper() for r in rule] if rule else None
    show_progress = progress and sys.stderr.isatty()
    scan_options = {
        "fail_on": fail_on,
        "baseline_path": None if write_baseline else baseline,
        "rule_ids": rule_ids,
        # Writing a baseline must see every finding, not the ones the current baseline hides.
        "config_baselines": not write_baseline,
    }
    if show_progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("scanning", total=None)

            def report(label: str, done: int, total: int) -> None:
                bar.update(task, description=label, completed=done, total=total)

            result = run_scan(path, progress=report, **scan_options)  # type: ignore[arg-type]
    else:
        result = run_scan(path, **scan_options)  # type: ignore[arg-type]

    if write_baseline:
        for target, findings in _baseline_targets(result, baseline, path).items():
            count = write_baseline_file(target, findings)
            typer.echo(f"wrote {count} finding(s) to baseline {target}", err=True)
        raise typer.Exit(EXIT_OK)

    # Only the chosen renderer is imported: the text one brings Rich, which JSON and SARIF runs do without.
    renderer = importlib.import_module(f"leakline.reports.{output_format.value}")
    color = output is None and output_format is OutputFormat.TEXT and sys.stdout.isatty()
    rendered = renderer.render(result, color=color)
    if output is not None:
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text(rendered, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{output}: cannot write report: {exc.strerror}") from None
    else:
        sys.stdout.write(rendered)
    raise typer.Exit(EXIT_FINDINGS if result.failing else EXIT_OK)
