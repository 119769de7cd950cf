"""Notices that are safe to send: what approval refuses, what the facts fill in, what reaches the authority.

The reviewer's shop: establishments DE and FR, authorities for DE, FR and US-CA, 5,400 people affected in
DE, FR and US-CA, aware two hours ago; delivery to a real SMTP server on 127.0.0.1."""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from leakline.incidents.models import Incident
from leakline.incidents.service import amend_facts, incident_document, reassess, unmet_notifications
from leakline.notify import service
from leakline.notify.drafting import enqueue, iso
from leakline.notify.errors import InvalidCommunicationState, PlaceholderLeft
from leakline.notify.models import CommState, Communication
from leakline.notify.render import format_when
from leakline.obligations import parse_facts
from tests.notify.helpers import T0, comms, open_incident, outbox_rows, runtime, worker_pass
from tests.store.helpers import Env, iter_env, write_config

Cli = Callable[..., tuple[int, str, str]]

ROUTES = """
[authorities.FR]
supervisory-authority = "mailto:notifications@cnil.example"

[authorities.US-CA]
attorney-general = "mailto:sample-copies@oag.example"
data-subjects = "mailto:notices-us@acme.example"

[authorities.EU]
data-subjects = "mailto:notices-eu@acme.example"
"""

SHOP: dict[str, Any] = {
    "aware_at": (T0 - timedelta(hours=2)).isoformat(),
    "controller": {"establishments": ["DE", "FR"], "sector": "online-marketplace", "size": "large"},
    "breach": {"types": ["confidentiality"], "cause": "hacking", "malicious": True, "exfiltration": "confirmed"},
    "data": {
        "categories": ["identity", "contact", "government-id"],
        "subjects": 5400,
        "subjects_by_jurisdiction": {"DE": 3000, "FR": 1800, "US-CA": 600},
    },
}
KNOWN = {
    "data.subject_categories": ["Kundinnen und Kunden des Online-Shops"],
    "data.records": 16200,
    "law_enforcement_delay": False,
    "identity_protection_enrolment": "call 1-800-555-0100 and quote your reference",
}


def shop_facts(**changes: Any) -> dict[str, Any]:
    """SHOP with dotted keys set (`{"data.records": 5}`); a value None removes the key."""
    facts = copy.deepcopy(SHOP)
    for dotted, value in changes.items():
        *parents, leaf = dotted.split(".")
        node = facts
        for part in parents:
            node = node[part]
        if value is None:
            node.pop(leaf, None)
        else:
            node[leaf] = value
    return facts


@pytest.fixture
def shop(tmp_path: Path, db_url: str) -> Iterator[Env]:
    for env in iter_env(tmp_path, db_url):
        write_config(tmp_path, db_url=db_url, smtp_port=env.smtp.port, extra=ROUTES)
        yield env


def notice(rt: Any, incident: str, kind: str, jurisdiction: str, recipient: str | None = None) -> Communication:
    return next(
        c
        for c in comms(rt, incident)
        if c.kind == kind and c.jurisdiction == jurisdiction and recipient in (None, c.recipient)
    )


def approve(rt: Any, incident: str, comm: Communication, *, at: Any = T0, dated: bool = False) -> Communication:
    """Approve as `leakline incident approve` does; `dated`: with the settings, so the text is dated `at`."""
    with rt.store.transaction() as session:
        return service.approve(
            session,
            recorder=rt.recorder,
            incident_id=incident,
            communication_id=comm.id,
            by="Dana Privacy",
            now=at,
            settings=rt.settings if dated else None,
        )


def send(rt: Any, incident: str, comm: Communication | None, *, at: Any = T0) -> list[Communication]:
    with rt.store.transaction() as session:
        return service.send(
            session,
            recorder=rt.recorder,
            incident_id=incident,
            communication_id=None if comm is None else comm.id,
            by="Dana Privacy",
            now=at,
        )


# --- 1. placeholders ----------------------------------------------------------------------------------


