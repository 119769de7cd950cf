"""Look-alike characters: identifiers written in full-width or other scripts' digits, with Unicode spaces or
dashes between their groups, or with a full-width `＠`, are found as their ASCII spelling would be (whole and
streamed), while everything else in the answer is sent as it came."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.guard.sanitize import Policy, Sanitizer
from leakline.guard.sanitize.fold import fold

CARD_FULLWIDTH = "４１１１ １１１１ １１１１ １１１１"


@pytest.fixture(scope="module")
def sanitizer() -> Sanitizer:
    return Sanitizer(Policy(canaries=["Zq7XbN2vLp9RtY4sKw3HmC8dJf6GaE5u"]))


def _streamed(s: Sanitizer, text: str, size: int) -> str:
    stream = s.stream()
    return "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size)) + stream.finish()


@pytest.mark.parametrize(
    ("text", "expected", "detectors"),
    [
        (f"カード番号は {CARD_FULLWIDTH} です。", "カード番号は [REDACTED:PAYMENT_CARD] です。", ["payment_card"]),
        ("card 4111\u00a01111\u00a01111\u00a01111 ok", "card [REDACTED:PAYMENT_CARD] ok", ["payment_card"]),
        ("رقم البطاقة ٤١١١١١١١١١١١١١١١ شكرا", "رقم البطاقة [REDACTED:PAYMENT_CARD] شكرا", ["payment_card"]),
        ("mail ｊａｎｅ．ｄｏｅ＠ｅｘａｍｐｌｅ．ｃｏｍ now", "mail [REDACTED:EMAIL] now", ["email"]),
        ("IBAN DE89\u202f3704\u202f0044\u202f0532\u202f0130\u202f00 ok", "IBAN [REDACTED:IBAN] ok", ["iban"]),
        ("tel +49\u2009151\u200912345678 end", "tel [REDACTED:PHONE] end", ["phone"]),
        ("SSN 078\u201005\u20101120 on file", "SSN [REDACTED:US_SSN] on file", ["us_ssn"]),
        ("token Ｚｑ７ＸｂＮ２ｖＬｐ９ＲｔＹ４ｓＫｗ３ＨｍＣ８ｄＪｆ６ＧａＥ５ｕ here", "token ", ["canary"]),
    ],
)
def test_look_alikes_are_found_whole_and_streamed(
    sanitizer: Sanitizer, text: str, expected: str, detectors: list[str]
) -> None:
    result = sanitizer.sanitize(text)
    assert (result.text, [h.detector for h in result.hits]) == (expected, detectors)
    assert result.scanned_bytes == len(text.encode("utf-8"))
    for size in (1, 3, 20):
        assert _streamed(sanitizer, text, size) == expected


@pytest.mark.parametrize(
    "text",
    [
        "価格は１，２００円（税込）、お届けは２０２６年１１月２６日です。",  # full-width price and date
        "注文番号 ２０２６１１２６-００４２ を承りました。",  # an order number
        "EAN ４００６３８１３３３９３２ — Lieferung am 26.\u00a011.\u00a02026, Preis 1\u202f299,00\u00a0€",  # bad EAN check digit
        "Заказ № ４１１１ １１１１ １１１１ １１１２ отменён.",  # fails the Luhn check
    ],
)
def test_near_misses_in_look_alikes_are_sent_unchanged(sanitizer: Sanitizer, text: str) -> None:
    result = sanitizer.sanitize(text)
    assert (result.text, result.hits) == (text, [])
    assert _streamed(sanitizer, text, 7) == text


def test_fold_keeps_offsets_and_returns_the_text_itself_when_nothing_folds() -> None:
    folded, projection = fold("a４\u00a0b—ü")
    assert (folded, projection) == ("a4 b-ü", b"a4 b-?")
    text = "Grüße, привет"
    assert fold(text)[0] is text
    assert fold("plain ascii") == ("plain ascii", None)


ALPHABET = "0123456789０１２３４５６７８９٤١ -\u00a0\u2009\u2010\u2212.@＠abcxyzＡＢä€ 価"


@settings(max_examples=200, deadline=None)
@given(
    body=st.text(alphabet=ALPHABET, max_size=120),
    leak=st.sampled_from(["", CARD_FULLWIDTH, "ｊａｎｅ＠ｅｘａｍｐｌｅ．ｃｏｍ", "+49\u2009151\u200912345678"]),
    size=st.integers(min_value=1, max_value=25),
)
def test_a_text_is_judged_as_its_folded_spelling_and_streams_the_same(
    sanitizer: Sanitizer, body: str, leak: str, size: int
) -> None:
    text = f"{body} {leak} {body}"
    result = sanitizer.sanitize(text)
    folded = sanitizer.sanitize(fold(text)[0])
    assert [(h.detector, h.start, h.end) for h in result.hits] == [(h.detector, h.start, h.end) for h in folded.hits]
    assert _streamed(sanitizer, text, size) == result.text
    # Outside the hits, the answer is sent exactly as it came.
    kept, pos = [], 0
    for h in result.hits:
        kept.append(text[pos : h.start])
        pos = h.end
    kept.append(text[pos:])
    assert all(part in result.text for part in kept)
