"""Leaks through the gateway with the real sanitizer: the scripted upstream's five leaks, streamed and not.

The upstream splits each leak the way token streams do (an email across three chunks, a card number
cut mid-group, a base64 canary cut in two, the protected paragraph in 37-character pieces, a PEM key
cut inside its body). Redactions must be identical streamed and not; blocks end a stream with
`finish_reason: content_filter` and `[DONE]`; every exchange is audited in its region with the scan
facts, and hits become signals in the incident engine.
"""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from leakline.guard.upstream import DEMO_CANARY, FAKE_PEM, PROTECTED_PARAGRAPH, SCRIPTS
from leakline.incidents.runtime import store_for
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, audit_records, meta_of
from tests.guard.test_gateway_http import chat, sse_events, streamed_content

REDACTED = {
    "email": "Sure, write to [REDACTED:EMAIL] and she will answer today.",
    "card": "The card on file is [REDACTED:PAYMENT_CARD], expiring 12/29.",
    "pem": "Here is the key:\n[REDACTED:SECRET]\nKeep it safe.",
}
BLOCKED = ("canary", "corpus")
SECRETS = (
    "jane.doe",
    "doe@exam",
    "4111",
    "PRIVATE KEY",
    "MIIEvQ",
    PROTECTED_PARAGRAPH[:40],
    DEMO_CANARY,
    base64.b64encode(DEMO_CANARY.encode()).decode()[:20],
)


def _no_secret(body: str) -> None:
    for secret in SECRETS:
        assert secret not in body


@pytest.mark.parametrize("name", sorted(REDACTED))
def test_redacted_identically_whole_and_streamed(env: Env, name: str) -> None:
    whole = chat(env, name)
    assert whole.status_code == 200
    assert whole.json()["choices"][0]["message"]["content"] == REDACTED[name]
    assert whole.json()["choices"][0]["finish_reason"] == "stop"
    streamed = chat(env, name, stream=True)
    events = sse_events(streamed.text)
    assert streamed_content(events) == REDACTED[name]
    assert events[-1] == "[DONE]"
    assert events[-2]["choices"][0]["finish_reason"] == "stop"
    _no_secret(whole.text)
    _no_secret(streamed.text)


@pytest.mark.parametrize("name", BLOCKED)
def test_blocked_whole_and_streamed(env: Env, name: str) -> None:
    whole = chat(env, name)
    choice = whole.json()["choices"][0]
    assert (choice["finish_reason"], choice["message"]["content"]) == ("content_filter", "")
    streamed = chat(env, name, stream=True)
    events = sse_events(streamed.text)
    assert events[-1] == "[DONE]"
    assert events[-2]["choices"] == [{"index": 0, "finish_reason": "content_filter", "delta": {}}]
    assert streamed_content(events) == ""
    _no_secret(whole.text)
    _no_secret(streamed.text)


def test_completions_route_is_sanitized_too(env: Env) -> None:
    headers = {"authorization": f"Bearer {KEYS['storefront']}", "x-vercel-ip-country": "DE"}
    body = {"model": "llama3.1:8b", "prompt": "card"}
    whole = httpx.post(f"{env.url}/v1/completions", json=body, headers=headers)
    assert whole.json()["choices"][0]["text"] == REDACTED["card"]
    streamed = httpx.post(f"{env.url}/v1/completions", json={**body, "stream": True}, headers=headers)
    events = sse_events(streamed.text)
    assert "".join(e["choices"][0]["text"] for e in events[:-1]) == REDACTED["card"]


