"""Numbers written the way people write them (issue 6, red team): IBANs with `-`/`.` separators, groups of 3,
a space after the country code or in lower case; cards whose 4-4-4-4 / 4-6-5 groups are parted by dots,
slashes, underscores, 2-3 characters or line breaks; `+44 (0)20 ...` and `030/12345678` phones. Each is
redacted whole with its own detector, in a whole text and in a stream at every chunk size, by both engines;
the look-alikes next to them stay intact; and the shortcuts (whole-text runs and card ends, the stream's
per-digit triggers, `scan_tail`) find exactly what every digit trigger finds."""

from __future__ import annotations

import itertools
import random
import string
from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakline.guard.sanitize import Policy, Sanitizer, checks
from leakline.guard.sanitize.engine import ReEngine, hyperscan_available
from leakline.guard.sanitize.matchers import (
    Candidate,
    NumberMatcher,
    Triggers,
    _iban,
    _trunk_phone,
    _wide_card,
)

ENGINES = ["hyperscan", "re"] if hyperscan_available() else ["re"]
REGIONS = [("DE", "FR", "GB", "US"), ("US",), ("DE",), ()]
PREFIX = "thanks for shopping with us, " * 30  # 870 characters: a stream releases text before the number
SUFFIX = " and have a nice day" * 30

# (text, detector, sanitized text): each passed the sanitizer whole or in part before this change.
CAUGHT = [
    ("IBAN: DE89-3704-0044-0532-0130-00", "iban", "IBAN: [REDACTED:IBAN]"),
    ("IBAN DE89 3704-0044 0532 0130 00.", "iban", "IBAN [REDACTED:IBAN]."),
    ("IBAN DE89.3704.0044.0532.0130.00.", "iban", "IBAN [REDACTED:IBAN]."),
    ("IBAN: de89 3704 0044 0532 0130 00", "iban", "IBAN: [REDACTED:IBAN]"),
    ("iban de89370400440532013000 ok", "iban", "iban [REDACTED:IBAN] ok"),
    ("IBAN DE 89 370 400 440 532 013 000 ok", "iban", "IBAN [REDACTED:IBAN] ok"),
    ("iban de 89 3704 0044 0532 0130 00 ok", "iban", "iban [REDACTED:IBAN] ok"),
    ("iban gb82 west 1234 5698 7654 32 ok", "iban", "iban [REDACTED:IBAN] ok"),
    ("iban DE89-3704.0044-0532 0130 00 ok", "iban", "iban [REDACTED:IBAN] ok"),
    ("card 4111.1111.1111.1111 ok", "payment_card", "card [REDACTED:PAYMENT_CARD] ok"),
    ("card 4111/1111/1111/1111 ok", "payment_card", "card [REDACTED:PAYMENT_CARD] ok"),
    ("card 4111_1111_1111_1111 ok", "payment_card", "card [REDACTED:PAYMENT_CARD] ok"),
    ("card 4111  1111  1111  1111 ok", "payment_card", "card [REDACTED:PAYMENT_CARD] ok"),
    ("card 4111 1111-1111 1111 ok", "payment_card", "card [REDACTED:PAYMENT_CARD] ok"),
    ("card 4111 - 1111 - 1111 - 1111 ok", "payment_card", "card [REDACTED:PAYMENT_CARD] ok"),
    ("card:\n4111\n1111\n1111\n1111\nexp 12/26", "payment_card", "card:\n[REDACTED:PAYMENT_CARD]\nexp 12/26"),
    ("card:\n- 4111\n- 1111\n- 1111\n- 1111\n", "payment_card", "card:\n- [REDACTED:PAYMENT_CARD]\n"),
    ("card 5555.5555.5555.4444, ok", "payment_card", "card [REDACTED:PAYMENT_CARD], ok"),
    ("amex 3782.822463.10005 ok", "payment_card", "amex [REDACTED:PAYMENT_CARD] ok"),
    ("amex 3782 - 822463 - 10005 ok", "payment_card", "amex [REDACTED:PAYMENT_CARD] ok"),
    ("call +44 (0)20 7946 0958, thanks", "phone", "call [REDACTED:PHONE], thanks"),
    ("call +44(0)20 7946 0958 today", "phone", "call [REDACTED:PHONE] today"),
    ("call +49 (0) 30 12345678 today", "phone", "call [REDACTED:PHONE] today"),
    ("call 030/12345678 today", "phone", "call [REDACTED:PHONE] today"),
    ("call 0621/1234567 today", "phone", "call [REDACTED:PHONE] today"),
]

