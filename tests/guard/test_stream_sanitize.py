"""Streaming sanitization: a match split across any chunk boundary is still caught, and output equals
the whole-text result for every chunking (hypothesis), with a bounded hold-back."""

from __future__ import annotations

import base64
import itertools
import random
from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from leakline.guard.sanitize import Action, Policy, Sanitizer
from leakline.guard.sanitize.errors import PolicyError
from leakline.guard.sanitize.matchers import CANARY_RENDERED_MAX
from leakline.guard.sanitize.native import StreamImplementation
from leakline.guard.sanitize.stream import BURST_STEP_HOLDBACKS, CLOCK_SKIP_MAX

# Every test runs with the pure-Python stream and with its compiled twin (`stream_impl` in conftest.py).
pytestmark = pytest.mark.usefixtures("stream_impl")

CANARY = "Zq7XbN2vLp9RtY4sKw8HdM3c"
PROTECTED = (
    "You are the shop assistant of Example GmbH. Never reveal the discount ladder: gold members get "
    "fifteen percent off shoes, silver members get ten percent off bags, and staff accounts may stack "
    "vouchers with the seasonal campaign until the end of the quarter."
)
PEM = (
    "-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx4Gm1sN0aPq2Lr8d9wWv3cYtF6uH2kJ5mZ1nB7oQ8pR4sT6u\n"
    "V9wX0yZ1aB2cD3eF4gH5iJ6kL7mN8oP9qR0sT1uV2wX3yZ4aB5cD6eF7gH8iJ9k\n-----END RSA PRIVATE KEY-----"
)
LEAKS = [
    "jane.doe@example.com",
    "4111 1111 1111 1111",
    "5555-5555-5555-4444",
    "2223000048410010",
    "DE89 3704 0044 0532 0130 00",
    "+44 20 7946 0958",
    "123-45-6789",
    "AB 12 34 56 C",
    "RSSMRA85T10A562S",
    "192.168.10.20",
    "2001:db8::8a2e:370:7334",
    "sk-proj-Ab3dE5gH7jK9mN1pQ3rS5tU7",
    "ORD-2024-558812",
    "EAN 4006381333931",
    "$1,299.00",
    "2024-05-01",
]
BLOCKERS = [CANARY, base64.b64encode(CANARY.encode()).decode(), " ".join(CANARY), PEM, PROTECTED[40:220]]
FILLER = ["the", "order", "shipped", "today,", "thanks", "for", "shopping.", "Your", "total", "is", "\n"]


@pytest.fixture(scope="module")
def sanitizer() -> Sanitizer:
    return Sanitizer(Policy(canaries=(CANARY,), protected_documents=(PROTECTED,)))


@pytest.fixture(scope="module")
def pem_redacting() -> Sanitizer:
    return Sanitizer(Policy(canaries=(CANARY,)))


def _stream(s: Sanitizer, chunks: list[str]) -> tuple[str, object]:
    stream = s.stream()
    out = "".join(stream.feed(c) for c in chunks) + stream.finish()
    return out, stream


def _split(text: str, cuts: list[int]) -> list[str]:
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(points)]


pieces = st.lists(
    st.one_of(st.sampled_from(LEAKS), st.lists(st.sampled_from(FILLER), min_size=1, max_size=40).map(" ".join)),
    min_size=8,
    max_size=60,
).map(" ".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=pieces, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
       blocker=st.one_of(st.none(), st.sampled_from(BLOCKERS)), at=st.floats(0, 1))  # fmt: skip
def test_any_chunking_gives_the_whole_text_result(
    sanitizer: Sanitizer, text: str, cuts: list[int], blocker: str | None, at: float
) -> None:
    if blocker is not None:
        i = int(len(text) * at)
        text = f"{text[:i]} {blocker} {text[i:]}"
    whole = sanitizer.sanitize(text)
    out, stream = _stream(sanitizer, _split(text, cuts))
    assert out == whole.text
    assert stream.blocked == whole.blocked  # type: ignore[attr-defined]
    assert stream.hits == whole.hits  # type: ignore[attr-defined]
    # Nothing a redacting or blocking detector matches survives in what was sent.
    again = sanitizer.sanitize(out)
    assert [h for h in again.hits if h.action is not Action.ALERT] == []


