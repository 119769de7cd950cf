"""Pure parts of the gateway: settings checks, keys, header hygiene, the SSE reader, the stream relay
(property: any chunking of the upstream gives the same sanitized text as the whole answer), and the
volume baselines."""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.config import parse_settings
from leakline.errors import ConfigError
from leakline.guard.anomaly import Baseline, VolumeMonitor, edge_series, judge, pop_from_header
from leakline.guard.auth import KeyStore, key_digest
from leakline.guard.build import check_gateway_settings
from leakline.guard.errors import GatewayConfigError, Unauthorized
from leakline.guard.headers import DENY_PATTERNS, filter_upstream_headers
from leakline.guard.settings import AnomalySettings, ClientSettings
from leakline.guard.sse import MalformedStream, SseReader
from leakline.guard.upstream import DEMO_CANARY, SCRIPTS

# --- settings ------------------------------------------------------------------------------------


def test_issue_toml_shape_is_accepted() -> None:
    settings = parse_settings(
        {
            "gateway": {
                "country_header": "x-vercel-ip-country",
                "trusted_proxies": ["127.0.0.1/32", "::1/128"],
                "on_missing_country": "reject",
            },
            "regions": {"eu": {"upstream": "http://127.0.0.1:11434/v1", "countries": ["DE", "FR", "NL"]}},
            "clients": [{"name": "storefront", "key_sha256": "a" * 64}],
            "audit": {"path": "a", "key": "k", "sinks": {"eu": {"path": "b"}}},
        },
        source="leakline.toml",
    )
    check_gateway_settings(settings)
    assert settings.regions["eu"].countries == ["DE", "FR", "NL"]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"gateway": {"trusted_proxies": ["127.0.0.1/32", "::1/129"]}},
            "leakline.toml: gateway.trusted_proxies.1: expected an IP network such as '10.0.0.0/8' or '::1/128', "
            "got '::1/129'",
        ),
        (
            {"regions": {"eu": {"upstream": "127.0.0.1:11434/v1", "countries": []}}},
            "leakline.toml: regions.eu.upstream: expected an http:// or https:// URL of the OpenAI-compatible API "
            "(with /v1), got '127.0.0.1:11434/v1'",
        ),
        (
            {"regions": {"eu": {"upstream": "http://127.0.0.1/v1", "countries": ["de"]}}},
            "leakline.toml: regions.eu.countries.0: expected a two-letter country code in capitals "
            "(ISO 3166-1 alpha-2, e.g. 'DE'), got 'de'",
        ),
        (
            {"clients": [{"name": "a"}]},
            "leakline.toml: clients.0: give key_sha256 or key_env (or both, during a key rotation), or database_keys = true, got a table",
        ),
        (
            {"clients": [{"name": "a", "key_sha256": ["a" * 64, "XYZ"]}]},
            "leakline.toml: clients.0.key_sha256.1: expected the SHA-256 of the key as 64 lowercase hex digits "
            "(printf %s \"$KEY\" | sha256sum), got 'XYZ'",
        ),
        (
            {"clients": [{"name": "a", "key_sha256": 7}]},
            "leakline.toml: clients.0.key_sha256: expected the SHA-256 of the key as 64 lowercase hex digits, or "
            "an array of them (several keys during a rotation), got 7",
        ),
        (
            {"clients": [{"name": "a", "key_sha256": []}]},
            "leakline.toml: clients.0: give key_sha256 or key_env (or both, during a key rotation), or database_keys = true, got a table",
        ),
        (
            {"clients": [{"name": "a", "key_env": ["STOREFRONT_KEY", 7]}]},
            "leakline.toml: clients.0.key_env.1: expected a string, got 7",
        ),
        (
            {"clients": [{"name": "a", "key_env": {"name": "STOREFRONT_KEY"}}]},
            "leakline.toml: clients.0.key_env: expected the name of an environment variable, or an array of them "
            "(several keys during a rotation), got a table",
        ),
        (
            {"clients": [{"name": "a", "key_sha256": "XYZ"}]},
            "leakline.toml: clients.0.key_sha256: expected the SHA-256 of the key as 64 lowercase hex digits "
            "(printf %s \"$KEY\" | sha256sum), got 'XYZ'",
        ),
        ({"gateway": {"colour": "red"}}, "leakline.toml: gateway.colour: unknown key"),
        (
            {"gateway": {"readiness": "some"}},
            "leakline.toml: gateway.readiness: expected one of 'any' or 'all', got 'some'",
        ),
        (
            {"gateway": {"readiness": True}},
            "leakline.toml: gateway.readiness: expected one of 'any' or 'all', got True",
        ),
        # A missing key or an unknown table is not "got a table": pydantic hands over the enclosing table.
        ({"regions": {"us": {"countries": ["US"]}}}, "leakline.toml: regions.us.upstream: required key is missing"),
        ({"gateway": {"colour": {"r": 1}}}, "leakline.toml: gateway.colour: unknown key"),
    ],
)
def test_invalid_settings_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, source="leakline.toml")
    assert caught.value.message == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"gateway": {"on_missing_country": "mars"}},
            "t.toml: gateway.on_missing_country: expected 'reject' or a region name, got 'mars'",
        ),
        (
            {"clients": [{"name": "a", "key_sha256": "a" * 64, "regions": ["us"]}]},
            "t.toml: clients.0.regions: no region named 'us'",
        ),
        ({"regions": {"eu": {"upstream": "http://x/v1"}}}, "t.toml: regions.eu: no audit sink for this region"),
        (
            {"regions": {"EU": {"upstream": "http://x/v1"}}},
            "t.toml: regions.EU: a region name is lowercase letters, digits, '-' and '_' (did you mean 'eu'?)",
        ),
    ],
)
def test_cross_section_rules(data: dict[str, Any], message: str) -> None:
    with pytest.raises(GatewayConfigError) as caught:
        check_gateway_settings(parse_settings(data, source="t.toml"))
    assert caught.value.message == message


