"""The `leakline` command's entry point: the command line goes to the Typer app (`leakline.cli_app`), or,
for a plain `leakline scan` command line (`leakline.scan.argv`), straight to the scan without importing
Typer (~50 ms of every scan's start-up). Errors become output and exit codes in exactly one place:
`_fatal`.
"""

from __future__ import annotations

import errno
import gc
import os
import sys
from functools import cache
from typing import TYPE_CHECKING, NoReturn

from leakline.errors import EXIT_USAGE, LeaklineError

if TYPE_CHECKING:
    from rich.console import Console

    from leakline.scan.argv import ScanArgs


@cache
def err_console() -> Console:
    """stderr for errors; Rich is imported when there is one to print (a clean `scan -f json` never needs it)."""
    from rich.console import Console

    return Console(stderr=True, highlight=False)


def _fatal(error: LeaklineError) -> NoReturn:
    """The one place where a user-facing error becomes stderr text and an exit code."""
    from rich.markup import escape

    err_console().print(
        f"[bold red]error:[/] {escape(error.diagnostics())}", markup=True, highlight=False, soft_wrap=True
    )
    sys.exit(error.exit_code)


def _run_plain_scan(args: ScanArgs) -> NoReturn:
    """Run the scan command as Typer would run it: an interrupt exits 130 silently, a closed output pipe 1."""
    # The process only imports and scans from here on, and makes next to no reference cycles: the cyclic
    # collector stays off (the scan turns it off for its own duration anyway), and what is still alive at the
    # end is frozen, so that the collection the interpreter runs at exit does not walk all of it (the two
    # cost a 300-file scan ~13 M + ~20 M instructions of its start-up and of its tail).
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        from leakline.scan.command import run_scan

        try:
            code = run_scan(**args)
        except KeyboardInterrupt:
            sys.exit(130)
        except OSError as exc:
            if exc.errno != errno.EPIPE:
                raise
            # The reader went away: what is still buffered for stdout goes nowhere instead of failing again
            # when the interpreter flushes it at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(1)
        sys.exit(code)
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()


def main() -> None:
    argv = sys.argv[1:]
    try:
        from leakline.scan.argv import plain_scan_args

        plain = plain_scan_args(argv)
        if plain is not None:
            _run_plain_scan(plain)
        from leakline.cli_app import app, register_once

        register_once(argv)
        app()
    except LeaklineError as error:
        _fatal(error)
    except KeyboardInterrupt:
        err_console().print("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        sys.exit(EXIT_USAGE)


if __name__ == "__main__":
    main()
