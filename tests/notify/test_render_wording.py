"""What the notices say, word for word, where a reviewer acting as DPO found them untrue or half-translated
(review R3): a malicious prompt-injection theft described as an accident (item 2), the engine's English risk
reasons and a false "0 users affected" in German and French NIS2 reports (item 6), and German and French
times given in UTC only (item 11)."""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any, get_args

import jinja2
import pytest

from leakline.notify import render as render_module
from leakline.notify.render import (
    PACKAGE_TEMPLATES,
    InvalidContextValue,
    MessageKind,
    TemplateRuntimeError,
    format_human,
    format_number,
    format_when,
    render,
    risk_reasons,
)
from leakline.obligations.errors import FactsValidationError
from leakline.obligations.facts import Cause, parse_facts
from leakline.obligations.risk import assess_risk
from tests.notify.test_render import context, facts, lines

# --- item 2: a malicious LLM leak is an attack, not a misdelivery ----------------------------------------

ATTACK = {"cause": "llm-output-leak", "malicious": True, "exfiltration": "confirmed"}

AUTHORITY_CAUSE = {
    "en": "an attacker manipulated an AI assistant with crafted input (prompt injection) to extract personal data",
    "de": "ein Angreifer hat einen KI-Assistenten mit präparierten Eingaben (Prompt Injection) manipuliert, um "
    "personenbezogene Daten abzugreifen",
    "fr": "un attaquant a manipulé un assistant d'IA au moyen d'instructions piégées (injection de prompt) pour "
    "obtenir des données à caractère personnel",
}
PLAIN_CAUSE = {
    "en": "An attacker manipulated our AI assistant with specially crafted messages (known as prompt injection) "
    "to obtain personal data from it.",
    "de": "Ein Angreifer hat unseren KI-Assistenten mit gezielt präparierten Nachrichten (sogenannte Prompt "
    "Injection) manipuliert, um über ihn an personenbezogene Daten zu gelangen.",
    "fr": "Un attaquant a manipulé notre assistant d'IA au moyen de messages spécialement conçus (technique dite "
    "d'« injection de prompt ») pour obtenir par son intermédiaire des données à caractère personnel.",
}
ACCIDENT_CAUSE = {
    "en": "an AI assistant showed personal data to the wrong user",
    "de": "ein KI-Assistent hat personenbezogene Daten einem falschen Nutzer angezeigt",
    "fr": "un assistant d'IA a affiché des données à caractère personnel au mauvais utilisateur",
}
ACCIDENT_PLAIN = {
    "en": "Our AI assistant showed personal data in answers to other users.",
    "de": "Unser KI-Assistent hat in Antworten an andere Nutzer personenbezogene Daten angezeigt.",
    "fr": "Notre assistant d'IA a affiché des données à caractère personnel dans des réponses destinées à "
    "d'autres utilisateurs.",
}
CAUSE_LINE = {
    MessageKind.SUPERVISORY_AUTHORITY: {"en": "   Cause: {}", "de": "   Ursache: {}", "fr": "   Cause : {}"},
    MessageKind.NIS2_NOTIFICATION: {"en": "   Cause: {}", "de": "   Ursache: {}", "fr": "   Cause : {}"},
    MessageKind.NIS2_FINAL_REPORT: {
        "en": "   {} (malicious act)",
        "de": "   {} (böswillige Handlung)",
        "fr": "   {} (acte malveillant)",
    },
    MessageKind.INTERNAL_COMPLIANCE: {
        "en": "  Cause: {}; confirmed that the data was taken",
        "de": "  Ursache: {}; es ist bestätigt, dass die Daten abgeflossen sind",
        "fr": "  Cause : {} ; il est confirmé que les données ont été exfiltrées",
    },
}