# Look-alikes next to the new shapes: none of them may be touched.
INTACT = [
    "shipped on 2024.01.15 with version 4.11.1 from 10.1.2.3.4",
    "order 1234-5678-9012-3456 and 1234.5678.9012.3456 (no issuer, Luhn fails)",
    "card-like 4111.1111.1111.1112 and 4111_1111_1111_1112 fail Luhn",
    "tracking 9400 1000 0000 0000 0000 00 and 9400.1000.0000.0000.0000.00",
    "EAN 4006381333931, SKU AB-1234-XL, price 1.299,00 EUR",
    # a column of 4-digit values: its first four would pass as a Visa, but five 4-digit groups are a list
    "prices\n4935\n8329\n1528\n7708\n7107\n",
    "x_4111_1111_1111_1111 and 4111_1111_1111_1111_x are inside words",
    "9999.4111.1111.1111.1111 is one longer number",
    "IBAN-like de89370400440532013001, DE89.3704.1044.5532.0130.00 and DE89-3704-1044-1532-0130-0 fail",
    "De89370400440532013000 mixes cases",
    # a hex span id of Belgium's IBAN length that passes mod-97: a lower-case BBAN's letters must lead it
    "span be13026e81c8d7e3 id",
    "made 2024 and code 12 3456, se 2024-01-15, at 12.345.678, is 1234 5678 9012 3456",
    "dates 12/31/2023, 01/15/2024, 2024/01/15 and 05/2024; ref 030/1234/5678",
    "(0)20 7946 0958 without a country code and +44 (0)12",
]


@cache
def _sanitizer(engine: str, regions: tuple[str, ...] = ("DE", "FR", "GB", "US")) -> Sanitizer:
    return Sanitizer(Policy(phone_regions=regions, engine=engine))


def _stream(s: Sanitizer, text: str, size: int) -> tuple[str, list[tuple[str, int, int]]]:
    stream = s.stream()
    out = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size)) + stream.finish()
    return out, [(h.detector, h.start, h.end) for h in stream.hits]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("text", "detector", "expected"), CAUGHT, ids=[c[0] for c in CAUGHT])
def test_each_bypass_is_redacted_whole_and_streamed(engine: str, text: str, detector: str, expected: str) -> None:
    s = _sanitizer(engine)
    result = s.sanitize(text)
    assert result.text == expected
    assert [h.detector for h in result.hits] == [detector]
    long = PREFIX + text + SUFFIX
    whole = s.sanitize(long)
    assert whole.text == PREFIX + expected + SUFFIX
    hits = [(h.detector, h.start, h.end) for h in whole.hits]
    assert [d for d, _, _ in hits] == [detector]
    for size in range(1, 13):
        assert _stream(s, long, size) == (whole.text, hits), size
        assert _stream(s, text, size) == (expected, [(h.detector, h.start, h.end) for h in result.hits]), size


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("text", INTACT)
def test_look_alikes_of_the_new_shapes_stay_intact(engine: str, text: str) -> None:
    s = _sanitizer(engine)
    result = s.sanitize(text)
    assert [(h.detector, text[h.start : h.end]) for h in result.hits if h.detector != "ip_address"] == []
    assert result.text == text
    long = PREFIX + text + SUFFIX
    for size in (1, 5, 12):
        assert _stream(s, long, size)[0] == long


def test_an_iban_wins_over_the_phone_number_inside_it() -> None:
    # Before: the national number 0532 0130 00 inside the IBAN was redacted as a phone, DE89-3704-0044- stayed.
    s = _sanitizer(ENGINES[0])
    candidates = s.candidates("DE89-3704-0044-0532-0130-00")
    assert Candidate("phone", 15, 27) in candidates
    assert [(h.detector, h.start, h.end) for h in s.sanitize("DE89-3704-0044-0532-0130-00").hits] == [("iban", 0, 27)]


