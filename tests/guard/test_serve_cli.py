"""`leakline serve` as an operator starts it: what it refuses before it builds anything or binds a port."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.guard.helpers import start_serve


def _serve(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "leakline.cli", "serve", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=cwd,
        timeout=60,
    )


def test_a_port_in_use_stops_serve_before_start_up_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "leakline.toml").write_text("", encoding="utf-8")
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        proc = _serve(tmp_path, "--config", "leakline.toml", "--port", str(port))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr == (
        f"error: --port {port}: 127.0.0.1:{port} is already in use (Address already in use)\n"
        "hint: stop what listens there, or choose another --port\n"
    )
    assert proc.stdout == ""


def test_a_port_in_use_stops_the_demo_before_it_writes_anything(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen(1)
        port = holder.getsockname()[1]
        proc = _serve(tmp_path, "--demo", "--port", str(port))
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith(f"error: --port {port}: 127.0.0.1:{port} is already in use")
    assert "LEAKLINE DEMO" not in proc.stderr


def test_a_host_that_does_not_resolve_stops_serve_with_exit_2(tmp_path: Path) -> None:
    (tmp_path / "leakline.toml").write_text("", encoding="utf-8")
    proc = _serve(tmp_path, "--config", "leakline.toml", "--host", "no-such-host.invalid", "--port", "8080")
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.startswith("error: --host no-such-host.invalid: cannot listen there (")
    assert "Traceback" not in proc.stderr


def _gateway_toml(tmp: Path, *, extra_gateway: str = "", region_extra: str = "", audit_key: str = "audit.key") -> None:
    """A served gateway's leakline.toml (one region, one key, audit sinks); the upstream is never contacted."""
    from leakline.audit.keys import generate_key_file

    generate_key_file(tmp / "audit.key")
    (tmp / "leakline.toml").write_text(
        f"""[gateway]
on_missing_country = "eu"
{extra_gateway}
[gateway.anomalies]
state_path = "state.sqlite"

[regions.eu]
upstream = "http://127.0.0.1:9/v1"
countries = ["DE"]
{region_extra}
[[clients]]
name = "storefront"
key_sha256 = "{"0" * 64}"

[audit]
path = "audit"
key = "{audit_key}"

[audit.sinks.eu]
path = "audit-eu"

[database]
url = "sqlite:///leakline.db"
""",
        encoding="utf-8",
    )


def _refused(tmp: Path) -> str:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = _serve(tmp, "--config", "leakline.toml", "--port", str(port))
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "Started server process" not in proc.stderr, proc.stderr
    return proc.stderr


def test_an_unset_upstream_key_variable_stops_serve_naming_the_region_key(tmp_path: Path) -> None:
    _gateway_toml(tmp_path, region_extra='api_key_env = "LEAKLINE_TEST_UNSET_UPSTREAM_KEY"\n')
    assert _refused(tmp_path) == (
        "error: leakline.toml: regions.eu.api_key_env: environment variable "
        "'LEAKLINE_TEST_UNSET_UPSTREAM_KEY' is unset or empty\n"
    )


def test_an_unset_signals_token_stops_serve_before_start_up(tmp_path: Path) -> None:
    _gateway_toml(
        tmp_path,
        extra_gateway='signals_url = "https://central.example/api/v1/signals"\n'
        'signals_token_env = "LEAKLINE_TEST_UNSET_SIGNALS_TOKEN"\n',
    )
    assert _refused(tmp_path) == (
        "error: leakline.toml: gateway.signals_token_env: names no set environment variable "
        "(a bearer token is required for signals_url)\n"
    )


API_TOKEN = "tok-test-incident-api-0123456789"


def _api_toml(tmp: Path, *, audit: bool = True, audit_key: str = "audit.key") -> None:
    """leakline.toml of an incident API without a gateway (no regions): a token, a database, an audit sink."""
    import hashlib

    from leakline.audit.keys import generate_key_file

    section = ""
    if audit:
        generate_key_file(tmp / "audit.key")
        section = f'[audit]\npath = "audit"\nkey = "{audit_key}"\n'
    digest = hashlib.sha256(API_TOKEN.encode()).hexdigest()
    (tmp / "leakline.toml").write_text(
        f'[api]\ntokens_sha256 = ["{digest}"]\n\n[database]\nurl = "sqlite:///leakline.db"\n\n{section}',
        encoding="utf-8",
    )