def incident_with(**overrides: Any) -> dict[str, Any]:
    incident = copy.deepcopy(context()["incident"])
    incident["facts"] = facts(**overrides)
    incident["risk_reasons"] = list(assess_risk(parse_facts(incident["facts"], source="test")).reasons)
    return incident


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize("kind", list(CAUSE_LINE))
def test_a_malicious_llm_leak_is_described_to_authorities_as_an_attack(kind: MessageKind, language: str) -> None:
    attacked = render(kind, language=language, context=context(incident=incident_with(breach=ATTACK)))
    assert CAUSE_LINE[kind][language].format(AUTHORITY_CAUSE[language]) in lines(attacked)
    assert ACCIDENT_CAUSE[language] not in attacked.body


@pytest.mark.parametrize("language", ["en", "de", "fr"])
@pytest.mark.parametrize("kind", [MessageKind.DATA_SUBJECT, MessageKind.DATA_SUBJECT_US])
def test_a_malicious_llm_leak_is_described_to_people_as_an_attack(kind: MessageKind, language: str) -> None:
    attacked = render(kind, language=language, context=context(incident=incident_with(breach=ATTACK)))
    assert PLAIN_CAUSE[language] in lines(attacked)
    assert ACCIDENT_PLAIN[language] not in lines(attacked)


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_an_accidental_llm_leak_keeps_its_own_words(language: str) -> None:
    accident = incident_with(breach={"cause": "llm-output-leak", "malicious": False})
    authority = render(MessageKind.SUPERVISORY_AUTHORITY, language=language, context=context(incident=accident))
    people = render(MessageKind.DATA_SUBJECT, language=language, context=context(incident=accident))
    assert CAUSE_LINE[MessageKind.SUPERVISORY_AUTHORITY][language].format(ACCIDENT_CAUSE[language]) in lines(authority)
    assert ACCIDENT_PLAIN[language] in lines(people)


def test_a_malicious_cause_without_a_variant_keeps_its_label() -> None:
    ransom = incident_with(breach={"cause": "ransomware", "malicious": True})
    rendered = render(MessageKind.SUPERVISORY_AUTHORITY, language="de", context=context(incident=ransom))
    assert "   Ursache: Ransomware-Angriff" in lines(rendered)


def _labels(language: str) -> Any:
    loader = jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES))
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701
    return env.get_template(f"{language}/_common.j2").module


@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_every_malicious_variant_names_a_cause(language: str) -> None:
    labels = _labels(language)
    assert set(labels.causes_malicious) == set(labels.plain_causes_malicious) == {"llm-output-leak"}
    assert set(labels.causes_malicious) <= set(get_args(Cause))


# --- item 6: German and French NIS2 reports in their own language, no false zeros ----------------------

ENGLISH_REASON_WORDS = re.compile(
    r"severity if|overall:|confidentiality:|most sensitive|likely to result|malicious actor"
)

NIS2_ASSESSMENT = {
    "de": [
        "   Schweregrad: voraussichtlich hohes Risiko für die Rechte und Freiheiten natürlicher Personen",
        "     - Schwere der Folgen bei Offenlegung: schwerwiegend (sensibelste Daten: Zahlungskartendaten)",
        "     - Vertraulichkeit: Datenabfluss bestätigt, böswilliger Akteur",
        "     - insgesamt: voraussichtlich hohes Risiko für die Rechte und Freiheiten natürlicher Personen (auch die "
        "betroffenen Personen sind zu benachrichtigen)",
    ],
    "fr": [
        "   Gravité : risque élevé pour les droits et libertés des personnes physiques",
        "     - gravité des conséquences en cas de divulgation : grave (données les plus sensibles : données de "
        "cartes de paiement)",
        "     - confidentialité : exfiltration confirmée, acteur malveillant",
        "     - dans l'ensemble : risque élevé pour les droits et libertés des personnes physiques (les personnes "
        "concernées doivent aussi être informées)",
    ],
}


