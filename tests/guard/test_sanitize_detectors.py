"""Detectors of the output sanitizer: what each one redacts, and the look-alikes it must leave intact."""

from __future__ import annotations

import pytest

from leakline.guard.sanitize import Action, Policy, Sanitizer
from leakline.guard.sanitize.matchers import canary_encodings

CANARY = "Zq7XbN2vLp9RtY4sKw8HdM3c"  # 24 base64url characters: 144 bits


@pytest.fixture(scope="module")
def sanitizer() -> Sanitizer:
    return Sanitizer(Policy(canaries=(CANARY,)))


@pytest.fixture(scope="module")
def re_sanitizer() -> Sanitizer:
    return Sanitizer(Policy(canaries=(CANARY,), engine="re"))


def _hits(s: Sanitizer, text: str) -> list[tuple[str, str]]:
    return [(h.detector, text[h.start : h.end]) for h in s.sanitize(text).hits]


LEAKS = [
    ("mail me at jane.doe+shop@example.co.uk now", "email", "jane.doe+shop@example.co.uk"),
    ("visa 4111111111111111.", "payment_card", "4111111111111111"),
    ("visa 4111 1111 1111 1111 exp", "payment_card", "4111 1111 1111 1111"),
    ("mc 5555-5555-5555-4444", "payment_card", "5555-5555-5555-4444"),
    ("mc2 2223 0000 4841 0010", "payment_card", "2223 0000 4841 0010"),
    ("mc2 2720990000000007", "payment_card", "2720990000000007"),
    ("amex 3782 822463 10005", "payment_card", "3782 822463 10005"),
    ("iban DE89370400440532013000 ok", "iban", "DE89370400440532013000"),
    ("iban DE89 3704 0044 0532 0130 00 ok", "iban", "DE89 3704 0044 0532 0130 00"),
    ("iban GB29 NWBK 6016 1331 9268 19.", "iban", "GB29 NWBK 6016 1331 9268 19"),
    ("call +4930123456 today", "phone", "+4930123456"),
    ("call +44 20 7946 0958 today", "phone", "+44 20 7946 0958"),
    ("call (212) 555-0198 today", "phone", "(212) 555-0198"),
    ("call 030 1234567 today", "phone", "030 1234567"),
    ("call 0049 30 1234567 today", "phone", "0049 30 1234567"),
    ("ssn 123-45-6789 on file", "us_ssn", "123-45-6789"),
    ("NINO AB 12 34 56 C here", "uk_nino", "AB 12 34 56 C"),
    ("NINO AB123456C here", "uk_nino", "AB123456C"),
    ("Steuer-IdNr 86095742719.", "national_id", "86095742719"),
    ("PESEL 44051401359", "national_id", "44051401359"),
    ("BSN 111222333", "national_id", "111222333"),
    ("personnummer 811218-9876", "national_id", "811218-9876"),
    ("Personnr: 19811218-9876", "national_id", "19811218-9876"),
    ("pnr 8112189876", "national_id", "8112189876"),
    ("NIR 2 55 08 14 168 025 38", "national_id", "2 55 08 14 168 025 38"),
    ("DNI 12345678Z.", "national_id", "12345678Z"),
    ("NIF: 12345678Z", "national_id", "12345678Z"),
    ("Mi documento es 12345678-Z", "national_id", "12345678-Z"),
    ("NIE X1234567L.", "national_id", "X1234567L"),
    ("CF RSSMRA85T10A562S.", "national_id", "RSSMRA85T10A562S"),
    ("server 192.168.10.20 is up", "ip_address", "192.168.10.20"),
    ("server 2001:db8::8a2e:370:7334 is up", "ip_address", "2001:db8::8a2e:370:7334"),
    ("key sk-proj-Ab3dE5gH7jK9mN1pQ3rS5tU7 leaked", "secret", "sk-proj-Ab3dE5gH7jK9mN1pQ3rS5tU7"),
    ("aws AKIAIOSFODNN7EXAMPLF!", "secret", "AKIAIOSFODNN7EXAMPLF"),
    (f"token {CANARY} here", "canary", CANARY),
    (f"token {' '.join(CANARY)} here", "canary", " ".join(CANARY)),
    (
        f"token {'-'.join(CANARY[i : i + 4] for i in range(0, 24, 4))} here",
        "canary",
        "-".join(CANARY[i : i + 4] for i in range(0, 24, 4)),
    ),
]