def test_exchange_audit_record_holds_scan_facts_and_encrypted_texts(fresh_env: Env) -> None:
    chat(fresh_env, "email please", stream=True, headers={"x-vercel-id": "fra1::iad1::x"})
    fresh_env.drain()
    records = audit_records(fresh_env.tmp / "audit-eu", fresh_env.tmp / "audit.key")
    exchange = next(r for r in records if meta_of(r).get("kind") == "gateway.exchange")
    meta = meta_of(exchange)
    original = SCRIPTS["email"].text
    assert meta["region"] == "eu"
    assert (meta["status"], meta["stream"], meta["country"], meta["pop"], meta["blocked"]) == (
        200,
        True,
        "DE",
        "fra1",
        False,
    )
    assert meta["scanned_bytes"] == len(original.encode())
    assert [(h["detector"], h["action"], h["start"], h["end"]) for h in meta["hits"]] == [
        ("email", "redact", original.index("jane"), original.index(" and she"))
    ]
    assert set(meta["detector_versions"]) >= {"email", "payment_card", "canary", "protected_text", "secret"}
    assert "jane" not in str(meta)
    assert exchange.payload["response"] == REDACTED["email"]
    assert exchange.payload["upstream_response"] == original
    # The region's exchange is in the region's sink only.
    assert [
        r
        for r in audit_records(fresh_env.tmp / "audit", fresh_env.tmp / "audit.key")
        if meta_of(r).get("kind") == "gateway.exchange"
    ] == []


def _signals(env: Env) -> list[Any]:
    with store_for(env.settings).transaction() as session:
        return list(session.execute(text("SELECT kind, severity, summary, source FROM signals ORDER BY at")))


def test_hits_become_leak_signals_in_the_incident_engine(fresh_env: Env) -> None:
    chat(fresh_env, "canary", stream=True)
    chat(fresh_env, "card")
    fresh_env.drain()
    rows = _signals(fresh_env)
    assert [(r[0], r[1], r[3]) for r in rows] == [
        ("leak-caught", "high", "gateway:eu"),
        ("leak-caught", "medium", "gateway:eu"),
    ]
    assert rows[0][2] == "model output blocked on /v1/chat/completions: 1 hit(s) of canary"
    assert rows[1][2] == "model output sanitized on /v1/chat/completions: 1 hit(s) of payment_card"


def test_benign_answer_raises_no_signal(fresh_env: Env) -> None:
    chat(fresh_env, "where is my order", stream=True)
    fresh_env.drain()
    assert _signals(fresh_env) == []


def test_prompts_are_redacted_before_the_upstream_when_configured(make_env: Any) -> None:
    env = make_env(redact_prompts=True)
    chat(env, "my mail is max.mustermann@example.de, where is my order?")
    sent = env.eu.upstream.requests[0]["messages"][0]["content"]
    assert sent == "my mail is [REDACTED:EMAIL], where is my order?"


class _Exploding:
    def sanitize(self, text: str) -> Any:
        raise RuntimeError("detector bug")

    def stream(self) -> Any:
        return self

    def feed(self, delta: str) -> str:
        raise RuntimeError("detector bug")


@pytest.mark.parametrize("stream", [False, True])
def test_a_raising_detector_refuses_the_response(fresh_env: Env, monkeypatch: pytest.MonkeyPatch, stream: bool) -> None:
    monkeypatch.setattr(fresh_env.gateway, "_sanitizer", _Exploding())
    fresh_env.gateway.policies.reset()  # the route policies hold the sanitizers built at start-up
    response = chat(fresh_env, "email please", stream=stream)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "sanitizer_failed"
    _no_secret(response.text)
    fresh_env.drain()
    assert [(r[0], r[1]) for r in _signals(fresh_env)] == [("leak-caught", "high")]


class _ExplodingAtTheEnd:
    """Passes deltas through and fails when the stream is flushed: the refusal comes after text went out."""

    hits: tuple[()] = ()
    blocked = False

    def stream(self) -> Any:
        return self

    def feed(self, delta: str) -> str:
        return delta

    def finish(self) -> str:
        raise RuntimeError("detector bug")


