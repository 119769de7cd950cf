"""Signals in: idempotent by id, deduped by fingerprint within the window, provisional facts, owner routing;
over the CLI and over `POST /api/v1/signals` with bearer tokens."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from leakline.config import load_settings
from leakline.incidents import service
from leakline.incidents.ingest import receive
from leakline.signals import Signal
from leakline.store.engine import forget_store
from tests.incidents.helpers import signal
from tests.notify.helpers import comms, runtime
from tests.store.helpers import Env, write_config

NOW = datetime(2026, 11, 26, 8, 0, 5, tzinfo=UTC)
TOKEN = "tok-for-tests-only"


def test_same_id_twice_is_one_signal_and_fingerprints_dedupe_within_the_window(env: Env) -> None:
    with runtime(env) as rt:
        first = receive(rt, Signal.model_validate(signal()), now=NOW)
        again = receive(rt, Signal.model_validate(signal()), now=NOW)
        near = receive(
            rt, Signal.model_validate(signal(id="sig_2", at="2026-11-26T08:59:00+00:00", severity="critical")), now=NOW
        )
        far = receive(rt, Signal.model_validate(signal(id="sig_3", at="2026-11-26T10:00:00+00:00")), now=NOW)
        other = receive(rt, Signal.model_validate(signal(id="sig_4", fingerprint="other")), now=NOW)
        assert (first.new_incident, first.duplicate) == (True, False)
        assert (again.incident_id, again.duplicate, again.new_incident) == (first.incident_id, True, False)
        assert (near.incident_id, near.new_incident) == (first.incident_id, False)
        assert far.new_incident and far.incident_id != first.incident_id
        assert other.new_incident and other.incident_id not in (first.incident_id, far.incident_id)
        with rt.store.transaction() as session:
            doc = service.incident_document(session, incident_id=first.incident_id)
        assert (doc["signals"], doc["severity"], doc["categories"]) == (2, "critical", ["contact"])


def test_a_signal_opens_an_incident_with_provisional_facts_and_routes_to_its_owner(env: Env) -> None:
    with runtime(env) as rt:
        accepted = receive(rt, Signal.model_validate(signal(country="DE")), now=NOW)
        with rt.store.transaction() as session:
            doc = service.incident_document(session, incident_id=accepted.incident_id)
        assert doc["facts"]["controller"]["establishments"] == ["DE"]
        assert doc["facts"]["breach"]["cause"] == "llm-output-leak"
        assert doc["facts"]["data"] == {
            "categories": ["contact"],
            "subjects": 3,
            "subjects_by_jurisdiction": {"DE": 3},
            "vulnerable_subjects": False,
            "protection": {"encrypted": False, "key_compromised": False, "hashing": "none"},
        }
        assert doc["obligations"]  # assessed at once
        internal = {(c.kind, c.recipient, c.state) for c in comms(rt, accepted.incident_id) if not c.needs_approval}
        assert internal == {
            ("internal-compliance", "Compliance on call", "queued"),
            ("internal-compliance", "Dana Privacy", "queued"),
            ("owner-team", "Web team", "queued"),
        }


def test_signal_cli_reports_bad_json_with_its_byte_offset(cli: Callable[..., tuple[int, str, str]], env: Env) -> None:
    good = env.directory / "signal.json"
    good.write_text(json.dumps(signal()), encoding="utf-8")
    code, out, err = cli("signal", str(good), "--config", str(env.config))
    assert code == 0, err
    assert json.loads(out)["new_incident"] is True
    bad = env.directory / "bad.json"
    bad.write_bytes(b'{"id": "x",, }')
    code, _, err = cli("signal", str(bad), "--config", str(env.config))
    assert code == 2
    assert f"{bad}: invalid JSON at byte offset 11" in err
    wrong = env.directory / "wrong.json"
    wrong.write_text(json.dumps(signal(severity="apocalyptic")), encoding="utf-8")
    code, _, err = cli("signal", str(wrong), "--config", str(env.config))
    assert code == 2
    assert err == f"{wrong}: severity: expected one of 'critical', 'high', 'medium' or 'low', got 'apocalyptic'"
    # A time without a UTC offset is named in the words `leakline assess` uses for facts.
    local = env.directory / "local.json"
    local.write_text(json.dumps(signal(id="sig_2", at="2026-11-26T09:15:00")), encoding="utf-8")
    code, _, err = cli("signal", str(local), "--config", str(env.config))
    assert code == 2
    assert err == (
        f"{local}: at: expected an ISO 8601 date-time with a UTC offset (e.g. +00:00 or Z), got '2026-11-26T09:15:00'"
    )


@pytest.fixture
def client(env: Env) -> TestClient:
    from leakline.web.app import create_app

    digest = hashlib.sha256(TOKEN.encode()).hexdigest()
    write_config(
        env.directory, db_url=env.db_url, smtp_port=env.smtp.port, extra=f'[api]\ntokens_sha256 = ["{digest}"]\n'
    )
    settings = load_settings(env.config)
    with TestClient(create_app(settings)) as test_client:
        yield test_client
    forget_store(env.db_url)


def test_post_signal_needs_a_token_and_is_idempotent(client: TestClient) -> None:
    body = signal(at=(datetime.now(UTC) - timedelta(minutes=1)).isoformat())
    assert client.post("/api/v1/signals", json=body).status_code == 401
    assert client.post("/api/v1/signals", json=body, headers={"Authorization": "Bearer wrong"}).status_code == 401
    auth = {"Authorization": f"Bearer {TOKEN}"}
    created = client.post("/api/v1/signals", json=body, headers=auth)
    assert created.status_code == 201
    incident_id = created.json()["incident_id"]
    assert created.json() == {
        "signal_id": "sig_1",
        "incident_id": incident_id,
        "duplicate": False,
        "new_incident": True,
    }
    repeated = client.post("/api/v1/signals", json=body, headers=auth)
    assert (repeated.status_code, repeated.json()["duplicate"], repeated.json()["incident_id"]) == (
        200,
        True,
        incident_id,
    )
    listed = client.get("/api/v1/incidents", headers=auth).json()
    assert [row["id"] for row in listed] == [incident_id]
    shown = client.get(f"/api/v1/incidents/{incident_id}", headers=auth).json()
    assert (shown["id"], shown["signals"]) == (incident_id, 1)
    assert client.get("/api/v1/incidents/INC-none", headers=auth).status_code == 404
    invalid = client.post("/api/v1/signals", json={**body, "severity": "huge"}, headers=auth)
    assert invalid.status_code == 422
    assert "severity" in invalid.json()["error"]["message"]
    assert "/api/v1/signals" in client.get("/openapi.json").json()["paths"]


def _override(env: Env, name: str, text: str) -> Path:
    path = env.directory / "messages" / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    with env.config.open("a", encoding="utf-8") as handle:
        handle.write('\n[notify]\ntemplates = "messages"\n')
    return path.resolve()


def test_a_signal_is_taken_in_when_an_override_template_does_not_render(env: Env) -> None:
    broken = _override(env, "de/owner-team.j2", "{% block subject %}Alarm{% endblock %}\n{% block body %}{% if %}\n")
    with runtime(env) as rt:
        accepted = receive(rt, Signal.model_validate(signal(country="DE")), now=NOW)
        assert accepted.new_incident
        drafted = {(c.kind, c.recipient): c for c in comms(rt, accepted.incident_id) if not c.needs_approval}
        failure = f"{broken}:2: Expected an expression, got 'end of statement block'"
        assert {key: c.template_fallback for key, c in drafted.items()} == {
            ("internal-compliance", "Compliance on call"): None,
            ("internal-compliance", "Dana Privacy"): None,
            ("owner-team", "Web team"): failure,
        }
        owner = drafted[("owner-team", "Web team")]
        assert (owner.state, owner.subject) == (
            "queued",
            "[HOCH] Leck-Signal für frontend: leak-caught: e-mail address in a chat answer (j…@…com) "
            f"({accepted.incident_id})",
        )
        with rt.store.transaction() as session:
            doc = service.incident_document(session, incident_id=accepted.incident_id)
        assert [t["detail"] for t in doc["timeline"] if t["event"] == "message.template_fallback"] == [
            f"{owner.id}: drafted with the built-in template: {failure}"
        ]


def test_when_the_built_in_template_fails_too_the_error_stands(env: Env) -> None:
    # Both templates refuse a context the drafting step should never build: that is a bug, not a fallback.
    from leakline.notify.drafting import IncidentContext, render_message
    from leakline.notify.render import InvalidContextValue

    _override(env, "de/owner-team.j2", "{% block subject %}Alarm{% endblock %}\n{% block body %}x{% endblock %}\n")
    settings = load_settings(env.config)
    context = IncidentContext(incident={"id": "INC-1", "status": "bogus"}, signal=None)
    with pytest.raises(InvalidContextValue) as raised:
        render_message(
            settings,
            kind="owner-team",
            language="de",
            context=context,
            obligation=None,
            recipient={"name": "Web team", "kind": "owner-team", "role": "frontend"},
            now=NOW,
            builtin_fallback=True,
        )
    assert raised.value.message == (
        "de/owner-team.j2: context key 'incident.status': expected one of 'detected', 'triaged', 'contained', "
        "'notifying', 'closed', got 'bogus'"
    )


def _gateway_signal(*actions: str, sig_id: str, own_incident: bool = True) -> Signal:
    """The leak signal `leakline serve` emits for an answer with card-number hits handled by `actions`."""
    from leakline.guard.events import Exchange, Hit, leak_signal

    hits = tuple(
        Hit(detector="payment_card", action=action, start=10 * n, end=10 * n + 8, redacted_preview="4111…1111")
        for n, action in enumerate(actions)
    )
    made = leak_signal(
        Exchange(
            route="/v1/chat/completions", client="shop", region="eu", country="DE", pop=None, model="m",
            status=200, stream=False, prompt=None, response_text="", upstream_text="", prompt_bytes=0,
            response_bytes=0, scanned_bytes=0, hits=hits, blocked="block" in actions,
        )
    )  # fmt: skip
    assert made is not None
    # One incident per case: the same client and detectors would otherwise attach to the first one.
    fingerprint = f"{made.fingerprint}:{sig_id}" if own_incident else made.fingerprint
    return made.model_copy(update={"id": sig_id, "at": NOW, "fingerprint": fingerprint})


def _required(doc: dict) -> set[tuple[str, str]]:
    return {(o["regime"], o["jurisdiction"]) for o in doc["obligations"] if o["required"]}


def test_a_leak_the_gateway_redacted_or_blocked_is_contained_and_needs_no_notification(env: Env) -> None:
    with runtime(env) as rt:
        for n, actions in enumerate((("redact",), ("block",), ("redact", "block"))):
            accepted = receive(rt, _gateway_signal(*actions, sig_id=f"sig_c{n}"), now=NOW)
            assert accepted.new_incident
            with rt.store.transaction() as session:
                doc = service.incident_document(session, incident_id=accepted.incident_id)
            assert doc["facts"]["breach"] == {
                "types": ["confidentiality"],
                "cause": "unknown",
                "malicious": False,
                "exfiltration": "ruled-out",
                "materiality": "undetermined",
            }, actions
            assert (doc["risk"], _required(doc)) == ("none", {("gdpr-33-5", "EU")}), actions
            assert "confidentiality: exfiltration ruled out" in doc["risk_reasons"]
            assert [c for c in doc["communications"] if c["kind"] == "supervisory-authority"] == []


def test_a_leak_the_gateway_only_alerted_on_stays_a_breach_to_assess(env: Env) -> None:
    with runtime(env) as rt:
        for n, actions in enumerate((("alert",), ("redact", "alert"))):
            accepted = receive(rt, _gateway_signal(*actions, sig_id=f"sig_a{n}"), now=NOW)
            with rt.store.transaction() as session:
                doc = service.incident_document(session, incident_id=accepted.incident_id)
            breach = doc["facts"]["breach"]
            assert (breach["cause"], breach["exfiltration"]) == ("llm-output-leak", "unknown"), actions
            assert ("gdpr-33", "DE") in _required(doc), actions
            assert [c["state"] for c in doc["communications"] if c["kind"] == "supervisory-authority"] == ["draft"]


def test_a_leak_let_through_after_a_contained_one_replaces_its_provisional_facts(env: Env) -> None:
    # Same client and detectors (one incident), but the action was changed to alert in between: the second
    # answer reached the user, so the incident is no longer a leak that nobody saw.
    with runtime(env) as rt:
        first = receive(rt, _gateway_signal("redact", sig_id="sig_r", own_incident=False), now=NOW)
        second = receive(rt, _gateway_signal("alert", sig_id="sig_p", own_incident=False), now=NOW)
        again = receive(rt, _gateway_signal("block", sig_id="sig_b", own_incident=False), now=NOW)
        assert {second.incident_id, again.incident_id} == {first.incident_id}
        with rt.store.transaction() as session:
            doc = service.incident_document(session, incident_id=first.incident_id)
            versions = service.facts_versions(session, incident_id=first.incident_id)
        assert [(v["version"], v["actor"], v["reason"]) for v in versions] == [
            (1, "signal:gateway:eu", "initial"),
            (2, "signal:gateway:eu", "signal sig_p: the gateway let a hit through (actions alert)"),
        ]
        assert (doc["facts"]["breach"]["exfiltration"], doc["facts"]["breach"]["cause"]) == (
            "unknown",
            "llm-output-leak",
        )
        assert ("gdpr-33", "DE") in _required(doc)
        assert [c["state"] for c in doc["communications"] if c["kind"] == "supervisory-authority"] == ["draft"]


def test_a_signal_never_overrides_facts_a_person_gave(cli: Callable[..., tuple[int, str, str]], env: Env) -> None:
    with runtime(env) as rt:
        first = receive(rt, _gateway_signal("redact", sig_id="sig_r", own_incident=False), now=NOW)
    facts = env.directory / "facts.json"
    with runtime(env) as rt, rt.store.transaction() as session:
        stored = service.incident_document(session, incident_id=first.incident_id)["facts"]
    facts.write_text(json.dumps(stored), encoding="utf-8")
    config = str(env.config)
    assert (
        cli("incident", "facts", first.incident_id, "--facts", str(facts), "--by", "Dana", "--config", config)[0] == 0
    )
    with runtime(env) as rt:
        receive(rt, _gateway_signal("alert", sig_id="sig_p", own_incident=False), now=NOW)
        with rt.store.transaction() as session:
            versions = service.facts_versions(session, incident_id=first.incident_id)
    assert [(v["version"], v["actor"]) for v in versions] == [(1, "signal:gateway:eu"), (2, "Dana")]


def test_show_of_an_incident_without_facts_says_how_to_add_them(
    cli: Callable[..., tuple[int, str, str]], env: Env
) -> None:
    # A signal that names no data opens an incident with no facts: nothing can be assessed until people add them.
    path = env.directory / "signal.json"
    path.write_text(json.dumps(signal(data_categories=[], subjects_estimate=None)), encoding="utf-8")
    code, out, err = cli("signal", str(path), "--config", str(env.config))
    assert code == 0, err
    incident = json.loads(out)["incident_id"]
    code, out, err = cli("incident", "show", incident, "--config", str(env.config))
    assert code == 0, err
    assert "facts v0" in out
    assert out[out.index("Next steps") :].splitlines()[1:] == [
        "  no facts yet, so no obligations: write them (fields and an example: docs/assess.md, 'Facts') and add "
        f"them: leakline incident facts {incident} --facts facts.json",
        "  then deliver: leakline worker (or leakline worker --once)",
    ]


def test_a_signal_from_a_placeholder_country_still_opens_an_incident_with_its_people(env: Env) -> None:
    # CDNs put "XX" (unknown) or "T1" (Tor) where a country goes; the facts refuse such codes, and the
    # provisional facts built from the signal failed with them. The people count without a place.
    with runtime(env) as rt:
        accepted = receive(rt, Signal.model_validate(signal(country="XX")), now=NOW)
        with rt.store.transaction() as session:
            doc = service.incident_document(session, incident_id=accepted.incident_id)
        assert accepted.new_incident
        assert (doc["facts"]["data"]["subjects"], doc["facts"]["data"]["subjects_by_jurisdiction"]) == (3, {})
