"""How `leakline serve` stops, as an operator or a process supervisor stops it: real processes, signals,
a scripted upstream whose streams outlast the grace, and the audit log read back afterwards."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from leakline.guard.auth import key_digest
from leakline.guard.upstream import ScriptedUpstream, UpstreamThread
from tests.guard.helpers import audit_records, meta_of, start_serve

KEY = "sk-test-stop-0123456789abcdef"
CHUNK_DELAY = 8.0
"""Seconds between two chunks of the upstream's answer: a stream runs about 24 s, far beyond the grace."""


def _config(tmp: Path, upstream: str, grace: float) -> None:
    from leakline.audit.keys import generate_key_file

    generate_key_file(tmp / "audit.key")
    (tmp / "leakline.toml").write_text(
        f"""[gateway]
on_missing_country = "eu"
shutdown_grace_seconds = {grace}

[gateway.anomalies]
state_path = "state.sqlite"

[regions.eu]
upstream = "{upstream}"
countries = ["DE"]

[[clients]]
name = "storefront"
key_sha256 = "{key_digest(KEY)}"

[audit]
path = "audit"
key = "audit.key"

[audit.sinks.eu]
path = "audit-eu"

[database]
url = "sqlite:///leakline.db"
""",
        encoding="utf-8",
    )


def _port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class _Stream:
    """A streamed chat request running in a thread: what its client received, once its answer began."""

    url: str
    began: threading.Event = field(default_factory=threading.Event)
    text: str = ""
    error: str = ""

    def run(self) -> None:
        body = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hello"}]}
        headers = {"authorization": f"Bearer {KEY}", "x-vercel-ip-country": "DE"}
        try:
            with httpx.stream("POST", f"{self.url}/v1/chat/completions", json=body, headers=headers, timeout=60) as r:
                assert r.status_code == 200
                for piece in r.iter_text():
                    self.text += piece
                    self.began.set()
        except Exception as exc:  # what a client sees of a stop that cuts it off
            self.error = type(exc).__name__
        finally:
            self.began.set()


@pytest.fixture
def slow_upstream() -> Iterator[UpstreamThread]:
    upstream = UpstreamThread(ScriptedUpstream(delay=CHUNK_DELAY)).start()
    yield upstream
    upstream.stop()


def _serve_with_streams(tmp: Path, upstream: UpstreamThread, grace: float, *args: str) -> tuple[Any, list[_Stream]]:
    _config(tmp, upstream.upstream_url, grace)
    port = _port()
    proc = start_serve(tmp, port, *args)
    assert proc.poll() is None, proc.communicate()[1]
    streams = [_Stream(f"http://127.0.0.1:{port}") for _ in range(3)]
    threads = [threading.Thread(target=s.run, daemon=True) for s in streams]
    for thread in threads:
        thread.start()
    for stream in streams:
        assert stream.began.wait(30) and not stream.error, stream.error
    return proc, streams


def _exchanges(tmp: Path) -> list[dict[str, Any]]:
    records = audit_records(tmp / "audit-eu", tmp / "audit.key")
    return [meta_of(r) for r in records if meta_of(r).get("kind") == "gateway.exchange"]


def _assert_ended_and_audited(tmp: Path, streams: list[_Stream], stderr: str) -> None:
    for stream in streams:
        assert not stream.error, stream.error
        # The stream's last event is OpenAI's error shape, and there is no [DONE]: the client knows the
        # answer is incomplete, and why.
        last = stream.text.strip().split("\n\n")[-1]
        assert last == (
            'data: {"error":{"message":"the gateway is shutting down; the request was not completed: retry it",'
            '"type":"server_error","param":null,"code":"shutting_down"}}'
        ), stream.text
        assert "[DONE]" not in stream.text
    records = _exchanges(tmp)
    assert [(r["status"], r["error"], r["stream"], r["client"]) for r in records] == [
        (503, "shutting_down", True, "storefront")
    ] * len(streams)
    assert "Traceback" not in stderr and "CancelledError" not in stderr, stderr
    assert "Exception in ASGI application" not in stderr, stderr


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_drains_for_the_grace_then_ends_streams_with_an_error_event_and_audits_them(
    tmp_path: Path, slow_upstream: UpstreamThread, workers: str
) -> None:
    proc, streams = _serve_with_streams(tmp_path, slow_upstream, 1.0, "--workers", workers)
    stopped = time.monotonic()
    proc.send_signal(signal.SIGTERM)  # to the supervisor with --workers 2: as Kubernetes or systemd sends it
    _, stderr = proc.communicate(timeout=60)
    took = time.monotonic() - stopped
    # Within the grace (1 s), the time to end and audit what was in flight, and the workers' own stop;
    # not after the streams' end (about 24 s).
    assert took < CHUNK_DELAY, (took, stderr)
    _assert_ended_and_audited(tmp_path, streams, stderr)
    assert "still running at shutdown_grace_seconds: ended with 503 shutting_down" in stderr, stderr


