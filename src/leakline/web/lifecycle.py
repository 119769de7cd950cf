"""How `leakline serve` stops: a bounded drain, a faster stop on a second signal, and workers that never
outlive their supervisor.

Uvicorn alone waits for every request in flight however long it runs (a generation can run for minutes),
and its forced stop (a second Ctrl-C) skips the application's shutdown, so the audit records of the
requests in flight were lost and their clients saw a stream cut off without a word. Here:

- the first SIGTERM or SIGINT stops accepting connections and lets requests in flight finish for up to
  `[gateway] shutdown_grace_seconds` (uvicorn's `timeout_graceful_shutdown`);
- those still running then are cancelled: the gateway audits each (503 `shutting_down`, or 499 when its
  client had left) and sends its client a 503 or, on a stream, a last OpenAI error event
  (`Route.shutting_down`); they get `RECORD_SECONDS` for that, then the application's shutdown drains
  the event thread (the audit log's last flush);
- a second signal ends the drain at once, the same way (records kept); a third one exits without the
  application's shutdown (uvicorn's forced stop: the records of requests in flight may be lost).

With `--workers N` each worker does the same with the supervisor's SIGTERM. The supervisor forwards a
second SIGTERM or SIGINT to its workers as SIGINT (a faster stop). A worker counts SIGTERM once, since it
may get two for one stop (systemd signals the whole control group and the supervisor signals it again),
and ignores a repeat within `REPEAT_SECONDS` (a terminal's Ctrl-C reaches the supervisor, which forwards
it, and each worker). A worker asks the kernel for SIGTERM when its supervisor dies (`PR_SET_PDEATHSIG`),
and checks its parent once a second besides: a supervisor killed with SIGKILL (the OOM killer) no longer
leaves workers holding the port. The temporary files the supervisor made for its workers are removed by
the last worker that outlives it, or by the next `leakline serve` (`sweep_stale`).
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import fcntl
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from pathlib import Path
from types import FrameType

import uvicorn
from uvicorn.supervisors import multiprocess

log = logging.getLogger("uvicorn.error")

RECORD_SECONDS = 2.0
"""How long requests cancelled at the end of the grace may take to be audited and to tell their client."""
REPEAT_SECONDS = 0.5
"""A stop signal this soon after the last one counted is the same stop (copies through several paths)."""
PARENT_CHECK_TICKS = 10
"""Uvicorn's main loop ticks every 0.1 s: a worker checks that its supervisor lives once a second."""
OWNED_ENV = "LEAKLINE_SERVE_TEMP"
"""The temporary paths `leakline serve` made for its workers (os.pathsep-separated): removed by a worker
whose supervisor died, since nobody else would."""
_PR_SET_PDEATHSIG = 1


class GatewayServer(uvicorn.Server):
    """uvicorn's server with leakline's stop (module docstring). `supervisor`: the pid of the `--workers`
    supervisor this worker serves under (None for a single process)."""

    def __init__(self, config: uvicorn.Config, *, supervisor: int | None = None) -> None:
        super().__init__(config)
        self.supervisor = supervisor
        self.hurry = False
        """A second stop signal: the drain ends now (requests in flight are ended and audited)."""
        self._last_stop = -float("inf")

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if not self.should_exit:
            self._last_stop = now
            super().handle_exit(sig, frame)
            return
        if now - self._last_stop < REPEAT_SECONDS or (self.supervisor is not None and sig == signal.SIGTERM):
            return
        self._last_stop = now
        if self.hurry:
            self.force_exit = True
        else:
            self.hurry = True

    async def on_tick(self, counter: int) -> bool:
        if (
            self.supervisor is not None
            and not self.should_exit
            and counter % PARENT_CHECK_TICKS == 0
            and os.getppid() != self.supervisor
        ):
            log.warning("the supervisor [%d] of this worker is gone: stopping", self.supervisor)
            self.should_exit = True
        return await super().on_tick(counter)

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        """uvicorn's shutdown, with the end of the grace (or a second signal) ending the requests in flight
        through the gateway, and the application's shutdown (the audit's last flush) after them."""
        log.info("Shutting down")
        for server in self.servers:
            server.close()
        for sock in sockets or []:
            sock.close()
        state = self.server_state
        for connection in list(state.connections):
            connection.shutdown()  # idle keep-alive connections close; busy ones after their response
        loop = asyncio.get_running_loop()
        grace = self.config.timeout_graceful_shutdown
        deadline = loop.time() + (grace if grace is not None else float("inf"))
        if state.tasks and not self.hurry and not self.force_exit:
            log.info(
                "Waiting up to %s for %d request(s) in flight (a second CTRL+C or SIGTERM ends them now)",
                f"{grace:g} s" if grace is not None else "their end",
                len(state.tasks),
            )
        while (state.tasks or state.connections) and not self.hurry and not self.force_exit:
            if loop.time() >= deadline:
                break
            await asyncio.sleep(0.1)
        running = set(state.tasks)
        if running:
            why = "a second stop signal" if self.hurry or self.force_exit else "shutdown_grace_seconds"
            log.warning("%d request(s) still running at %s: ended with 503 shutting_down", len(running), why)
            for task in running:
                task.cancel()
            if not self.force_exit:
                await asyncio.wait(running, timeout=RECORD_SECONDS)
        if not self.force_exit:
            await self.lifespan.shutdown()
        if self.supervisor is not None and os.getppid() != self.supervisor:
            remove_owned()