def test_a_detector_failing_at_the_end_of_a_stream_ends_it_with_content_filter(
    fresh_env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fresh_env.gateway, "_sanitizer", _ExplodingAtTheEnd())
    fresh_env.gateway.policies.reset()
    # The upstream paces its pieces, so that the first ones arrive (and go out) in reads of their own before the
    # flush fails: unpaced, a loaded machine could read the whole answer at once, and nothing went out first.
    monkeypatch.setattr(fresh_env.eu.upstream, "delay", 0.0002)
    response = chat(fresh_env, "the catalogue please", stream=True)
    assert response.status_code == 200  # the stream had begun: it cannot turn into an error status
    events = sse_events(response.text)
    # Text sent before the failure (never the read in which it failed), the refusal once, then [DONE].
    sent = streamed_content(events)
    assert sent and SCRIPTS["catalogue"].text.startswith(sent)
    assert [e["choices"] for e in events[-2:-1]] == [[{"index": 0, "finish_reason": "content_filter", "delta": {}}]]
    assert events[-1] == "[DONE]"
    assert sum(1 for e in events if e != "[DONE]" and e["choices"][0].get("finish_reason") is not None) == 1
    fresh_env.drain()
    assert [(r[0], r[1]) for r in _signals(fresh_env)] == [("leak-caught", "high")]
    records = audit_records(fresh_env.tmp / "audit-eu", fresh_env.tmp / "audit.key")
    (meta,) = [meta_of(r) for r in records if meta_of(r).get("kind") == "gateway.exchange"]
    assert (meta["status"], meta["error"], meta["blocked"]) == (200, "sanitizer_failed", True)


def test_missing_sanitizer_fails_closed(fresh_env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(settings: Any) -> Any:
        raise ImportError("no sanitizer")

    monkeypatch.setattr(fresh_env.gateway, "_sanitizer", None)
    monkeypatch.setattr(fresh_env.gateway, "_sanitizer_factory", broken)
    fresh_env.gateway.policies.reset()
    response = chat(fresh_env, "email")
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "sanitizer_failed"
    assert fresh_env.eu.upstream.requests == []


def test_pem_constant_is_a_private_key_block() -> None:
    assert FAKE_PEM.startswith("-----BEGIN PRIVATE KEY-----\n") and FAKE_PEM.endswith("-----END PRIVATE KEY-----")


def test_a_key_may_override_detector_actions(env: Env) -> None:
    strict = chat(env, "email", headers={"authorization": f"Bearer {KEYS['strict']}"})
    assert strict.json()["choices"][0]["finish_reason"] == "content_filter"
    assert strict.json()["choices"][0]["message"]["content"] == ""
    default = chat(env, "email")
    assert default.json()["choices"][0]["message"]["content"] == REDACTED["email"]


def test_client_leaving_mid_stream_closes_the_upstream_and_is_audited(fresh_env: Env) -> None:
    fresh_env.eu.upstream.delay = 0.5
    body = {"model": "llama3.1:8b", "stream": True, "messages": [{"role": "user", "content": "email"}]}
    headers = {"authorization": f"Bearer {KEYS['storefront']}", "x-vercel-ip-country": "DE"}
    with httpx.stream("POST", f"{fresh_env.url}/v1/chat/completions", json=body, headers=headers) as response:
        first = next(response.iter_bytes())
    assert first.startswith(b"data: {")
    deadline = 50
    while deadline and not _exchanges(fresh_env):
        fresh_env.drain()
        deadline -= 1
    (exchange,) = _exchanges(fresh_env)
    assert (meta_of(exchange)["status"], meta_of(exchange)["error"]) == (499, "client_disconnected")


def _exchanges(env: Env) -> list[Any]:
    if not (env.tmp / "audit-eu").exists():
        return []
    records = audit_records(env.tmp / "audit-eu", env.tmp / "audit.key")
    return [r for r in records if meta_of(r).get("kind") == "gateway.exchange"]


def test_canary_is_inserted_into_chat_requests_when_enabled(make_env: Any) -> None:
    env = make_env(insert_canary=True)
    response = chat(env, "where is my order")
    assert response.status_code == 200
    messages = env.eu.upstream.requests[0]["messages"]
    assert messages[0]["role"] == "system"
    assert DEMO_CANARY in messages[0]["content"]
    assert messages[1] == {"role": "user", "content": "where is my order"}