def test_a_request_that_ends_within_the_grace_is_answered_whole(tmp_path: Path) -> None:
    """The near miss: a stream that finishes during the drain is not cut: it gets its text and [DONE]."""
    upstream = UpstreamThread(ScriptedUpstream(delay=1.0)).start()
    try:
        proc, streams = _serve_with_streams(tmp_path, upstream, 30.0)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        upstream.stop()
    for stream in streams:
        assert stream.text.rstrip().endswith("data: [DONE]"), stream.text
        assert "shutting_down" not in stream.text
    assert [(r["status"], r["error"]) for r in _exchanges(tmp_path)] == [(200, None)] * len(streams)
    assert "shutting_down" not in stderr, stderr


@pytest.mark.parametrize(
    ("workers", "to_group", "sig"),
    [("1", False, signal.SIGTERM), ("2", True, signal.SIGINT), ("2", False, signal.SIGTERM)],
    ids=["sigterm-twice", "ctrl-c-twice-workers", "sigterm-twice-supervisor"],
)
def test_a_second_stop_signal_ends_the_drain_at_once_and_still_audits(
    tmp_path: Path, slow_upstream: UpstreamThread, workers: str, to_group: bool, sig: signal.Signals
) -> None:
    proc, streams = _serve_with_streams(tmp_path, slow_upstream, 600.0, "--workers", workers)

    def send() -> None:
        # Ctrl-C in a terminal signals the whole process group: the supervisor and every worker.
        os.killpg(proc.pid, sig) if to_group else proc.send_signal(sig)

    send()
    time.sleep(1.0)
    assert proc.poll() is None  # draining: the grace is 600 s
    stopped = time.monotonic()
    send()
    _, stderr = proc.communicate(timeout=60)
    assert time.monotonic() - stopped < CHUNK_DELAY, stderr
    _assert_ended_and_audited(tmp_path, streams, stderr)
    assert "still running at a second stop signal: ended with 503 shutting_down" in stderr, stderr


# -- the supervisor of --workers killed ------------------------------------------------------------------


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            out.append(int(entry.name))
    return out


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    return dict(item.split("=", 1) for item in raw.decode("utf-8", "replace").split("\0") if "=" in item)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_workers_stop_and_clean_up_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    _config(tmp_path, "http://127.0.0.1:9/v1", 10.0)
    port = _port()
    proc = start_serve(tmp_path, port, "--workers", "2")
    try:
        deadline = time.monotonic() + 30
        workers: list[int] = []
        while time.monotonic() < deadline and len(workers) < 2:
            workers = [pid for pid in _children(proc.pid) if "spawn_main" in _cmdline(pid)]
            time.sleep(0.2)
        assert len(workers) == 2, workers
        env = _environ(workers[0])
        temp = [Path(env["PROMETHEUS_MULTIPROC_DIR"]), Path(env["LEAKLINE_READINESS_STATE"])]
        assert all(path.exists() for path in temp)
        proc.kill()  # SIGKILL: the supervisor can do nothing about it (the OOM killer, a cgroup limit)
        proc.wait(timeout=10)  # not communicate(): workers left running would hold its pipes open
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and (any(_alive(pid) for pid in workers) or not _port_free(port)):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)
        assert _port_free(port)
        assert not any(path.exists() for path in temp), temp
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # workers that survived (the test failed): not left behind
        proc.communicate(timeout=10)


