"""Tests of `leakline.notify.render`: every kind in every language, the legally required headings and fields
of each kind, strict context errors, user overrides, language fallback, and that internal alerts carry no
personal data beyond what the context holds."""

from __future__ import annotations

import copy
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, get_args

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.config import load_settings
from leakline.errors import ConfigError
from leakline.findings import Severity
from leakline.notify import render as render_module
from leakline.notify.render import (
    LANGUAGES,
    PACKAGE_TEMPLATES,
    InvalidContextValue,
    InvalidLanguage,
    MessageKind,
    MissingContextKey,
    Rendered,
    TemplateDirError,
    TemplateRuntimeError,
    TemplateStructureError,
    TemplateSyntaxError,
    UnknownMessageKind,
    available_templates,
    format_count,
    format_human,
    format_iso,
    format_remaining,
    format_when,
    render,
    templates_dir,
)
from leakline.obligations.facts import Category, Cause, Sector, Size
from leakline.signals import SignalKind

NOW = "2026-11-25T10:30:00Z"
DPO = {"name": "Dana Privacy", "email": "dpo@acme.example", "phone": "+49 30 1234567"}


def facts(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "aware_at": "2026-11-25T09:00:00Z",
        "controller": {"establishments": ["DE"], "sector": "online-marketplace", "size": "large"},
        "breach": {"types": ["confidentiality"], "cause": "llm-output-leak", "exfiltration": "likely"},
        "data": {
            "categories": ["payment-card", "contact", "prompts"],
            "subjects": 1200,
            "subjects_by_jurisdiction": {"DE": 900, "FR": 200, "US-CA": 100},
        },
        "containment": {"operational_impact": "minor"},
        "service_impact": {"users_affected": 1200},
    }
    for key, value in overrides.items():
        base[key] = {**base[key], **value} if isinstance(value, dict) else value
    return base


def context(**overrides: Any) -> dict[str, Any]:
    ctx: dict[str, Any] = {
        "organisation": {
            "name": "Acme Shop GmbH",
            "establishments": ["DE"],
            "sector": "online-marketplace",
            "size": "large",
            "dpo": dict(DPO),
        },
        "incident": {
            "id": "inc_7f3a",
            "title": "Assistant showed another customer's order",
            "status": "contained",
            "detected_at": "2026-11-25T08:55:00Z",
            "aware_at": "2026-11-25T09:00:00Z",
            "summary": "assistant answer contained an order of another customer (e-mail m…@example.org)",
            "risk": "high",
            "risk_reasons": ["severity if disclosed: serious: most sensitive data: payment-card"],
            "facts": facts(),
            "records": 3400,
        },
        "obligation": {
            "regime": "gdpr-33",
            "jurisdiction": "DE",
            "recipient": "supervisory-authority",
            "authority": "the competent German supervisory authority",
            "required": True,
            "why": "required under GDPR Art. 33(1): personal data is affected",
            "due_at": "2026-11-28T09:00:00Z",
            "deadline": "without undue delay and, where feasible, within 72 hours of becoming aware",
            "basis": "GDPR Art. 33(1)",
            "content": ["nature of the breach"],
        },
        "recipient": {"name": "Compliance on call", "kind": "internal-compliance", "role": "compliance"},
        "signal": {
            "kind": "leak-caught",
            "source": "gateway:eu",
            "severity": "high",
            "surface": "backend",
            "summary": "payment card number in model output (4111…1111)",
        },
        "now": NOW,
    }
    for key, value in overrides.items():
        ctx[key] = value
    return ctx


def lines(rendered: Rendered) -> list[str]:
    return rendered.body.split("\n")


def in_order(text: str, *parts: str) -> bool:
    position = -1
    for part in parts:
        found = text.find(part, position + 1)
        if found <= position:
            return False
        position = found
    return True


# --- every kind in every language ------------------------------------------------------------------


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_kind_renders_in_every_language(kind: MessageKind, language: str) -> None:
    rendered = render(kind, language=language, context=context())
    assert rendered.kind is kind
    assert rendered.language == language
    assert rendered.requested_language == language
    assert rendered.fell_back is False
    assert rendered.template == f"builtin/{language}/{kind.value}.j2"
    assert "\n" not in rendered.subject and rendered.subject == rendered.subject.strip() != ""
    assert rendered.body.endswith("\n") and not rendered.body.startswith("\n")
    assert "\n\n\n" not in rendered.body
    assert "inc_7f3a" in rendered.subject + rendered.body
    assert "Acme Shop GmbH" in rendered.subject + rendered.body or kind in (
        MessageKind.INTERNAL_COMPLIANCE,
        MessageKind.OWNER_TEAM,
        MessageKind.EXECUTIVE_BRIEF,
    )


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("kind", list(MessageKind))
def test_every_kind_renders_before_any_facts_are_known(kind: MessageKind, language: str) -> None:
    incident = {**context()["incident"], "facts": {}, "aware_at": None, "risk": None, "risk_reasons": []}
    del incident["records"]
    rendered = render(kind, language=language, context=context(incident=incident, obligation=None, signal=None))
    assert rendered.language == language


def test_all_templates_are_shipped() -> None:
    assert available_templates() == [f"{lang}/{kind.value}.j2" for kind in MessageKind for lang in LANGUAGES]


# --- supervisory authority (GDPR Art. 33) ----------------------------------------------------------

