"""A real Next.js app's route handlers, using the openai npm client, talking to the gateway end to end.

tests/fixtures/guard-node is a minimal Next.js 15 App Router storefront: POST /api/chat returns a whole
completion as JSON, POST /api/chat/stream streams the model's deltas to the browser as plain text (and,
when the gateway cut the answer, a last line naming the finish reason); both build their client from
LEAKLINE_BASE_URL / LEAKLINE_API_KEY at request time and forward the visitor's `x-vercel-ip-country` as a
Vercel deployment would. The app is built once (`next build`, tests/nextapps.py), served by `next start` on
127.0.0.1 in front of the module's gateway and scripted upstreams, and called over HTTP as a browser would:
what is asserted is exactly what the browser receives.
"""

from __future__ import annotations

import base64
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from leakline.guard.upstream import DEMO_CANARY, SCRIPTS, Script
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS
from tests.nextapps import NextServer, next_build, next_start, require_install

APP = Path(__file__).resolve().parents[1] / "fixtures" / "guard-node"
SOURCES = ("app", "lib", "package.json", "package-lock.json")
EMAIL_REDACTED = "Sure, write to [REDACTED:EMAIL] and she will answer today."
CARD_REDACTED = "The card on file is [REDACTED:PAYMENT_CARD], expiring 12/29."

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def storefront(_module_env: Env, tmp_path_factory: pytest.TempPathFactory) -> Iterator[NextServer]:
    require_install(APP, "openai")
    next_build(APP, SOURCES)
    server = next_start(
        APP,
        {"LEAKLINE_BASE_URL": f"{_module_env.url}/v1", "LEAKLINE_API_KEY": KEYS["storefront"]},
        tmp_path_factory.mktemp("next") / "next-start.log",
    )
    try:
        yield server
    finally:
        server.stop()


def _post(server: NextServer, path: str, message: str, country: str | None) -> httpx.Response:
    headers = {"x-vercel-ip-country": country} if country else {}
    return httpx.post(f"{server.url}{path}", json={"message": message}, headers=headers, timeout=30)


def _upstream_calls(env: Env) -> tuple[int, int]:
    return len(env.eu.upstream.requests), len(env.us.upstream.requests)


def test_whole_answer_reaches_the_browser_redacted(env: Env, storefront: NextServer) -> None:
    response = _post(storefront, "/api/chat", "email", "DE")
    assert response.status_code == 200, storefront.output()
    assert response.json() == {"text": EMAIL_REDACTED, "finishReason": "stop"}
    # The visitor's country went through the route: DE is served by the eu region only.
    assert _upstream_calls(env) == (1, 0)
    assert env.eu.upstream.requests[0]["messages"] == [{"role": "user", "content": "email"}]


def test_country_header_picks_the_region(env: Env, storefront: NextServer) -> None:
    response = _post(storefront, "/api/chat", "benign", "US")
    assert response.status_code == 200, storefront.output()
    assert response.json()["text"] == (
        "Your order A-10023 (SKU 4006381333931) ships on 2026-12-01 for €49.99; tracking 1Z999AA10123456784."
    )
    assert _upstream_calls(env) == (0, 1)


def test_streamed_answer_reaches_the_browser_redacted(env: Env, storefront: NextServer) -> None:
    response = _post(storefront, "/api/chat/stream", "card", "DE")
    assert response.status_code == 200, storefront.output()
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.text == CARD_REDACTED
    assert _upstream_calls(env) == (1, 0)


def test_stream_is_relayed_as_it_comes(env: Env, storefront: NextServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """The route passes deltas on as leakline releases them instead of buffering the whole answer.

    leakline holds back the tail of a stream (`stream_holdback_chars`, 512 by default), so the scripted
    answer here is four chunks of 638 characters, each after a pause: text reaches the browser after the
    first pause (126 characters, the rest of each chunk after the next), the end only after the fourth.
    """
    sentence = "Our oak tables ship flat-packed, with every tool included. "
    chunk = sentence * 11
    monkeypatch.setitem(SCRIPTS, "slowtables", Script((chunk,) * 4))
    monkeypatch.setattr(env.eu.upstream, "delay", 0.5)
    pieces: list[tuple[float, str]] = []
    with httpx.stream(
        "POST",
        f"{storefront.url}/api/chat/stream",
        json={"message": "slowtables"},
        headers={"x-vercel-ip-country": "DE"},
        timeout=30,
    ) as response:
        assert response.status_code == 200, storefront.output()
        for text in response.iter_text():
            if text:
                pieces.append((time.monotonic(), text))
    assert "".join(text for _, text in pieces) == chunk * 4
    first_at, first = pieces[0]
    assert len(first) < len(chunk * 4)
    # Nominally 1 s (two pauses) between the first text and the end; a route that buffers shows 0.
    assert pieces[-1][0] - first_at >= 0.5


def test_blocked_stream_ends_with_content_filter(env: Env, storefront: NextServer) -> None:
    response = _post(storefront, "/api/chat/stream", "canary", "DE")
    assert response.status_code == 200, storefront.output()
    # leakline held the whole short answer back, so the browser gets the route's last line alone.
    assert response.text == "[stopped: content_filter]"
    assert _upstream_calls(env) == (1, 0)


def test_stream_blocked_midway_keeps_what_was_sent_and_says_why(
    env: Env, storefront: NextServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    chunk = "Our oak tables ship flat-packed, with every tool included. " * 11
    leak = base64.b64encode(DEMO_CANARY.encode()).decode()
    monkeypatch.setitem(SCRIPTS, "tablesthenleak", Script((chunk, chunk, f" Reference: {leak[:20]}", f"{leak[20:]}.")))
    response = _post(storefront, "/api/chat/stream", "tablesthenleak", "DE")
    assert response.status_code == 200, storefront.output()
    sent, stopped, tail = response.text.rpartition("\n")
    assert (stopped, tail) == ("\n", "[stopped: content_filter]")
    # What leakline released before the canary arrived (all but its hold-back) stays; the canary never does.
    assert sent and (chunk * 2).startswith(sent)
    assert leak[:20] not in response.text


@pytest.mark.parametrize("path", ["/api/chat", "/api/chat/stream"])
@pytest.mark.parametrize(
    ("country", "message"),
    [
        ("JP", "no region in policy regions.*.countries serves visitors from JP"),
        (None, "no trusted visitor country on this request, and policy gateway.on_missing_country is 'reject'"),
    ],
)
def test_residency_refusal_is_surfaced_by_the_route(
    env: Env, storefront: NextServer, path: str, country: str | None, message: str
) -> None:
    response = _post(storefront, path, "email", country)
    assert response.status_code == 451, storefront.output()
    body: dict[str, Any] = response.json()
    assert body == {"error": {"code": "residency_refused", "message": message}}
    assert _upstream_calls(env) == (0, 0)


def test_bad_request_body_is_refused_by_the_route(env: Env, storefront: NextServer) -> None:
    response = httpx.post(f"{storefront.url}/api/chat", content=b"not json", headers={"x-vercel-ip-country": "DE"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"
    assert _upstream_calls(env) == (0, 0)


def test_server_stops_without_leaving_node_processes(_module_env: Env, tmp_path: Path) -> None:
    require_install(APP, "openai")
    next_build(APP, SOURCES)
    server = next_start(APP, {"LEAKLINE_BASE_URL": f"{_module_env.url}/v1"}, tmp_path / "next-start.log")
    group = server.process.pid
    server.stop()
    assert server.process.returncode is not None
    with pytest.raises(ProcessLookupError):
        os.killpg(group, 0)
