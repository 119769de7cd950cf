"""Leaks through the gateway: redaction and blocking, streamed and not, audit records, signals, fail closed.

With `leakline.guard.sanitize` present these run against the real sanitizer; before it landed they ran
against the stand-in of conftest.py (which redacts emails and blocks PEM private keys).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.guard.conftest import Env
from tests.guard.helpers import audit_records, meta_of
from tests.guard.test_gateway_http import chat, sse_events, streamed_content

REDACTED_EMAIL_ANSWER = "Sure, write to [REDACTED:EMAIL] and she will answer today."


def test_email_is_redacted_in_a_whole_answer(env: Env) -> None:
    response = chat(env, "email please")
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == REDACTED_EMAIL_ANSWER


def test_email_split_across_three_chunks_is_redacted_in_the_stream(env: Env) -> None:
    response = chat(env, "email please", stream=True)
    assert response.status_code == 200
    events = sse_events(response.text)
    assert "jane" not in response.text and "exam" not in response.text
    assert streamed_content(events) == REDACTED_EMAIL_ANSWER
    assert events[-1] == "[DONE]"
    finishes = [e["choices"][0]["finish_reason"] for e in events[:-1] if e["choices"]]
    assert finishes[-1] == "stop"


def test_pem_private_key_blocks_the_stream_with_content_filter(env: Env) -> None:
    response = chat(env, "pem", stream=True)
    assert response.status_code == 200
    assert "PRIVATE KEY" not in response.text
    assert "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw" not in response.text
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    assert events[-2]["choices"] == [{"index": 0, "finish_reason": "content_filter", "delta": {}}]


def test_pem_private_key_blocks_a_whole_answer(env: Env) -> None:
    response = chat(env, "pem")
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "content_filter"
    assert choice["message"]["content"] == ""
    assert "PRIVATE KEY" not in response.text


def test_exchange_audit_record_holds_scan_facts_and_encrypted_texts(env: Env) -> None:
    chat(env, "email please", stream=True, headers={"x-vercel-id": "fra1::iad1::x"})
    env.drain()
    records = audit_records(env.tmp / "audit-eu", env.tmp / "audit.key")
    exchange = next(r for r in records if meta_of(r).get("kind") == "gateway.exchange")
    meta = meta_of(exchange)
    assert meta["region"] == "eu"
    assert meta["status"] == 200
    assert meta["stream"] is True
    assert meta["country"] == "DE"
    assert meta["pop"] == "fra1"
    assert meta["blocked"] is False
    assert meta["scanned_bytes"] == len("Sure, write to jane.doe@example.com and she will answer today.")
    assert [h["detector"] for h in meta["hits"]] == ["email"]
    assert [(h["start"], h["end"], h["action"]) for h in meta["hits"]] == [(15, 35, "redact")]
    assert "jane" not in str(meta)
    assert exchange.payload["response"] == REDACTED_EMAIL_ANSWER
    assert exchange.payload["upstream_response"] == "Sure, write to jane.doe@example.com and she will answer today."
    # Nothing about the exchange lands in the sink without a region.
    assert [
        r
        for r in audit_records(env.tmp / "audit", env.tmp / "audit.key")
        if meta_of(r).get("kind") == "gateway.exchange"
    ] == []


def test_blocked_stream_raises_a_leak_signal_in_the_incident_engine(env: Env) -> None:
    chat(env, "pem", stream=True)
    env.drain()
    from sqlalchemy import text

    from leakline.incidents.runtime import store_for

    with store_for(env.settings).transaction() as session:
        rows = list(session.execute(text("SELECT kind, severity, summary FROM signals")))
    assert len(rows) == 1
    kind, severity, summary = rows[0]
    assert (kind, severity) == ("leak-caught", "high")
    assert "blocked" in summary and "secret" in summary
    assert "PRIVATE" not in summary


class _Exploding:
    def sanitize(self, text: str) -> Any:
        if text:
            raise RuntimeError("detector bug")
        from tests.guard.conftest import StandInSanitizer

        return StandInSanitizer().sanitize(text)

    def stream(self) -> Any:
        return self

    def feed(self, delta: str) -> str:
        raise RuntimeError("detector bug")


@pytest.mark.parametrize("stream", [False, True])
def test_a_raising_detector_refuses_the_response(env: Env, monkeypatch: pytest.MonkeyPatch, stream: bool) -> None:
    monkeypatch.setattr(env.gateway, "_sanitizer", _Exploding())
    response = chat(env, "email please", stream=stream)
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "sanitizer_failed"
    assert "jane" not in response.text


def test_missing_sanitizer_fails_closed(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(settings: Any) -> Any:
        raise ImportError("no sanitizer")

    monkeypatch.setattr(env.gateway, "_sanitizer", None)
    monkeypatch.setattr(env.gateway, "_sanitizer_factory", broken)
    response = httpx.post(
        f"{env.url}/v1/chat/completions",
        json={"model": "llama3.1:8b", "messages": [{"role": "user", "content": "email"}]},
        headers={"authorization": "Bearer sk-test-storefront-0123456789abcdef", "x-vercel-ip-country": "DE"},
    )
    assert response.status_code == 500
    assert response.json()["error"]["code"] == "sanitizer_failed"
    assert env.eu.upstream.requests == []