def test_approval_refuses_a_notice_that_still_has_placeholders_naming_each(shop: Env) -> None:
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=SHOP)
        de = notice(rt, incident, "supervisory-authority", "DE")
        us = notice(rt, incident, "data-subject-us", "US-CA")
        with pytest.raises(PlaceholderLeft) as caught:
            approve(rt, incident, de)
        assert caught.value.message == (
            f"{de.id} (supervisory-authority to supervisory-authority, DE) cannot be approved: its text still has "
            "1 placeholder to complete: [VOR DEM VERSAND ERGÄNZEN: z. B. Kundinnen und Kunden, Beschäftigte]"
        )
        # Only the field the facts lack: the notice is made within 72 hours, so no delay_reasons (was both).
        assert caught.value.hint == (
            'set data.subject_categories (who the people are, e.g. ["customers"]) in the facts (docs/assess.md), '
            f"then `leakline incident facts {incident} --facts FILE` drafts it again without them"
        )
        with pytest.raises(PlaceholderLeft) as caught:
            approve(rt, incident, us)
        assert caught.value.message == (
            f"{us.id} (data-subject-us to data-subjects, US-CA) cannot be approved: its text still has "
            "2 placeholders to complete: [TO COMPLETE before sending: state whether this notice was delayed as a "
            "result of a law enforcement investigation]; [TO COMPLETE before sending: how to enrol]"
        )
        assert caught.value.hint == (
            "set law_enforcement_delay (true or false) and identity_protection_enrolment (how the people enrol in "
            f"identity protection) in the facts (docs/assess.md), then `leakline incident facts {incident} --facts "
            "FILE` drafts it again without them"
        )
        assert {c.id: c.state for c in comms(rt, incident)}[de.id] == CommState.DRAFT
        worker_pass(rt, T0)
        assert "breach-reports@authority.example" not in {r.rcpt_tos[0] for r in shop.smtp.received}


def test_queueing_refuses_an_approved_text_with_placeholders(shop: Env) -> None:
    # A notice approved before approval checked for placeholders is still never queued.
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=SHOP)
        de = notice(rt, incident, "supervisory-authority", "DE")
        with rt.store.transaction() as session:
            stored = session.get(Communication, de.id)
            assert stored is not None
            stored.state, stored.approved_by, stored.approved_at = CommState.APPROVED, "Dana Privacy", T0
        for chosen in (de, None):
            with pytest.raises(PlaceholderLeft) as caught:
                send(rt, incident, chosen)
            assert caught.value.message.startswith(
                f"{de.id} (supervisory-authority to supervisory-authority, DE) "
                "cannot be sent: its text still has 1 placeholder"
            )
        assert {c.id: c.state for c in comms(rt, incident)}[de.id] == CommState.APPROVED
        worker_pass(rt, T0)
        assert "breach-reports@authority.example" not in {r.rcpt_tos[0] for r in shop.smtp.received}


def test_the_worker_never_delivers_a_notice_queued_with_placeholders(shop: Env) -> None:
    # Queued by a leakline that did not check yet: the worker refuses it, retries, then dead-letters it.
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=SHOP)
        de = notice(rt, incident, "supervisory-authority", "DE")
        with rt.store.transaction() as session:
            stored = session.get(Communication, de.id)
            assert stored is not None
            enqueue(session, recorder=rt.recorder, comm=stored, now=T0, actor="test")
        for seconds in (0, 10, 30):
            worker_pass(rt, T0 + timedelta(seconds=seconds))
        row = next(r for r in outbox_rows(rt) if r.communication_id == de.id)
        assert (row.state, row.attempts, row.last_error) == (
            "dead",
            3,
            "refused: its text still has 1 placeholder(s) to complete",
        )
        assert notice(rt, incident, "supervisory-authority", "DE").state == CommState.FAILED
    assert "breach-reports@authority.example" not in {r.rcpt_tos[0] for r in shop.smtp.received}