# --- keys ----------------------------------------------------------------------------------------


def test_keys_by_hash_and_by_env() -> None:
    store = KeyStore.from_settings(
        [ClientSettings(name="a", key_sha256=key_digest("sk-a")), ClientSettings(name="b", key_env="B_KEY")],
        environ={"B_KEY": "sk-b"},
    )
    assert store.authenticate("Bearer sk-a").name == "a"
    assert store.authenticate("bearer sk-b").name == "b"
    assert store.authenticate("Bearer sk-a ").name == "a"  # surrounding blanks are not part of a key
    with pytest.raises(Unauthorized) as caught:
        store.authenticate("Bearer sk-c")
    assert caught.value.message == "invalid API key"


def test_unset_key_env_is_a_config_error() -> None:
    with pytest.raises(GatewayConfigError) as caught:
        KeyStore.from_settings([ClientSettings(name="b", key_env="NOPE")], environ={})
    assert caught.value.message == "leakline.toml: clients.0.key_env: environment variable 'NOPE' is unset or empty"


def _client(**keys: Any) -> ClientSettings:
    return parse_settings({"clients": [{"name": "storefront", **keys}]}, source="leakline.toml").clients[0]


def test_a_client_holds_several_keys_during_a_rotation() -> None:
    old, new, env_old, env_new = "sk-old-0123456789", "sk-new-0123456789", "sk-env-old-0123", "sk-env-new-0123"
    by_digest = _client(key_sha256=[key_digest(old), key_digest(new)])
    assert by_digest.key_sha256 == [key_digest(old), key_digest(new)] and by_digest.key_env == []
    one = _client(key_sha256=key_digest(old))  # one string, as before
    assert one.key_sha256 == [key_digest(old)]
    both = _client(key_env=["STOREFRONT_KEY", "STOREFRONT_KEY_NEXT"], key_sha256=key_digest(new))
    store = KeyStore.from_settings(
        [by_digest, ClientSettings.model_validate({"name": "backoffice", "key_env": ["B_OLD", "B_NEW"]})],
        environ={"B_OLD": env_old, "B_NEW": env_new},
    )
    # Every key names the same client; only the audit record says which of its keys was used.
    assert [(c.name, c.key) for c in (store.authenticate(f"Bearer {k}") for k in (old, new, env_old, env_new))] == [
        ("storefront", "key_sha256[0]"),
        ("storefront", "key_sha256[1]"),
        ("backoffice", "$B_OLD"),
        ("backoffice", "$B_NEW"),
    ]
    assert store.authenticate(f"Bearer {old}") == store.authenticate(f"Bearer {new}")  # same permissions
    mixed = KeyStore.from_settings([both], environ={"STOREFRONT_KEY": old, "STOREFRONT_KEY_NEXT": env_new})
    assert {mixed.authenticate(f"Bearer {k}").key for k in (old, env_new, new)} == {
        "$STOREFRONT_KEY",
        "$STOREFRONT_KEY_NEXT",
        "key_sha256[0]",
    }
    with pytest.raises(Unauthorized):
        mixed.authenticate(f"Bearer {env_old}")