TOKENS = [
    "4111.1111.1111.1111", "4111_1111_1111_1111", "4111\n1111\n1111\n1111", "4111 - 1111 - 1111 - 1111",
    "4111  1111  1111  1111", "3782.822463.10005", "4111", "1111", "822463", "10005", "DE89-3704-0044-0532-0130-00",
    "de89 3704 0044 0532 0130 00", "de89370400440532013000", "DE 89 370 400 440 532 013 000", "gb82 west 1234 5698 7654 32",
    "+44 (0)20 7946 0958", "+49 (0) 30 12345678", "(0)", "+44 ", "030/12345678", "/", "de", "de ", "gb82", "89",
    "4111 1111 1111 1111", "+44 20 7946 0958", "0", "12", "1", " ", "  ", "\n", ".", "-", "_", "(", ")", "+", "x",
    "AB", "Z", "word", "é",
]  # fmt: skip
texts = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=200).map("".join)


def _key(c: Candidate) -> tuple[int, int, str]:
    return c.start, c.end, c.detector


@pytest.mark.skipif(not hyperscan_available(), reason="the whole-text shortcuts are the hyperscan engine's")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, regions=st.sampled_from(REGIONS))
def test_whole_text_shortcuts_find_what_every_digit_trigger_finds(text: str, regions: tuple[str, ...]) -> None:
    s = _sanitizer("hyperscan", regions)
    per_trigger = s.candidates_of(s._families, text, s.engine.scan(text))
    assert sorted(s.candidates(text), key=_key) == sorted(per_trigger, key=_key)
    assert s.sanitize(text) == _sanitizer("re", regions).sanitize(text)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=30))
def test_any_chunking_gives_the_whole_text_result(text: str, cuts: list[int]) -> None:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    for engine in ENGINES:
        s = _sanitizer(engine)
        whole = s.sanitize(text)
        stream = s.stream()
        out = "".join(stream.feed(text[a:b]) for a, b in itertools.pairwise(points)) + stream.finish()
        assert out == whole.text
        assert stream.hits == whole.hits


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=12))
def test_scan_tail_reports_each_whole_text_trigger_once(text: str, cuts: list[int]) -> None:
    for engine in ENGINES:
        e = _sanitizer(engine).engine
        whole = e.scan(text)
        got: list[int] = []
        local_from = gate_from = 0
        for n in [*sorted({c % (len(text) + 1) for c in cuts} - {0, len(text)}), len(text)]:
            base = max(0, local_from - 600)
            triggers, local_to, _ = e.scan_tail(text[base:n], local_from - base, gate_from - base, n == len(text))
            got.extend(p + base for p in triggers["digit"])
            local_from, gate_from = local_to + base, n
        assert got == sorted(set(whole.digit)), engine


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts)
def test_the_number_matcher_reads_no_further_than_it_declares(text: str) -> None:
    matcher = NumberMatcher(("DE", "FR", "GB", "US"))
    for p in _sanitizer(ENGINES[0]).engine.scan(text).digit:
        expected = sorted(matcher.find(text, Triggers(digit=[p])), key=_key)
        for c in expected:
            assert p - matcher.start_reach <= c.start <= p
        lo = max(0, p - matcher.left_reach)
        shifted = [
            Candidate(c.detector, c.start + lo, c.end + lo) for c in matcher.find(text[lo:], Triggers(digit=[p - lo]))
        ]
        assert sorted(shifted, key=_key) == expected
        hi = p + matcher.settle_reach
        if hi <= len(text):
            assert sorted(matcher.find(text[:hi], Triggers(digit=[p])), key=_key) == expected


def _luhn_completed(digits: str) -> str:
    """`digits` and the Luhn check digit that makes them valid."""
    return next(digits + d for d in string.digits if checks.luhn_ok(digits + d))


def _iban_completed(country: str, bban: str) -> str:
    """An IBAN with valid check digits (ISO 13616: 98 - the number of BBAN + country + 00, mod 97)."""
    numeric = (bban + country + "00").upper().translate({ord(c): str(ord(c) - 55) for c in string.ascii_uppercase})
    return country + f"{98 - int(numeric) % 97:02d}" + bban