def test_facts_fill_the_placeholders_and_make_the_gdpr_notice_complete(shop: Env) -> None:
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=shop_facts(**KNOWN))
        de = notice(rt, incident, "supervisory-authority", "DE")
        assert de.subject.startswith("Meldung einer Verletzung des Schutzes personenbezogener Daten (Art. 33 DSGVO)")
        lines = de.body.splitlines()
        assert "   Vollständige Meldung" in lines
        assert "   Kategorien betroffener Personen: Kundinnen und Kunden des Online-Shops" in lines
        assert "   Ungefähre Zahl der betroffenen personenbezogenen Datensätze: 16.200" in lines
        assert "Erstmeldung" not in de.subject + de.body
        us = notice(rt, incident, "data-subject-us", "US-CA")
        assert "This notice was not delayed as a result of a law enforcement investigation." in us.body
        assert (
            "  - We are offering identity theft prevention and mitigation services at no cost to you for at least "
            "12 months; call 1-800-555-0100 and quote your reference."
        ) in us.body.splitlines()
        assert "[" not in us.body.replace("[authorities", "")
        approve(rt, incident, de)
        send(rt, incident, de)
        worker_pass(rt, T0)
        received = [r for r in shop.smtp.received if r.rcpt_tos == ["breach-reports@authority.example"]]
        assert [r.message.get_content().replace("\r\n", "\n") for r in received] == [de.body]


def test_a_late_notice_takes_the_reasons_for_the_delay_from_the_facts(shop: Env) -> None:
    late = T0 - timedelta(hours=80)
    with runtime(shop) as rt:
        asked = open_incident(rt, facts=shop_facts(aware_at=late.isoformat(), **KNOWN))
        line = "   Gründe für die Verzögerung über 72 Stunden hinaus (Art. 33 Abs. 1 DSGVO): "
        assert line + "[VOR DEM VERSAND ERGÄNZEN]" in notice(rt, asked, "supervisory-authority", "DE").body
        reasons = "Der Angriff wurde erst durch die forensische Analyse bestätigt."
        given = open_incident(rt, facts=shop_facts(aware_at=late.isoformat(), delay_reasons=reasons, **KNOWN))
        de = notice(rt, given, "supervisory-authority", "DE")
        assert line + reasons in de.body.splitlines()
        assert approve(rt, given, de).state == CommState.APPROVED


# --- 2. the California Attorney General gets a sample copy of the residents' notice ----------------------


def test_the_attorney_general_gets_a_sample_copy_of_the_us_notice_without_eu_data(shop: Env) -> None:
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=shop_facts(**KNOWN))
        ag = notice(rt, incident, "us-sample-copy", "US-CA", "attorney-general")
        residents = notice(rt, incident, "data-subject-us", "US-CA")
        assert (ag.regime, ag.channel, ag.to, ag.language) == (
            "us-ca-1798-82",
            "smtp",
            "sample-copies@oag.example",
            "en",
        )
        assert ag.subject == (
            f"Sample copy of a security breach notification (Cal. Civ. Code § 1798.82(f)) – Acme Shop GmbH – {incident}"
        )
        cover, copy_ = ag.body.split("--- Sample copy of the notice ---\n\n")
        assert cover.splitlines() == [
            "To: California Attorney General",
            "Legal basis: Cal. Civ. Code § 1798.82(f)",
            "",
            "Acme Shop GmbH submits a sample copy of the security breach notification sent to the affected "
            "residents of US-CA. It contains no personal information.",
            "",
            "Residents of US-CA notified: 600",
            "",
            f"Our reference: {incident}",
            "Contact: Dana Privacy, e-mail dpo@acme.example, phone +49 30 1234567",
            "",
        ]
        assert copy_ == residents.body
        for eu in ("GDPR", "DSGVO", "Art. 33", "5,400", "3,000", "1,800", "DE:", "FR:"):
            assert eu not in ag.body
        assert not [c for c in comms(rt, incident) if c.kind == "supervisory-authority" and c.jurisdiction == "US-CA"]
        approve(rt, incident, ag)
        send(rt, incident, ag)
        worker_pass(rt, T0)
        received = [r for r in shop.smtp.received if r.rcpt_tos == ["sample-copies@oag.example"]]
        assert [(r.message["Message-ID"], r.message["Subject"]) for r in received] == [
            (f"<{ag.id}@leakline>", ag.subject)
        ]
        assert received[0].message.get_content().replace("\r\n", "\n") == ag.body