def test_rotation_mistakes_are_config_errors_naming_the_key_and_index() -> None:
    with pytest.raises(GatewayConfigError) as caught:
        KeyStore.from_settings(
            [_client(key_env=["STOREFRONT_KEY", "STOREFRONT_KEY_NEXT"])], environ={"STOREFRONT_KEY": "x"}
        )
    assert caught.value.message == (
        "leakline.toml: clients.0.key_env.1: environment variable 'STOREFRONT_KEY_NEXT' is unset or empty"
    )
    # The old digest pasted twice instead of the new one: the new key would be refused once in use.
    digest = key_digest("sk-old-0123456789")
    with pytest.raises(GatewayConfigError) as caught:
        KeyStore.from_settings([_client(key_sha256=[digest, digest])])
    assert caught.value.message == "leakline.toml: clients.0.key_sha256.1: the same digest as key_sha256.0"
    # Another client's key (old or new) would make the caller ambiguous.
    other = ClientSettings(name="backoffice", key_sha256=[key_digest("sk-b"), digest])
    with pytest.raises(GatewayConfigError) as caught:
        KeyStore.from_settings([_client(key_sha256=digest), other])
    assert caught.value.message == "leakline.toml: clients.1.key_sha256.1: same key as client 'storefront'"
    # The same key in two variables of one client (mid-rotation, before the old variable is dropped) is fine.
    same = KeyStore.from_settings([_client(key_env=["A", "B"])], environ={"A": "sk-same-0123", "B": "sk-same-0123"})
    assert same.authenticate("Bearer sk-same-0123").key == "$A"


# --- headers -------------------------------------------------------------------------------------

UPSTREAM = [
    ("Server", "ollama"),
    ("X-Powered-By", "x"),
    ("X-Ollama-Model", "llama"),
    ("X-Prompt-Tokens", "3"),
    ("Content-Type", "application/json"),
    ("X-Request-Id", "r1"),
    ("Transfer-Encoding", "chunked"),
    ("X-Vllm-Log", "p"),
    ("X-Custom", "ok"),
    ("Set-Cookie", "s=1"),
    ("Openai-Model", "m"),
]


def test_allow_mode_passes_only_the_allow_list() -> None:
    out = filter_upstream_headers(
        UPSTREAM, mode="allow", allowed=frozenset({"content-type", "x-request-id"}), denied=DENY_PATTERNS
    )
    assert out == [("content-type", "application/json"), ("x-request-id", "r1")]


def test_deny_mode_drops_leaky_headers() -> None:
    out = filter_upstream_headers(UPSTREAM, mode="deny", allowed=frozenset(), denied=DENY_PATTERNS)
    assert out == [("content-type", "application/json"), ("x-request-id", "r1"), ("x-custom", "ok")]


# --- SSE reader ----------------------------------------------------------------------------------


def test_sse_reader_reassembles_events_split_anywhere() -> None:
    raw = b'data: {"a":1}\n\n: comment\n\ndata: {"b":\ndata: 2}\r\n\r\ndata: [DONE]\n\n'
    for cut in range(len(raw)):
        reader = SseReader()
        events = [*reader.feed(raw[:cut]), *reader.feed(raw[cut:]), *reader.finish()]
        assert events == ['{"a":1}', '{"b":\n2}', "[DONE]"]


