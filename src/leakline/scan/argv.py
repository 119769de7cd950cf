"""Plain `leakline scan` command lines, read without Typer.

Importing Typer and building the command costs every scan ~50 ms of start-up, a tenth of what a scan of
a few hundred files may take in all. Most command lines are plain: a path and a few options written out
(`scan PATH -f json -o report.json --no-progress`). `plain_scan_args` reads exactly those and hands
anything else to Typer: `--help`, an unknown or repeated option, a value that is not one of the choices
as written in `--help` (lower case), an option value or a path starting with `-`, an empty value, a path
that exists but cannot be read (Typer refuses it), attached short values (`-fjson`), `--`, a second path.
So every error message, and every spelling Typer tolerates, stays Typer's; a test compares what both
give the command on the same command lines.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TypedDict

from leakline.findings import Severity
from leakline.scan.command import OutputFormat

# Option spellings, as `leakline scan --help` lists them, and the argument each one fills.
_VALUE_OPTIONS = {
    "--format": "output_format",
    "-f": "output_format",
    "--output": "output",
    "-o": "output",
    "--fail-on": "fail_on",
    "--baseline": "baseline",
    "--rule": "rule",
    "--skip-rule": "skip_rule",
}
_REPEATABLE = frozenset({"rule", "skip_rule"})
_FLAGS = {
    "--write-baseline": ("write_baseline", True),
    "--progress": ("progress", True),
    "--no-progress": ("progress", False),
    "--cache": ("cache", True),
    "--no-cache": ("cache", False),
}
_FORMATS = {member.value: member for member in OutputFormat}
_SEVERITIES = {member.value: member for member in Severity}
# Set by a shell asking Typer for completions: Typer answers those.
_COMPLETION_VARIABLE = "_LEAKLINE_COMPLETE"


class ScanArgs(TypedDict, total=False):
    """Keyword arguments of `leakline.scan.command.run_scan`, converted as Typer converts them (a class
    statement, not a dataclass: creating a dataclass costs ~1 ms at import)."""

    path: Path
    output_format: OutputFormat
    output: Path
    fail_on: Severity
    baseline: Path
    write_baseline: bool
    rule: list[str]
    progress: bool
    cache: bool
    skip_rule: list[str]


def _plain_path(value: str) -> Path | None:
    """`Path(value)`, as Typer makes it; None where Typer would check more (it refuses unreadable paths)."""
    try:
        os.stat(value)  # noqa: PTH116 - the same test as Typer's, on the text as given
    except OSError:
        return Path(value)
    return Path(value) if os.access(value, os.R_OK) else None


def plain_scan_args(argv: list[str]) -> ScanArgs | None:
    """The converted arguments of `argv` (the words after the program name) when it is a plain
    `scan` command line, else None (Typer reads it)."""
    if not argv or argv[0] != "scan" or _COMPLETION_VARIABLE in os.environ:
        return None
    path: Path | None = None
    values: ScanArgs = {}
    repeated: dict[str, list[str]] = {}
    words = iter(argv[1:])
    for word in words:
        name, given, attached = word.partition("=") if word.startswith("--") else (word, "", "")
        if name in _FLAGS and not given:
            key, flag = _FLAGS[name]
            if key in values:
                return None
            values[key] = flag  # type: ignore[literal-required]
            continue
        if name in _VALUE_OPTIONS:
            value = attached if given else next(words, None)
            if not value or value.startswith("-"):
                return None
            key = _VALUE_OPTIONS[name]
            if key in _REPEATABLE:
                repeated.setdefault(key, []).append(value)
                continue
            if key in values:
                return None
            converted: object
            if key == "output_format":
                converted = _FORMATS.get(value)
            elif key == "fail_on":
                converted = _SEVERITIES.get(value)
            else:
                converted = _plain_path(value)
            if converted is None:
                return None
            values[key] = converted  # type: ignore[literal-required]
            continue
        if word.startswith("-") or not word or path is not None:
            return None
        path = _plain_path(word)
        if path is None:
            return None
    if path is None:
        return None
    values["path"] = path
    for key, given_values in repeated.items():
        values[key] = given_values  # type: ignore[literal-required]
    return values
