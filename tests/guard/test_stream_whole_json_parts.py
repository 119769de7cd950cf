"""A streamed answer is judged as the whole answer is (issue 6): JSON content's escapes and content parts.

1. Content that is a JSON document (JSON mode, or content starting with `{` / `[`) is judged whole as the
   app's `JSON.parse` reads it (`sanitize_json`), but a stream decoded only `\\uXXXX` escapes: a card
   written `4111\\n1111\\n1111\\n1111`, a DSN written `mysql:\\/\\/root:…`, a phone `+49\\/30\\/…` were redacted
   whole and passed streamed. The stream now decodes every escape inside strings before the detectors
   (`JsonStringDecoder`) and writes control characters back as escapes on release (`JsonQuoter`).
2. Content parts were judged one by one whole (`"mail jane.doe@"` + `"example.com"` passed) while a stream
   joins its deltas. A whole answer now judges a field's parts joined, as a client renders them.

The reviewer's cases go through the gateway app on 127.0.0.1 (a canned upstream); the chunkings and the
property tests drive the stream relay and the whole-answer walk in-process with the real sanitizer.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.config import parse_settings
from leakline.guard.pipeline import Route, _Request, _Scan, _StreamRelay, load_sanitizer
from leakline.guard.policies import TextSanitizer
from leakline.guard.sanitize.across import split_joined
from leakline.guard.sanitize.core import DetectorHit
from leakline.guard.sanitize.jsontext import JsonQuoter, JsonStringDecoder, decode_strings
from leakline.guard.sanitize.policy import Action
from leakline.guard.upstream import UpstreamThread
from tests.guard.conftest import Env
from tests.guard.helpers import audit_records, meta_of, serve, write_settings
from tests.guard.test_gateway_fields import Canned, sse, whole
from tests.guard.test_gateway_http import DE, auth, sse_events

JSON_MODE = {"response_format": {"type": "json_object"}}

# The reviewer's table: content as the model wrote it (JSON text), the whole answer's re-encoding, and what a
# stream releases (the document as written, the match redacted).
LEAKS = {
    "card_lf": (
        r'{"card": "4111\n1111\n1111\n1111"}',
        '{"card":"[REDACTED:PAYMENT_CARD]"}',
        '{"card": "[REDACTED:PAYMENT_CARD]"}',
    ),
    "card_crlf": (
        r'{"card": "4111\r\n1111\r\n1111\r\n1111"}',
        '{"card":"[REDACTED:PAYMENT_CARD]"}',
        '{"card": "[REDACTED:PAYMENT_CARD]"}',
    ),
    "dsn": (
        r'{"dsn": "mysql:\/\/root:Pa55w0rd2024@dbhost\/db"}',
        '{"dsn":"mysql://root:[REDACTED:SECRET]@dbhost/db"}',
        r'{"dsn": "mysql:\/\/root:[REDACTED:SECRET]@dbhost\/db"}',
    ),
    "phone": (
        r'{"phone": "+49\/30\/12345678"}',
        '{"phone":"[REDACTED:PHONE]"}',
        '{"phone": "[REDACTED:PHONE]"}',
    ),
}
SECRETS = ("4111", "Pa55w0rd2024", "12345678", "jane.doe", "5555")


def _no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text, secret


# --- in-process: the whole answer's walk and the stream relay, with the real sanitizer --------------


@pytest.fixture(scope="module")
def sanitizer() -> TextSanitizer:
    return load_sanitizer(parse_settings({"sanitize": {}}, source="t.toml"))


def _route() -> Route:
    route = Route.__new__(Route)
    route.kind = "chat"
    route.gateway = SimpleNamespace(metrics=SimpleNamespace(dropped_field=None))  # type: ignore[assignment]
    return route


def whole_content(sanitizer: TextSanitizer, content: Any, *, json_mode: bool = False) -> tuple[Any, _Scan]:
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
    scan = _Scan()
    _route().sanitize_choice(sanitizer, choice, scan, json_mode)
    return choice["message"]["content"], scan


def _event(delta: dict[str, Any], finish: str | None = None) -> str:
    choice = {"index": 0, "delta": delta, "finish_reason": finish}
    return json.dumps({"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m", "choices": [choice]})


def _content_of(events: list[Any]) -> str:
    text = ""
    for event in events:
        if event == "[DONE]":
            continue
        for choice in event["choices"]:
            value = choice.get("delta", {}).get("content")
            if isinstance(value, list):
                text += "".join(p if isinstance(p, str) else p.get("text", "") for p in value)
            elif value:
                text += value
    return text


def streamed_content(
    sanitizer: TextSanitizer, pieces: list[Any], *, json_mode: bool = False, parts: bool = False
) -> tuple[str, bool]:
    """The content a client reads from the relay fed `pieces` (each a delta's content, or one part's text)."""
    relay = _StreamRelay(
        _route(), _Request(route="/v1/chat/completions", body=JSON_MODE if json_mode else {}), sanitizer
    )
    out: list[bytes] = []
    for piece in pieces:
        out += relay.event(_event({"content": [{"type": "text", "text": piece}] if parts else piece}), "u")
        if relay.scan.blocked:
            break
    if not relay.scan.blocked:
        out += relay.event(_event({}, "stop"), "u")
        out += relay.close()
    return _content_of(sse_events(b"".join(out).decode())), relay.scan.blocked


def _cut(text: str, points: list[int]) -> list[str]:
    bounds = sorted({p % (len(text) + 1) for p in points} | {0, len(text)})
    return [text[a:b] for a, b in itertools.pairwise(bounds)]


def _chunkings(text: str) -> Iterator[list[str]]:
    """One piece, single characters, and a cut inside every escape (`\\` | `n`, `\\u00` | `40`) of `text`."""
    yield [text]
    yield list(text)
    for at, ch in enumerate(text):
        if ch == "\\":
            yield [text[: at + 1], text[at + 1 :]]
            yield [text[:at], text[at : at + 3], text[at + 3 :]]
    yield _cut(text, [7, 13, 21, 29])


@pytest.mark.parametrize("json_mode", [False, True])
@pytest.mark.parametrize("name", sorted(LEAKS))
def test_escaped_leaks_are_redacted_whole_and_in_every_chunking(
    sanitizer: TextSanitizer, name: str, json_mode: bool
) -> None:
    content, expected_whole, expected_streamed = LEAKS[name]
    got, _ = whole_content(sanitizer, content, json_mode=json_mode)
    assert got == expected_whole
    for pieces in _chunkings(content):
        streamed, blocked = streamed_content(sanitizer, pieces, json_mode=json_mode)
        assert (streamed, blocked) == (expected_streamed, False), pieces
        assert json.loads(streamed) == json.loads(expected_whole)


def test_an_email_with_escaped_at_and_dot_split_inside_the_escapes(sanitizer: TextSanitizer) -> None:
    content = r'{"to": "jane.doe\u0040example\u002ecom", "n": 2}'
    assert whole_content(sanitizer, content)[0] == '{"to":"[REDACTED:EMAIL]","n":2}'
    for pieces in _chunkings(content):
        assert streamed_content(sanitizer, pieces) == ('{"to": "[REDACTED:EMAIL]", "n": 2}', False), pieces


# Near misses: nothing to redact; whole keeps the bytes, and so does the stream but for `\uXXXX` escapes of
# characters that need none (`\u0022` comes back as `\"`).
NEAR_MISSES = {
    "words": (r'{"note": "line one\nline two\r\n\tindented"}', r'{"note": "line one\nline two\r\n\tindented"}'),
    "url": (r'{"url": "https:\/\/example.com\/orders\/10023", "b": "a/b"}',) * 2,
    "spelled": (
        r'{"nl": "\u000a\u000A\n\u001f\u001F", "s": "\u002f/\/"}',
        r'{"nl": "\u000a\u000A\n\u001f\u001F", "s": "\u002f/\/"}',
    ),
    "quotes": (
        r'{"say": "he said \"hi\\\" \\n\u0022", "x": [1, 2.50, -3e2]}',
        r'{"say": "he said \"hi\\\" \\n\"", "x": [1, 2.50, -3e2]}',
    ),
    "pretty": ('{\n  "a": "x\\ty",\n  "b": [\n    "4111"\n  ]\n}', '{\n  "a": "x\\ty",\n  "b": [\n    "4111"\n  ]\n}'),
}


@pytest.mark.parametrize("json_mode", [False, True])
@pytest.mark.parametrize("name", sorted(NEAR_MISSES))
def test_near_misses_keep_their_value_whole_and_streamed(sanitizer: TextSanitizer, name: str, json_mode: bool) -> None:
    content, expected_streamed = NEAR_MISSES[name]
    assert whole_content(sanitizer, content, json_mode=json_mode)[0] == content
    for pieces in _chunkings(content):
        streamed, _ = streamed_content(sanitizer, pieces, json_mode=json_mode)
        assert streamed == expected_streamed, pieces
        assert json.loads(streamed) == json.loads(content)


def test_prose_that_starts_like_json_keeps_its_line_breaks(sanitizer: TextSanitizer) -> None:
    # `[1]` opens like a JSON array and the inch mark like a string; a raw line break inside "quotes" shows it
    # is prose: from there nothing is decoded and no line break is escaped, whole or streamed.
    content = '[1] Use 5" screws.\nThen sand it.\n\nSee C:\\new\\table.txt'
    assert whole_content(sanitizer, content)[0] == content
    for pieces in ([content], list(content), _cut(content, [5, 9, 20])):
        assert streamed_content(sanitizer, pieces) == (content, False), pieces


@pytest.mark.parametrize("json_mode", [False, True])
def test_a_document_cut_off_is_judged_as_the_stream_judges_it(sanitizer: TextSanitizer, json_mode: bool) -> None:
    # Not JSON (the model hit max_tokens): whole falls back to the stream's transducers, and gets its text.
    content = r'{"card": "4111\n1111\n1111\n1111", "next": "more \/ te'
    expected = r'{"card": "[REDACTED:PAYMENT_CARD]", "next": "more \/ te'
    assert whole_content(sanitizer, content, json_mode=json_mode)[0] == expected
    for pieces in _chunkings(content):
        assert streamed_content(sanitizer, pieces, json_mode=json_mode) == (expected, False), pieces


# --- the transducers on their own ---------------------------------------------------------------------


def _decoded(*pieces: str) -> list[str]:
    decoder = JsonStringDecoder()
    return [*(decoder.feed(p) for p in pieces), decoder.finish()]


def test_decoder_writes_every_escape_inside_strings_as_its_character() -> None:
    assert _decoded(r'{"a\n": "x\r\ny\t\/\b\f\u0040\u000a\u0000"}') == ['{"a\n": "x\r\ny\t/\b\f@\n\x00"}', ""]
    # Kept: a quote, a backslash, a lone surrogate, no escape at all; outside strings nothing is an escape.
    assert _decoded(r'["\"\\\u0022\u005c\udc00\q"] \n \u0040') == [r'["\"\\\"\\\udc00\q"] \n \u0040', ""]
    assert _decoded(r'"\\n"') == [r'"\\n"', ""]  # a backslash and the letter n


def test_decoder_holds_an_escape_cut_between_pieces() -> None:
    assert _decoded('"4111\\', "n1111") == ['"4111', "\n1111", ""]
    assert _decoded('"ann\\u00', "40ex") == ['"ann', "@ex", ""]
    assert _decoded('"x\\uD83D', "\\uDE00") == ['"x', "\U0001f600", ""]
    assert _decoded('"x\\u00') == ['"x', "\\u00"]


def test_decoder_stops_at_a_raw_control_character_inside_a_string() -> None:
    decoder = JsonStringDecoder()
    assert decoder.feed('"a\\nb') == '"a\nb'
    assert not decoder.broken
    assert decoder.feed('\nc\\n"') == '\nc\\n"'
    assert decoder.broken


def test_a_redaction_that_swallowed_escapes_leaves_later_ones_the_same_value(sanitizer: TextSanitizer) -> None:
    # The phone number's `\\/` are inside the redaction: the later slashes take the spellings by their place,
    # so one may be spelled differently; the value is the same.
    content = r'{"phone": "+49\/30\/12345678", "path": "a/b\/c/d"}'
    streamed, _ = streamed_content(sanitizer, [content])
    assert json.loads(streamed) == {"phone": "[REDACTED:PHONE]", "path": "a/b/c/d"}


def test_quoter_escapes_control_characters_inside_strings_and_quotes_tokens_outside() -> None:
    judged, decoder = decode_strings(r'{"a": "x\ny", "n": 4111111111111111}' + "\n")
    assert judged == '{"a": "x\ny", "n": 4111111111111111}\n'
    quoter = JsonQuoter(decoder)
    released = [quoter.feed(p) for p in ('{"a": "x\n', 'y", "n": [REDACTED:PAYMENT_CARD]}', "\n")]
    assert released == ['{"a": "x\\n', 'y", "n": "[REDACTED:PAYMENT_CARD]"}', "\n"]
    # A backslash at the end of one release escapes the next release's first character.
    quoter = JsonQuoter(JsonStringDecoder())
    assert [quoter.feed(p) for p in ('"a\\', '"\n', '"\t')] == ['"a\\', '"\\n', '"\t']
    # Without a decoder (tool arguments judged whole) only tokens are touched.
    assert JsonQuoter().feed('"a\nb" [REDACTED:EMAIL]') == '"a\nb" "[REDACTED:EMAIL]"'


# --- property: for any split, streamed == whole, the released text is JSON, no leak survives -----------

_LEAK_VALUES = st.sampled_from(
    [
        r"4111\n1111\n1111\n1111",
        r"4111\r\n1111\r\n1111\r\n1111",
        r"5555\u00205555\u00205555\u00204444",
        r"4111\u000a1111\u000A1111\u00201111",
        r"jane.doe\u0040example.com",
        r"write to jane.doe\u0040example\u002ecom today",
        r"mysql:\/\/root:Pa55w0rd2024@dbhost\/db",
        r"+49\/30\/12345678",
    ]
)
_BENIGN_VALUES = st.sampled_from(
    [
        r"line one\nline two",
        r"https:\/\/example.com\/a\/b",
        r"Order A-10023 ships",
        r"tab\there",
        r"quote \"x\" done",
        r"back\\slash",
        r"caf\u00e9 \ud83d\ude00",
    ]
)


@st.composite
def _documents(draw: st.DrawFn) -> str:
    values = draw(st.lists(st.one_of(_LEAK_VALUES, _BENIGN_VALUES), min_size=1, max_size=4))
    if not any(v in _LEAK_VALUES.elements for v in values):  # type: ignore[attr-defined]
        values.append(draw(_LEAK_VALUES))
    pretty = draw(st.booleans())
    sep, lead, end = (",\n  ", "\n  ", "\n") if pretty else (", ", "", "")
    if draw(st.booleans()):
        return "[" + lead + sep.join(f'"{v}"' for v in values) + end + "]"
    return "{" + lead + sep.join(f'"k{i}": "{v}"' for i, v in enumerate(values)) + end + "}"


@settings(max_examples=150, deadline=None)
@given(
    document=_documents(), json_mode=st.booleans(), cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=10)
)
def test_any_split_of_a_json_answer_streams_what_the_whole_answer_sends(
    sanitizer: TextSanitizer, document: str, json_mode: bool, cuts: list[int]
) -> None:
    expected, _ = whole_content(sanitizer, document, json_mode=json_mode)
    streamed, blocked = streamed_content(sanitizer, _cut(document, cuts), json_mode=json_mode)
    assert not blocked
    assert json.loads(streamed) == json.loads(expected)
    assert "[REDACTED:" in streamed
    _no_secret(json.dumps(json.loads(streamed), ensure_ascii=False))


# --- 2. content parts ----------------------------------------------------------------------------------

PARTS = {
    "email": (["mail jane.doe@", "example.com today"], ["mail [REDACTED:EMAIL]", " today"]),
    "card": (["card 4111 1111 ", "1111 1111, thanks"], ["card [REDACTED:PAYMENT_CARD]", ", thanks"]),
    "three": (["jane.", "doe@exam", "ple.com!"], ["[REDACTED:EMAIL]", "", "!"]),
}


@pytest.mark.parametrize("strings", [False, True])
@pytest.mark.parametrize("name", sorted(PARTS))
def test_a_match_across_content_parts_is_redacted_whole_as_streamed(
    sanitizer: TextSanitizer, name: str, strings: bool
) -> None:
    texts, expected = PARTS[name]
    parts: list[Any] = list(texts) if strings else [{"type": "text", "text": t} for t in texts]
    got, scan = whole_content(sanitizer, parts)
    assert got == (list(expected) if strings else [{"type": "text", "text": t} for t in expected])
    assert scan.judged == ["".join(texts)]
    assert scan.released_parts == ["".join(expected)]
    joined = "".join(texts)
    for pieces in (texts, list(joined), _cut(joined, [3, 11])):
        assert streamed_content(sanitizer, pieces, parts=True) == ("".join(expected), False)


@pytest.mark.parametrize(
    "texts",
    [
        ["Order A-10023 has 4 items, ", "ships 2026-12-01 for €49.99"],
        ["Qty 12", "34 boxes"],
        ["SKU 4006381333931", " tracking 1Z999AA10123456784"],
        ["1234 5678", " 9012 3456"],  # 16 digits that fail Luhn
    ],
)
def test_unrelated_numbers_in_two_parts_stay_unchanged(sanitizer: TextSanitizer, texts: list[str]) -> None:
    parts = [{"type": "text", "text": t} for t in texts]
    got, scan = whole_content(sanitizer, [dict(p) for p in parts])
    assert got == parts
    assert scan.hits == []
    assert streamed_content(sanitizer, texts, parts=True) == ("".join(texts), False)


@pytest.mark.parametrize("json_mode", [False, True])
def test_content_parts_that_join_to_a_json_document_are_judged_as_one(
    sanitizer: TextSanitizer, json_mode: bool
) -> None:
    texts = ['{"card": "4111\\n1111', '\\n1111\\n1111", "note": "a\\nb"}']
    got, _ = whole_content(sanitizer, [{"type": "text", "text": t} for t in texts], json_mode=json_mode)
    assert got == [
        {"type": "text", "text": '{"card":"[REDACTED:PAYMENT_CARD]","note":"a\\nb"}'},
        {"type": "text", "text": ""},
    ]
    for pieces in (texts, _cut("".join(texts), [15, 16, 30])):
        streamed, _ = streamed_content(sanitizer, pieces, json_mode=json_mode, parts=True)
        assert streamed == '{"card": "[REDACTED:PAYMENT_CARD]", "note": "a\\nb"}', pieces
    # Nothing to redact: the parts stay as they were.
    clean = [{"type": "text", "text": '{"note": "a'}, {"type": "text", "text": '\\nb"}'}]
    assert whole_content(sanitizer, [dict(p) for p in clean], json_mode=json_mode)[0] == clean


def _hit(detector: str, start: int, end: int, action: Action = Action.REDACT) -> DetectorHit:
    return DetectorHit(detector, action, start, end, "x")


def test_split_joined_puts_each_token_where_its_match_starts() -> None:
    texts = ["ab", "cd", "", "ef", "gh"]
    # A match from `b` to `e` covers three parts: the token goes to the first, the rest loses what it covered.
    assert split_joined(texts, "a[REDACTED:EMAIL]fgh", [_hit("email", 1, 5)]) == [
        "a[REDACTED:EMAIL]",
        "",
        "",
        "f",
        "gh",
    ]
    # An alert changes nothing; a block ends the text at its start.
    assert split_joined(texts, "abcdefgh", [_hit("ip_address", 2, 4, Action.ALERT)]) == texts
    assert split_joined(texts, "abc", [_hit("canary", 3, 6, Action.BLOCK)]) == ["ab", "c", "", "", ""]
    # Invisible characters are gone from the pieces as from the joined text (offsets are in the latter).
    assert split_joined(["a\u200bb", "c"], "a[REDACTED:PHONE]", [_hit("phone", 1, 3)]) == ["a[REDACTED:PHONE]", ""]
    # Pieces that do not join to the judged text (a stand-in's result) are not guessed at.
    assert split_joined(["ab"], "zz", []) is None


# --- through the gateway: the reviewer's reproduction ------------------------------------------------


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    from leakline.web.app import create_app

    tmp = tmp_path_factory.mktemp("f1")
    upstream = UpstreamThread(Canned()).start()
    settings = write_settings(tmp, upstream.upstream_url, upstream.upstream_url)
    env = Env(serve(create_app(settings)), upstream, upstream, settings, tmp)
    yield env
    env.served.stop()
    env.eu.stop()


def _answer(env: Env, prompt: str, message: dict[str, Any], deltas: list[dict[str, Any]]) -> None:
    canned = env.eu.upstream
    assert isinstance(canned, Canned)
    completion = {
        "id": "x",
        "object": "chat.completion",
        "created": 1,
        "model": "llama3.1:8b",
        "choices": [{"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}],
    }
    canned.answers[prompt] = whole(completion)
    chunks = [json.loads(_event(d)) for d in ({"role": "assistant"}, *deltas)]
    canned.answers[prompt + "+s"] = sse(*chunks, json.loads(_event({}, "stop")))


def _post(env: Env, prompt: str, *, stream: bool, **extra: Any) -> httpx.Response:
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": prompt + ("+s" if stream else "")}],
            "stream": stream, **extra}  # fmt: skip
    response = httpx.post(f"{env.url}/v1/chat/completions", json=body, headers={**auth(), **DE}, timeout=20)
    assert response.status_code == 200
    return response


@pytest.mark.parametrize("json_mode", [False, True])
@pytest.mark.parametrize("name", sorted(LEAKS))
def test_gateway_redacts_escaped_json_leaks_whole_and_streamed(gw: Env, name: str, json_mode: bool) -> None:
    content, expected_whole, expected_streamed = LEAKS[name]
    at = content.index("\\") + 1  # the first escape cut between its backslash and its letter
    pieces = [content[:5], content[5:at], content[at:]]
    _answer(gw, f"json-{name}", {"content": content}, [{"content": p} for p in pieces])
    extra = JSON_MODE if json_mode else {}
    got = _post(gw, f"json-{name}", stream=False, **extra)
    assert got.json()["choices"][0]["message"]["content"] == expected_whole
    streamed = _post(gw, f"json-{name}", stream=True, **extra)
    events = sse_events(streamed.text)
    assert _content_of(events) == expected_streamed
    assert events[-1] == "[DONE]" and events[-2]["choices"][0]["finish_reason"] == "stop"
    _no_secret(got.text)
    _no_secret(streamed.text)


def test_gateway_judges_content_parts_joined_whole_as_streamed(gw: Env) -> None:
    texts = ["mail jane.doe@", "example.com"]
    _answer(
        gw,
        "parts",
        {"content": [{"type": "text", "text": t} for t in texts]},
        [{"content": [{"type": "text", "text": t}]} for t in texts],
    )
    got = _post(gw, "parts", stream=False)
    assert got.json()["choices"][0]["message"]["content"] == [
        {"type": "text", "text": "mail [REDACTED:EMAIL]"},
        {"type": "text", "text": ""},
    ]
    gw.drain()
    records = audit_records(gw.tmp / "audit-eu", gw.tmp / "audit.key")
    meta = meta_of([r for r in records if meta_of(r).get("kind") == "gateway.exchange"][-1])
    assert [(h["detector"], h["action"], h["start"], h["end"]) for h in meta["hits"]] == [("email", "redact", 5, 25)]
    streamed = _post(gw, "parts", stream=True)
    assert _content_of(sse_events(streamed.text)) == "mail [REDACTED:EMAIL]"
    _no_secret(got.text)
    _no_secret(streamed.text)