def _reference_events(raw: bytes) -> list[str]:
    """The SSE events of `raw`, found the slow way (earliest separator first, one event at a time)."""
    from leakline.guard.sse import _split_event

    out: list[str] = []
    while (split := _split_event(raw)) is not None:
        event, raw = split
        data = SseReader._data(event, 0)
        if data is not None:
            out.append(data)
    if raw.strip() and (data := SseReader._data(raw, 0)) is not None:
        out.append(data)
    return out


@settings(max_examples=300, deadline=None)
@given(
    events=st.lists(st.sampled_from(['data: {"a":1}', "data: x\ndata: y", ": c", "data:[DONE]", "id: 1", "data: é"])),
    separators=st.lists(st.sampled_from(["\n\n", "\r\n\r\n", "\r\r", "\n\n\n"]), min_size=1),
    cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=6),
)
def test_sse_reader_gives_the_same_events_for_any_framing_and_split(
    events: list[str], separators: list[str], cuts: list[int]
) -> None:
    raw = "".join(e + separators[i % len(separators)] for i, e in enumerate(events)).encode()
    reader = SseReader()
    got: list[str] = []
    last = 0
    for cut in sorted(c for c in cuts if c <= len(raw)):
        got += reader.feed(raw[last:cut])
        last = cut
    got += reader.feed(raw[last:])
    got += reader.finish()
    assert got == _reference_events(raw)


def test_sse_reader_names_the_offset_of_bad_utf8() -> None:
    reader = SseReader()
    with pytest.raises(MalformedStream) as caught:
        list(reader.feed(b'data: {"a":1}\n\ndata: \xff\n\n'))
    assert caught.value.offset == 21


# --- the stream relay, property-tested with the real sanitizer ----------------------------------


def _relay(kind: str = "chat") -> Any:
    from leakline.guard.pipeline import Route, _Request, _StreamRelay, load_sanitizer

    settings = parse_settings({"sanitize": {"canaries": [DEMO_CANARY]}}, source="t.toml")
    sanitizer = load_sanitizer(settings)
    route = Route.__new__(Route)
    route.kind = kind
    return _StreamRelay(route, _Request(route="/v1/chat/completions"), sanitizer), sanitizer


def _chunk(text: str | None, finish: str | None = None) -> str:
    delta = {} if text is None else {"content": text}
    return json.dumps(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": "m",
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
    )


def _relay_text(pieces: list[str]) -> tuple[str, bool]:
    relay, _ = _relay()
    out: list[bytes] = []
    for piece in pieces:
        out.extend(relay.event(_chunk(piece), "u"))
        if relay.scan.blocked:
            break
    if not relay.scan.blocked:
        out.extend(relay.event(_chunk(None, "stop"), "u"))
        out.extend(relay.close())
    text = ""
    for block in b"".join(out).decode().split("\n\n"):
        if block.startswith("data: {"):
            for choice in json.loads(block[6:])["choices"]:
                text += choice.get("delta", {}).get("content") or ""
    return text, relay.scan.blocked


LEAKS = st.sampled_from(sorted(SCRIPTS))


