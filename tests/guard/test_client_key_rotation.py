"""Rotating a client's API key without downtime: the old and the new key work side by side, through the
real gateway under uvicorn, and what is recorded names the client (and which of its keys), never a key."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from leakline.guard.auth import key_digest
from tests.guard.conftest import Env
from tests.guard.helpers import audit_records, meta_of

OLD = "sk-storefront-old-0123456789abcdef"
NEW = "sk-storefront-new-0123456789abcdef"
HELD = "sk-storefront-env-0123456789abcdef"


@pytest.fixture
def rotating(make_env: Any, monkeypatch: pytest.MonkeyPatch) -> Env:
    """A gateway whose storefront client holds two digests and one key in a variable, mid-rotation."""
    monkeypatch.setenv("STOREFRONT_KEY_NEXT", HELD)
    keys = {"key_sha256": [key_digest(OLD), key_digest(NEW)], "key_env": "STOREFRONT_KEY_NEXT"}
    env: Env = make_env(clients=[{"name": "storefront", **keys}])
    return env


def _chat(env: Env, key: str) -> httpx.Response:
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "hello"}]}
    headers = {"authorization": f"Bearer {key}", "x-vercel-ip-country": "DE"}
    return httpx.post(f"{env.url}/v1/chat/completions", json=body, headers=headers, timeout=20)


def test_old_and_new_keys_of_a_client_both_work_and_are_recorded_under_the_client(rotating: Env) -> None:
    env = rotating
    answers = [_chat(env, key) for key in (OLD, NEW, HELD)]
    assert [a.status_code for a in answers] == [200, 200, 200]
    assert len({a.json()["choices"][0]["message"]["content"] for a in answers}) == 1
    refused = _chat(env, "sk-storefront-older-0123456789abcdef")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"

    env.drain()
    records = [meta_of(r) for r in audit_records(env.tmp / "audit-eu", env.tmp / "audit.key")]
    exchanges = [m for m in records if m.get("kind") == "gateway.exchange"]
    # Which key was used is what tells the operator when the old one can go; the key itself is never there.
    assert [(m["actor"], m["client"], m["client_key"]) for m in exchanges] == [
        ("gateway:storefront", "storefront", "key_sha256[0]"),
        ("gateway:storefront", "storefront", "key_sha256[1]"),
        ("gateway:storefront", "storefront", "$STOREFRONT_KEY_NEXT"),
    ]
    clear = repr(records)
    for secret in (OLD, NEW, HELD, key_digest(OLD), key_digest(NEW), key_digest(HELD)):
        assert secret not in clear
    metrics = httpx.get(f"{env.url}/metrics").text
    assert 'leakline_gateway_requests_total{endpoint="/v1/chat/completions",outcome="ok",region="eu"} 3.0' in metrics
    assert "key_sha256" not in metrics and "STOREFRONT_KEY" not in metrics
