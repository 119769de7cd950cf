"""`leakline serve`: run the FastAPI app under Uvicorn (uvloop + httptools)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from leakline.config import CONFIG_FILENAME

app = typer.Typer()


@app.command()
def serve(
    config: Annotated[Path, typer.Option("--config", "-c", help="leakline.toml to serve with.")] = Path(
        CONFIG_FILENAME
    ),
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    demo: Annotated[bool, typer.Option("--demo", help="Embedded defaults and a scripted upstream that leaks.")] = False,
) -> None:
    """Serve the incident API and the OpenAI-compatible gateway."""
    import uvicorn

    if demo:
        from leakline.guard.demo import start_demo

        config = start_demo(host, port)

    from leakline.config import load_settings
    from leakline.guard.build import preflight
    from leakline.web.app import CONFIG_ENV

    # Fail before binding on a broken config, corpus or canary, with the key that is wrong: a worker
    # would fail its start-up too, but only after binding and inside uvicorn's traceback.
    preflight(load_settings(config, required=config != Path(CONFIG_FILENAME)))
    os.environ[CONFIG_ENV] = str(config.resolve()) if config.exists() else ""
    uvicorn.run(
        "leakline.web.app:create_app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        loop="uvloop",
        http="httptools",
        proxy_headers=False,
        server_header=False,
        # Access logs would put every client address and request path in plain log files.
        access_log=False,
        log_level="info",
    )
