"""The words of a GDPR Art. 33(4) supplement while facts are still missing, in German, English and French:
it says it is a supplement (never "Erstmeldung" / "initial notification" / "notification initiale"), names
the initial notice (when it was sent, the authority's case number once a receipt is recorded), lists what
is new since the last phase and what is still missing."""

from __future__ import annotations

import json
from collections.abc import Callable

from leakline.notify.render import format_human, format_when
from tests.incidents.helpers import facts_file
from tests.store.helpers import Env

Cli = Callable[..., tuple[int, str, str]]
ORG = "Acme Shop GmbH"
ROUTES = """
[authorities.IE]
supervisory-authority = "mailto:breaches@dpc.example"

[authorities.FR]
supervisory-authority = "mailto:notifications@cnil.example"
"""


def _run(cli: Cli, env: Env, *args: str) -> str:
    code, out, err = cli(*args, "--config", str(env.config))
    assert code == 0, err
    return out


def _show(cli: Cli, env: Env, incident: str) -> dict:
    return json.loads(_run(cli, env, "incident", "show", incident, "--format", "json"))


def _first_phase(cli: Cli, env: Env, establishment: str) -> tuple[str, dict]:
    """An initial notice delivered while the cause, the number of records and where the people live are
    unknown, with the authority's case number recorded as its receipt."""
    with env.config.open("a", encoding="utf-8") as handle:
        handle.write(ROUTES)
    facts = facts_file(env.directory, breach__cause="unknown", controller__establishments=[establishment])
    doc = json.loads(
        _run(cli, env, "incident", "open", "--facts", str(facts), "--title", "Chat leak", "--format", "json")
    )
    incident = doc["id"]
    (notice,) = [c for c in doc["communications"] if c["regime"] == "gdpr-33"]
    _run(cli, env, "incident", "approve", incident, notice["id"], "--by", "Dana")
    _run(cli, env, "incident", "delivered", incident, notice["id"], "--channel", "portal")
    _run(cli, env, "incident", "receipt", incident, notice["id"], "--reference", "CASE-2026-4711", "--by", "Dana")
    sent = next(c for c in _show(cli, env, incident)["communications"] if c["id"] == notice["id"])
    return incident, sent


def _supplement(cli: Cli, env: Env, incident: str, phase: int, **changes: object) -> dict:
    facts = facts_file(env.directory, f"p{phase}.json", breach__cause="unknown", **changes)
    _run(cli, env, "incident", "facts", incident, "--facts", str(facts))
    (found,) = [c for c in _show(cli, env, incident)["communications"] if c["phase"] == phase]
    return found