@pytest.mark.parametrize(("text", "detector", "value"), LEAKS, ids=[x[1] + ":" + x[2][:12] for x in LEAKS])
@pytest.mark.parametrize("engine", ["hyperscan", "re"])
def test_each_leak_is_found_exactly(
    sanitizer: Sanitizer, re_sanitizer: Sanitizer, engine: str, text: str, detector: str, value: str
) -> None:
    s = sanitizer if engine == "hyperscan" else re_sanitizer
    assert _hits(s, text) == [(detector, value)]


def test_canary_in_base64_and_hex_is_found(sanitizer: Sanitizer) -> None:
    for form in canary_encodings(CANARY):
        text = f"blob: xx{form}yy end"
        hits = sanitizer.sanitize(text).hits
        assert [h.detector for h in hits] == ["canary"], form
        assert sanitizer.sanitize(text).blocked is True


DECOYS = [
    "Order #4111111111111112 shipped",  # fails Luhn
    "order ORD-2024-558812 on 2024-05-01",
    "SKU AB-1234-XL, size 42",
    "tracking 1Z999AA10123456784",
    "price $1,299.00 or EUR 1.299,00",
    "EAN 4006381333931 and 5901234123457 and 0060174533407",
    "date 01.02.2024 and 12/31/2023, time 12:30:45",
    "invoice 1234567890 and ref 12345678901",  # bare digit runs, no id context
    "digits 86095742718 with no context",
    "IBAN-like DE89370400440532013001 fails mod-97",
    "card-like 4111 1111 1111 1112 fails Luhn",
    "version 3.12.1 and ratio 1:2",
    "call 2024-05-01 10:00",
    "phone-ish 123456789012345",
    "NINO-like QQ 12 34 56 C (Q is never allocated)",
    "SSN-like 000-12-3456 and 666-12-3456",
]


@pytest.mark.parametrize("text", DECOYS)
def test_look_alikes_stay_intact(sanitizer: Sanitizer, text: str) -> None:
    result = sanitizer.sanitize(text)
    assert result.hits == []
    assert result.text == text


def test_default_actions_redact_alert_and_block(sanitizer: Sanitizer) -> None:
    text = "a jane@example.com b 10.0.0.1 c " + CANARY + " d 4111111111111111"
    result = sanitizer.sanitize(text)
    assert [(h.detector, h.action) for h in result.hits] == [
        ("email", Action.REDACT),
        ("ip_address", Action.ALERT),
        ("canary", Action.BLOCK),
    ]
    assert result.blocked is True
    assert result.text == "a [REDACTED:EMAIL] b 10.0.0.1 c "


def test_redaction_text_and_hit_fields(sanitizer: Sanitizer) -> None:
    text = "card 4111 1111 1111 1111, mail jane@example.com."
    result = sanitizer.sanitize(text)
    assert result.text == "card [REDACTED:PAYMENT_CARD], mail [REDACTED:EMAIL]."
    assert result.blocked is False
    assert result.scanned_bytes == len(text.encode())
    card = result.hits[0]
    assert (card.start, card.end, card.redacted_preview) == (5, 24, "411…1111")
    assert "4111 1111 1111 1111" not in repr(result.hits)
    assert set(result.detector_versions) >= {"email", "payment_card", "protected_text", "canary"}


def test_offsets_count_characters_not_bytes(sanitizer: Sanitizer) -> None:
    text = "Grüße – schreiben Sie an jörg@example.de oder 4111111111111111 €"
    result = sanitizer.sanitize(text)
    assert [(h.detector, text[h.start : h.end]) for h in result.hits] == [
        ("email", "jörg@example.de"),
        ("payment_card", "4111111111111111"),
    ]
    assert result.scanned_bytes == len(text.encode())


def test_engines_agree_on_a_mixed_text(sanitizer: Sanitizer, re_sanitizer: Sanitizer) -> None:
    text = " ".join(t for t, _, _ in LEAKS[:-3]) + " " + " ".join(DECOYS)
    assert sanitizer.sanitize(text) == re_sanitizer.sanitize(text)


