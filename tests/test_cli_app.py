"""The root app's lazy registration of domain commands."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_whole_app_registration_after_a_single_domain_one_adds_the_other_domains() -> None:
    """`main(["weights", ...])` attaches only `weights` (start-up cost); a later in-process use of the whole
    app (the `cli` fixture) must still find every other command. Registration used to be all or nothing:
    after the first call, later ones did nothing, and `incident` was 'No such command'. Run in a fresh
    interpreter: this test process has registered everything already."""
    code = textwrap.dedent(
        """
        import typer
        from leakline import cli_app
        cli_app.register_once(["weights", "keygen", "--help"])
        first = sorted(typer.main.get_command(cli_app.app).commands)
        cli_app.register_once()
        cli_app.register_once()
        second = typer.main.get_command(cli_app.app).commands
        print(first)
        print(sorted(second) == sorted(cli_app.SUBCOMMANDS), len(second) == len(set(second)))
        """
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.splitlines()
    assert out == ["['weights']", "True True"]
