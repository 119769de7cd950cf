"""Delivery through the outbox to a real SMTP server on 127.0.0.1: approval, retries, dead letters, leases."""

from __future__ import annotations

from datetime import timedelta

import pytest

from leakline.notify import outbox, service
from leakline.notify.errors import ApprovalRequired, InvalidCommunicationState
from leakline.notify.worker import PassReport
from tests.notify.helpers import T0, comms, open_incident, outbox_rows, runtime, states, worker_pass
from tests.store.helpers import Env

INTERNAL = {
    ("internal-compliance", "Compliance on call", "smtp"),
    ("internal-compliance", "Dana Privacy", "smtp"),
}


def test_internal_alerts_go_out_at_once_with_the_idempotency_key_as_message_id(env: Env) -> None:
    with runtime(env) as rt:
        incident = open_incident(rt)
        report = worker_pass(rt, T0)
        assert report == PassReport(sent=2)
        sent = {(c.kind, c.recipient, c.channel) for c in comms(rt, incident) if c.state == "sent"}
        assert sent == INTERNAL
        by_to = {r.rcpt_tos[0]: r for r in env.smtp.received}
        assert set(by_to) == {"compliance@acme.example", "dpo@acme.example"}
        for comm in comms(rt, incident):
            if comm.state == "sent":
                message = by_to[comm.to].message
                assert message["Message-ID"] == f"<{comm.id}@leakline>"
                assert message["Subject"] == comm.subject
                assert message["X-Leakline-Incident"] == incident
                assert message.get_content().replace("\r\n", "\n").strip() == comm.body.strip()
                assert comm.ack_due_at == T0 + timedelta(minutes=15)
        assert states(rt, incident)[("supervisory-authority", "supervisory-authority", "smtp")] == "draft"


def test_authority_notice_needs_approval_who_and_when(env: Env) -> None:
    with runtime(env) as rt:
        incident = open_incident(rt)
        notice = next(c for c in comms(rt, incident) if c.kind == "supervisory-authority")
        with rt.store.transaction() as session, pytest.raises(ApprovalRequired) as caught:
            service.send(
                session, recorder=rt.recorder, incident_id=incident, communication_id=notice.id, by="x", now=T0
            )
        assert caught.value.message == f"{notice.id} (supervisory-authority) needs approval before it is sent"
        worker_pass(rt, T0)
        assert "breach-reports@authority.example" not in {r.rcpt_tos[0] for r in env.smtp.received}
        approved_at = T0 + timedelta(minutes=5)
        with rt.store.transaction() as session:
            service.approve(
                session,
                recorder=rt.recorder,
                incident_id=incident,
                communication_id=notice.id,
                by="Dana Privacy",
                now=approved_at,
            )
        with rt.store.transaction() as session:
            service.send(
                session,
                recorder=rt.recorder,
                incident_id=incident,
                communication_id=None,
                by="Dana Privacy",
                now=approved_at,
            )
        assert worker_pass(rt, approved_at) == PassReport(sent=1)
        final = next(c for c in comms(rt, incident) if c.id == notice.id)
        assert (final.state, final.approved_by, final.approved_at) == ("sent", "Dana Privacy", approved_at)
        received = [r for r in env.smtp.received if r.rcpt_tos == ["breach-reports@authority.example"]]
        assert [r.message["Message-ID"] for r in received] == [f"<{notice.id}@leakline>"]
        with rt.store.transaction() as session, pytest.raises(InvalidCommunicationState):
            service.approve(
                session,
                recorder=rt.recorder,
                incident_id=incident,
                communication_id=notice.id,
                by="again",
                now=approved_at,
            )


def test_smtp_down_for_a_while_then_every_message_is_delivered_once(env: Env) -> None:
    env.smtp.stop()
    with runtime(env) as rt:
        incidents = [open_incident(rt) for _ in range(3)]
        assert worker_pass(rt, T0) == PassReport(retried=6)
        assert {row.state for row in outbox_rows(rt)} == {"pending"}
        assert {row.next_attempt_at for row in outbox_rows(rt)} == {T0 + timedelta(seconds=10)}
        # Not due yet: nothing is tried before the backoff ends.
        assert worker_pass(rt, T0 + timedelta(seconds=5)) == PassReport()
        env.smtp.start()
        assert worker_pass(rt, T0 + timedelta(seconds=10)) == PassReport(sent=6)
        expected = {f"<{c.id}@leakline>" for i in incidents for c in comms(rt, i) if c.kind == "internal-compliance"}
        assert sorted(env.smtp.message_ids()) == sorted(expected)
        assert {(row.state, row.attempts) for row in outbox_rows(rt)} == {("sent", 2)}
        assert worker_pass(rt, T0 + timedelta(minutes=10)) == PassReport()


