"""Issue 6, red team r7: a canary split across the fields or choices of one answer, and canary spellings with
a line break inside their base64 (MIME, PEM) or separators between their hex byte pairs. Each case: the exact
input, the exact detector and the exact text delivered, whole and streamed, plus near misses left intact."""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from typing import Any

import pytest

from leakline.guard.sanitize import Policy, Sanitizer
from leakline.guard.sanitize.across import CanaryWatch, across_fields, refuses
from leakline.guard.sanitize.core import _check_holdback
from leakline.guard.sanitize.matchers import CanaryMatcher, canary_encodings, canary_max_length
from tests.guard.conftest import Env
from tests.guard.test_gateway_fields import (
    _canned_gateway,
    _chunk,
    _completion,
    _delta,
    answers,
    choices,
    last_exchange,
    post,
    sse,
    whole,
)
from tests.guard.test_gateway_http import sse_events

CAN = "Zq7XbN2vLp9RtY4sKw8HdM3c"
GW_CANARY = "lkc-7f3a9c1e5b2d48e6a0c4f8b1d3e5a7c9"  # what the gateway test settings plant
HEAD, TAIL = GW_CANARY[:18], GW_CANARY[18:]


@pytest.fixture(scope="module", params=["hyperscan", "re"])
def s(request: pytest.FixtureRequest) -> Sanitizer:
    return Sanitizer(Policy(canaries=(CAN,), engine=request.param))


def _streamed(s: Sanitizer, text: str, size: int) -> tuple[str, bool, list[tuple[str, int, int]]]:
    stream = s.stream()
    out = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size)) + stream.finish()
    return out, stream.blocked, [(h.detector, h.start, h.end) for h in stream.hits]


def _whole_and_streamed(s: Sanitizer, text: str) -> tuple[str, bool, list[tuple[str, int, int]]]:
    result = s.sanitize(text)
    got = (result.text, result.blocked, [(h.detector, h.start, h.end) for h in result.hits])
    for size in range(1, 13):
        assert _streamed(s, text, size) == got, size
    for size in (97, 600):
        assert _streamed(s, text, size) == got, size
    return got


# ---- spellings: wrapped base64, separated hex -------------------------------------------------------------

MIME_PREFIX = "x" * 40 + " ref "
"""With 40 characters before it (t8.py's first miss), the canary's base64 is cut by MIME's line break."""


def test_mime_wrapped_base64_with_the_break_inside_the_canary_is_blocked(s: Sanitizer) -> None:
    text = base64.encodebytes((MIME_PREFIX + CAN + " end").encode()).decode()
    assert text.startswith("eHh4") and text.index("\n") == 76
    assert text[60:93] == "WnE3WGJOMnZMcDlS\ndFk0c0t3OEhkTTNj"  # the canary's base64, cut by the wrap
    assert _whole_and_streamed(s, text) == (text[:60], True, [("canary", 60, 93)])


@pytest.mark.parametrize("width", [64, 76, 19, 1])
def test_base64_wrapped_at_any_width_or_crlf_is_blocked(s: Sanitizer, width: int) -> None:
    for eol in ("\n", "\r\n"):
        for prefix in ("", "a", "ab"):
            b64 = base64.b64encode((prefix + CAN).encode()).decode()
            text = "blob:\n" + eol.join(b64[i : i + width] for i in range(0, len(b64), width)) + eol + "done"
            out, blocked, hits = _whole_and_streamed(s, text)
            assert (blocked, [h[0] for h in hits]) == (True, ["canary"]), (width, eol, prefix)
            assert out == text[: hits[0][1]] and out.startswith("blob:\n")


HEX_SPELLINGS = [
    " ".join(f"{b:02x}" for b in CAN.encode()),  # 5a 71 37 ...
    ":".join(f"{b:02x}" for b in CAN.encode()),  # 5a:71:37 ...
    ", ".join(f"{b:02X}" for b in CAN.encode()),  # 5A, 71, 37 ...
    "-".join(f"{b:02x}" for b in CAN.encode()),
    "\r\n".join(f"{b:02X}" for b in CAN.encode()),
    "\n".join(CAN.encode().hex()[i : i + 16] for i in range(0, 48, 16)),  # a hex dump's lines
]


