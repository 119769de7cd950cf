"""`leakline signal FILE`: push a signal by hand (JSON, as `POST /api/v1/signals` takes it)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

app = typer.Typer(add_completion=False)


@app.command()
def signal_command(
    file: Annotated[str, typer.Argument(help="Signal as JSON (a file, or - for stdin).")],
    config: Annotated[Path, typer.Option("--config", help="leakline.toml to read.")] = Path("leakline.toml"),
) -> None:
    """Record a signal: attach it to the open incident with its fingerprint, or open a new one."""
    import json
    import sys
    from datetime import UTC, datetime

    from leakline.incidents.ingest import parse_signal, receive
    from leakline.incidents.runtime import runtime

    if file == "-":
        raw, source = sys.stdin.buffer.read(), "<stdin>"
    else:
        from leakline.incidents.errors import SignalFileError

        try:
            raw, source = Path(file).read_bytes(), file
        except OSError as exc:
            raise SignalFileError(f"{file}: cannot read: {exc.strerror}") from None
    signal = parse_signal(raw, source=source)
    with runtime(config) as rt:
        accepted = receive(rt, signal, now=datetime.now(UTC))
    typer.echo(json.dumps(accepted.model_dump(mode="json")))