# --- 3. the notice's own timeline ---------------------------------------------------------------------


def test_detected_is_the_discovery_or_else_the_awareness_never_the_incident_opening(shop: Env) -> None:
    aware = T0 - timedelta(hours=2)
    discovered = T0 - timedelta(hours=5)
    with runtime(shop) as rt:
        plain = open_incident(rt, facts=shop_facts(**KNOWN))
        lines = notice(rt, plain, "supervisory-authority", "DE").body.splitlines()
        assert f"   Verletzung erkannt: {format_when(aware, language='de')}" in lines
        assert f"   Kenntnis des Verantwortlichen: {format_when(aware, language='de')}" in lines
        earlier = open_incident(rt, facts=shop_facts(discovered_at=discovered.isoformat(), **KNOWN))
        lines = notice(rt, earlier, "supervisory-authority", "DE").body.splitlines()
        assert f"   Verletzung erkannt: {format_when(discovered, language='de')}" in lines
        assert f"   Diese Meldung: {format_when(T0, language='de')}" in lines


def test_a_morning_draft_approved_in_the_evening_carries_the_evening_date_and_is_sent_as_approved(shop: Env) -> None:
    morning, evening = T0 - timedelta(hours=10), T0
    with runtime(shop) as rt:
        incident = open_incident(
            rt, facts=shop_facts(aware_at=(T0 - timedelta(hours=12)).isoformat(), **KNOWN), now=morning
        )
        draft = notice(rt, incident, "supervisory-authority", "DE")
        assert f"   Diese Meldung: {format_when(morning, language='de')}" in draft.body.splitlines()
        approved = approve(rt, incident, draft, at=evening, dated=True)
        assert (approved.state, approved.approved_at, approved.rendered_at) == (CommState.APPROVED, evening, evening)
        assert approved.body == draft.body.replace(
            f"Diese Meldung: {format_when(morning, language='de')}",
            f"Diese Meldung: {format_when(evening, language='de')}",
        )
        stored = notice(rt, incident, "supervisory-authority", "DE")
        assert (stored.subject, stored.body) == (approved.subject, approved.body)
        # Reassessing with the same facts leaves the approval standing: the approved words are what they give.
        with rt.store.transaction() as session:
            reassess(session, rt.settings, recorder=rt.recorder, incident_id=incident, actor="test", now=evening)
        assert notice(rt, incident, "supervisory-authority", "DE").state == CommState.APPROVED
        send(rt, incident, approved, at=evening)
        worker_pass(rt, evening)
        received = [r for r in shop.smtp.received if r.rcpt_tos == ["breach-reports@authority.example"]]
        assert [r.message.get_content().replace("\r\n", "\n") for r in received] == [approved.body]


def test_approval_refuses_a_draft_whose_template_changed_since_it_was_drafted(shop: Env) -> None:
    messages = shop.directory / "messages"
    (messages / "de").mkdir(parents=True)
    with shop.config.open("a", encoding="utf-8") as handle:
        handle.write('\n[notify]\ntemplates = "messages"\n')
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=shop_facts(**KNOWN))
        draft = notice(rt, incident, "supervisory-authority", "DE")
        (messages / "de" / "supervisory-authority.j2").write_text(
            '{% extends "builtin/de/supervisory-authority.j2" %}{% block subject %}[Acme] {{ super() }}{% endblock %}',
            encoding="utf-8",
        )
        with pytest.raises(InvalidCommunicationState) as caught:
            approve(rt, incident, draft, at=T0 + timedelta(hours=1), dated=True)
        assert caught.value.message == (
            f"{draft.id}: the draft is out of date: the incident, its facts or a template changed since it was "
            "drafted and would change more than its date, so approving it would send words nobody reviewed"
        )
        assert caught.value.hint == f"`leakline incident assess {incident}` drafts it again; review it, then approve it"
        after = notice(rt, incident, "supervisory-authority", "DE")
        assert (after.state, after.subject, after.body) == (CommState.DRAFT, draft.subject, draft.body)


