"""What a DPO met walking an incident end to end (signal → facts → notice → supplement → close): next steps
that said "approve" a notice approval would refuse, hints naming fields the facts already had, owed
supplements named by the notice's words instead of the facts fields, English risk reasons in German and
French internal alerts."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from leakline.notify.render import format_count, render
from tests.incidents.helpers import facts_file
from tests.incidents.helpers import signal as make_signal
from tests.store.helpers import Env

Cli = Callable[..., tuple[int, str, str]]


def _run(cli: Cli, env: Env, *args: str) -> str:
    code, out, err = cli(*args, "--config", str(env.config))
    assert code == 0, err
    return out


def test_next_steps_say_what_to_complete_before_a_notice_can_be_approved(cli: Cli, env: Env) -> None:
    facts = facts_file(env.directory, data__subject_categories=None)
    doc = json.loads(_run(cli, env, "incident", "open", "--facts", str(facts), "--format", "json"))
    incident = doc["id"]
    (notice,) = [c for c in doc["communications"] if c["regime"] == "gdpr-33"]
    steps = _run(cli, env, "incident", "show", incident).split("Next steps\n", 1)[1].splitlines()
    # Was: "approve gdpr-33 DE once you have read it …", which approval then refused for its placeholder.
    assert steps[0] == (
        "  complete gdpr-33 DE before approving it: set data.subject_categories (who the people are, e.g. "
        f'["customers"]) in the facts (docs/assess.md), then leakline incident facts {incident} --facts FILE'
    )
    assert not any(f"leakline incident approve {incident} {notice['id']}" in step for step in steps)
    complete = facts_file(env.directory, "p2.json")
    _run(cli, env, "incident", "facts", incident, "--facts", str(complete))
    steps = _run(cli, env, "incident", "show", incident).split("Next steps\n", 1)[1].splitlines()
    assert steps[0].startswith("  approve gdpr-33 DE once you have read it")
    _run(cli, env, "incident", "approve", incident, notice["id"], "--by", "Dana")


_REASONS = [
    "severity if disclosed: limited: most sensitive data: identity",
    "confidentiality: LLM output shown to the wrong user affecting 1200 people",
    "overall: likely to result in a risk (notify the supervisory authority)",
    "a sentence the table does not know",
]


def _alert_context() -> dict[str, Any]:
    return {
        "organisation": {"name": "Acme", "establishments": ["DE"], "sector": "retail", "size": "large", "dpo": None},
        "incident": {
            "id": "INC-1",
            "title": "Chat leak",
            "status": "triaged",
            "detected_at": "2026-11-27T06:30:00Z",
            "aware_at": "2026-11-27T06:30:00Z",
            "summary": "Chat leak",
            "risk": "risk",
            "risk_reasons": _REASONS,
            "facts": {},
        },
        "obligation": None,
        "recipient": {"name": "Dana", "kind": "internal-compliance", "role": "dpo"},
        "signal": None,
        "now": "2026-11-27T07:00:00Z",
    }


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "de",
            "Risiko: Risiko für die Rechte und Freiheiten natürlicher Personen\n"
            "  - Schwere der Folgen bei Offenlegung: begrenzt (sensibelste Daten: Namen und andere identifizierende "
            "Angaben)\n"
            "  - Vertraulichkeit: Antwort des KI-Assistenten an einen falschen Nutzer, 1.200 betroffene Personen\n"
            "  - insgesamt: Risiko für die Rechte und Freiheiten natürlicher Personen (Meldung an die "
            "Aufsichtsbehörde)\n"
            "  - a sentence the table does not know\n\n",
        ),
        (
            "fr",
            "Risque : risque pour les droits et libertés des personnes physiques\n"
            "  - gravité des conséquences en cas de divulgation : limitée (données les plus sensibles : noms et "
            "autres données d'identification)\n"
            "  - confidentialité : réponse de l'assistant d'IA affichée au mauvais utilisateur, "
            f"{format_count(1200, language='fr')} personnes concernées\n"
            "  - dans l'ensemble : risque pour les droits et libertés des personnes physiques (notification à "
            "l'autorité de contrôle)\n"
            "  - a sentence the table does not know\n\n",
        ),
    ],
)
def test_internal_alerts_word_the_risk_reasons_in_their_language(language: str, expected: str) -> None:
    body = render("internal-compliance", language, _alert_context()).body
    # Was: the assessment's English sentences, one per line, in a German or French alert.
    assert expected in body


_OTHER_LAWS = """
[authorities.CH]
supervisory-authority = "mailto:fdpic@example.ch"

