"""`leakline incident ...` end to end through the CLI, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from leakline.obligations import assess, load_facts
from tests.incidents.helpers import audit_kinds, facts_file
from tests.store.helpers import Env

Cli = Callable[..., tuple[int, str, str]]


def _open(cli: Cli, env: Env, facts: Path, title: str = "Chat leak") -> dict:
    code, out, err = cli(
        "incident", "open", "--facts", str(facts), "--title", title, "--config", str(env.config), "--format", "json"
    )
    assert code == 0, err
    return json.loads(out)


def _show(cli: Cli, env: Env, incident_id: str) -> dict:
    code, out, err = cli("incident", "show", incident_id, "--format", "json", "--config", str(env.config))
    assert code == 0, err
    return json.loads(out)


def _assessed(obligations: list[dict]) -> list[dict]:
    """The obligations of `incident show --format json` as `assess` returns them (without their progress)."""
    added = ("status", "notices", "outstanding", "supplements", "supplement_owed")
    return [{k: v for k, v in o.items() if k not in added} for o in obligations]


def test_open_assesses_drafts_and_alerts(cli: Cli, env: Env) -> None:
    facts = facts_file(env.directory)
    doc = _open(cli, env, facts)
    assert doc["id"].startswith("INC-")
    shown = _show(cli, env, doc["id"])
    expected = assess(load_facts(str(facts))).to_dict()
    assert shown["status"] == "triaged"
    assert shown["risk"] == expected["risk"]
    assert _assessed(shown["obligations"]) == expected["obligations"]
    comms = {(c["kind"], c["recipient"], c["channel"], c["to"], c["state"]) for c in shown["communications"]}
    assert comms == {
        ("supervisory-authority", "supervisory-authority", "smtp", "breach-reports@authority.example", "draft"),
        ("internal-compliance", "Compliance on call", "smtp", "compliance@acme.example", "queued"),
        ("internal-compliance", "Dana Privacy", "smtp", "dpo@acme.example", "queued"),
    }
    authority = next(c for c in shown["communications"] if c["kind"] == "supervisory-authority")
    assert (authority["regime"], authority["jurisdiction"]) == ("gdpr-33", "DE")
    assert set(authority) >= {
        "id",
        "kind",
        "regime",
        "recipient",
        "jurisdiction",
        "channel",
        "to",
        "state",
        "subject",
        "body",
    }
    events = [t["event"] for t in shown["timeline"]]
    assert events[:4] == ["opened", "facts.version", "assessed", "status"]
    assert events.count("message.drafted") == 3
    assert events.count("message.queued") == 2
    assert all(set(t) == {"at", "actor", "event", "detail"} for t in shown["timeline"])
    assert audit_kinds(env.directory / "audit") == ["incident." + e for e in events]


def test_show_text_lists_obligations_with_time_left_and_messages(cli: Cli, env: Env) -> None:
    doc = _open(cli, env, facts_file(env.directory))
    code, out, _ = cli("incident", "show", doc["id"], "--config", str(env.config))
    assert code == 0
    assert "Obligations (required)" in out
    assert "overdue by" in out or "in " in out
    assert "breach-reports@authority.example" not in out  # addresses stay out of the overview
    assert "supervisory-authority" in out and "draft" in out and "queued" in out


def test_malformed_facts_are_refused_and_nothing_is_stored(cli: Cli, env: Env) -> None:
    doc = _open(cli, env, facts_file(env.directory))
    before = _show(cli, env, doc["id"])
    bad = facts_file(env.directory, "bad.json", data__subjects="many")
    code, _, err = cli("incident", "open", "--facts", str(bad), "--config", str(env.config))
    assert code == 2
    assert f"{bad}: data.subjects: expected an integer, got 'many'" in err
    code, _, err = cli("incident", "facts", doc["id"], "--facts", str(bad), "--config", str(env.config))
    assert code == 2
    assert "data.subjects: expected an integer" in err
    unknown = facts_file(env.directory, "unknown.json", controller__establishments=["Germany"])
    code, _, err = cli("incident", "facts", doc["id"], "--facts", str(unknown), "--config", str(env.config))
    assert code == 2
    assert "controller.establishments.0: expected an ISO 3166 code such as 'DE' or 'US-CA', got 'Germany'" in err
    impossible = facts_file(env.directory, "date.json", aware_at="2026-02-30T10:00:00+00:00")
    code, _, err = cli("incident", "facts", doc["id"], "--facts", str(impossible), "--config", str(env.config))
    assert code == 2
    assert "aware_at: expected an ISO 8601 date-time with a UTC offset" in err
    broken = env.directory / "broken.json"
    broken.write_bytes(b'{"aware_at": ')
    code, _, err = cli("incident", "facts", doc["id"], "--facts", str(broken), "--config", str(env.config))
    assert code == 2
    assert "invalid JSON at byte offset 13" in err
    assert _show(cli, env, doc["id"]) == before
    code, out, _ = cli("incident", "list", "--format", "json", "--config", str(env.config))
    assert [row["id"] for row in json.loads(out)] == [doc["id"]]


def test_amended_facts_keep_versions_and_recompute(cli: Cli, env: Env) -> None:
    doc = _open(cli, env, facts_file(env.directory))
    moved = facts_file(env.directory, "fr.json", controller__establishments=["FR"])
    code, out, err = cli(
        "incident",
        "facts",
        doc["id"],
        "--facts",
        str(moved),
        "--reason",
        "main establishment is FR",
        "--by",
        "Dana",
        "--config",
        str(env.config),
    )
    assert code == 0, err
    shown = _show(cli, env, doc["id"])
    assert {(o["regime"], o["jurisdiction"], o["recipient"]) for o in shown["obligations"] if o["required"]} == {
        ("gdpr-33", "FR", "supervisory-authority"),
        ("gdpr-33-5", "EU", "internal-record"),
    }
    drafts = {
        (c["jurisdiction"], c["withdrawn"], c["state"])
        for c in shown["communications"]
        if c["kind"] == "supervisory-authority"
    }
    assert drafts == {("DE", True, "draft"), ("FR", False, "draft")}
    fr = next(c for c in shown["communications"] if c["jurisdiction"] == "FR")
    assert fr["channel"] == "none"  # no [authorities.FR] route: sending says what to configure
    code, out, _ = cli("incident", "facts", doc["id"], "--config", str(env.config))
    versions = json.loads(out)
    assert [(v["version"], v["actor"], v["reason"]) for v in versions] == [
        (1, "cli", "initial"),
        (2, "Dana", "main establishment is FR"),
    ]
    assert versions[0]["facts"]["controller"]["establishments"] == ["DE"]
    assert versions[1]["facts"]["controller"]["establishments"] == ["FR"]
    code, _, err = cli("incident", "approve", doc["id"], fr["id"], "--by", "Dana", "--config", str(env.config))
    assert code == 0
    code, _, err = cli("incident", "send", doc["id"], fr["id"], "--config", str(env.config))
    assert code == 2
    assert f"{fr['id']}: no address for supervisory-authority in FR" in err


def test_lifecycle_moves_forward_only_and_close_freezes(cli: Cli, env: Env) -> None:
    doc = _open(cli, env, facts_file(env.directory))
    config = str(env.config)
    assert cli("incident", "move", doc["id"], "contained", "--config", config)[0] == 0
    code, _, err = cli("incident", "move", doc["id"], "triaged", "--config", config)
    assert code == 2
    assert f"incident {doc['id']} is contained; it cannot go to triaged" in err
    assert (
        cli("incident", "close", doc["id"], "--by", "Dana", "--force", "--reason", "drill", "--config", config)[0] == 0
    )
    code, _, err = cli("incident", "assess", doc["id"], "--config", config)
    assert code == 2
    assert f"incident {doc['id']} is closed" in err
    shown = _show(cli, env, doc["id"])
    assert shown["status"] == "closed"
    assert [t["detail"] for t in shown["timeline"] if t["event"] == "status"] == [
        "detected → triaged",
        "triaged → contained",
        "contained → closed",
    ]


def test_a_closed_incident_refuses_approve_send_and_ack(cli: Cli, env: Env) -> None:
    aware = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)
    doc = _open(cli, env, facts_file(env.directory, aware_at=aware.isoformat()))
    config = str(env.config)
    assert cli("worker", "--once", "--config", config)[0] == 0
    before = _show(cli, env, doc["id"])
    draft = next(c for c in before["communications"] if c["state"] == "draft")
    sent = next(c for c in before["communications"] if c["state"] == "sent")
    assert (
        cli("incident", "close", doc["id"], "--by", "Dana", "--force", "--reason", "drill", "--config", config)[0] == 0
    )
    closed = _show(cli, env, doc["id"])
    for args in (
        ("approve", doc["id"], draft["id"], "--by", "Dana"),
        ("send", doc["id"], draft["id"]),
        ("send", doc["id"]),
        ("ack", doc["id"], sent["id"], "--by", "Dana"),
    ):
        code, out, err = cli("incident", *args, "--config", config)
        assert (code, out) == (2, ""), args
        assert err == f"incident {doc['id']} is closed; it accepts no more changes", args
    assert _show(cli, env, doc["id"]) == closed


def test_unknown_incident_is_a_clear_error(cli: Cli, env: Env) -> None:
    code, _, err = cli("incident", "show", "INC-nope", "--config", str(env.config))
    assert code == 2
    assert "no incident 'INC-nope'" in err


def test_a_mistyped_incident_id_is_named_by_approve_send_and_ack(cli: Cli, env: Env) -> None:
    # A typo in the incident id must not look like success ("queued: nothing") nor blame the message id.
    doc = _open(cli, env, facts_file(env.directory))
    draft = next(c for c in doc["communications"] if c["state"] == "draft")
    config = str(env.config)
    for args in (
        ("approve", "INC-nope", draft["id"], "--by", "Dana"),
        ("send", "INC-nope"),
        ("send", "INC-nope", draft["id"]),
        ("ack", "INC-nope", draft["id"], "--by", "Dana"),
    ):
        code, out, err = cli("incident", *args, "--config", config)
        assert (code, out) == (2, ""), args
        assert err == "no incident 'INC-nope'\nhint: `leakline incident list` shows the ids", args
    assert _show(cli, env, doc["id"])["communications"] == doc["communications"]


def test_assess_recomputes_with_the_current_facts(cli: Cli, env: Env) -> None:
    doc = _open(cli, env, facts_file(env.directory))
    code, out, _ = cli("incident", "assess", doc["id"], "--format", "json", "--config", str(env.config))
    assert code == 0
    assert json.loads(out)["obligations"] == _assessed(_show(cli, env, doc["id"])["obligations"])


def test_high_risk_incident_drafts_every_kind_of_notice_in_its_language(cli: Cli, env: Env) -> None:
    big = facts_file(
        env.directory,
        "big.json",
        controller__sector="online-marketplace",
        data__categories=["identity", "contact", "payment-card", "health"],
        data__subjects=50000,
        data__subjects_by_jurisdiction={"DE": 40000, "US-CA": 10000},
        service_impact={"users_affected": 50000, "unavailable_hours": 30, "eu_users_total": 100000},
        containment={"operational_impact": "significant"},
    )
    shown = _show(cli, env, _open(cli, env, big)["id"])
    assert shown["risk"] == "high"
    drafted = {(c["kind"], c["regime"], c["jurisdiction"], c["state"]) for c in shown["communications"]}
    assert drafted == {
        ("nis2-early-warning", "nis2-23-early-warning", "DE", "draft"),
        ("nis2-notification", "nis2-23-notification", "DE", "draft"),
        ("nis2-final-report", "nis2-23-final", "DE", "draft"),
        ("supervisory-authority", "gdpr-33", "DE", "draft"),
        ("us-sample-copy", "us-ca-1798-82", "US-CA", "draft"),
        ("data-subject-us", "us-ca-1798-82", "US-CA", "draft"),
        ("data-subject", "gdpr-34", "EU", "draft"),
        ("internal-compliance", None, None, "queued"),
        ("executive-brief", None, None, "queued"),
    }
    assert {c["recipient"] for c in shown["communications"] if c["kind"] == "executive-brief"} == {"CEO"}
    assert all(c["subject"].strip() and c["body"].strip() for c in shown["communications"])
    assert all("\n" not in c["subject"] for c in shown["communications"])


def test_worker_and_ack_from_the_command_line(cli: Cli, env: Env) -> None:
    # The worker runs on the real clock: the breach must be recent, or deadlines (NIS2's 24 h early
    # warning) have passed and reminders go out too.
    aware = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)
    doc = _open(cli, env, facts_file(env.directory, aware_at=aware.isoformat()))
    code, out, err = cli("worker", "--once", "--config", str(env.config))
    assert code == 0, err
    assert json.loads(out) == {"sent": 2, "retried": 0, "dead": 0, "lost_leases": 0, "escalations": 0, "reminders": 0}
    sent = [c for c in _show(cli, env, doc["id"])["communications"] if c["state"] == "sent"]
    assert len(sent) == 2
    code, out, err = cli("incident", "ack", doc["id"], sent[0]["id"], "--by", "Sam", "--config", str(env.config))
    assert code == 0, err
    after = {c["id"]: (c["state"], c["acked_by"]) for c in _show(cli, env, doc["id"])["communications"]}
    assert after[sent[0]["id"]] == ("acked", "Sam")
    assert after[sent[1]["id"]] == ("sent", None)
    assert sorted(r.rcpt_tos[0] for r in env.smtp.received) == ["compliance@acme.example", "dpo@acme.example"]


def test_a_second_ack_says_who_acknowledged_and_records_nothing(cli: Cli, env: Env) -> None:
    aware = (datetime.now(UTC) - timedelta(minutes=30)).replace(microsecond=0)
    doc = _open(cli, env, facts_file(env.directory, aware_at=aware.isoformat()))
    config = str(env.config)
    assert cli("worker", "--once", "--config", config)[0] == 0
    sent = next(c for c in _show(cli, env, doc["id"])["communications"] if c["state"] == "sent")
    assert cli("incident", "ack", doc["id"], sent["id"], "--by", "Sam", "--config", config)[0] == 0
    before = _show(cli, env, doc["id"])
    acked = next(c for c in before["communications"] if c["id"] == sent["id"])
    code, out, err = cli("incident", "ack", doc["id"], sent["id"], "--by", "Kim", "--config", config)
    assert (code, out) == (2, "")
    assert err == f"{sent['id']} was already acknowledged by Sam at {acked['acked_at']}"
    after = _show(cli, env, doc["id"])
    assert after == before
    assert [t["event"] for t in after["timeline"]].count("message.acked") == 1


def test_an_address_added_after_drafting_reaches_the_notice_on_reassessment(cli: Cli, env: Env) -> None:
    # The hint of a failed send says: add the address, then reassess. That must make the notice sendable,
    # approved or not, without approving it again.
    config = str(env.config)
    facts = facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 80, "GB": 20})
    doc = _open(cli, env, facts)
    by_regime = {c["regime"]: c for c in doc["communications"] if c["kind"] == "supervisory-authority"}
    uk, de = by_regime["uk-gdpr-33"], by_regime["gdpr-33"]
    assert (uk["channel"], uk["to"]) == ("none", "")
    assert cli("incident", "approve", doc["id"], uk["id"], "--by", "Dana", "--config", config)[0] == 0
    code, _, err = cli("incident", "send", doc["id"], uk["id"], "--config", config)
    assert code == 2
    assert err == (
        f"{uk['id']}: no address for supervisory-authority in GB\n"
        'hint: add [authorities.GB] supervisory-authority = "mailto:..." to leakline.toml (then amend the facts or '
        "reassess to re-draft), or deliver it yourself and record it: "
        f'leakline incident delivered {doc["id"]} {uk["id"]} --channel "HOW" --by NAME'
    )
    with env.config.open("a", encoding="utf-8") as handle:
        handle.write('\n[authorities.GB]\nsupervisory-authority = "mailto:casework@ico.example"\n')
    assert cli("incident", "assess", doc["id"], "--config", config)[0] == 0
    shown = {c["id"]: c for c in _show(cli, env, doc["id"])["communications"]}
    assert (shown[uk["id"]]["channel"], shown[uk["id"]]["to"], shown[uk["id"]]["state"]) == (
        "smtp",
        "casework@ico.example",
        "approved",
    )
    assert shown[uk["id"]]["approved_by"] == "Dana"
    assert (shown[de["id"]]["channel"], shown[de["id"]]["to"]) == (de["channel"], de["to"])
    code, out, err = cli("incident", "send", doc["id"], uk["id"], "--config", config)
    assert (code, out) == (0, f"queued: {uk['id']}\n"), err
    routed = [t["detail"] for t in _show(cli, env, doc["id"])["timeline"] if t["event"] == "message.routed"]
    assert routed == [f"{uk['id']}: supervisory-authority to supervisory-authority via smtp"]


def test_show_text_tells_notices_apart_and_says_what_to_do_next(cli: Cli, env: Env) -> None:
    # Two notices to two authorities must not look alike, and a first-time user must see the next commands.
    facts = facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 80, "GB": 20})
    doc = _open(cli, env, facts)
    by_regime = {c["regime"]: c["id"] for c in doc["communications"] if c["kind"] == "supervisory-authority"}
    code, out, err = cli("incident", "show", doc["id"], "--config", str(env.config))
    assert code == 0, err
    rows = {line.split("│")[1].strip(): line for line in out.splitlines() if line.startswith("│ msg_")}
    assert "gdpr-33 DE" in rows[by_regime["gdpr-33"]]
    assert "uk-gdpr-33 GB" in rows[by_regime["uk-gdpr-33"]]
    steps = out[out.index("Next steps") :].splitlines()[1:]
    assert steps == [
        f"  approve gdpr-33 DE once you have read it (leakline incident show {doc['id']} {by_regime['gdpr-33']}): "
        f"leakline incident approve {doc['id']} {by_regime['gdpr-33']} --by NAME",
        f'  no address for uk-gdpr-33 GB: add [authorities.GB] supervisory-authority = "mailto:..." to '
        f"leakline.toml, then leakline incident assess {doc['id']}",
        f"  approve uk-gdpr-33 GB once you have read it (leakline incident show {doc['id']} "
        f"{by_regime['uk-gdpr-33']}): leakline incident approve {doc['id']} {by_regime['uk-gdpr-33']} --by NAME",
        f"  then queue the approved notices: leakline incident send {doc['id']}",
        "  then deliver: leakline worker (or leakline worker --once)",
    ]


def test_open_text_says_what_is_due_first_and_what_to_do_next(cli: Cli, env: Env) -> None:
    aware = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    facts = facts_file(env.directory, aware_at=aware.isoformat())
    code, out, err = cli("incident", "open", "--facts", str(facts), "--config", str(env.config))
    assert code == 0, err
    incident = out.split()[1]
    due = (aware + timedelta(hours=72)).isoformat().replace("+00:00", "Z")
    # gdpr-33-5 is a record to keep, not a notification: one notification (to the German authority).
    assert out.splitlines() == [
        f"opened {incident} (triaged, risk risk); 1 required notification, first due {due} (in 70h); "
        "1 notice to approve",
        f"next: leakline incident show {incident}",
    ]
    assessed = [t["detail"] for t in _show(cli, env, incident)["timeline"] if t["event"] == "assessed"]
    assert assessed == [f"risk risk; 1 required notifications, first due {due}"]


def test_the_alert_sent_when_an_incident_opens_states_its_deadlines(cli: Cli, env: Env) -> None:
    aware = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    doc = _open(cli, env, facts_file(env.directory, aware_at=aware.isoformat()))
    due = (aware + timedelta(hours=72)).isoformat().replace("+00:00", "Z")
    alert = next(c for c in doc["communications"] if c["kind"] == "internal-compliance")
    body = alert["body"].splitlines()
    start = body.index("Fristen (erforderliche Meldungen)")  # the organisation is German
    assert body[start + 1].startswith(f"  gdpr-33 (DE) → supervisory-authority: {due} (")
    assert body[start + 1].endswith(" – in 2 Tagen 21 Stunden") or body[start + 1].endswith(" – in 2 Tagen 22 Stunden")


def test_send_with_nothing_approved_points_at_the_drafts_waiting_for_approval(cli: Cli, env: Env) -> None:
    doc = _open(cli, env, facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 80, "GB": 20}))
    code, out, err = cli("incident", "send", doc["id"], "--config", str(env.config))
    assert (code, out) == (0, f"queued: nothing (2 notices await approval: leakline incident show {doc['id']})\n"), err


def test_an_approved_notice_whose_duty_no_longer_arises_is_withdrawn_not_sent(cli: Cli, env: Env) -> None:
    config = str(env.config)
    doc = _open(cli, env, facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 80, "GB": 20}))
    uk = next(c for c in doc["communications"] if c["regime"] == "uk-gdpr-33")
    assert cli("incident", "approve", doc["id"], uk["id"], "--by", "Dana", "--config", config)[0] == 0
    no_uk = facts_file(env.directory, "no-uk.json", data__subjects_by_jurisdiction={"DE": 100})
    code, _, err = cli(
        "incident", "facts", doc["id"], "--facts", str(no_uk), "--reason", "no UK customers", "--config", config
    )
    assert code == 0, err
    shown = _show(cli, env, doc["id"])
    after = next(c for c in shown["communications"] if c["id"] == uk["id"])
    assert (after["state"], after["withdrawn"], after["approved_by"]) == ("draft", True, None)
    withdrawn = [t["detail"] for t in shown["timeline"] if t["event"] == "message.withdrawn"]
    assert withdrawn == [
        f"{uk['id']}: the duty no longer arises with the current facts (the approval by Dana no longer applies)"
    ]
    code, out, err = cli("incident", "send", doc["id"], "--config", config)
    assert (code, out) == (0, f"queued: nothing (1 notice awaits approval: leakline incident show {doc['id']})\n"), err
    code, _, err = cli("incident", "send", doc["id"], uk["id"], "--config", config)
    assert code == 2
    assert err == f"{uk['id']} was withdrawn: its duty no longer arises"


_BROKEN_ALERT = """{% block subject %}Vorfall {{ incident.id }}{% endblock %}
{% block body %}
{{ incident.nothing_here }}
{% endblock %}
"""


def _broken_override(env: Env) -> Path:
    """`[notify] templates` with a German internal alert that reads a key the context lacks (line 3)."""
    folder = env.directory / "messages" / "de"
    folder.mkdir(parents=True)
    (folder / "internal-compliance.j2").write_text(_BROKEN_ALERT, encoding="utf-8")
    with env.config.open("a", encoding="utf-8") as handle:
        handle.write('\n[notify]\ntemplates = "messages"\n')
    return folder / "internal-compliance.j2"


def test_a_broken_override_template_never_stops_an_incident_from_opening(cli: Cli, env: Env) -> None:
    broken = _broken_override(env)
    config = str(env.config)
    code, out, err = _leakline("incident", "open", "--facts", str(facts_file(env.directory)), "--config", config)
    incident = out.split()[1]
    shown = _show(cli, env, incident)
    alerts = [c for c in shown["communications"] if c["kind"] == "internal-compliance"]
    failure = f"{broken.resolve()}:3: the context has no key 'incident.nothing_here'"
    assert [(c["state"], c["template_fallback"]) for c in alerts] == [("queued", failure)] * 2
    builtin = f"[RISIKO] Mögliche Verletzung des Schutzes personenbezogener Daten {incident}: Incident"
    assert [c["subject"] for c in alerts] == [builtin] * 2
    notice = next(c for c in shown["communications"] if c["kind"] == "supervisory-authority")
    assert notice["template_fallback"] is None
    # Opened, assessed and stored, its summary printed; then the same report as `facts` and `assess` give.
    assert (shown["status"], shown["facts_version"]) == ("triaged", 1)
    assert out.startswith(f"opened {incident} (triaged, risk {shown['risk']}); ")
    assert (code, err) == (
        2,
        "".join(
            f"warning: {c['id']} (internal-compliance): drafted with the built-in template: {failure}\n" for c in alerts
        )
        + f"error: {incident}: 2 alerts drafted with the built-in template: {failure}\n"
        "hint: the incident was opened and stored, and its alerts were queued with the built-in text; fix the "
        "template: the messages drafted from now on use it\n",
    )
    fallbacks = [t["detail"] for t in shown["timeline"] if t["event"] == "message.template_fallback"]
    assert sorted(fallbacks) == sorted(f"{c['id']}: drafted with the built-in template: {failure}" for c in alerts)
    assert audit_kinds(env.directory / "audit").count("incident.message.template_fallback") == 2
    code, text, err = cli("incident", "show", incident, "--config", config)
    assert code == 0, err
    listed = [" ".join(line.split()) for line in text.splitlines() if line.startswith("warning: ")]
    assert listed == [
        f"warning: {c['id']} (internal-compliance): drafted with the built-in template: {failure}" for c in alerts
    ]


def test_new_facts_that_change_an_approved_notice_withdraw_its_approval(cli: Cli, env: Env) -> None:
    config = str(env.config)
    with env.config.open("a", encoding="utf-8") as handle:
        handle.write('\n[authorities.GB]\nsupervisory-authority = "mailto:casework@ico.example"\n')
    doc = _open(cli, env, facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 80, "GB": 20}))
    notices = {c["regime"]: c for c in doc["communications"] if c["kind"] == "supervisory-authority"}
    de, uk = notices["gdpr-33"], notices["uk-gdpr-33"]
    for notice in (de, uk):
        assert cli("incident", "approve", doc["id"], notice["id"], "--by", "Dana", "--config", config)[0] == 0
    # Approval renders the text again as of its own time (the notice's date): that text is what stands.
    approved = {c["id"]: c for c in _show(cli, env, doc["id"])["communications"]}
    de, uk = approved[de["id"]], approved[uk["id"]]
    # The same facts again: the text would not change, so the approvals stand.
    assert cli("incident", "assess", doc["id"], "--config", config)[0] == 0
    kept = {c["id"]: c for c in _show(cli, env, doc["id"])["communications"]}
    assert [(kept[n["id"]]["state"], kept[n["id"]]["body"]) for n in (de, uk)] == [
        ("approved", de["body"]),
        ("approved", uk["body"]),
    ]
    # The UK notice is queued; then more people turn out to be affected in both countries.
    assert cli("incident", "send", doc["id"], uk["id"], "--config", config)[0] == 0
    more = facts_file(
        env.directory, "more.json", data__subjects=250, data__subjects_by_jurisdiction={"DE": 200, "GB": 50}
    )
    code, _, err = cli("incident", "facts", doc["id"], "--facts", str(more), "--reason", "more", "--config", config)
    assert code == 0, err
    shown = _show(cli, env, doc["id"])
    after = {c["id"]: c for c in shown["communications"]}
    assert (after[de["id"]]["state"], after[de["id"]]["approved_by"], after[de["id"]]["approved_at"]) == (
        "draft",
        None,
        None,
    )
    assert "Ungefähre Zahl der betroffenen Personen: 250" in after[de["id"]]["body"]
    assert "Ungefähre Zahl der betroffenen Personen: 100" in de["body"]
    assert (after[uk["id"]]["state"], after[uk["id"]]["body"]) == ("queued", uk["body"])
    withdrawn = [t["detail"] for t in shown["timeline"] if t["event"] == "message.approval_withdrawn"]
    assert withdrawn == [f"{de['id']}: facts changed; approve again (the approval by Dana no longer applies)"]
    assert "incident.message.approval_withdrawn" in audit_kinds(env.directory / "audit")
    code, out, err = cli("incident", "send", doc["id"], "--config", config)
    assert (code, out) == (0, f"queued: nothing (1 notice awaits approval: leakline incident show {doc['id']})\n"), err


def test_a_notice_delivered_by_hand_is_recorded_and_meets_its_deadline(cli: Cli, env: Env) -> None:
    config = str(env.config)
    aware = (datetime.now(UTC) - timedelta(hours=80)).replace(microsecond=0)
    facts = facts_file(env.directory, aware_at=aware.isoformat(), data__subjects_by_jurisdiction={"DE": 80, "GB": 20})
    doc = _open(cli, env, facts)
    uk = next(c for c in doc["communications"] if c["regime"] == "uk-gdpr-33")
    assert uk["channel"] == "none"  # no [authorities.GB]: `send` says "deliver it yourself and record it"
    code, _, err = cli("incident", "delivered", doc["id"], uk["id"], "--channel", "ICO portal", "--config", config)
    assert (code, err) == (
        2,
        f"{uk['id']} (supervisory-authority) needs approval before it is delivered\n"
        f"hint: leakline incident approve {doc['id']} {uk['id']} --by NAME",
    )
    code, _, err = cli(
        "incident", "delivered", doc["id"], uk["id"], "--channel", "ICO portal", "--at", "2026-11-26T09:30:00",
        "--config", config,
    )  # fmt: skip
    assert (code, err) == (
        2,
        "--at: expected an ISO 8601 date-time with a UTC offset (e.g. +00:00 or Z), got '2026-11-26T09:30:00'",
    )
    assert cli("incident", "approve", doc["id"], uk["id"], "--by", "Dana", "--config", config)[0] == 0
    at = (datetime.now(UTC) - timedelta(hours=1)).replace(microsecond=0)
    shown_at = at.isoformat().replace("+00:00", "Z")
    code, out, err = cli(
        "incident", "delivered", doc["id"], uk["id"], "--channel", "ICO portal", "--at", at.isoformat(),
        "--by", "Dana", "--reference", "ICO case 4711", "--config", config,
    )  # fmt: skip
    assert (code, out) == (0, f"{uk['id']}: delivered by hand via ICO portal at {shown_at}, recorded by Dana\n"), err
    shown = _show(cli, env, doc["id"])
    after = next(c for c in shown["communications"] if c["id"] == uk["id"])
    how = "by hand via ICO portal (reference ICO case 4711), recorded by Dana"
    assert (after["state"], after["sent_at"], after["delivery"]) == ("sent", shown_at, how)
    assert shown["status"] == "notifying"
    sent = [t for t in shown["timeline"] if t["event"] == "message.sent"]
    assert [(t["actor"], t["detail"]) for t in sent] == [("Dana", f"{uk['id']}: delivered {how}")]
    assert "incident.message.sent" in audit_kinds(env.directory / "audit")
    # Recorded twice is refused, naming when and how it was delivered.
    code, out, err = cli("incident", "delivered", doc["id"], uk["id"], "--channel", "fax", "--config", config)
    assert (code, out, err) == (2, "", f"{uk['id']} was already delivered at {shown_at} {how}")
    # The deadline is met: a worker pass raises the overdue alert for the German notice only.
    assert cli("worker", "--once", "--config", config)[0] == 0
    overdue = [t["detail"] for t in _show(cli, env, doc["id"])["timeline"] if t["detail"].startswith("overdue: ")]
    assert [d.split(" was due ")[0] for d in overdue] == ["overdue: gdpr-33 DE supervisory-authority"]
    assert cli("incident", "close", doc["id"], "--force", "--reason", "drill", "--config", config)[0] == 0
    de = next(c for c in doc["communications"] if c["regime"] == "gdpr-33")
    code, _, err = cli("incident", "delivered", doc["id"], de["id"], "--channel", "fax", "--config", config)
    assert (code, err) == (2, f"incident {doc['id']} is closed; it accepts no more changes")


def test_a_withdrawn_notice_cannot_be_recorded_as_delivered(cli: Cli, env: Env) -> None:
    config = str(env.config)
    doc = _open(cli, env, facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 80, "GB": 20}))
    uk = next(c for c in doc["communications"] if c["regime"] == "uk-gdpr-33")
    no_uk = facts_file(env.directory, "no-uk.json", data__subjects_by_jurisdiction={"DE": 100})
    assert cli("incident", "facts", doc["id"], "--facts", str(no_uk), "--config", config)[0] == 0
    before = _show(cli, env, doc["id"])
    code, out, err = cli("incident", "delivered", doc["id"], uk["id"], "--channel", "fax", "--config", config)
    assert (code, out, err) == (2, "", f"{uk['id']} was withdrawn: its duty no longer arises")
    assert _show(cli, env, doc["id"]) == before


def test_a_failed_delivery_points_at_queueing_again_or_recording_a_delivery_by_hand() -> None:
    from leakline.incidents.cli import next_steps

    failed = {
        "id": "msg_1",
        "kind": "internal-compliance",
        "regime": None,
        "jurisdiction": None,
        "recipient": "Dana Privacy",
        "channel": "smtp",
        "state": "failed",
        "withdrawn": False,
    }
    doc = {"id": "INC-1", "status": "triaged", "facts_version": 1, "obligations": [], "communications": [failed]}
    assert next_steps(doc) == [
        "delivery failed for msg_1 (internal-compliance to Dana Privacy via smtp): fix the channel and queue it "
        "again: leakline incident send INC-1 msg_1, or deliver it another way and record it: "
        'leakline incident delivered INC-1 msg_1 --channel "HOW" --by NAME'
    ]


_BROKEN_NOTICE = """{% block subject %}Breach {{ incident.id }}{% endblock %}
{% block body %}
{{ incident.nothing_here }}
{% endblock %}
"""
_ACME_NOTICE = """{% extends "builtin/en/supervisory-authority.j2" %}
{% block subject %}[Acme] {{ super() }}{% endblock %}
"""


def _leakline(*args: str) -> tuple[int, str, str]:
    """Through the real entry point: stderr as a person sees it (warnings, then the error and its hint)."""
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "leakline.cli", *args], capture_output=True, text=True, check=False, timeout=120
    )
    return done.returncode, done.stdout, done.stderr


def _english_notice_override(env: Env, text: str) -> Path:
    """`[notify] templates` with an English supervisory-authority notice (the UK's; Germany's stays German)."""
    path = env.directory / "messages" / "en" / "supervisory-authority.j2"
    if not path.parent.exists():
        path.parent.mkdir(parents=True)
        with env.config.open("a", encoding="utf-8") as handle:
            handle.write('\n[notify]\ntemplates = "messages"\n')
    path.write_text(text, encoding="utf-8")
    return path.resolve()


def _fallback_report(
    incident: str, notices: list[str], failure: str, stored: str = "everything else was assessed and stored"
) -> str:
    warnings = "".join(
        f"warning: {notice} (supervisory-authority): drafted with the built-in template: {failure}\n"
        for notice in notices
    )
    count = f"{len(notices)} notice" + ("" if len(notices) == 1 else "s")
    return (
        f"{warnings}error: {incident}: {count} drafted with the built-in template: {failure}\n"
        f"hint: {stored}; fix the template, then `leakline incident assess {incident}` drafts it again\n"
    )


def test_a_broken_notice_template_does_not_stop_new_facts_or_reassessment(cli: Cli, env: Env) -> None:
    config = str(env.config)
    doc = _open(cli, env, facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 100}))
    incident = doc["id"]
    broken = _english_notice_override(env, _BROKEN_NOTICE)
    failure = f"{broken}:3: the context has no key 'incident.nothing_here'"
    # The new facts add a UK duty (its notice is English: the broken template) and change the German one.
    uk_too = facts_file(
        env.directory, "uk.json", data__subjects=250, data__subjects_by_jurisdiction={"DE": 200, "GB": 50}
    )
    code, out, err = _leakline("incident", "facts", incident, "--facts", str(uk_too), "--config", config)
    shown = _show(cli, env, incident)
    assert shown["facts_version"] == 2
    assert (
        _assessed(shown["obligations"])
        == assess(load_facts(str(uk_too)), now=datetime.now(UTC)).to_dict()["obligations"]
    )
    notices = {c["regime"]: c for c in shown["communications"] if c["kind"] == "supervisory-authority"}
    de, uk = notices["gdpr-33"], notices["uk-gdpr-33"]
    assert (code, out, err) == (
        2,
        f"{incident}: facts version 2, risk {shown['risk']}\n",
        _fallback_report(incident, [uk["id"]], failure),
    )
    assert "Ungefähre Zahl der betroffenen Personen: 250" in de["body"] and de["template_fallback"] is None
    assert (uk["state"], uk["template_fallback"]) == ("draft", failure)
    # The UK notice names the UK GDPR (was "GDPR Art. 33", the EU regulation, to the ICO).
    builtin = f"Initial notification of a personal data breach (UK GDPR Art. 33) – Acme Shop GmbH – {incident}"
    assert uk["subject"] == builtin  # the built-in English notice
    fallbacks = [t["detail"] for t in shown["timeline"] if t["event"] == "message.template_fallback"]
    assert fallbacks == [f"{uk['id']}: drafted with the built-in template: {failure}"]
    # Every other duty of the new facts has its notice; none is missing.
    required = {
        (o["regime"], o["jurisdiction"])
        for o in shown["obligations"]
        if o["required"] and o["recipient"] != "internal-record"
    }
    assert {(c["regime"], c["jurisdiction"]) for c in shown["communications"] if c["regime"]} == required
    # Reassessing with the template still broken says so again, and prints the obligations all the same.
    code, out, err = _leakline("incident", "assess", incident, "--format", "json", "--config", config)
    assert (code, err) == (2, _fallback_report(incident, [uk["id"]], failure))
    assert json.loads(out)["obligations"] == _assessed(_show(cli, env, incident)["obligations"])
    # Fixed: the next reassessment drafts it with the override again, and succeeds.
    _english_notice_override(env, _ACME_NOTICE)
    code, _, err = _leakline("incident", "assess", incident, "--config", config)
    assert (code, err) == (0, "")
    fixed = next(c for c in _show(cli, env, incident)["communications"] if c["id"] == uk["id"])
    assert (fixed["template_fallback"], fixed["subject"][:7]) == (None, "[Acme] ")


def test_an_approved_notice_whose_template_breaks_is_not_kept_unchecked(cli: Cli, env: Env) -> None:
    config = str(env.config)
    _english_notice_override(env, _ACME_NOTICE)
    doc = _open(cli, env, facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 80, "GB": 20}))
    incident = doc["id"]
    uk = next(c for c in doc["communications"] if c["regime"] == "uk-gdpr-33")
    assert uk["subject"].startswith("[Acme] ")
    assert cli("incident", "approve", incident, uk["id"], "--by", "Dana", "--config", config)[0] == 0
    broken = _english_notice_override(env, _BROKEN_NOTICE)
    failure = f"{broken}:3: the context has no key 'incident.nothing_here'"
    # Its text can no longer be checked against the facts: the approval is withdrawn, never kept blindly.
    code, _, err = _leakline("incident", "assess", incident, "--config", config)
    assert (code, err) == (2, _fallback_report(incident, [uk["id"]], failure))
    shown = _show(cli, env, incident)
    after = next(c for c in shown["communications"] if c["id"] == uk["id"])
    assert (after["state"], after["approved_by"], after["template_fallback"]) == ("draft", None, failure)
    withdrawn = [t["detail"] for t in shown["timeline"] if t["event"] == "message.approval_withdrawn"]
    assert withdrawn == [
        f"{uk['id']}: its template fails, so it cannot be checked against the current facts; approve again "
        "(the approval by Dana no longer applies)"
    ]
    de = next(c for c in shown["communications"] if c["regime"] == "gdpr-33")
    assert (de["state"], de["template_fallback"]) == ("draft", None)


def test_an_approved_built_in_notice_keeps_its_approval_while_its_override_stays_broken(cli: Cli, env: Env) -> None:
    config = str(env.config)
    broken = _english_notice_override(env, _BROKEN_NOTICE)
    failure = f"{broken}:3: the context has no key 'incident.nothing_here'"
    facts = facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 80, "GB": 20})
    code, out, err = _leakline("incident", "open", "--facts", str(facts), "--config", config, "--format", "json")
    doc = json.loads(out)
    incident = doc["id"]
    uk = next(c for c in doc["communications"] if c["regime"] == "uk-gdpr-33")
    assert uk["template_fallback"] == failure  # drafted with the built-in template when the incident opened
    # `open` reports it as `facts` and `assess` do (exit 2), with the incident stored as its JSON says.
    stored = "the incident was opened and stored"
    assert (code, err) == (2, _fallback_report(incident, [uk["id"]], failure, stored=stored))
    assert _show(cli, env, incident)["communications"] == doc["communications"]
    assert cli("incident", "approve", incident, uk["id"], "--by", "Dana", "--config", config)[0] == 0
    # Approval dates the text anew (docs/notify.md): what must stand is the approved text, not the draft's.
    approved = next(c for c in _show(cli, env, incident)["communications"] if c["id"] == uk["id"])
    # The built-in text it was approved with is what the same facts still give: the approval stands.
    code, _, err = _leakline("incident", "assess", incident, "--config", config)
    assert (code, err) == (2, _fallback_report(incident, [uk["id"]], failure))
    after = next(c for c in _show(cli, env, incident)["communications"] if c["id"] == uk["id"])
    assert (after["state"], after["approved_by"], after["body"]) == ("approved", "Dana", approved["body"])


def test_close_is_refused_while_a_required_notice_is_not_delivered_unless_forced_with_a_reason(
    cli: Cli, env: Env
) -> None:
    # Closing stops reminders and overdue alerts: a notice the law requires must not be forgotten silently.
    config = str(env.config)
    doc = _open(cli, env, facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 80, "GB": 20}))
    incident = doc["id"]
    notices = {c["regime"]: c for c in doc["communications"] if c["kind"] == "supervisory-authority"}
    due = {o["regime"]: o["due_at"] for o in doc["obligations"]}
    assert cli("incident", "approve", incident, notices["gdpr-33"]["id"], "--by", "Dana", "--config", config)[0] == 0
    assert cli("incident", "send", incident, "--config", config)[0] == 0
    before = _show(cli, env, incident)
    refusal = (
        f"incident {incident} has 2 required notifications not delivered:\n"
        f"  gdpr-33 DE supervisory-authority due {due['gdpr-33']} (queued, not yet delivered)\n"
        f"  uk-gdpr-33 GB supervisory-authority due {due['uk-gdpr-33']} (not sent)\n"
        f"hint: deliver them (`leakline incident show {incident}` says how), or close anyway: "
        f'leakline incident close {incident} --force --reason "WHY"'
    )
    for args in (("close", incident), ("close", incident, "--reason", "done"), ("move", incident, "closed")):
        assert cli("incident", *args, "--config", config) == (2, "", refusal), args
    code, out, err = cli("incident", "close", incident, "--force", "--config", config)
    assert (code, out, err) == (2, "", '--force needs --reason "WHY" (kept in the timeline and the audit log)')
    assert _show(cli, env, incident) == before
    reason = "ICO told by phone, case 4711"
    code, out, err = cli(
        "incident", "close", incident, "--force", "--reason", reason, "--by", "Dana", "--config", config
    )
    assert (code, out) == (0, f"{incident}: closed\n"), err
    shown = _show(cli, env, incident)
    assert shown["status"] == "closed"
    forced = [(t["actor"], t["event"], t["detail"]) for t in shown["timeline"]][-2:]
    assert forced == [
        (
            "Dana",
            "close.forced",
            f"closed with gdpr-33 DE supervisory-authority due {due['gdpr-33']} (queued, not yet delivered); "
            f"uk-gdpr-33 GB supervisory-authority due {due['uk-gdpr-33']} (not sent) not delivered; reason: {reason}",
        ),
        ("Dana", "status", "notifying → closed"),
    ]
    assert audit_kinds(env.directory / "audit")[-2:] == ["incident.close.forced", "incident.status"]


def test_close_needs_no_force_once_every_required_notice_is_delivered(cli: Cli, env: Env) -> None:
    config = str(env.config)
    # Complete facts: a notice that says information will follow (GDPR Art. 33(4)) holds the close back.
    doc = _open(cli, env, facts_file(env.directory, data__records=100, data__subjects_by_jurisdiction={"DE": 100}))
    notice = next(c for c in doc["communications"] if c["regime"] == "gdpr-33")
    assert cli("incident", "approve", doc["id"], notice["id"], "--by", "Dana", "--config", config)[0] == 0
    code, _, err = cli("incident", "delivered", doc["id"], notice["id"], "--channel", "BfDI portal", "--config", config)
    assert code == 0, err
    code, out, err = cli("incident", "close", doc["id"], "--by", "Dana", "--config", config)
    assert (code, out, err) == (0, f"{doc['id']}: closed\n", "")
    events = [t["event"] for t in _show(cli, env, doc["id"])["timeline"]]
    assert events[-1] == "status" and "close.forced" not in events


def _obligation_rows(out: str) -> dict[str, list[str]]:
    """The rows of the text `Obligations (required)` table by regime: [due, left, status, ...]."""
    table = out[out.index("Obligations (required)") : out.index("Communications")]
    rows = [[cell.strip() for cell in line.split("│")[1:-1]] for line in table.splitlines() if line.startswith("│ ")]
    return {row[3]: row for row in rows if row[3] and row[0] != "due (UTC)"}


def test_show_gives_each_obligation_its_status_and_says_when_sent_notices_may_need_an_update(
    cli: Cli, env: Env
) -> None:
    config = str(env.config)
    aware = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    with env.config.open("a", encoding="utf-8") as handle:
        handle.write('\n[authorities.GB]\nsupervisory-authority = "mailto:casework@ico.example"\n')
    # With the number of records: a notice that says it will follow is owed a supplement (test_respond_r3.py).
    facts = facts_file(
        env.directory,
        aware_at=aware.isoformat(),
        data__records=100,
        data__subjects_by_jurisdiction={"DE": 80, "GB": 20},
    )
    doc = _open(cli, env, facts)
    incident = doc["id"]
    statuses = {o["regime"]: o["status"] for o in doc["obligations"]}
    assert statuses == {o["regime"]: o["status"] for o in _show(cli, env, incident)["obligations"]}
    assert {r: s for r, s in statuses.items() if s != "not-required"} == {
        "gdpr-33": "open",
        "uk-gdpr-33": "open",
        "gdpr-33-5": "record",
    }
    notices = {c["regime"]: c for c in doc["communications"] if c["kind"] == "supervisory-authority"}
    de, uk = notices["gdpr-33"], notices["uk-gdpr-33"]
    for notice in (de, uk):
        assert cli("incident", "approve", incident, notice["id"], "--by", "Dana", "--config", config)[0] == 0
    assert cli("incident", "send", incident, uk["id"], "--config", config)[0] == 0
    code, _, err = cli("incident", "delivered", incident, de["id"], "--channel", "BfDI portal", "--config", config)
    assert code == 0, err
    shown = _show(cli, env, incident)
    statuses = {o["regime"]: o["status"] for o in shown["obligations"] if o["required"]}
    assert statuses == {"gdpr-33": "met", "uk-gdpr-33": "queued", "gdpr-33-5": "record"}
    code, out, err = cli("incident", "show", incident, "--config", config)
    assert code == 0, err
    rows = _obligation_rows(out)
    assert [rows["gdpr-33"][1:3], rows["uk-gdpr-33"][1:3], rows["gdpr-33-5"][1:3]] == [
        ["—", "met"],
        ["in 70h", "queued"],
        ["—", "record"],
    ]
    assert "facts changed" not in out  # nothing about updates while the facts are those it was sent with
    # More people turn out to be affected: the notice delivered to the German authority no longer says so.
    more = facts_file(env.directory, "more.json", aware_at=aware.isoformat(), data__subjects=250)
    assert cli("incident", "facts", incident, "--facts", str(more), "--config", config)[0] == 0
    shown = _show(cli, env, incident)
    sent = next(c for c in shown["communications"] if c["id"] == de["id"])
    assert (sent["facts_version"], sent["facts_changed"], shown["facts_version"]) == (1, True, 2)
    code, out, err = cli("incident", "show", incident, "--config", config)
    assert code == 0, err
    steps = out[out.index("Next steps") :].splitlines()[1:]
    assert steps[0] == (
        f"  facts changed since {de['id']} (gdpr-33 DE) was sent (facts v1, now v2): an update or supplementary "
        f"notice may be due (GDPR Art. 33(4)); compare the versions: leakline incident facts {incident}"
    )
    assert not any(uk["id"] in step for step in steps if step.startswith("  facts changed"))  # queued, not sent


def test_one_message_is_shown_whole_and_approve_prints_the_text_it_approved(cli: Cli, env: Env) -> None:
    # The approver must be able to read what goes out, before approving and in the approval's answer.
    config = str(env.config)
    doc = _open(cli, env, facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 80, "GB": 20}))
    incident = doc["id"]
    notices = {c["regime"]: c for c in doc["communications"] if c["kind"] == "supervisory-authority"}
    de, uk = notices["gdpr-33"], notices["uk-gdpr-33"]
    code, out, err = cli("incident", "show", incident, de["id"], "--config", config)
    assert (code, err) == (0, "")
    assert out.splitlines()[:4] == [
        f"{de['id']} · supervisory-authority · gdpr-33 DE · draft",
        "to: supervisory-authority <breach-reports@authority.example> via smtp",
        f"subject: {de['subject']}",
        "",
    ]
    assert out == "\n".join(out.splitlines()[:4]) + "\n" + de["body"].rstrip("\n") + "\n"
    code, out, _ = cli("incident", "show", incident, uk["id"], "--config", config)
    assert out.splitlines()[1] == "to: supervisory-authority (no address yet)"
    code, out, _ = cli("incident", "show", incident, de["id"], "--format", "json", "--config", config)
    assert json.loads(out) == next(c for c in _show(cli, env, incident)["communications"] if c["id"] == de["id"])
    code, out, err = cli("incident", "show", incident, "msg_nope", "--config", config)
    assert (code, out, err) == (
        2,
        "",
        f"incident {incident} has no communication 'msg_nope'\n"
        f"hint: `leakline incident show {incident}` lists its communications",
    )
    code, out, err = cli("incident", "approve", incident, de["id"], "--by", "Dana", "--config", config)
    assert (code, err) == (0, ""), err
    approved = next(c for c in _show(cli, env, incident)["communications"] if c["id"] == de["id"])
    assert out == (
        f"{de['id']}: approved by Dana; this text is what will be sent:\n\n"
        f"{de['id']} · supervisory-authority · gdpr-33 DE · approved\n"
        "to: supervisory-authority <breach-reports@authority.example> via smtp\n"
        f"approved by Dana at {approved['approved_at']}\n"
        f"subject: {approved['subject']}\n\n" + approved["body"].rstrip("\n") + "\n"
    )


def test_list_keeps_incident_ids_whole_on_an_80_column_terminal(
    cli: Cli, env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    # An id is copied into the next command: it must never wrap; the title gives way instead.
    title = "leak-caught: model output sanitized on /v1/chat/completions: 2 hit(s) of email, phone"
    long_one = _open(cli, env, facts_file(env.directory), title=title)
    newest = _open(cli, env, facts_file(env.directory), title="Chat leak")
    opened = long_one["opened_at"].split(".")[0].removesuffix("Z") + "Z"
    for columns in (80, 160):
        monkeypatch.setenv("COLUMNS", str(columns))
        code, out, err = cli("incident", "list", "--config", str(env.config))
        assert (code, err) == (0, ""), err
        lines = out.splitlines()
        assert max(len(line) for line in lines) <= columns
        header = next(n for n, line in enumerate(lines) if line.startswith("id "))
        rows = [n for n, line in enumerate(lines) if line.startswith("INC-")]
        assert [lines[n].split()[0] for n in rows] == [newest["id"], long_one["id"]], out  # whole, newest first
        # Read down the title column, the rows of the long one give its whole title back.
        column = lines[header].index("title")
        folded = " ".join(line[column:].strip() for line in lines[rows[1] :] if line[column:].strip())
        assert folded.replace(" ", "") == title.replace(" ", ""), out
        date, time = opened.split("T")
        if columns < 120:  # the time of opening on two lines, date then time
            assert (date in lines[rows[1]], time in lines[rows[1] + 1]) == (True, True), out
        else:
            assert opened in lines[rows[1]], out
