"""Lone UTF-16 surrogates (`"\\ud800"` in JSON): a client's is a 400 naming the field; a model's is repaired
to U+FFFD, sanitized and audited like any other text, instead of a 500 and a false "detector failed" alarm."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from leakline.guard.surrogates import has_surrogate_escape, lone_surrogate_field, without_lone_surrogates
from leakline.guard.upstream import SCRIPTS, Script
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, audit_records, meta_of
from tests.guard.test_gateway_policies import chat, chat_text, exchanges

DE = {"x-vercel-ip-country": "DE"}


@pytest.mark.parametrize("stream", [False, True])
def test_a_lone_surrogate_from_the_model_becomes_a_replacement_character(
    make_env: Any, monkeypatch: pytest.MonkeyPatch, stream: bool
) -> None:
    monkeypatch.setitem(
        SCRIPTS, "surrogate", Script(("Broken \ud800 token, ", "write to jane.doe@", "example.com \ud83d\ude00"))
    )
    env = make_env()
    response = chat(env, "surrogate", stream=stream)
    assert response.status_code == 200, response.text
    assert chat_text(response, stream=stream) == ("Broken \ufffd token, write to [REDACTED:EMAIL] \U0001f600", "stop")
    (record,) = exchanges(env)  # audited (the record is encrypted JSON: it could not hold the lone half)
    assert (record["status"], [h["detector"] for h in record["hits"]]) == (200, ["email"])
    assert env.gateway.events.failures == 0
    signals = [meta_of(r)["signal"] for r in audit_records(env.tmp / "audit-eu", env.tmp / "audit.key")
               if meta_of(r).get("kind") == "gateway.signal"]  # fmt: skip
    assert [s["fingerprint"].split(":")[0] for s in signals] == ["gateway-leak"]  # no "detector failed" alarm


def test_a_lone_surrogate_in_a_prompt_is_a_400_naming_the_field(env: Env) -> None:
    raw = (
        '{"model": "llama3.1:8b", "messages": [{"role": "user", "content": "fine \\ud83d\\ude00"}, '
        '{"role": "user", "content": "broken \\udc00 here"}]}'
    )
    response = httpx.post(
        f"{env.url}/v1/chat/completions",
        content=raw.encode(),
        headers={"authorization": f"Bearer {KEYS['storefront']}", "content-type": "application/json", **DE},
        timeout=20,
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["param"]) == ("invalid_request", "messages[1].content")
    assert error["message"] == (
        "request body field messages[1].content holds a lone UTF-16 surrogate escape (\\uD800-\\uDFFF without "
        "its pair): text must be valid Unicode"
    )
    assert env.eu.upstream.requests == []


def test_surrogate_helpers() -> None:
    assert has_surrogate_escape('{"a": "\\uD83D\\uDE00"}') and has_surrogate_escape('"\\udfff"')
    assert not has_surrogate_escape('{"a": "\\u00e9 \\ue000 \\\\ud800"}'.replace("\\\\ud800", "x"))
    assert without_lone_surrogates({"k\udc00": ["a\ud800b", "\U0001f600", 1, None]}) == {
        "k\ufffd": ["a\ufffdb", "\U0001f600", 1, None]
    }
    assert lone_surrogate_field({"messages": [{"content": "ok"}, {"content": ["x", "\ud800"]}]}) == (
        "messages[1].content[1]"
    )
    assert lone_surrogate_field({"a\ud800": 1}) == "(body) (a key)"
    assert lone_surrogate_field({"input": "fine \U0001f600"}) is None