# --- 4. evidence in the audit log -------------------------------------------------------------------------


def leakline(*args: str) -> subprocess.CompletedProcess[str]:
    """The real command in a process of its own (its stderr is the process's); it must succeed."""
    done = subprocess.run(
        [sys.executable, "-m", "leakline.cli", *args], capture_output=True, text=True, check=False, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done


def audit_payloads(env: Env, kind: str) -> list[dict[str, Any]]:
    """The decrypted payloads of the audit records of one kind, read back with `leakline audit export`."""
    log, key = str(env.directory / "audit"), str(env.directory / "audit.key")
    done = leakline("audit", "export", log, "--key", key, "--kind", kind)
    return [json.loads(line)["payload"] for line in done.stdout.splitlines()]


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_approval_and_delivery_records_name_the_address_and_the_digests_of_the_exact_text(shop: Env) -> None:
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=shop_facts(**KNOWN))
        de = notice(rt, incident, "supervisory-authority", "DE")
        us = notice(rt, incident, "data-subject-us", "US-CA")
        for comm in (de, us):
            approve(rt, incident, comm)
            send(rt, incident, comm)
        worker_pass(rt, T0)
        received = {r.rcpt_tos[0]: r.message.get_content().replace("\r\n", "\n") for r in shop.smtp.received}
    assert sha256(received["breach-reports@authority.example"]) == sha256(de.body)
    assert sha256(received["notices-us@acme.example"]) == sha256(us.body)
    authority = {
        "communication": de.id,
        "channel": "smtp",
        "to": "breach-reports@authority.example",
        "subject_sha256": sha256(de.subject),
        "body_sha256": sha256(de.body),
    }
    people = {
        "communication": us.id,
        "channel": "smtp",
        "to_sha256": sha256("notices-us@acme.example"),
        "subject_sha256": sha256(us.subject),
        "body_sha256": sha256(us.body),
    }
    assert audit_payloads(shop, "incident.message.approved") == [
        {"detail": f"{de.id}: supervisory-authority to supervisory-authority approved by Dana Privacy", **authority},
        {"detail": f"{us.id}: data-subject-us to data-subjects approved by Dana Privacy", **people},
    ]
    sent = {p["communication"]: p for p in audit_payloads(shop, "incident.message.sent")}
    assert sent[de.id] == {"detail": f"{de.id}: delivered via smtp (attempt 1)", **authority, "attempt": 1}
    assert sent[us.id] == {"detail": f"{us.id}: delivered via smtp (attempt 1)", **people, "attempt": 1}


# --- 5. ack is for internal alerts ------------------------------------------------------------------------


def test_ack_is_refused_for_a_notice_to_an_authority(shop: Env) -> None:
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=shop_facts(**KNOWN))
        de = notice(rt, incident, "supervisory-authority", "DE")
        approve(rt, incident, de)
        send(rt, incident, de)
        worker_pass(rt, T0)
        assert notice(rt, incident, "supervisory-authority", "DE").state == CommState.SENT
        with rt.store.transaction() as session, pytest.raises(InvalidCommunicationState) as caught:
            service.ack(session, recorder=rt.recorder, incident_id=incident, communication_id=de.id, by="Kim", now=T0)
        assert caught.value.message == (
            f"{de.id} is a supervisory-authority notice to supervisory-authority (DE): only internal alerts are "
            "acknowledged (an acknowledgement stops their escalation); it does not record a recipient's "
            "confirmation of receipt"
        )
        assert caught.value.exit_code == 2
        after = notice(rt, incident, "supervisory-authority", "DE")
        assert (after.state, after.acked_by) == (CommState.SENT, None)
        alert = next(c for c in comms(rt, incident) if c.kind == "internal-compliance")
        with rt.store.transaction() as session:
            acked = service.ack(
                session, recorder=rt.recorder, incident_id=incident, communication_id=alert.id, by="Kim", now=T0
            )
        assert [c.id for c in acked] == [alert.id]