def test_a_german_supplement_with_facts_still_missing_is_a_nachmeldung(cli: Cli, env: Env) -> None:
    incident, first = _first_phase(cli, env, "DE")
    assert first["subject"].startswith("Erstmeldung einer Verletzung")
    supplement = _supplement(cli, env, incident, 1, data__records=4000)
    assert supplement["subject"] == (
        f"Nachmeldung (Art. 33 Abs. 4 DSGVO) zur Meldung einer Verletzung des Schutzes personenbezogener Daten – "
        f"{ORG} – {incident} – Ihr Aktenzeichen CASE-2026-4711"
    )
    sent = format_human(first["sent_at"], language="de")
    body = supplement["body"]
    assert body.startswith(
        "An: die zuständige Aufsichtsbehörde\n"
        "Rechtsgrundlage: Art. 33 Abs. 1 und 4 DSGVO\n\n"
        "Sehr geehrte Damen und Herren,\n\n"
        f"{ORG} reicht zu der mit unserer Erstmeldung vom {sent} gemeldeten Verletzung des Schutzes "
        "personenbezogener Daten Informationen nach (Nachmeldung nach Art. 33 Abs. 4 DSGVO).\n"
        f"Bezug: unsere Erstmeldung vom {sent}, Ihr Aktenzeichen CASE-2026-4711; unser Aktenzeichen {incident}.\n\n"
        f"Neu seit unserer Erstmeldung vom {sent}:\n"
        "  - die Zahl der betroffenen personenbezogenen Datensätze (Abschnitt 5)\n\n"
        "Folgende Informationen werden weiterhin ermittelt und ohne unangemessene weitere Verzögerung "
        "nachgereicht:\n"
        "  - die Ursache der Verletzung\n"
        "  - wo die betroffenen Personen ansässig sind\n\n"
        "Die folgende Meldung gibt den aktuellen Stand vollständig wieder.\n\n"
        "1. Art der Meldung\n"
        f"   Nachmeldung zur Erstmeldung vom {sent} (schrittweise Meldung, Art. 33 Abs. 4 DSGVO); weitere "
        "Angaben folgen\n"
        f"   Unser Aktenzeichen: {incident}\n"
        "   Aktenzeichen der Aufsichtsbehörde: CASE-2026-4711\n\n"
        "2. Verantwortlicher"
    )
    # Was: "Dies ist eine Erstmeldung im Rahmen einer schrittweisen Meldung" below the supplement's intro.
    assert "Dies ist eine Erstmeldung" not in body
    assert "Erstmeldung (schrittweise Meldung" not in body
    assert f"   Erstmeldung: {format_when(first['sent_at'], language='de')}\n   Diese Nachmeldung: " in body
    assert "Ungefähre Zahl der betroffenen personenbezogenen Datensätze: 4.000\n" in body
    assert "Für Rückfragen zu dieser Nachmeldung wenden Sie sich" in body
    # Delivered, a second supplement says it is the second and what is new since the first.
    _run(cli, env, "incident", "approve", incident, supplement["id"], "--by", "Dana")
    _run(cli, env, "incident", "delivered", incident, supplement["id"], "--channel", "portal")
    delivered = next(c for c in _show(cli, env, incident)["communications"] if c["id"] == supplement["id"])
    second = _supplement(cli, env, incident, 2, data__records=4000, data__subjects_by_jurisdiction={"DE": 100})
    assert second["subject"].startswith("2. Nachmeldung (Art. 33 Abs. 4 DSGVO) zur Meldung einer Verletzung")
    later = format_human(delivered["sent_at"], language="de")
    assert (
        f"Bezug: unsere Erstmeldung vom {sent}, Ihr Aktenzeichen CASE-2026-4711; unser Aktenzeichen {incident}.\n"
        f"Zuletzt ergänzt mit unserer Nachmeldung vom {later}.\n\n"
        f"Neu seit unserer Nachmeldung vom {later}:\n"
        "  - wo die betroffenen Personen ansässig sind (Abschnitte 6 und 10)\n\n"
        "Folgende Informationen werden weiterhin ermittelt und ohne unangemessene weitere Verzögerung "
        "nachgereicht:\n"
        "  - die Ursache der Verletzung\n\n"
    ) in second["body"]
    assert f"   2. Nachmeldung zur Erstmeldung vom {sent} (schrittweise Meldung" in second["body"]
    # `show` tells the two supplements apart (was "gdpr-33 DE supplement" for both).
    table = _run(cli, env, "incident", "show", incident)
    assert f"approve gdpr-33 DE supplement 2 once you have read it (leakline incident show {incident} " in table


def test_an_english_supplement_with_facts_still_missing_is_supplementary_information(cli: Cli, env: Env) -> None:
    incident, first = _first_phase(cli, env, "IE")
    assert first["subject"].startswith("Initial notification of a personal data breach (GDPR Art. 33)")
    supplement = _supplement(cli, env, incident, 1, data__records=4000, controller__establishments=["IE"])
    assert supplement["subject"] == (
        "Supplementary information (GDPR Art. 33(4)) to the notification of a personal data breach – "
        f"{ORG} – {incident} – your reference CASE-2026-4711"
    )
    sent = format_human(first["sent_at"], language="en")
    body = supplement["body"]
    assert (
        f"{ORG} provides supplementary information under Art. 33(4) GDPR on the personal data breach notified in "
        f"our initial notification of {sent}.\n"
        f"Regarding: our initial notification of {sent}, your reference CASE-2026-4711; our reference {incident}.\n\n"
        f"New since our initial notification of {sent}:\n"
        "  - the number of personal data records concerned (section 5)\n\n"
        "Information still being established and to be provided without undue further delay:\n"
        "  - the cause of the breach\n"
        "  - where the affected people live\n\n"
        "The notification below gives the current state in full.\n\n"
        "1. Type of notification\n"
        f"   Supplementary information to the initial notification of {sent} (phased reporting, Art. 33(4) GDPR); "
        "more information to follow\n"
        f"   Our reference: {incident}\n"
        "   Supervisory authority's reference: CASE-2026-4711\n\n"
    ) in body
    assert "This is an initial notification" not in body
    assert "Initial notification (phased" not in body
    assert "   This supplementary information: " in body


