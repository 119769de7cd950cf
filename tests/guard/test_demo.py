"""`leakline serve --demo` as a newcomer runs it: a real process, its banner, a leak, and the incident it opens,
read over the incident API with the demo's generated token."""

from __future__ import annotations

import os
import re
import signal
import stat
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.guard.helpers import start_serve
from tests.store.helpers import free_port


def _incidents(base: str, token: str) -> list[Any]:
    answer = httpx.get(f"{base}/api/v1/incidents", headers={"authorization": f"Bearer {token}"}, timeout=10)
    assert answer.status_code == 200, answer.text
    incidents: list[Any] = answer.json()
    return incidents


def test_the_demo_assesses_its_incidents_and_serves_them_to_the_token_its_banner_points_to(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "TMPDIR": str(tmp_path)}  # the demo's directory lands in tmp_path
    proc = start_serve(tmp_path, port, env=env, demo=True)
    if proc.poll() is not None:
        pytest.fail(f"the demo stopped with exit {proc.returncode}: {proc.communicate()[1]}")
    base = f"http://127.0.0.1:{port}"
    try:
        [directory] = tmp_path.glob("leakline-demo-*")
        token_file = directory / "api.token"
        token = token_file.read_text(encoding="utf-8").strip()
        client_key = (directory / "client.key").read_text(encoding="utf-8").strip()
        assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
        assert httpx.get(f"{base}/api/v1/incidents", timeout=10).status_code == 401
        assert _incidents(base, token) == []
        body = {"model": "llama3.1:8b", "stream": True, "messages": [{"role": "user", "content": "card"}]}
        leak = httpx.post(
            f"{base}/v1/chat/completions",
            json=body,
            headers={"authorization": f"Bearer {client_key}", "x-vercel-ip-country": "DE"},
            timeout=20,
        )
        assert leak.status_code == 200 and "[REDACTED:PAYMENT_CARD]" in leak.text
        deadline = time.monotonic() + 20
        while not (incidents := _incidents(base, token)) and time.monotonic() < deadline:
            time.sleep(0.2)
        [summary] = incidents
        document = httpx.get(
            f"{base}/api/v1/incidents/{summary['id']}", headers={"authorization": f"Bearer {token}"}, timeout=10
        ).json()
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    # Assessed against the demo's [organisation] (a DE establishment): facts v1 and who must be told.
    assert document["facts_version"] == 1
    assert document["risk"] == "none"
    assert document["facts"]["controller"]["establishments"] == ["DE"]
    # Redacted before it reached anyone: no notice is required, the Art. 33(5) record is.
    assert [(o["regime"], o["jurisdiction"], o["recipient"], o["status"]) for o in document["obligations"]] == [
        ("gdpr-33", "DE", "supervisory-authority", "not-required"),
        ("gdpr-34", "EU", "data-subjects", "not-required"),
        ("gdpr-33-5", "EU", "internal-record", "record"),
    ]
    banner = stderr.split("=" * 78)[2]  # heading, body, then the server's log
    assert f" Incident API, token in {token_file} (mode 0600):\n" in banner
    assert f'   curl -s {base}/api/v1/incidents -H "authorization: Bearer $(cat {token_file})"\n' in banner
    assert (
        "   CAUTION: audit show DECRYPTS the log and prints the prompts and the model's output UNREDACTED\n"
        "   (the demo's card numbers, its PEM private key): what the gateway kept from the client, in clear.\n"
    ) in banner
    assert token not in stderr and client_key not in stderr
    assert re.search(r"ERROR|Traceback", stderr) is None, stderr


def test_the_demo_upstream_never_takes_the_port_the_gateway_is_given(monkeypatch: pytest.MonkeyPatch) -> None:
    from leakline.guard import demo
    from leakline.guard.upstream import UpstreamThread

    started: list[UpstreamThread] = []

    class HandedTheGatewayPort(UpstreamThread):
        def start(self) -> UpstreamThread:
            super().start()
            if not started:
                self.port = 5555  # as if the system had handed out the port the gateway is about to bind
            started.append(self)
            return self

    monkeypatch.setattr(demo, "UpstreamThread", HandedTheGatewayPort)
    upstream = demo._upstream_not_on(5555)
    try:
        assert len(started) == 2 and upstream is started[1] and upstream.port not in (0, 5555)
        assert not started[0]._thread.is_alive()  # the first one was stopped, its port given back
    finally:
        upstream.stop()