# --- 6. the worker says what it does ----------------------------------------------------------------------

GERMAN_AUTHORITY = "the competent German supervisory authority (Land authority of the main establishment, or BfDI)"
LOG_TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ leakline worker: "


def test_the_worker_command_says_on_stderr_that_it_started_and_what_it_delivered(shop: Env) -> None:
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=shop_facts(**KNOWN))
        de = notice(rt, incident, "supervisory-authority", "DE")
        approve(rt, incident, de)
        send(rt, incident, de)
    done = leakline("worker", "--once", "--config", str(shop.config))
    with runtime(shop) as rt:
        # The notice, two compliance alerts, the executive brief and the reminders the pass sent.
        delivered = [c for c in comms(rt, incident) if c.state == CommState.SENT]
    lines = done.stderr.splitlines()
    assert re.fullmatch(LOG_TIME + r"worker \S+ started: one pass over everything due now", lines[0])
    sent = sorted(re.sub(LOG_TIME, "", line) for line in lines[1:])
    expected = [
        f"sent {c.id} ({c.kind} to {GERMAN_AUTHORITY if c.id == de.id else 'internal ' + c.role}) via smtp, attempt 1"
        for c in delivered
    ]
    assert sent == sorted(expected)
    assert de.id in {c.id for c in delivered} and len(delivered) > 1
    for address in ("@", "Dana", "Compliance on call", "CEO"):
        assert address not in done.stderr


def test_retries_and_the_dead_letter_are_logged_without_addresses(shop: Env, caplog: pytest.LogCaptureFixture) -> None:
    shop.smtp.stop()
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=shop_facts(**KNOWN))
        us = notice(rt, incident, "data-subject-us", "US-CA")
        approve(rt, incident, us)
        send(rt, incident, us)
        caplog.set_level(logging.INFO, logger="leakline.notify.worker")
        for seconds in (0, 10, 30):
            worker_pass(rt, T0 + timedelta(seconds=seconds))
    about_us = [r.getMessage() for r in caplog.records if us.id in r.getMessage()]
    refused = f"smtp 127.0.0.1:{shop.smtp.port}: ConnectionRefusedError: errno 111 (Connection refused)"
    assert about_us == [
        f"retry {us.id} (data-subject-us to data subjects) via smtp: attempt 1 of 3 failed: {refused}; "
        f"next attempt at {iso(T0 + timedelta(seconds=10))}",
        f"retry {us.id} (data-subject-us to data subjects) via smtp: attempt 2 of 3 failed: {refused}; "
        f"next attempt at {iso(T0 + timedelta(seconds=30))}",
        f"failed {us.id} (data-subject-us to data subjects) via smtp: gave up after 3 attempts: {refused}; "
        "the compliance contacts are alerted",
    ]
    assert not [r for r in caplog.records if "@" in r.getMessage()]


# --- 7. one Art. 34 notice per language of the people affected ---------------------------------------------