def test_a_new_serve_removes_what_a_serve_killed_with_its_workers_left(tmp_path: Path) -> None:
    from leakline.web.lifecycle import sweep_stale

    dead = subprocess.Popen(["true"])
    dead.wait()  # a pid that no longer runs
    folder = Path(tempfile.mkdtemp(prefix=f"leakline-metrics-{dead.pid}-"))
    (folder / "counter_123.db").write_bytes(b"\0" * 16)
    # The near misses: the directory of a serve that still runs (this test's own process); one whose pid is not
    # running here but whose workers hold it (a serve in another PID namespace sharing /tmp); one just made.
    alive = Path(tempfile.mkdtemp(prefix=f"leakline-metrics-{os.getppid()}-"))
    held = Path(tempfile.mkdtemp(prefix=f"leakline-metrics-{dead.pid}-"))
    young = Path(tempfile.mkdtemp(prefix=f"leakline-metrics-{dead.pid}-"))
    old = time.time() - 3600
    for path in (folder, alive, held):
        os.utime(path, (old, old))
    handle = os.open(held, os.O_RDONLY)
    fcntl.flock(handle, fcntl.LOCK_SH)  # as `hold_owned` does in each worker
    try:
        sweep_stale("metrics")
        assert not folder.exists()
        assert alive.exists() and held.exists() and young.exists()
    finally:
        os.close(handle)
        for path in (folder, alive, held, young):
            if path.exists():
                (path / "counter_123.db").unlink(missing_ok=True)
                path.rmdir()


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def test_a_whole_answer_still_awaited_at_the_end_of_the_grace_is_a_503_shutting_down(tmp_path: Path) -> None:
    upstream = UpstreamThread().start()
    upstream.upstream.mode = "slow"  # answers after 5 s
    try:
        _config(tmp_path, upstream.upstream_url, 0.5)
        port = _port()
        proc = start_serve(tmp_path, port)
        answers: list[httpx.Response] = []
        body = {"model": "m", "messages": [{"role": "user", "content": "hello"}]}
        headers = {"authorization": f"Bearer {KEY}", "x-vercel-ip-country": "DE"}
        url = f"http://127.0.0.1:{port}/v1/chat/completions"
        client = threading.Thread(
            target=lambda: answers.append(httpx.post(url, json=body, headers=headers, timeout=30)), daemon=True
        )
        client.start()
        deadline = time.monotonic() + 10
        while not upstream.upstream.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
        client.join(10)
    finally:
        upstream.stop()
    assert [a.status_code for a in answers] == [503]
    assert answers[0].json()["error"]["code"] == "shutting_down"
    assert answers[0].headers["connection"] == "close"
    assert [(r["status"], r["error"], r["stream"]) for r in _exchanges(tmp_path)] == [(503, "shutting_down", False)]
    assert "Traceback" not in stderr and "CancelledError" not in stderr, stderr


def test_workers_orphaned_mid_stream_drain_audit_and_the_last_one_removes_the_files(
    tmp_path: Path, slow_upstream: UpstreamThread
) -> None:
    proc, streams = _serve_with_streams(tmp_path, slow_upstream, 3.0, "--workers", "2")
    try:
        workers = [pid for pid in _children(proc.pid) if "spawn_main" in _cmdline(pid)]
        assert len(workers) == 2, workers
        metrics = Path(_environ(workers[0])["PROMETHEUS_MULTIPROC_DIR"])
        killed = time.monotonic()
        proc.kill()
        proc.wait(timeout=10)
        time.sleep(1.5)
        # Within the grace a worker is still draining streams and writing its counters: the directory stays.
        assert any(_alive(pid) for pid in workers)
        assert metrics.exists()
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and any(_alive(pid) for pid in workers):
            time.sleep(0.1)
        assert not any(_alive(pid) for pid in workers)
        assert time.monotonic() - killed < CHUNK_DELAY + 5
        assert not metrics.exists()
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        _, stderr = proc.communicate(timeout=10)
    _assert_ended_and_audited(tmp_path, streams, stderr)


def test_two_serves_started_together_on_one_port_leave_one_listening_and_one_refused(tmp_path: Path) -> None:
    # Bound with address reuse, both could bind the port before either listened: the second's workers then
    # listened nowhere and it never exited. Whichever comes second now stops with the port named (exit 2).
    upstream = UpstreamThread().start()
    try:
        dirs = [tmp_path / "a", tmp_path / "b"]
        for folder in dirs:
            folder.mkdir()
            _config(folder, upstream.upstream_url, 0.5)
        port = _port()
        argv = ["serve", "--config", "leakline.toml", "--port", str(port), "--workers", "2"]
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "leakline.cli", *argv], cwd=folder, stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True, start_new_session=True,
            )
            for folder in dirs
        ]  # fmt: skip
        try:
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline and all(p.poll() is None for p in procs):
                time.sleep(0.2)
            [refused] = [p for p in procs if p.poll() is not None]
            [serving] = [p for p in procs if p is not refused]
            assert serving.poll() is None
            _, stderr = refused.communicate(timeout=10)
            assert refused.returncode == 2, stderr
            assert f"--port {port}: " in stderr and "is already in use" in stderr, stderr
            assert "Traceback" not in stderr, stderr
            assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200
        finally:
            for proc in procs:
                if proc.poll() is None:
                    os.killpg(proc.pid, signal.SIGINT)
                    proc.communicate(timeout=30)
    finally:
        upstream.stop()
