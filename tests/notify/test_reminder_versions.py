"""Deadline reminders and overdue alerts for a duty drafted in several language versions (GDPR Art. 34 to the
people affected, in German and French): they follow the obligation status, so they go on until every
version is delivered, and they name the versions still outstanding.

The shipped GDPR Art. 34 rule has no fixed deadline ("without undue delay"), so no deadline reminder is due for
it (it gets the periodic ones of test_undue_delay_reminders.py); each test gives the stored duty a `due_at`, as a rule with a clock would, to exercise the scan with the
real store, worker and SMTP server.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from leakline.incidents.models import Incident
from leakline.incidents.service import incident_document
from leakline.notify import service
from leakline.notify.drafting import obligation_key
from leakline.notify.models import Communication
from tests.notify.helpers import T0, comms, open_incident, runtime, worker_pass
from tests.notify.test_notices import KNOWN, ROUTES, shop_facts
from tests.store.helpers import Env, iter_env, write_config

DUE = T0 + timedelta(hours=10)
DUE_TEXT = DUE.isoformat().replace("+00:00", "Z")


@pytest.fixture
def shop(tmp_path: Path, db_url: str) -> Iterator[Env]:
    for env in iter_env(tmp_path, db_url):
        write_config(
            tmp_path,
            db_url=db_url,
            smtp_port=env.smtp.port,
            extra=ROUTES,
            escalation='ack_minutes = 100000\nchain = ["Compliance on call", "Dana Privacy"]\n'
            "reminder_hours = [24, 6]\n",
        )
        yield env


def _art_34_with_a_deadline(rt: Any) -> tuple[str, str, Communication, Communication]:
    """An incident whose Art. 34 duty has a German and a French version and is due at DUE; (incident id,
    the duty's key, the German notice, the French notice)."""
    incident_id = open_incident(rt, facts=shop_facts(**KNOWN))
    with rt.store.transaction() as session:
        incident = session.get(Incident, incident_id)
        assert incident is not None and incident.assessment is not None
        obligations = [dict(o) for o in incident.assessment["obligations"]]
        duty = next(o for o in obligations if o["regime"] == "gdpr-34")
        assert duty["due_at"] is None  # see the module's docstring
        duty["due_at"] = DUE_TEXT
        incident.assessment = {**incident.assessment, "obligations": obligations}
    versions = {c.language: c for c in comms(rt, incident_id) if c.kind == "data-subject"}
    assert sorted(versions) == ["de", "fr"]
    return incident_id, obligation_key(duty), versions["de"], versions["fr"]


def _approve_and_send(rt: Any, incident_id: str, notice: Communication, *, send: bool) -> None:
    with rt.store.transaction() as session:
        steps = (service.approve, service.send) if send else (service.approve,)
        for step in steps:
            step(  # type: ignore[operator]
                session,
                recorder=rt.recorder,
                incident_id=incident_id,
                communication_id=notice.id,
                by="Dana",
                now=T0 - timedelta(minutes=1),
            )


def _about_art_34(rt: Any, incident_id: str, key: str) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The timeline's reminder and escalation entries about the Art. 34 duty, and the alerts drafted for it
    ((recipient, state) of each)."""
    with rt.store.transaction() as session:
        timeline = incident_document(session, incident_id=incident_id)["timeline"]
    entries = [
        (t["event"], t["detail"])
        for t in timeline
        if t["event"] in ("reminder", "escalation") and " gdpr-34 " in t["detail"]
    ]
    alerts = sorted(
        (c.recipient, c.state)
        for c in comms(rt, incident_id)
        if c.kind == "internal-compliance" and c.obligation_key == key
    )
    return entries, alerts


def test_a_duty_with_its_french_version_undelivered_is_reminded_and_escalated_naming_fr(shop: Env) -> None:
    with runtime(shop) as rt:
        incident_id, key, german, french = _art_34_with_a_deadline(rt)
        _approve_and_send(rt, incident_id, german, send=True)
        _approve_and_send(rt, incident_id, french, send=False)
        worker_pass(rt, T0)  # delivers the German version, then scans deadlines (the 24 h offset is reached)
        states = {c.language: c.state for c in comms(rt, incident_id) if c.kind == "data-subject"}
        assert states == {"de": "sent", "fr": "approved"}
        entries, alerts = _about_art_34(rt, incident_id, key)
        assert entries == [
            (
                "reminder",
                f"reminder: gdpr-34 EU data-subjects due {DUE_TEXT} (≤ 24 h); language versions not delivered: fr",
            ),
        ]
        assert alerts == [("Compliance on call", "sent"), ("Dana Privacy", "sent")]
        # The alert itself names the version still owed, in the contacts' language (the main establishment's).
        bodies = [c.body for c in comms(rt, incident_id) if c.kind == "internal-compliance" and c.obligation_key == key]
        assert len(bodies) == 2
        for body in bodies:
            assert "Noch nicht versandte Sprachfassungen: fr. Jede Gruppe betroffener Personen" in body, body
        worker_pass(rt, DUE - timedelta(hours=5))
        worker_pass(rt, DUE + timedelta(minutes=1))
        entries, alerts = _about_art_34(rt, incident_id, key)
    assert entries == [
        (
            "reminder",
            f"reminder: gdpr-34 EU data-subjects due {DUE_TEXT} (≤ 24 h); language versions not delivered: fr",
        ),
        ("reminder", f"reminder: gdpr-34 EU data-subjects due {DUE_TEXT} (≤ 6 h); language versions not delivered: fr"),
        ("escalation", f"overdue: gdpr-34 EU data-subjects was due {DUE_TEXT}; language versions not delivered: fr"),
    ]
    # Two reminders and the overdue alert, each to both compliance contacts (the chain).
    assert alerts == [("Compliance on call", "sent")] * 3 + [("Dana Privacy", "sent")] * 3


def test_a_duty_with_every_version_delivered_is_not_reminded(shop: Env) -> None:
    with runtime(shop) as rt:
        incident_id, key, german, french = _art_34_with_a_deadline(rt)
        for notice in (german, french):
            _approve_and_send(rt, incident_id, notice, send=True)
        worker_pass(rt, T0)
        states = {c.language: c.state for c in comms(rt, incident_id) if c.kind == "data-subject"}
        assert states == {"de": "sent", "fr": "sent"}
        for at in (DUE - timedelta(hours=5), DUE + timedelta(minutes=1)):
            worker_pass(rt, at)
        assert _about_art_34(rt, incident_id, key) == ([], [])
        # The scan did run: the one other duty due within 24 h (NIS2 early warning, not sent) was reminded.
        with rt.store.transaction() as session:
            timeline = incident_document(session, incident_id=incident_id)["timeline"]
        reminded = [t["detail"].split(" due ")[0] for t in timeline if t["event"] in ("reminder", "escalation")]
        assert reminded == ["reminder: nis2-23-early-warning DE csirt"]
