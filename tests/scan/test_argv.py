"""`leakline.scan.argv`: plain `leakline scan` command lines run without Typer, with exactly the arguments
Typer would give the command; everything else still goes through Typer, its messages included."""

from __future__ import annotations

import functools
import inspect
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from leakline import cli_app
from leakline.cli_params import PlainParamsCommand, PlainParamsGroup
from leakline.scan import cli as scan_cli
from leakline.scan.argv import plain_scan_args
from leakline.scan.command import OutputFormat, run_scan
from tests.scan.test_cli import LOGGING_ROUTE
from tests.test_cli_params import ARGVS

PLAIN = [
    ["scan", "{app}"],
    ["scan", "{app}", "-f", "json", "-o", "{tmp}/out/report.json", "--no-progress"],
    ["scan", "{app}", "--format=sarif", "--fail-on", "low", "--rule", "ll007", "--rule", "LL008"],
    ["scan", "--format=sarif", "{app}", "--fail-on", "low", "--rule", "ll007", "--rule=LL008"],
    ["scan", "{app}", "--format", "text", "--fail-on=critical", "--progress"],
    ["scan", "{app}", "--baseline", "{tmp}/b.json", "--write-baseline", "--progress"],
    ["scan", "{tmp}/missing//folder/", "--output", "relative/out.sarif"],
    ["scan", "~"],
    ["scan", "{app}", "-o", "/dev/null", "-f", "sarif"],
    ["scan", "{app}", "--no-cache", "-f", "json"],
    ["scan", "{app}", "--cache"],
    ["scan", "{app}", "--skip-rule", "ll006", "--skip-rule=LL001", "--rule", "LL007", "--skip-rule", "LL002"],
    ["scan", "{app}", "--skip-rule=LL006", "-f", "json"],
]
"""Command lines the plain reader takes (the test below fails if it hands any of them to Typer)."""

TO_TYPER = [argv for argv in ARGVS if argv not in PLAIN] + [
    ["scan", "{app}", "--format="],
    ["scan", "{app}", "-fjson"],
    ["scan", "{app}", "-f=json"],
    ["scan", "{app}", "-f", "json", "-f", "sarif"],
    ["scan", "{app}", "--progress", "--no-progress"],
    ["scan", "{app}", "--cache", "--no-cache"],
    ["scan", "{app}", "--write-baseline=yes"],
    ["scan", "{app}", "-o", "-"],
    ["scan", "{app}", "--rule", "--no-progress"],
    ["scan", "{app}", "--skip-rule", "--no-progress"],
    ["scan", "{app}", "--skip-rule="],
    ["scan", "{app}", "--skip-rule"],
    ["scan", "{app}", "{tmp}"],
    ["scan", "{app}", "--"],
    ["scan", "--", "{app}"],
    ["scan", "-"],
    ["scan", "{app}", "--help"],
    ["--version", "scan", "{app}"],
    ["rules"],
    ["nosuch", "{app}"],
]
"""Command lines left to Typer: errors, help, spellings Typer may accept or refuse, other commands."""


def _typer_receives(args: list[str]) -> tuple[int, list[dict[str, Any]]]:
    """What the Typer declaration of `scan` hands its function for `args` (and Typer's exit code)."""
    received: list[dict[str, Any]] = []

    @functools.wraps(scan_cli.scan)
    def record(**kwargs: Any) -> None:
        received.append(kwargs)

    app = typer.Typer(name="leakline", cls=PlainParamsGroup, no_args_is_help=True, add_completion=False)
    app.callback()(cli_app._root)
    app.command(name="scan", cls=PlainParamsCommand)(record)
    app.command(name="rules")(lambda: None)
    result = CliRunner().invoke(app, args)
    return result.exit_code, received


def _typed(kwargs: dict[str, Any]) -> dict[str, tuple[type, Any]]:
    return {name: (type(value), value) for name, value in kwargs.items()}


DEFAULTS = {
    name: parameter.default
    for name, parameter in inspect.signature(run_scan).parameters.items()
    if parameter.default is not inspect.Parameter.empty
}


