"""Real Next.js fixture apps under tests/fixtures, shared by the scan and gateway tests: their npm install
is checked (a missing one skips locally and fails under CI, where scripts/setup-dev must have run `npm ci`),
`next build` runs once per state of the sources under a file lock (several pytest processes may share a
checkout), and `next start` runs in its own process group on 127.0.0.1 so that stopping it leaves no node
process behind, whatever the test did.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

BUILD_TIMEOUT_S = 600
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
LOCK_NAME = ".next-build.lock"


def _next_bin(app: Path) -> Path:
    return app.resolve() / "node_modules" / "next" / "dist" / "bin" / "next"


def require_install(app: Path, *packages: str) -> str:
    """The path of `node`, once `app`'s node_modules holds next and `packages`; else skip (fail under CI)."""
    for package in ("next", *packages):
        if not (app / "node_modules" / package / "package.json").is_file():
            message = f"{app / 'node_modules' / package} is missing: run scripts/setup-dev (npm ci in {app.name})"
            # CI runs scripts/setup-dev first: a missing install there is a broken setup, not an optional test.
            if os.environ.get("CI") == "true":
                pytest.fail(message)
            pytest.skip(message)
    node = shutil.which("node")
    if node is None:
        pytest.fail(f"{app / 'node_modules'} is installed but node is not on PATH: install Node.js")
    return node


def _newest_mtime(app: Path, sources: Iterable[str]) -> float:
    newest = 0.0
    for name in sources:
        path = app / name
        candidates = path.rglob("*") if path.is_dir() else [path]
        newest = max([newest, *(p.stat().st_mtime for p in candidates if p.is_file())])
    return newest


def _build_is_fresh(app: Path, sources: Iterable[str]) -> bool:
    build_id = app / ".next" / "BUILD_ID"
    return build_id.is_file() and build_id.stat().st_mtime >= _newest_mtime(app, sources)


def next_build(app: Path, sources: Iterable[str]) -> Path:
    """`next build` in `app` unless .next is newer than every file of `sources`; returns `app`."""
    node = require_install(app)
    sources = tuple(sources)
    with (app / LOCK_NAME).open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _build_is_fresh(app, sources):
            _build(node, app)
    return app


def _build(node: str, app: Path) -> None:
    shutil.rmtree(app / ".next", ignore_errors=True)
    env = {**os.environ, "NEXT_TELEMETRY_DISABLED": "1", "CI": "1"}
    env.pop("NODE_ENV", None)
    proc = subprocess.run(
        [node, str(_next_bin(app)), "build"],
        cwd=app,
        env=env,
        capture_output=True,
        text=True,
        timeout=BUILD_TIMEOUT_S,
        check=False,
    )
    if proc.returncode != 0:
        pytest.fail(f"next build in {app} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")


@dataclass
class NextServer:
    url: str
    process: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")[-3000:]

    def stop(self) -> None:
        """SIGTERM to the whole process group, SIGKILL if it lingers; returns once no member is left."""
        group = self.process.pid
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(group, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + STOP_TIMEOUT_S
            while time.monotonic() < deadline:
                self.process.poll()
                if not _group_alive(group):
                    return
                time.sleep(0.05)
        self.process.wait(STOP_TIMEOUT_S)


def _group_alive(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return False
    return True


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def next_start(app: Path, env: Mapping[str, str], log: Path) -> NextServer:
    """`next start -H 127.0.0.1` on a free port with `env` added, once `GET /` answers 200."""
    node = require_install(app)
    port = _free_port()
    full_env = {**os.environ, "NEXT_TELEMETRY_DISABLED": "1", **env}
    full_env.pop("NODE_ENV", None)
    with log.open("wb") as out:
        process = subprocess.Popen(
            [node, str(_next_bin(app)), "start", "-H", "127.0.0.1", "-p", str(port)],
            cwd=app,
            env=full_env,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = NextServer(f"http://127.0.0.1:{port}", process, log)
    try:
        _wait_until_up(server)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_until_up(server: NextServer) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while True:
        if server.process.poll() is not None:
            pytest.fail(f"next start exited with {server.process.returncode}:\n{server.output()}")
        try:
            with urllib.request.urlopen(f"{server.url}/", timeout=5) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if time.monotonic() > deadline:
            pytest.fail(f"next start did not answer on {server.url} within {START_TIMEOUT_S:.0f} s:\n{server.output()}")
        time.sleep(0.1)
