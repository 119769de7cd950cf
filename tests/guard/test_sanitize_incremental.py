"""The pieces a stream builds on to judge text once: `scan_tail` reports exactly the whole-text triggers,
the gates it tracks cover every window a gated matcher would see, and each `LocalMatcher` reads no
further than it declares (what `settled`, `left_reach` and `start_reach` promise)."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakline.guard.sanitize import Policy, Sanitizer
from leakline.guard.sanitize.engine import hyperscan_available
from leakline.guard.sanitize.matchers import Candidate, Triggers

CANARY = "Zq7XbN2vLp9RtY4sKw8HdM3c"
TOKENS = [
    "4111 1111 1111 1111", "5555-5555-5555-4444", "+44 20 7946 0958", "(212) 555-0123", "DE89 3704 0044 0532 0130 00",
    "AB 12 34 56 C", "RSSMRA85T10A562S", "X1234567L", "123-45-6789", "ssn ", "steuer id ", "192.168.10.20",
    "2001:db8::8a2e:370:7334", "::", "ff:", ":0", "fe80::1", "jane.doe@example.com", "@", "a@b.co", "sub.",
    "example.com", "sk-proj-Ab3dE5gH7jK9mN1pQ3rS5tU7", "AKIA", "://", CANARY, " ".join(CANARY), "0", "1", "12",
    "2024-05-01", "ORD-2024-558812", "EAN 4006381333931", " ", " ", "\n", ".", "-", "(", ")", "+", "AB", "Z",
    "word", "x", "Köln", "東京",
]  # fmt: skip
texts = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=300).map("".join)
FIELDS = ("at", "digit", "colon")


def _sanitizers() -> list[Sanitizer]:
    engines = ["re", "hyperscan"] if hyperscan_available() else ["re"]
    return [Sanitizer(Policy(canaries=(CANARY,), engine=e)) for e in engines]


SANITIZERS = _sanitizers()


def _points(text: str, cuts: list[int]) -> list[int]:
    return sorted({c % (len(text) + 1) for c in cuts} - {0}) or [len(text)]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=12))
def test_scan_tail_reports_each_whole_text_trigger_once(text: str, cuts: list[int]) -> None:
    for s in SANITIZERS:
        whole = s.engine.scan(text)
        got: dict[str, list[int]] = {f: [] for f in FIELDS}
        local_from = gate_from = 0
        points = _points(text, cuts)
        if points[-1] != len(text):
            points.append(len(text))
        for n in points:
            base = max(0, local_from - 600)  # the stream keeps at least 512 characters before `local_from`
            triggers, local_to, _ = s.engine.scan_tail(
                text[base:n], local_from - base, gate_from - base, n == len(text)
            )
            for f in FIELDS:
                got[f].extend(p + base for p in triggers[f])
            local_from, gate_from = local_to + base, n
        assert local_from == len(text)
        for f in FIELDS:
            assert got[f] == sorted(set(getattr(whole, f))), (s.engine.name, f)


@pytest.mark.skipif(not hyperscan_available(), reason="gates are tracked by the hyperscan engine only")
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=12),
       starts=st.lists(st.floats(0, 1), min_size=1, max_size=6))  # fmt: skip
def test_tracked_gates_cover_every_window_with_a_gate(text: str, cuts: list[int], starts: list[float]) -> None:
    engine = SANITIZERS[-1].engine
    recorded = -1
    local_from = gate_from = 0
    for n in _points(text, cuts):
        _, local_to, gate_end = engine.scan_tail(text[:n], local_from, gate_from, False)
        local_from, gate_from = local_to, n
        recorded = max(recorded, gate_end)
        for lo in {int(f * n) for f in starts}:
            fresh = engine.scan(text[lo:n])
            if fresh.canary_ends or fresh.secret_anchors:
                assert recorded > lo


def _found(s: Sanitizer, family_index: int, text: str, p: int, shift: int = 0) -> list[Candidate]:
    family = s.local_families[family_index]
    found = s.candidates_of((family,), text, family.matcher.only([p - shift]))
    return sorted((Candidate(c.detector, c.start + shift, c.end + shift) for c in found),
                  key=lambda c: (c.start, c.end, c.detector))  # fmt: skip


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=8))
def test_local_matchers_read_no_further_than_they_declare(text: str, cuts: list[int]) -> None:
    s = SANITIZERS[0]
    whole = s.engine.scan(text)
    for i, family in enumerate(s.local_families):
        m = family.matcher
        for p in getattr(whole, m.trigger_field):
            expected = _found(s, i, text, p)
            for c in expected:
                assert p - m.start_reach <= c.start <= p
            lo = max(0, p - m.left_reach)
            assert _found(s, i, text[lo:], p, shift=lo) == expected
            for n in itertools.chain(_points(text, cuts), [len(text)]):
                if n > p and m.settled(text[:n], p):
                    assert _found(s, i, text[:n], p) == expected, (family.name, p, n)


def test_settled_waits_for_the_end_of_a_domain() -> None:
    email = next(f.matcher for f in SANITIZERS[0].local_families if f.name == "email")
    assert email.settled("mail jane@example.com today", 9)
    assert not email.settled("mail jane@example.co", 9)
    assert Triggers(**{"at": [9]}) == email.only([9])
