"""Red team, round 2 (headers side, problem 10): the values of allowed upstream headers were relayed as
they came, so `x-request-id: <canary> ann.lee@example.com` and `openai-version: <canary>` reached the
client. Now `openai-version` passes only as a date and a longer `x-request-id` is replaced by a keyed
digest in its shape, in either header mode; what real servers send (vLLM's uuid4 hex, OpenAI's `req_…`,
a short id, OpenAI's `2020-10-01`) still passes in its shape. Real gateways and upstreams on 127.0.0.1.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

import pytest

from leakline.guard.headers import DENY_PATTERNS, api_version, filter_upstream_headers, request_id
from leakline.guard.upstream import DEMO_CANARY
from tests.guard.conftest import Env
from tests.guard.test_gateway_fields import _chunk, _completion, _delta, answers, post
from tests.guard.test_gateway_r6_hygiene import _canned, sse_with, whole_with

EMAIL = "ann.lee@example.com"
UUID = "550e8400-e29b-41d4-a716-446655440000"
VLLM_ID = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"  # uuid4().hex
OPENAI_ID = "req_8d1f3c0b9a7e4d2c8b6a4f2e0d1c3b5a"


@pytest.fixture(scope="module", params=["allow", "deny"])
def gw(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    env = _canned(tmp_path_factory.mktemp(f"redteam2-headers-{request.param}"), header_mode=request.param)
    yield env
    env.served.stop()
    env.eu.stop()


def _sent(gw: Env, prompt: str, headers: list[tuple[str, str]], *, stream: bool) -> dict[str, str]:
    if stream:
        answers(gw)[prompt] = sse_with([_chunk(_delta({"content": "hello"}, "stop"))], headers)
    else:
        answers(gw)[prompt] = whole_with(_completion({"content": "hello"}), headers)
    response = post(gw, prompt, stream=stream)
    assert response.status_code == 200, response.text
    assert DEMO_CANARY not in str(response.headers) and "ann.lee" not in str(response.headers)
    return {k: v for k, v in response.headers.items() if k in ("x-request-id", "openai-version")}


@pytest.mark.parametrize("stream", [False, True])
def test_a_canary_or_an_address_in_x_request_id_or_openai_version_does_not_reach_the_client(
    gw: Env, stream: bool
) -> None:
    leaky = [("x-request-id", f"{DEMO_CANARY} {EMAIL}"), ("openai-version", DEMO_CANARY)]
    assert _sent(gw, f"h-leak-{stream}", leaky, stream=stream) == {}
    got = _sent(gw, f"h-canary-{stream}", [("x-request-id", DEMO_CANARY)], stream=stream)
    # A bare id-shaped canary becomes a digest of its length in letters and digits: one per upstream id.
    assert got == {"x-request-id": request_id(DEMO_CANARY)}
    assert re.fullmatch("[A-Za-z0-9]{" + str(len(DEMO_CANARY)) + "}", got["x-request-id"])


@pytest.mark.parametrize("stream", [False, True])
def test_what_real_upstreams_send_keeps_its_shape(gw: Env, stream: bool) -> None:
    headers = [("x-request-id", UUID), ("openai-version", "2020-10-01")]
    got = _sent(gw, f"h-uuid-{stream}", headers, stream=stream)
    assert got["openai-version"] == "2020-10-01"
    assert re.fullmatch(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", got["x-request-id"])
    assert got["x-request-id"] != UUID and got == _sent(gw, f"h-uuid2-{stream}", headers, stream=stream)
    assert _sent(gw, f"h-short-{stream}", [("x-request-id", "r-1")], stream=stream) == {"x-request-id": "r-1"}


def test_request_id_keeps_the_shape_of_real_ids_and_drops_what_is_no_id() -> None:
    assert re.fullmatch(r"[0-9a-f]{32}", request_id(VLLM_ID) or "") and request_id(VLLM_ID) != VLLM_ID
    openai = request_id(OPENAI_ID) or ""
    assert re.fullmatch(r"req_[0-9a-f]{32}", openai) and openai != OPENAI_ID
    card = request_id("4111111111111111") or ""
    assert re.fullmatch(r"[0-9a-f]{16}", card) and "4111" not in card
    assert request_id("r1") == "r1" and request_id("abc_DEF9") == "abc_DEF9"
    for value in (f"{DEMO_CANARY} {EMAIL}", EMAIL, "a" * 129, "-leading", "id/with/slashes", ""):
        assert request_id(value) is None, value


def test_api_version_is_a_real_date_of_an_api() -> None:
    assert api_version("2020-10-01") == "2020-10-01" and api_version("2024-06-01") == "2024-06-01"
    for value in (DEMO_CANARY, "4111-11-11", "2024-02-30", "1999-01-01", "2020-10-01 x", "20201001"):
        assert api_version(value) is None, value


def test_both_modes_hold_the_values_to_their_shape_and_log_the_name_only(caplog: pytest.LogCaptureFixture) -> None:
    from leakline.guard import headers

    headers._MISSHAPED_NAMES.clear()
    caplog.set_level(logging.WARNING, logger="leakline.guard")
    upstream = [("X-Request-Id", f"{DEMO_CANARY} {EMAIL}"), ("OpenAI-Version", DEMO_CANARY), ("x-custom", "ok")]
    allowed = frozenset({"x-request-id", "openai-version", "x-custom"})
    for mode in ("allow", "deny"):
        assert filter_upstream_headers(upstream, mode=mode, allowed=allowed, denied=DENY_PATTERNS) == [
            ("x-custom", "ok")
        ]
    messages = sorted(r.getMessage() for r in caplog.records if "upstream header" in r.getMessage())
    assert messages == [
        "dropped the upstream header openai-version: its value is not in the header's shape",
        "dropped the upstream header x-request-id: its value is not in the header's shape",
    ]
    assert DEMO_CANARY not in caplog.text and EMAIL not in caplog.text