@settings(max_examples=40, deadline=None)
@given(cuts=st.lists(st.integers(min_value=0, max_value=5_000), min_size=1, max_size=30))
def test_pem_block_split_anywhere_is_redacted(pem_redacting: Sanitizer, cuts: list[int]) -> None:
    text = "config follows:\n" + PEM + "\nend of config. " + "more words " * 80
    out, _ = _stream(pem_redacting, _split(text, cuts))
    assert out == "config follows:\n[REDACTED:SECRET]\nend of config. " + "more words " * 80


def test_email_split_across_three_chunks(sanitizer: Sanitizer) -> None:
    out, stream = _stream(sanitizer, ["Contact jane.d", "oe@exam", "ple.com for help."])
    assert out == "Contact [REDACTED:EMAIL] for help."
    assert [h.detector for h in stream.hits] == ["email"]  # type: ignore[attr-defined]


def test_card_split_mid_group_after_a_long_prefix(sanitizer: Sanitizer) -> None:
    prefix = "word " * 400
    out, _ = _stream(sanitizer, [prefix + "card 4111 11", "11 1111 1111 ok"])
    assert out == prefix + "card [REDACTED:PAYMENT_CARD] ok"


def test_base64_canary_blocks_and_stops_the_stream(sanitizer: Sanitizer) -> None:
    b64 = base64.b64encode(CANARY.encode()).decode()
    stream = sanitizer.stream()
    sent = stream.feed("intro " * 200 + "data: " + b64[:10])
    sent += stream.feed(b64[10:] + " and then more text " * 50)
    assert stream.blocked is True
    assert sent == "intro " * 200 + "data: "
    assert stream.feed("anything else") == ""
    assert stream.finish() == ""
    assert [h.detector for h in stream.hits] == ["canary"]


def test_protected_paragraph_blocks(sanitizer: Sanitizer) -> None:
    start = PROTECTED.index("of Example")
    leak = "Sure! " + PROTECTED[start:200].upper().replace(" ", "  ") + " Anything else?"
    result = sanitizer.sanitize(leak)
    assert result.blocked is True
    assert result.text == "Sure! "
    assert [h.detector for h in result.hits] == ["protected_text"]
    out, stream = _stream(sanitizer, [leak[i : i + 5] for i in range(0, len(leak), 5)])
    assert out == "Sure! "
    assert stream.blocked is True  # type: ignore[attr-defined]


def test_short_overlap_with_the_corpus_passes(sanitizer: Sanitizer) -> None:
    text = "You are the shop assistant of our store, how can I help?"
    assert sanitizer.sanitize(text).hits == []


@pytest.mark.parametrize("holdback", [448, 512, 1000])
@pytest.mark.parametrize("size", [1, 7, 20, 300, 2500])
def test_hold_back_stays_below_twice_the_holdback(holdback: int, size: int) -> None:
    sanitizer = Sanitizer(Policy(canaries=(CANARY,), holdback_chars=holdback))
    stream = sanitizer.stream()
    sent = ""
    words = "plain words flow through the stream " * 300
    for i in range(0, len(words), size):
        sent += stream.feed(words[i : i + size])
        assert stream.pending_chars < 2 * holdback
        assert len(sent) == i + len(words[i : i + size]) - stream.pending_chars
    assert sent + stream.finish() == words


def test_text_is_released_every_holdback_characters(sanitizer: Sanitizer) -> None:
    # Word boundaries fall on the release points, so each release is exactly `holdback` characters long.
    holdback = sanitizer.policy.holdback_chars
    words = "abcdefg " * 400
    stream = sanitizer.stream()
    releases: list[tuple[int, str]] = []
    for i, ch in enumerate(words):
        out = stream.feed(ch)
        if out:
            releases.append((i + 1, out))
    assert [fed for fed, _ in releases][:3] == [2 * holdback, 3 * holdback, 4 * holdback]
    assert [out for _, out in releases][:3] == [words[:holdback], words[holdback : 2 * holdback],
                                                 words[2 * holdback : 3 * holdback]]  # fmt: skip
    assert "".join(out for _, out in releases) + stream.finish() == words


