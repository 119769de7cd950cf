"""`leakline worker [--once]`: deliver the outbox, escalate unacknowledged alerts, send deadline reminders."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


@app.command()
def worker_command(
    once: Annotated[bool, typer.Option("--once", help="Process everything due now, then exit.")] = False,
    poll: Annotated[float, typer.Option("--poll", min=0.05, help="Seconds between passes.")] = 1.0,
    config: Annotated[Path, typer.Option("--config", help="leakline.toml to read.")] = Path("leakline.toml"),
) -> None:
    """Deliver messages (several workers may run), escalate, remind. Ctrl-C stops after the current pass."""
    import asyncio
    import json

    from leakline.errors import LeaklineError
    from leakline.incidents.runtime import runtime
    from leakline.notify.worker import run

    failures: list[LeaklineError] = []
    _log_to_stderr()
    with runtime(config) as rt:
        report = asyncio.run(
            run(rt.store, rt.settings, recorder=rt.recorder, once=once, poll_seconds=poll, failures=failures)
        )
        rt.recorder.flush()
    typer.echo(json.dumps(report.__dict__))
    if failures:
        # Deliveries were made; the exit status and the message say what could not be drafted.
        raise failures[-1]


def _log_to_stderr() -> None:
    """One line per start, delivery, retry and failure on stderr (the worker's log says no address and no
    text: message id, kind, channel and who it is for), so that an operator sees it working."""
    import logging
    import sys
    import time

    class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
        """Writes to whatever sys.stderr is when a line is logged (a test runner may have replaced it)."""

        def emit(self, record: logging.LogRecord) -> None:
            self.stream = sys.stderr
            super().emit(record)

    logger = logging.getLogger("leakline.notify")
    if any(getattr(handler, "leakline_worker", False) for handler in logger.handlers):
        return
    handler = StderrHandler(sys.stderr)
    handler.leakline_worker = True  # type: ignore[attr-defined]
    formatter = logging.Formatter("%(asctime)s leakline worker: %(message)s", datefmt="%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
