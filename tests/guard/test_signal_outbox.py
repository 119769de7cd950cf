"""The durable signal outbox: signals the central leakline could not take survive a gateway that stops or
crashes, are replayed exactly once when it starts again, and a damaged or full outbox never stops it.

Real processes (`leakline serve`, worker processes sharing one outbox file), a real HTTP server on
127.0.0.1 as the central leakline (the handler of test_gateway_signals), real SQLite files."""

from __future__ import annotations

import json
import os
import signal as signals
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from leakline.findings import Severity
from leakline.guard.auth import key_digest
from leakline.guard.events import EventWorker
from leakline.guard.metrics import GatewayMetrics
from leakline.guard.outbox import SignalOutbox, checksum
from leakline.guard.signals_out import HttpSignalSink
from leakline.signals import Signal, SignalKind
from tests.guard.helpers import audit_records, meta_of, start_serve
from tests.guard.test_event_worker import _Clock
from tests.guard.test_gateway_signals import TOKEN, _Central, _NoAudit

CLIENT_KEY = "sk-test-outbox-0123456789abcdef"
OUTBOX = "leakline-signal-outbox.sqlite"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class _CentralServer:
    """The central leakline's `/api/v1/signals` on a port chosen before it runs (it starts 'down')."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}/api/v1/signals"
        self._server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        _Central.received = []
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _Central)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


@pytest.fixture
def central_later() -> Iterator[_CentralServer]:
    _Central.received = []
    server = _CentralServer(_free_port())
    yield server
    server.stop()


def _signal(n: int, summary: str = "request refused by residency policy regions.countries (country JP)") -> Signal:
    return Signal(
        kind=SignalKind.RESIDENCY_VIOLATION,
        source="gateway",
        severity=Severity.MEDIUM,
        fingerprint=f"outbox-test-{n}",
        summary=summary,
    )


def _rows(path: Path) -> list[tuple[int, str, str]]:
    """(row, signal id, stored JSON) of the outbox, read as another process would."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT seq, signal_id, body FROM signal_outbox ORDER BY seq").fetchall()
    finally:
        conn.close()
    return [(int(seq), str(sid), bytes(body).decode("utf-8")) for seq, sid, body in rows]


