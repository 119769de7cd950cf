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
    with runtime(config) as rt:
        report = asyncio.run(
            run(rt.store, rt.settings, recorder=rt.recorder, once=once, poll_seconds=poll, failures=failures)
        )
        rt.recorder.flush()
    typer.echo(json.dumps(report.__dict__))
    if failures:
        # Deliveries were made; the exit status and the message say what could not be drafted.
        raise failures[-1]