# The gateway's event thread and, without regions, the incident API open the same sink at start-up.
WITH_AND_WITHOUT_REGIONS = pytest.mark.parametrize("write", [_gateway_toml, _api_toml], ids=["gateway", "api-only"])


@WITH_AND_WITHOUT_REGIONS
def test_a_missing_audit_key_file_stops_serve_naming_the_key(tmp_path: Path, write: Any) -> None:
    write(tmp_path, audit_key="missing.key")
    assert _refused(tmp_path) == (
        "error: leakline.toml: audit.key: missing.key: no such key file\n"
        "hint: create one with `leakline audit keygen KEYFILE`\n"
    )


@WITH_AND_WITHOUT_REGIONS
def test_an_audit_key_file_others_can_read_stops_serve_naming_the_key(tmp_path: Path, write: Any) -> None:
    write(tmp_path)
    (tmp_path / "audit.key").chmod(0o644)
    assert _refused(tmp_path) == (
        "error: leakline.toml: audit.key: audit.key: mode 0644 lets others read the key; it must be 0600\n"
        "hint: chmod 600 audit.key\n"
    )
    assert not (tmp_path / "audit").exists() and not (tmp_path / "audit-eu").exists()


def test_an_audit_sink_that_cannot_be_created_stops_serve_naming_the_sink(tmp_path: Path) -> None:
    _gateway_toml(tmp_path)
    (tmp_path / "audit-eu").write_text("a file where the sink's directory should be\n", encoding="utf-8")
    assert _refused(tmp_path) == (
        "error: leakline.toml: audit.sinks.eu.path: cannot open the audit log in audit-eu (File exists)\n"
    )


def test_served_gateway_logs_upstream_failures_with_a_level_and_never_the_key_or_the_prompt(tmp_path: Path) -> None:
    import os
    import signal

    import httpx

    key = "sk-test-log-0123456789abcdef"
    from leakline.guard.auth import key_digest

    _gateway_toml(tmp_path)
    config = tmp_path / "leakline.toml"
    config.write_text(config.read_text(encoding="utf-8").replace("0" * 64, key_digest(key)), encoding="utf-8")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = start_serve(tmp_path, port)
    try:
        body = {"model": "m", "messages": [{"role": "user", "content": "mail jane.doe@example.com please"}]}
        answer = httpx.post(
            f"http://127.0.0.1:{port}/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {key}", "x-vercel-ip-country": "DE"},
            timeout=20,
        )
        assert answer.status_code == 502
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert (
        "WARNING:  upstream_unavailable on /v1/chat/completions: the upstream of region 'eu' is unreachable "
        "(http://127.0.0.1:9/v1: Connection refused)\n" in stderr
    ), stderr
    assert key not in stderr and "jane.doe" not in stderr