def test_worker_killed_between_send_and_mark_sent_redelivers_with_the_same_message_id(env: Env) -> None:
    import asyncio

    import aiohttp

    from leakline.notify.channels import build_channels

    with runtime(env) as rt:
        open_incident(rt)
        lease = timedelta(seconds=rt.settings.channels.lease_seconds)
        with rt.store.transaction() as session:
            claimed = outbox.claim(session, owner="doomed", now=T0, lease=lease, limit=10)
        assert len(claimed) == 2

        async def send_then_die() -> None:
            async with aiohttp.ClientSession() as http:
                channel = build_channels(rt.settings, http)["smtp"]
                for item in claimed:
                    await channel.deliver(item.message)
            # the process dies here: mark_sent never runs

        asyncio.run(send_then_die())
        first = sorted(env.smtp.message_ids())
        assert worker_pass(rt, T0 + lease - timedelta(seconds=1), owner="heir") == PassReport()
        assert worker_pass(rt, T0 + lease, owner="heir") == PassReport(sent=2)
        ids = env.smtp.message_ids()
        assert sorted(ids) == sorted(first * 2)
        assert {(r.state, r.attempts, r.lease_owner) for r in outbox_rows(rt)} == {("sent", 2, "heir")}
        # The dead worker's late mark is fenced off: the heir owns the rows now.
        with rt.store.transaction() as session:
            assert [
                outbox.mark_sent(session, recorder=rt.recorder, claimed=c, now=T0, ack_after=None) for c in claimed
            ] == [False, False]


def test_dead_letter_after_max_attempts_raises_one_alert(env: Env) -> None:
    env.smtp.stop()
    with runtime(env) as rt:
        incident = open_incident(rt)
        moments = [T0, T0 + timedelta(seconds=10), T0 + timedelta(seconds=30)]
        reports = [worker_pass(rt, moment) for moment in moments]
        assert reports[:2] == [PassReport(retried=2), PassReport(retried=2)]
        # Third attempt fails for good: both dead-lettered; per dead letter one alert per compliance contact,
        # tried in the same pass (SMTP is still down) and left for retry.
        assert reports[2] == PassReport(retried=4, dead=2)
        items = comms(rt, incident)
        assert {(c.kind, c.recipient, c.state) for c in items if not c.is_alert} == {
            ("supervisory-authority", "supervisory-authority", "draft"),
            ("internal-compliance", "Compliance on call", "failed"),
            ("internal-compliance", "Dana Privacy", "failed"),
        }
        alerts = sorted((c.kind, c.recipient, c.state) for c in items if c.is_alert)
        assert alerts == sorted(
            [("internal-compliance", "Compliance on call", "queued"), ("internal-compliance", "Dana Privacy", "queued")]
            * 2
        )
        # Each alert says which message failed and how to queue it again (the organisation is German).
        failed = [c for c in items if not c.is_alert and c.state == "failed"]
        wanted = sorted(
            (f"ZUSTELLUNG FEHLGESCHLAGEN: internal-compliance an {c.recipient} über smtp – {incident}", c.id)
            for c in failed
            for _ in range(2)
        )
        said = []
        for alert in (c for c in items if c.is_alert):
            command = next(line.strip() for line in alert.body.split("\n") if "leakline incident send" in line)
            said.append((alert.subject.split("] ", 1)[1], command.rsplit(" ", 1)[1]))
            assert command == f"leakline incident send {incident} {command.rsplit(' ', 1)[1]}"
        assert sorted(said) == wanted
        events = [row for row in outbox_rows(rt) if row.state == "dead"]
        assert [row.last_error.split(":")[0] for row in events] == ["smtp 127.0.0.1", "smtp 127.0.0.1"]
        later = [worker_pass(rt, T0 + timedelta(minutes=m)) for m in (5, 10, 20)]
        # An alert's own dead letter raises no further alert.
        assert later == [PassReport(retried=4), PassReport(dead=4), PassReport()]
        assert len([c for c in comms(rt, incident) if c.is_alert]) == 4
        assert {c.state for c in comms(rt, incident) if c.is_alert} == {"failed"}


