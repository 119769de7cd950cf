"""E-mail addresses whose `@` is written as an HTML character reference or URL-encoded (issue 6, red team):
markdown and HTML render `&#64;`, `&#x40;` and `&commat;` as `@`, and a mail client decodes a `mailto:` link's
`%40`, so each is an address to the reader and must be redacted like one, whole and streamed, by both engines."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakline.guard.sanitize import Action, Policy, Sanitizer
from leakline.guard.sanitize.engine import hyperscan_available
from leakline.guard.sanitize.matchers import AT_ZEROS_MAX, Candidate

CANARY = "Zq7XbN2vLp9RtY4sKw8HdM3c"


def _sanitizers() -> list[Sanitizer]:
    engines = ["re", "hyperscan"] if hyperscan_available() else ["re"]
    return [Sanitizer(Policy(canaries=(CANARY,), engine=e)) for e in engines]


SANITIZERS = _sanitizers()
ENGINES = [s.engine.name for s in SANITIZERS]

# (input, the address span the hit covers, the text sent)
BYPASSES = [
    ("Write to john.doe&#64;example.com", "john.doe&#64;example.com", "Write to [REDACTED:EMAIL]"),
    ("Write to john.doe&#x40;example.com", "john.doe&#x40;example.com", "Write to [REDACTED:EMAIL]"),
    ("Write to john.doe&#X40;example.com", "john.doe&#X40;example.com", "Write to [REDACTED:EMAIL]"),
    ("Write to john.doe&#0064;example.com.", "john.doe&#0064;example.com", "Write to [REDACTED:EMAIL]."),
    ("Write to john.doe&#x000040;example.com", "john.doe&#x000040;example.com", "Write to [REDACTED:EMAIL]"),
    ("Write to john.doe&commat;example.com", "john.doe&commat;example.com", "Write to [REDACTED:EMAIL]"),
    (
        "[contact](mailto:john.doe%40example.com)",
        "john.doe%40example.com",
        "[contact](mailto:[REDACTED:EMAIL])",
    ),
    ("john.doe%40example.com", "john.doe%40example.com", "[REDACTED:EMAIL]"),
    (
        '<a href="mailto:jane.roe&#64;shop.example.co.uk">mail</a>',
        "jane.roe&#64;shop.example.co.uk",
        '<a href="mailto:[REDACTED:EMAIL]">mail</a>',
    ),
    ("a&#064;b.co, c%40d.org", "a&#064;b.co", "[REDACTED:EMAIL], [REDACTED:EMAIL]"),
]
NEAR_MISSES = [
    "see https://cdn.example.com/a%40b for the file",  # %40 in a path, no domain after it
    "/a%40b",
    "the npm scope https://www.npmjs.com/package/%40types%2Fnode",  # no local part before %40
    "&#64; is how HTML writes an at sign",
    "&#64;example.com",  # no local part
    "2 @ 5 EUR",
    "3 &#64; 9.99 EUR each",
    "x &amp;#64;example.com",  # double-escaped: renders as the text &#64;
    "john.doe&#65;example.com",  # &#65; is A
    "john.doe&#x064;example.com",  # &#x64; is d
    "john.doe&#x41;example.com",
    "john.doe&COMMAT;example.com",  # references are case-sensitive: not one
    "john.doe&commat example.com",
    "john.doe%41example.com",
    "john.doe%4example.com",
    "font: format;example",
    "john.doe&#64;localhost",  # same rule as for @: a domain needs a dot and a TLD
    "order ORD-2024-558812, SKU AB-1234-XY, 1Z999AA10123456784, 2024-05-01, EAN 4006381333931",
]


def _stream(s: Sanitizer, text: str, size: int) -> tuple[str, list[tuple[str, int, int]]]:
    stream = s.stream()
    out = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size)) + stream.finish()
    return out, [(h.detector, h.start, h.end) for h in stream.hits]


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize(("text", "span", "sent"), BYPASSES)
def test_an_encoded_at_sign_address_is_redacted_whole_and_streamed(
    engine: str, text: str, span: str, sent: str
) -> None:
    s = SANITIZERS[ENGINES.index(engine)]
    result = s.sanitize(text)
    assert result.text == sent
    spans = [span] if "c%40d.org" not in text else [span, "c%40d.org"]
    assert [(h.detector, h.action, text[h.start : h.end]) for h in result.hits] == [
        ("email", Action.REDACT, x) for x in spans
    ]
    hits = [(h.detector, h.start, h.end) for h in result.hits]
    for size in range(1, 13):
        assert _stream(s, text, size) == (sent, hits), size


@pytest.mark.parametrize("engine", ENGINES)
def test_encoded_addresses_after_a_long_text_are_redacted_across_releases(engine: str) -> None:
    s = SANITIZERS[ENGINES.index(engine)]
    filler = "\nthe order shipped today, thanks for shopping. " * 23 + "\n"
    text = filler.join(t for t, _, _ in BYPASSES) + filler
    expected = filler.join(sent for _, _, sent in BYPASSES) + filler
    result = s.sanitize(text)
    assert result.text == expected
    assert {h.detector for h in result.hits} == {"email"}
    hits = [(h.detector, h.start, h.end) for h in result.hits]
    for size in (*range(1, 13), 97, 511, 512, 513, 1000):
        assert _stream(s, text, size) == (expected, hits), size


@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_stay_intact(engine: str, text: str) -> None:
    s = SANITIZERS[ENGINES.index(engine)]
    result = s.sanitize(text)
    assert (result.text, result.hits) == (text, [])
    for size in range(1, 13):
        assert _stream(s, text, size) == (text, []), size


def test_leading_zeros_are_read_up_to_the_documented_bound() -> None:
    s = SANITIZERS[-1]
    within = "mail a.b&#" + "0" * AT_ZEROS_MAX + "64;example.com now"
    assert s.sanitize(within).text == "mail [REDACTED:EMAIL] now"
    hex_within = "mail a.b&#x" + "0" * AT_ZEROS_MAX + "40;example.com now"
    assert s.sanitize(hex_within).text == "mail [REDACTED:EMAIL] now"
    # Documented as not caught (docs/sanitize.md): only raw HTML renders more zeros than CommonMark's 7 digits.
    beyond = "mail a.b&#" + "0" * (AT_ZEROS_MAX + 1) + "64;example.com now"
    assert s.sanitize(beyond).hits == []


def test_both_engines_report_the_same_trigger_positions() -> None:
    text = " ".join(t for t, _, _ in BYPASSES) + " " + " ".join(NEAR_MISSES) + " x@y.co &commat; %40 064; x40;"
    scans = [s.engine.scan(text).at for s in SANITIZERS]
    wholes = [s.engine.scan_whole(text).at for s in SANITIZERS]
    assert all(list(a) == list(scans[0]) for a in scans + wholes)
    expected = sorted(
        [i for i, ch in enumerate(text) if ch == "@"]
        + [m + 2 for m in _finds(text, "%40")]
        + [m + 3 for m in _finds(text, "mat;")]  # `&commat;`, and `format;`: the matcher checks the token
        + [m + 2 for m in _finds(text, "64;") if text[m - 1] in "#0"]
        + [m + 2 for m in _finds(text, "40;") if text[m - 1] in "xX0"]
    )
    assert list(scans[0]) == expected


def _finds(text: str, needle: str) -> list[int]:
    out, pos = [], text.find(needle)
    while pos >= 0:
        out.append(pos)
        pos = text.find(needle, pos + 1)
    return out


def test_the_redaction_preview_never_shows_the_address() -> None:
    result = SANITIZERS[-1].sanitize("Write to john.doe&#64;example.com")
    assert "john.doe" not in result.hits[0].redacted_preview
    assert "example.com" not in result.hits[0].redacted_preview


# ---- the stream's contract, with the new tokens in the alphabet ----------------------------------------

TOKENS = [
    "john.doe", "&#64;", "&#x40;", "&#X040;", "&#0064;", "&commat;", "%40", "@", "example.com", "b.co", "mailto:",
    "&#", "64;", "40;", "mat;", "&com", "0", "x", "#", ";", "&", "%", "4", ".", " ", "\n", "(", ")", "sub.",
    "4111 1111 1111 1111", "word", "Köln",
]  # fmt: skip
texts = st.lists(st.sampled_from(TOKENS), min_size=1, max_size=200).map("".join)


def _points(text: str, cuts: list[int]) -> list[int]:
    return sorted({c % (len(text) + 1) for c in cuts} - {0}) or [len(text)]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=12))
def test_scan_tail_reports_each_encoded_at_trigger_once(text: str, cuts: list[int]) -> None:
    for s in SANITIZERS:
        whole = list(s.engine.scan(text).at)
        got: list[int] = []
        local_from = gate_from = 0
        points = _points(text, cuts)
        if points[-1] != len(text):
            points.append(len(text))
        for n in points:
            base = max(0, local_from - 600)
            triggers, local_to, _ = s.engine.scan_tail(
                text[base:n], local_from - base, gate_from - base, n == len(text)
            )
            got.extend(p + base for p in triggers["at"])
            local_from, gate_from = local_to + base, n
        assert got == whole, s.engine.name
    assert len({tuple(s.engine.scan(text).at) for s in SANITIZERS}) == 1


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, cuts=st.lists(st.integers(min_value=0, max_value=20_000), max_size=8))
def test_the_email_matcher_reads_no_further_than_it_declares(text: str, cuts: list[int]) -> None:
    s = SANITIZERS[0]
    family = next(f for f in s.local_families if f.name == "email")
    m = family.matcher

    def found(t: str, p: int, shift: int = 0) -> list[Candidate]:
        out = s.candidates_of((family,), t, m.only([p - shift]))
        return sorted(Candidate(c.detector, c.start + shift, c.end + shift) for c in out)

    for p in s.engine.scan(text).at:
        expected = found(text, p)
        for c in expected:
            assert p - m.start_reach <= c.start <= p
        lo = max(0, p - m.left_reach)
        assert found(text[lo:], p, shift=lo) == expected
        for n in itertools.chain(_points(text, cuts), [len(text)]):
            if n > p and m.settled(text[:n], p):
                assert found(text[:n], p) == expected, (p, n)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=texts, size=st.integers(min_value=1, max_value=40))
def test_streamed_equals_whole_with_encoded_at_signs(text: str, size: int) -> None:
    for s in SANITIZERS:
        result = s.sanitize(text)
        assert _stream(s, text, size) == (result.text, [(h.detector, h.start, h.end) for h in result.hits])
    assert len({SANITIZERS[i].sanitize(text).text for i in range(len(SANITIZERS))}) == 1


@pytest.mark.parametrize(
    "text",
    [
        "john.doe&#64example.com",  # no `;`: raw HTML renders it, CommonMark does not
        "john.doe%40example%2Ecom",
        "john.doe%2540example.com",  # double URL encoding
        "john.doe at example dot com",
        "john.doe[at]example[.]com",
    ],
)
def test_what_docs_sanitize_md_lists_as_not_caught_is_not_caught(text: str) -> None:
    # If one of these becomes caught, docs/sanitize.md ("Not caught") must say so.
    for s in SANITIZERS:
        assert s.sanitize(text).hits == []
