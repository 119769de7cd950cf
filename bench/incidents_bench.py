"""Benchmark: a signal in → the internal alert accepted by a local SMTP server, at 1,000 signals/minute.

    python bench/incidents_bench.py [--signals 300] [--rate 1000] [--poll 0.05] [--db sqlite|URL]

Side by side in this process, against one aiosmtpd server on 127.0.0.1 (which stamps the time it
accepts each message's DATA):

- leakline: `receive()` records the signal (SQLite by default, or `--db` a PostgreSQL URL): incident,
  provisional facts, obligations (`assess`), drafted messages, one outbox row, timeline and audit log
  records, all in one transaction; a `leakline worker` loop (poll interval `--poll`) in a thread
  claims the outbox row, renders nothing more, delivers over SMTP and marks it sent.
- baseline: the least any alerting path must do: build the same e-mail and hand it to the same SMTP
  server synchronously with smtplib, no store, no outbox, no retries.

Signals arrive at a fixed rate (`--rate` per minute, every signal with a new fingerprint, so each
opens an incident and sends one alert). Latency is from just before the signal is handed over to the
moment the SMTP server accepted the message. Reported: p50, p99, max for both, and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import smtplib
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from email.message import EmailMessage
from email.parser import BytesHeaderParser
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))


INGEST: list[float] = []
"""How long `receive()` itself took per signal (the synchronous part a gateway waits for)."""


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Receiver:
    """aiosmtpd handler: perf_counter() at DATA per X-Leakline-Incident (or X-Bench-Id) header."""

    def __init__(self) -> None:
        self.accepted: dict[str, float] = {}
        self.lock = threading.Lock()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        now = time.perf_counter()
        headers = BytesHeaderParser().parsebytes(envelope.content)
        key = headers.get("X-Leakline-Incident") or headers.get("X-Bench-Id") or ""
        with self.lock:
            self.accepted[str(key)] = now
        return "250 OK"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


def write_config(directory: Path, smtp_port: int, db_url: str) -> Path:
    from leakline.audit.keys import generate_key_file

    generate_key_file(directory / "audit.key")
    config = directory / "leakline.toml"
    config.write_text(
        f"""
[organisation]
name = "Bench Shop GmbH"
establishments = ["DE"]
[database]
url = "{db_url}"
[audit]
path = "audit"
key = "audit.key"
[channels.smtp]
host = "127.0.0.1"
port = {smtp_port}
starttls = false
sender = "incidents@bench.example"
[[contacts]]
name = "Compliance on call"
role = "compliance"
email = "compliance@bench.example"
[escalation]
ack_minutes = 100000
""",
        encoding="utf-8",
    )
    return config


def signal_for(index: int) -> Any:
    from leakline.signals import Signal

    return Signal.model_validate(
        {
            "id": f"sig_bench_{index}",
            "kind": "leak-caught",
            "source": "gateway:eu",
            "severity": "high",
            "fingerprint": f"bench:{index}",
            "data_categories": ["contact"],
            "subjects_estimate": 1,
            "summary": "e-mail address in a chat answer (b…@…com)",
        }
    )


def run_leakline(config: Path, receiver: Receiver, *, count: int, interval: float, poll: float) -> list[float]:
    from leakline.config import load_settings
    from leakline.incidents.ingest import receive
    from leakline.incidents.runtime import start
    from leakline.notify.worker import run

    rt = start(load_settings(config))
    stop = asyncio.Event()
    loop = asyncio.new_event_loop()

    def worker() -> None:
        asyncio.set_event_loop(loop)
        loop.run_until_complete(
            run(rt.store, rt.settings, recorder=rt.recorder, once=False, poll_seconds=poll, stop=stop)
        )

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    handed: dict[str, float] = {}
    start_at = time.perf_counter()
    for index in range(count):
        target = start_at + index * interval
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        signal = signal_for(index)
        t0 = time.perf_counter()
        accepted = receive(rt, signal, now=datetime.now(UTC))
        INGEST.append(time.perf_counter() - t0)
        handed[accepted.incident_id] = t0
    deadline = time.perf_counter() + 30
    while time.perf_counter() < deadline:
        with receiver.lock:
            if all(key in receiver.accepted for key in handed):
                break
        time.sleep(0.01)
    loop.call_soon_threadsafe(stop.set)
    thread.join(timeout=10)
    rt.recorder.close()
    missing = [key for key in handed if key not in receiver.accepted]
    if missing:
        raise SystemExit(f"leakline: {len(missing)} alerts never reached the SMTP server")
    return [receiver.accepted[key] - t0 for key, t0 in handed.items()]


def run_baseline(port: int, receiver: Receiver, *, count: int, interval: float) -> list[float]:
    latencies = []
    start_at = time.perf_counter()
    for index in range(count):
        target = start_at + index * interval
        delay = target - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        key = f"base_{index}"
        t0 = time.perf_counter()
        message = EmailMessage()
        message["From"] = "incidents@bench.example"
        message["To"] = "compliance@bench.example"
        message["Subject"] = "Leak caught"
        message["X-Bench-Id"] = key
        message.set_content("e-mail address in a chat answer (b…@…com)")
        with smtplib.SMTP("127.0.0.1", port, timeout=10) as client:
            client.send_message(message)
        with receiver.lock:
            latencies.append(receiver.accepted[key] - t0)
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=300)
    parser.add_argument("--rate", type=float, default=1000.0, help="signals per minute")
    parser.add_argument("--poll", type=float, default=0.05, help="worker poll interval, seconds")
    parser.add_argument("--db", default="sqlite", help="sqlite, or a postgresql+psycopg:// URL")
    args = parser.parse_args()

    from aiosmtpd.controller import Controller

    receiver = Receiver()
    port = free_port()
    controller = Controller(receiver, hostname="127.0.0.1", port=port)
    controller.start()
    interval = 60.0 / args.rate
    try:
        with tempfile.TemporaryDirectory(prefix="leakline-bench-") as tmp:
            directory = Path(tmp)
            db_url = f"sqlite:///{directory / 'leakline.db'}" if args.db == "sqlite" else args.db
            config = write_config(directory, port, db_url)
            ours = run_leakline(config, receiver, count=args.signals, interval=interval, poll=args.poll)
        base = run_baseline(port, receiver, count=args.signals, interval=interval)
    finally:
        controller.stop()

    def row(name: str, values: list[float]) -> tuple[str, float, float, float, float]:
        ms = [v * 1000 for v in values]
        return name, percentile(ms, 0.5), percentile(ms, 0.99), max(ms), statistics.fmean(ms)

    print(f"{args.signals} signals at {args.rate:g}/min, worker poll {args.poll * 1000:g} ms, database {args.db}")
    print(f"{'':10} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9} {'mean ms':>9}")
    rows = [row("leakline", ours), row("baseline", base)]
    _, i50, i99, imax, imean = row("ingest", INGEST)
    print(f"{'ingest':10} {i50:9.2f} {i99:9.2f} {imax:9.2f} {imean:9.2f}   (receive() alone, part of leakline)")
    for name, p50, p99, peak, mean in rows:
        print(f"{name:10} {p50:9.2f} {p99:9.2f} {peak:9.2f} {mean:9.2f}")
    (_, p50_a, p99_a, _, _), (_, p50_b, p99_b, _, _) = rows
    print(f"ratio leakline/baseline: p50 {p50_a / p50_b:.1f}x, p99 {p99_a / p99_b:.1f}x")


if __name__ == "__main__":
    main()