def test_secret_windows_around_anchors_match_a_whole_text_scan(sanitizer: Sanitizer, re_sanitizer: Sanitizer) -> None:
    import base64 as b64
    import json

    payload = b64.urlsafe_b64encode(json.dumps({"sub": "u1", "pad": "x" * 6000}).encode()).decode().rstrip("=")
    jwt = "eyJhbGciOiJIUzI1NiJ9." + payload + ".c2lnbmF0dXJlc2lnbmF0dXJlc2ln"
    pem = "-----BEGIN PRIVATE KEY-----\n" + ("QUJDRA" * 10 + "\n") * 60 + "-----END PRIVATE KEY-----"
    google = "AIza" + "B" * 10 + "c" * 10 + "1" * 15
    text = ("words " * 300 + jwt + " words " * 50 + pem + " more " * 30 + google + " then " * 40 + "firebase config"
            + " tail " * 200 + google + " end")  # fmt: skip
    fast = [(h.detector, h.start, h.end) for h in sanitizer.sanitize(text).hits]
    slow = [(h.detector, h.start, h.end) for h in re_sanitizer.sanitize(text).hits]
    assert fast == slow
    assert [(d, text[s:e][:12]) for d, s, e in fast] == [("secret", jwt[:12]), ("secret", pem[:12]), ("secret", google[:12])]
    assert fast[0][2] - fast[0][1] == len(jwt)


def test_ssn_context_is_a_word_not_the_marker_of_an_earlier_redaction(sanitizer: Sanitizer) -> None:
    # A bare nine-digit run is an SSN only after the word SSN or "social security"; the US_SSN inside a
    # redaction marker is not that word (re-sanitizing redacted text must find nothing new).
    assert _hits(sanitizer, "SSN: 123456789") == [("us_ssn", "123456789")]
    assert _hits(sanitizer, "SSNs 123456789") == [("us_ssn", "123456789")]
    assert _hits(sanitizer, "[REDACTED:US_SSN] 123456789") == []
    assert _hits(sanitizer, "order PASSNO 123456789") == []


AWS_VALUE = "Qm8r2Zt7vKp1Xw9Ld4Hs6Nb3Jc5Fy0Ge+Ta/Ru7W"


@pytest.mark.parametrize(
    "text",
    [
        f"Aws_Secret_Key: {AWS_VALUE}",
        f"SECRETACCESSKEY = {AWS_VALUE}",
        # An exact-case name far away used to open the `re` engine's check but not Hyperscan's window.
        f"aws_secret rotated. {'x ' * 2000}Aws_Secret_Key = {AWS_VALUE}",
    ],
)
def test_an_aws_key_under_a_name_in_any_case_is_found_by_both_engines(
    sanitizer: Sanitizer, re_sanitizer: Sanitizer, text: str
) -> None:
    expected = [("secret", AWS_VALUE)]
    assert _hits(sanitizer, text) == expected
    assert _hits(re_sanitizer, text) == expected


def _dated(shape: str, n: int) -> list[str]:
    """The first `n` numbers of `shape` ("YYMMDD-NNNN" or "YYYYMMDD-NNNN") that pass the personnummer checks."""
    from leakline.guard.sanitize import checks

    out: list[str] = []
    serial = 1000
    while len(out) < n:
        day = f"{(serial % 28) + 1:02d}"
        digits = ("85" if shape.startswith("YYMMDD") else "2024") + f"{(serial % 12) + 1:02d}" + day + f"{serial:04d}"
        if checks.se_personnummer_ok(digits):
            cut = len(digits) - 4
            out.append(f"{digits[:cut]}-{digits[cut:]}")
        serial += 1
    return out


def test_dated_references_and_part_numbers_need_the_id_s_word(sanitizer: Sanitizer) -> None:
    # Before: a date-and-serial reference that happened to pass the personnummer's Luhn (one in ten), or eight
    # digits whose letter happened to be the DNI's (one in 23), was redacted as a national id (red team R6).
    from leakline.guard.sanitize import checks

    for reference in [*_dated("YYMMDD-NNNN", 5), *_dated("YYYYMMDD-NNNN", 5)]:
        for text in (f"Invoice {reference} is paid", f"Rechnung {reference}"):
            assert sanitizer.sanitize(text).text == text
        assert _hits(sanitizer, f"Personnummer: {reference}") == [("national_id", reference)]
    parts = [f"{n:08d}{checks.ES_DNI_LETTERS[n % 23]}" for n in range(12345678, 12345683)]
    for part in parts:
        assert sanitizer.sanitize(f"Part {part} in stock").text == f"Part {part} in stock"
        assert _hits(sanitizer, f"DNI {part}") == [("national_id", part)]