ART_33_HEADINGS = {
    "en": (
        "2. Controller and contact point (Art. 33(3)(b))",
        "4. Nature of the breach (Art. 33(3)(a))",
        "5. Personal data concerned (Art. 33(3)(a))",
        "6. Data subjects concerned (Art. 33(3)(a))",
        "7. Likely consequences (Art. 33(3)(c))",
        "8. Measures taken or proposed, including mitigation (Art. 33(3)(d))",
    ),
    "de": (
        "2. Verantwortlicher und Anlaufstelle (Art. 33 Abs. 3 lit. b DSGVO)",
        "4. Art der Verletzung (Art. 33 Abs. 3 lit. a DSGVO)",
        "5. Betroffene personenbezogene Daten (Art. 33 Abs. 3 lit. a DSGVO)",
        "6. Betroffene Personen (Art. 33 Abs. 3 lit. a DSGVO)",
        "7. Wahrscheinliche Folgen (Art. 33 Abs. 3 lit. c DSGVO)",
        "8. Ergriffene oder vorgeschlagene Maßnahmen, einschließlich Maßnahmen zur Abmilderung "
        "(Art. 33 Abs. 3 lit. d DSGVO)",
    ),
    "fr": (
        "2. Responsable du traitement et point de contact (article 33, paragraphe 3, point b))",
        "4. Nature de la violation (article 33, paragraphe 3, point a))",
        "5. Données à caractère personnel concernées (article 33, paragraphe 3, point a))",
        "6. Personnes concernées (article 33, paragraphe 3, point a))",
        "7. Conséquences probables (article 33, paragraphe 3, point c))",
        "8. Mesures prises ou proposées, y compris pour en atténuer les éventuelles conséquences négatives "
        "(article 33, paragraphe 3, point d))",
    ),
}
ART_33_FIELDS = {
    "en": (
        "   Data protection officer or other contact point: "
        "Dana Privacy, e-mail dpo@acme.example, phone +49 30 1234567",
        "     - confidentiality breach (unauthorised disclosure of, or access to, personal data)",
        "     - contact details (e-mail addresses, phone numbers)",
        "     - payment card data",
        "   Approximate number of personal data records: 3,400",
        "   Approximate number of data subjects: 1,200",
        "     - DE: 900",
        "     - fraudulent payments or other financial loss",
        "     - the leak has been contained",
        "     - tightening the filters that check the AI assistant's answers for personal data",
    ),
    "de": (
        "   Datenschutzbeauftragter oder sonstige Anlaufstelle: "
        "Dana Privacy, E-Mail dpo@acme.example, Telefon +49 30 1234567",
        "     - Verletzung der Vertraulichkeit (unbefugte Offenlegung personenbezogener Daten oder unbefugter "
        "Zugang zu ihnen)",
        "     - Kontaktdaten (E-Mail-Adressen, Telefonnummern)",
        "     - Zahlungskartendaten",
        "   Ungefähre Zahl der betroffenen personenbezogenen Datensätze: 3.400",
        "   Ungefähre Zahl der betroffenen Personen: 1.200",
        "     - DE: 900",
        "     - betrügerische Zahlungen oder andere finanzielle Verluste",
        "     - der Datenabfluss ist eingedämmt",
        "     - Verschärfung der Filter, die die Antworten des KI-Assistenten auf personenbezogene Daten prüfen",
    ),
    "fr": (
        "   Délégué à la protection des données ou autre point de contact : "
        "Dana Privacy, courriel dpo@acme.example, téléphone +49 30 1234567",
        "     - atteinte à la confidentialité (divulgation ou accès non autorisé à des données à caractère personnel)",
        "     - coordonnées (adresses électroniques, numéros de téléphone)",
        "     - données de cartes de paiement",
        "   Nombre approximatif d'enregistrements de données à caractère personnel concernés : 3\u202f400",
        "   Nombre approximatif de personnes concernées : 1\u202f200",
        "     - DE : 900",
        "     - paiements frauduleux ou autres pertes financières",
        "     - la fuite a été circonscrite",
        "     - renforcement des filtres qui contrôlent la présence de données à caractère personnel dans les "
        "réponses de l'assistant d'IA",
    ),
}
BREACH_TERM = {
    "en": "Notification of a personal data breach (GDPR Art. 33) – Acme Shop GmbH – inc_7f3a",
    "de": "Meldung einer Verletzung des Schutzes personenbezogener Daten (Art. 33 DSGVO) – Acme Shop GmbH – inc_7f3a",
    "fr": "Notification d'une violation de données à caractère personnel (article 33 du RGPD) – Acme Shop GmbH – "
    "inc_7f3a",
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_supervisory_authority_notice_has_every_article_33_3_item_in_order(language: str) -> None:
    rendered = render(MessageKind.SUPERVISORY_AUTHORITY, language=language, context=context())
    assert rendered.subject == BREACH_TERM[language]
    assert in_order(rendered.body, *ART_33_HEADINGS[language])
    body_lines = lines(rendered)
    for field in ART_33_FIELDS[language]:
        assert field in body_lines, field


@pytest.mark.parametrize(
    ("language", "subject", "intro", "missing_lines"),
    [
        (
            "en",
            "Initial notification of a personal data breach (GDPR Art. 33) – Acme Shop GmbH – inc_7f3a",
            "This is an initial notification in phases under Art. 33(4) GDPR.",
            ["  - the number of personal data records concerned", "  - the cause of the breach"],
        ),
        (
            "de",
            "Erstmeldung einer Verletzung des Schutzes personenbezogener Daten (Art. 33 DSGVO) – Acme Shop GmbH – "
            "inc_7f3a",
            "Dies ist eine Erstmeldung im Rahmen einer schrittweisen Meldung nach Art. 33 Abs. 4 DSGVO.",
            ["  - die Zahl der betroffenen personenbezogenen Datensätze", "  - die Ursache der Verletzung"],
        ),
        (
            "fr",
            "Notification initiale d'une violation de données à caractère personnel (article 33 du RGPD) – "
            "Acme Shop GmbH – inc_7f3a",
            "Il s'agit d'une notification initiale, effectuée de manière échelonnée conformément à l'article 33,",
            [
                "  - la cause de la violation",
                "  - le nombre d'enregistrements de données à caractère personnel concernés",
            ],
        ),
    ],
)
def test_incomplete_facts_make_a_phased_initial_notification(
    language: str, subject: str, intro: str, missing_lines: list[str]
) -> None:
    incident = {**context()["incident"], "facts": facts(breach={"cause": "unknown"})}
    del incident["records"]
    rendered = render(MessageKind.SUPERVISORY_AUTHORITY, language=language, context=context(incident=incident))
    assert rendered.subject == subject
    assert intro in rendered.body
    body_lines = lines(rendered)
    for missing in missing_lines:
        assert missing in body_lines


@pytest.mark.parametrize(
    ("language", "line"),
    [
        ("en", "   Sector: online marketplace"),
        ("de", "   Branche: Online-Marktplatz"),
        ("fr", "   Secteur : place de marché en ligne"),
    ],
)
def test_the_sector_is_named_in_the_language(language: str, line: str) -> None:
    assert line in lines(render(MessageKind.SUPERVISORY_AUTHORITY, language=language, context=context()))


def test_categories_of_data_subjects_come_from_the_context_or_are_left_to_the_approver() -> None:
    asked = render(MessageKind.SUPERVISORY_AUTHORITY, context=context())
    incident = {**context()["incident"], "subject_categories": ["customers", "newsletter subscribers"]}
    given_ = render(MessageKind.SUPERVISORY_AUTHORITY, context=context(incident=incident))
    assert "   Categories of data subjects: [TO COMPLETE before sending: e.g. customers, employees]" in lines(asked)
    assert "   Categories of data subjects: customers, newsletter subscribers" in lines(given_)


def test_complete_facts_make_a_complete_notification_without_phases() -> None:
    rendered = render(MessageKind.SUPERVISORY_AUTHORITY, language="en", context=context())
    assert "   Complete notification" in lines(rendered)
    assert "Art. 33(4)" not in rendered.body


def test_a_notice_later_than_72_hours_asks_for_the_reasons_of_the_delay() -> None:
    on_time = render(MessageKind.SUPERVISORY_AUTHORITY, context=context())
    late = render(MessageKind.SUPERVISORY_AUTHORITY, context=context(now="2026-11-28T09:00:01Z"))
    delay_line = "   Reasons for the delay beyond 72 hours (Art. 33(1)): [TO COMPLETE before sending]"
    assert delay_line not in lines(on_time)
    assert delay_line in lines(late)


def test_without_a_dpo_the_organisation_is_the_contact_point() -> None:
    organisation = {**context()["organisation"], "dpo": None}
    rendered = render(MessageKind.SUPERVISORY_AUTHORITY, context=context(organisation=organisation))
    assert (
        "   Data protection officer or other contact point: Acme Shop GmbH "
        "(no data protection officer is designated; this is our contact point)"
    ) in lines(rendered)


# --- NIS2 Art. 23 -----------------------------------------------------------------------------------


def test_nis2_early_warning_answers_both_article_23_4_a_questions() -> None:
    incident = {**context()["incident"], "facts": facts(breach={"cause": "ransomware", "malicious": True})}
    rendered = render(MessageKind.NIS2_EARLY_WARNING, context=context(incident=incident))
    assert rendered.subject == (
        "NIS2 early warning (Art. 23(4)(a)) – significant incident at Acme Shop GmbH – inc_7f3a"
    )
    assert "Suspected of being caused by unlawful or malicious acts: yes" in lines(rendered)
    assert "Could have a cross-border impact: yes (DE, FR, US)" in lines(rendered)


@pytest.mark.parametrize(
    ("language", "malicious", "cross_border"),
    [
        (
            "de",
            "Verdacht auf rechtswidrige oder böswillige Handlungen: bisher keine Anhaltspunkte "
            "(ein KI-Assistent hat personenbezogene Daten einem falschen Nutzer angezeigt)",
            "Mögliche grenzüberschreitende Auswirkungen: bisher keine Anhaltspunkte (DE)",
        ),
        (
            "fr",
            "Incident suspecté d'être causé par des actes illicites ou malveillants : aucun indice à ce stade "
            "(un assistant d'IA a affiché des données à caractère personnel au mauvais utilisateur)",
            "Impact transfrontière possible : aucun indice à ce stade (DE)",
        ),
    ],
)
def test_nis2_early_warning_in_german_and_french(language: str, malicious: str, cross_border: str) -> None:
    incident = {**context()["incident"], "facts": facts(data={"subjects_by_jurisdiction": {"DE": 1200}})}
    rendered = render(MessageKind.NIS2_EARLY_WARNING, language=language, context=context(incident=incident))
    assert malicious in lines(rendered)
    assert cross_border in lines(rendered)


def test_nis2_notification_gives_assessment_severity_impact_and_indicators() -> None:
    rendered = render(MessageKind.NIS2_NOTIFICATION, context=context())
    assert in_order(
        rendered.body,
        "1. Update of the early warning",
        "2. Initial assessment: severity and impact",
        "   Severity: high risk to the rights and freedoms of people",
        "   Users affected: 1,200",
        "3. Indicators of compromise",
        "   Observation: payment card number in model output (4111…1111)",
    )


@pytest.mark.parametrize(
    ("language", "sections"),
    [
        (
            "en",
            (
                "1. Detailed description of the incident, its severity and impact",
                "2. Type of threat or root cause that likely triggered the incident",
                "3. Mitigation measures applied and ongoing",
                "4. Cross-border impact",
                "   Countries affected: DE, FR, US (cross-border impact)",
            ),
        ),
        (
            "de",
            (
                "1. Ausführliche Beschreibung des Sicherheitsvorfalls, einschließlich seines Schweregrads und seiner "
                "Auswirkungen",
                "2. Art der Bedrohung bzw. zugrunde liegende Ursache, die den Sicherheitsvorfall wahrscheinlich "
                "ausgelöst hat",
                "3. Angewandte und laufende Abhilfemaßnahmen",
                "4. Grenzüberschreitende Auswirkungen",
            ),
        ),
        (
            "fr",
            (
                "1. Description détaillée de l'incident, y compris de sa gravité et de son impact",
                "2. Type de menace ou cause profonde ayant probablement déclenché l'incident",
                "3. Mesures d'atténuation appliquées et en cours",
                "4. Impact transfrontière",
            ),
        ),
    ],
)
def test_nis2_final_report_sections(language: str, sections: tuple[str, ...]) -> None:
    rendered = render(MessageKind.NIS2_FINAL_REPORT, language=language, context=context())
    assert in_order(rendered.body, *sections)


# --- data subjects ----------------------------------------------------------------------------------

CALIFORNIA_HEADINGS = (
    "What Happened",
    "What Information Was Involved",
    "What We Are Doing",
    "What You Can Do",
    "For More Information",
)


def test_us_notice_has_the_california_title_and_five_headings_in_order() -> None:
    rendered = render(MessageKind.DATA_SUBJECT_US, context=context())
    assert rendered.subject == "Notice of Data Breach – Acme Shop GmbH"
    body_lines = lines(rendered)
    assert body_lines[0] == "NOTICE OF DATA BREACH"
    positions = [body_lines.index(heading) for heading in CALIFORNIA_HEADINGS]
    assert positions == sorted(positions)
    assert "Contact Dana Privacy, e-mail dpo@acme.example, phone +49 30 1234567, quoting reference inc_7f3a." in (
        body_lines
    )
    assert "Acme Shop GmbH – notice date: Wednesday 25 November 2026, 10:30 UTC" in body_lines


@pytest.mark.parametrize("language", ["de", "fr"])
def test_translated_us_notices_keep_the_statutory_headings(language: str) -> None:
    rendered = render(MessageKind.DATA_SUBJECT_US, language=language, context=context())
    assert rendered.subject.startswith("Notice of Data Breach – ")
    assert in_order(rendered.body, *(f"({heading})" for heading in CALIFORNIA_HEADINGS))


def test_us_notice_lists_credit_bureaus_and_protection_only_for_identification_numbers() -> None:
    without = render(MessageKind.DATA_SUBJECT_US, context=context())
    incident = {**context()["incident"], "facts": facts(data={"categories": ["government-id", "identity"]})}
    with_ids = render(MessageKind.DATA_SUBJECT_US, context=context(incident=incident))
    bureau = "      Equifax, P.O. Box 740241, Atlanta, GA 30374, 1-800-685-1111"
    assert bureau not in lines(without)
    assert bureau in lines(with_ids)
    assert "at least 12 months" in with_ids.body and "at least 12 months" not in without.body


def test_us_notice_states_the_law_enforcement_delay_when_known() -> None:
    unknown = render(MessageKind.DATA_SUBJECT_US, context=context())
    incident = {**context()["incident"], "law_enforcement_delay": False}
    known = render(MessageKind.DATA_SUBJECT_US, context=context(incident=incident))
    placeholder = (
        "[TO COMPLETE before sending: state whether this notice was delayed as a result of a law enforcement "
        "investigation]"
    )
    assert placeholder in lines(unknown)
    assert placeholder not in lines(known)
    assert "This notice was not delayed as a result of a law enforcement investigation." in lines(known)


DATA_SUBJECT_SECTIONS = {
    "en": ("What happened", "Which of your data is involved", "What this could mean for you",
           "What we have done and are doing", "What you can do", "Who to contact"),
    "de": ("Was ist geschehen?", "Welche Ihrer Daten sind betroffen?", "Was kann das für Sie bedeuten?",
           "Was wir getan haben und tun", "Was Sie selbst tun können", "Ihre Ansprechperson"),
    "fr": ("Que s'est-il passé ?", "Quelles données vous concernant sont en cause ?", "Quelles conséquences pour vous ?",
           "Ce que nous avons fait et faisons", "Ce que vous pouvez faire", "Qui contacter ?"),
}  # fmt: skip
DATA_SUBJECT_FACTS = {
    "en": (
        "Our AI assistant showed personal data in answers to other users.",
        "  - payment card data",
        "  - fraudulent payments or other financial loss",
        "  - Check your bank and card statements and report any payment you do not recognise to your bank.",
        "Our data protection officer: Dana Privacy, e-mail dpo@acme.example, phone +49 30 1234567",
    ),
    "de": (
        "Unser KI-Assistent hat in Antworten an andere Nutzer personenbezogene Daten angezeigt.",
        "  - Zahlungskartendaten",
        "  - betrügerische Zahlungen oder andere finanzielle Verluste",
        "  - Prüfen Sie Ihre Konto- und Kreditkartenabrechnungen und melden Sie Ihrer Bank jede Zahlung, "
        "die Sie nicht kennen.",
        "Unser Datenschutzbeauftragter: Dana Privacy, E-Mail dpo@acme.example, Telefon +49 30 1234567",
    ),
    "fr": (
        "Notre assistant d'IA a affiché des données à caractère personnel dans des réponses destinées à d'autres "
        "utilisateurs.",
        "  - données de cartes de paiement",
        "  - paiements frauduleux ou autres pertes financières",
        "  - Vérifiez vos relevés bancaires et de carte et signalez à votre banque tout paiement que vous ne "
        "reconnaissez pas.",
        "Notre délégué à la protection des données : Dana Privacy, courriel dpo@acme.example, téléphone +49 30 1234567",
    ),
}


@pytest.mark.parametrize("language", LANGUAGES)
def test_data_subject_notice_covers_article_34_2_in_plain_language(language: str) -> None:
    rendered = render(MessageKind.DATA_SUBJECT, language=language, context=context())
    body_lines = lines(rendered)
    positions = [body_lines.index(heading) for heading in DATA_SUBJECT_SECTIONS[language]]
    assert positions == sorted(positions)
    for line in DATA_SUBJECT_FACTS[language]:
        assert line in body_lines, line


@pytest.mark.parametrize("kind", [MessageKind.DATA_SUBJECT, MessageKind.DATA_SUBJECT_US])
@pytest.mark.parametrize("language", LANGUAGES)
def test_notices_to_people_never_repeat_internal_summaries(kind: MessageKind, language: str) -> None:
    # Summaries are redacted but may still point at another person ("m…@example.org"); a mass notice
    # to the people affected must not carry them.
    ctx = context()
    rendered = render(kind, language=language, context=ctx)
    assert ctx["incident"]["summary"] not in rendered.body
    assert ctx["signal"]["summary"] not in rendered.body
    assert "m…@example.org" not in rendered.body and "4111…1111" not in rendered.body


# --- internal alerts --------------------------------------------------------------------------------


def test_internal_compliance_alert_shows_deadline_and_time_left() -> None:
    rendered = render(MessageKind.INTERNAL_COMPLIANCE, context=context())
    assert (
        rendered.subject == "[HIGH] Possible personal data breach inc_7f3a: Assistant showed another customer's order"
    )
    assert "  Due: 2026-11-28T09:00:00Z (Saturday 28 November 2026, 09:00 UTC) – in 2 days 22 hours" in lines(rendered)
    assert "  People affected: 1,200 (DE 900, FR 200, US-CA 100)" in lines(rendered)


_DEADLINES = [
    {"regime": "gdpr-33", "jurisdiction": "DE", "recipient": "supervisory-authority", "due_at": "2026-11-28T09:00:00Z"},
    {"regime": "gdpr-34", "jurisdiction": "EU", "recipient": "data-subjects", "due_at": None},
]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "en",
            [
                "Deadlines (required notifications)",
                "  gdpr-33 (DE) → supervisory-authority: 2026-11-28T09:00:00Z (Saturday 28 November 2026, 09:00 UTC)"
                " – in 2 days 22 hours",
                "  gdpr-34 (EU) → data-subjects: no fixed deadline",
            ],
        ),
        (
            "de",
            [
                "Fristen (erforderliche Meldungen)",
                "  gdpr-33 (DE) → supervisory-authority: 2026-11-28T09:00:00Z (Samstag, 28. November 2026, 09:00 Uhr"
                " UTC; 10:00 Uhr MEZ) – in 2 Tagen 22 Stunden",
                "  gdpr-34 (EU) → data-subjects: keine feste Frist",
            ],
        ),
        (
            "fr",
            [
                "Échéances (notifications requises)",
                "  gdpr-33 (DE) → supervisory-authority : 2026-11-28T09:00:00Z (samedi 28 novembre 2026, 09 h 00 UTC"
                " ; 10 h 00, heure de Paris) – dans 2 jours 22 heures",
                "  gdpr-34 (EU) → data-subjects : pas de délai fixe",
            ],
        ),
    ],
)
def test_the_first_alert_lists_every_deadline_with_time_left(language: str, expected: list[str]) -> None:
    # The alert sent when an incident opens answers no single obligation; it must still say what is due when.
    ctx = context(obligation=None)
    ctx["incident"] = {**ctx["incident"], "deadlines": _DEADLINES}
    body = lines(render(MessageKind.INTERNAL_COMPLIANCE, language=language, context=ctx))
    start = body.index(expected[0])
    assert body[start : start + 3] == expected


