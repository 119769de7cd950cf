"""Red team r9, problem 5 (the sanitizer's half): canary halves in two JSON values with keys between, or in
two parallel tool calls' arguments, found whole (`across_fields`) and streamed (`CanaryWatch`), both engines.
Every text is paired with every other one, not only with its neighbours; a canary's first characters in one
value and unrelated text elsewhere stay unreported."""

from __future__ import annotations

from functools import cache

import pytest

from leakline.guard.sanitize import Policy, Sanitizer
from leakline.guard.sanitize.across import CanaryWatch, across_fields, refuses
from leakline.guard.sanitize.engine import hyperscan_available

ENGINES = ["hyperscan", "re"] if hyperscan_available() else ["re"]
CAN = "Zq7XbN2vLp9RtY4sKw8HdM3c"
HEAD, TAIL = CAN[:12], CAN[12:]


@cache
def _sanitizer(engine: str) -> Sanitizer:
    return Sanitizer(Policy(canaries=(CAN,), engine=engine))


# What `sanitize_json` judges of the arguments, in order: keys and values (the keys longer than a split's gap).
JSON_VALUES = ["customerReferenceFirst", HEAD, "customerReferenceSecond", TAIL]
# Two parallel tool calls: a name, then its arguments' key and value, each.
TWO_CALLS = ["lookup_customer_record", "query", HEAD, "lookup_customer_record", "query", TAIL]
# Reversed order: the second half first.
REVERSED = ["customerReferenceFirst", TAIL, "customerReferenceSecond", HEAD]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    ("texts", "preview_start"),
    [(JSON_VALUES, HEAD), (TWO_CALLS, HEAD), (REVERSED, HEAD)],
    ids=["json", "calls", "reversed"],
)
def test_canary_halves_in_two_values_are_found_whole(engine: str, texts: list[str], preview_start: str) -> None:
    hits = across_fields(_sanitizer(engine), texts)
    assert [(h.detector, h.start, h.end) for h in hits] == [("canary", 0, len(HEAD) + 1 + len(TAIL))]
    assert refuses(hits)


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("texts", [JSON_VALUES, TWO_CALLS], ids=["json", "calls"])
def test_canary_halves_in_two_streamed_fields_are_found_by_the_watch(engine: str, texts: list[str]) -> None:
    watch = CanaryWatch(_sanitizer(engine))
    for i, text in enumerate(texts):
        for j in range(0, len(text), 5):  # in pieces, each field its own key
            watch.feed(("field", i), text[j : j + 5])
    found = watch.judge()
    assert [(h.detector, h.start, h.end) for h in found] == [("canary", 0, len(HEAD) + 1 + len(TAIL))]
    assert watch.hits == found


@pytest.mark.parametrize("engine", ENGINES)
def test_a_long_value_is_paired_by_its_ends(engine: str) -> None:
    filler = "order 1042 shipped today; " * 60
    texts = ["note", filler + HEAD, "customerReferenceSecond", TAIL + filler]
    hits = across_fields(_sanitizer(engine), texts)
    assert [h.detector for h in hits] == ["canary"]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "texts",
    [
        ["customerReferenceFirst", HEAD, "customerReferenceSecond", "tY4sKw8Hxxxx"],  # a look-alike second half
        ["customerReferenceFirst", HEAD, "customerReferenceSecond", "plain text"],
        ["lookup_customer_record", "query", "order 1042", "lookup_customer_record", "query", "order 1043"],
    ],
    ids=["near-miss", "one-half", "no-canary"],
)
def test_values_without_both_halves_are_not_reported(engine: str, texts: list[str]) -> None:
    assert across_fields(_sanitizer(engine), texts) == []
    watch = CanaryWatch(_sanitizer(engine))
    for i, text in enumerate(texts):
        watch.feed(("field", i), text)
    assert watch.judge() == []