def test_a_french_supplement_with_facts_still_missing_is_informations_complementaires(cli: Cli, env: Env) -> None:
    incident, first = _first_phase(cli, env, "FR")
    assert first["subject"].startswith("Notification initiale d'une violation")
    supplement = _supplement(cli, env, incident, 1, data__records=4000, controller__establishments=["FR"])
    assert supplement["subject"] == (
        "Informations complémentaires (article 33, paragraphe 4, du RGPD) à la notification d'une violation de "
        f"données à caractère personnel – {ORG} – {incident} – votre référence CASE-2026-4711"
    )
    sent = format_human(first["sent_at"], language="fr")
    body = supplement["body"]
    assert (
        f"Objet : notre notification initiale du {sent}, votre référence CASE-2026-4711 ; notre référence "
        f"{incident}.\n\n"
        f"Nouveau depuis notre notification initiale du {sent} :\n"
        "  - le nombre d'enregistrements de données à caractère personnel concernés (rubrique 5)\n\n"
        "Les informations suivantes sont encore en cours d'établissement et seront communiquées sans autre "
        "retard indu :\n"
    ) in body
    assert "Il s'agit d'une notification initiale" not in body
    assert "   Notification initiale (notification échelonnée" not in body
    assert (
        f"   Informations complémentaires à la notification initiale du {sent} (notification échelonnée, article 33, "
        "paragraphe 4, du RGPD) ; d'autres informations suivront\n"
    ) in body


def test_a_receipt_recorded_after_the_supplement_was_drafted_is_quoted_and_approval_is_not_refused(
    cli: Cli, env: Env
) -> None:
    with env.config.open("a", encoding="utf-8") as handle:
        handle.write(ROUTES)
    facts = facts_file(env.directory, breach__cause="unknown")
    doc = json.loads(_run(cli, env, "incident", "open", "--facts", str(facts), "--format", "json"))
    incident = doc["id"]
    (notice,) = [c for c in doc["communications"] if c["regime"] == "gdpr-33"]
    _run(cli, env, "incident", "approve", incident, notice["id"], "--by", "Dana")
    _run(cli, env, "incident", "delivered", incident, notice["id"], "--channel", "portal")
    supplement = _supplement(cli, env, incident, 1, data__records=4000)
    assert "Aktenzeichen der Aufsichtsbehörde" not in supplement["body"]
    # The authority's case number arrives after the supplement was drafted: the draft quotes it, and approving
    # it is not refused as out of date.
    _run(cli, env, "incident", "receipt", incident, notice["id"], "--reference", "LDA-77", "--by", "Dana")
    redrafted = next(c for c in _show(cli, env, incident)["communications"] if c["id"] == supplement["id"])
    assert redrafted["subject"].endswith(" – Ihr Aktenzeichen LDA-77")
    assert "   Aktenzeichen der Aufsichtsbehörde: LDA-77\n" in redrafted["body"]
    _run(cli, env, "incident", "approve", incident, supplement["id"], "--by", "Dana")


def test_an_override_template_that_knows_nothing_of_supplements_is_introduced_as_one(cli: Cli, env: Env) -> None:
    folder = env.directory / "messages" / "de"
    folder.mkdir(parents=True)
    (folder / "supervisory-authority.j2").write_text(
        "{% block subject %}Meldung {{ incident.id }}{% endblock %}\n"
        "{% block body %}Datensätze: {{ known.records | count }}\n{% endblock %}\n",
        encoding="utf-8",
    )
    with env.config.open("a", encoding="utf-8") as handle:
        handle.write('\n[notify]\ntemplates = "messages"\n')
    incident, first = _first_phase(cli, env, "DE")
    supplement = _supplement(cli, env, incident, 1, data__records=4000)
    # Its own words would not tell the authority that this is a supplement: they are introduced as one.
    assert supplement["subject"] == f"Nachmeldung (Art. 33 Abs. 4 DSGVO) – Meldung {incident}"
    assert supplement["body"] == (
        f"Nachmeldung nach Art. 33 Abs. 4 DSGVO zu unserer Meldung vom {format_human(first['sent_at'], language='de')}, "
        f"unser Aktenzeichen {incident}.\n"
        "Folgende Informationen, die wir darin nachzureichen angekündigt hatten, liegen jetzt vor und sind in der "
        "folgenden aktualisierten Meldung enthalten:\n"
        "  - die Zahl der betroffenen personenbezogenen Datensätze\n\n"
        "Datensätze: 4.000\n"
    )


def test_an_override_extending_the_built_in_notice_is_not_introduced_twice(cli: Cli, env: Env) -> None:
    folder = env.directory / "messages" / "de"
    folder.mkdir(parents=True)
    (folder / "supervisory-authority.j2").write_text(
        '{% extends "builtin/de/supervisory-authority.j2" %}\n', encoding="utf-8"
    )
    with env.config.open("a", encoding="utf-8") as handle:
        handle.write('\n[notify]\ntemplates = "messages"\n')
    incident, _ = _first_phase(cli, env, "DE")
    supplement = _supplement(cli, env, incident, 1, data__records=4000)
    assert supplement["subject"].startswith("Nachmeldung (Art. 33 Abs. 4 DSGVO) zur Meldung einer Verletzung")
    assert supplement["body"].startswith("An: die zuständige Aufsichtsbehörde\n")