INTERNATIONAL = [
    ("Schreiben Sie an info@müller-shop.de bitte", "info@müller-shop.de"),
    ("max@bäckerei.de.", "max@bäckerei.de"),
    ("jöhn@exämple.de", "jöhn@exämple.de"),
    ("user@example.xn--p1ai ok", "user@example.xn--p1ai"),
    ("пишите на ivan@пример.рф", "ivan@пример.рф"),
    ("email: test@例え.jp", "test@例え.jp"),
    ("メールはtest@example.comです", "メールはtest@example.com"),  # the domain ends at `com` as before
    ("write to mary.o'connor@example.ie", "mary.o'connor@example.ie"),
    ("quoted 'jane@example.com' here", "jane@example.com"),
    ("bang joe!ops@example.com", "joe!ops@example.com"),
]


@pytest.mark.parametrize(("text", "address"), INTERNATIONAL)
def test_internationalized_addresses_and_rfc_local_parts_are_found_whole(
    sanitizer: Sanitizer, re_sanitizer: Sanitizer, text: str, address: str
) -> None:
    # Before: the domain had to be ASCII (info@müller-shop.de passed whole and streamed), and a local part
    # with `'` or `!` was redacted from the character after it (`mary.o'[REDACTED:EMAIL]`): red team R6.
    assert _hits(sanitizer, text) == [("email", address)]
    assert _hits(re_sanitizer, text) == [("email", address)]
    whole = sanitizer.sanitize(text).text
    for cut in range(len(text) + 1):
        stream = sanitizer.stream()
        assert stream.feed(text[:cut]) + stream.feed(text[cut:]) + stream.finish() == whole


@pytest.mark.parametrize(
    "text", ["2 @ 5 EUR", "user@localhost", "npm i @types/node", "pkg@1.2.3", "foo@bar", "a@b.c", "x@müller", "@例え.jp"]
)
def test_at_signs_that_are_no_address_stay(sanitizer: Sanitizer, text: str) -> None:
    assert sanitizer.sanitize(text).text == text


_BYTES = CANARY.encode()
BYTE_SPELLINGS = {
    "percent-encoded": "".join(f"%{b:02X}" for b in _BYTES),
    "C byte array": "{" + ", ".join(f"0x{b:02x}" for b in _BYTES) + "}",
    "escaped string": "".join(f"\\x{b:02x}" for b in _BYTES),
    "character array": "[" + ", ".join(f'"{ch}"' for ch in CANARY) + "]",
}


@pytest.mark.parametrize("name", sorted(BYTE_SPELLINGS))
def test_a_canary_as_byte_literals_or_a_character_array_blocks(
    sanitizer: Sanitizer, re_sanitizer: Sanitizer, name: str
) -> None:
    # Before: each passed whole and streamed (red team R6).
    text = f"The reference is {BYTE_SPELLINGS[name]} as asked."
    for s in (sanitizer, re_sanitizer):
        result = s.sanitize(text)
        assert result.blocked and [h.detector for h in result.hits] == ["canary"], name
        assert CANARY[:4].encode().hex() not in result.text.lower().replace("%", "").replace("0x", "")
    stream = sanitizer.stream()
    out = "".join(stream.feed(text[i : i + 9]) for i in range(0, len(text), 9)) + stream.finish()
    assert stream.blocked and out == sanitizer.sanitize(text).text


def test_ordinary_byte_arrays_and_percent_encoded_urls_stay(sanitizer: Sanitizer) -> None:
    for text in ("bytes = {0x00, 0x1f, 0x7f, 0xff}", "https://example.com/search?q=%C3%A4pfel%20rot", '["a", "b", "c"]'):
        assert sanitizer.sanitize(text).text == text
