"""GDPR Art. 33(4) supplements after the deadline of the first phase: the information a delivered notice said
would follow is owed "without undue further delay", so it is reminded every `[escalation]
undue_delay_reminder_hours` after that notice was delivered while it is not in the facts or its supplement
is not delivered; and a supplement sent more than 72 hours after awareness is not a late notification (the
first phase was on time), so it asks for no reasons for a delay. Real store, worker and SMTP server."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from leakline.incidents import service as incidents
from leakline.incidents.runtime import Runtime
from leakline.notify import service
from leakline.notify.models import Communication
from leakline.notify.render import format_human, placeholders
from leakline.obligations import parse_facts
from tests.incidents.helpers import FACTS
from tests.notify.helpers import T0, comms, open_incident, runtime, worker_pass
from tests.store.helpers import Env, iter_env, write_config

# Aware half an hour before T0; neither the number of records nor where the people live is known, so the
# notice to the authority is an initial notification that says both will follow. No delay reasons: the
# first phase is made within 72 hours.
PHASE_1: dict[str, Any] = {k: v for k, v in FACTS.items() if k != "delay_reasons"}
PHASE_1["aware_at"] = (T0 - timedelta(minutes=30)).isoformat()
SENT = T0 + timedelta(minutes=5)


def _facts(**data: Any) -> dict[str, Any]:
    facts = copy.deepcopy(PHASE_1)
    facts["data"].update(data)
    return facts


@pytest.fixture
def shop(tmp_path: Path, db_url: str) -> Iterator[Env]:
    for env in iter_env(tmp_path, db_url):
        # The default reminder period (24 h) and no acknowledgement escalation in the way.
        write_config(tmp_path, db_url=db_url, smtp_port=env.smtp.port, escalation="ack_minutes = 100000\n")
        yield env


def _deliver(rt: Runtime, incident_id: str, comm_id: str, at: datetime) -> None:
    with rt.store.transaction() as session:
        service.approve(
            session, recorder=rt.recorder, incident_id=incident_id, communication_id=comm_id, by="Dana", now=at,
            settings=rt.settings,
        )  # fmt: skip
        service.record_delivery(
            session, recorder=rt.recorder, incident_id=incident_id, communication_id=comm_id, channel="portal",
            at=at, by="Dana", reference=None, ack_after=None, now=at, settings=rt.settings,
        )  # fmt: skip


def _amend(rt: Runtime, incident_id: str, facts: dict[str, Any], at: datetime) -> None:
    with rt.store.transaction() as session:
        incidents.amend_facts(
            session, rt.settings, recorder=rt.recorder, incident_id=incident_id,
            facts=parse_facts(facts, source="test"), actor="Dana", reason="test", now=at,
        )  # fmt: skip


def _first_phase(rt: Runtime) -> tuple[str, Communication]:
    incident_id = open_incident(rt, facts=PHASE_1)
    notice = next(c for c in comms(rt, incident_id) if c.regime == "gdpr-33")
    assert notice.subject.startswith("Erstmeldung einer Verletzung")
    _deliver(rt, incident_id, notice.id, SENT)
    return incident_id, notice


def _supplement_reminders(rt: Runtime, incident_id: str) -> list[str]:
    with rt.store.transaction() as session:
        timeline = incidents.incident_document(session, incident_id=incident_id)["timeline"]
    return [t["detail"] for t in timeline if t["event"] == "reminder"]


def _supplement(rt: Runtime, incident_id: str) -> Communication:
    (found,) = [c for c in comms(rt, incident_id) if c.regime == "gdpr-33" and c.escalation_level == 1]
    return found


def test_promised_information_and_an_undelivered_supplement_are_reminded_until_delivered(shop: Env) -> None:
    with runtime(shop) as rt:
        incident_id, notice = _first_phase(rt)
        worker_pass(rt, SENT + timedelta(hours=23))
        assert _supplement_reminders(rt, incident_id) == []
        # A day after the initial notice, nothing it promised is in the facts yet.
        worker_pass(rt, SENT + timedelta(hours=24, minutes=1))
        worker_pass(rt, SENT + timedelta(hours=25))  # the same period: no second reminder
        waiting = (
            f"reminder: gdpr-33 DE supervisory-authority: {notice.id} said records, jurisdictions would follow; "
            "not in the facts 24 h after it was delivered (GDPR Art. 33(4): without undue further delay)"
        )
        assert _supplement_reminders(rt, incident_id) == [waiting]
        alerts = [c for c in comms(rt, incident_id) if c.kind == "internal-compliance" and "Nachmeldung" in c.subject]
        sent = format_human(SENT.isoformat(), language="de")
        subject = (
            f"[RISIKO] Erinnerung: Nachmeldung gdpr-33 (DE) 24 Std. nach der Meldung vom {sent} nicht versandt "
            f"(ohne unangemessene weitere Verzögerung) – {incident_id}: Chat leak"
        )
        # Each compliance contact (compliance on call and the DPO), in the main establishment's language.
        assert sorted((c.recipient, c.subject) for c in alerts) == [
            ("Compliance on call", subject),
            ("Dana Privacy", subject),
        ]
        assert (
            f"Erinnerung: Unsere Meldung {notice.id} vom {sent} hat angekündigt, folgende Informationen "
            "nachzureichen; 24 Stunden später sind sie noch nicht erfasst:\n"
            "  - die Zahl der betroffenen personenbezogenen Datensätze\n"
            "  - wo die betroffenen Personen ansässig sind\n"
            "Das muss ohne unangemessene weitere Verzögerung geschehen (Art. 33 Abs. 4 DSGVO). Sobald sie bekannt "
            "sind, in die Fakten aufnehmen; das entwirft die Nachmeldung:\n"
            f"  leakline incident facts {incident_id} --facts DATEI\n"
        ) in alerts[0].body
        # The 72-hour deadline was met by the initial notice: the alert says so instead of "overdue".
        assert f"– mit der Meldung vom {sent} eingehalten; die Nachmeldung ist ohne unangemessene" in alerts[0].body
        # The facts now give them: the supplement is drafted, and reminded while it is not delivered.
        _amend(rt, incident_id, _facts(records=4000, subjects_by_jurisdiction={"DE": 100}), SENT + timedelta(hours=30))
        supplement = _supplement(rt, incident_id)
        assert supplement.state == "draft"
        worker_pass(rt, SENT + timedelta(hours=48, minutes=1))
        pending = (
            f"reminder: gdpr-33 DE supervisory-authority: supplement {supplement.id} not delivered (draft) 48 h "
            f"after {notice.id} was delivered (GDPR Art. 33(4): without undue further delay)"
        )
        assert _supplement_reminders(rt, incident_id) == [waiting, pending]
        latest = [c for c in comms(rt, incident_id) if c.kind == "internal-compliance" and "48 Std." in c.subject]
        assert sorted(c.recipient for c in latest) == ["Compliance on call", "Dana Privacy"]
        assert (
            f"Erinnerung: Die Nachmeldung {supplement.id} (Entwurf, noch nicht freigegeben) ist 48 Stunden nach "
            f"unserer Meldung {notice.id} vom {sent} noch nicht bei der Aufsichtsbehörde."
        ) in latest[0].body
        # Delivered: nothing is owed any more, and nothing is reminded.
        _deliver(rt, incident_id, supplement.id, SENT + timedelta(hours=49))
        worker_pass(rt, SENT + timedelta(hours=97))
        assert _supplement_reminders(rt, incident_id) == [waiting, pending]


def test_a_worker_down_for_days_sends_only_the_latest_supplement_reminder(shop: Env) -> None:
    with runtime(shop) as rt:
        incident_id, notice = _first_phase(rt)
        worker_pass(rt, SENT + timedelta(hours=72, minutes=1))
        assert _supplement_reminders(rt, incident_id) == [
            f"reminder: gdpr-33 DE supervisory-authority: {notice.id} said records, jurisdictions would follow; "
            "not in the facts 72 h after it was delivered (GDPR Art. 33(4): without undue further delay)"
        ]


def test_no_supplement_reminders_when_turned_off(tmp_path: Path, db_url: str) -> None:
    for env in iter_env(tmp_path, db_url):
        write_config(
            tmp_path,
            db_url=db_url,
            smtp_port=env.smtp.port,
            escalation="ack_minutes = 100000\nundue_delay_reminder_hours = 0\n",
        )
        with runtime(env) as rt:
            incident_id, _ = _first_phase(rt)
            worker_pass(rt, SENT + timedelta(hours=25))
            assert _supplement_reminders(rt, incident_id) == []


def test_a_supplement_after_72_hours_asks_no_reasons_for_a_delay_when_the_first_phase_was_on_time(
    shop: Env,
) -> None:
    with runtime(shop) as rt:
        incident_id, _ = _first_phase(rt)
        # Day 4: the records are counted. The notification was made on day 1, within 72 hours.
        later = SENT + timedelta(hours=80)
        _amend(rt, incident_id, _facts(records=4000), later)
        supplement = _supplement(rt, incident_id)
        assert placeholders(supplement.subject, supplement.body) == []
        assert "Gründe für die Verzögerung" not in supplement.body
        # Was: "[VOR DEM VERSAND ERGÄNZEN]" in the delay reasons, and approval refused.
        _deliver(rt, incident_id, supplement.id, later + timedelta(minutes=5))


def test_the_reminder_of_an_approved_supplement_gives_the_command_that_sends_it(shop: Env) -> None:
    # An approved supplement waits only for `incident send`: pointing at `incident show` sent the DPO to read
    # a text they had already approved, and the supplement stayed unsent.
    with runtime(shop) as rt:
        incident_id, notice = _first_phase(rt)
        _amend(rt, incident_id, _facts(records=4000, subjects_by_jurisdiction={"DE": 100}), SENT + timedelta(hours=1))
        supplement = _supplement(rt, incident_id)
        draft_reminder = _supplement_alert_body(rt, incident_id, SENT + timedelta(hours=24, minutes=1), "24 Std.")
        assert (
            "Prüfen, freigeben und versenden:\n"
            f"  leakline incident show {incident_id} {supplement.id}\n"
            f"  leakline incident approve {incident_id} {supplement.id} --by NAME\n"
            f"  leakline incident send {incident_id} {supplement.id}\n"
        ) in draft_reminder
        with rt.store.transaction() as session:
            service.approve(
                session, recorder=rt.recorder, incident_id=incident_id, communication_id=supplement.id, by="Dana",
                now=SENT + timedelta(hours=30), settings=rt.settings,
            )  # fmt: skip
        body = _supplement_alert_body(rt, incident_id, SENT + timedelta(hours=48, minutes=1), "48 Std.")
        assert (
            f"Die Nachmeldung {supplement.id} (freigegeben, noch nicht versandt) ist 48 Stunden nach unserer "
            f"Meldung {notice.id}"
        ) in body
        assert f"Versenden (sie ist freigegeben):\n  leakline incident send {incident_id} {supplement.id}\n" in body
        assert f"leakline incident show {incident_id} {supplement.id}" not in body


def _supplement_alert_body(rt: Runtime, incident_id: str, at: datetime, hours: str) -> str:
    worker_pass(rt, at)
    alerts = [c for c in comms(rt, incident_id) if c.kind == "internal-compliance" and hours in c.subject]
    assert sorted(c.recipient for c in alerts) == ["Compliance on call", "Dana Privacy"]
    return alerts[0].body
