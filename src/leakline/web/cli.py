"""`leakline serve`: run the FastAPI app under Uvicorn (uvloop + httptools).

Before anything is built, the address is tried (a port in use, a host that does not resolve) and the
configuration is checked (`leakline.guard.build.preflight`), so that an operator's mistake ends the
command with `error: ...` and exit status 2 instead of a traceback after a full start-up.
"""

from __future__ import annotations

import copy
import errno
import os
import shutil
import socket
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any

import typer

from leakline.config import CONFIG_FILENAME
from leakline.errors import UsageError

app = typer.Typer()


@app.command()
def serve(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="leakline.toml to serve with (docs/gateway.md).")
    ] = Path(CONFIG_FILENAME),
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0 or :: for every interface).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8080,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes; /metrics sums their counters, whichever worker answers.")
    ] = 1,
    demo: Annotated[
        bool,
        typer.Option(
            "--demo",
            help="A demo: generated configuration and keys in a fresh /tmp/leakline-demo-* directory, in front of "
            "a scripted upstream that leaks on purpose. Not for production.",
        ),
    ] = False,
) -> None:
    """Serve the OpenAI-compatible gateway under /v1 and the incident API under /api/v1, with /healthz, /readyz
    and /metrics.

    The configuration is checked before the port is bound: a mistake in it, an unset key_env, api_key_env or
    signals_token_env variable, or a port in use ends the command with 'error: ...' and exit status 2.
    """
    import uvicorn

    if demo and config != Path(CONFIG_FILENAME):
        # The demo writes its own configuration: a --config beside it would silently not apply.
        raise UsageError("--demo and --config: the demo serves its own generated configuration; choose one")
    check_address(host, port)
    if demo:
        from leakline.guard.demo import start_demo

        config = start_demo(host, port)

    if not config.exists() and config == Path(CONFIG_FILENAME):  # an explicit --config must exist (below)
        # Run from the wrong directory, serve would look healthy (/readyz ready) and refuse every request.
        typer.echo(
            f"warning: no {config} in {Path.cwd()}: serving on embedded defaults, without regions or client keys "
            "(every /v1 request is refused); pass --config",
            err=True,
        )
    from leakline.config import load_settings
    from leakline.guard.build import preflight
    from leakline.web.app import CONFIG_ENV

    # Fail before binding on a broken config, corpus or canary, with the key that is wrong: a worker
    # would fail its start-up too, but only after binding and inside uvicorn's traceback.
    preflight(load_settings(config, required=config != Path(CONFIG_FILENAME)))
    os.environ[CONFIG_ENV] = str(config.resolve()) if config.exists() else ""
    with _shared_metrics(workers):
        _run(uvicorn, host, port, workers)


@contextmanager
def _shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, a directory where each keeps its Prometheus series (prometheus_client's
    multi-process mode), so that /metrics answers the sum; removed when serve stops. An operator's own
    PROMETHEUS_MULTIPROC_DIR is used as it is (and left in place)."""
    from leakline.web.app import MULTIPROCESS_ENV

    if workers < 2 or os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    folder = tempfile.mkdtemp(prefix="leakline-metrics-")
    os.environ[MULTIPROCESS_ENV] = folder  # read by each worker when it first imports prometheus_client
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        shutil.rmtree(folder, ignore_errors=True)


def _run(uvicorn: Any, host: str, port: int, workers: int) -> None:
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
        log_config=log_config(),
    )


def log_config() -> dict[str, Any]:
    """Uvicorn's logging, with leakline's own loggers on the same handler and format (`WARNING:  ...`):
    without it, the gateway's warnings (an upstream unreachable) reached stderr with no level at all."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["leakline"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def check_address(host: str, port: int) -> None:
    """Bind `host:port` the way uvicorn will (address reuse on, IPv6 sockets IPv6-only) and let it go.

    Uvicorn binds only after the application's start-up (sanitizers compiled, audit logs and volume
    store opened) and then exits with status 3; a port in use is an operator's mistake like a bad key."""
    try:
        addresses = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = exc.strerror if isinstance(exc, socket.gaierror) else str(exc)
        raise UsageError(f"--host {host}: cannot listen there ({reason})") from None
    for family, kind, proto, _, address in addresses:
        with socket.socket(family, kind, proto) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            try:
                sock.bind(address)
            except OSError as exc:
                where = f"[{address[0]}]:{port}" if family == socket.AF_INET6 else f"{address[0]}:{port}"
                if exc.errno == errno.EADDRINUSE:
                    raise UsageError(
                        f"--port {port}: {where} is already in use ({exc.strerror})",
                        hint="stop what listens there, or choose another --port",
                    ) from None
                raise UsageError(f"--host {host} --port {port}: cannot listen on {where} ({exc.strerror})") from None
