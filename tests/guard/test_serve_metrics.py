"""`leakline serve --workers 2`: /metrics answers the sum of every worker's series, whichever worker takes the
scrape, and the directory the workers keep them in is removed when serve stops (a real process, real workers)."""

from __future__ import annotations

import os
import signal
import socket
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.guard.helpers import start_serve
from tests.guard.test_serve_cli import _gateway_toml


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _unauthorized(port: int) -> float:
    """leakline_gateway_requests_total{outcome="unauthorized"} in one scrape (a new connection each time)."""
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10, headers={"connection": "close"}).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "leakline_gateway_requests_total" and sample.labels.get("outcome") == "unauthorized"
    )


def _pids_with_series(folder: Path) -> set[str]:
    return {path.stem.rsplit("_", 1)[-1] for path in folder.glob("counter_*.db")}


def test_metrics_sum_every_worker_and_the_directory_goes_when_serve_stops(tmp_path: Path) -> None:
    _gateway_toml(tmp_path)
    tmpdir = tmp_path / "tmp"
    tmpdir.mkdir()
    port = _free_port()
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"} | {"TMPDIR": str(tmpdir)}
    proc = start_serve(tmp_path, port, "--workers", "2", env=env, wait=90)
    try:
        [folder] = tmpdir.glob("leakline-metrics-*")
        body = {"model": "m", "messages": [{"role": "user", "content": "hi"}]}
        sent = 0
        # New connections until both workers have answered some (the kernel deals them out).
        while sent < 400 and (sent < 20 or len(_pids_with_series(folder)) < 2):
            answer = httpx.post(
                f"http://127.0.0.1:{port}/v1/chat/completions",
                json=body,
                headers={"authorization": "Bearer not-a-key", "connection": "close"},
                timeout=10,
            )
            assert answer.status_code == 401
            sent += 1
        assert len(_pids_with_series(folder)) == 2, "one worker took every connection"
        assert [_unauthorized(port) for _ in range(8)] == [sent] * 8
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr
    assert list(tmpdir.iterdir()) == []
