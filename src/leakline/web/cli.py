"""`leakline serve`: run the FastAPI app under Uvicorn (uvloop + httptools).

Before anything is built, the address is tried (a port in use, a host that does not resolve) and the
configuration is checked (`leakline.guard.build.preflight`), so that an operator's mistake ends the
command with `error: ...` and exit status 2 instead of a traceback after a full start-up.
"""

from __future__ import annotations

import copy
import errno
import ipaddress
import logging
import os
import shutil
import socket
import sys
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
    host: Annotated[
        str,
        typer.Option(help="Address to listen on (0.0.0.0: every IPv4 interface; :: every interface, IPv6 and IPv4)."),
    ] = "127.0.0.1",
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
    settings = load_settings(config, required=config != Path(CONFIG_FILENAME))
    for warning in preflight(settings):
        typer.echo(f"warning: {warning}", err=True)
    os.environ[CONFIG_ENV] = str(config.resolve()) if config.exists() else ""
    with _shared_metrics(workers), _shared_readiness(workers):
        _run(uvicorn, host, port, workers, grace=settings.gateway.shutdown_grace_seconds)


@contextmanager
def _shared_readiness(workers: int) -> Iterator[None]:
    """With several workers, a file where they note the readiness state last logged, so that a region
    failing is logged once per change, not once per worker (`leakline.guard.readiness.SharedStates`);
    removed when serve stops (a new start logs the state it finds)."""
    from leakline.guard.readiness import STATE_ENV
    from leakline.web.lifecycle import disown, own, sweep_stale, temp_prefix

    if workers < 2:
        yield
        return
    sweep_stale("readiness")
    handle, path = tempfile.mkstemp(prefix=temp_prefix("readiness"), suffix=".json")
    os.close(handle)
    os.environ[STATE_ENV] = path  # read by each worker's readiness checks
    own(path)
    try:
        yield
    finally:
        os.environ.pop(STATE_ENV, None)
        disown(path)
        Path(path).unlink(missing_ok=True)


@contextmanager
def _shared_metrics(workers: int) -> Iterator[None]:
    """With several workers, a directory where each keeps its Prometheus series (prometheus_client's
    multi-process mode), so that /metrics answers the sum; removed when serve stops. An operator's own
    PROMETHEUS_MULTIPROC_DIR is used as it is (and left in place)."""
    from leakline.web.app import MULTIPROCESS_ENV
    from leakline.web.lifecycle import disown, own, sweep_stale, temp_prefix

    if workers < 2 or os.environ.get(MULTIPROCESS_ENV):
        yield
        return
    sweep_stale("metrics")  # left by a serve killed with its workers (SIGKILL to the group, the OOM killer)
    folder = tempfile.mkdtemp(prefix=temp_prefix("metrics"))
    os.environ[MULTIPROCESS_ENV] = folder  # read by each worker when it first imports prometheus_client
    own(folder)
    try:
        yield
    finally:
        os.environ.pop(MULTIPROCESS_ENV, None)
        disown(folder)
        shutil.rmtree(folder, ignore_errors=True)


def _run(uvicorn: Any, host: str, port: int, workers: int, *, grace: float) -> None:
    """Serve until stopped; see `leakline.web.lifecycle` for how SIGTERM and Ctrl-C stop it (within `grace`
    seconds of the first, a second ends the requests in flight at once)."""
    from leakline.web.lifecycle import GatewayServer, run_workers

    options: dict[str, Any] = {
        "factory": True,
        "host": host,
        "port": port,
        "workers": workers,
        "loop": "uvloop",
        "http": "httptools",
        "proxy_headers": False,
        "server_header": False,
        # Access logs would put every client address and request path in plain log files.
        "access_log": False,
        "log_level": "info",
        "log_config": log_config(),
        "timeout_graceful_shutdown": grace,
    }
    config = uvicorn.Config(APP, **options)
    server = GatewayServer(config)
    sock: socket.socket | None = None
    if dual_stack(host):
        # uvicorn listens on `::` through asyncio, which makes IPv6 sockets IPv6-only (IPv4 clients refused,
        # whatever net.ipv6.bindv6only says), and with several workers through a socket of the system's
        # default: so the socket is made here, accepting both families, and given to uvicorn as it gives the
        # one it binds for its workers.
        sock = bind_dual_stack(host, port)
        logging.getLogger("uvicorn.error").info(
            "Uvicorn running on http://[%s]:%d, IPv6 and IPv4 (Press CTRL+C to quit)", host, port
        )
    elif workers > 1:
        try:
            sock = config.bind_socket()
        except SystemExit:
            # uvicorn logged the OS error and exits with 3: a port that another serve took since
            # `check_address` (both started together) is the operator's usage error, said as one.
            raise UsageError(
                f"--port {port}: {host}:{port} is already in use or cannot be bound (see the error above)",
                hint="stop what listens there, or choose another --port",
            ) from None
    if sock is not None:
        # Listening here, before any worker starts: bound with address reuse, two serves started together
        # could both bind the port, and the one whose workers came second listened nowhere and never exited.
        try:
            sock.listen(config.backlog)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE:
                raise UsageError(
                    f"--port {port}: {host}:{port} is already in use ({exc.strerror})",
                    hint="stop what listens there, or choose another --port",
                ) from None
            raise UsageError(f"--host {host} --port {port}: cannot listen there ({exc.strerror})") from None
    try:
        if workers > 1:
            assert sock is not None
            run_workers(config, sock)
        else:
            server.run(sockets=[sock] if sock is not None else None)
    except KeyboardInterrupt:
        pass
    finally:
        if sock is not None:
            sock.close()
    if workers == 1 and not server.started:
        sys.exit(STARTUP_FAILURE)


APP = "leakline.web.app:create_app_from_env"
STARTUP_FAILURE = 3
"""uvicorn's exit status when the application's start-up fails."""


def dual_stack(host: str) -> bool:
    """Whether `host` is the IPv6 wildcard address (`::`), served on IPv6 and IPv4 alike."""
    try:
        return ipaddress.ip_address(host) == ipaddress.IPv6Address("::")
    except ValueError:
        return False


def bind_dual_stack(host: str, port: int) -> socket.socket:
    """A listening-ready IPv6 socket on `host` (`::`) that accepts IPv4 clients too (IPV6_V6ONLY off)."""
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def log_config() -> dict[str, Any]:
    """Uvicorn's logging, with leakline's own loggers on the same handler and format (`WARNING:  ...`):
    without it, the gateway's warnings (an upstream unreachable) reached stderr with no level at all."""
    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["leakline"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def check_address(host: str, port: int) -> None:
    """Bind `host:port` the way serve will (address reuse on, IPv6 sockets IPv6-only except on `::`, which
    takes IPv4 too: a port IPv4 holds is refused there as well) and let it go.

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
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0 if dual_stack(host) else 1)
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
