"""The gateway's event thread: bounded queue, order, batches, drain and close, and the audit commit
schedule it sets for the gateway's sinks."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from leakline.config import parse_settings
from leakline.guard import events as events_module
from leakline.guard.build import default_events
from leakline.guard.events import EventWorker, Exchange
from tests.guard.test_gateway_signals import _Collect


class _GatedAudit:
    """Records appends; the first one waits until the test opens the gate (a disk that stalls)."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.threads: set[str] = set()
        self.entered = threading.Event()
        self.gate = threading.Event()
        self.flushes = 0

    def append(self, **kwargs: Any) -> int:
        self.entered.set()
        self.gate.wait(10)
        self.threads.add(threading.current_thread().name)
        self.records.append(kwargs)
        return len(self.records) - 1

    def flush(self) -> None:
        self.flushes += 1

    def close(self) -> None:
        return None


def _exchange(n: int) -> Exchange:
    return Exchange(
        route="/v1/chat/completions", client="storefront", region="eu", country="DE", pop="fra1", model="m",
        status=200, stream=False, prompt={"n": n}, response_text=f"answer {n}", upstream_text=f"answer {n}",
        prompt_bytes=10, response_bytes=20, scanned_bytes=20,
    )  # fmt: skip


def test_a_full_queue_counts_what_it_drops_and_keeps_everything_queued(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "QUEUE_SIZE", 5)
    audit = _GatedAudit()
    worker = EventWorker(audit=audit, signals=_Collect(), monitor=None)
    worker.submit(_exchange(0))
    assert audit.entered.wait(5)  # the thread holds exchange 0 and waits for the disk
    for n in range(1, 8):
        worker.submit(_exchange(n))
    assert worker.dropped == 2  # 1-5 fill the queue; 6 and 7 do not wait for the disk
    audit.gate.set()
    worker.drain()
    assert [r["payload"]["prompt"]["n"] for r in audit.records] == [0, 1, 2, 3, 4, 5]
    assert audit.threads == {"leakline-guard-events"}
    worker.close()


def test_events_are_handled_in_order_and_drain_flushes_the_audit_log() -> None:
    audit = _GatedAudit()
    audit.gate.set()
    worker = EventWorker(audit=audit, signals=_Collect(), monitor=None)
    for n in range(200):
        worker.submit(_exchange(n))
    worker.drain()
    assert [r["payload"]["prompt"]["n"] for r in audit.records] == list(range(200))
    assert audit.flushes >= 1
    flushes = audit.flushes
    worker.drain()  # nothing new: still a flush, so drain() always means "on disk now"
    assert audit.flushes == flushes + 1
    worker.close()


def test_close_handles_what_was_queued_before_it() -> None:
    audit = _GatedAudit()
    worker = EventWorker(audit=audit, signals=_Collect(), monitor=None)
    worker.submit(_exchange(0))
    assert audit.entered.wait(5)
    for n in range(1, 4):
        worker.submit(_exchange(n))
    audit.gate.set()
    worker.close()
    assert [r["payload"]["prompt"]["n"] for r in audit.records] == [0, 1, 2, 3]


def test_a_failing_event_is_counted_and_the_thread_goes_on() -> None:
    class _Failing(_GatedAudit):
        def append(self, **kwargs: Any) -> int:
            if kwargs["payload"]["prompt"]["n"] == 1:
                raise OSError("disk full")
            return super().append(**kwargs)

    audit = _Failing()
    audit.gate.set()
    worker = EventWorker(audit=audit, signals=_Collect(), monitor=None)
    for n in range(3):
        worker.submit(_exchange(n))
    worker.drain()
    assert worker.failures == 1
    assert [r["payload"]["prompt"]["n"] for r in audit.records] == [0, 2]
    worker.close()


def _settings(tmp_path: Path, audit: dict[str, Any]) -> Any:
    from leakline.audit.keys import generate_key_file

    generate_key_file(tmp_path / "audit.key")
    data = {
        "regions": {"eu": {"upstream": "http://127.0.0.1:9/v1", "countries": ["DE"]}},
        "audit": {"path": str(tmp_path / "audit"), "key": str(tmp_path / "audit.key"), **audit},
        "gateway": {"anomalies": {"enabled": False}},
    }
    return parse_settings(data, source=str(tmp_path / "leakline.toml"))


@pytest.mark.parametrize(
    ("audit", "mode", "group_commit_ms"),
    [
        ({}, "group", 200),  # the default 5 ms: the event thread's 200 ms flush is the schedule
        ({"group_commit_ms": 50}, "group", 200),
        ({"group_commit_ms": 1000}, "group", 1000),  # a longer setting is kept
        ({"commit": "record"}, "record", 200),  # record mode fsyncs every append regardless
    ],
)
def test_the_gateway_commits_its_audit_on_the_event_threads_schedule(
    tmp_path: Path, audit: dict[str, Any], mode: str, group_commit_ms: int
) -> None:
    worker = default_events(_settings(tmp_path, audit))
    policy = worker._audit.policy
    assert (policy.mode, policy.group_commit_ms) == (mode, group_commit_ms)
    worker.close()


