"""Scan results for people: findings grouped by file, coloured by severity, then a summary table."""

from __future__ import annotations

import io
from collections import Counter, defaultdict

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from leakline.findings import Finding, Severity
from leakline.scan.engine import ScanResult
from leakline.scan.rules import registry

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
}
_ORDER = (Severity.CRITICAL, Severity.HIGH, Severity.MEDIUM, Severity.LOW)
MAX_SKIPPED_LISTED = 20
"""Skipped files named per reason in the text report; the JSON report names them all."""


def _severities(findings: list[Finding], rule_id: str) -> str:
    """The severities of a rule's findings, highest first (`critical, high`): a finding's own severity, not the
    rule's default (LL016 reports a critical advisory although the rule defaults to high)."""
    present = {f.severity for f in findings if f.rule == rule_id}
    return ", ".join(f"[{SEVERITY_STYLE[s]}]{s.value}[/]" for s in _ORDER if s in present)


def render(result: ScanResult, *, color: bool = False) -> str:
    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=color, no_color=not color, width=110, highlight=False, soft_wrap=True)
    by_file: dict[str, list[Finding]] = defaultdict(list)
    for finding in result.active:
        by_file[finding.path].append(finding)
    # One print for all of them: each `print` costs Rich ~0.3 ms, which made the report of a few hundred
    # findings take longer than the scan.
    lines: list[str] = []
    for path in sorted(by_file):
        lines.append(f"[bold underline]{escape(path)}[/]")
        for f in by_file[path]:
            style = SEVERITY_STYLE[f.severity]
            lines.append(
                f"  {f.line}:{f.column}  [{style}]{f.severity.value:<8}[/]  [bold]{f.rule}[/]  {escape(f.message)}"
            )
            if f.evidence:
                lines.append(f"      [dim]{escape(f.evidence)}[/]")
        lines.append("")
    if lines:
        console.print("\n".join(lines))
    metas = registry()
    counts = Counter(f.rule for f in result.active)
    if counts:
        table = Table(title="leakline scan summary", show_lines=False)
        table.add_column("rule")
        table.add_column("title")
        table.add_column("severity")
        table.add_column("findings", justify="right")
        for rule_id in sorted(counts):
            table.add_row(rule_id, metas[rule_id].title, _severities(result.active, rule_id), str(counts[rule_id]))
        console.print(table)
    stats = result.stats
    by_severity = Counter(f.severity for f in result.active)
    parts = [f"{by_severity[s]} {s.value}" for s in _ORDER if by_severity[s]]
    suppressed = len(result.findings) - len(result.active)
    console.print(
        f"{len(result.active)} finding(s)"
        + (f" ({', '.join(parts)})" if parts else "")
        + (f", {suppressed} suppressed" if suppressed else "")
        + f" in {len(stats.apps)} app(s), {stats.files_indexed} files indexed, {stats.files_parsed} parsed,"
        + f" {stats.duration_s:.2f}s"
    )
    for rule_id, sources in sorted(stats.disabled_rules.items()):
        # A rule switched off finds nothing: said next to the counts, so that silence is not read as clean.
        console.print(f"[dim]not run: {rule_id}, disabled by {escape(', '.join(sources))}[/]")
    named: dict[str, list[str]] = defaultdict(list)
    for path, reason in stats.skipped_files:
        named[reason].append(path)
    for reason, count in sorted(stats.skipped.items()):
        console.print(f"[dim]skipped {count}: {escape(reason)}[/]")
        paths = named.get(reason, [])
        for path in paths[:MAX_SKIPPED_LISTED]:
            console.print(f"[dim]  {escape(path)}[/]")
        if len(paths) > MAX_SKIPPED_LISTED:
            console.print(f"[dim]  … and {len(paths) - MAX_SKIPPED_LISTED} more (JSON stats.skipped_files)[/]")
    for reason, count in sorted(stats.notes.items()):
        console.print(f"[dim]analysed {count} with a caveat: {escape(reason)}[/]")
    for error in stats.rule_errors:
        console.print(f"[red]rule error: {escape(error)}[/]")
    if stats.rule_errors:
        console.print(
            f"[bold red]scan incomplete: {len(stats.rule_errors)} rule error(s), the findings they cover are missing"
            " (exit 2)[/]"
        )
    for warning in stats.warnings:
        console.print(f"[yellow]warning: {escape(warning)}[/]")
    failing = len(result.failing)
    if failing:
        console.print(f"[bold red]{escape(_failing_line(result, failing))}[/]")
    return buffer.getvalue()


def _failing_line(result: ScanResult, failing: int) -> str:
    if len(set(result.thresholds().values())) <= 1:
        return f"{failing} finding(s) at or above --fail-on {result.fail_on.value}"
    # A monorepo's apps with different [scan] fail_on: one threshold would misstate what failed.
    per_app = ", ".join(
        f"{n} in {prefix} (at or above {severity.value})" for prefix, severity, n in result.failing_by_app()
    )
    return f"{failing} finding(s) at or above their app's [scan] fail_on: {per_app}"