@settings(max_examples=40, deadline=None)
@given(name=LEAKS, cuts=st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_any_chunking_gives_the_whole_answer_sanitization(name: str, cuts: list[int]) -> None:
    text = SCRIPTS[name].text
    points = sorted({c % (len(text) + 1) for c in cuts} | {0, len(text)})
    pieces = [text[a:b] for a, b in itertools.pairwise(points)]
    _, sanitizer = _relay()
    whole = sanitizer.sanitize(text)
    streamed, blocked = _relay_text(pieces)
    assert blocked == whole.blocked
    assert streamed == ("" if whole.blocked else whole.text)


def test_relay_rejects_non_json_events() -> None:
    from leakline.guard.errors import UpstreamProtocolError

    relay, _ = _relay()
    with pytest.raises(UpstreamProtocolError):
        relay.event("not json", "http://u")


# --- volume baselines ----------------------------------------------------------------------------


def test_pop_and_edge_series() -> None:
    assert pop_from_header("fra1::iad1::1699-abc") == "fra1"
    assert pop_from_header("<script>::x") is None
    assert pop_from_header(None) is None
    assert edge_series("DE", "fra1") == "edge:DE/fra1"
    assert edge_series(None, None) == "edge:--/-"


def test_baseline_warms_up_then_flags_a_spike() -> None:
    cfg = AnomalySettings(warmup_minutes=5, threshold=6.0, alpha=0.5, window_minutes=10)
    baseline = Baseline()
    for value in [10, 12, 11, 9, 10]:
        baseline, score = judge(baseline, float(value), cfg)
        assert score is None  # warm-up: never flags
    baseline, score = judge(baseline, 11.0, cfg)
    assert score is None
    _, score = judge(baseline, 200.0, cfg)
    assert score is not None and score > 6.0


def test_a_spike_during_warmup_is_not_flagged() -> None:
    cfg = AnomalySettings(warmup_minutes=5)
    baseline = Baseline()
    baseline, _ = judge(baseline, 10.0, cfg)
    _, score = judge(baseline, 10_000.0, cfg)
    assert score is None


def test_workers_share_counts_and_each_minute_is_judged_once(tmp_path: Path) -> None:
    cfg = AnomalySettings(warmup_minutes=3, threshold=6.0, alpha=0.5, window_minutes=10)
    path = tmp_path / "state.sqlite"
    a, b = VolumeMonitor.on_file(path, cfg), VolumeMonitor.on_file(path, cfg)
    series = ("edge:DE/fra1", "key:storefront")
    for minute in range(100, 106):  # six quiet minutes, 10 requests each, split over two workers
        a.record(minute, series, {"requests": 6.0})
        b.record(minute, series, {"requests": 4.0})
    a.flush()
    b.flush()
    assert a.evaluate(107) == [] and b.evaluate(107) == []
    a.record(107, series, {"requests": 150.0})
    b.record(107, series, {"requests": 150.0})
    b.flush()
    found = a.evaluate(109)
    assert sorted((x.series, x.metric, x.value, x.minute) for x in found) == [
        ("edge:DE/fra1", "requests", 300.0, 107),
        ("key:storefront", "requests", 300.0, 107),
    ]
    assert found[0].median == pytest.approx(10.0)
    assert b.evaluate(109) == []  # already judged by a
    a.close()
    b.close()


@pytest.mark.parametrize("cut", [0, 1, 2, 3, 4, 10])
def test_a_byte_order_mark_before_the_first_event_is_dropped(cut: int) -> None:
    # Before: the BOM made the first line `\ufeffdata: …`, a field of another name, and the first event (the
    # answer's first piece) vanished without a word.
    raw = '\ufeffdata: {"a":1}\n\ndata: [DONE]\n\n'.encode()
    reader = SseReader()
    assert [*reader.feed(raw[:cut]), *reader.feed(raw[cut:]), *reader.finish()] == ['{"a":1}', "[DONE]"]
    # Only at the start: one later in the stream is the data's own.
    reader = SseReader()
    later = 'data: {"a":1}\n\n\ufeffdata: {"b":2}\n\n'.encode()
    assert [*reader.feed(later), *reader.finish()] == ['{"a":1}']
    with pytest.raises(MalformedStream, match="invalid UTF-8 at byte offset 9 "):
        list(SseReader().feed(b"\xef\xbb\xbfdata: \xff\n\n"))


def test_only_headers_without_a_shape_of_their_own_are_judged() -> None:
    judged: list[str] = []

    def judge(value: str) -> list[str]:
        judged.append(value)
        return ["email"] if "@" in value else []

    upstream = [("Content-Type", "application/json"), ("X-Request-Id", "r-1"), ("X-Custom", "ok"),
                ("X-Mail", "a@example.com")]  # fmt: skip
    out = filter_upstream_headers(upstream, mode="deny", allowed=frozenset(), denied=DENY_PATTERNS, judge=judge)
    assert out == [("content-type", "application/json"), ("x-request-id", "r-1"), ("x-custom", "ok")]
    assert judged == ["ok", "a@example.com"]  # content-type is replaced by the gateway's own; ids are shaped
