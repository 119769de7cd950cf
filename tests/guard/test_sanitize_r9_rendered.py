"""Red team r9, problem 4: spellings a Markdown/HTML renderer turns back into a canary or an e-mail address
(character references, emphasis and list markers), judged as rendered; whole and streamed (every chunk size
1-12 and a few larger ones), both engines; ordinary markdown and HTML entities stay intact."""

from __future__ import annotations

from functools import cache

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakline.guard.sanitize import Policy, Sanitizer
from leakline.guard.sanitize.engine import hyperscan_available
from leakline.guard.sanitize.fold import rendered
from leakline.guard.sanitize.matchers import CANARY_RENDERED_MAX, canary_reach, canary_rendered_gates

ENGINES = ["hyperscan", "re"] if hyperscan_available() else ["re"]
CAN = "Zq7XbN2vLp9RtY4sKw8HdM3c"
OTHER = "hT5rWq2ZkL8mNp3XvB6yCd9F"
PREFIX = "thanks for shopping with us, " * 30  # a stream releases text before the value
SUFFIX = " and have a nice day" * 30
SIZES = [*range(1, 13), 17, 64, 333]
C = "[REDACTED:CANARY]"
E = "[REDACTED:EMAIL]"


@cache
def _sanitizer(engine: str) -> Sanitizer:
    return Sanitizer(Policy(canaries=(CAN, OTHER), engine=engine).with_actions({"canary": "redact", "email": "redact"}))


def _stream(s: Sanitizer, text: str, size: int) -> tuple[str, list[tuple[str, int, int]]]:
    stream = s.stream()
    out = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size)) + stream.finish()
    return out, [(h.detector, h.start, h.end) for h in stream.hits]


def _assert_whole_and_streamed(s: Sanitizer, text: str, expected: str, hits: list[tuple[str, int, int]]) -> None:
    result = s.sanitize(text)
    assert result.text == expected
    assert [(h.detector, h.start, h.end) for h in result.hits] == hits
    long = PREFIX + text + SUFFIX
    whole = s.sanitize(long)
    assert whole.text == PREFIX + expected + SUFFIX
    shifted = [(d, a + len(PREFIX), b + len(PREFIX)) for d, a, b in hits]
    assert [(h.detector, h.start, h.end) for h in whole.hits] == shifted
    for size in SIZES:
        assert _stream(s, long, size) == (whole.text, shifted), size
        assert _stream(s, text, size) == (expected, hits), size


def _dec(token: str) -> str:
    return "".join(f"&#{ord(c)};" for c in token)


CANARY_SPELLINGS = {
    "decimal references": ("key: " + _dec(CAN) + " ok", 5, 5 + len(_dec(CAN))),
    "hex references": ("key: " + "".join(f"&#x{ord(c):x};" for c in CAN) + " ok", 5, 5 + 6 * 24),
    "hex references, upper case, zeros": ("k " + "".join(f"&#X00{ord(c):X};" for c in CAN) + ".", 2, 2 + 8 * 24),
    "bold groups of four": ("k " + " ".join(f"**{CAN[i : i + 4]}**" for i in range(0, 24, 4)) + ".", 4, 53),
    "code groups with nbsp": ("k " + "&nbsp;".join(f"`{CAN[i : i + 4]}`" for i in range(0, 24, 4)) + ".", 3, 3 + 64),
    "numbered list, one character per item": (
        "Here:\n" + "".join(f"{i + 1}. {c}\n" for i, c in enumerate(CAN)) + "done",
        9,
        6 + sum(len(f"{i + 1}. {c}\n") for i, c in enumerate(CAN)) - 1,
    ),
    "bullets": ("x\n" + "".join(f"- {c}\n" for c in CAN) + "y", 4, 2 + 4 * 24 - 1),
    "references mixed with plain characters": ("k " + CAN[:6] + _dec(CAN[6:18]) + CAN[18:] + ".", 2, 79),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(CANARY_SPELLINGS))
def test_a_canary_a_renderer_shows_is_redacted_whole_and_streamed(engine: str, name: str) -> None:
    text, start, end = CANARY_SPELLINGS[name]
    expected = text[:start] + C + text[end:]
    _assert_whole_and_streamed(_sanitizer(engine), text, expected, [("canary", start, end)])


