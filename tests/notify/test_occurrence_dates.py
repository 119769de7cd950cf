"""When the breach occurred (facts `occurred_at`, or `occurred_from`/`occurred_until`, `occurred_estimated`) in
the California notice (Cal. Civ. Code § 1798.82(d)(2)(B): "the date of the breach, the estimated date of the
breach, or the date range within which the breach occurred"), the Art. 33 timeline and the Art. 34 notice.
Before, the California notice gave the date of awareness as "Date of the breach" (review R3 item 8)."""

from __future__ import annotations

from typing import Any

import pytest

from leakline.notify.render import MessageKind, format_human, format_when, render
from tests.notify.test_render import context, facts

AT = {"occurred_at": "2026-11-24T22:10:00Z"}
ESTIMATED = {"occurred_at": "2026-11-24T22:10:00Z", "occurred_estimated": True}
RANGE = {"occurred_from": "2026-11-20T00:00:00Z", "occurred_until": "2026-11-25T08:00:00Z"}
SINCE = {"occurred_from": "2026-11-20T00:00:00Z", "occurred_estimated": True}
UNKNOWN: dict[str, Any] = {}

H = {  # the dates as each language writes them (format_human for people, format_when for authorities)
    lang: {
        key: (format_human(value, language=lang), format_when(value, language=lang))
        for key, value in (
            ("at", "2026-11-24T22:10:00Z"),
            ("from", "2026-11-20T00:00:00Z"),
            ("until", "2026-11-25T08:00:00Z"),
            ("aware", "2026-11-25T09:00:00Z"),
        )
    }
    for lang in ("en", "de", "fr")
}
US = {
    "en": {
        "at": f"Date of the breach: {H['en']['at'][0]}.",
        "estimated": f"Date of the breach (estimated): {H['en']['at'][0]}.",
        "range": f"Date range of the breach: from {H['en']['from'][0]} to {H['en']['until'][0]}.",
        "since": f"Date of the breach (estimated): it began on {H['en']['from'][0]}; when it ended is not yet "
        "determined.",
        "unknown": f"Date of the breach: not yet determined (we became aware of the breach on {H['en']['aware'][0]}).",
    },
    "de": {
        "at": f"Datum der Datenpanne: {H['de']['at'][0]}.",
        "estimated": f"Datum der Datenpanne (geschätzt): {H['de']['at'][0]}.",
        "range": f"Zeitraum der Datenpanne: vom {H['de']['from'][0]} bis zum {H['de']['until'][0]}.",
        "since": f"Datum der Datenpanne (geschätzt): Sie begann am {H['de']['from'][0]}; wann sie endete, steht "
        "noch nicht fest.",
        # Not in brackets: the German time carries its own bracketed MEZ/MESZ clock.
        "unknown": f"Datum der Datenpanne: noch nicht ermittelt. Wir haben am {H['de']['aware'][0]} davon erfahren.",
    },
    "fr": {
        "at": f"Date de la violation : {H['fr']['at'][0]}.",
        "estimated": f"Date de la violation (estimation) : {H['fr']['at'][0]}.",
        "range": f"Période de la violation : du {H['fr']['from'][0]} au {H['fr']['until'][0]}.",
        "since": f"Date de la violation (estimation) : elle a commencé le {H['fr']['from'][0]} ; sa date de fin "
        "n'est pas encore déterminée.",
        "unknown": f"Date de la violation : pas encore déterminée. Nous en avons eu connaissance le "
        f"{H['fr']['aware'][0]}.",
    },
}
ART_33 = {
    "en": {
        "at": f"   Breach occurred: {H['en']['at'][1]}",
        "estimated": f"   Breach occurred (estimated): {H['en']['at'][1]}",
        "range": f"   Breach occurred: between {H['en']['from'][1]} and {H['en']['until'][1]}",
        "since": f"   Breach occurred (estimated): from {H['en']['from'][1]}; end not yet established",
        "unknown": "   Breach occurred: not yet established",
    },
    "de": {
        "at": f"   Zeitpunkt der Verletzung: {H['de']['at'][1]}",
        "estimated": f"   Zeitpunkt der Verletzung (geschätzt): {H['de']['at'][1]}",
        "range": f"   Zeitpunkt der Verletzung: zwischen {H['de']['from'][1]} und {H['de']['until'][1]}",
        "since": f"   Zeitpunkt der Verletzung (geschätzt): ab {H['de']['from'][1]}; Ende noch nicht ermittelt",
        "unknown": "   Zeitpunkt der Verletzung: noch nicht ermittelt",
    },
    "fr": {
        "at": f"   Date de la violation : {H['fr']['at'][1]}",
        "estimated": f"   Date de la violation (estimation) : {H['fr']['at'][1]}",
        "range": f"   Date de la violation : entre le {H['fr']['from'][1]} et le {H['fr']['until'][1]}",
        "since": f"   Date de la violation (estimation) : à partir du {H['fr']['from'][1]} ; fin pas encore établie",
        "unknown": "   Date de la violation : pas encore établie",
    },
}
ART_34 = {
    "en": {
        "at": f"It happened on {H['en']['at'][0]}.",
        "estimated": f"As far as we can tell, it happened on {H['en']['at'][0]}.",
        "range": f"It happened between {H['en']['from'][0]} and {H['en']['until'][0]}.",
        "since": f"As far as we can tell, it began on {H['en']['from'][0]}.",
    },
    "de": {
        "at": f"Es geschah am {H['de']['at'][0]}.",
        "estimated": f"Nach unserem Kenntnisstand geschah es am {H['de']['at'][0]}.",
        "range": f"Es geschah zwischen dem {H['de']['from'][0]} und dem {H['de']['until'][0]}.",
        "since": f"Nach unserem Kenntnisstand begann es am {H['de']['from'][0]}.",
    },
    "fr": {
        "at": f"Cela s'est produit le {H['fr']['at'][0]}.",
        "estimated": f"D'après nos constatations, cela s'est produit le {H['fr']['at'][0]}.",
        "range": f"Cela s'est produit entre le {H['fr']['from'][0]} et le {H['fr']['until'][0]}.",
        "since": f"D'après nos constatations, cela a commencé le {H['fr']['from'][0]}.",
    },
}
CASES = {"at": AT, "estimated": ESTIMATED, "range": RANGE, "since": SINCE, "unknown": UNKNOWN}
AWARE = {
    "en": f"We became aware of it on {H['en']['aware'][0]}.",
    "de": f"Wir haben am {H['de']['aware'][0]} davon erfahren.",
    "fr": f"Nous en avons eu connaissance le {H['fr']['aware'][0]}.",
}


