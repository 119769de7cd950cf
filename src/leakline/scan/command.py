"""What `leakline scan` does once its command line is read: scan, write the report or the baseline, and
return the exit code.

Kept free of Typer so that both ways into the command share it: the Typer command (`leakline.scan.cli`)
and the plain command-line path (`leakline.scan.argv`), which runs an ordinary, valid `leakline scan`
command line without importing Typer (~50 ms of every scan's start-up).
"""

from __future__ import annotations

import importlib
import sys
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

from leakline.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USAGE, UsageError
from leakline.findings import Finding, Severity

if TYPE_CHECKING:
    from leakline.scan.engine import ScanResult

DEFAULT_BASELINE = ".leakline-baseline.json"
EXIT_INCOMPLETE = EXIT_USAGE
"""A rule failed on some file: the scan is incomplete, and CI must not read it as clean (nor as merely failing:
findings of that rule in that file are missing, whatever the others say)."""


class OutputFormat(StrEnum):
    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"


def _baseline_targets(
    result: ScanResult, explicit: Path | None, path: Path, ran: dict[Path, set[str]] | None = None
) -> dict[Path, list[Finding]]:
    """Where --write-baseline writes: --baseline for everything; else each app's `[scan] baseline`, or
    PATH/.leakline-baseline.json for apps without one. `ran` receives, per target, the rules run on its apps."""
    ran = ran if ran is not None else {}
    if explicit is not None:
        ran[explicit] = {rule_id for app in result.apps for rule_id in result.rules_run.get(app.prefix, ())}
        return {explicit: result.findings}
    # Resolved, so that an app's configured file and PATH's default file written two ways (`shop/x.json`,
    # `./x.json`) are one target: written twice, the second write would replace the first app's findings.
    default = (path / DEFAULT_BASELINE).resolve()
    targets: dict[Path, list[Finding]] = {}
    for app in result.apps:
        configured = app.settings.scan.baseline
        target = (app.root / configured).resolve() if configured else default
        targets.setdefault(target, [])
        ran.setdefault(target, set()).update(result.rules_run.get(app.prefix, ()))
    # Findings of no app (shared workspace packages) go where the root's leakline.toml says, which is where the
    # next scan reads them (`ScanResult.root_baseline`).
    unowned = (result.root / result.root_baseline).resolve() if result.root_baseline else default
    for finding in result.findings:
        owner = result.app_of(finding)
        if owner is None:
            target = unowned
            ran.setdefault(target, set()).update(rule_id for ids in result.rules_run.values() for rule_id in ids)
        else:
            configured = owner.settings.scan.baseline
            target = (owner.root / configured).resolve() if configured else default
        targets.setdefault(target, []).append(finding)
    return targets


def run_scan(
    path: Path,
    output_format: OutputFormat = OutputFormat.TEXT,
    output: Path | None = None,
    fail_on: Severity | None = None,
    baseline: Path | None = None,
    write_baseline: bool = False,
    rule: list[str] | None = None,
    progress: bool = True,
    cache: bool = True,
    skip_rule: list[str] | None = None,
) -> int:
    """Run `leakline scan` with converted arguments; the exit code (errors are raised as `LeaklineError`)."""
    from leakline.scan.engine import scan as run_engine

    rule_ids = [r.upper() for r in rule] if rule else None
    skip_rule_ids = [r.upper() for r in skip_rule] if skip_rule else None
    show_progress = progress and sys.stderr.isatty()
    renderer_name = f"leakline.reports.{output_format.value}"
    scan_options = {
        "fail_on": fail_on,
        "baseline_path": None if write_baseline else baseline,
        "rule_ids": rule_ids,
        "skip_rule_ids": skip_rule_ids,
        # Writing a baseline must see every finding, not the ones the current baseline hides.
        "config_baselines": not write_baseline,
        "cache": cache,
        # The text renderer brings Rich (~40-60 ms to import): imported while scan workers run, not after them.
        "meanwhile": None if write_baseline else lambda: importlib.import_module(renderer_name),
    }
    if show_progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task("scanning", total=None)

            def report(label: str, done: int, total: int) -> None:
                bar.update(task, description=label, completed=done, total=total)

            result = run_engine(path, progress=report, **scan_options)  # type: ignore[arg-type]
    else:
        result = run_engine(path, **scan_options)  # type: ignore[arg-type]

    if write_baseline:
        from leakline.scan.baseline import write_baseline as write_baseline_file
        from leakline.scan.rules import registry

        every_rule = frozenset(registry())
        ran: dict[Path, set[str]] = {}
        for target, findings in _baseline_targets(result, baseline, path, ran).items():
            # Rules left out (--rule, --skip-rule, [scan] disable_rules) found nothing here: their accepted
            # findings stay in the file.
            only = frozenset(ran.get(target, ()))
            count = write_baseline_file(target, findings, None if only >= every_rule else only, result.app_of)
            print(f"wrote {count} finding(s) to baseline {target}", file=sys.stderr, flush=True)
        unowned = sum(1 for f in result.findings if result.app_of(f) is None)
        if unowned and baseline is None and not result.root_baseline:
            # Written, but no scan reads it without a setting: the next CI run would fail on the same findings.
            print(
                f"hint: {unowned} finding(s) lie outside every app (shared workspace packages); scans read them from "
                f"the baseline only with `[scan] baseline = \"{DEFAULT_BASELINE}\"` in {result.root / 'leakline.toml'}",
                file=sys.stderr,
                flush=True,
            )
        for error in result.stats.rule_errors:
            print(f"rule error: {error}", file=sys.stderr, flush=True)
        # The baseline lacks what the failed rules would have found there: written, but not a success.
        return EXIT_INCOMPLETE if result.stats.rule_errors else EXIT_OK

    if output is not None or output_format is not OutputFormat.TEXT:
        # The text report lists them itself; a JSON or SARIF file read by a machine would hide them from CI logs.
        for warning in result.stats.warnings:
            print(f"warning: {warning}", file=sys.stderr, flush=True)
        for error in result.stats.rule_errors:
            print(f"rule error: {error}", file=sys.stderr, flush=True)
    # Only the chosen renderer is imported: the text one brings Rich, which JSON and SARIF runs do without.
    renderer = importlib.import_module(renderer_name)
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
    if result.stats.rule_errors:
        return EXIT_INCOMPLETE
    return EXIT_FINDINGS if result.failing else EXIT_OK