@pytest.mark.parametrize("language", ["de", "fr"])
@pytest.mark.parametrize("kind", [MessageKind.NIS2_NOTIFICATION, MessageKind.NIS2_FINAL_REPORT])
def test_german_and_french_nis2_reports_word_the_risk_reasons_in_their_language(
    kind: MessageKind, language: str
) -> None:
    incident = incident_with(breach=ATTACK)
    assert incident["risk_reasons"] == [
        "severity if disclosed: serious: most sensitive data: payment-card",
        "confidentiality: exfiltration confirmed, malicious actor",
        "overall: likely to result in a high risk (also inform the data subjects)",
    ]
    body = lines(render(kind, language=language, context=context(incident=incident)))
    start = body.index(NIS2_ASSESSMENT[language][0])
    assert body[start : start + 4] == NIS2_ASSESSMENT[language]
    assert not ENGLISH_REASON_WORDS.search("\n".join(body))


def test_english_nis2_reports_keep_the_engines_own_reasons() -> None:
    incident = incident_with(breach=ATTACK)
    body = lines(render(MessageKind.NIS2_NOTIFICATION, language="en", context=context(incident=incident)))
    start = body.index("   Severity: high risk to the rights and freedoms of people")
    assert body[start + 1 : start + 4] == [f"     - {reason}" for reason in incident["risk_reasons"]]


UNSTATED_IMPACT = {
    (MessageKind.NIS2_NOTIFICATION, "de"): ["   Betroffene Nutzer: noch nicht bekannt",
                                            "   Dienst nicht verfügbar für: noch nicht bekannt"],
    (MessageKind.NIS2_NOTIFICATION, "fr"): ["   Utilisateurs touchés : nombre pas encore connu",
                                            "   Service indisponible pendant : durée pas encore connue"],
    (MessageKind.NIS2_NOTIFICATION, "en"): ["   Users affected: not known yet",
                                            "   Service unavailable for: not known yet"],
    (MessageKind.NIS2_FINAL_REPORT, "de"): [
        "   Betroffene Nutzer: noch nicht bekannt; Dienst nicht verfügbar für: noch nicht bekannt"],
    (MessageKind.NIS2_FINAL_REPORT, "fr"): [
        "   Utilisateurs touchés : nombre pas encore connu ; durée d'indisponibilité du service : pas encore connue"],
    (MessageKind.NIS2_FINAL_REPORT, "en"): [
        "   Users affected: not known yet; service unavailable for: not known yet"],
}  # fmt: skip
STATED_IMPACT = {
    (MessageKind.NIS2_NOTIFICATION, "de"): ["   Betroffene Nutzer: 1.500", "   Dienst nicht verfügbar für: 1,5 Stunden"],
    (MessageKind.NIS2_NOTIFICATION, "fr"): ["   Utilisateurs touchés : 1\u202f500",
                                            "   Service indisponible pendant : 1,5 heure"],
    (MessageKind.NIS2_NOTIFICATION, "en"): ["   Users affected: 1,500", "   Service unavailable for: 1.5 hours"],
    (MessageKind.NIS2_FINAL_REPORT, "de"): ["   Betroffene Nutzer: 1.500; Dienst nicht verfügbar für: 1,5 Stunden"],
    (MessageKind.NIS2_FINAL_REPORT, "fr"): [
        "   Utilisateurs touchés : 1\u202f500 ; durée d'indisponibilité du service : 1,5 heure"],
    (MessageKind.NIS2_FINAL_REPORT, "en"): ["   Users affected: 1,500; service unavailable for: 1.5 hours"],
}  # fmt: skip


@pytest.mark.parametrize(("kind", "language"), list(UNSTATED_IMPACT))
def test_nis2_reports_never_claim_zero_users_when_the_facts_give_no_number(kind: MessageKind, language: str) -> None:
    incident = incident_with()
    incident["facts"]["service_impact"] = {}
    body = lines(render(kind, language=language, context=context(incident=incident)))
    expected = UNSTATED_IMPACT[(kind, language)]
    start = body.index(expected[0])
    assert body[start : start + len(expected)] == expected
    assert not any(line.endswith((": 0", " 0 Stunden", " 0 heures", " 0 hours")) for line in body)