def test_the_executive_brief_names_the_first_deadline_when_it_answers_no_obligation() -> None:
    ctx = context(obligation=None, recipient={"name": "CEO", "kind": "executive-brief", "role": "executive"})
    ctx["incident"] = {**ctx["incident"], "deadlines": _DEADLINES}
    body = lines(render(MessageKind.EXECUTIVE_BRIEF, context=ctx))
    assert (
        "First deadline: gdpr-33 (DE) → supervisory-authority – due 2026-11-28T09:00:00Z (Saturday 28 November 2026,"
        " 09:00 UTC), in 2 days 22 hours." in body
    )


_DEAD = {
    "id": "msg_0123456789abcdef0123",
    "kind": "supervisory-authority",
    "recipient": "supervisory-authority",
    "channel": "smtp",
}
_ALERTS: list[tuple[str, dict[str, Any], str, str]] = [
    (
        "en",
        {"reason": "reminder"},
        "[HIGH] Reminder: gdpr-33 (DE) notice due in 2 days 22 hours – inc_7f3a: Assistant showed another customer's order",
        "Reminder: the notice below is not sent yet and its deadline is near.",
    ),
    (
        "en",
        {"reason": "overdue"},
        "[HIGH] OVERDUE: gdpr-33 (DE) notice not sent – inc_7f3a: Assistant showed another customer's order",
        "Overdue: the deadline of the notice below has passed and the notice is not sent. Send it now; a late "
        "notice must give the reasons for the delay.",
    ),
    (
        "en",
        {"reason": "unacknowledged", "previous": "Compliance on call", "minutes": 15},
        "[HIGH] Escalated (not acknowledged by Compliance on call): Possible personal data breach inc_7f3a: "
        "Assistant showed another customer's order",
        "Escalated to you: the alert to Compliance on call was not acknowledged within 15 minutes.",
    ),
    (
        "en",
        {"reason": "dead-letter", "message": _DEAD},
        "[HIGH] DELIVERY FAILED: supervisory-authority to supervisory-authority via smtp – inc_7f3a",
        "Delivery failed for good: message msg_0123456789abcdef0123 (supervisory-authority to supervisory-authority "
        "via smtp) could not be delivered after every retry. Deliver it another way and record that, or fix the "
        "channel and queue it again:",
    ),
    (
        "de",
        {"reason": "overdue"},
        "[HOCH] ÜBERFÄLLIG: Meldung gdpr-33 (DE) nicht versandt – inc_7f3a: Assistant showed another customer's order",
        "Überfällig: Die Frist der Meldung unten ist abgelaufen und die Meldung ist nicht versandt. Jetzt versenden; "
        "eine verspätete Meldung muss die Gründe für die Verzögerung nennen.",
    ),
    (
        "de",
        {"reason": "dead-letter", "message": _DEAD},
        "[HOCH] ZUSTELLUNG FEHLGESCHLAGEN: supervisory-authority an supervisory-authority über smtp – inc_7f3a",
        "Zustellung endgültig fehlgeschlagen: Nachricht msg_0123456789abcdef0123 (supervisory-authority an "
        "supervisory-authority über smtp) konnte nach allen Wiederholungen nicht zugestellt werden. Auf anderem "
        "Weg zustellen und das festhalten, oder den Kanal reparieren und sie erneut einreihen:",
    ),
    (
        "fr",
        {"reason": "reminder"},
        "[ÉLEVÉ] Rappel : notification gdpr-33 (DE) due dans 2 jours 22 heures – inc_7f3a : Assistant showed "
        "another customer's order",
        "Rappel : la notification ci-dessous n'est pas encore envoyée et son échéance approche.",
    ),
    (
        "fr",
        {"reason": "dead-letter", "message": _DEAD},
        "[ÉLEVÉ] ÉCHEC DE REMISE : supervisory-authority à supervisory-authority via smtp – inc_7f3a",
        "Échec définitif de la remise : le message msg_0123456789abcdef0123 (supervisory-authority à "
        "supervisory-authority via smtp) n'a pu être remis après toutes les tentatives. Remettez-le par un autre "
        "moyen et consignez-le, ou réparez le canal et remettez-le en file :",
    ),
]


