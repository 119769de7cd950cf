"""Test infrastructure for the database-backed domains: a throwaway PostgreSQL, SMTP and webhook receivers,
and leakline.toml files wired to them. Everything listens on 127.0.0.1 only."""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

PG_URL_ENV = "LEAKLINE_TEST_PG_URL"
PG_START_TIMEOUT_S = "60"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def _as_postgres(args: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return args
    # PostgreSQL refuses to run as root.
    return ["runuser", "-u", "postgres", "--", *args]


@dataclass
class Postgres:
    url: str
    data: Path
    bindir: Path | None

    def stop(self) -> None:
        if self.bindir is not None:
            subprocess.run(
                _as_postgres([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "stop"]),
                capture_output=True,
                check=False,
            )
            shutil.rmtree(self.data.parent, ignore_errors=True)

    def fresh_database(self) -> str:
        """A new empty database on this server; its SQLAlchemy URL."""
        import psycopg

        name = f"t_{uuid.uuid4().hex[:12]}"
        plain = self.url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url.rsplit("/", 1)[0] + "/" + name


_shared: list[Postgres] = []


def shared_postgres() -> Postgres:
    """One throwaway server for the whole test run (tests/store, tests/incidents and tests/notify share it);
    stopped when the interpreter exits."""
    if not _shared:
        server = start_postgres()
        atexit.register(server.stop)
        _shared.append(server)
    return _shared[0]


def start_postgres() -> Postgres:
    given = os.environ.get(PG_URL_ENV)
    if given:
        return Postgres(given, Path(), None)
    bindir = _pg_bin()
    if bindir is None:
        message = "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (install Debian's postgresql)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    root = Path(tempfile.mkdtemp(prefix="leakline-pg-"))
    data = root / "data"
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    port = free_port()
    subprocess.run(
        _as_postgres([str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "leakline", "--no-sync"]),
        check=True,
        capture_output=True,
    )
    options = f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=100"
    subprocess.run(
        _as_postgres(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-o",
                options,
                "-l",
                str(root / "log"),
                "-t",
                PG_START_TIMEOUT_S,
                "-w",
                "start",
            ]
        ),
        check=True,
        capture_output=True,
    )
    return Postgres(f"postgresql+psycopg://leakline@127.0.0.1:{port}/postgres", data, bindir)


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: Message


@dataclass
class SmtpServer:
    port: int
    received: list[Received] = field(default_factory=list)
    controller: Any = None
    lock: threading.Lock = field(default_factory=threading.Lock)
    gate: threading.Event = field(default_factory=threading.Event)
    """While cleared, the server holds every message after reading it, before answering 250."""

    def __post_init__(self) -> None:
        self.gate.set()

    def message_ids(self) -> list[str]:
        with self.lock:
            return [str(r.message["Message-ID"]) for r in self.received]

    def start(self, *, tls_context: Any = None, auth: tuple[str, str] | None = None) -> None:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult, LoginPassword

        server = self

        class Handler:
            async def handle_DATA(self, srv: Any, session: Any, envelope: Any) -> str:
                with server.lock:
                    server.received.append(
                        Received(
                            envelope.mail_from,
                            list(envelope.rcpt_tos),
                            message_from_bytes(envelope.content, policy=policy.default),
                        )
                    )
                while not server.gate.is_set():
                    await asyncio.sleep(0.02)
                return "250 OK"

        def authenticator(srv: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
            ok = (
                isinstance(data, LoginPassword)
                and auth is not None
                and (data.login.decode(), data.password.decode()) == auth
            )
            return AuthResult(success=ok)

        kwargs: dict[str, Any] = {}
        if tls_context is not None:
            kwargs.update(tls_context=tls_context, require_starttls=True)
        if auth is not None:
            kwargs.update(authenticator=authenticator, auth_required=True, auth_require_tls=tls_context is not None)
        self.controller = Controller(Handler(), hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@dataclass
class HookServer:
    """An HTTP receiver: records (path, headers, body); answers with `status` (settable)."""

    status: int = 200
    requests: list[tuple[str, dict[str, str], bytes]] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> None:
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                hook.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                self.send_response(hook.status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


CONTACTS = """
[[contacts]]
name = "Compliance on call"
role = "compliance"
email = "compliance@acme.example"

[[contacts]]
name = "Dana Privacy"
role = "dpo"
email = "dpo@acme.example"

[[contacts]]
name = "Web team"
role = "frontend"
email = "web@acme.example"

[[contacts]]
name = "CEO"
role = "executive"
email = "ceo@acme.example"
"""


def write_config(
    directory: Path,
    *,
    db_url: str,
    smtp_port: int,
    extra: str = "",
    contacts: str = CONTACTS,
    escalation: str = 'ack_minutes = 15\nchain = ["Compliance on call", "Dana Privacy"]\n',
    channels: str = "max_attempts = 3\nbackoff_seconds = 10\nlease_seconds = 30\n",
) -> Path:
    """A complete leakline.toml with an audit key, routed to a local SMTP port; returns its path."""
    from leakline.audit.keys import generate_key_file

    key = directory / "audit.key"
    if not key.exists():
        generate_key_file(key)
    config = directory / "leakline.toml"
    config.write_text(
        f"""
[organisation]
name = "Acme Shop GmbH"
establishments = ["DE"]
sector = "online-marketplace"
size = "large"
dpo = {{ name = "Dana Privacy", email = "dpo@acme.example", phone = "+49 30 1234567" }}

[database]
url = "{db_url}"

[audit]
path = "audit"
key = "audit.key"

[channels]
{channels}
[channels.smtp]
host = "127.0.0.1"
port = {smtp_port}
starttls = false
sender = "incidents@acme.example"
timeout_seconds = 5
{contacts}
[authorities.DE]
supervisory-authority = "mailto:breach-reports@authority.example"

[escalation]
{escalation}
[owners]
frontend = ["Web team"]
{extra}
""",
        encoding="utf-8",
    )
    return config


@dataclass
class Env:
    """A database, an SMTP server and a leakline.toml pointing at both."""

    directory: Path
    db_url: str
    smtp: SmtpServer
    config: Path


def iter_env(directory: Path, db_url: str) -> Iterator[Env]:
    smtp = SmtpServer(free_port())
    smtp.start()
    try:
        yield Env(directory, db_url, smtp, write_config(directory, db_url=db_url, smtp_port=smtp.port))
    finally:
        smtp.stop()


def migrate_to(db_url: str, revision: str, *statements: tuple[str, dict[str, Any]]) -> None:
    """Bring a fresh database to `revision` (not head) and run `statements` in the same transaction: a
    database as an older leakline left it, for upgrade tests."""
    from alembic import command
    from alembic.config import Config
    from sqlalchemy import create_engine, text

    from leakline.store.engine import MIGRATIONS_DIR

    engine = create_engine(db_url)
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, revision)
            for sql, params in statements:
                connection.execute(text(sql), params)
    finally:
        engine.dispose()