def _body(kind: MessageKind, language: str, case: str) -> list[str]:
    incident = {**context()["incident"], "facts": {**facts(), **CASES[case]}}
    return render(kind, language=language, context=context(incident=incident)).body.split("\n")


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_the_california_notice_gives_the_date_estimate_or_range_never_awareness_as_the_breach_date(
    language: str, case: str
) -> None:
    body = _body(MessageKind.DATA_SUBJECT_US, language, case)
    dated = [line for line in body if line.startswith(("Date ", "Datum ", "Zeitraum ", "Période "))]
    assert dated == [US[language][case]]
    # The line follows the description of what happened, under "What Happened".
    assert body.index(US[language][case]) == body.index(next(h for h in body if "What Happened" in h)) + 2


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_the_article_33_timeline_says_when_the_breach_occurred_before_when_it_was_detected(
    language: str, case: str
) -> None:
    body = _body(MessageKind.SUPERVISORY_AUTHORITY, language, case)
    line = ART_33[language][case]
    assert line in body
    assert body[body.index(line) - 1] in ("3. Timeline", "3. Zeitlicher Ablauf", "3. Chronologie")


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.parametrize("language", ["en", "de", "fr"])
def test_the_article_34_notice_says_when_it_happened_then_when_we_learnt_of_it(language: str, case: str) -> None:
    body = _body(MessageKind.DATA_SUBJECT, language, case)
    aware = body.index(AWARE[language])
    if case == "unknown":
        assert not any(text in body[aware - 1] for text in ("happened", "began", "geschah", "begann", "produit",
                                                            "commencé"))  # fmt: skip
    else:
        assert body[aware - 1] == ART_34[language][case]


def test_a_context_without_facts_still_renders_the_unknown_date() -> None:
    incident = {key: value for key, value in context()["incident"].items() if key != "facts"}
    body = render(MessageKind.DATA_SUBJECT_US, context=context(incident=incident)).body.split("\n")
    assert US["en"]["unknown"] in body
