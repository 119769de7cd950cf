"""The `leakline` command as one Typer app; each domain contributes its sub-commands.

Domains register a Typer app in `SUBCOMMANDS` (name → "module:attribute"). Domain CLI modules must
keep heavy imports (FastAPI, SQLAlchemy, aiohttp) inside their command functions so that
`leakline scan` starts fast. The entry point, and the one place where errors become output and exit
codes, is `leakline.cli.main`, which reads plain `leakline scan` command lines without this module.
"""

from __future__ import annotations

import importlib
from typing import Annotated

import typer

from leakline import __version__
from leakline.cli_params import PlainParamsGroup

# name -> "module:attribute" of a typer.Typer; a domain's commands live next to its code.
SUBCOMMANDS: dict[str, tuple[str, str]] = {
    "assess": ("leakline.obligations.cli_assess", "Which laws apply to a leak, who must be told, by when."),
    "regimes": ("leakline.obligations.cli_regimes", "List breach-notification regimes, sources, review dates."),
    "weights": ("leakline.weights.cli", "Encrypt model weights at rest and move them between sites over TLS 1.3."),
    "scan": ("leakline.scan.cli", "Find leak risks in a Next.js app: source, config, .next build output."),
    "rules": ("leakline.scan.rules_cli", "List the scan rules, or print one rule's documentation."),
    "serve": ("leakline.web.cli", "Serve the incident API and the OpenAI-compatible gateway."),
    "gateway-keys": ("leakline.guard.keys.cli", "The gateway's client keys kept in the database: add, list, revoke."),
    "audit": ("leakline.audit.cli", "The encrypted, tamper-evident audit log: append, verify, show, prove."),
    "incident": ("leakline.incidents.cli", "Incidents: open, show, amend facts, approve, send, acknowledge."),
    "signal": ("leakline.incidents.cli_signal", "Push a signal by hand: attach it to an incident or open one."),
    "worker": ("leakline.notify.cli_worker", "Deliver queued messages, escalate unacked alerts, remind deadlines."),
}


app = typer.Typer(
    name="leakline",
    help="Keep a Next.js storefront and its self-hosted LLM from leaking; respond when they do.",
    cls=PlainParamsGroup,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
    rich_markup_mode="rich",
)


def _version_callback(value: bool) -> None:
    if value:
        typer.echo(f"leakline {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version_callback, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """leakline: prevent, contain and respond to data leaks of a Next.js + LLM shop."""


_registered: set[str] = set()
"""The domains attached to the root app so far."""


def _register(names: list[str]) -> None:
    for name in names:
        if name in _registered:
            continue
        _registered.add(name)
        module_name, help_text = SUBCOMMANDS[name]
        module = importlib.import_module(module_name)
        command = module.app
        if isinstance(command, typer.Typer):
            if len(command.registered_commands) == 1 and not command.registered_groups:
                # A single-command domain ("scan") is a command, not a group; it keeps its command class.
                info = command.registered_commands[0]
                app.command(name=name, help=help_text, cls=info.cls)(info.callback)  # type: ignore[type-var]
            else:
                app.add_typer(command, name=name, help=help_text)


def register_once(argv: list[str] | None = None) -> None:
    """Attach the domains' commands to the root app, each once (tests call it too).

    When the command line names a sub-command, only that domain is imported: `leakline scan` must not
    pay for FastAPI, SQLAlchemy and Jinja2 at start-up. `--help`, unknown commands and a call without a
    command line get them all; a later call adds what an earlier one left out (one process may run
    `main(["weights", ...])` and then the whole app, as the tests do).
    """
    invoked = next((arg for arg in (argv or []) if not arg.startswith("-")), None)
    _register([invoked] if invoked in SUBCOMMANDS else list(SUBCOMMANDS))
