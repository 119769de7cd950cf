"""The official `openai` Python client, and the `openai` npm client from a plain Node script, talking to the
gateway (the same npm client inside a Next.js app's route handlers: test_next_routes.py)."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import openai
import pytest

from tests.guard.conftest import Env
from tests.guard.helpers import KEYS
from tests.nextapps import require_install

NODE_FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "guard-node"
DE = {"x-vercel-ip-country": "DE"}


def _client(env: Env, key: str = "storefront") -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{env.url}/v1", api_key=KEYS[key], default_headers=DE, max_retries=0, timeout=20)


def test_python_client_non_stream_redacts(env: Env) -> None:
    completion = _client(env).chat.completions.create(
        model="llama3.1:8b", messages=[{"role": "user", "content": "email"}]
    )
    assert completion.choices[0].message.content == "Sure, write to [REDACTED:EMAIL] and she will answer today."
    assert completion.choices[0].finish_reason == "stop"


def test_python_client_stream_redacts_and_blocks(env: Env) -> None:
    client = _client(env)
    chunks = list(
        client.chat.completions.create(model="llama3.1:8b", messages=[{"role": "user", "content": "card"}], stream=True)
    )
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "The card on file is [REDACTED:PAYMENT_CARD], expiring 12/29."
    blocked = list(
        client.chat.completions.create(
            model="llama3.1:8b", messages=[{"role": "user", "content": "canary"}], stream=True
        )
    )
    assert [c.choices[0].finish_reason for c in blocked if c.choices][-1] == "content_filter"


def test_python_client_models_and_embeddings(env: Env) -> None:
    client = _client(env)
    assert [m.id for m in client.models.list()] == ["llama3.1:8b"]
    embedding = client.embeddings.create(model="llama3.1:8b", input="hello")
    assert embedding.data[0].embedding == [0.1, -0.2, 0.3]


def test_python_client_sees_openai_errors(env: Env) -> None:
    with pytest.raises(openai.AuthenticationError) as auth:
        openai.OpenAI(base_url=f"{env.url}/v1", api_key="sk-nope", default_headers=DE, max_retries=0).models.list()
    assert auth.value.code == "invalid_api_key"
    with pytest.raises(openai.APIStatusError) as residency:
        openai.OpenAI(
            base_url=f"{env.url}/v1",
            api_key=KEYS["storefront"],
            default_headers={"x-vercel-ip-country": "JP"},
            max_retries=0,
        ).chat.completions.create(model="llama3.1:8b", messages=[{"role": "user", "content": "hi"}])
    assert residency.value.status_code == 451
    assert residency.value.code == "residency_refused"
    with pytest.raises(openai.NotFoundError):
        _client(env).chat.completions.create(model="gpt-9", messages=[{"role": "user", "content": "hi"}])


def test_node_openai_client(env: Env) -> None:
    node = require_install(NODE_FIXTURE, "openai")
    result = subprocess.run(
        [node, str(NODE_FIXTURE / "chat.mjs")],
        env={**os.environ, "GATEWAY_URL": f"{env.url}/v1", "GATEWAY_KEY": KEYS["storefront"]},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout)
    assert out == {
        "whole": "Sure, write to [REDACTED:EMAIL] and she will answer today.",
        "streamed": "The card on file is [REDACTED:PAYMENT_CARD], expiring 12/29.",
        "blockedFinish": "content_filter",
        "residencyStatus": 451,
    }
