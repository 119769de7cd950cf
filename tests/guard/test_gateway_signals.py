"""Signals out of the gateway: POSTed to a central leakline with a bearer token, and volume anomalies
raised by the event thread from the shared baselines."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from leakline.guard.anomaly import VolumeMonitor
from leakline.guard.events import EventWorker, Exchange
from leakline.guard.settings import AnomalySettings
from leakline.guard.signals_out import HttpSignalSink, SignalDeliveryError, SignalSink
from leakline.signals import Signal
from tests.guard.test_gateway_http import chat

TOKEN = "central-token-0123456789"


class _Central(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    refused: ClassVar[set[str]] = set()
    """Signal ids answered with 422, as a receiver that cannot take the signal itself would."""

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["content-length"]))
        if self.headers.get("authorization") != f"Bearer {TOKEN}":
            self.send_response(401)
            self.end_headers()
            return
        signal = json.loads(body)
        if signal.get("id") in type(self).refused:
            self.send_response(422)
            self.send_header("content-length", "0")
            self.end_headers()
            return
        type(self).received.append((self.path, signal))
        self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


@pytest.fixture
def central() -> Any:
    _Central.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Central)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()


def test_leak_signal_is_posted_to_the_central_leakline(
    make_env: Any, central: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CENTRAL_TOKEN", TOKEN)
    env = make_env(signals_url=f"{central}/api/v1/signals", signals_token_env="CENTRAL_TOKEN")
    chat(env, "card")
    env.drain()
    assert len(_Central.received) == 1
    path, signal = _Central.received[0]
    assert path == "/api/v1/signals"
    assert (signal["kind"], signal["severity"], signal["source"], signal["region"]) == (
        "leak-caught",
        "medium",
        "gateway:eu",
        "eu",
    )
    assert signal["data_categories"] == ["payment-card"]
    assert "4111" not in json.dumps(signal)


def test_a_wrong_token_is_a_delivery_error(central: str) -> None:
    sink = HttpSignalSink(f"{central}/api/v1/signals", "wrong")
    signal = Signal(kind="manual", source="t", severity="low", fingerprint="f", summary="s")
    with pytest.raises(SignalDeliveryError) as caught:
        sink.emit(signal)
    assert str(caught.value).endswith(": HTTP 401")


def test_a_delivery_error_names_the_signals_url_without_its_credentials(central: str) -> None:
    # The error is logged by the event thread: a user:password or a token in the query must not reach the log.
    signal = Signal(kind="manual", source="t", severity="low", fingerprint="f", summary="s")
    with pytest.raises(SignalDeliveryError) as caught:
        HttpSignalSink(f"{central}/api/v1/signals?token=tk-77c1", "wrong").emit(signal)
    assert str(caught.value) == f"{central}/api/v1/signals: HTTP 401"
    host = central.removeprefix("http://")
    with pytest.raises(SignalDeliveryError) as caught:
        HttpSignalSink(f"http://ops:pw-9f3a@{host}/api/v1/signals", "wrong").emit(signal)
    assert str(caught.value).startswith(f"{central}/api/v1/signals: ")
    assert "pw-9f3a" not in str(caught.value)


class _Collect(SignalSink):
    def __init__(self) -> None:
        self.signals: list[Signal] = []

    def emit(self, signal: Signal) -> None:
        self.signals.append(signal)


class _NoAudit:
    def append(self, **kwargs: Any) -> int:
        return 0

    def flush(self) -> None:
        return None

    def close(self) -> None:
        return None


def _exchange(at: float) -> Exchange:
    return Exchange(
        route="/v1/chat/completions",
        client="storefront",
        region="eu",
        country="DE",
        pop="fra1",
        model="m",
        status=200,
        stream=False,
        prompt=None,
        response_text="",
        upstream_text="",
        prompt_bytes=10,
        response_bytes=20,
        scanned_bytes=20,
        at=at,
    )


def test_event_thread_raises_a_volume_anomaly_with_the_numbers(tmp_path: Path) -> None:
    now = [60.0 * 1000]
    cfg = AnomalySettings(warmup_minutes=3, threshold=6.0, alpha=0.5, window_minutes=10)
    sink = _Collect()
    worker = EventWorker(
        audit=_NoAudit(), signals=sink, monitor=VolumeMonitor.on_file(tmp_path / "s.sqlite", cfg), clock=lambda: now[0]
    )
    for minute in range(1000, 1006):  # quiet: 2 requests a minute
        for _ in range(2):
            worker.submit(_exchange(minute * 60.0 + 1))
    for _ in range(40):  # then a burst
        worker.submit(_exchange(1006 * 60.0 + 1))
    worker.drain()  # everything counted before the clock moves past the burst's minute
    now[0] = 1008 * 60.0 + 30
    worker.submit(_exchange(1008 * 60.0 + 2))  # wakes the thread; evaluation runs after it
    worker.drain()
    # One signal per series for the burst's minute (requests, prompt and response bytes rose: was one per metric).
    assert sorted((s.kind.value, s.details["series"], s.details["minute_start_unix"]) for s in sink.signals) == [
        ("volume-anomaly", "edge:DE/fra1", 1006 * 60),
        ("volume-anomaly", "key:storefront", 1006 * 60),
    ]
    worker.close()