def test_serve_help_says_what_the_demo_is_and_what_each_option_does(tmp_path: Path) -> None:
    # The command's one-line description comes from leakline.cli_app's command table.
    import os

    proc = subprocess.run(
        [sys.executable, "-m", "leakline.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
        timeout=60,
        env={**os.environ, "COLUMNS": "250", "NO_COLOR": "1", "TERM": "dumb"},
    )
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    for expected in (
        "leakline.toml to serve with (docs/gateway.md).",
        "Address to listen on (0.0.0.0: every IPv4 interface; :: every interface, IPv6 and IPv4).",
        "A demo: generated configuration and keys in a fresh /tmp/leakline-demo-* directory, in front of a scripted "
        "upstream that leaks on purpose. Not for production.",
        "Worker processes; /metrics sums their counters, whichever worker answers.",
    ):
        assert expected in text, text


def test_a_database_url_the_incident_engine_cannot_use_stops_serve_when_signals_go_in_process(
    tmp_path: Path,
) -> None:
    _gateway_toml(tmp_path)
    config = tmp_path / "leakline.toml"
    text = config.read_text(encoding="utf-8").replace("sqlite:///leakline.db", "mysql://user@db.internal/leakline")
    config.write_text(text, encoding="utf-8")
    assert _refused(tmp_path) == (
        "error: leakline.toml: database.url: unsupported database 'mysql'; expected sqlite or postgresql\n"
    )


def test_serve_without_a_leakline_toml_says_that_the_gateway_refuses_everything(tmp_path: Path) -> None:
    import os
    import signal
    import time

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "leakline.cli", "serve", "--port", str(port)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            with socket.socket() as client:
                if client.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert stderr.startswith(
        f"warning: no leakline.toml in {tmp_path}: serving on embedded defaults, without regions or client keys "
        "(every /v1 request is refused); pass --config\n"
    ), stderr


def _with_database(tmp: Path, url: str, upstream: str = "http://127.0.0.1:9/v1") -> None:
    _gateway_toml(tmp)
    config = tmp / "leakline.toml"
    text = config.read_text(encoding="utf-8").replace("sqlite:///leakline.db", url)
    config.write_text(text.replace("http://127.0.0.1:9/v1", upstream), encoding="utf-8")


def test_an_unreachable_postgresql_stops_serve_naming_the_url_without_its_password(tmp_path: Path) -> None:
    from tests.store.helpers import free_port

    port = free_port()  # nothing listens there
    _with_database(tmp_path, f"postgresql+psycopg://u:pw-secret-42@127.0.0.1:{port}/db")
    stderr = _refused(tmp_path)
    assert stderr == (
        f"error: leakline.toml: database.url: cannot connect to postgresql+psycopg://u:***@127.0.0.1:{port}/db "
        "(Connection refused)\n"
        "hint: start the database or correct [database] url: the incident engine of this process "
        "records the signals and incidents there\n"
    ), stderr
    assert "pw-secret-42" not in stderr


def test_an_unreachable_database_stops_serve_without_regions_too(tmp_path: Path) -> None:
    """Without [regions] serve is the incident API alone, and each of its requests needs the database."""
    from tests.store.helpers import free_port

    port = free_port()
    (tmp_path / "leakline.toml").write_text(
        f'[database]\nurl = "postgresql+psycopg://u:pw-secret-42@127.0.0.1:{port}/db"\n', encoding="utf-8"
    )
    stderr = _refused(tmp_path)
    assert stderr.startswith(
        f"error: leakline.toml: database.url: cannot connect to postgresql+psycopg://u:***@127.0.0.1:{port}/db "
    ), stderr
    assert "pw-secret-42" not in stderr
    assert not (tmp_path / "leakline-audit").exists()


def test_readyz_names_the_incident_engines_database_and_fails_while_it_is_down(tmp_path: Path) -> None:
    import os
    import signal

    import httpx

    from leakline.guard.upstream import UpstreamThread
    from tests.store.helpers import start_postgres

    server = start_postgres()  # its own server: this test stops it
    upstream = UpstreamThread().start()
    stopped = False
    try:
        url = server.url.replace("leakline@", "leakline:pw-secret-42@")  # trust auth: the password is unused
        _with_database(tmp_path, url, upstream.upstream_url)
        config = tmp_path / "leakline.toml"
        text = config.read_text(encoding="utf-8")
        config.write_text(text.replace("[gateway]\n", "[gateway]\nreadiness_cache_seconds = 0\n"), encoding="utf-8")
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        proc = start_serve(tmp_path, port)
        try:
            ready = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            assert ready.status_code == 200, ready.text
            assert ready.json() == {
                "status": "ready",
                "upstreams": {"eu": {"status": "ok"}},
                "database": {"status": "ok"},
            }
            server.stop()
            stopped = True
            down = httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=10)
            assert down.status_code == 503, down.text
            assert down.json() == {
                "status": "not_ready",
                "upstreams": {"eu": {"status": "ok"}},
                "database": {
                    "status": "failing",
                    "error": "the incident engine's database (postgresql) is unreachable (Connection refused)",
                },
            }
        finally:
            os.killpg(proc.pid, signal.SIGINT)
            _, stderr = proc.communicate(timeout=30)
        assert "pw-secret-42" not in stderr and "pw-secret-42" not in down.text
        assert (
            "WARNING:  readiness: the incident engine's database (postgresql) is unreachable (Connection refused) "
            f"({url.replace('pw-secret-42', '***')}); the replica is not ready\n" in stderr
        ), stderr
    finally:
        upstream.stop()
        if not stopped:
            server.stop()