@pytest.mark.parametrize(("language", "alert", "subject", "first_line"), _ALERTS)
def test_reminders_escalations_and_dead_letters_say_why_they_were_sent(
    language: str, alert: dict[str, Any], subject: str, first_line: str
) -> None:
    # Without this an overdue alert, a reminder and a failed delivery read like the first alert again.
    rendered = render(MessageKind.INTERNAL_COMPLIANCE, language=language, context=context(alert=alert))
    assert rendered.subject == subject
    body = lines(rendered)
    assert body[2] == first_line
    if alert["reason"] == "dead-letter":
        assert body[3] == "  leakline incident send inc_7f3a msg_0123456789abcdef0123"


def test_an_escalated_owner_team_alert_says_who_did_not_acknowledge_it() -> None:
    alert = {"reason": "unacknowledged", "previous": "Web team", "minutes": 15}
    recipient = {"name": "Compliance on call", "kind": "owner-team", "role": "frontend"}
    rendered = render(MessageKind.OWNER_TEAM, context=context(alert=alert, recipient=recipient))
    assert rendered.subject.startswith("[HIGH] Escalated (not acknowledged by Web team): Leak signal for backend:")
    assert lines(rendered)[2] == "Escalated to you: the alert to Web team was not acknowledged within 15 minutes."