@pytest.mark.parametrize(("kind", "language"), list(STATED_IMPACT))
def test_nis2_reports_give_the_stated_users_and_hours_in_the_language(kind: MessageKind, language: str) -> None:
    incident = incident_with(service_impact={"users_affected": 1500, "unavailable_hours": 1.5})
    body = lines(render(kind, language=language, context=context(incident=incident)))
    expected = STATED_IMPACT[(kind, language)]
    start = body.index(expected[0])
    assert body[start : start + len(expected)] == expected


def test_one_hour_is_singular() -> None:
    incident = incident_with(service_impact={"users_affected": 10, "unavailable_hours": 1})
    assert "   Dienst nicht verfügbar für: 1 Stunde" in lines(
        render(MessageKind.NIS2_NOTIFICATION, language="de", context=context(incident=incident))
    )
    assert "   Service unavailable for: 1 hour" in lines(
        render(MessageKind.NIS2_NOTIFICATION, language="en", context=context(incident=incident))
    )


def _engine_reasons() -> dict[str, str]:
    """One English sentence per reason code, from facts chosen to reach every branch of obligations/risk.py."""
    found: dict[str, str] = {}
    shapes = itertools.product(
        get_args(Cause),
        ["confirmed", "likely", "ruled-out", "unknown"],
        [False, True],
        [["confidentiality"], ["availability", "integrity"]],
    )
    variants: list[dict[str, Any]] = [
        {"categories": ["contact"], "subjects": 5},
        {"categories": ["identity", "date-of-birth", "address"], "subjects": 150, "vulnerable_subjects": True},
        {"categories": ["health"], "subjects": 20_000},
        {"categories": ["payment-card"], "subjects": 20_000},
        {"categories": ["contact"], "subjects": 5, "protection": {"encrypted": True}},
        {"categories": ["model-weights"], "subjects": 0},
    ]
    containments: list[dict[str, Any]] = [
        {},
        {"recipient_trusted": True, "data_retrieved_or_deleted": True},
        {"misuse_observed": True, "availability_restored_after_hours": 2.5},
        {"availability_restored_after_hours": 48, "operational_impact": "minor"},
        {"operational_impact": "significant"},
    ]
    for (cause, exfiltration, malicious, types), data, containment in itertools.product(shapes, variants, containments):
        raw = {
            "aware_at": "2026-11-25T09:00:00Z",
            "controller": {"establishments": ["DE"]},
            "breach": {"types": types, "cause": cause, "exfiltration": exfiltration, "malicious": malicious},
            "data": data,
            "containment": containment,
        }
        try:
            parsed_facts = parse_facts(raw, source="test")
        except FactsValidationError:
            continue  # a combination the facts refuse (e.g. encrypted data in an LLM answer) has no reasons
        for reason in assess_risk(parsed_facts).reasons:
            for parsed in risk_reasons([reason]):
                found.setdefault(parsed["code"], reason)
                for detail in parsed.get("details", []):
                    found.setdefault(f"detail:{detail['code']}", reason)
    return found


ALL_REASON_CODES = {
    "severity", "no-personal-data", "overall",
    "detail:most-sensitive", "detail:identity-fraud-kit", "detail:vulnerable-subjects", "detail:large-volume",
    "confidentiality-unintelligible", "confidentiality-trusted-recipient", "confidentiality-misuse",
    "confidentiality-llm-stopped", "confidentiality-exfiltration-confirmed-malicious",
    "confidentiality-exfiltration-confirmed", "confidentiality-exfiltration-likely",
    "confidentiality-exfiltration-ruled-out", "confidentiality-exposure-unknown", "confidentiality-isolated",
    "confidentiality-misdirected", "confidentiality-presumed-accessed",
    "availability-significant-impact", "availability-permanent", "availability-restored",
    "availability-restored-from-backup", "integrity-malicious", "integrity-mistake",
}  # fmt: skip