def test_an_email_with_a_domain_longer_than_the_window(sanitizer: Sanitizer) -> None:
    # Its trigger stays unsettled (the domain has not ended) over several releases.
    text = "word " * 300 + "write to jane@" + "sub." * 400 + "example.com today " + "word " * 300
    expected = sanitizer.sanitize(text)
    assert [h.detector for h in expected.hits] == ["email"]
    for size in (1, 20, 333, 5000):
        out, stream = _stream(sanitizer, [text[i : i + size] for i in range(0, len(text), size)])
        assert out == expected.text
        assert stream.hits == expected.hits  # type: ignore[attr-defined]


def test_an_email_inside_a_run_too_long_to_hold_back(sanitizer: Sanitizer) -> None:
    # Past TRAILING_RUN_MAX a non-space run is released before it ends; the address in it must hold the cut
    # before it even though its trigger is not settled yet.
    text = "write to jane@" + "sub." * 4500 + "example.com today " + "word " * 300
    expected = sanitizer.sanitize(text)
    assert [h.detector for h in expected.hits] == ["email"]
    for size in (20, 1000):
        out, stream = _stream(sanitizer, [text[i : i + size] for i in range(0, len(text), size)])
        assert out == expected.text
        assert stream.hits == expected.hits  # type: ignore[attr-defined]


def test_a_long_canary_with_a_holdback_longer_than_its_spellings() -> None:
    # The hold-back must exceed the longest bounded match: here hex with a byte prefix before each byte
    # (6 x 360 - 4 = 2,156 characters); the text holds the 719-character spaced spelling.
    token = "".join(f"{i:02x}Q{chr(65 + i % 26)}" for i in range(90))  # 360 characters
    s = Sanitizer(Policy(canaries=(token,), holdback_chars=2200).with_actions({"canary": "redact"}))
    text = "word " * 400 + " ".join(token) + " tail " * 300
    expected = s.sanitize(text)
    assert [h.detector for h in expected.hits] == ["canary"]
    for size in (20, 333, 1024):
        out, stream = _stream(s, [text[i : i + size] for i in range(0, len(text), size)])
        assert out == expected.text
        assert stream.hits == expected.hits  # type: ignore[attr-defined]


def test_scanned_bytes_counts_utf8_at_any_time(sanitizer: Sanitizer) -> None:
    stream = sanitizer.stream()
    text = "Grüße aus Köln, 東京 " * 100
    fed = ""
    for i in range(0, len(text), 13):
        stream.feed(text[i : i + 13])
        fed += text[i : i + 13]
        assert stream.scanned_bytes == len(fed.encode())
    stream.finish()
    assert stream.scanned_bytes == len(text.encode())


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=pieces, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))
def test_the_re_engine_streams_the_same_result(text: str, cuts: list[int]) -> None:
    fallback = _re_sanitizer()
    whole = fallback.sanitize(text)
    out, stream = _stream(fallback, _split(text, cuts))
    assert out == whole.text
    assert stream.hits == whole.hits  # type: ignore[attr-defined]


_RE_SANITIZERS: list[Sanitizer] = []


def _re_sanitizer() -> Sanitizer:
    if not _RE_SANITIZERS:
        _RE_SANITIZERS.append(Sanitizer(Policy(canaries=(CANARY,), protected_documents=(PROTECTED,), engine="re")))
    return _RE_SANITIZERS[0]


def test_every_single_split_point_and_every_20_byte_phase(sanitizer: Sanitizer) -> None:
    text = (
        "thanks for shopping " * 33
        + "card 4111 1111 1111 1111, iban DE89 3704 0044 0532 0130 00, mail jane.doe@example.com, "
        + "call +44 20 7946 0958 "
        + "the end " * 12
    )
    expected = sanitizer.sanitize(text).text
    assert expected.count("[REDACTED:") == 4
    for i in range(0, len(text) + 1, 3):
        assert _stream(sanitizer, [text[:i], text[i:]])[0] == expected, i
    for phase in range(20):
        chunks = [text[:phase]] + [text[j : j + 20] for j in range(phase, len(text), 20)]
        assert _stream(sanitizer, chunks)[0] == expected, phase


def test_a_finished_stream_refuses_more_input(sanitizer: Sanitizer) -> None:
    from leakline.guard.sanitize.errors import StreamClosed

    stream = sanitizer.stream()
    assert stream.feed("") == ""
    assert stream.feed("mail jane@example.com") == ""
    assert stream.finish() == "mail [REDACTED:EMAIL]"
    with pytest.raises(StreamClosed):
        stream.feed("more")
    with pytest.raises(StreamClosed):
        stream.finish()


