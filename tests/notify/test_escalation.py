"""Escalation of unacknowledged alerts along `[escalation] chain`, deadline reminders and overdue escalation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from leakline.notify import service
from leakline.notify.worker import PassReport
from tests.incidents.helpers import FACTS
from tests.notify.helpers import T0, comms, open_incident, runtime, worker_pass
from tests.store.helpers import Env, write_config

CHAIN = 'chain = ["Compliance on call", "Dana Privacy"]\n'


def _timeline(rt, incident_id):  # type: ignore[no-untyped-def]
    from leakline.incidents.service import incident_document

    with rt.store.transaction() as session:
        return incident_document(session, incident_id=incident_id)["timeline"]


def test_unacknowledged_alert_goes_to_the_next_contact_once(env: Env) -> None:
    with runtime(env) as rt:
        incident = open_incident(rt)
        assert worker_pass(rt, T0) == PassReport(sent=2)
        assert worker_pass(rt, T0 + timedelta(minutes=14)) == PassReport()
        # Compliance on call → Dana Privacy; Dana Privacy is last in the chain → nobody left.
        assert worker_pass(rt, T0 + timedelta(minutes=15)) == PassReport(sent=1, escalations=2)
        escalated = [c for c in comms(rt, incident) if c.escalation_level == 1]
        assert [(c.kind, c.recipient, c.to, c.state) for c in escalated] == [
            ("internal-compliance", "Dana Privacy", "dpo@acme.example", "sent")
        ]
        details = [t["detail"] for t in _timeline(rt, incident) if t["event"].startswith("escalation")]
        assert details == [
            "internal-compliance to Compliance on call not acknowledged within 15 min; escalated to Dana Privacy",
            "internal-compliance to Dana Privacy not acknowledged; nobody left in [escalation] chain",
        ]
        assert worker_pass(rt, T0 + timedelta(minutes=16)) == PassReport()
        assert [r.rcpt_tos for r in env.smtp.received].count(["dpo@acme.example"]) == 2


def test_acknowledged_alert_does_not_escalate(env: Env) -> None:
    with runtime(env) as rt:
        incident = open_incident(rt)
        worker_pass(rt, T0)
        first = next(c for c in comms(rt, incident) if c.recipient == "Compliance on call")
        with rt.store.transaction() as session:
            acked = service.ack(
                session,
                recorder=rt.recorder,
                incident_id=incident,
                communication_id=first.id,
                by="Sam",
                now=T0 + timedelta(minutes=3),
            )
        assert [c.id for c in acked] == [first.id]
        assert worker_pass(rt, T0 + timedelta(minutes=15)) == PassReport(escalations=1)
        states = {
            (c.recipient, c.escalation_level): (c.state, c.acked_by)
            for c in comms(rt, incident)
            if c.kind == "internal-compliance"
        }
        assert states == {("Compliance on call", 0): ("acked", "Sam"), ("Dana Privacy", 0): ("sent", None)}


def test_deadline_reminders_then_overdue_escalation(env: Env) -> None:
    write_config(
        env.directory,
        db_url=env.db_url,
        smtp_port=env.smtp.port,
        escalation="ack_minutes = 100000\n" + CHAIN + "reminder_hours = [48, 24, 6]\n",
    )
    facts = dict(FACTS, aware_at=(T0 - timedelta(hours=24)).isoformat())
    with runtime(env) as rt:
        incident = open_incident(rt, facts=facts)
        due = T0 + timedelta(hours=48)
        obligation = next(o for o in rt_assessment(rt, incident) if o["recipient"] == "supervisory-authority")
        assert obligation["due_at"] == due.isoformat().replace("+00:00", "Z")
        # 48 h before due: one reminder to each compliance contact (compliance and DPO), once.
        assert worker_pass(rt, T0) == PassReport(sent=4, reminders=1)
        assert worker_pass(rt, T0 + timedelta(hours=1)) == PassReport()
        # 5 h before due: the 24 h and 6 h offsets have both passed: one reminder (6 h), not two.
        assert worker_pass(rt, due - timedelta(hours=5)) == PassReport(sent=2, reminders=1)
        assert worker_pass(rt, due - timedelta(hours=1)) == PassReport()
        assert worker_pass(rt, due + timedelta(minutes=1)) == PassReport(sent=2, reminders=1)
        assert worker_pass(rt, due + timedelta(hours=2)) == PassReport()
        events = [
            t["detail"].split(":")[0] for t in _timeline(rt, incident) if t["event"] in ("reminder", "escalation")
        ]
        assert events == ["reminder", "reminder", "overdue"]
        reminders = [c for c in comms(rt, incident) if c.obligation_key and c.kind == "internal-compliance"]
        assert {c.regime for c in reminders} == {"gdpr-33"}
        assert sorted(c.recipient for c in reminders) == sorted(["Compliance on call", "Dana Privacy"] * 3)


def _notice_queued_a_minute_before_t0(rt, aware_hours_before_t0: int, **data) -> str:  # type: ignore[no-untyped-def]
    """An incident whose authority notice Dana approved and queued at T0 - 1 min; its id. `data` adds facts
    fields under `data` (with the number of records and where the people live, the notice is complete)."""
    facts = dict(FACTS, aware_at=(T0 - timedelta(hours=aware_hours_before_t0)).isoformat())
    facts["data"] = {**FACTS["data"], **data}
    incident = open_incident(rt, facts=facts, now=T0 - timedelta(minutes=2))
    notice = next(c for c in comms(rt, incident) if c.kind == "supervisory-authority")
    with rt.store.transaction() as session:
        for step in (service.approve, service.send):
            step(  # type: ignore[operator]
                session,
                recorder=rt.recorder,
                incident_id=incident,
                communication_id=notice.id,
                by="Dana",
                now=T0 - timedelta(minutes=1),
            )
    return incident


def test_no_reminders_once_the_notice_is_sent(env: Env) -> None:
    write_config(env.directory, db_url=env.db_url, smtp_port=env.smtp.port, escalation="ack_minutes = 100000\n" + CHAIN)
    with runtime(env) as rt:
        # A complete notice: an initial notice that says information will follow is reminded until its
        # supplement is delivered (test_supplement_reminders.py).
        _notice_queued_a_minute_before_t0(rt, 24, records=100, subjects_by_jurisdiction={"DE": 100})
        assert worker_pass(rt, T0 - timedelta(seconds=30)) == PassReport(sent=3)
        assert worker_pass(rt, T0 + timedelta(hours=47)) == PassReport()


def rt_assessment(rt, incident_id):  # type: ignore[no-untyped-def]
    from leakline.incidents.models import Incident

    with rt.store.transaction() as session:
        found = session.get(Incident, incident_id)
        assert found is not None and found.assessment is not None
        return found.assessment["obligations"]


def test_a_broken_reminder_template_does_not_hold_back_deliveries(env: Env, cli) -> None:  # type: ignore[no-untyped-def]
    import json

    from tests.incidents.helpers import audit_kinds, facts_file

    messages = env.directory / "messages"
    (messages / "de").mkdir(parents=True)
    config = write_config(
        env.directory,
        db_url=env.db_url,
        smtp_port=env.smtp.port,
        escalation="ack_minutes = 100000\n" + CHAIN,
        extra='[notify]\ntemplates = "messages"\n',
    )
    # Awareness 71 h ago: the GDPR notice is due within the hour, so the worker's scan drafts reminders.
    aware = (datetime.now(UTC) - timedelta(hours=71)).replace(microsecond=0)
    facts = facts_file(env.directory, aware_at=aware.isoformat())
    # A mistake only reminders reach: they are the internal alerts that carry an obligation.
    broken = messages / "de" / "internal-compliance.j2"
    broken.write_text(
        '{% extends "builtin/de/internal-compliance.j2" %}\n'
        "{% block subject %}{% if obligation %}{{ obligation.nothing_here }}{% endif %}{{ super() }}{% endblock %}\n",
        encoding="utf-8",
    )
    code, out, err = cli("incident", "open", "--facts", str(facts), "--config", str(config), "--format", "json")
    assert code == 0, err
    incident = json.loads(out)["id"]
    code, out, err = cli("worker", "--once", "--config", str(config))
    # The alerts drafted when the incident opened were rendered then: they go out; the failing reminder
    # is named (file, line, key) and the exit status says something is wrong.
    assert code == 2, (out, err)
    assert json.loads(out) == {"sent": 2, "retried": 0, "dead": 0, "lost_leases": 0, "escalations": 0, "reminders": 0}
    assert err == f"{broken.resolve()}: line 2: the context has no key 'obligation.nothing_here'"
    assert sorted(r.rcpt_tos[0] for r in env.smtp.received) == ["compliance@acme.example", "dpo@acme.example"]
    with runtime(env) as rt:
        assert {c.state for c in comms(rt, incident) if c.kind == "internal-compliance"} == {"sent"}
        assert [t for t in _timeline(rt, incident) if t["event"] == "reminder"] == []
    # The audit log is appended to as a transaction goes: the reminder that was not sent left no record.
    assert "incident.reminder" not in audit_kinds(env.directory / "audit")
    code, out, err = cli("worker", "--once", "--config", str(config))
    assert (code, json.loads(out)["sent"]) == (2, 0)


def test_a_notice_queued_just_before_the_pass_is_delivered_before_deadlines_are_checked(env: Env) -> None:
    # The notice was approved and queued; the worker's next pass must not call it overdue to the whole chain
    # just because it checked deadlines before delivering.
    write_config(env.directory, db_url=env.db_url, smtp_port=env.smtp.port, escalation="ack_minutes = 100000\n" + CHAIN)
    with runtime(env) as rt:
        incident = _notice_queued_a_minute_before_t0(rt, 73)
        assert worker_pass(rt, T0) == PassReport(sent=3)
        assert [t["event"] for t in _timeline(rt, incident) if t["event"] in ("reminder", "escalation")] == []