def test_every_sentence_the_engine_writes_has_a_code_and_words_in_german_and_french() -> None:
    # If obligations/risk.py gains a sentence, it shows up here as "other" (left out of the German and French
    # notices) until the table in render.py and the words in _common.j2 know it.
    found = _engine_reasons()
    assert "other" not in found, found.get("other")
    assert set(found) == ALL_REASON_CODES
    for language in ("de", "fr"):
        labels = _labels(language)
        for code, sentence in found.items():
            for parsed in risk_reasons([sentence], language=language):
                worded = str(labels.risk_reason(parsed))
                assert worded.strip() == worded != "", (language, code, sentence)
                assert not ENGLISH_REASON_WORDS.search(worded), (language, worded)


@pytest.mark.parametrize(
    ("sentence", "language", "expected"),
    [
        (
            "severity if disclosed: very serious: most sensitive data: health; vulnerable data subjects; "
            "large volume (20000 people)",
            "de",
            "Schwere der Folgen bei Offenlegung: sehr schwerwiegend (sensibelste Daten: Gesundheitsdaten; "
            "schutzbedürftige betroffene Personen; große Zahl betroffener Personen (20.000))",
        ),
        (
            "severity if lost or altered: significant: most sensitive data: identity; name, date of birth and "
            "address together enable identity fraud",
            "fr",
            "gravité des conséquences en cas de perte ou d'altération : importante (données les plus sensibles : "
            "noms et autres données d'identification ; nom, date de naissance et adresse réunis permettent "
            "l'usurpation d'identité)",
        ),
        (
            "confidentiality: LLM output shown to the wrong user affecting 1200 people",
            "de",
            "Vertraulichkeit: Antwort des KI-Assistenten an einen falschen Nutzer, 1.200 betroffene Personen",
        ),
        (
            "confidentiality: isolated misdelivery, no malice",
            "fr",
            "confidentialité : cas isolé (erreur d'envoi), sans acte malveillant",
        ),
        (
            "confidentiality: exposure unknown after theft, data must be presumed accessed",
            "de",
            "Vertraulichkeit: unbekannt, ob die Daten eingesehen wurden (Ursache: Diebstahl); es ist davon "
            "auszugehen, dass auf sie zugegriffen wurde",
        ),
        (
            "availability: restored from backup after 1.5 hours, no operational impact",
            "fr",
            "disponibilité : restaurée à partir d'une sauvegarde après 1,5 heure, sans impact opérationnel",
        ),
        ("availability: restored after 36 hours", "de", "Verfügbarkeit: nach 36 Stunden wiederhergestellt"),
        (
            "no personal data affected (business, model-weights): not a personal data breach (GDPR Art. 4(12))",
            "de",
            "keine personenbezogenen Daten betroffen (Geschäftsdaten, Gewichte des KI-Modells): keine Verletzung "
            "des Schutzes personenbezogener Daten (Art. 4 Nr. 12 DSGVO)",
        ),
        (
            "overall: likely to result in a risk (notify the supervisory authority)",
            "fr",
            "dans l'ensemble : risque pour les droits et libertés des personnes physiques (notification à "
            "l'autorité de contrôle)",
        ),
    ],
)
def test_reasons_are_worded_exactly(sentence: str, language: str, expected: str) -> None:
    assert str(_labels(language).risk_reason(risk_reasons([sentence], language=language)[0])) == expected


@pytest.mark.parametrize(
    "sentence",
    [
        "confidentiality: the moon was full",
        "severity if disclosed: serious: most sensitive data: not-a-category",
        "severity if disclosed: serious: most sensitive data: health; a new aggravating factor",
        "confidentiality: exposure unknown after sunspots, data must be presumed accessed",
        "confidentiality: isolated carrier pigeon, no malice",
    ],
)
def test_an_unknown_sentence_is_left_out_in_german_and_quoted_in_english(sentence: str) -> None:
    assert risk_reasons([sentence]) == [{"code": "other"}]
    incident = {**incident_with(breach=ATTACK), "risk_reasons": [sentence, "confidentiality: exfiltration likely"]}
    german = lines(render(MessageKind.NIS2_NOTIFICATION, language="de", context=context(incident=incident)))
    start = german.index(
        "   Schweregrad: voraussichtlich hohes Risiko für die Rechte und Freiheiten natürlicher Personen"
    )
    assert german[start + 1 : start + 3] == [
        "     - Vertraulichkeit: Datenabfluss wahrscheinlich",
        "   Betroffene Nutzer: 1.200",
    ]
    english = lines(render(MessageKind.NIS2_NOTIFICATION, language="en", context=context(incident=incident)))
    assert f"     - {sentence}" in english