def test_the_people_affected_get_the_art_34_notice_in_the_languages_of_their_countries(shop: Env) -> None:
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=shop_facts(**KNOWN))
        eu = [c for c in comms(rt, incident) if c.kind == "data-subject"]
        assert sorted((c.regime, c.jurisdiction, c.language, c.to) for c in eu) == [
            ("gdpr-34", "EU", "de", "notices-eu@acme.example"),
            ("gdpr-34", "EU", "fr", "notices-eu@acme.example"),
        ]
        french = next(c for c in eu if c.language == "fr")
        german = next(c for c in eu if c.language == "de")
        assert (german.subject, french.subject) == (
            "Wichtig: ein Sicherheitsvorfall bei Acme Shop GmbH betrifft Ihre personenbezogenen Daten",
            "Important : un incident de sécurité chez Acme Shop GmbH concerne vos données personnelles",
        )
        # Only French residents are left: the German notice is withdrawn, never sent; the French one stays.
        only_fr = shop_facts(**KNOWN, **{"data.subjects_by_jurisdiction": {"FR": 1800, "US-CA": 600}})
        with rt.store.transaction() as session:
            amend_facts(
                session,
                rt.settings,
                recorder=rt.recorder,
                incident_id=incident,
                facts=parse_facts(only_fr, source="test"),
                actor="test",
                reason="no German residents",
                now=T0,
            )
        after = {c.id: c for c in comms(rt, incident) if c.kind == "data-subject"}
        assert (after[german.id].withdrawn, after[french.id].withdrawn) == (True, False)
        assert len(after) == 2


def test_the_art_34_duty_is_met_only_once_every_language_version_is_delivered(shop: Env, cli: Cli) -> None:
    with runtime(shop) as rt:
        incident = open_incident(rt, facts=shop_facts(**KNOWN))
        eu = {c.language: c for c in comms(rt, incident) if c.kind == "data-subject"}
        german, french = eu["de"], eu["fr"]

        def art_34() -> tuple[str, list[tuple[str, str]], list[str], str]:
            with rt.store.transaction() as session:
                doc = incident_document(session, incident_id=incident)
                unmet = unmet_notifications(session, session.get(Incident, incident))
            duty = next(o for o in doc["obligations"] if o["regime"] == "gdpr-34")
            versions = sorted((n["language"], n["state"]) for n in duty["notices"])
            line = next((line for line in unmet if line.startswith("gdpr-34 ")), "")
            return duty["status"], versions, duty["outstanding"], line

        def show() -> str:
            code, out, err = cli("incident", "show", incident, "--config", str(shop.config))
            assert code == 0, err
            return out

        # Two notices of one duty: `show` tells them apart by language.
        steps = [line.strip() for line in show().splitlines() if line.startswith("  approve gdpr-34")]
        assert steps == [
            f"approve gdpr-34 EU {comm.language} once you have read it (leakline incident show {incident} "
            f"{comm.id}): leakline incident approve {incident} {comm.id} --by NAME"
            for comm in (german, french)
        ]
        for comm in (german, french):
            approve(rt, incident, comm)
        send(rt, incident, german)
        worker_pass(rt, T0)
        # The German residents were told; the French ones were not: the duty is not met yet.
        assert art_34() == (
            "open",
            [("de", "sent"), ("fr", "approved")],
            [french.id],
            "gdpr-34 EU data-subjects due without undue delay (not sent; language versions: de sent, fr approved)",
        )
        assert "│ open (de sent, fr approved) │ gdpr-34 " in show()
        send(rt, incident, french)
        assert art_34() == (
            "queued",
            [("de", "sent"), ("fr", "queued")],
            [french.id],
            "gdpr-34 EU data-subjects due without undue delay "
            "(queued, not yet delivered; language versions: de sent, fr queued)",
        )
        worker_pass(rt, T0)
        assert art_34() == ("met", [("de", "sent"), ("fr", "sent")], [], "")
        # One address for the people affected in the EU takes both versions: each says which language it is
        # in (RFC 3282), so that the system behind it can send each person the one they read.
        received = {str(r.message["Message-ID"]): r for r in shop.smtp.received}
        assert [
            (received[f"<{c.id}@leakline>"].rcpt_tos, received[f"<{c.id}@leakline>"].message["Content-Language"])
            for c in (german, french)
        ] == [(["notices-eu@acme.example"], "de"), (["notices-eu@acme.example"], "fr")]