def test_a_signal_the_incident_engine_cannot_take_is_logged_without_a_traceback_and_still_audited(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from leakline.findings import Severity
    from leakline.guard.signals_out import InProcessSignalSink
    from leakline.signals import Signal, SignalKind

    settings = _settings(tmp_path, {})
    settings = settings.model_copy(
        update={"database": settings.database.model_copy(update={"url": "mysql://user@db.internal/leakline"})}
    )
    audit = _GatedAudit()
    audit.gate.set()
    worker = EventWorker(audit=audit, signals=InProcessSignalSink(settings), monitor=None)
    signal = Signal(
        kind=SignalKind.RESIDENCY_VIOLATION, source="gateway", severity=Severity.MEDIUM, fingerprint="f",
        summary="request refused by residency policy regions.countries (country JP)",
    )  # fmt: skip
    with caplog.at_level("WARNING", logger="leakline.guard"):
        worker.submit(signal)
        worker.drain()
    worker.close()
    assert worker.failures == 1
    assert [(r["kind"], r["meta"]["signal"]["id"]) for r in audit.records] == [("gateway.signal", signal.id)]
    logged = [(r.levelname, r.getMessage(), r.exc_info) for r in caplog.records if r.name == "leakline.guard"]
    assert logged == [
        (
            "ERROR",
            f"signal {signal.id} not delivered: the incident engine cannot take it: database.url: unsupported "
            "database 'mysql'; expected sqlite or postgresql; kept to retry every 5 s (1 waiting)",
            None,
        ),
        (
            "ERROR",
            "1 signal(s) not delivered when the gateway stopped; each is in the audit log (kind gateway.signal)",
            None,
        ),
    ]


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def test_a_signal_not_delivered_is_retried_once_the_database_is_back_and_delivered_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from leakline.findings import Severity
    from leakline.guard.signals_out import InProcessSignalSink
    from leakline.incidents import service
    from leakline.signals import Signal, SignalKind
    from leakline.store.engine import forget_store, open_store

    settings = _settings(tmp_path, {})
    folder = tmp_path / "db"  # missing: SQLite cannot open the file (a database that is down)
    url = f"sqlite:///{folder / 'leakline.db'}"
    settings = settings.model_copy(update={"database": settings.database.model_copy(update={"url": url})})
    audit = _GatedAudit()
    audit.gate.set()
    clock = _Clock()
    worker = EventWorker(audit=audit, signals=InProcessSignalSink(settings), monitor=None, clock=clock)
    signals = [
        Signal(
            kind=SignalKind.RESIDENCY_VIOLATION,
            source="gateway",
            severity=Severity.MEDIUM,
            fingerprint=f"f{n}",
            summary="request refused by residency policy regions.countries (country JP)",
        )
        for n in range(2)
    ]
    try:
        with caplog.at_level("INFO", logger="leakline.guard"):
            for signal in signals:
                worker.submit(signal)
            worker.drain()
            assert worker.undelivered == 2
            clock.now += events_module.RETRY_EVERY_SECONDS
            worker.drain()  # still down: kept, not logged again
            assert worker.undelivered == 2
            folder.mkdir()
            clock.now += events_module.RETRY_EVERY_SECONDS
            worker.drain()
            assert worker.undelivered == 0
            clock.now += events_module.RETRY_EVERY_SECONDS
            worker.drain()
    finally:
        worker.close()
    store = open_store(url)
    try:
        with store.transaction() as session:
            incidents = service.list_incidents(session, limit=10)
    finally:
        forget_store(url)
    assert sorted(i.signal_count for i in incidents) == [1, 1]  # each delivered once
    # Audited once each, when caught; the retries add no records.
    assert [r["meta"]["signal"]["id"] for r in audit.records] == [s.id for s in signals]
    logged = [(r.levelname, r.getMessage()) for r in caplog.records if r.name == "leakline.guard"]
    assert [level for level, _ in logged] == ["ERROR", "ERROR", "INFO"], logged
    assert logged[0][1].startswith(f"signal {signals[0].id} not delivered: the incident engine cannot take it: ")
    assert logged[0][1].endswith(f"; kept to retry every {events_module.RETRY_EVERY_SECONDS:g} s (1 waiting)")
    assert logged[1][1].endswith("(2 waiting)")
    assert logged[2][1] == "2 signal(s) delivered on retry"
