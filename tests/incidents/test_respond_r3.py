"""Review R3 (items 3, 7, 9, 10, 11): GDPR Art. 33(4) supplements, drafts kept current across status changes,
alerts about new duties, recipients' confirmations of receipt, dead-lettered notices named as failed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from leakline.notify.render import format_human, format_when
from tests.incidents.helpers import audit_kinds, facts_file
from tests.store.helpers import Env

Cli = Callable[..., tuple[int, str, str]]
ORG = "Acme Shop GmbH"


def _open(cli: Cli, env: Env, facts: Path) -> dict:
    code, out, err = cli(
        "incident",
        "open",
        "--facts",
        str(facts),
        "--title",
        "Chat leak",
        "--config",
        str(env.config),
        "--format",
        "json",
    )
    assert code == 0, err
    return json.loads(out)


def _show(cli: Cli, env: Env, incident_id: str) -> dict:
    code, out, err = cli("incident", "show", incident_id, "--format", "json", "--config", str(env.config))
    assert code == 0, err
    return json.loads(out)


def _hint(incident: str) -> str:
    return (
        f"hint: deliver them (`leakline incident show {incident}` says how), or close anyway: "
        f'leakline incident close {incident} --force --reason "WHY"'
    )


def _first_phase_delivered(cli: Cli, env: Env) -> tuple[str, dict]:
    """An incident whose Art. 33 notice went out as an Erstmeldung: the facts give neither the number of
    records nor where the people live, so it says both will follow."""
    config = str(env.config)
    doc = _open(cli, env, facts_file(env.directory))
    incident = doc["id"]
    notice = next(c for c in doc["communications"] if c["regime"] == "gdpr-33")
    assert notice["subject"].startswith("Erstmeldung einer Verletzung")
    assert cli("incident", "approve", incident, notice["id"], "--by", "Dana", "--config", config)[0] == 0
    code, _, err = cli("incident", "delivered", incident, notice["id"], "--channel", "BfDI portal", "--config", config)
    assert code == 0, err
    return incident, next(c for c in _show(cli, env, incident)["communications"] if c["id"] == notice["id"])


def test_a_phased_notice_gets_its_supplement_and_the_incident_stays_open_until_it_is_delivered(
    cli: Cli, env: Env
) -> None:
    config = str(env.config)
    incident, first = _first_phase_delivered(cli, env)
    # What the Erstmeldung promised is not known yet: closing would leave the authority waiting for it.
    code, out, err = cli("incident", "close", incident, "--config", config)
    assert (code, out, err) == (
        2,
        "",
        f"incident {incident} has 1 required notification not delivered:\n"
        f"  gdpr-33 DE supervisory-authority: {first['id']} said records, jurisdictions would follow (GDPR "
        # The facts fields to set, not the notice's words for them (was "add it to the facts").
        f"Art. 33(4)); not known yet: set data.records, data.subjects_by_jurisdiction in the facts (`leakline "
        f"incident facts {incident} --facts FILE` drafts the supplement)\n" + _hint(incident),
    )
    more = facts_file(env.directory, "p2.json", data__records=4000, data__subjects_by_jurisdiction={"DE": 100})
    assert cli("incident", "facts", incident, "--facts", str(more), "--config", config)[0] == 0
    shown = _show(cli, env, incident)
    supplements = [c for c in shown["communications"] if c["phase"] == 1]
    assert len(supplements) == 1
    supplement = supplements[0]
    assert (supplement["kind"], supplement["regime"], supplement["state"], supplement["to"]) == (
        "supervisory-authority",
        "gdpr-33",
        "draft",
        "breach-reports@authority.example",
    )
    assert supplement["subject"] == (
        f"Nachmeldung (Art. 33 Abs. 4 DSGVO) zur Meldung einer Verletzung des Schutzes personenbezogener Daten – "
        f"{ORG} – {incident}"
    )
    sent = format_human(first["sent_at"], language="de")
    intro = (
        "An: die zuständige Aufsichtsbehörde\n"
        "Rechtsgrundlage: Art. 33 Abs. 1 und 4 DSGVO\n\n"
        "Sehr geehrte Damen und Herren,\n\n"
        f"{ORG} reicht zu der mit unserer Erstmeldung vom {sent} gemeldeten Verletzung des Schutzes "
        "personenbezogener Daten Informationen nach (Nachmeldung nach Art. 33 Abs. 4 DSGVO).\n"
        f"Bezug: unsere Erstmeldung vom {sent}; unser Aktenzeichen {incident}.\n\n"
        f"Neu seit unserer Erstmeldung vom {sent}:\n"
        "  - die Zahl der betroffenen personenbezogenen Datensätze (Abschnitt 5)\n"
        "  - wo die betroffenen Personen ansässig sind (Abschnitte 6 und 10)\n\n"
        "Damit liegen alle Informationen vor, deren Nachreichung wir angekündigt hatten; die Meldung ist "
        "vollständig.\n\n"
        "Die folgende Meldung gibt den aktuellen Stand vollständig wieder.\n\n"
        "1. Art der Meldung\n"
        f"   Nachmeldung zur Erstmeldung vom {sent} (schrittweise Meldung, Art. 33 Abs. 4 DSGVO); die Meldung ist "
        "damit vollständig\n"
    )
    assert supplement["body"].startswith(intro)
    assert "Ungefähre Zahl der betroffenen personenbezogenen Datensätze: 4.000\n" in supplement["body"]
    duty = next(o for o in shown["obligations"] if o["regime"] == "gdpr-33")
    # The first phase met the 72-hour deadline; the supplement is owed besides.
    owed = f"gdpr-33 DE supervisory-authority: supplement {supplement['id']} (GDPR Art. 33(4)) not delivered (draft)"
    assert (duty["status"], duty["supplements"], duty["supplement_owed"]) == (
        "met",
        [{"id": supplement["id"], "language": "de", "state": "draft"}],
        [owed],
    )
    drafted = [t["detail"] for t in shown["timeline"] if t["event"] == "message.supplement"]
    assert drafted == [
        f"{supplement['id']}: supplement to {first['id']} (gdpr-33 DE, GDPR Art. 33(4)): it gives what that "
        "notice said would follow (records, jurisdictions)"
    ]
    assert "incident.message.supplement" in audit_kinds(env.directory / "audit")
    code, out, err = cli("incident", "close", incident, "--config", config)
    assert (code, err) == (
        2,
        f"incident {incident} has 1 required notification not delivered:\n  {owed}\n" + _hint(incident),
    )
    code, out, _ = cli("incident", "show", incident, "--config", config)
    table = out[out.index("Obligations (required)") : out.index("Communications")]
    cells = " ".join(
        line.split("│")[3].strip() for line in table.splitlines() if "│" in line and "gdpr-33-5" not in line
    )
    assert f"met; supplement {supplement['id']} draft" in cells
    assert f"approve gdpr-33 DE supplement once you have read it (leakline incident show {incident} " in out
    assert "an update or supplementary notice may be due" not in out  # the supplement is that update
    # Approving it is not refused as out of date; delivered, the incident closes.
    code, out, err = cli("incident", "approve", incident, supplement["id"], "--by", "Dana", "--config", config)
    assert code == 0, err
    code, _, err = cli(
        "incident", "delivered", incident, supplement["id"], "--channel", "BfDI portal", "--config", config
    )
    assert code == 0, err
    assert _show(cli, env, incident)["obligations"][0]["supplement_owed"] == []
    assert cli("incident", "close", incident, "--config", config) == (0, f"{incident}: closed\n", "")


def test_closing_past_an_owed_supplement_needs_force_and_keeps_why(cli: Cli, env: Env) -> None:
    config = str(env.config)
    incident, first = _first_phase_delivered(cli, env)
    code, out, err = cli(
        "incident", "close", incident, "--force", "--reason", "records given by phone, case 12", "--by", "Dana",
        "--config", config,
    )  # fmt: skip
    assert (code, out) == (0, f"{incident}: closed\n"), err
    forced = [t for t in _show(cli, env, incident)["timeline"] if t["event"] == "close.forced"]
    assert [t["detail"] for t in forced] == [
        f"closed with gdpr-33 DE supervisory-authority: {first['id']} said records, jurisdictions would follow "
        f"(GDPR Art. 33(4)); not known yet: set data.records, data.subjects_by_jurisdiction in the facts "
        f"(`leakline incident facts {incident} --facts FILE` drafts the supplement) not delivered; reason: records "
        "given by phone, case 12"
    ]


def test_no_supplement_while_the_first_notice_is_still_a_draft(cli: Cli, env: Env) -> None:
    config = str(env.config)
    doc = _open(cli, env, facts_file(env.directory))
    more = facts_file(env.directory, "p2.json", data__records=4000, data__subjects_by_jurisdiction={"DE": 100})
    assert cli("incident", "facts", doc["id"], "--facts", str(more), "--config", config)[0] == 0
    notices = [c for c in _show(cli, env, doc["id"])["communications"] if c["regime"] == "gdpr-33"]
    # The draft itself now carries the complete facts: nothing was promised to anyone.
    assert [(c["phase"], c["state"], c["subject"].split(" ")[0]) for c in notices] == [(0, "draft", "Meldung")]


def test_a_status_change_redrafts_the_notices_so_that_approval_is_not_refused(cli: Cli, env: Env) -> None:
    config = str(env.config)
    doc = _open(cli, env, facts_file(env.directory))
    incident = doc["id"]
    notice = next(c for c in doc["communications"] if c["regime"] == "gdpr-33")
    assert "eingedämmt" not in notice["body"]
    assert cli("incident", "move", incident, "contained", "--config", config) == (0, f"{incident}: contained\n", "")
    # Was: "the draft is out of date ... `leakline incident assess` drafts it again".
    code, _, err = cli("incident", "approve", incident, notice["id"], "--by", "Dana", "--config", config)
    assert code == 0, err
    approved = next(c for c in _show(cli, env, incident)["communications"] if c["id"] == notice["id"])
    assert approved["state"] == "approved"
    assert "     - der Datenabfluss ist eingedämmt\n" in approved["body"]


def test_a_status_change_redrafts_drafts_and_leaves_approved_notices_as_approved(cli: Cli, env: Env) -> None:
    config = str(env.config)
    with env.config.open("a", encoding="utf-8") as handle:
        handle.write('\n[authorities.GB]\nsupervisory-authority = "mailto:casework@ico.example"\n')
    doc = _open(cli, env, facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 80, "GB": 20}))
    incident = doc["id"]
    notices = {c["regime"]: c for c in doc["communications"] if c["kind"] == "supervisory-authority"}
    de, uk = notices["gdpr-33"], notices["uk-gdpr-33"]
    assert cli("incident", "approve", incident, uk["id"], "--by", "Dana", "--config", config)[0] == 0
    approved = next(c for c in _show(cli, env, incident)["communications"] if c["id"] == uk["id"])
    # Queueing the UK notice moves the incident to notifying; the German draft, which states the measures
    # taken, is drafted again rather than left to be refused as out of date.
    assert cli("incident", "send", incident, uk["id"], "--config", config) == (0, f"queued: {uk['id']}\n", "")
    shown = _show(cli, env, incident)
    assert shown["status"] == "notifying"
    after = {c["id"]: c for c in shown["communications"]}
    assert "     - der Datenabfluss ist eingedämmt\n" in after[de["id"]]["body"]
    assert (after[uk["id"]]["state"], after[uk["id"]]["body"]) == ("queued", approved["body"])
    code, _, err = cli("incident", "approve", incident, de["id"], "--by", "Dana", "--config", config)
    assert code == 0, err


def test_new_facts_that_make_notifications_required_alert_compliance(cli: Cli, env: Env) -> None:
    config = str(env.config)
    doc = _open(cli, env, facts_file(env.directory, data__subjects_by_jurisdiction={"DE": 100}))
    incident = doc["id"]
    first_alerts = {c["id"] for c in doc["communications"] if c["kind"] == "internal-compliance"}
    assert len(first_alerts) == 2
    more = facts_file(env.directory, "v2.json", data__subjects_by_jurisdiction={"DE": 80, "GB": 20})
    code, _, err = cli("incident", "facts", incident, "--facts", str(more), "--config", config)
    assert code == 0, err
    shown = _show(cli, env, incident)
    uk = next(o for o in shown["obligations"] if o["regime"] == "uk-gdpr-33")
    assert uk["required"]
    new_duties = [t["detail"] for t in shown["timeline"] if t["event"] == "new-duties"]
    assert new_duties == [
        f"facts v2: 1 new required notification: uk-gdpr-33 GB supervisory-authority due {uk['due_at']}; "
        "compliance and the DPO are alerted"
    ]
    alerts = [c for c in shown["communications"] if c["kind"] == "internal-compliance" and c["id"] not in first_alerts]
    assert sorted((c["recipient"], c["state"]) for c in alerts) == [
        ("Compliance on call", "queued"),
        ("Dana Privacy", "queued"),
    ]
    for alert in alerts:
        assert alert["subject"].startswith("Neue Meldepflichten mit Faktenversion 2 – [")
        assert alert["body"].startswith(
            f"Hallo {alert['recipient']},\n\n"
            "Neue Meldepflichten: Mit Faktenversion 2 sind diese Meldungen neu erforderlich (Stand der Fakten "
            "unten):\n"
            f"  - uk-gdpr-33 (GB) → supervisory-authority: {format_when(uk['due_at'], language='de')}\n\n"
        )
        assert "GB 20" in alert["body"]  # the facts as they stand now
    # Facts that add no duty alert nobody.
    again = facts_file(
        env.directory, "v3.json", data__subjects=120, data__subjects_by_jurisdiction={"DE": 90, "GB": 30}
    )
    assert cli("incident", "facts", incident, "--facts", str(again), "--config", config)[0] == 0
    shown = _show(cli, env, incident)
    assert len([c for c in shown["communications"] if c["kind"] == "internal-compliance"]) == 4
    assert [t["event"] for t in shown["timeline"]].count("new-duties") == 1


def test_an_authoritys_confirmation_of_receipt_is_recorded_and_shown(cli: Cli, env: Env) -> None:
    config = str(env.config)
    doc = _open(cli, env, facts_file(env.directory))
    incident = doc["id"]
    notice = next(c for c in doc["communications"] if c["regime"] == "gdpr-33")
    alert = next(c for c in doc["communications"] if c["kind"] == "internal-compliance")
    code, _, err = cli(
        "incident", "receipt", incident, notice["id"], "--reference", "BSI-2026-4711", "--config", config
    )
    assert (code, err) == (
        2,
        f"{notice['id']} is draft: only a delivered notice can be confirmed as received\n"
        f"hint: deliver it first (`leakline incident show {incident}` says how)",
    )
    assert cli("incident", "approve", incident, notice["id"], "--by", "Dana", "--config", config)[0] == 0
    sent = (datetime.now(UTC) - timedelta(hours=2)).replace(microsecond=0)
    code, _, err = cli(
        "incident", "delivered", incident, notice["id"], "--channel", "BfDI portal", "--at", sent.isoformat(),
        "--config", config,
    )  # fmt: skip
    assert code == 0, err
    before = (sent - timedelta(minutes=5)).isoformat()
    code, _, err = cli(
        "incident", "receipt", incident, notice["id"], "--reference", "X", "--at", before, "--config", config
    )
    assert (code, err) == (
        2,
        f"{notice['id']}: receipt at {before.replace('+00:00', 'Z')} is before the notice was delivered "
        f"({sent.isoformat().replace('+00:00', 'Z')})",
    )
    code, _, err = cli("incident", "receipt", incident, alert["id"], "--reference", "X", "--config", config)
    assert (code, err) == (
        2,
        f"{alert['id']} is an internal internal-compliance alert: a receipt is recorded for notices to "
        "authorities and the people affected\n"
        f"hint: acknowledge an internal alert: leakline incident ack {incident} {alert['id']} --by NAME",
    )
    future = (datetime.now(UTC) + timedelta(hours=1)).replace(microsecond=0)
    code, _, err = cli(
        "incident",
        "receipt",
        incident,
        notice["id"],
        "--reference",
        "X",
        "--at",
        future.isoformat(),
        "--config",
        config,
    )
    assert (code, err) == (2, f"--at: {future.isoformat().replace('+00:00', 'Z')} is in the future")
    at = (sent + timedelta(minutes=40)).isoformat()
    shown_at = at.replace("+00:00", "Z")
    code, out, err = cli(
        "incident", "receipt", incident, notice["id"], "--reference", 'BSI-2026-4711 "Eingang"', "--at", at,
        "--by", "Dana", "--config", config,
    )  # fmt: skip
    assert (code, out) == (
        0,
        f'{notice["id"]}: receipt confirmed at {shown_at}, reference BSI-2026-4711 "Eingang", recorded by Dana\n',
    ), err
    shown = _show(cli, env, incident)
    message = next(c for c in shown["communications"] if c["id"] == notice["id"])
    assert message["receipts"] == [{"at": shown_at, "reference": 'BSI-2026-4711 "Eingang"', "by": "Dana"}]
    assert message["state"] == "sent"
    entries = [(t["actor"], t["detail"]) for t in shown["timeline"] if t["event"] == "message.receipt"]
    assert entries == [
        (
            "Dana",
            f'{notice["id"]}: receipt confirmed by the recipient at {shown_at} (reference "BSI-2026-4711 \\"Eingang\\"", '
            'recorded by "Dana")',
        )
    ]
    assert audit_kinds(env.directory / "audit")[-1] == "incident.message.receipt"
    code, out, _ = cli("incident", "show", incident, notice["id"], "--config", config)
    assert f'receipt confirmed at {shown_at}, reference BSI-2026-4711 "Eingang", recorded by Dana\n' in out
    code, out, _ = cli("incident", "show", incident, "--config", config)
    table = out[out.index("Communications") : out.index("Timeline")]
    states = " ".join(line.split("│")[6].strip() for line in table.splitlines() if line.count("│") > 6)
    assert f'sent; receipt BSI-2026-4711 "Eingang" at {shown_at}' in states
