"""A streamed answer reaches the client one hold-back behind the model, in small steps (`stream_release_ms`),
not in bursts of `stream_holdback_chars` that each come that many characters late.

The scripted upstream sends 40 pieces of 20 characters, 50 ms apart (800 characters in 2 s: a fast model).
Before the release interval existed nothing of an answer under 2 x 512 characters was shown before its end.
"""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from leakline.guard.upstream import SCRIPTS, Script
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS

PIECE = "Oak tables ship now "  # 20 characters
ANSWER = (PIECE,) * 40


def _stream_pieces(env: Env) -> list[tuple[float, str]]:
    """The content deltas as they arrive, with their arrival time; the last entry is the stream's end."""
    body = {"model": "llama3.1:8b", "messages": [{"role": "user", "content": "slowoak"}], "stream": True}
    headers = {"authorization": f"Bearer {KEYS['storefront']}", "x-vercel-ip-country": "DE"}
    pieces: list[tuple[float, str]] = []
    with httpx.stream("POST", f"{env.url}/v1/chat/completions", json=body, headers=headers, timeout=30) as response:
        assert response.status_code == 200
        for line in response.iter_lines():
            if not line.startswith("data: ") or line == "data: [DONE]":
                continue
            event: dict[str, Any] = json.loads(line[6:])
            for choice in event["choices"]:
                content = choice.get("delta", {}).get("content")
                if content:
                    pieces.append((time.monotonic(), content))
    pieces.append((time.monotonic(), ""))
    return pieces


@pytest.fixture
def slow_oak(make_env: Any, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Env:
    monkeypatch.setitem(SCRIPTS, "slowoak", Script(ANSWER))
    env: Env = make_env(sanitize={"stream_release_ms": request.param})
    env.eu.upstream.delay = 0.05
    return env


@pytest.mark.parametrize("slow_oak", [200], indirect=True)
def test_text_flows_one_holdback_behind_the_model(slow_oak: Env) -> None:
    pieces = _stream_pieces(slow_oak)
    assert "".join(text for _, text in pieces) == "".join(ANSWER)
    first_at, end_at = pieces[0][0], pieces[-1][0]
    # The first text comes once 512 characters are held (piece 26 of 40, ~1.3 s in): 14 pieces, ~0.7 s,
    # before the end; then more than one step follows before the end (not one burst at the finish).
    assert end_at - first_at >= 0.3
    before_end = [text for at, text in pieces[:-1] if at < end_at - 0.1]
    assert len(before_end) >= 2
    assert len(pieces[0][1]) < 100


@pytest.mark.parametrize("slow_oak", [0], indirect=True)
def test_without_an_interval_a_short_answer_waits_for_its_end(slow_oak: Env) -> None:
    pieces = _stream_pieces(slow_oak)
    assert "".join(text for _, text in pieces) == "".join(ANSWER)
    # 800 characters never reach 2 x 512: everything is released by the finish, in one piece.
    assert [text for _, text in pieces[:-1]] == ["".join(ANSWER)]