def _soup(seed: int, pieces: int) -> str:
    """The new shapes, half of them valid (Luhn, mod-97), inside words and lists, with every separator and
    grouping, among prose, `(`, `+` and other numbers."""
    rng = random.Random(seed)

    def digits(n: int) -> str:
        return "".join(rng.choice(string.digits) for _ in range(n))

    def sep() -> str:
        return "".join(rng.choice(" -./_\n\r") for _ in range(rng.choice((1, 1, 2, 3))))

    out: list[str] = []
    for _ in range(pieces):
        roll = rng.random()
        if roll < 0.3:
            groups = (4, 6, 5) if rng.random() < 0.2 else (4, 4, 4, 4)
            number = rng.choice(("4", "5", "37", "34", "6011", "")) + digits(20)
            number = number[: sum(groups) - 1]
            number += rng.choice(string.digits) if rng.random() < 0.3 else _luhn_completed(number)[-1]
            bounds = list(itertools.accumulate(groups, initial=0))
            out.append(sep().join(number[a:b] for a, b in itertools.pairwise(bounds)))
        elif roll < 0.5:
            country = rng.choice(("DE", "GB", "BE", "FR", "AT", "IS", "NO"))
            length = checks.IBAN_LENGTHS[country]
            bban = (rng.choice(("", "", "WEST")) + digits(30))[: length - 4 + rng.choice((0, 0, 0, 1, -1))]
            iban = _iban_completed(country, bban)
            if rng.random() < 0.5:
                iban = iban.lower()
            size = rng.choice((3, 4))
            head, body = (iban[:2] + " " + iban[2:4], iban[4:]) if rng.random() < 0.3 else (iban[:4], iban[4:])
            if rng.random() < 0.2:
                out.append(iban)
            else:
                glue = rng.choice((" ", "-", ".", " ", "-."))
                out.append(head + "".join(rng.choice(glue) + body[i : i + size] for i in range(0, len(body), size)))
        elif roll < 0.6:
            out.append("+" + rng.choice(("44", "49", "33", "1", "353")) + rng.choice(("", " ")) + "(0)"
                       + rng.choice(("", " ")) + rng.choice(("20", "30", "1", "6")) + rng.choice((" ", "-"))
                       + digits(rng.randint(3, 8)) + rng.choice(("", " " + digits(4))))  # fmt: skip
        elif roll < 0.7:
            out.append("0" + digits(rng.randint(1, 5)) + "/" + digits(rng.randint(3, 9)) + rng.choice(("", "/12")))
        else:
            out.append(rng.choice(("word", "x", "_", "é", "made", "se", "(", "+", "the end")))
        out.append(rng.choice((" ", "  ", "\n", "_", ".", "", "x", ", ")))
    return "".join(out)


@pytest.mark.parametrize("seed", range(3))
def test_every_accepted_number_is_found_from_the_triggers_of_both_engines_and_the_whole_text_scan(seed: int) -> None:
    """Brute force: each card, trunk phone and IBAN (upper and lower case) the matcher's rules accept at any
    digit of the soup is found from the triggers each engine reports, per digit and per run."""
    text = _soup(seed, 3000)
    expected: dict[str, set[Candidate]] = {"card": set(), "iban": set(), "lower iban": set(), "trunk": set()}
    for p in range(len(text)):
        if not text[p].isdigit():
            continue
        card, iban, trunk = _wide_card(text, p), _iban(text, p), _trunk_phone(text, p)
        if card is not None and text[p - 1] not in "0123456789":
            expected["card"].add(card)
        if iban is not None:
            expected["lower iban" if text[iban.start].islower() else "iban"].add(iban)
        if trunk is not None:
            expected["trunk"].add(trunk)
    # The soup exercises every path, many times.
    assert all(len(found) > 10 for found in expected.values()), {k: len(v) for k, v in expected.items()}
    everything = set().union(*expected.values())
    matcher = NumberMatcher(("DE", "FR", "GB", "US"))
    for engine in ENGINES:
        triggers = _sanitizer(engine).engine.scan(text)
        assert everything <= set(matcher.find(text, triggers)), engine
    assert everything <= set(matcher.find(text, ReEngine().scan(text)))
    if hyperscan_available():
        s = _sanitizer("hyperscan")
        found = sorted(matcher.find(text, s.engine.scan_whole(text)), key=_key)
        assert found == sorted(matcher.find(text, s.engine.scan(text)), key=_key)


def test_a_lower_case_iban_is_found_from_the_digits_after_its_bank_code() -> None:
    # `gb82 west 1234 ...`: no number trigger at the check digits (a bank code follows), one after it.
    matcher = NumberMatcher(("DE",))
    for text in (
        "iban gb82 west 1234 5698 7654 32",
        "iban gb 82.west.1234.5698.7654.32",
        "iban gb82west12345698765432",
    ):
        start = text.index("1234")
        assert list(matcher.find(text, Triggers(digit=[start]))) == [Candidate("iban", 5, len(text))], text
        assert list(matcher.find(text, Triggers(digit=[text.index("82")]))) == [], text