def test_risk_reasons_must_be_a_list_of_sentences() -> None:
    incident = {**incident_with(), "risk_reasons": "severity if disclosed: serious: most sensitive data: health"}
    with pytest.raises(TemplateRuntimeError, match=r"nis2-notification\.j2: line \d+: risk_reasons expects a list"):
        render(MessageKind.NIS2_NOTIFICATION, language="de", context=context(incident=incident))


def test_numbers_in_each_language() -> None:
    assert [format_number(1.5, language=lang) for lang in ("en", "de", "fr")] == ["1.5", "1,5", "1,5"]
    assert [format_number(12000.0, language=lang) for lang in ("en", "de", "fr")] == ["12,000", "12.000", "12\u202f000"]
    assert format_number(None, language="de") == "noch nicht bekannt"
    with pytest.raises(TypeError, match="number expects a number, got str"):
        format_number("1.5")


# --- item 11: German and French readers get their own clock beside UTC ---------------------------------


@pytest.mark.parametrize(
    ("moment", "language", "human", "when"),
    [
        (  # the reviewer's case: winter, CET = UTC+1
            "2026-11-26T13:30:00Z",
            "de",
            "Donnerstag, 26. November 2026, 13:30 Uhr UTC (14:30 Uhr MEZ)",
            "2026-11-26T13:30:00Z (Donnerstag, 26. November 2026, 13:30 Uhr UTC; 14:30 Uhr MEZ)",
        ),
        (
            "2026-11-26T13:30:00Z",
            "fr",
            "jeudi 26 novembre 2026, 13 h 30 UTC (14 h 30, heure de Paris)",
            "2026-11-26T13:30:00Z (jeudi 26 novembre 2026, 13 h 30 UTC ; 14 h 30, heure de Paris)",
        ),
        (  # summer, CEST = UTC+2
            "2026-07-15T13:30:00+00:00",
            "de",
            "Mittwoch, 15. Juli 2026, 13:30 Uhr UTC (15:30 Uhr MESZ)",
            "2026-07-15T13:30:00Z (Mittwoch, 15. Juli 2026, 13:30 Uhr UTC; 15:30 Uhr MESZ)",
        ),
        (
            "2026-07-15T13:30:00Z",
            "fr",
            "mercredi 15 juillet 2026, 13 h 30 UTC (15 h 30, heure de Paris)",
            "2026-07-15T13:30:00Z (mercredi 15 juillet 2026, 13 h 30 UTC ; 15 h 30, heure de Paris)",
        ),
        (  # late evening in UTC is already the next day in Berlin
            "2026-11-26T23:30:00Z",
            "de",
            "Donnerstag, 26. November 2026, 23:30 Uhr UTC (Freitag, 27. November 2026, 00:30 Uhr MEZ)",
            "2026-11-26T23:30:00Z (Donnerstag, 26. November 2026, 23:30 Uhr UTC; Freitag, 27. November 2026, "
            "00:30 Uhr MEZ)",
        ),
        (
            "2026-12-31T23:15:00Z",
            "fr",
            "jeudi 31 décembre 2026, 23 h 15 UTC (vendredi 1 janvier 2027, 00 h 15, heure de Paris)",
            "2026-12-31T23:15:00Z (jeudi 31 décembre 2026, 23 h 15 UTC ; vendredi 1 janvier 2027, 00 h 15, heure de "
            "Paris)",
        ),
        (  # the minute before and the minute summer time starts (last Sunday of March, 01:00 UTC)
            "2026-03-29T00:59:00Z",
            "de",
            "Sonntag, 29. März 2026, 00:59 Uhr UTC (01:59 Uhr MEZ)",
            "2026-03-29T00:59:00Z (Sonntag, 29. März 2026, 00:59 Uhr UTC; 01:59 Uhr MEZ)",
        ),
        (
            "2026-03-29T01:00:00Z",
            "de",
            "Sonntag, 29. März 2026, 01:00 Uhr UTC (03:00 Uhr MESZ)",
            "2026-03-29T01:00:00Z (Sonntag, 29. März 2026, 01:00 Uhr UTC; 03:00 Uhr MESZ)",
        ),
        (  # 02:30 happens twice when summer time ends; MESZ/MEZ tells which
            "2026-10-25T00:30:00Z",
            "de",
            "Sonntag, 25. Oktober 2026, 00:30 Uhr UTC (02:30 Uhr MESZ)",
            "2026-10-25T00:30:00Z (Sonntag, 25. Oktober 2026, 00:30 Uhr UTC; 02:30 Uhr MESZ)",
        ),
        (
            "2026-10-25T01:30:00Z",
            "de",
            "Sonntag, 25. Oktober 2026, 01:30 Uhr UTC (02:30 Uhr MEZ)",
            "2026-10-25T01:30:00Z (Sonntag, 25. Oktober 2026, 01:30 Uhr UTC; 02:30 Uhr MEZ)",
        ),
        (  # an offset in the input is only a way of writing the instant
            "2026-11-26T14:30:00+01:00",
            "en",
            "Thursday 26 November 2026, 13:30 UTC",
            "2026-11-26T13:30:00Z (Thursday 26 November 2026, 13:30 UTC)",
        ),
    ],
)
def test_german_and_french_times_give_the_central_european_clock(
    moment: str, language: str, human: str, when: str
) -> None:
    assert format_human(moment, language=language) == human
    assert format_when(moment, language=language) == when