def test_an_unknown_alert_reason_is_refused_naming_the_key() -> None:
    with pytest.raises(InvalidContextValue) as caught:
        render(MessageKind.INTERNAL_COMPLIANCE, context=context(alert={"reason": "later"}))
    assert caught.value.message == (
        "en/internal-compliance.j2: context key 'alert.reason': expected one of 'reminder', 'overdue', "
        "'unacknowledged', 'dead-letter', got 'later'"
    )


@pytest.mark.parametrize(
    ("surface", "first_step"),
    [
        ("frontend", "  1. Find the page or component named in the signal and stop it rendering the data"),
        ("backend", "  1. Find the route or model call named in the signal; switch the gateway policy for it"),
        ("infrastructure", "  1. Confirm which region or host served the traffic and stop routing to any"),
    ],
)
def test_owner_team_alert_names_the_surface_and_its_first_steps(surface: str, first_step: str) -> None:
    signal = {**context()["signal"], "surface": surface}
    recipient = {"name": f"{surface} on call", "kind": "owner-team", "role": surface}
    rendered = render(MessageKind.OWNER_TEAM, context=context(signal=signal, recipient=recipient))
    assert rendered.subject == (
        f"[HIGH] Leak signal for {surface}: Assistant showed another customer's order (inc_7f3a)"
    )
    assert any(line.startswith(first_step) for line in lines(rendered))
    assert "Details (redacted): payment card number in model output (4111…1111)" in lines(rendered)


def test_signal_kind_and_severity_are_named_in_the_language_and_new_kinds_pass_through() -> None:
    rendered = render(MessageKind.OWNER_TEAM, language="de", context=context())
    assert rendered.subject.startswith("[HOCH] Leck-Signal für backend: ")
    assert "Was: Datenleck in einer Modellantwort abgefangen, Schweregrad hoch" in lines(rendered)
    signal = {**context()["signal"], "kind": "prompt-injection"}
    newer = render(MessageKind.OWNER_TEAM, language="fr", context=context(signal=signal))
    assert "Quoi : prompt-injection, gravité élevée" in lines(newer)