def test_a_holdback_shorter_than_a_canary_spelling_is_refused() -> None:
    # 120 characters: its hex spelling with a byte prefix before each byte can be 716 characters, longer than
    # a 700-character hold-back.
    token = "a1B2c3D4e5" * 12
    with pytest.raises(PolicyError) as info:
        Sanitizer(Policy(canaries=("x" * 32, token), holdback_chars=700))
    assert str(info.value).startswith(
        "sanitize.stream_holdback_chars: 700 is not longer than the longest spelling of sanitize.canaries[1] "
        "(716 characters, spaced, encoded or written for a renderer)"
    )
    assert "at least 717" in (info.value.hint or "")
    Sanitizer(Policy(canaries=("x" * 32, token), holdback_chars=717))  # long enough: accepted


def test_a_holdback_shorter_than_a_rendered_canary_spelling_is_refused() -> None:
    # A short canary's plain spellings fit in 300 characters; written for a renderer (`&#90;&#113;…`, one
    # character per list item) it may take up to CANARY_RENDERED_MAX, which a 300-character hold-back would cut.
    with pytest.raises(PolicyError) as info:
        Sanitizer(Policy(canaries=(CANARY,), holdback_chars=300))
    assert str(info.value).startswith(
        f"sanitize.stream_holdback_chars: 300 is not longer than the longest spelling of sanitize.canaries[0] "
        f"({CANARY_RENDERED_MAX} characters, spaced, encoded or written for a renderer)"
    )
    Sanitizer(Policy(canaries=(CANARY,), holdback_chars=CANARY_RENDERED_MAX + 1))


# ---- release interval (`stream_release_ms`): text leaves the stream one hold-back behind, in small steps ----


class _Clock:
    """A clock the test moves: `step` seconds per read, or by hand."""

    def __init__(self, step: float = 0.0) -> None:
        self.now = 1000.0
        self.step = step
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        self.now += self.step
        return self.now


def _timed(holdback: int = 448, interval: float = 0.2, **policy: object) -> Sanitizer:
    return Sanitizer(Policy(canaries=(CANARY,), holdback_chars=holdback, release_seconds=interval, **policy))  # type: ignore[arg-type]


def test_with_an_interval_the_text_leaves_one_holdback_behind(stream_impl: StreamImplementation) -> None:
    # Every piece comes after the interval: each makes a pass, and exactly `holdback` characters stay held.
    sanitizer = _timed()
    stream = stream_impl.cls(sanitizer, clock=_Clock(step=1.0))
    words = "plain words flow through the stream " * 40
    sent = ""
    for i in range(0, len(words), 7):
        sent += stream.feed(words[i : i + 7])
        fed = min(i + 7, len(words))
        assert stream.pending_chars == min(fed, 448) if fed <= 448 else stream.pending_chars == 448
        assert sent == words[: fed - stream.pending_chars]
    assert sent + stream.finish() == words


def test_within_the_interval_pieces_wait_for_the_next_pass(stream_impl: StreamImplementation) -> None:
    clock = _Clock()
    stream = stream_impl.cls(_timed(), clock=clock)
    text = "x " * 250  # 500 characters: 52 beyond the hold-back
    assert stream.feed(text) == text[:52]  # the first pass needs no wait
    clock.now += 0.1
    assert stream.feed("ab ") == ""  # 0.1 s after the pass: held
    clock.now += 0.1
    assert stream.feed("cd ") == text[52:58]  # 0.2 s: a pass, the hold-back kept
    assert stream.pending_chars == 448


def test_a_clock_that_stands_still_releases_every_step_of_holdbacks(stream_impl: StreamImplementation) -> None:
    words = "abcdefg " * 16000
    plain = Sanitizer(Policy(canaries=(CANARY,), holdback_chars=448)).stream()
    still = stream_impl.cls(_timed(), clock=lambda: 5.0)
    first = [plain.feed(ch) for ch in words]
    second = [still.feed(ch) for ch in words]
    # The first pass comes as soon as the hold-back is exceeded, not a step later; after it, with no time
    # passing, one pass per `BURST_STEP_HOLDBACKS` hold-backs of text (one per hold-back without an interval).
    fed_at = [i + 1 for i, out in enumerate(second) if out]
    assert BURST_STEP_HOLDBACKS == 128
    assert fed_at[:3] == [449, 449 + 128 * 448, 449 + 256 * 448]
    assert [i + 1 for i, out in enumerate(first) if out][:2] == [2 * 448, 3 * 448]
    assert "".join(second) + still.finish() == "".join(first) + plain.finish() == words


