"""Reminders for a required duty with no fixed deadline (GDPR Art. 34, "without undue delay"): no clock runs
out, so without them nothing would bring the untold people affected back to mind. They repeat every
`[escalation] undue_delay_reminder_hours` after the incident opened while the duty is not met (every
language version delivered), with the real store, worker and SMTP server."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from leakline.incidents.service import incident_document
from leakline.notify import service
from leakline.notify.models import Communication
from tests.notify.helpers import T0, comms, open_incident, runtime, worker_pass
from tests.notify.test_notices import KNOWN, ROUTES, shop_facts
from tests.store.helpers import Env, iter_env, write_config


def _shop(tmp_path: Path, db_url: str, every: str | None) -> Iterator[Env]:
    extra = f"undue_delay_reminder_hours = {every}\n" if every is not None else ""
    for env in iter_env(tmp_path, db_url):
        write_config(
            tmp_path,
            db_url=db_url,
            smtp_port=env.smtp.port,
            extra=ROUTES,
            escalation='ack_minutes = 100000\nchain = ["Compliance on call", "Dana Privacy"]\n' + extra,
        )
        yield env


@pytest.fixture
def shop(tmp_path: Path, db_url: str) -> Iterator[Env]:
    yield from _shop(tmp_path, db_url, None)  # the default: every 24 h


@pytest.fixture
def quiet_shop(tmp_path: Path, db_url: str) -> Iterator[Env]:
    yield from _shop(tmp_path, db_url, "0")


def _art_34(rt: Any) -> tuple[str, Communication, Communication]:
    incident_id = open_incident(rt, facts=shop_facts(**KNOWN))  # opened at T0
    versions = {c.language: c for c in comms(rt, incident_id) if c.kind == "data-subject"}
    assert sorted(versions) == ["de", "fr"]
    return incident_id, versions["de"], versions["fr"]


def _approve(rt: Any, incident_id: str, notice: Communication, *, send: bool, approve: bool = True) -> None:
    with rt.store.transaction() as session:
        steps = ((service.approve,) if approve else ()) + ((service.send,) if send else ())
        for step in steps:
            step(  # type: ignore[operator]
                session,
                recorder=rt.recorder,
                incident_id=incident_id,
                communication_id=notice.id,
                by="Dana",
                now=T0 + timedelta(minutes=1),
            )


def _art_34_reminders(rt: Any, incident_id: str) -> list[str]:
    with rt.store.transaction() as session:
        timeline = incident_document(session, incident_id=incident_id)["timeline"]
    return [t["detail"] for t in timeline if t["event"] == "reminder" and " gdpr-34 " in t["detail"]]


def _alert_subjects(rt: Any, incident_id: str) -> list[str]:
    return sorted(
        c.subject for c in comms(rt, incident_id) if c.kind == "internal-compliance" and "gdpr-34" in c.subject
    )


def test_an_unsent_language_version_is_reminded_every_24_hours_until_it_is_delivered(shop: Env) -> None:
    with runtime(shop) as rt:
        incident_id, german, french = _art_34(rt)
        _approve(rt, incident_id, german, send=True)
        _approve(rt, incident_id, french, send=False)
        worker_pass(rt, T0 + timedelta(minutes=2))  # delivers the German version; nothing is due yet
        assert _art_34_reminders(rt, incident_id) == []
        worker_pass(rt, T0 + timedelta(hours=25))
        worker_pass(rt, T0 + timedelta(hours=26))  # the same period: no second reminder
        first = (
            "reminder: gdpr-34 EU data-subjects has no fixed deadline (without undue delay) and is not "
            "delivered 24 h after the incident opened; language versions not delivered: fr"
        )
        assert _art_34_reminders(rt, incident_id) == [first]
        # The alert to each compliance contact says so in its subject (German: the main establishment's).
        assert (
            _alert_subjects(rt, incident_id)
            == [
                f"[HOCH] Erinnerung: Meldung gdpr-34 (EU) 24 Std. nach Eröffnung nicht versandt (unverzüglich) – "
                f"{incident_id}: Chat leak"
            ]
            * 2
        )
        # A worker down for two days sends only the latest period's reminder.
        worker_pass(rt, T0 + timedelta(hours=73))
        assert _art_34_reminders(rt, incident_id) == [first, first.replace("24 h", "72 h")]
        _approve(rt, incident_id, french, send=True, approve=False)
        worker_pass(rt, T0 + timedelta(hours=73, minutes=5))  # delivers the French version
        worker_pass(rt, T0 + timedelta(hours=97))
        assert _art_34_reminders(rt, incident_id) == [first, first.replace("24 h", "72 h")]


def test_undue_delay_reminders_can_be_turned_off(quiet_shop: Env) -> None:
    with runtime(quiet_shop) as rt:
        incident_id, german, _ = _art_34(rt)
        _approve(rt, incident_id, german, send=True)
        for hours in (25, 49):
            worker_pass(rt, T0 + timedelta(hours=hours))
        assert _art_34_reminders(rt, incident_id) == []
