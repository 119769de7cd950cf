"""Personal data and secrets in a signal never reach the database, the alerts or the audit log in clear:
`receive` redacts every text of a signal with the gateway's detectors first and notes how many values it
redacted (never which)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from leakline.guard.sanitize import SanitizerFailed
from leakline.incidents import ingest, service
from leakline.incidents.ingest import SignalRedactionFailed, receive, redact_signal
from leakline.incidents.models import Incident, SignalRecord, TimelineEntry
from leakline.signals import Signal
from tests.incidents.helpers import signal
from tests.notify.helpers import comms, runtime
from tests.store.helpers import Env

NOW = datetime(2026, 11, 26, 9, 0, 5, tzinfo=UTC)
EMAIL = "jane.doe@example.com"
CARD = "4111 1111 1111 1111"
CLEAR = (EMAIL, CARD, "4111111111111111", "+49 30 9876543", "DE89 3704 0044 0532 0130 00")
# sig2.json of the review: a card number and an e-mail in the summary, the e-mail again in the details.
PII_SIGNAL = signal(
    id="sig_pii",
    at="2026-11-26T10:00:00+01:00",
    fingerprint=f"leak:{EMAIL}",
    source="support desk +49 30 9876543",
    country="DE",
    data_categories=["contact", "payment-card"],
    subjects_estimate=2,
    summary=f"answer contained {EMAIL} and card {CARD}",
    details={"actions": "alert", "customer": EMAIL, "iban": "DE89 3704 0044 0532 0130 00", "tokens": 12},
)
SUMMARY = "answer contained [REDACTED:EMAIL] and card [REDACTED:PAYMENT_CARD]"
NOTE = (
    "6 values redacted from signal sig_pii before it was stored (source: phone; fingerprint: email; "
    "summary: email, payment_card; details.customer: email; details.iban: iban)"
)


def _audit_payloads(directory: Path) -> list[tuple[str, Any]]:
    from leakline.audit.keys import load_keys
    from leakline.audit.log import read_data_key
    from leakline.audit.verify import Record, log_paths, parse_header, verify_log

    out: list[tuple[str, Any]] = []

    def collect(record: Record) -> None:
        out.append((str(record.meta.get("kind")), record.payload))

    log_path, _ = log_paths(directory)
    header = parse_header(log_path.read_bytes()[:4096], file=str(log_path))
    verify_log(directory, data_key=read_data_key(directory, header, load_keys(directory.parent / "audit.key")),
               on_record=collect)  # fmt: skip
    return out


def test_personal_data_in_a_signal_is_redacted_before_anything_is_stored_or_sent(env: Env) -> None:
    with runtime(env) as rt:
        accepted = receive(rt, Signal.model_validate(PII_SIGNAL), now=NOW)
        assert (accepted.signal_id, accepted.new_incident) == ("sig_pii", True)
        with rt.store.transaction() as session:
            incident = session.get(Incident, accepted.incident_id)
            assert incident is not None
            assert incident.title == f"leak-caught: {SUMMARY}"
            assert incident.fingerprint == "leak:[REDACTED:EMAIL]"
            record = session.get(SignalRecord, "sig_pii")
            assert record is not None
            assert (record.summary, record.source, record.fingerprint) == (
                SUMMARY, "support desk [REDACTED:PHONE]", "leak:[REDACTED:EMAIL]"
            )  # fmt: skip
            assert record.data["details"] == {
                "actions": "alert", "customer": "[REDACTED:EMAIL]", "iban": "[REDACTED:IBAN]", "tokens": 12
            }  # fmt: skip
            timeline = list(
                session.scalars(select(TimelineEntry).where(TimelineEntry.incident_id == accepted.incident_id))
            )
            doc = service.incident_document(session, incident_id=accepted.incident_id)
        redacted = [t for t in timeline if t.event == "signal-redacted"]
        assert [(t.actor, t.detail) for t in redacted] == [("signal:support desk [REDACTED:PHONE]", NOTE)]
        assert [t.event for t in timeline][-2:] == ["signal", "signal-redacted"]
        stored = json.dumps([doc, [(t.event, t.actor, t.detail) for t in timeline], record.data], default=str)
        messages = comms(rt, accepted.incident_id)
        assert {c.kind for c in messages} >= {"internal-compliance", "owner-team"}
        sent = json.dumps([(c.subject, c.body, c.recipient) for c in messages])
        assert "[REDACTED:EMAIL]" in sent and "[REDACTED:PAYMENT_CARD]" in sent
    rt.recorder.flush()
    audited = _audit_payloads(env.directory / "audit")
    assert ("incident.signal-redacted", {
        "detail": NOTE,
        "signal": "sig_pii",
        "redacted": 6,
        "fields": {"source": ["phone"], "fingerprint": ["email"], "summary": ["email", "payment_card"],
                   "details.customer": ["email"], "details.iban": ["iban"]},
    }) in audited  # fmt: skip
    for text in (stored, sent, json.dumps(audited, default=str)):
        for value in CLEAR:
            assert value not in text, value


def test_the_same_leak_keeps_one_fingerprint_after_redaction_and_dedupes(env: Env) -> None:
    with runtime(env) as rt:
        first = receive(rt, Signal.model_validate(PII_SIGNAL), now=NOW)
        again = receive(rt, Signal.model_validate(PII_SIGNAL), now=NOW)
        second = receive(rt, Signal.model_validate({**PII_SIGNAL, "id": "sig_pii_2"}), now=NOW)
        assert (again.incident_id, again.duplicate) == (first.incident_id, True)
        assert (second.incident_id, second.duplicate, second.new_incident) == (first.incident_id, False, False)
        with rt.store.transaction() as session:
            events = list(session.scalars(
                select(TimelineEntry.detail).where(TimelineEntry.event == "signal-redacted").order_by(TimelineEntry.id)
            ))  # fmt: skip
            assert session.scalar(select(func.count()).select_from(Incident)) == 1
        # One note per signal stored, none for the duplicate delivery.
        assert events == [NOTE, NOTE.replace("signal sig_pii ", "signal sig_pii_2 ")]


def test_an_id_carrying_personal_data_becomes_a_digest_that_still_makes_deliveries_idempotent(env: Env) -> None:
    raw = {**PII_SIGNAL, "id": f"sig-{EMAIL}"}
    redacted = redact_signal(Signal.model_validate(raw))
    assert redacted.signal.id == "sig_redacted_" + __import__("hashlib").sha256(raw["id"].encode()).hexdigest()[:32]
    assert redacted.hits["id"] == ["email"]
    with runtime(env) as rt:
        first = receive(rt, Signal.model_validate(raw), now=NOW)
        again = receive(rt, Signal.model_validate(raw), now=NOW)
        other = receive(rt, Signal.model_validate({**raw, "id": "sig-john.roe@example.com"}), now=NOW)
    assert first.signal_id == redacted.signal.id
    assert (again.signal_id, again.duplicate) == (first.signal_id, True)
    assert other.signal_id != first.signal_id and not other.duplicate


def test_a_clean_signal_is_stored_as_sent_without_a_redaction_note(env: Env) -> None:
    clean = Signal.model_validate(signal())
    assert redact_signal(clean) == ingest.Redacted(clean, {})
    with runtime(env) as rt:
        accepted = receive(rt, clean, now=NOW)
        with rt.store.transaction() as session:
            events = list(session.scalars(
                select(TimelineEntry.event).where(TimelineEntry.incident_id == accepted.incident_id)
            ))  # fmt: skip
    assert "signal-redacted" not in events


def test_a_detector_failure_stores_nothing_and_names_the_field_not_the_value(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Broken:
        def sanitize(self, text: str) -> Any:
            raise SanitizerFailed("email", RuntimeError(text))

    monkeypatch.setattr(ingest, "_sanitizer", lambda: Broken())
    with runtime(env) as rt:
        with pytest.raises(SignalRedactionFailed) as caught:
            receive(rt, Signal.model_validate(PII_SIGNAL), now=NOW)
        with rt.store.transaction() as session:
            assert session.scalar(select(func.count()).select_from(Incident)) == 0
            assert session.scalar(select(func.count()).select_from(SignalRecord)) == 0
    assert caught.value.message == (
        "signal field source: personal-data detector 'email' failed; the signal was not recorded "
        "(it could not be checked for personal data)"
    )
    assert EMAIL not in caught.value.message


def test_the_signal_command_prints_and_stores_no_personal_data(
    cli: Callable[..., tuple[int, str, str]], env: Env
) -> None:
    path = env.directory / "sig2.json"
    path.write_text(json.dumps(PII_SIGNAL), encoding="utf-8")
    code, out, err = cli("signal", str(path), "--config", str(env.config))
    assert code == 0, err
    incident_id = json.loads(out)["incident_id"]
    code, shown, err = cli("incident", "show", incident_id, "--config", str(env.config), "--format", "json")
    assert code == 0, err
    assert f"leak-caught: {SUMMARY}" in shown and NOTE in shown
    for value in CLEAR:
        assert value not in out + err + shown, value