def test_executive_brief_states_risk_exposure_and_deadline() -> None:
    rendered = render(MessageKind.EXECUTIVE_BRIEF, language="de", context=context())
    assert rendered.subject == "Lagebild für die Geschäftsleitung: Datenvorfall inc_7f3a, Risiko HOCH"
    assert (
        "Frist: the competent German supervisory authority (GDPR Art. 33(1)) – fällig 2026-11-28T09:00:00Z "
        "(Samstag, 28. November 2026, 09:00 Uhr UTC; 10:00 Uhr MEZ), in 2 Tagen 22 Stunden."
    ) in lines(rendered)
    assert lines(rendered)[6].startswith("Ausmaß: 1.200 Personen; Kontaktdaten")


_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"\+?\d[\d ()-]{6,}\d")
_INTERNAL = (MessageKind.INTERNAL_COMPLIANCE, MessageKind.OWNER_TEAM, MessageKind.EXECUTIVE_BRIEF)


def _strings(value: Any) -> list[str]:
    if isinstance(value, dict):
        return [s for item in value.values() for s in _strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in _strings(item)]
    return [str(value)]


redacted_text = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=60)


@settings(max_examples=25, deadline=None)
@given(summary=redacted_text, title=redacted_text, name=redacted_text.filter(lambda s: s.strip() != ""))
def test_internal_alerts_show_no_contact_data_the_context_does_not_hold(summary: str, title: str, name: str) -> None:
    ctx = context()
    ctx["incident"] = {**ctx["incident"], "summary": summary, "title": title}
    ctx["recipient"] = {**ctx["recipient"], "name": name}
    ctx["organisation"] = {
        **ctx["organisation"],
        "dpo": {"name": "D", "email": "dpo@acme.example", "phone": "+1 555 0100 999"},
    }
    held = " ".join(_strings(ctx))
    for kind in _INTERNAL:
        for language in LANGUAGES:
            body = render(kind, language=language, context=ctx).body
            for token in _EMAIL.findall(body) + _PHONE.findall(body):
                assert token in held, (kind, language, token)
            # Internal alerts are about the incident, not about reaching the DPO: no contact details at all.
            assert "dpo@acme.example" not in body and "+1 555 0100 999" not in body


# --- strictness and errors --------------------------------------------------------------------------


def test_a_missing_nested_key_names_the_key_and_the_template() -> None:
    organisation = {key: value for key, value in context()["organisation"].items() if key != "sector"}
    with pytest.raises(MissingContextKey) as caught:
        render(MessageKind.SUPERVISORY_AUTHORITY, language="de", context=context(organisation=organisation))
    message = caught.value.message
    assert "'organisation.sector'" in message
    assert str(PACKAGE_TEMPLATES / "de" / "supervisory-authority.j2") in message
    assert re.search(r"supervisory-authority\.j2: line \d+: ", message)


def test_a_missing_top_level_key_is_named() -> None:
    ctx = context()
    del ctx["signal"]
    with pytest.raises(MissingContextKey, match=r"en/owner-team\.j2: the context has no key 'signal'"):
        render(MessageKind.OWNER_TEAM, context=ctx)


def test_a_key_missing_inside_a_shared_macro_names_both_files() -> None:
    organisation = {key: value for key, value in context()["organisation"].items() if key != "dpo"}
    with pytest.raises(MissingContextKey) as caught:
        render(MessageKind.DATA_SUBJECT, language="fr", context=context(organisation=organisation))
    assert re.fullmatch(
        rf"{re.escape(str(PACKAGE_TEMPLATES / 'fr' / 'data-subject.j2'))}: line \d+ of "
        rf"{re.escape(str(PACKAGE_TEMPLATES / 'fr' / '_common.j2'))}: the context has no key 'organisation\.dpo'",
        caught.value.message,
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("status", "escalated", "context key 'incident.status': expected one of 'detected', 'triaged', 'contained', "
         "'notifying', 'closed', got 'escalated'"),
        ("risk", "extreme", "context key 'incident.risk': expected one of 'none', 'risk', 'high', None, got 'extreme'"),
    ],
)  # fmt: skip
def test_values_the_templates_translate_are_checked_first(key: str, value: str, expected: str) -> None:
    incident = {**context()["incident"], key: value}
    with pytest.raises(InvalidContextValue) as caught:
        render(MessageKind.INTERNAL_COMPLIANCE, context=context(incident=incident))
    assert caught.value.message == f"en/internal-compliance.j2: {expected}"


def test_a_missing_table_entry_is_not_blamed_on_the_context(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    template = tmp_path / "en" / "executive-brief.j2"
    template.write_text(
        '{% import "en/_common.j2" as L %}{% block subject %}x{% endblock %}\n'
        '{% block body %}\n{{ L.categories["customer-secrets"] }}\n{% endblock %}\n',
        encoding="utf-8",
    )
    with pytest.raises(TemplateRuntimeError) as caught:
        render(MessageKind.EXECUTIVE_BRIEF, context=context(), template_dir=tmp_path)
    assert (
        caught.value.message == f"{template.resolve()}: line 3: no entry 'customer-secrets' in a table of the template"
    )


def test_a_user_template_reading_an_unknown_key_fails_with_file_line_and_key(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    template = tmp_path / "en" / "owner-team.j2"
    template.write_text(
        "{% block subject %}Alert {{ incident.id }}{% endblock %}\n"
        "{% block body %}\nline two\n{{ incident.facts.data.nothing_here }}\n{% endblock %}\n",
        encoding="utf-8",
    )
    with pytest.raises(MissingContextKey) as caught:
        render(MessageKind.OWNER_TEAM, context=context(), template_dir=tmp_path)
    assert caught.value.message == (
        f"{template.resolve()}: line 4: the context has no key 'incident.facts.data.nothing_here'"
    )


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("now", "yesterday", "context key 'now': expected an ISO 8601 date-time with a UTC offset, got 'yesterday'"),
        ("now", "2026-11-25T10:30:00", "context key 'now': the date-time '2026-11-25T10:30:00' has no UTC offset"),
    ],
)
def test_malformed_dates_are_named(key: str, value: str, expected: str) -> None:
    with pytest.raises(InvalidContextValue) as caught:
        render(MessageKind.EXECUTIVE_BRIEF, context=context(**{key: value}))
    assert caught.value.message == f"en/executive-brief.j2: {expected}"


def test_malformed_obligation_due_date_is_named() -> None:
    obligation = {**context()["obligation"], "due_at": "2026-13-01T00:00:00Z"}
    with pytest.raises(InvalidContextValue, match=r"context key 'obligation\.due_at'"):
        render(MessageKind.INTERNAL_COMPLIANCE, context=context(obligation=obligation))