def _wait(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("timed out")
        time.sleep(0.05)


# -- the whole story with real processes ---------------------------------------------------------------


def _served_toml(tmp: Path, signals_url: str) -> None:
    from leakline.audit.keys import generate_key_file

    generate_key_file(tmp / "audit.key")
    (tmp / "leakline.toml").write_text(
        f"""[gateway]
on_missing_country = "eu"
signals_url = "{signals_url}"
signals_token_env = "CENTRAL_TOKEN"

[gateway.anomalies]
enabled = false

[regions.eu]
upstream = "http://127.0.0.1:9/v1"
countries = ["DE"]

[[clients]]
name = "storefront"
key_sha256 = "{key_digest(CLIENT_KEY)}"

[audit]
path = "audit"
key = "audit.key"

[audit.sinks.eu]
path = "audit-eu"
""",
        encoding="utf-8",
    )


def _refused_in_japan(port: int) -> None:
    body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
    answer = httpx.post(
        f"http://127.0.0.1:{port}/v1/chat/completions",
        json=body,
        headers={"authorization": f"Bearer {CLIENT_KEY}", "x-vercel-ip-country": "JP"},
        timeout=20,
    )
    assert answer.status_code == 451


def test_a_signal_caught_while_the_central_leakline_is_down_survives_a_crash_and_arrives_exactly_once(
    tmp_path: Path, central_later: _CentralServer
) -> None:
    _served_toml(tmp_path, central_later.url)
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"} | {"CENTRAL_TOKEN": TOKEN}
    outbox = tmp_path / OUTBOX
    # 1. The central leakline is down: the residency refusal's signal goes to the outbox.
    port = _free_port()
    first = start_serve(tmp_path, port, env=env)
    try:
        _refused_in_japan(port)
        _wait(lambda: outbox.exists() and len(_rows(outbox)) == 1)
    finally:
        # 2. The gateway dies without its shutdown handler (a crash, an OOM kill).
        os.killpg(first.pid, signals.SIGKILL)
        _, stderr = first.communicate(timeout=30)
    [(_, signal_id, stored)] = _rows(outbox)
    assert f"signal {signal_id} not delivered: {central_later.url}: " in stderr
    assert "; kept in the signal outbox to retry every 5 s (1 waiting)" in stderr
    # 3. The central leakline comes back, then the gateway starts again: the outbox is replayed at once.
    central_later.start()
    port = _free_port()
    second = start_serve(tmp_path, port, env=env)
    try:
        _wait(lambda: len(_Central.received) >= 1)
        _wait(lambda: _rows(outbox) == [])
        time.sleep(6)  # past the next retry round: nothing is sent twice
        metrics = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    finally:
        os.killpg(second.pid, signals.SIGINT)
        _, stderr = second.communicate(timeout=30)
    assert second.returncode == 0, stderr
    assert len(_Central.received) == 1
    path, received = _Central.received[0]
    assert path == "/api/v1/signals"
    assert received == json.loads(stored)
    assert received["id"] == signal_id
    # The very signal the gateway audited when it caught it.
    [record] = [
        r for r in audit_records(tmp_path / "audit", tmp_path / "audit.key") if r.meta.get("kind") == "gateway.signal"
    ]
    assert meta_of(record)["signal"] == received
    assert "1 signal(s) delivered from the signal outbox (0 waiting)" in stderr
    assert _gauge(metrics, "leakline_gateway_signal_outbox_depth") == 0


def _gauge(text: str, name: str) -> float:
    [value] = [s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == name]
    return float(value)


def test_a_graceful_stop_says_how_many_signals_wait_in_the_outbox(
    make_env: Any, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.guard.test_gateway_http import chat

    down = f"http://127.0.0.1:{_free_port()}/api/v1/signals"
    monkeypatch.setenv("CENTRAL_TOKEN", TOKEN)
    env = make_env(signals_url=down, signals_token_env="CENTRAL_TOKEN")
    with caplog.at_level("INFO", logger="leakline.guard"):
        chat(env, "card")
        env.drain()
        metrics = httpx.get(f"{env.url}/metrics", timeout=10).text
        env.served.stop()
    outbox = env.tmp / OUTBOX
    assert _gauge(metrics, "leakline_gateway_signal_outbox_depth") == 1
    assert _gauge(metrics, "leakline_gateway_signal_outbox_bytes") == len(_rows(outbox)[0][2].encode())
    messages = [r.getMessage() for r in caplog.records if r.name == "leakline.guard"]
    assert f"1 signal(s) wait in the signal outbox {outbox}; they are delivered when the gateway runs again" in messages
    assert "4111" not in "\n".join(messages)


# -- a damaged outbox ----------------------------------------------------------------------------------


def _worker(outbox: SignalOutbox, url: str, clock: _Clock | None = None) -> EventWorker:
    return EventWorker(
        audit=_NoAudit(),
        signals=HttpSignalSink(url, TOKEN),
        monitor=None,
        outbox=outbox,
        clock=clock or _Clock(),
    )


def _received_ids() -> list[str]:
    return [body["id"] for _, body in _Central.received]


def test_an_entry_whose_checksum_is_wrong_is_skipped_with_its_row_and_the_others_are_delivered(
    tmp_path: Path, central_later: _CentralServer, caplog: Any
) -> None:
    path = tmp_path / OUTBOX
    outbox = SignalOutbox(path, max_entries=100, max_bytes=1 << 20)
    sent = [_signal(n) for n in range(3)]
    for item in sent:
        assert outbox.put(item)
    outbox.close()
    conn = sqlite3.connect(path)
    with conn:  # one flipped byte in row 2's stored JSON
        body = conn.execute("SELECT body FROM signal_outbox WHERE seq = 2").fetchone()[0]
        conn.execute("UPDATE signal_outbox SET body = ? WHERE seq = 2", (body.replace(b"JP", b"JQ"),))
    conn.close()
    central_later.start()
    worker = _worker(SignalOutbox(path, max_entries=100, max_bytes=1 << 20), central_later.url)
    with caplog.at_level("WARNING", logger="leakline.guard"):
        worker.open([])
        worker.drain()  # the first round replays at once
    assert _received_ids() == [sent[0].id, sent[2].id]
    assert [r.getMessage() for r in caplog.records if r.name == "leakline.guard"] == [
        f"signal outbox {path}: row 2 (signal {sent[1].id}) skipped: its checksum does not match its content "
        "(the entry is damaged); kept in its table signal_outbox_rejected, not sent"
    ]
    assert worker.outbox is not None
    assert worker.outbox.rejected() == [
        (2, sent[1].id, "its checksum does not match its content (the entry is damaged)")
    ]
    assert _rows(path) == []
    worker.close()


GARBAGE = b"this is not an SQLite file but a half-written something else\n" * 100


def test_a_file_that_is_not_a_database_is_set_aside_and_the_gateway_starts_with_a_new_outbox(
    make_env: Any, tmp_path: Path, caplog: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.guard.test_gateway_http import chat

    path = tmp_path / OUTBOX  # where make_env's leakline.toml puts it
    path.write_bytes(GARBAGE)
    down = f"http://127.0.0.1:{_free_port()}/api/v1/signals"
    monkeypatch.setenv("CENTRAL_TOKEN", TOKEN)
    with caplog.at_level("WARNING", logger="leakline.guard"):
        env = make_env(signals_url=down, signals_token_env="CENTRAL_TOKEN")
        assert chat(env, "card").status_code == 200
        env.drain()
    [damaged] = [p for p in tmp_path.iterdir() if p.name.startswith(f"{OUTBOX}.damaged-") and p.name.endswith("Z")]
    assert damaged.read_bytes() == GARBAGE  # kept as it was, for the operator
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING" and r.name == "leakline.guard"]
    assert warnings[0] == (
        f"signal outbox {path} is not an SQLite database (file is not a database): moved to {damaged.name}; "
        "0 signal(s) recovered from it into a new outbox; it cannot be read (file is not a database)"
    )
    [(_, _, body)] = _rows(path)  # the new outbox works: the leak's signal waits there
    assert json.loads(body)["kind"] == "leak-caught"


def test_a_truncated_outbox_keeps_every_signal_that_can_still_be_read_and_names_the_rows_lost(
    tmp_path: Path, central_later: _CentralServer, caplog: Any
) -> None:
    path = tmp_path / OUTBOX
    outbox = SignalOutbox(path, max_entries=1000, max_bytes=1 << 24)
    # Large signals: two to a page, so cutting the last pages off loses the newest rows only.
    sent = [_signal(n, summary=f"{n:04d} " + "x" * 1500) for n in range(60)]
    for item in sent:
        assert outbox.put(item)
    outbox.close()  # the last connection checkpoints the WAL into the file
    size = path.stat().st_size
    with path.open("r+b") as handle:  # a copy or a disk that lost the file's last 16 KiB
        handle.truncate(size - 4 * 4096)
    central_later.start()
    worker = _worker(SignalOutbox(path, max_entries=1000, max_bytes=1 << 24), central_later.url)
    with caplog.at_level("WARNING", logger="leakline.guard"):
        worker.open([])
        worker.drain()
    received = _received_ids()
    kept = len(received)
    assert 0 < kept < 60
    assert received == [s.id for s in sent[:kept]]  # oldest first, each once
    [warning] = [r.getMessage() for r in caplog.records if r.name == "leakline.guard"]
    [damaged] = [p.name for p in tmp_path.iterdir() if p.name.endswith("Z")]
    assert warning == (
        f"signal outbox {path} is damaged (database disk image is malformed): moved to {damaged}; {kept} signal(s) "
        f"recovered from it into a new outbox; row(s) {kept + 1}-60 could not be read"
    )
    worker.close()


# -- bounded -------------------------------------------------------------------------------------------


def test_a_full_outbox_keeps_the_oldest_and_counts_the_dropped_without_logging_their_text(
    tmp_path: Path, caplog: Any
) -> None:
    from prometheus_client import CollectorRegistry, generate_latest

    path = tmp_path / OUTBOX
    down = f"http://127.0.0.1:{_free_port()}/api/v1/signals"
    worker = _worker(SignalOutbox(path, max_entries=3, max_bytes=1 << 20), down)
    metrics = GatewayMetrics()
    registry = CollectorRegistry()
    for collector in metrics.collectors():
        registry.register(collector)
    worker.metrics = metrics
    sent = [_signal(n, summary=f"refused {n} for jane.doe@example.com") for n in range(5)]
    with caplog.at_level("ERROR", logger="leakline.guard"):
        worker.open([])
        for item in sent:
            worker.submit(item)
        worker.drain()
    assert [sid for _, sid, _ in _rows(path)] == [s.id for s in sent[:3]]
    assert worker.signals_dropped == 2
    text = generate_latest(registry).decode()
    assert _gauge(text, "leakline_gateway_signal_outbox_depth") == 3
    assert _gauge(text, "leakline_gateway_signals_dropped_total") == 2
    messages = [r.getMessage() for r in caplog.records if r.name == "leakline.guard"]
    assert messages[3] == (
        f"signal {sent[3].id} not delivered ({down}: <urlopen error [Errno 111] Connection refused>) and not kept: the signal "
        f"outbox {path} is full (3 signals, limits gateway.signal_outbox_max_entries = 3, signal_outbox_max_bytes "
        "= 1048576; the oldest are kept); 1 dropped by this worker, each in the audit log (kind gateway.signal)"
    )
    assert messages[4].endswith("; 2 dropped by this worker, each in the audit log (kind gateway.signal)")
    assert "jane.doe" not in "\n".join(messages)
    worker.close()


def test_the_byte_limit_counts_the_stored_json(tmp_path: Path) -> None:
    first, second = _signal(1), _signal(2)
    size = len(first.model_dump_json().encode())
    outbox = SignalOutbox(tmp_path / OUTBOX, max_entries=100, max_bytes=2 * size - 1)
    assert outbox.put(first)
    assert not outbox.put(second)
    assert outbox.put(first)  # already kept: the same id is one entry
    assert outbox.depth() == (1, size)
    outbox.close()


def test_a_signal_the_receiver_refuses_for_good_is_set_aside_instead_of_blocking_the_others(
    tmp_path: Path, central_later: _CentralServer
) -> None:
    path = tmp_path / OUTBOX
    outbox = SignalOutbox(path, max_entries=100, max_bytes=1 << 20)
    sent = [_signal(n) for n in range(3)]
    for item in sent:
        outbox.put(item)
    outbox.close()
    central_later.start()
    # A receiver that rejects the second signal itself (422), as a newer leakline might an older signal.
    refused = sent[1].id
    _Central.refused = {refused}
    try:
        worker = _worker(SignalOutbox(path, max_entries=100, max_bytes=1 << 20), central_later.url)
        worker.open([])
        worker.drain()
        assert worker.outbox is not None
        assert worker.outbox.rejected() == [(2, refused, f"the receiver refused it: {central_later.url}: HTTP 422")]
        worker.close()
    finally:
        _Central.refused = set()
    assert _received_ids() == [sent[0].id, sent[2].id]


# -- several workers, one file ---------------------------------------------------------------------------

_WRITER = """
import sys
from pathlib import Path
from leakline.findings import Severity
from leakline.guard.outbox import SignalOutbox
from leakline.signals import Signal, SignalKind

outbox = SignalOutbox(Path(sys.argv[1]), max_entries=100_000, max_bytes=1 << 30)
outbox.open()
for n in range(int(sys.argv[3])):
    signal = Signal(id=f"sig_{sys.argv[2]}_{n:04d}", kind=SignalKind.MANUAL, source="worker",
                    severity=Severity.LOW, fingerprint="f", summary=f"from {sys.argv[2]}")
    assert outbox.put(signal)
outbox.close()
"""

_REPLAYER = """
import sys, time
from pathlib import Path
from leakline.guard.events import EventWorker
from leakline.guard.outbox import SignalOutbox
from leakline.guard.signals_out import HttpSignalSink

class NoAudit:
    def append(self, **kwargs): return 0
    def flush(self): return None
    def close(self): return None

outbox = SignalOutbox(Path(sys.argv[1]), max_entries=100_000, max_bytes=1 << 30)
worker = EventWorker(audit=NoAudit(), signals=HttpSignalSink(sys.argv[2], sys.argv[3]), monitor=None, outbox=outbox)
worker.open([])
worker.start()
deadline = time.monotonic() + 60
while outbox.depth()[0] and time.monotonic() < deadline:
    time.sleep(0.05)
worker.close()
"""


def test_worker_processes_share_one_outbox_without_losing_or_doubling_a_signal(
    tmp_path: Path, central_later: _CentralServer
) -> None:
    path = tmp_path / OUTBOX
    per_writer = 150
    writers = [
        subprocess.Popen([sys.executable, "-c", _WRITER, str(path), name, str(per_writer)]) for name in ("a", "b")
    ]
    assert [w.wait(timeout=120) for w in writers] == [0, 0]
    rows = _rows(path)
    expected = {f"sig_{name}_{n:04d}" for name in ("a", "b") for n in range(per_writer)}
    assert {sid for _, sid, _ in rows} == expected
    assert len(rows) == 2 * per_writer
    for _, _, body in rows:  # every entry whole
        assert json.loads(body)["id"] in expected
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT count(*) FROM signal_outbox WHERE sha256 != ''").fetchone() == (2 * per_writer,)
    assert all(checksum(b) == d for b, d in conn.execute("SELECT body, sha256 FROM signal_outbox"))
    conn.close()
    central_later.start()
    replayers = [
        subprocess.Popen([sys.executable, "-c", _REPLAYER, str(path), central_later.url, TOKEN]) for _ in range(2)
    ]
    assert [r.wait(timeout=120) for r in replayers] == [0, 0]
    received = _received_ids()
    assert sorted(received) == sorted(expected)  # each exactly once
    assert _rows(path) == []


def test_an_outbox_path_that_cannot_be_used_stops_serve_naming_the_key(tmp_path: Path) -> None:
    from tests.guard.test_serve_cli import _gateway_toml, _refused

    _gateway_toml(tmp_path, extra_gateway='signal_outbox = "blocker/outbox.sqlite"')
    (tmp_path / "blocker").write_text("a file where the outbox's directory should be\n", encoding="utf-8")
    assert _refused(tmp_path) == (
        f"error: leakline.toml: gateway.signal_outbox: cannot open the signal outbox "
        f"{tmp_path.resolve() / 'blocker' / 'outbox.sqlite'} (File exists)\n"
    )


def test_entries_claimed_by_a_worker_that_died_are_taken_over_when_the_lease_runs_out(tmp_path: Path) -> None:
    from leakline.guard.outbox import CLAIM_LEASE_SECONDS

    path = tmp_path / OUTBOX
    first, second = (SignalOutbox(path, max_entries=100, max_bytes=1 << 20) for _ in range(2))
    sent = [_signal(n) for n in range(3)]
    for item in sent:
        first.put(item)
    now = time.time()
    assert [q.signal.id for q in first.claim(now=now, limit=2)] == [sent[0].id, sent[1].id]
    # The first worker dies holding its claim: the second gets the rest now, the claimed ones after the lease.
    assert [q.signal.id for q in second.claim(now=now + 1)] == [sent[2].id]
    assert second.claim(now=now + CLAIM_LEASE_SECONDS - 1) == []
    assert [q.signal.id for q in second.claim(now=now + CLAIM_LEASE_SECONDS + 1)] == [sent[0].id, sent[1].id]
    first.close()
    second.close()


@pytest.mark.parametrize(
    ("gateway", "message"),
    [
        ({"signal_outbox": 3}, "leakline.toml: gateway.signal_outbox: expected a string, got 3"),
        (
            {"signal_outbox": " "},
            "leakline.toml: gateway.signal_outbox: expected the path of a file, e.g. 'leakline-signal-outbox.sqlite', "
            "got ' '",
        ),
        (
            {"signal_outbox_max_entries": "10"},
            "leakline.toml: gateway.signal_outbox_max_entries: expected an integer, got '10'",
        ),
        (
            {"signal_outbox_max_entries": 0},
            "leakline.toml: gateway.signal_outbox_max_entries: Input should be greater than 0, got 0",
        ),
        (
            {"signal_outbox_max_bytes": 1024},
            "leakline.toml: gateway.signal_outbox_max_bytes: Input should be greater than or equal to 65536, got 1024",
        ),
        ({"signal_outbox_path": "x.sqlite"}, "leakline.toml: gateway.signal_outbox_path: unknown key"),
    ],
)
def test_outbox_settings_are_checked_naming_the_file_and_the_key(gateway: dict[str, Any], message: str) -> None:
    from leakline.config import parse_settings
    from leakline.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        parse_settings({"gateway": gateway}, source="leakline.toml")
    assert caught.value.message == message