@pytest.mark.parametrize("spelled", HEX_SPELLINGS, ids=["space", "colon", "comma-space", "dash", "crlf", "lines"])
def test_hex_with_separators_between_byte_pairs_is_blocked(s: Sanitizer, spelled: str) -> None:
    text = f"the bytes are {spelled} ok"
    out, blocked, hits = _whole_and_streamed(s, text)
    assert (out, blocked, hits) == ("the bytes are ", True, [("canary", 14, 14 + len(spelled))])


NEAR_MISSES = [
    " ".join(f"{b:02x}" for b in CAN.encode()[:-1]) + " 00",  # the last byte differs
    " ".join(f"{b:02x}" for b in CAN.encode()[:12]) + " ... " + " ".join(f"{b:02x}" for b in CAN.encode()[12:]),
    ":".join(f"{b:02x}" for b in CAN.encode()).replace(":", ":::", 1),  # three separators between two pairs
    base64.b64encode(CAN.encode()).decode()[:16] + "\n\n" + base64.b64encode(CAN.encode()).decode()[16:],
    base64.b64encode(CAN.encode()).decode()[:16] + " " + base64.b64encode(CAN.encode()).decode()[16:],
    base64.encodebytes(("x" * 40 + " ref " + CAN[:-1] + "Q end").encode()).decode(),  # another token
    "MAC 5a:71:37:58:62:4e, UUID 5a713758-624e-3276-4c70-395274593473 ok",
    "Order 4711-0815, SKU AB-1234-XL, EAN 4006381333931, $1,299.00 on 2024-05-01",
]


@pytest.mark.parametrize("text", NEAR_MISSES, ids=[f"miss{i}" for i in range(len(NEAR_MISSES))])
def test_near_misses_of_the_new_spellings_stay_intact(s: Sanitizer, text: str) -> None:
    assert _whole_and_streamed(s, text) == (text, False, [])


def test_the_hyperscan_gate_fires_on_every_spelling_the_matcher_accepts() -> None:
    """The engine compiles the matcher's own pattern: random wraps and separators, every alignment."""
    hs = Sanitizer(Policy(canaries=(CAN,), engine="hyperscan"))
    matcher = CanaryMatcher((CAN,))
    rng = random.Random(6)
    raw = CAN.encode()
    for _ in range(300):
        pairs = [f"{b:02x}" if rng.random() < 0.5 else f"{b:02X}" for b in raw]
        hex_text = pairs[0] + "".join(rng.choice(["", " ", ":", ", ", "-", "\r\n", "\t"]) + p for p in pairs[1:])
        form = rng.choice([f for f in canary_encodings(CAN) if len(f) < 40])
        b64_text = "".join(ch + (rng.choice(["\n", "\r\n"]) if rng.random() < 0.2 else "") for ch in form)
        for spelled in (hex_text, b64_text.rstrip("\r\n")):
            text = "q " + spelled + " q"
            found = [m.group() for m in matcher._regex.finditer(text)]
            assert found == [spelled], spelled
            assert hs.engine.canary_ends(text), spelled  # the gate fires: the matcher is asked
            assert len(spelled) <= canary_max_length(CAN)


def test_canary_max_length_bounds_every_spelling_and_the_holdback_check_uses_it() -> None:
    # spaced and split once: 24 + 23 x 4 + 16; base64 with CRLFs: 3 x 32 - 2; hex with a `0x` and two
    # separators before every byte after the first: 24 x 2 + 23 x 4 = 6 x 24 - 4
    assert canary_max_length(CAN) == 140
    long_token = "Zq7XbN2vLp9RtY4sKw8HdM3c" * 5  # 120 characters
    assert canary_max_length(long_token) == 716
    with pytest.raises(Exception, match="stream_holdback_chars: 716 is not longer"):
        _check_holdback(Policy(canaries=(long_token,), holdback_chars=716))
    _check_holdback(Policy(canaries=(long_token,), holdback_chars=717))


# ---- split across fields: the detectors' side -------------------------------------------------------------


