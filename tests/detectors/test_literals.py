"""LiteralMatcher: both search strategies report exact spans and labels, never values."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.detectors.errors import EmptyLiteralError
from leakline.detectors.literals import LiteralMatch, LiteralMatcher


def test_find_strategy_reports_every_occurrence_in_order() -> None:
    matcher = LiteralMatcher({"A": "secret-one", "B": "http://10.0.0.5:11434"})
    text = 'x="secret-one";y="http://10.0.0.5:11434/api";z="secret-one"'
    assert list(matcher.finditer(text)) == [
        LiteralMatch("A", 3, 13),
        LiteralMatch("B", 18, 39),
        LiteralMatch("A", 48, 58),
    ]


def test_regex_strategy_prefers_the_longest_value() -> None:
    matcher = LiteralMatcher({"SHORT": "abcdefgh", "LONG": "abcdefgh-ijkl"}, strategy="regex")
    assert list(matcher.finditer("..abcdefgh-ijkl..abcdefgh")) == [
        LiteralMatch("LONG", 2, 15),
        LiteralMatch("SHORT", 17, 25),
    ]


def test_the_same_value_under_two_names_keeps_the_first_label() -> None:
    matcher = LiteralMatcher({"OPENAI_API_KEY": "sk-same-value-1", "LLM_KEY": "sk-same-value-1"})
    assert len(matcher) == 1
    assert [m.label for m in matcher.finditer("sk-same-value-1")] == ["OPENAI_API_KEY"]


def test_an_empty_value_is_refused_with_its_label() -> None:
    with pytest.raises(EmptyLiteralError, match="'EMPTY_SECRET'"):
        LiteralMatcher({"EMPTY_SECRET": ""})


_VALUES = st.dictionaries(
    st.from_regex(r"[A-Z]{3,8}", fullmatch=True), st.text(alphabet="abcxyz-01", min_size=3, max_size=8), max_size=6
)


@settings(max_examples=60, deadline=None)
@given(values=_VALUES, text=st.text(alphabet="abcxyz-01 .", max_size=300), combined=st.booleans())
def test_every_reported_match_is_an_occurrence_of_its_labels_value(
    values: dict[str, str], text: str, combined: bool
) -> None:
    matcher = LiteralMatcher(values, strategy="regex" if combined else "find")
    label_values = dict(values)
    matches = list(matcher.finditer(text))
    assert all(text[m.start : m.end] == label_values[m.label] for m in matches)
    assert [m.start for m in matches] == sorted(m.start for m in matches)
    if not combined:
        # one find pass per value: non-overlapping occurrences of each value, as str.count counts them
        first_label = {}
        for label, value in values.items():
            first_label.setdefault(value, label)
        for value, label in first_label.items():
            assert sum(1 for m in matches if m.label == label) == text.count(value)

