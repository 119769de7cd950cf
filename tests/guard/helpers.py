"""Test helpers of the gateway: a leakline.toml in tmp_path, the app under real uvicorn on 127.0.0.1."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from leakline.config import Settings, parse_settings
from leakline.guard.auth import key_digest

KEYS = {
    "storefront": "sk-test-storefront-0123456789abcdef",
    "backoffice": "sk-test-backoffice-0123456789abcdef",
    "eu-only": "sk-test-euonly-0123456789abcdef",
    "strict": "sk-test-strict-0123456789abcdef",
    "lenient": "sk-test-lenient-0123456789abcdef",
    "support": "sk-test-support-0123456789abcdef",
}


def write_settings(
    tmp: Path,
    upstream_eu: str,
    upstream_us: str,
    *,
    clients: list[dict[str, Any]] | None = None,
    sanitize: dict[str, Any] | None = None,
    **gateway: Any,
) -> Settings:
    """Two regions (eu, us), audit sinks, a corpus and `[gateway]` overrides; `clients` replaces the test keys,
    `sanitize` adds to the `[sanitize]` section."""
    from leakline.audit.keys import generate_key_file

    key = tmp / "audit.key"
    if not key.exists():
        generate_key_file(key)
    corpus = tmp / "system-prompt.txt"
    from leakline.guard.upstream import DEMO_CANARY, PROTECTED_PARAGRAPH

    corpus.write_text(PROTECTED_PARAGRAPH, encoding="utf-8")
    data: dict[str, Any] = {
        "gateway": {"anomalies": {"state_path": str(tmp / "state.sqlite")}, **gateway},
        "regions": {
            "eu": {"upstream": upstream_eu, "countries": ["DE", "FR", "NL"], "models": ["llama3.1:8b"]},
            "us": {"upstream": upstream_us, "countries": ["US", "CA"], "models": ["llama3.1:8b", "mistral:7b"]},
        },
        "clients": [
            {"name": "storefront", "key_sha256": key_digest(KEYS["storefront"])},
            {"name": "backoffice", "key_sha256": key_digest(KEYS["backoffice"]), "country": "NL"},
            {
                "name": "eu-only",
                "key_sha256": key_digest(KEYS["eu-only"]),
                "regions": ["eu"],
                "models": ["llama3.1:8b"],
            },
            {"name": "strict", "key_sha256": key_digest(KEYS["strict"]), "sanitize_actions": {"email": "block"}},
            # Restates the global action: a route that blocks email still redacts it for this key.
            {"name": "lenient", "key_sha256": key_digest(KEYS["lenient"]), "sanitize_actions": {"email": "redact"}},
            # Its own tables: alerts on email and sends prompts as written on chat; no canary on completions.
            {
                "name": "support",
                "key_sha256": key_digest(KEYS["support"]),
                "sanitize_actions": {"email": "redact"},
                "routes": {
                    "/v1/chat/completions": {"sanitize_actions": {"email": "alert"}, "redact_prompts": False},
                    "/v1/completions": {"insert_canary": False},
                },
            },
        ],
        "audit": {
            "path": str(tmp / "audit"),
            "key": str(key),
            "sinks": {"eu": {"path": str(tmp / "audit-eu")}, "us": {"path": str(tmp / "audit-us")}},
        },
        "database": {"url": f"sqlite:///{tmp / 'leakline.db'}"},
    }
    if clients is not None:
        data["clients"] = clients
    data["sanitize"] = {"canaries": [DEMO_CANARY], "protected_corpus": [str(corpus)], **(sanitize or {})}
    return parse_settings(data, source=str(tmp / "leakline.toml"))


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@dataclass
class Served:
    url: str
    server: uvicorn.Server
    thread: threading.Thread
    app: Any

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(15)


SERVER_START_TIMEOUT_S = 60
"""How long a test server may take to start (lifespan included) on a loaded machine before the test fails."""


def serve(app: Any) -> Served:
    """Run `app` under uvicorn (httptools) on a free loopback port, in a thread."""
    sock = free_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        app,
        http="httptools",
        loop="asyncio",
        log_level="warning",
        lifespan="on",
        server_header=False,
        proxy_headers=False,
    )
    server = uvicorn.Server(config)

    def run() -> None:
        asyncio.run(server.serve(sockets=[sock]))

    # Listening before the server runs: a client that connects while uvicorn is still starting (a loaded CI
    # machine) waits in the backlog instead of being refused.
    sock.listen(128)
    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    if not server.started:
        server.should_exit = True
        raise RuntimeError(
            f"test server on port {port} did not start within {SERVER_START_TIMEOUT_S} s"
            + ("" if thread.is_alive() else " (its thread ended: see the log above)")
        )
    return Served(f"http://127.0.0.1:{port}", server, thread, app)


def run_serve(config_dir: Path) -> subprocess.CompletedProcess[str]:
    """`leakline serve --config leakline.toml` in `config_dir` on a free loopback port, to its exit."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return subprocess.run(
        [sys.executable, "-m", "leakline.cli", "serve", "--config", "leakline.toml", "--port", str(port)],
        capture_output=True,
        text=True,
        check=False,
        cwd=config_dir,
        timeout=60,
    )


def audit_records(directory: Path, key: Path) -> list[Any]:
    from leakline.audit.cli import _data_key
    from leakline.audit.keys import load_key_file
    from leakline.audit.verify import verify_log

    records: list[Any] = []
    if not (directory / "audit.log").exists() and not any(directory.glob("*")):
        return records
    verify_log(directory, data_key=_data_key(directory, load_key_file(key)), on_record=records.append)
    return records


def meta_of(record: Any) -> dict[str, Any]:
    """A record's clear metadata: the log's own fields (kind, actor, region) and the caller's `meta`."""
    out: dict[str, Any] = {**record.meta, **record.meta.get("meta", {})}
    return out


def start_serve(
    config_dir: Path, port: int, *args: str, env: dict[str, str] | None = None, wait: float = 60, demo: bool = False
) -> subprocess.Popen[str]:
    """`leakline serve --config leakline.toml --port PORT ARGS` (`--demo` instead of the config with `demo`)
    in `config_dir`, in its own process group, once `/healthz` answers (or it exited, or `wait` seconds
    passed); stop it with `os.killpg(proc.pid, SIGINT)`."""
    import httpx

    config = ["--demo"] if demo else ["--config", "leakline.toml"]
    argv = [sys.executable, "-m", "leakline.cli", "serve", *config, "--port", str(port), *args]
    proc = subprocess.Popen(
        argv,
        cwd=config_dir,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    deadline = time.monotonic() + wait
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.2)
    return proc