def test_the_fields_joined_find_a_canary_split_in_two_in_either_order(s: Sanitizer) -> None:
    hits = across_fields(s, ["Zq7XbN2vLp9R", "tY4sKw8HdM3c"])
    assert [(h.detector, h.start, h.end, str(h.action)) for h in hits] == [("canary", 0, 25, "block")]
    hits = across_fields(s, ["tY4sKw8HdM3c", "Zq7XbN2vLp9R"])
    assert [(h.detector, h.start, h.end) for h in hits] == [("canary", 0, 25)]
    # Inside one field it was judged there: not reported again. Two unrelated fields: nothing.
    assert across_fields(s, [f"ref {CAN}", "ok"]) == []
    # A few characters of any kind between the pieces (r8): one match; more than CANARY_SPLIT_GAP: none.
    hits = across_fields(s, ["Zq7XbN2vLp9R and", "tY4sKw8HdM3c"])
    assert [(h.detector, h.start, h.end) for h in hits] == [("canary", 0, 29)]
    assert across_fields(s, ["Zq7XbN2vLp9R is the first half,", "tY4sKw8HdM3c"]) == []
    assert across_fields(s, ["Order 4711-0815", "EAN 4006381333931"]) == []


def test_a_split_canary_whose_action_is_alert_is_reported_and_not_refused() -> None:
    alerting = Sanitizer(Policy(canaries=(CAN,)).with_actions({"canary": "alert"}))
    hits = across_fields(alerting, ["Zq7XbN2vLp9R", "tY4sKw8HdM3c"])
    assert [(h.detector, str(h.action), h.redacted_preview) for h in hits] == [("canary", "alert", "Zq7…dM3c")]
    assert refuses(hits) is False
    redacting = Sanitizer(Policy(canaries=(CAN,)).with_actions({"canary": "redact"}))
    assert refuses(across_fields(redacting, ["Zq7XbN2vLp9R", "tY4sKw8HdM3c"])) is True  # cannot be cut out


def _watch(s: Sanitizer, pieces: list[tuple[str, str]]) -> list[tuple[str, str]]:
    watch = CanaryWatch(s)
    found = []
    for key, text in pieces:
        found += watch.feed(key, text)
    found += watch.judge()
    return [(h.detector, str(h.action)) for h in found]


def test_the_stream_watch_finds_a_split_canary_in_arrival_order(s: Sanitizer) -> None:
    one_char_each = [("content" if i % 2 else "reasoning", ch) for i, ch in enumerate(CAN)]
    assert _watch(s, one_char_each) == [("canary", "block")]
    assert _watch(s, [("r", "Zq7Xb"), ("c", "N2vLp9"), ("r", "RtY4sKw8Hd"), ("c", "M3c")]) == [("canary", "block")]
    # Far apart in arrival order (more than the watch's reach between them): a documented limit.
    assert _watch(s, [("r", "Zq7XbN2vLp9R"), ("c", "x " * 100), ("r", "tY4sKw8HdM3c")]) == []
    # One field only: nothing is joined (the field's own stream judges it).
    assert _watch(s, [("c", CAN[:12]), ("c", CAN[12:])]) == []


# ---- split across fields: through the real gateway, whole and streamed ------------------------------------


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    env = _canned_gateway(tmp_path_factory.mktemp("split"))
    yield env
    env.served.stop()
    env.eu.stop()


def _two_choices(first: str, second: str) -> dict[str, Any]:
    data = _completion({"content": first})
    data["choices"].append({"index": 1, "message": {"role": "assistant", "content": second}, "finish_reason": "stop"})
    return data


REFUSED = {"role": "assistant", "content": ""}


def test_n2_whole_answer_with_the_canary_split_across_choices_is_refused(gw: Env) -> None:
    for order, (first, second) in enumerate([(HEAD, TAIL), (TAIL, HEAD)]):
        answers(gw)[f"n2-{order}"] = whole(_two_choices(first, second))
        response = post(gw, f"n2-{order}", n=2)
        assert response.status_code == 200
        assert [(c["index"], c["message"], c["finish_reason"]) for c in response.json()["choices"]] == [
            (0, REFUSED, "content_filter"), (1, REFUSED, "content_filter"),
        ]  # fmt: skip
        assert HEAD not in response.text and TAIL not in response.text
        meta = last_exchange(gw)
        assert meta["blocked"] is True
        assert [(h["detector"], h["action"], h.get("where")) for h in meta["hits"]] == [
            ("canary", "block", "across fields")
        ]


