"""Invisible characters cannot hide a value from the detectors (issue 6): the sanitizer removes them before it
reads the text, whole and streamed alike, and keeps the joiners that emoji and Persian words need."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakline.guard.sanitize import Action, Policy, Sanitizer
from leakline.guard.sanitize.engine import hyperscan_available
from leakline.guard.sanitize.fold import ALWAYS_INVISIBLE, INVISIBLE, InvisibleStripper, strip_invisible

CANARY = "Zq7XbN2vLp9RtY4sKw8HdM3c"
PROTECTED = (
    "Never reveal internal discount codes such as WINTERSALE-INTERNAL-40 to customers. Escalate refund "
    "requests above five hundred euros to the finance team in Leipzig before promising anything."
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi6Zx3lqE2PZ8nRmTq4eK1pQ0wX\n"
    "yL5vB7cD9eF1gH3jK5mN7pQ9rS1tU3vW5xY7zA9bC1dE3fG5hJ7kL9mN1pQ3rS5t\n-----END RSA PRIVATE KEY-----"
)
GHP = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
# The red-teamer's strings (issue 6), each with the detector that must now catch it.
RED_TEAM = [
    ("john.doe\u00ad@example.com", "email"),
    ("john.doe\u200b@example.com", "email"),
    ("john.doe@exam\u200bple.com", "email"),
    ("4111\u00ad1111\u00ad1111\u00ad1111", "payment_card"),
    ("DE89\u200b370400440532013000", "iban"),
    ("+49\u200b30\u200b12345678", "phone"),
    ("sk-proj-4fT9\u00adkQ2mZx7Lp0aB3nV8cR6sW1yE5uJ2", "secret"),
    ("AKIA\u200bIOSFODNN7Q2XK4ZT", "secret"),
    ("ghp\u200b" + GHP[3:], "secret"),
    (PEM.replace("BEGIN", "BE\u200bGIN"), "secret"),
    ("\u200d".join(CANARY), "canary"),
]
PROTECTED_HIDDEN = [PROTECTED.replace("a", "a\u00ad"), PROTECTED.replace("e", "e\u200b")]
FAMILY = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
HEART = "\u2764\ufe0f"
PERSIAN = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # می‌خواهم: ZWNJ after ی
KEYCAP = "1\ufe0f\u20e3"
FLAG_ENGLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0065\U000e006e\U000e0067\U000e007f"


def _sanitizers() -> list[Sanitizer]:
    engines = ["re", "hyperscan"] if hyperscan_available() else ["re"]
    return [Sanitizer(Policy(canaries=(CANARY,), protected_documents=(PROTECTED,), engine=e)) for e in engines]


SANITIZERS = _sanitizers()


def _stream(s: Sanitizer, chunks: list[str]) -> tuple[str, object]:
    stream = s.stream()
    out = "".join(stream.feed(c) for c in chunks) + stream.finish()
    return out, stream


def _sized(text: str, size: int) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)]


FILLER = "the order shipped today, thanks for shopping. " * 23
"""1,058 characters: a first piece this long makes the stream release (and strip) before the second arrives."""


def _each_split_after_filler(s: Sanitizer, text: str) -> None:
    """`FILLER + text` fed as two pieces cut at each point of `text`, against the whole result."""
    whole = s.sanitize(FILLER + text)
    for i in range(len(text) + 1):
        out, stream = _stream(s, [FILLER + text[:i], text[i:]])
        assert out == whole.text, (s.engine.name, i)
        assert stream.hits == whole.hits, (s.engine.name, i)  # type: ignore[attr-defined]
        assert stream.blocked == whole.blocked  # type: ignore[attr-defined]


@pytest.mark.parametrize(("value", "detector"), RED_TEAM, ids=[f"{d}-{i}" for i, (_, d) in enumerate(RED_TEAM)])
def test_a_value_with_invisible_characters_is_caught_whole_and_streamed(value: str, detector: str) -> None:
    text = f"Sure, here it is: {value} - anything else?"
    visible, removed = strip_invisible(value)
    assert removed == sum(value.count(c) for c in INVISIBLE) > 0
    for s in SANITIZERS:
        whole = s.sanitize(text)
        hit = whole.hits[0]
        assert (hit.detector, hit.start, hit.end) == (detector, 18, 18 + len(visible)), s.engine.name
        assert whole.invisible_removed == removed
        assert whole.scanned_bytes == len(text.encode())  # as received, invisible characters included
        if s.policy.actions[detector] is Action.BLOCK:
            assert whole.blocked and whole.text == "Sure, here it is: "
        else:
            assert whole.text == f"Sure, here it is: [REDACTED:{detector.upper()}] - anything else?"
            assert len(whole.hits) == 1
        for size in range(1, 13):
            out, stream = _stream(s, _sized(text, size))
            assert out == whole.text, (s.engine.name, size)
            assert stream.hits == whole.hits, (s.engine.name, size)  # type: ignore[attr-defined]
            assert stream.blocked == whole.blocked  # type: ignore[attr-defined]
            if not whole.blocked:
                assert stream.invisible_removed == removed  # type: ignore[attr-defined]
                assert stream.scanned_bytes == len(text.encode())  # type: ignore[attr-defined]
        _each_split_after_filler(s, text)


@pytest.mark.parametrize("text", PROTECTED_HIDDEN, ids=["soft-hyphen", "zwsp"])
def test_protected_text_with_invisible_characters_in_its_words_blocks(text: str) -> None:
    answer = "As instructed: " + text
    for s in SANITIZERS:
        whole = s.sanitize(answer)
        assert whole.blocked and whole.text == "As instructed: "
        assert [h.detector for h in whole.hits] == ["protected_text"]
        for size in range(1, 13):
            out, stream = _stream(s, _sized(answer, size))
            assert (out, stream.blocked) == ("As instructed: ", True), size  # type: ignore[attr-defined]
            assert stream.hits == whole.hits, size  # type: ignore[attr-defined]


@pytest.mark.parametrize("word", [FAMILY, HEART, PERSIAN, KEYCAP, "\u00e9\u200d", "\u0915\u094d\u200d\u0937"],
                         ids=["family", "heart", "persian", "keycap", "after-letter", "devanagari"])  # fmt: skip
def test_joiners_that_build_emoji_and_words_pass_unchanged(word: str) -> None:
    text = f"Danke {word} and {word}{word} end {word}"
    for s in SANITIZERS:
        whole = s.sanitize(text)
        assert (whole.text, whole.hits, whole.invisible_removed) == (text, [], 0)
        for size in range(1, 13):
            out, stream = _stream(s, _sized(text, size))
            assert out == text, size
            assert stream.invisible_removed == 0  # type: ignore[attr-defined]
        _each_split_after_filler(s, text)


@pytest.mark.parametrize("cp", sorted(ord(c) for c in ALWAYS_INVISIBLE), ids=lambda cp: f"U+{cp:04X}")
def test_each_always_invisible_character_is_removed_after_anything(cp: int) -> None:
    ch = chr(cp)
    text = f"{ch}a{ch}b {HEART}{ch}x \u6771{ch}\u4eac{ch}"
    assert strip_invisible(text) == (f"ab {HEART}x \u6771\u4eac", 5)


@pytest.mark.parametrize("joiner", ["\u200c", "\u200d", "\ufe00", "\ufe0e", "\ufe0f"], ids=ascii)
def test_a_joiner_is_removed_after_ascii_a_folded_look_alike_or_at_the_start(joiner: str) -> None:
    assert strip_invisible(f"{joiner}john{joiner}.doe") == ("john.doe", 2)
    # Full-width digits fold to ASCII for the detectors: a joiner between them would hide the number.
    assert strip_invisible(f"\uff14{joiner}\uff11") == ("\uff14\uff11", 1)
    # The last character KEPT decides: the soft hyphen goes, and the joiner after it with it.
    assert strip_invisible(f"a\u00ad{joiner}b") == ("ab", 2)
    assert strip_invisible(f"\u00e9\u00ad{joiner}b") == (f"\u00e9{joiner}b", 1)


def test_a_keycap_keeps_its_selector_only_before_the_keycap_mark() -> None:
    assert strip_invisible(KEYCAP) == (KEYCAP, 0)
    assert strip_invisible("1\u00ad\ufe0f\u20e3") == (KEYCAP, 1)
    assert strip_invisible("1\ufe0f") == ("1", 1)
    assert strip_invisible("1\ufe0f\ufe0f\u20e3") == (KEYCAP, 1)
    # In pieces: a U+FE0F that ends a piece waits for the next one.
    for text in ["1\ufe0f\u20e3 and 2\ufe0f", "x\ufe0f\ufe0f\u20e3"]:
        for i, j in itertools.combinations(range(len(text) + 1), 2):
            stripper = InvisibleStripper()
            out = ""
            for piece in (text[:i], text[i:j], text[j:]):
                out += stripper.feed(piece, out[-1:])
            out += stripper.finish(out[-1:])
            assert (out, stripper.removed) == strip_invisible(text), (text, i, j)


def test_tag_characters_are_removed_even_in_a_flag() -> None:
    # Tags spell ASCII invisibly (a side channel); the subdivision flags lose their region and show as 🏴.
    assert strip_invisible(FLAG_ENGLAND) == ("\U0001f3f4", 6)
    assert strip_invisible("ok\U000e0073\U000e006b\U000e002d") == ("ok", 3)


def test_text_without_invisible_characters_is_returned_as_it_is() -> None:
    for text in ["plain ascii " * 50, "Grüße aus Köln " * 50, "\u6771\u4eac" * 500, f"x {FAMILY} {PERSIAN} " * 30]:
        out, removed = strip_invisible(text)
        assert out is text and removed == 0
        assert SANITIZERS[0].sanitize(text).scanned_bytes == len(text.encode())


def test_a_prompt_is_stripped_the_same_way() -> None:
    # Prompt redaction (`redact_prompts`) calls the same `Sanitizer.sanitize`.
    from leakline.guard.policies import redact_prompt

    body = {"messages": [{"role": "user", "content": "mail john.doe\u200b@example.com please"}]}
    out, hits = redact_prompt("chat", SANITIZERS[0], body)
    assert out["messages"][0]["content"] == "mail [REDACTED:EMAIL] please"
    assert [(h.detector, h.start, h.end, h.where) for h in hits] == [("email", 5, 25, "messages[0].content")]


ALPHABET = [
    "a", "Z", "7", " ", ".", "@", "-", "\n", "john.doe@example.com", "4111 1111 1111 1111", "DE89", "370400440532013000",
    "AKIA", "IOSFODNN7Q2XK4ZT", "\u00e9", "\u6771", "\uff14", "\u0645", "\u06cc", FAMILY, HEART, "\U0001f3f4",
    "\u20e3", "1", *sorted(INVISIBLE)[:12], "\u200b", "\u00ad", "\u200c", "\u200d", "\ufe0f", "\ufe0e", "\u202e",
    "\u2066", "\ufeff", "\U000e0041", "\U000e007f", "\U0001bca1",
]  # fmt: skip
texts = st.lists(st.sampled_from(ALPHABET), max_size=120).map("".join)


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


@settings(max_examples=300, deadline=None)
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=1_000), max_size=30))
def test_the_stripper_fed_in_pieces_gives_the_whole_text_result(text: str, cuts: list[int]) -> None:
    whole, removed = strip_invisible(text)
    assert not ALWAYS_INVISIBLE.intersection(whole)
    stripper = InvisibleStripper()
    out = ""
    for piece in _split(text, cuts):
        out += stripper.feed(piece, out[-1:])
    out += stripper.finish(out[-1:])
    assert (out, stripper.removed) == (whole, removed)
    assert strip_invisible(whole) == (whole, 0)  # nothing left to remove: stripping twice changes nothing


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=1_000), max_size=30),
       filler=st.integers(min_value=0, max_value=700))  # fmt: skip
def test_any_chunking_of_text_with_invisible_characters_gives_the_whole_result(
    text: str, cuts: list[int], filler: int
) -> None:
    text = "w " * filler + text  # past the hold-back, so releases happen mid-text
    for s in SANITIZERS:
        whole = s.sanitize(text)
        out, stream = _stream(s, _split(text, cuts))
        assert out == whole.text, s.engine.name
        assert stream.hits == whole.hits, s.engine.name  # type: ignore[attr-defined]
        assert stream.blocked == whole.blocked  # type: ignore[attr-defined]
        assert not ALWAYS_INVISIBLE.intersection(out)
        if not whole.blocked:
            assert stream.invisible_removed == whole.invisible_removed  # type: ignore[attr-defined]
            assert stream.scanned_bytes == whole.scanned_bytes == len(text.encode())  # type: ignore[attr-defined]


def test_an_upstream_error_message_loses_its_address_even_after_an_invisible_character() -> None:
    # `_error_detail` cuts the upstream's own addresses at the hits' offsets: they refer to the stripped text.
    from leakline.guard.pipeline import _error_detail

    url = "http://gpu-7.internal:8000/v1"
    assert _error_detail(SANITIZERS[0], "model\u200b not loaded on 10.1.2.3, retry", url) == (
        "model not loaded on [REDACTED:IP_ADDRESS], retry"
    )
    assert _error_detail(SANITIZERS[0], "model not loaded on gpu-7.inter\u00adnal, retry", url) == (
        "model not loaded on [UPSTREAM_HOST], retry"
    )


@pytest.mark.parametrize("stream", [False, True])
def test_through_the_gateway_invisible_characters_hide_nothing_and_the_audit_holds_what_was_sent(
    make_env: Any, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    from leakline.guard.upstream import SCRIPTS, Script
    from tests.guard.test_gateway_policies import chat, chat_text, exchanges

    pieces = ("Write to john.doe\u00ad@exam", "\u200bple.com, card 4111\u00ad1111", "\u00ad1111\u00ad1111, ",
              "family \U0001f468\u200d", "\U0001f469\u200d\U0001f467 \u202eok.")  # fmt: skip
    monkeypatch.setitem(SCRIPTS, "invisible", Script(pieces))
    env = make_env()
    response = chat(env, "invisible", stream=stream)
    assert response.status_code == 200, response.text
    sent = f"Write to [REDACTED:EMAIL], card [REDACTED:PAYMENT_CARD], family {FAMILY} ok."
    assert chat_text(response, stream=stream) == (sent, "stop")
    (record,) = exchanges(env)
    assert [(h["detector"], h["start"], h["end"]) for h in record["hits"]] == [
        ("email", 9, 29),
        ("payment_card", 36, 52),
    ]
    assert record["response_bytes"] == len(sent.encode())
    assert record["scanned_bytes"] == len("".join(pieces).encode())  # what the upstream sent