@pytest.mark.parametrize("argv", PLAIN, ids=lambda argv: " ".join(argv))
def test_plain_command_lines_give_the_command_what_typer_gives_it(argv: list[str], tmp_path: Path) -> None:
    args = [arg.format(app=tmp_path, tmp=tmp_path) for arg in argv]
    plain = plain_scan_args(args)
    assert plain is not None
    code, received = _typer_receives(args)
    assert code == 0
    assert [_typed({**DEFAULTS, **plain})] == [_typed(kwargs) for kwargs in received]


@pytest.mark.parametrize("argv", TO_TYPER, ids=lambda argv: " ".join(argv) or "(none)")
def test_other_command_lines_are_left_to_typer(argv: list[str], tmp_path: Path) -> None:
    assert plain_scan_args([arg.format(app=tmp_path, tmp=tmp_path) for arg in argv]) is None


def test_an_existing_path_that_cannot_be_read_is_left_to_typer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Typer refuses an existing path `os.access` says cannot be read (root reads everything, so it is faked)."""
    refused = str(tmp_path)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda path, mode: path != refused and real_access(path, mode))
    assert plain_scan_args(["scan", refused]) is None
    assert plain_scan_args(["scan", str(tmp_path / "missing")]) is not None


MODULES_AFTER = """
import sys
from leakline.cli import main
sys.argv = ["leakline", *sys.argv[1:]]
try:
    main()
except SystemExit as exit:
    print(exit.code, "typer" in sys.modules, file=sys.stderr)
"""


def _main(*args: str) -> tuple[int, bool, str]:
    """Run `leakline.cli.main` in a fresh interpreter: (exit code, whether Typer was imported, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-c", MODULES_AFTER, *args], capture_output=True, text=True, check=False, timeout=120
    )
    code, imported = proc.stderr.strip().splitlines()[-1].split()
    return int(code), imported == "True", proc.stderr


def _without_timings(report: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(report)
    data["stats"].pop("duration_s")
    data["stats"].pop("rule_seconds")
    return data


def test_a_plain_scan_runs_without_typer_and_reports_what_the_typer_command_reports(
    cli: Callable[..., tuple[int, str, str]], make_app: Callable[..., Path], tmp_path: Path
) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    code, typer_imported, _ = _main("scan", str(app), "-f", "json", "-o", str(tmp_path / "plain.json"))
    assert (code, typer_imported) == (1, False)
    typer_code, out, _ = cli("scan", str(app), "-f", "json")
    assert typer_code == 1
    assert _without_timings((tmp_path / "plain.json").read_text()) == _without_timings(out)


def test_a_plain_write_baseline_prints_what_the_typer_command_prints(
    cli: Callable[..., tuple[int, str, str]], make_app: Callable[..., Path]
) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    code, typer_imported, err = _main("scan", str(app), "--write-baseline")
    assert (code, typer_imported) == (0, False)
    written = json.loads((app / ".leakline-baseline.json").read_text())["findings"]
    message = f"wrote {len(written)} finding(s) to baseline {app / '.leakline-baseline.json'}\n"
    assert err.startswith(message)
    assert cli("scan", str(app), "--write-baseline") == (0, "", message)


def test_errors_still_come_from_typer_or_the_scan(make_app: Callable[..., Path], tmp_path: Path) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    code, typer_imported, err = _main("scan", str(app), "-f", "xml")
    assert (code, typer_imported) == (2, True)
    assert "'xml' is not one of" in err or "Invalid value" in err
    # A plain command line whose scan fails is reported through the one error path (`leakline.cli._fatal`).
    code, typer_imported, err = _main("scan", str(tmp_path / "missing"), "-f", "json")
    assert (code, typer_imported) == (2, False)
    assert "error:" in err and "missing" in err


def test_the_declared_options_are_the_ones_the_plain_reader_knows() -> None:
    """An option added to the Typer command must be taught to `leakline.scan.argv` too (or it goes to Typer)."""
    cli_app.register_once()
    group = typer.main.get_command(cli_app.app)
    assert isinstance(group, typer.core.TyperGroup)
    declared = set()
    for parameter in group.commands["scan"].params:
        declared.update(parameter.opts)
        declared.update(getattr(parameter, "secondary_opts", []))
    from leakline.scan import argv

    assert declared - {"path"} == set(argv._VALUE_OPTIONS) | set(argv._FLAGS)
    assert set(DEFAULTS) | {"path"} == set(inspect.signature(scan_cli.scan).parameters)
    assert {member.value for member in OutputFormat} == set(argv._FORMATS)