def test_without_an_audit_section_a_bad_default_key_is_named_with_how_to_configure_one(tmp_path: Path) -> None:
    from leakline.audit.keys import generate_key_file

    _api_toml(tmp_path, audit=False)
    (tmp_path / "leakline-audit").mkdir()
    key = tmp_path / "leakline-audit" / "audit.key"
    generate_key_file(key)
    key.chmod(0o644)
    stderr = _refused(tmp_path)
    assert stderr == (
        f"error: leakline.toml has no [audit] section; the default audit key {key}: mode 0644 lets others read "
        "the key; it must be 0600\n"
        f"hint: chmod 600 {key}, or configure [audit] path and key in leakline.toml "
        "(`leakline audit keygen KEYFILE` creates a key)\n"
    ), stderr
    assert "audit.key:" not in stderr.split(str(key))[0]


def test_an_error_meant_for_people_while_serving_is_answered_with_its_message_not_a_traceback(
    tmp_path: Path,
) -> None:
    import os
    import signal

    import httpx

    from leakline.findings import Severity
    from leakline.signals import Signal, SignalKind
    from tests.store.helpers import free_port

    _api_toml(tmp_path)
    port = free_port()
    proc = start_serve(tmp_path, port)
    try:
        # After the start-up checks: the key file becomes readable by others (a careless chmod, a restore).
        (tmp_path / "audit.key").chmod(0o644)
        signal_ = Signal(
            kind=SignalKind.CLIENT_ERROR,
            source="storefront",
            severity=Severity.LOW,
            fingerprint="nextjs:checkout",
            summary="error boundary hit",
        )
        answer = httpx.post(
            f"http://127.0.0.1:{port}/api/v1/signals",
            content=signal_.model_dump_json(),
            headers={"authorization": f"Bearer {API_TOKEN}", "content-type": "application/json"},
            timeout=20,
        )
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    key = tmp_path / "audit.key"
    assert answer.status_code == 500, answer.text
    assert answer.json() == {
        "error": {
            "message": f"{key}: mode 0644 lets others read the key; it must be 0600",
            "type": "server_error",
            "code": 500,
            "hint": f"chmod 600 {key}",
        }
    }
    assert answer.headers["cache-control"] == "no-store"
    assert "Traceback" not in stderr, stderr
    assert f"ERROR:    POST /api/v1/signals: {key}: mode 0644 lets others read the key" in stderr, stderr
    assert API_TOKEN not in stderr


def test_a_refused_url_is_quoted_without_its_credentials_or_query(tmp_path: Path) -> None:
    # The value is quoted so the operator sees what was read, but a password or an `?api_key=` in it is a secret.
    _gateway_toml(tmp_path)
    config = tmp_path / "leakline.toml"
    config.write_text(
        config.read_text(encoding="utf-8").replace(
            'upstream = "http://127.0.0.1:9/v1"', 'upstream = "ftp://admin:hunter2@10.0.0.5:11434/v1?api_key=sk-123"'
        ),
        encoding="utf-8",
    )
    stderr = _refused(tmp_path)
    assert stderr == (
        "error: leakline.toml: regions.eu.upstream: expected an http:// or https:// URL of the OpenAI-compatible API "
        "(with /v1), got 'ftp://***@10.0.0.5:11434/v1?***'\n"
    )
    assert "hunter2" not in stderr and "sk-123" not in stderr