def test_invalid_facts_name_the_field() -> None:
    incident = {**context()["incident"], "facts": facts(data={"subjects": "many"})}
    with pytest.raises(InvalidContextValue) as caught:
        render(MessageKind.SUPERVISORY_AUTHORITY, context=context(incident=incident))
    assert caught.value.message == (
        "en/supervisory-authority.j2: context key 'incident.facts': data.subjects: expected an integer, got 'many'"
    )


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(UnknownMessageKind, match=r"unknown message kind 'press-release' \(known: supervisory-"):
        render("press-release", context=context())


def test_missing_template_folder_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateDirError) as caught:
        render(MessageKind.OWNER_TEAM, context=context(), template_dir=tmp_path / "nope")
    assert isinstance(caught.value, ConfigError)
    assert caught.value.message == f"{tmp_path / 'nope'}: the template folder does not exist or is not a folder"


def test_syntax_errors_name_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "executive-brief.j2").write_text(
        "{% block subject %}x{% endblock %}\n{% block body %}\n{% if %}\n{% endblock %}\n", encoding="utf-8"
    )
    with pytest.raises(TemplateSyntaxError, match=r"executive-brief\.j2: line 3: "):
        render(MessageKind.EXECUTIVE_BRIEF, context=context(), template_dir=tmp_path)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("{% block body %}text{% endblock %}", "no {% block subject %} in the template"),
        ("{% block subject %}  {% endblock %}{% block body %}text{% endblock %}", "the subject block renders empty"),
    ],
)
def test_templates_need_a_subject_and_a_body(tmp_path: Path, text: str, problem: str) -> None:
    (tmp_path / "en").mkdir()
    template = tmp_path / "en" / "executive-brief.j2"
    template.write_text(text, encoding="utf-8")
    with pytest.raises(TemplateStructureError) as caught:
        render(MessageKind.EXECUTIVE_BRIEF, context=context(), template_dir=tmp_path)
    assert caught.value.message == f"{template.resolve()}: {problem}"


# --- overrides and languages ------------------------------------------------------------------------


def test_a_user_template_wins_and_others_stay_builtin(tmp_path: Path) -> None:
    (tmp_path / "de").mkdir()
    mine = tmp_path / "de" / "owner-team.j2"
    mine.write_text(
        "{% block subject %}Leck bei {{ organisation.name }}{% endblock %}\n"
        "{% block body %}\nBitte sofort {{ recipient.name }} anrufen.\n{% endblock %}\n",
        encoding="utf-8",
    )
    rendered = render(MessageKind.OWNER_TEAM, language="de", context=context(), template_dir=tmp_path)
    assert rendered == Rendered(
        subject="Leck bei Acme Shop GmbH",
        body="Bitte sofort Compliance on call anrufen.\n",
        kind=MessageKind.OWNER_TEAM,
        language="de",
        requested_language="de",
        template=str(mine.resolve()),
    )
    other = render(MessageKind.EXECUTIVE_BRIEF, language="de", context=context(), template_dir=tmp_path)
    assert other.template == "builtin/de/executive-brief.j2"


def test_a_user_template_can_extend_the_builtin_one(tmp_path: Path) -> None:
    (tmp_path / "en").mkdir()
    (tmp_path / "en" / "data-subject.j2").write_text(
        '{% extends "builtin/en/data-subject.j2" %}\n{% block subject %}[Acme] {{ super() }}{% endblock %}\n',
        encoding="utf-8",
    )
    builtin = render(MessageKind.DATA_SUBJECT, context=context())
    extended = render(MessageKind.DATA_SUBJECT, context=context(), template_dir=tmp_path)
    assert extended.subject == f"[Acme] {builtin.subject}"
    assert extended.body == builtin.body


def test_a_user_folder_can_add_a_language(tmp_path: Path) -> None:
    (tmp_path / "es").mkdir()
    (tmp_path / "es" / "executive-brief.j2").write_text(
        "{% block subject %}Incidente {{ incident.id }}{% endblock %}"
        "{% block body %}Plazo: {{ obligation.due_at | human }}{% endblock %}",
        encoding="utf-8",
    )
    rendered = render(MessageKind.EXECUTIVE_BRIEF, language="es", context=context(), template_dir=tmp_path)
    assert (rendered.language, rendered.subject) == ("es", "Incidente inc_7f3a")
    # No Spanish month names are built in: dates fall back to the English form.
    assert rendered.body == "Plazo: Saturday 28 November 2026, 09:00 UTC\n"


def test_a_language_without_templates_falls_back_to_english_and_says_so() -> None:
    rendered = render(MessageKind.DATA_SUBJECT, language="it", context=context())
    assert (rendered.language, rendered.requested_language, rendered.fell_back) == ("en", "it", True)
    assert rendered.template == "builtin/en/data-subject.j2"
    assert rendered == render(MessageKind.DATA_SUBJECT, language="en", context=context()).__class__(
        **{**render(MessageKind.DATA_SUBJECT, context=context()).__dict__, "requested_language": "it"}
    )


@pytest.mark.parametrize(("tag", "language"), [("de-AT", "de"), ("fr_CA", "fr"), ("DE", "de"), (" en ", "en")])
def test_regional_language_tags_use_the_base_language(tag: str, language: str) -> None:
    rendered = render(MessageKind.EXECUTIVE_BRIEF, language=tag, context=context())
    assert (rendered.language, rendered.fell_back) == (language, False)


@pytest.mark.parametrize("tag", ["../en", "", "de/../../x", "deutsch-de-de-de-de-de-de-x-"])
def test_a_malformed_language_tag_is_refused(tag: str) -> None:
    with pytest.raises(InvalidLanguage, match="is not a language tag"):
        render(MessageKind.EXECUTIVE_BRIEF, language=tag, context=context())