def test_lease_takeover_after_expiry(env: Env) -> None:
    with runtime(env) as rt:
        open_incident(rt)
        lease = timedelta(seconds=30)
        with rt.store.transaction() as session:
            first = outbox.claim(session, owner="a", now=T0, lease=lease, limit=10)
        with rt.store.transaction() as session:
            assert outbox.claim(session, owner="b", now=T0 + timedelta(seconds=29), lease=lease, limit=10) == []
        with rt.store.transaction() as session:
            second = outbox.claim(session, owner="b", now=T0 + lease, lease=lease, limit=10)
        assert sorted(c.outbox_id for c in second) == sorted(c.outbox_id for c in first)
        assert {c.message.idempotency_key for c in second} == {c.message.idempotency_key for c in first}
        assert {c.attempt for c in second} == {2}


def test_two_workers_never_claim_the_same_message(env: Env) -> None:
    """On PostgreSQL by FOR UPDATE SKIP LOCKED; on SQLite because claims are BEGIN IMMEDIATE transactions."""
    import threading

    with runtime(env) as rt:
        for _ in range(20):
            open_incident(rt)  # 40 internal alerts queued
        lease = timedelta(seconds=60)
        claims: dict[str, list[int]] = {"a": [], "b": []}
        barrier = threading.Barrier(2)

        def claimer(owner: str) -> None:
            barrier.wait()
            while True:
                with rt.store.transaction() as session:
                    got = outbox.claim(session, owner=owner, now=T0, lease=lease, limit=2)
                if not got:
                    return
                claims[owner] += [c.outbox_id for c in got]

        threads = [threading.Thread(target=claimer, args=(owner,)) for owner in claims]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        all_ids = sorted(row.id for row in outbox_rows(rt))
        assert len(all_ids) == 40
        assert set(claims["a"]).isdisjoint(claims["b"])
        assert sorted(claims["a"] + claims["b"]) == all_ids
        owners = {row.id: row.lease_owner for row in outbox_rows(rt)}
        assert all(owners[i] == "a" for i in claims["a"])
        assert all(owners[i] == "b" for i in claims["b"])


# SQLite only: a process start costs seconds here, and what a kill leaves behind (a leased row) is
# taken over on PostgreSQL by the same claim query that test_lease_takeover_after_expiry runs on both.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_worker_process_killed_after_the_server_has_the_message_redelivers_it(env: Env) -> None:
    """A real `leakline worker` process, SIGKILLed while the SMTP server holds the data it sent."""
    import signal
    import subprocess
    import sys
    import time

    from tests.store.helpers import write_config

    write_config(
        env.directory,
        db_url=env.db_url,
        smtp_port=env.smtp.port,
        channels="max_attempts = 3\nbackoff_seconds = 10\nlease_seconds = 1\n",
    )
    with runtime(env) as rt:
        open_incident(rt)
        env.smtp.gate.clear()
        worker = subprocess.Popen(
            [
                sys.executable,
                "-c",
                "from leakline.cli import main; main()",
                "worker",
                "--once",
                "--config",
                str(env.config),
            ],
            cwd=env.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            deadline = time.monotonic() + 60
            while len(env.smtp.message_ids()) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert len(env.smtp.message_ids()) == 2
            worker.send_signal(signal.SIGKILL)
            worker.wait(timeout=30)
        finally:
            if worker.poll() is None:
                worker.kill()
            env.smtp.gate.set()
        first = sorted(env.smtp.message_ids())
        assert {(r.state, r.attempts) for r in outbox_rows(rt)} == {("leased", 1)}
        time.sleep(1.1)  # the dead worker's lease runs out
        from datetime import UTC, datetime

        assert worker_pass(rt, datetime.now(UTC), owner="heir") == PassReport(sent=2)
        assert sorted(env.smtp.message_ids()) == sorted(first * 2)
        assert {(r.state, r.attempts, r.lease_owner) for r in outbox_rows(rt)} == {("sent", 2, "heir")}