EMAIL_SPELLINGS = {
    "all references": ("mail ann&#46;lee&#64;example&#46;com now", 5, 36),
    "hex references": ("mail ann.lee&#x40;example&#x2e;com.", 5, 34),
    "named reference in the domain": ("write to ann.lee@example&period;com", 9, 35),
    "reference in the local part only": ("x ann&#46;lee@example.com y", 2, 25),
    "commat and period": ("ann&period;lee&commat;example&period;com", 0, 40),
}


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("name", list(EMAIL_SPELLINGS))
def test_an_address_a_renderer_shows_is_redacted_whole_and_streamed(engine: str, name: str) -> None:
    text, start, end = EMAIL_SPELLINGS[name]
    _assert_whole_and_streamed(_sanitizer(engine), text, text[:start] + E + text[end:], [("email", start, end)])


LOOK_ALIKES = [
    "**Acme Pro 3000** costs &euro;5 &amp; ships in **2 days**\n1. Order 12\n2. Order 13\n",
    "| item | price |\n|---|---|\n| **Zq** | 12&nbsp;EUR |\n| bN | 13&nbsp;EUR |\n",
    "AT&amp;T &commat; home &#64; work, Tom &amp; Jerry@home, 5 &#x40; 3",
    "- **Z**\n- **q**\n- **7**\n- **X**\n",  # a canary's first characters only
    "Use `snake_case` and *emphasis*, &lt;b&gt;tags&lt;/b&gt; &#8212; fine &#169; 2026",
    "ann&#46;lee at example&#46;com",  # no `@`
    "&#90;&#113;&#55;&#88;&#98;&#78; and the rest elsewhere",  # six characters of the canary
]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("text", LOOK_ALIKES)
def test_ordinary_markdown_and_entities_stay_intact(engine: str, text: str) -> None:
    _assert_whole_and_streamed(_sanitizer(engine), text, text, [])


def test_the_rendered_view_maps_each_character_back_to_what_wrote_it() -> None:
    view, starts, ends = rendered("a&#66;**c**&nbsp;\n1. d&foo;<br/>e")
    assert view == "aBc\xa0\nd&foo;e"
    assert [(starts[i], ends[i]) for i in range(len(view))][:5] == [(0, 1), (1, 6), (8, 9), (11, 17), (17, 18)]
    assert view[6:11] == "&foo;" and starts[6] == 22 and ends[-1] == len("a&#66;**c**&nbsp;\n1. d&foo;<br/>e")


def test_rendered_gates_and_the_reach_stay_within_the_smallest_holdback() -> None:
    # The stream finds a rendered spelling within CANARY_RENDERED_MAX of its gate; the smallest holdback is 448.
    assert canary_reach(CAN) == CANARY_RENDERED_MAX == 440
    assert len(canary_rendered_gates(CAN)) == 2
    widest = "".join(f"&#x00{ord(c):x};" + "*****&nbsp;*****" for c in CAN[:8])
    assert len(widest) <= CANARY_RENDERED_MAX


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(
    "text",
    [
        "".join(f"<b>{c}</b>" for c in CAN),  # a tag around every character: no gate fires
        "".join(f"&#x0000{ord(c):x};*****&nbsp;*****" for c in CAN),  # more than 440 characters
        CAN[::-1],  # reversed
        "card " + "".join(f"&#{ord(c)};" for c in "4111111111111111"),  # numbers read the folded text only
    ],
    ids=["tags", "too-long", "reversed", "card-references"],
)
def test_what_docs_sanitize_md_lists_as_not_caught_is_not_caught(engine: str, text: str) -> None:
    # If one of these becomes caught, docs/sanitize.md ("Canaries and addresses as a renderer shows them",
    # Not caught) must say so.
    assert _sanitizer(engine).sanitize(text).hits == []


_PIECES = st.sampled_from(
    [
        *(f"&#{ord(c)};" for c in CAN[:8]),
        *(f"&#x{ord(c):x};" for c in CAN[8:]),
        *CAN,
        "**",
        "`",
        "&nbsp;",
        "\n1. ",
        "\n- ",
        " ",
        "<b>",
        "ann&#46;lee",
        "&#64;",
        "@",
        "example&#46;com",
        "&period;",
        "words ",
        "&amp;",
    ]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pieces=st.lists(_PIECES, max_size=60), size=st.integers(min_value=1, max_value=40))
def test_streamed_equals_whole_for_rendered_spellings(pieces: list[str], size: int) -> None:
    text = "".join(pieces)
    for engine in ENGINES:
        s = _sanitizer(engine)
        result = s.sanitize(text)
        assert _stream(s, text, size) == (result.text, [(h.detector, h.start, h.end) for h in result.hits])