def test_the_clock_is_not_read_while_nothing_could_be_released(stream_impl: StreamImplementation) -> None:
    clock = _Clock(step=0.0)
    stream = stream_impl.cls(_timed(), clock=clock)
    for _ in range(44):
        stream.feed("ten chars ")
    assert clock.reads == 0  # 440 characters: all inside the hold-back
    clock = _Clock(step=1.0)
    without = stream_impl.cls(Sanitizer(Policy(canaries=(CANARY,), holdback_chars=448)), clock=clock)
    for _ in range(300):
        without.feed("ten chars ")
    assert clock.reads == 0  # no interval: the clock is never read


def test_fast_small_pieces_read_the_clock_every_few_pieces(stream_impl: StreamImplementation) -> None:
    # 20-character pieces 0.1 ms apart (200 KB/s): a clock read per piece was a third of such a stream's cost.
    clock = _Clock()
    stream = stream_impl.cls(_timed(), clock=clock)
    text = "a few plain words " * 3000  # 54,000 characters, 2,700 pieces
    out = []
    for i in range(0, len(text), 20):
        clock.now += 0.0001
        out.append(stream.feed(text[i : i + 20]))
    assert "".join(out) + stream.finish() == text
    assert 0 < clock.reads <= 2700 // 5  # about one read per CLOCK_SKIP_MAX / 20 pieces


def test_a_stream_that_slows_down_right_after_a_burst_waits_at_most_clock_skip_max_more(
    stream_impl: StreamImplementation,
) -> None:
    clock = _Clock()
    stream = stream_impl.cls(_timed(), clock=clock)
    burst = "fast words " * 100  # 1,100 characters at once: a pass, then the clock is not read for a while
    assert stream.feed(burst[:500]) == burst[:52]
    for i in range(500, 1100, 20):
        clock.now += 0.001
        stream.feed(burst[i : i + 20])
    assert stream.pending_chars == 1048  # within the interval: no pass yet
    # Now one character a second: the interval is long over, and the clock is read again within
    # `CLOCK_SKIP_MAX` characters of the last read, so the pass comes at the latest that much text later.
    held = []
    for _ in range(300):
        clock.now += 1.0
        stream.feed("x")
        held.append(stream.pending_chars)
    first_pass = held.index(448)
    assert 0 <= first_pass < CLOCK_SKIP_MAX
    assert max(held) < 1048 + CLOCK_SKIP_MAX
    assert set(held[first_pass:]) == {448}  # then one pass per piece: each comes after the interval


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=pieces, cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40),
       ticks=st.lists(st.sampled_from([0.0, 0.05, 0.3]), min_size=1, max_size=40),
       blocker=st.one_of(st.none(), st.sampled_from(BLOCKERS)), at=st.floats(0, 1))  # fmt: skip
def test_any_chunking_and_any_timing_gives_the_whole_text_result(
    sanitizer: Sanitizer,
    text: str,
    cuts: list[int],
    ticks: list[float],
    blocker: str | None,
    at: float,
    stream_impl: StreamImplementation,
) -> None:
    if blocker is not None:
        i = int(len(text) * at)
        text = f"{text[:i]} {blocker} {text[i:]}"
    timed = Sanitizer(replace(sanitizer.policy, holdback_chars=448, release_seconds=0.2))
    whole = timed.sanitize(text)
    moments = itertools.cycle(ticks)
    clock = _Clock()
    stream = stream_impl.cls(timed, clock=clock)
    out = ""
    for piece in _split(text, cuts):
        clock.now += next(moments)
        out += stream.feed(piece)
    out += stream.finish()
    assert out == whole.text
    assert stream.blocked == whole.blocked
    assert stream.hits == whole.hits


# ---- text written without spaces ------------------------------------------------------------------------------

JAPANESE = "ご注文の品は明日発送されます。追跡番号はメールでお送りします。"  # 32 characters, no space