[authorities.CA-QC]
supervisory-authority = "mailto:cai@example.qc"
"""


@pytest.mark.parametrize(
    ("jurisdiction", "regime", "subject", "basis", "gdpr_words", "no_deadline"),
    [
        (
            "CH",
            "fadp-24",
            "Erstmeldung einer Verletzung der Datensicherheit (FADP Art. 24(1)-(2)) – Acme Shop GmbH – ",
            "Rechtsgrundlage: FADP Art. 24(1)-(2)\n",
            "DSGVO",
            "Frist: keine feste Frist; die Meldung erfolgt so rasch wie möglich\n",
        ),
        (
            "CA-QC",
            "qc-law25",
            "Notification initiale d'une violation de données à caractère personnel (Quebec private-sector Act "
            "s 3.5; Regulation respecting confidentiality incidents) – Acme Shop GmbH – ",
            "Fondement juridique : Quebec private-sector Act s 3.5; Regulation respecting confidentiality incidents\n",
            "RGPD",
            "Échéance : pas d'échéance fixe ; la notification est faite dans les meilleurs délais\n",
        ),
    ],
)
def test_a_notice_under_another_law_cites_that_law_not_the_gdpr(
    cli: Cli, env: Env, jurisdiction: str, regime: str, subject: str, basis: str, gdpr_words: str, no_deadline: str
) -> None:
    with env.config.open("a", encoding="utf-8") as handle:
        handle.write(_OTHER_LAWS)
    facts = facts_file(
        env.directory,
        controller__establishments=[jurisdiction],
        breach__cause="unknown",
        data__categories=["health", "identity"],
        data__subjects=1200,
        data__subjects_by_jurisdiction={jurisdiction: 1200},
    )
    doc = json.loads(_run(cli, env, "incident", "open", "--facts", str(facts), "--format", "json"))
    (notice,) = [c for c in doc["communications"] if c["regime"] == regime and c["kind"] == "supervisory-authority"]
    # Was: "(Art. 33 DSGVO)" / "(article 33 du RGPD)", "Art. 33 Abs. 1 DSGVO" as the legal basis, GDPR articles
    # in every section heading, and "fällig am noch nicht bekannt" for a duty with no fixed deadline.
    assert notice["subject"] == subject + doc["id"]
    assert basis in notice["body"]
    assert gdpr_words not in notice["subject"] + notice["body"]
    assert "Art. 33" not in notice["body"] and "article 33" not in notice["body"]
    assert no_deadline in notice["body"]


@pytest.mark.parametrize(
    ("language", "sentence"),
    [
        ("de", "eine mögliche Verletzung des Schutzes personenbezogener Daten muss bewertet werden."),
        ("en", "a possible personal data breach needs your assessment."),
        ("fr", "une violation possible de données à caractère personnel doit être évaluée."),
    ],
)
def test_a_reminder_does_not_ask_to_assess_the_breach_again(language: str, sentence: str) -> None:
    first = render("internal-compliance", language, _alert_context()).body
    assert sentence in first
    reminder = render("internal-compliance", language, {**_alert_context(), "alert": {"reason": "reminder"}}).body
    # Was: a day-2 reminder about an undelivered notice also said the breach needed assessing.
    assert sentence not in reminder


def test_facts_dated_in_the_future_are_refused_before_anything_is_stored(cli: Cli, env: Env) -> None:
    config = str(env.config)
    typo = facts_file(env.directory, "typo.json", aware_at="2099-11-27T06:30:00+01:00")
    code, out, err = cli("incident", "open", "--facts", str(typo), "--config", config)
    # Was: opened, with the GDPR deadline 72 hours after 2099-11-27.
    assert (code, out) == (2, "")
    assert err.startswith(f"{typo}: aware_at: 2099-11-27T05:30:00Z is in the future (now ")
    assert err.endswith(
        "); the deadlines are counted from these dates, so a wrong year or month would put them off by as much\n"
        "hint: correct the date (ISO 8601 with a UTC offset, e.g. 2026-11-27T06:30:00+01:00)"
    )
    assert json.loads(_run(cli, env, "incident", "list", "--format", "json")) == []
    incident = json.loads(
        _run(cli, env, "incident", "open", "--facts", str(facts_file(env.directory)), "--format", "json")
    )
    # (A discovered_at after aware_at is refused before its date is compared with now: facts ordering.)
    later = facts_file(env.directory, "later.json", determined_at="2099-01-01T00:00:00+00:00")
    code, _, err = cli("incident", "facts", incident["id"], "--facts", str(later), "--config", config)
    assert code == 2 and err.startswith(f"{later}: determined_at: 2099-01-01T00:00:00Z is in the future")
    assert json.loads(_run(cli, env, "incident", "show", incident["id"], "--format", "json"))["facts_version"] == 1


def test_the_facts_description_replaces_the_signals_english_summary_in_the_notices(cli: Cli, env: Env) -> None:
    signal = env.directory / "signal.json"
    signal.write_text(json.dumps(make_signal(id="sig_walk")), encoding="utf-8")
    opened = json.loads(_run(cli, env, "signal", str(signal)))
    incident = opened["incident_id"]
    described = facts_file(
        env.directory,
        description="Der KI-Assistent im Online-Shop hat einer Kundin die E-Mail-Adresse einer anderen Kundin angezeigt.",
    )
    _run(cli, env, "incident", "facts", incident, "--facts", str(described))
    doc = json.loads(_run(cli, env, "incident", "show", incident, "--format", "json"))
    (notice,) = [c for c in doc["communications"] if c["regime"] == "gdpr-33"]
    # Was: "Beschreibung: e-mail address in a chat answer (j…@…com)", the gateway's words, with no way to change them.
    assert (
        "   Beschreibung: Der KI-Assistent im Online-Shop hat einer Kundin die E-Mail-Adresse einer anderen Kundin "
        "angezeigt.\n"
    ) in notice["body"]
    assert "e-mail address in a chat answer" not in notice["body"]
    plain = facts_file(env.directory, "plain.json")
    _run(cli, env, "incident", "facts", incident, "--facts", str(plain))
    doc = json.loads(_run(cli, env, "incident", "show", incident, "--format", "json"))
    (notice,) = [c for c in doc["communications"] if c["regime"] == "gdpr-33"]
    assert "   Beschreibung: e-mail address in a chat answer (j…@…com)\n" in notice["body"]