def test_reasoning_and_content_halves_of_a_whole_answer_are_refused(gw: Env) -> None:
    answers(gw)["rc"] = whole(_completion({"reasoning_content": HEAD, "content": TAIL}))
    response = post(gw, "rc")
    assert response.json()["choices"][0]["message"] == REFUSED
    assert response.json()["choices"][0]["finish_reason"] == "content_filter"
    assert HEAD not in response.text and TAIL not in response.text


def test_whole_near_misses_across_choices_are_delivered_intact(gw: Env) -> None:
    pairs = [
        (HEAD + " is the first half,", "and the other one is " + TAIL),  # more than a few words between
        ("Order 4711-0815 shipped", "tracking 1Z999AA10123456784, EAN 4006381333931"),
        (HEAD, "lkc-7f3a9c1e5b2d48"),  # the same half twice
    ]
    for i, (first, second) in enumerate(pairs):
        answers(gw)[f"ok-{i}"] = whole(_two_choices(first, second))
        got = post(gw, f"ok-{i}", n=2).json()["choices"]
        assert [(c["message"]["content"], c["finish_reason"]) for c in got] == [(first, "stop"), (second, "stop")]


def test_a_stream_with_interleaved_choices_carrying_the_halves_ends_with_content_filter(gw: Env) -> None:
    events = []
    for i in range(0, 18, 3):
        events.append(
            _chunk(_delta({"content": HEAD[i : i + 3]}, index=0), _delta({"content": TAIL[i : i + 3]}, index=1))
        )
    events.append(_chunk(_delta({}, "stop", index=0), _delta({}, "stop", index=1)))
    answers(gw)["n2s"] = sse(*events)
    response = post(gw, "n2s", stream=True, n=2)
    got = sse_events(response.text)
    assert got[-1] == "[DONE]"
    assert got[-2]["choices"] == [
        {"index": 0, "finish_reason": "content_filter", "delta": {}},
        {"index": 1, "finish_reason": "content_filter", "delta": {}},
    ]
    sent = "".join(str(c["delta"].get("content") or "") for c in choices(got))
    assert sent == ""  # the hold-back had released nothing of either half


def test_a_stream_with_reasoning_then_content_halves_ends_with_content_filter(gw: Env) -> None:
    answers(gw)["rcs"] = sse(
        _chunk(_delta({"reasoning_content": HEAD[:9]})), _chunk(_delta({"reasoning_content": HEAD[9:]})),
        _chunk(_delta({"content": TAIL[:9]})), _chunk(_delta({"content": TAIL[9:]})),
        _chunk(_delta({}, "stop")),
    )  # fmt: skip
    response = post(gw, "rcs", stream=True)
    got = sse_events(response.text)
    assert [c for c in choices(got) if c.get("finish_reason")] == [
        {"index": 0, "finish_reason": "content_filter", "delta": {}}
    ]
    assert HEAD[:9] not in response.text and TAIL[9:] not in response.text
    meta = last_exchange(gw)
    assert [(h["detector"], h["action"], h.get("where")) for h in meta["hits"]] == [
        ("canary", "block", "across fields")
    ]


def test_a_stream_with_unrelated_fields_is_delivered_intact(gw: Env) -> None:
    answers(gw)["oks"] = sse(
        _chunk(_delta({"reasoning_content": HEAD + " is one"})), _chunk(_delta({"content": "thing, not the other " + TAIL})),
        _chunk(_delta({}, "stop")),
    )  # fmt: skip
    got = choices(sse_events(post(gw, "oks", stream=True).text))
    assert "".join(str(c["delta"].get("reasoning_content") or "") for c in got) == HEAD + " is one"
    assert "".join(str(c["delta"].get("content") or "") for c in got) == "thing, not the other " + TAIL
    assert got[-1]["finish_reason"] == "stop"