def test_notices_to_people_carry_the_local_time() -> None:
    incident = {**context()["incident"], "aware_at": "2026-11-26T13:30:00Z"}
    german = render(MessageKind.DATA_SUBJECT, language="de", context=context(incident=incident))
    french = render(MessageKind.DATA_SUBJECT, language="fr", context=context(incident=incident))
    english = render(MessageKind.DATA_SUBJECT, language="en", context=context(incident=incident))
    assert "Donnerstag, 26. November 2026, 13:30 Uhr UTC (14:30 Uhr MEZ)" in german.body
    assert "jeudi 26 novembre 2026, 13 h 30 UTC (14 h 30, heure de Paris)" in french.body
    assert "Thursday 26 November 2026, 13:30 UTC" in english.body
    assert "MEZ" not in english.body and "Paris" not in english.body


def test_a_missing_time_zone_database_is_named_not_hidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_zone(name: str) -> Any:
        raise render_module.ZoneInfoNotFoundError(f"No time zone found with key {name}")

    monkeypatch.setattr(render_module, "ZoneInfo", no_zone)
    with pytest.raises(ValueError, match=r"the time zone database has no Europe/Berlin \(install the tzdata package\)"):
        format_human("2026-11-26T13:30:00Z", language="de")
    with pytest.raises(TemplateRuntimeError, match="the time zone database has no Europe/Paris"):
        render(MessageKind.DATA_SUBJECT, language="fr", context=context())
    assert format_human("2026-11-26T13:30:00Z", language="en") == "Thursday 26 November 2026, 13:30 UTC"


def test_invalid_context_still_refused_before_any_local_time() -> None:
    incident = {**context()["incident"], "aware_at": "2026-11-26T13:30:00"}
    with pytest.raises(InvalidContextValue, match="has no UTC offset"):
        render(MessageKind.DATA_SUBJECT, language="de", context=context(incident=incident))