def test_notify_templates_setting_resolves_against_the_config_file(tmp_path: Path) -> None:
    config = tmp_path / "leakline.toml"
    config.write_text('[notify]\ntemplates = "messages"\n', encoding="utf-8")
    assert templates_dir(load_settings(config)) == tmp_path / "messages"
    config.write_text('[notify]\ntemplate = "messages"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"notify\.template: unknown key"):
        load_settings(config)
    config.write_text("", encoding="utf-8")
    assert templates_dir(load_settings(config)) is None


# --- labels, dates and numbers ----------------------------------------------------------------------


def _labels(language: str) -> Any:
    """The shipped `_common.j2` of a language as a module (its label tables are plain-text data)."""
    loader = jinja2.FileSystemLoader(str(PACKAGE_TEMPLATES))
    env = jinja2.Environment(loader=loader, undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701
    return env.get_template(f"{language}/_common.j2").module


@pytest.mark.parametrize("language", LANGUAGES)
def test_every_code_has_a_label_in_every_language(language: str) -> None:
    labels = _labels(language)
    assert set(get_args(Category)) <= set(labels.categories)
    assert set(get_args(Cause)) == set(labels.causes) == set(labels.plain_causes)
    consequences = {c for codes in render_module._CONSEQUENCES_BY_CATEGORY.values() for c in codes}
    assert consequences | {"loss-of-access", "incorrect-data", "limited", "under-assessment"} == set(
        labels.consequences
    )
    proposed = {m for codes in render_module._PROPOSED_BY_CAUSE.values() for m in codes}
    taken = {"investigation", "contained", "retrieved-or-deleted", "availability-restored", "encrypted"}
    assert proposed | taken | {"credential-reset"} == set(labels.measures)
    advice = {a for codes in render_module._ADVICE_BY_CATEGORY.values() for a in codes}
    assert advice | {"contact-us"} == set(labels.advice)
    assert {kind.value for kind in SignalKind} == set(labels.signal_kinds)
    assert {severity.value for severity in Severity} == set(labels.severities)
    assert set(get_args(Sector)) == set(labels.sectors)
    assert set(get_args(Size)) == set(labels.sizes)


def test_dates_in_each_language() -> None:
    moment = "2026-03-01T07:05:09.123+01:00"
    assert format_iso(moment) == "2026-03-01T06:05:09Z"
    assert format_human(moment, language="en") == "Sunday 1 March 2026, 06:05 UTC"
    assert format_human(moment, language="de") == "Sonntag, 1. März 2026, 06:05 Uhr UTC (07:05 Uhr MEZ)"
    assert format_human(moment, language="fr") == "dimanche 1 mars 2026, 06 h 05 UTC (07 h 05, heure de Paris)"
    assert format_when(moment, language="de") == (
        "2026-03-01T06:05:09Z (Sonntag, 1. März 2026, 06:05 Uhr UTC; 07:05 Uhr MEZ)"
    )
    assert format_when(None, language="fr") == "pas encore connue"


def test_counts_in_each_language() -> None:
    assert [format_count(1234567, language=lang) for lang in LANGUAGES] == [
        "1,234,567",
        "1.234.567",
        "1\u202f234\u202f567",
    ]
    assert format_count(None, language="de") == "noch nicht bekannt"
    with pytest.raises(TypeError):
        format_count("12", language="en")


@pytest.mark.parametrize(
    ("minutes", "language", "expected"),
    [
        (60 * 24 + 60, "en", "in 1 day 1 hour"),
        (2 * 60 * 24 + 5, "de", "in 2 Tagen 5 Minuten"),
        (90, "fr", "dans 1 heure 30 minutes"),
        (0, "en", "in less than a minute"),
        (-180, "en", "overdue by 3 hours"),
        (-1, "de", "seit 1 Minute überfällig"),
        (-(60 * 24 * 3), "fr", "en retard de 3 jours"),
    ],
)
def test_time_left(minutes: int, language: str, expected: str) -> None:
    now = datetime(2026, 11, 25, 10, 30, tzinfo=UTC)
    assert format_remaining(now + timedelta(minutes=minutes), now, language=language) == expected


@settings(max_examples=50, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)))
def test_iso_output_parses_back_to_the_same_second(moment: datetime) -> None:
    assert datetime.fromisoformat(format_iso(moment)) == moment.replace(microsecond=0)


category_sets = st.frozensets(st.sampled_from(get_args(Category)), min_size=1)


@settings(max_examples=15, deadline=None)
@given(categories=category_sets, cause=st.sampled_from(get_args(Cause)), subjects=st.integers(0, 10**7))
def test_any_valid_facts_render_every_kind_with_every_category_named(
    categories: frozenset[str], cause: str, subjects: int
) -> None:
    incident = copy.deepcopy(context()["incident"])
    # The breakdown by country may not add up to more people than `subjects` (facts validation), so it is scaled.
    by_jurisdiction = {"DE": subjects - subjects // 4, "FR": subjects // 4} if subjects else {}
    data = {"categories": sorted(categories), "subjects": subjects, "subjects_by_jurisdiction": by_jurisdiction}
    incident["facts"] = facts(breach={"cause": cause}, data=data)
    for language in LANGUAGES:
        labels = _labels(language).categories
        for kind in MessageKind:
            rendered = render(kind, language=language, context=context(incident=incident))
            if kind is MessageKind.SUPERVISORY_AUTHORITY:
                for category in categories:
                    assert f"     - {labels[category]}" in lines(rendered)
                assert format_count(subjects, language=language) in rendered.body


def _user_template(path: Path, subject: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{{% block subject %}}{subject}{{% endblock %}}\n{{% block body %}}Body{{% endblock %}}\n")


def test_a_long_running_process_renders_an_edited_override_without_a_restart(tmp_path: Path) -> None:
    # A worker renders for days: an override edited in place (same second, or its time kept by `cp -p` /
    # `rsync -t`) and an override added after the shipped template was first used must both take effect.
    import os

    template = tmp_path / "en" / "owner-team.j2"
    _user_template(template, "First")
    assert render(MessageKind.OWNER_TEAM, context=context(), template_dir=tmp_path).subject == "First"
    before = template.stat()
    _user_template(template, "Second version")
    os.utime(template, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert render(MessageKind.OWNER_TEAM, context=context(), template_dir=tmp_path).subject == "Second version"
    shipped = render(MessageKind.EXECUTIVE_BRIEF, context=context(), template_dir=tmp_path)
    assert shipped.template == "builtin/en/executive-brief.j2"
    _user_template(tmp_path / "en" / "executive-brief.j2", "Our own brief")
    added = render(MessageKind.EXECUTIVE_BRIEF, context=context(), template_dir=tmp_path)
    assert (added.subject, added.template) == ("Our own brief", str(tmp_path.resolve() / "en" / "executive-brief.j2"))
    # Removed again: the shipped template is back.
    (tmp_path / "en" / "executive-brief.j2").unlink()
    assert render(MessageKind.EXECUTIVE_BRIEF, context=context(), template_dir=tmp_path).subject == shipped.subject


def test_a_template_error_names_file_and_line_apart_without_the_value_it_failed_on(tmp_path: Path) -> None:
    # `where()` goes to the timeline in clear: Python quotes the value it could not parse, here a title.
    template = tmp_path / "en" / "owner-team.j2"
    template.parent.mkdir(parents=True)
    template.write_text(
        "{% block subject %}S{% endblock %}\n{% block body %}\n{{ incident.title | iso }}\n{% endblock %}\n"
    )
    with pytest.raises(TemplateRuntimeError) as raised:
        render(MessageKind.OWNER_TEAM, context=context(incident={"title": "Jane Doe's account"}), template_dir=tmp_path)
    path = str(tmp_path.resolve() / "en" / "owner-team.j2")
    assert (raised.value.file, raised.value.line) == (path, 3)
    assert raised.value.where() == f"{path}:3: ValueError: Invalid isoformat string: '…'"