class WorkerProcess(multiprocess.Process):
    """uvicorn's worker process, serving with `GatewayServer` and stopping when its supervisor dies."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.supervisor = os.getpid()  # pickled with the worker's target: read in the worker

    @property
    def server(self) -> uvicorn.Server:
        if self._server is None:
            self._server = GatewayServer(self.config, supervisor=self.supervisor)
        return self._server

    def target(self, sockets: list[socket.socket] | None = None) -> None:
        if not follow_parent(self.supervisor):
            return  # the supervisor died before this worker started: nothing to serve for
        hold_owned()
        super().target(sockets)


def follow_parent(parent: int) -> bool:
    """Ask the kernel for SIGTERM when `parent` dies (Linux); False when it is already gone."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
    # After the request: a parent that died just before it would never send the signal.
    return os.getppid() == parent


class Supervisor(multiprocess.Multiprocess):
    """uvicorn's `--workers` supervisor, whose workers are `WorkerProcess`es and which passes a second stop
    signal on to them while they drain (uvicorn's supervisor ignores signals once it waits for them)."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets)
        self.stops = 0

    def handle_int(self) -> None:
        self.stops += 1
        super().handle_int()

    def handle_term(self) -> None:
        self.stops += 1
        super().handle_term()

    def join_all(self) -> None:
        forwarded = 1  # the first stop reached the workers as terminate_all's SIGTERM
        for process in self.processes:
            while process.process.is_alive():
                process.process.join(0.1)
                for sig in tuple(self.signal_queue):
                    self.signal_queue.remove(sig)
                    if sig in (signal.SIGINT, signal.SIGTERM):
                        self.stops += 1
                while forwarded < self.stops:
                    forwarded += 1
                    log.info("Stop signal %d: the workers end their requests in flight now", forwarded)
                    for other in self.processes:
                        if other.pid is not None and other.process.is_alive():
                            with contextlib.suppress(ProcessLookupError):
                                os.kill(other.pid, signal.SIGINT)


def run_workers(config: uvicorn.Config, sock: socket.socket) -> None:
    """Serve `config` with `config.workers` `WorkerProcess`es under a `Supervisor`."""
    # uvicorn's supervisor builds its workers from this module-level name (at start, on a restart
    # after a worker died, on SIGTTIN/SIGHUP): a serve process runs nothing else.
    multiprocess.Process = WorkerProcess  # type: ignore[misc]
    Supervisor(config, sockets=[sock]).run()


# -- temporary files of a supervisor ---------------------------------------------------------------------


def temp_prefix(kind: str) -> str:
    """`leakline-<kind>-<pid>-`: the pid tells `sweep_stale` whether the serve that made a path still runs."""
    return f"leakline-{kind}-{os.getpid()}-"


SWEEP_MIN_AGE_SECONDS = 120.0
"""A stale-looking temporary path younger than this is left alone (`sweep_stale`)."""


def sweep_stale(kind: str) -> None:
    """Remove `leakline-<kind>-<pid>-*` paths in the temporary directory whose serve process is gone (its
    supervisor was killed with SIGKILL along with its workers)."""
    folder = Path(tempfile.gettempdir())
    for path in folder.glob(f"leakline-{kind}-*-*"):
        pid = path.name.removeprefix(f"leakline-{kind}-").split("-", 1)[0]
        if not pid.isdigit() or int(pid) == os.getpid() or _alive(int(pid)) or _held_elsewhere(path):
            continue
        with contextlib.suppress(OSError):
            # Made a moment ago: its serve may not have started the workers that hold it yet.
            if time.time() - path.stat().st_mtime < SWEEP_MIN_AGE_SECONDS:
                continue
        _remove(path)


def _held_elsewhere(path: Path) -> bool:
    """Whether a live worker holds `path` (`hold_owned`'s shared lock). The pid alone cannot tell: a serve in
    another PID namespace sharing this /tmp (containers with one /tmp volume) has a pid that is not running
    here, and removing its files made every request it served a 500."""
    try:
        handle = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(handle)
    return False


def own(path: str) -> None:
    """Note `path` as made by this serve for its workers (see `OWNED_ENV`)."""
    paths = [p for p in os.environ.get(OWNED_ENV, "").split(os.pathsep) if p]
    os.environ[OWNED_ENV] = os.pathsep.join([*paths, path])


def disown(path: str) -> None:
    paths = [p for p in os.environ.get(OWNED_ENV, "").split(os.pathsep) if p and p != path]
    if paths:
        os.environ[OWNED_ENV] = os.pathsep.join(paths)
    else:
        os.environ.pop(OWNED_ENV, None)


_held: list[tuple[str, int]] = []
"""In a worker: the supervisor's temporary paths, each open with a shared lock (`hold_owned`)."""


def hold_owned() -> None:
    """In a worker: a shared lock on each temporary path its supervisor made, held while it lives, so that
    when the supervisor dies only the last worker to stop removes them (`remove_owned`): a worker still
    draining its requests keeps writing its metrics there."""
    for path in os.environ.get(OWNED_ENV, "").split(os.pathsep):
        if not path:
            continue
        try:
            handle = os.open(path, os.O_RDONLY)
        except OSError:
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_SH)
        except OSError:
            os.close(handle)
            continue
        _held.append((path, handle))


def remove_owned() -> None:
    """In a worker whose supervisor died, as it stops: remove the supervisor's temporary paths unless
    another worker still holds them (that one removes them when it stops)."""
    for path, handle in _held:
        try:
            # Not atomic: the shared lock may be dropped before the exclusive one is refused, which
            # only leaves the removal to the other worker, which tries the same as it stops.
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            continue
        _remove(Path(path))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process: not ours to judge
    return True


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)