def test_text_without_spaces_is_released_as_it_comes() -> None:
    # Before: the whole answer was one non-space run, held back to its end (up to 16 KiB).
    sanitizer = Sanitizer(Policy(canaries=(CANARY,), holdback_chars=448))
    stream = sanitizer.stream()
    text = JAPANESE * 40  # 1,280 characters
    out = [stream.feed(text[i : i + 3]) for i in range(0, len(text), 3)]
    first = next(i for i, piece in enumerate(out) if piece)
    assert (first + 1) * 3 == 2 * 448 + 1  # released at the usual point: hold-back plus one step
    assert stream.pending_chars < 2 * 448
    assert "".join(out) + stream.finish() == text


@pytest.mark.parametrize("cut", range(0, 60, 3))
def test_a_key_after_text_without_spaces_is_still_held_whole(sanitizer: Sanitizer, cut: int) -> None:
    key = "sk-proj-Ab3dE5gH7jK9mN1pQ3rS5tU7"
    text = JAPANESE * 40 + key + "です。" + JAPANESE * 20
    whole = sanitizer.sanitize(text)
    assert key not in whole.text and "[REDACTED:SECRET]" in whole.text
    # The first piece ends inside the key (or just after it) and makes a release pass: the key's start is
    # where the ASCII run begins, and nothing of it goes out.
    stream = sanitizer.stream()
    first = stream.feed(text[: 1280 + cut])
    assert first and key[:4] not in first
    assert first + stream.feed(text[1280 + cut :]) + stream.finish() == whole.text


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(st.sampled_from(LEAKS), st.just(JAPANESE)), min_size=8, max_size=80),
       cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))  # fmt: skip
def test_leaks_inside_text_without_spaces_stream_as_whole(sanitizer: Sanitizer, parts: list[str], cuts: list[int]) -> None:
    text = "".join(parts)
    whole = sanitizer.sanitize(text)
    out, stream = _stream(sanitizer, _split(text, cuts))
    assert out == whole.text
    assert stream.hits == whole.hits  # type: ignore[attr-defined]


# ---- overlapping matches: the stricter action wins -----------------------------------------------------------

NESTED = [
    f"{CANARY}@example.com",
    f"x@{CANARY}.com",
    "postgres://app:S3cr3tPassw0rd@db.internal:5432/prod",
    "AKIAIOSFODNN7Q2XK4ZT@example.com",
    f"sk-proj-{CANARY}",
]


