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

    from leakline.incidents.runtime import runtime
    from leakline.notify.worker import run

    with runtime(config) as rt:
        report = asyncio.run(run(rt.store, rt.settings, recorder=rt.recorder, once=once, poll_seconds=poll))
        rt.recorder.flush()
    typer.echo(json.dumps(report.__dict__))
