"""The sanitizer's shortcuts reject only what the full checks would reject: the number matcher's shape plan
never drops a span `_classify` accepts, on random texts built to hit every branch of it."""

from __future__ import annotations

import random
import string

import pytest

from leakline.guard.sanitize.matchers import (
    _REGION,
    _REGION_REACH,
    IPV4_GROUPS,
    MIN_REGION_CHARS,
    PHONE_MIN_DIGITS,
    NumberMatcher,
    _groups,
    _is_alnum,
    _Span,
    shape_may_match,
)

_WORDS = (" ssn ", " steuer ", " pesel ", " bsn ", " personnummer ", " tax id ", " tin ", "X", "Y", "Z", "L", "+", "(")
_SEPARATORS = (" ", "-", ".", "/", ") ", " ", "-")


def _number_soup(seed: int, numbers: int) -> str:
    """Numbers of 1-8 digit groups (every length, one or mixed separators, leading zeros) after `+`, `(`, id
    keywords or letters, followed by DNI letters, dots or words."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(numbers):
        out.append(rng.choice(_WORDS))
        separator = rng.choice(_SEPARATORS)
        for i in range(rng.choice((1, 1, 2, 3, 4, 4, 5, 6, 7, 8))):
            if i:
                out.append(separator if rng.random() < 0.8 else rng.choice(_SEPARATORS))
            size = rng.choice((1, 2, 2, 3, 3, 4, 4, 6, 8, 9, 10, 11, 12, 13, 15, 16, 19))
            lead = rng.choice(("", "", "", "", "0", "00")) if i < 2 else ""
            out.append(lead + "".join(rng.choice(string.digits) for _ in range(size))[: max(size - len(lead), 0)])
        out.append(rng.choice((" ", " ", ".", "A", "Z", " Z", "-Z", ".5")))
    return "".join(out)


@pytest.mark.parametrize("regions", [("DE", "FR", "GB", "US"), ("US",), ("GB",), ()])
def test_the_shape_plan_never_drops_a_span_classify_accepts(regions: tuple[str, ...]) -> None:
    matcher = NumberMatcher(regions)
    national_prefix = any(r not in ("US", "CA") for r in regions)
    nanp = any(r in ("US", "CA") for r in regions)
    checked = accepted = 0
    for seed in range(6):
        text = _number_soup(seed, 2000)
        for p, ch in enumerate(text):
            if not ch.isdigit() or (p and _is_alnum(text[p - 1])):
                continue
            region = _REGION.match(text, p, p + _REGION_REACH)
            if region is None or region.end() - p < MIN_REGION_CHARS:
                continue
            groups, between = _groups(region.group())
            digits = "".join(groups)
            zeros = 2 if digits.startswith("00") else 1 if digits.startswith("0") else 0
            plus = p > 0 and text[p - 1] == "+"
            end = p
            for k in range(1, len(groups) + 1):
                end += len(groups[k - 1]) + (len(between[k - 2]) if k > 1 else 0)
                sizes = tuple(map(len, groups[:k]))
                seps = tuple(between[: k - 1])
                if sum(sizes) < PHONE_MIN_DIGITS and k != IPV4_GROUPS:
                    continue
                found = matcher._classify(text, _Span(p, end, "".join(groups[:k]), sizes, seps))
                checked += 1
                if found is not None:
                    accepted += 1
                    assert shape_may_match(sizes, seps, plus, zeros, national_prefix, nanp), (
                        regions, text[max(0, p - 50) : end + 2], found
                    )
    # The texts must exercise the classifier, not only its rejections.
    assert checked > 20_000
    assert accepted > 200
