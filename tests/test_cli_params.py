"""`leakline.cli_params`: commands that convert plain values without pydantic receive and print exactly what
Typer's own converters give them, for valid and invalid command lines alike."""

from __future__ import annotations

import functools
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import pytest
import typer
from typer.core import TyperCommand, TyperGroup
from typer.testing import CliRunner

from leakline import cli_app
from leakline.cli_params import PlainParamsCommand, PlainParamsGroup
from leakline.scan import cli as scan_cli

ARGVS = [
    ["scan", "{app}"],
    ["scan", "{app}", "-f", "json", "-o", "{tmp}/out/report.json", "--no-progress"],
    ["scan", "{app}", "--format=sarif", "--fail-on", "low", "--rule", "ll007", "--rule", "LL008"],
    ["scan", "{app}", "--format", "JSON"],
    ["scan", "{app}", "--fail-on", "LOW"],
    ["scan", "{app}", "--fail-on", "Critical"],
    ["scan", "{app}", "-f", "xml"],
    ["scan", "{app}", "--fail-on", "severe"],
    ["scan", "{app}", "--fail-on", ""],
    ["scan", "{app}", "--baseline", "{tmp}/b.json", "--write-baseline", "--progress"],
    ["scan", "{tmp}/missing//folder/", "--output", "relative/out.sarif"],
    ["scan", ""],
    ["scan", "~"],
    ["scan"],
    ["scan", "{app}", "--bogus"],
    ["scan", "{app}", "-f"],
    ["scan", "{app}", "--rule"],
    ["scan", "--help"],
    ["--help"],
    ["--version"],
    [],
    ["nosuch"],
]


def _app(
    command_class: type[TyperCommand], group_class: type[TyperGroup], received: list[dict[str, Any]]
) -> typer.Typer:
    """The root app and `scan` as leakline declares them, with the scan command recording its arguments."""

    @functools.wraps(scan_cli.scan)
    def record(**kwargs: Any) -> None:
        received.append(kwargs)

    app = typer.Typer(
        name="leakline",
        cls=group_class,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
        rich_markup_mode="rich",
    )
    app.callback()(cli_app._root)
    app.command(name="scan", cls=command_class, help=cli_app.SUBCOMMANDS["scan"][1])(record)
    app.command(name="rules")(lambda: None)
    return app


def _typed(values: list[dict[str, Any]]) -> list[dict[str, tuple[type, Any]]]:
    return [{name: (type(value), value) for name, value in kwargs.items()} for kwargs in values]


@pytest.mark.parametrize("argv", ARGVS, ids=lambda argv: " ".join(argv) or "(none)")
def test_plain_converters_match_typers_own(argv: list[str], tmp_path: Path) -> None:
    args = [arg.format(app=tmp_path, tmp=tmp_path) for arg in argv]
    outcomes = []
    for command_class, group_class in ((TyperCommand, TyperGroup), (PlainParamsCommand, PlainParamsGroup)):
        received: list[dict[str, Any]] = []
        result = CliRunner().invoke(_app(command_class, group_class, received), args, env={"COLUMNS": "100"})
        outcomes.append((result.exit_code, result.stdout, result.stderr, _typed(received), type(result.exception)))
    assert outcomes[0] == outcomes[1]


def test_the_comparison_sees_converted_values(tmp_path: Path) -> None:
    """The command receives Typer's types (Path, the enums, a list), so the comparison above compares them."""
    received: list[dict[str, Any]] = []
    app = _app(PlainParamsCommand, PlainParamsGroup, received)
    args = ["scan", str(tmp_path), "-f", "json", "--fail-on", "low", "--rule", "ll007", "-o", "x//r.json"]
    assert CliRunner().invoke(app, args).exit_code == 0
    [kwargs] = received
    assert kwargs["path"] == tmp_path and type(kwargs["path"]) is type(tmp_path)
    assert kwargs["output_format"] is scan_cli.OutputFormat.JSON
    assert kwargs["fail_on"] is scan_cli.Severity.LOW
    assert kwargs["rule"] == ["ll007"] and kwargs["output"] == Path("x/r.json") and kwargs["baseline"] is None
    assert kwargs["write_baseline"] is False and kwargs["progress"] is True


class Colour(Enum):
    RED = "red"


def test_values_that_are_not_plain_go_to_typers_converter() -> None:
    """A flag given a string (as an environment variable does) is converted by Typer, not refused."""
    received: list[dict[str, Any]] = []

    def command(
        colour: Annotated[Colour, typer.Option()] = Colour.RED,
        loud: Annotated[bool, typer.Option(envvar="LOUD")] = False,
    ) -> None:
        received.append({"colour": colour, "loud": loud})

    app = typer.Typer(cls=PlainParamsGroup)
    app.command(cls=PlainParamsCommand)(command)
    app.command(name="other")(lambda: None)
    result = CliRunner().invoke(app, ["command"], env={"LOUD": "yes"})
    assert result.exit_code == 0, result.output
    assert received == [{"colour": Colour.RED, "loud": True}]
