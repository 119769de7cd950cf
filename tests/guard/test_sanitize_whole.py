"""The whole-text path's shortcuts find exactly what the per-trigger path finds: the number matcher walking
the engine's number runs (`scan_whole`) against the same matcher fed every digit trigger (`scan`), and the
IPv6 matcher skipping colons of a run it has read against each colon judged on its own. Texts: the
benchmark corpus at both densities, and random soups of digits, separators, letters and hex runs built to
hit every branch (runs longer than the matchers' bounds, identifiers inside words, leading zeros)."""

from __future__ import annotations

import importlib.util
import random
import string
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakline.guard.sanitize import Policy, Sanitizer
from leakline.guard.sanitize.matchers import (
    _REGION,
    _REGION_REACH,
    _SHAPE,
    Candidate,
    Ipv6Matcher,
    NumberMatcher,
    Triggers,
    _groups,
    _plan,
)

pytest.importorskip("hyperscan")

REGIONS = [("DE", "FR", "GB", "US"), ("US",), ("DE",), ()]
CANARIES = ("Zq7XbN2vLp9RtY4sKw8HdM3c",)


def _key(c: Candidate) -> tuple[int, int, str]:
    return c.start, c.end, c.detector


@cache
def _bench() -> ModuleType:
    path = Path(__file__).resolve().parents[2] / "bench" / "sanitize_bench.py"
    spec = importlib.util.spec_from_file_location("sanitize_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _soup(seed: int, size: int) -> str:
    """Digits with every separator (doubled too), capitals, `+`, `(`, words and non-ASCII letters."""
    rng = random.Random(seed)
    alphabet = string.digits * 6 + " -./)(+" * 2 + "ABXYZGI" + "ab_" + "é€"
    return "".join(rng.choice(alphabet) for _ in range(size))


_IDS = ("AB123456C", "AB 12 34 56 C", "RSSMRA85T10A562S", "X1234567L", "12345678Z", "GB29NWBK60161331926819",
        "DE89 3704 0044 0532 0130 00", "4111 1111 1111 1111", "123-45-6789", "+44 20 7946 0958")  # fmt: skip


def _numbers(seed: int, count: int) -> str:
    """Numbers of 1-9 groups of 1-19 digits (leading zeros, one or mixed separators, `) `), after id
    keywords, `+`, `(`, capitals or letters, with a DNI letter, a dot or a word after them."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(count):
        if rng.random() < 0.05:
            out.append(rng.choice(_IDS) + rng.choice((" ", "", "7", "x")))
        out.append(rng.choice((" ", " ssn ", " steuer ", " pesel ", " bsn ", " personnummer ", "+", "(", "X",
                               "AB", "AB ", "GB29 ", "IT", "x", "_", "é", "ABCDEF", "SKU-")))  # fmt: skip
        separator = rng.choice((" ", "-", ".", "/", ") "))
        for i in range(rng.choice((1, 1, 2, 3, 4, 4, 5, 6, 8, 9))):
            if i:
                out.append(separator if rng.random() < 0.8 else rng.choice((" ", "-", ".", "/", ") ", "  ", "--")))
            size = rng.choice((1, 2, 3, 3, 4, 4, 6, 8, 9, 10, 11, 12, 13, 15, 16, 19, 25))
            lead = rng.choice(("", "", "", "0", "00"))
            out.append((lead + "".join(rng.choice(string.digits) for _ in range(size)))[:size])
        out.append(rng.choice((" ", ".", "A", " Z", "-Z", ".5", "x", "\n")))
    return "".join(out)


def _hex(seed: int, size: int) -> str:
    """Hex runs with colons and dots, some longer than an address can be, among other characters; and
    addresses at the end of runs of 30-60 characters, after a `.` or `:`, where a colon's 45-character
    look-back starts inside the run."""
    rng = random.Random(seed)
    alphabet = "0123456789abcdefABCDEF" + ":" * 8 + ".." + " g_-/Z€"
    out = ["".join(rng.choice(alphabet) for _ in range(size))]
    for _ in range(size // 60):
        address = rng.choice(("1:2:3:4:5:6:7:8", "fe80::1", "2001:db8::8a2e:370:7334", "::1", "a:b::c"))
        filler = "".join(rng.choice("0123456789abcdef.:") for _ in range(rng.randint(20, 50) - len(address)))
        out.append(" " + rng.choice(("a:b", "::", "")) + filler + rng.choice(".:") + address + rng.choice(" :.x"))
    return "".join(out)


def _texts() -> list[tuple[str, str]]:
    bench = _bench()
    return [
        ("bench dense", bench.build_corpus(0.2)[0]),
        ("bench sparse", bench.build_corpus(0.2, every=8000)[0]),
        *((f"soup {seed}", _soup(seed, 20_000)) for seed in range(3)),
        *((f"numbers {seed}", _numbers(seed, 1000)) for seed in range(3)),
    ]


@cache
def _cached_texts() -> list[tuple[str, str]]:
    return _texts()


@pytest.mark.parametrize("regions", REGIONS)
def test_number_runs_find_what_every_digit_trigger_finds(regions: tuple[str, ...]) -> None:
    sanitizer = Sanitizer(Policy(canaries=CANARIES, phone_regions=regions, engine="hyperscan"))
    matcher = NumberMatcher(regions)
    detectors: set[str] = set()
    for name, text in _cached_texts():
        whole = sanitizer.engine.scan_whole(text)
        each = sanitizer.engine.scan(text)
        assert whole.number_runs is not None and not whole.digit
        assert len(whole.number_runs) < len(each.digit)  # the shortcut is in use
        expected = sorted(matcher.find(text, each), key=_key)
        assert sorted(matcher.find(text, whole), key=_key) == expected, (regions, name)
        detectors.update(c.detector for c in expected)
    # Every kind of number identifier was found on the way, so every branch behind the runs was compared.
    assert {"payment_card", "iban", "us_ssn", "uk_nino", "national_id", "ip_address"} <= detectors
    assert "phone" in detectors  # international numbers (+CC, 00CC) need no configured region


@pytest.mark.parametrize("regions", REGIONS)
def test_whole_text_candidates_and_results_equal_the_per_trigger_path(regions: tuple[str, ...]) -> None:
    sanitizer = Sanitizer(Policy(canaries=CANARIES, phone_regions=regions, engine="hyperscan"))
    fallback = Sanitizer(Policy(canaries=CANARIES, phone_regions=regions, engine="re"))
    for name, text in _cached_texts()[2:]:
        per_trigger = sanitizer.candidates_of(sanitizer._families, text, sanitizer.engine.scan(text))
        assert sorted(sanitizer.candidates(text), key=_key) == sorted(per_trigger, key=_key), (regions, name)
        assert sanitizer.sanitize(text) == fallback.sanitize(text), (regions, name)


@pytest.mark.parametrize("regions", REGIONS)
def test_a_plan_spells_each_span_as_its_groups(regions: tuple[str, ...]) -> None:
    national_prefix = any(r not in ("US", "CA") for r in regions)
    nanp = any(r in ("US", "CA") for r in regions)
    spans = 0
    for _, text in _cached_texts()[2:]:
        for region in _REGION.finditer(text):
            p = region.start()
            number = _REGION.match(text, p, p + _REGION_REACH)
            assert number is not None
            groups, between = _groups(number.group())
            for zeros in range(3):
                for plus in (False, True):
                    for length, sizes, seps, separators in _plan(
                        number.group().translate(_SHAPE), plus, zeros, national_prefix, nanp
                    ):
                        k = len(sizes)
                        assert sizes == tuple(map(len, groups[:k])) and seps == tuple(between[: k - 1])
                        assert length == sum(sizes) + sum(map(len, seps))
                        digits = text[p : p + length]
                        for separator in separators:
                            digits = digits.replace(separator, "")
                        assert digits == "".join(groups[:k]), (text[p : p + length], separators)
                        spans += 1
    assert spans > 1000


@pytest.mark.parametrize("seed", range(3))
def test_ipv6_skips_only_colons_that_read_the_same_run(seed: int) -> None:
    sanitizer = Sanitizer(Policy(engine="hyperscan"))
    matcher = Ipv6Matcher()
    text = _hex(seed, 40_000) + _bench().build_corpus(0.2)[0]
    colons = sanitizer.engine.scan_whole(text).colon
    one_by_one = {c for p in colons for c in matcher.find(text, Triggers(colon=[p]))}
    found = list(matcher.find(text, Triggers(colon=colons)))
    assert len(found) == len(set(found))
    assert sorted(found, key=_key) == sorted(one_by_one, key=_key)
    assert len(found) > 100 and len(colons) > 3 * len(found)  # most colons share a run with another


TOKENS = [
    "4111 1111 1111 1111", "5555-5555-5555-4444", "+44 20 7946 0958", "(212) 555-0123", "DE89 3704 0044 0532 0130 00",
    "GB29NWBK60161331926819", "AB 12 34 56 C", "RSSMRA85T10A562S", "X1234567L", "12345678Z", "123-45-6789", "ssn ",
    "192.168.10.20", "2001:db8::8a2e:370:7334", "fe80::1", "::", "0", "1", "12", "00", "0049 30 1234567", "+",
    "(", ")", " ", "-", ".", "/", "AB", "X", "word", "é", "_",
]  # fmt: skip


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=st.lists(st.sampled_from(TOKENS), min_size=1, max_size=200).map("".join),
       regions=st.sampled_from(REGIONS))  # fmt: skip
def test_any_token_text_gives_the_per_trigger_candidates(text: str, regions: tuple[str, ...]) -> None:
    sanitizer = _sanitizer(regions)
    per_trigger = sanitizer.candidates_of(sanitizer._families, text, sanitizer.engine.scan(text))
    assert sorted(sanitizer.candidates(text), key=_key) == sorted(per_trigger, key=_key)


@cache
def _sanitizer(regions: tuple[str, ...]) -> Sanitizer:
    return Sanitizer(Policy(canaries=CANARIES, phone_regions=regions, engine="hyperscan"))