@pytest.mark.parametrize(
    ("text", "expected", "blocked", "detectors"),
    [
        (f"Send it to {NESTED[0]} please.", "Send it to ", True, ["canary"]),
        (f"Send it to {NESTED[1]} please.", "Send it to ", True, ["canary"]),
        (f"DSN {NESTED[2]} ok", "DSN postgres://app:[REDACTED:SECRET]:5432/prod ok", False, ["secret"]),
        (f"Key {NESTED[3]} ok", "Key [REDACTED:SECRET] ok", False, ["secret"]),
        (f"Key {NESTED[4]} ok", "Key ", True, ["canary"]),
        ("Write to jane.doe@example.com today", "Write to jane.doe@example.com today", False, ["email"]),
    ],
)
def test_a_stricter_match_inside_a_weaker_one_decides(
    text: str, expected: str, blocked: bool, detectors: list[str]
) -> None:
    # Before: the longer match won, so with `email = "alert"` a canary, a URL's password or an AWS key inside an
    # address passed in clear (red team R6), and with the default actions the canary was only redacted.
    alerting = Sanitizer(Policy(canaries=(CANARY,)).with_actions({"email": "alert"}))
    result = alerting.sanitize(text)
    assert (result.text, result.blocked, [str(h.detector) for h in result.hits]) == (expected, blocked, detectors)
    default = Sanitizer(Policy(canaries=(CANARY,))).sanitize(f"Send it to {NESTED[0]} please.")
    assert (default.text, default.blocked, [str(h.detector) for h in default.hits]) == ("Send it to ", True, ["canary"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(st.one_of(st.sampled_from(LEAKS + NESTED[2:4]), st.sampled_from(FILLER)), min_size=8, max_size=80),
       nested=st.sampled_from(NESTED), at=st.floats(0, 1),
       cuts=st.lists(st.integers(min_value=0, max_value=10_000), max_size=40))  # fmt: skip
def test_nested_matches_stream_as_whole(parts: list[str], nested: str, at: float, cuts: list[int]) -> None:
    alerting = Sanitizer(Policy(canaries=(CANARY,)).with_actions({"email": "alert"}))
    i = int(len(parts) * at)
    text = " ".join([*parts[:i], nested, *parts[i:]])
    whole = alerting.sanitize(text)
    out, stream = _stream(alerting, _split(text, cuts))
    assert out == whole.text
    assert stream.hits == whole.hits  # type: ignore[attr-defined]
    assert CANARY not in out and "S3cr3tPassw0rd" not in out and "AKIAIOSFODNN7Q2XK4ZT" not in out


@pytest.mark.parametrize("text", [
    "Your order A-10023 (SKU 4006381333931) ships on 2026-12-01 for €49.99; tracking 1Z999AA10123456784.",
    "mail jane.doe@exam\u00adple.com or 4111 1111 1111 1111, ref " + CANARY + " then more",
    "plain words only",
    "",
])  # fmt: skip
def test_a_stream_shorter_than_its_hold_back_ends_as_the_whole_text_and_as_passes_would(
    text: str, stream_impl: StreamImplementation
) -> None:
    sanitizer = Sanitizer(Policy(canaries=(CANARY,), holdback_chars=448, release_seconds=0.2))
    whole = sanitizer.sanitize(text)
    short = sanitizer.stream()
    out = "".join(short.feed(text[i : i + 7]) for i in range(0, len(text), 7))
    assert short._passes == 0  # the finish judges the whole text at once
    out += short.finish()
    passing = stream_impl.cls(sanitizer, clock=_Clock(step=1.0))  # a pass at every piece past the hold-back
    padded = "x " * 300 + text
    passed = "".join(passing.feed(padded[i : i + 7]) for i in range(0, len(padded), 7)) + passing.finish()
    assert passing._passes > 1
    assert (out, short.blocked, short.hits) == (whole.text, whole.blocked, whole.hits)
    assert (short.scanned_bytes, short.invisible_removed, short.pending_chars) == (
        whole.scanned_bytes, whole.invisible_removed, 0)  # fmt: skip
    padded_whole = sanitizer.sanitize(padded)
    assert (passed, passing.blocked, passing.hits) == (padded_whole.text, padded_whole.blocked, padded_whole.hits)


def _key_lines(seed: int, n: int) -> str:
    rng = random.Random(seed)
    return "\n".join(base64.b64encode(bytes(rng.randrange(256) for _ in range(48))).decode() for _ in range(n))


_FIRST_KEY, _SECOND_KEY = _key_lines(7, 3), _key_lines(8, 12)
# Longer than the hold-back, so that passes happen before the END line comes.
_UNTERMINATED_THEN_PEM = (
    f"Sure:\n-----BEGIN RSA PRIVATE KEY-----\n{_FIRST_KEY}\n-----BEGIN RSA PRIVATE KEY-----\n{_SECOND_KEY}\n"
    "-----END RSA PRIVATE KEY-----\nDone."
)


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pad=st.integers(0, 60), size=st.sampled_from([1, 4, 20, 97]), cuts=st.lists(st.integers(0, 2000), max_size=8),
       end_split=st.booleans())  # fmt: skip
def test_an_unterminated_pem_header_before_a_whole_block_streams_as_whole(
    pad: int, size: int, cuts: list[int], end_split: bool, stream_impl: StreamImplementation
) -> None:
    # A secret match runs from the unterminated header to the later block's END: the stream held back only
    # at the last header and released the first, and the second key went out in clear (a reviewer's find).
    text = "x" * pad + " " + _UNTERMINATED_THEN_PEM
    for s in (Sanitizer(Policy(release_seconds=0.2)), Sanitizer(Policy())):
        whole = s.sanitize(text)
        chunks = [text[i : i + size] for i in range(0, len(text), size)] if not cuts else _split(text, cuts)
        if end_split:  # a piece ends inside the END line: "-----END RSA" is there, the line is not yet whole
            at = text.index("-----END ") + len("-----END RSA")
            chunks = [text[:at], text[at:]]
        stream = stream_impl.cls(s, clock=_Clock(step=1.0))  # with an interval: a pass at every piece
        out = "".join(stream.feed(c) for c in chunks) + stream.finish()
        assert out == whole.text
        assert [(h.detector, h.start, h.end) for h in stream.hits] == [(h.detector, h.start, h.end) for h in whole.hits]
        assert not [line for line in (_FIRST_KEY + "\n" + _SECOND_KEY).splitlines() if line in out]
