"""Per-route and per-key policies, served for real: `[gateway.routes."<path>"]` actions, prompt redaction and
canary insertion per route, their precedence against `[sanitize.actions]` and `[[clients]] sanitize_actions`,
what the audit record and `/metrics` say was done, and the configuration errors (exact messages).

Precedence under test: detector defaults < `[sanitize.actions]` < the route's `sanitize_actions` < the key's
`sanitize_actions`; `[gateway] redact_prompts` / `insert_canary` < the route's.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from leakline.config import parse_settings
from leakline.errors import ConfigError
from leakline.guard.auth import KeyPolicy
from leakline.guard.build import check_gateway_settings, preflight
from leakline.guard.errors import GatewayConfigError
from leakline.guard.policies import CANARY_NOTE
from leakline.guard.upstream import DEMO_CANARY, PROTECTED_PARAGRAPH, SCRIPTS
from tests.guard.conftest import Env
from tests.guard.helpers import KEYS, audit_records, meta_of, run_serve
from tests.guard.test_gateway_http import sse_events, streamed_content
from tests.guard.test_gateway_ops import _series

DE = {"x-vercel-ip-country": "DE"}
CHAT, COMPLETIONS, EMBEDDINGS = "/v1/chat/completions", "/v1/completions", "/v1/embeddings"
REDACTED_EMAIL = "Sure, write to [REDACTED:EMAIL] and she will answer today."
PROMPT = "my mail is max.mustermann@example.de, where is my order?"
REDACTED_PROMPT = "my mail is [REDACTED:EMAIL], where is my order?"
NOTE = CANARY_NOTE.format(canary=DEMO_CANARY) + "\n\n"


def post(env: Env, route: str, body: dict[str, Any], *, key: str = "storefront") -> httpx.Response:
    headers = {"authorization": f"Bearer {KEYS[key]}", **DE}
    return httpx.post(f"{env.url}{route}", json={"model": "llama3.1:8b", **body}, headers=headers, timeout=20)


def chat(env: Env, prompt: str, *, stream: bool = False, key: str = "storefront") -> httpx.Response:
    return post(env, CHAT, {"messages": [{"role": "user", "content": prompt}], "stream": stream}, key=key)


def complete(env: Env, prompt: Any, *, stream: bool = False, key: str = "storefront", **extra: Any) -> httpx.Response:
    return post(env, COMPLETIONS, {"prompt": prompt, "stream": stream, **extra}, key=key)


def completion_text(response: httpx.Response, *, stream: bool) -> tuple[str, str | None]:
    """The answer's text and its last finish_reason."""
    if not stream:
        choice = response.json()["choices"][0]
        return choice["text"], choice["finish_reason"]
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    return "".join(e["choices"][0].get("text", "") for e in events[:-1]), events[-2]["choices"][0]["finish_reason"]


def chat_text(response: httpx.Response, *, stream: bool) -> tuple[str, str | None]:
    if not stream:
        choice = response.json()["choices"][0]
        return choice["message"]["content"], choice["finish_reason"]
    events = sse_events(response.text)
    assert events[-1] == "[DONE]"
    return streamed_content(events), events[-2]["choices"][0]["finish_reason"]


def exchanges(env: Env) -> list[dict[str, Any]]:
    env.drain()
    records = audit_records(env.tmp / "audit-eu", env.tmp / "audit.key")
    return [meta_of(r) for r in records if meta_of(r).get("kind") == "gateway.exchange"]


def counters(env: Env, prefix: str) -> dict[str, float]:
    return {k: v for k, v in _series(httpx.get(f"{env.url}/metrics").text).items() if k.startswith(prefix)}


# -- detector actions per route ------------------------------------------------------------------------

BLOCK_EMAIL_ON_COMPLETIONS = {COMPLETIONS: {"sanitize_actions": {"email": "block"}}}


@pytest.mark.parametrize("stream", [False, True])
def test_a_route_that_blocks_email_where_another_route_redacts_it(make_env: Any, stream: bool) -> None:
    env = make_env(routes=BLOCK_EMAIL_ON_COMPLETIONS)
    assert chat_text(chat(env, "email", stream=stream), stream=stream) == (REDACTED_EMAIL, "stop")
    blocked = complete(env, "email", stream=stream)
    assert blocked.status_code == 200
    assert completion_text(blocked, stream=stream) == ("", "content_filter")
    assert "jane" not in blocked.text and "doe@" not in blocked.text
    # Streamed too, nothing before the email went out: the hold-back buffer still held it at the block.
    assert "Sure, write to" not in blocked.text


def test_the_audit_record_and_metrics_report_the_action_taken_per_route(make_env: Any) -> None:
    env = make_env(routes=BLOCK_EMAIL_ON_COMPLETIONS)
    chat(env, "email")
    complete(env, "email", stream=True)
    records = exchanges(env)
    original = SCRIPTS["email"].text
    start, end = original.index("jane"), original.index(" and she")
    assert [(r["route"], r["blocked"], [(h["detector"], h["action"], h["start"], h["end"]) for h in r["hits"]])
            for r in records] == [
        (CHAT, False, [("email", "redact", start, end)]),
        (COMPLETIONS, True, [("email", "block", start, end)]),
    ]  # fmt: skip
    assert counters(env, "leakline_gateway_sanitizer_actions_total") == {
        'leakline_gateway_sanitizer_actions_total{action="redact",detector="email"}': 1.0,
        'leakline_gateway_sanitizer_actions_total{action="block",detector="email"}': 1.0,
    }
    assert counters(env, "leakline_gateway_requests_total") == {
        f'leakline_gateway_requests_total{{endpoint="{CHAT}",outcome="ok",region="eu"}}': 1.0,
        f'leakline_gateway_requests_total{{endpoint="{COMPLETIONS}",outcome="blocked",region="eu"}}': 1.0,
    }


@pytest.mark.parametrize("stream", [False, True])
def test_a_key_override_wins_over_the_route(make_env: Any, stream: bool) -> None:
    # chat: email only alerts (passes); completions: email blocks. "strict" blocks email, "lenient" redacts it.
    env = make_env(routes={CHAT: {"sanitize_actions": {"email": "alert"}}, **BLOCK_EMAIL_ON_COMPLETIONS})
    assert chat_text(chat(env, "email", stream=stream), stream=stream) == (SCRIPTS["email"].text, "stop")
    assert chat_text(chat(env, "email", stream=stream, key="strict"), stream=stream) == ("", "content_filter")
    assert completion_text(complete(env, "email", stream=stream), stream=stream) == ("", "content_filter")
    lenient = complete(env, "email", stream=stream, key="lenient")
    assert completion_text(lenient, stream=stream) == (REDACTED_EMAIL, "stop")
    # The route's other detectors still follow [sanitize.actions] for every key.
    assert completion_text(complete(env, "canary", stream=stream, key="lenient"), stream=stream) == (
        "",
        "content_filter",
    )


def test_each_distinct_policy_is_built_once_at_start_up_and_shared(make_env: Any) -> None:
    # Both text routes block email: one sanitizer for both; the strict key (email = block) shares it too.
    env = make_env(routes={CHAT: {"sanitize_actions": {"email": "block"}}, **BLOCK_EMAIL_ON_COMPLETIONS})
    policies = env.gateway.policies
    table = dict(policies._table)
    built = dict(policies._sanitizers)
    blocking = table[(CHAT, KeyPolicy())].sanitizer
    assert blocking is not env.gateway._sanitizer and blocking.policy.actions["email"] == "block"
    assert table[(COMPLETIONS, KeyPolicy())].sanitizer is blocking
    assert table[(CHAT, KeyPolicy((("email", "block"),)))].sanitizer is blocking
    assert table[(EMBEDDINGS, KeyPolicy())].sanitizer is env.gateway._sanitizer
    assert table[(CHAT, KeyPolicy((("email", "redact"),)))].sanitizer is env.gateway._sanitizer
    # The "support" key's table on chat alerts on email: one more sanitizer, used by that pair only.
    alerting = table[(CHAT, KeyPolicy((("email", "alert"),), redact_prompts=False))].sanitizer
    assert alerting.policy.actions["email"] == "alert"
    assert len(built) == 2
    for stream in (False, True):
        chat(env, "email", stream=stream, key="strict")
        complete(env, "email", stream=stream, key="lenient")
    # Requests only looked their policies up.
    assert policies._table == table and policies._sanitizers == built


@pytest.mark.parametrize("stream", [False, True])
def test_a_keys_table_for_one_route_wins_there_only(make_env: Any, stream: bool) -> None:
    # "support": email = alert on chat (its own table), email = redact on completions (its key-wide
    # override), while both routes block email for every other key.
    env = make_env(routes={CHAT: {"sanitize_actions": {"email": "block"}}, **BLOCK_EMAIL_ON_COMPLETIONS})
    assert chat_text(chat(env, "email", stream=stream), stream=stream) == ("", "content_filter")
    assert chat_text(chat(env, "email", stream=stream, key="support"), stream=stream) == (
        SCRIPTS["email"].text,
        "stop",
    )
    support = complete(env, "email", stream=stream, key="support")
    assert completion_text(support, stream=stream) == (REDACTED_EMAIL, "stop")
    # Detectors the key's table does not name keep the route's action (canary blocks).
    assert chat_text(chat(env, "canary", stream=stream, key="support"), stream=stream) == ("", "content_filter")


def test_a_keys_table_sets_prompt_redaction_and_canary_on_its_route(make_env: Any) -> None:
    # Gateway-wide: prompts redacted, canary planted. "support" turns redaction off on chat, and on
    # completions turns the canary off (redaction stays on there: its table does not say).
    env = make_env(redact_prompts=True, insert_canary=True)
    chat(env, PROMPT, key="support")
    complete(env, PROMPT, key="support")
    chat(env, PROMPT)
    complete(env, PROMPT)
    support_chat, support_completion, chat_request, completion_request = env.eu.upstream.requests
    assert support_chat["messages"] == [
        {"role": "system", "content": NOTE.rstrip()},
        {"role": "user", "content": PROMPT},
    ]
    assert support_completion["prompt"] == REDACTED_PROMPT
    assert chat_request["messages"][1] == {"role": "user", "content": REDACTED_PROMPT}
    assert completion_request["prompt"] == NOTE + REDACTED_PROMPT


# -- prompt redaction per route ------------------------------------------------------------------------


def test_prompts_are_redacted_on_one_route_only(make_env: Any) -> None:
    env = make_env(routes={COMPLETIONS: {"redact_prompts": True}, EMBEDDINGS: {"redact_prompts": True}})
    chat(env, PROMPT)
    complete(env, PROMPT)
    complete(env, ["first jane@example.org", "second +49 30 1234567 calls", "third"])
    post(env, EMBEDDINGS, {"input": ["fine", f"say {PROMPT}"]})
    post(env, EMBEDDINGS, {"input": [[1, 2, 3]]})  # token ids cannot be read: sent as they are
    requests = env.eu.upstream.requests
    assert requests[0]["messages"] == [{"role": "user", "content": PROMPT}]
    assert requests[1]["prompt"] == REDACTED_PROMPT
    assert requests[2]["prompt"] == ["first [REDACTED:EMAIL]", "second [REDACTED:PHONE] calls", "third"]
    assert requests[3]["input"] == ["fine", f"say {REDACTED_PROMPT}"]
    assert requests[4]["input"] == [[1, 2, 3]]


def test_a_route_may_turn_global_prompt_redaction_off(make_env: Any) -> None:
    env = make_env(redact_prompts=True, routes={COMPLETIONS: {"redact_prompts": False}})
    parts = [{"type": "text", "text": PROMPT}, {"type": "image_url", "image_url": {"url": "data:,x"}}]
    post(env, CHAT, {"messages": [{"role": "user", "content": parts}]})
    complete(env, PROMPT)
    chat_request, completion_request = env.eu.upstream.requests
    assert chat_request["messages"][0]["content"] == [{"type": "text", "text": REDACTED_PROMPT}, parts[1]]
    assert completion_request["prompt"] == PROMPT


def test_prompt_redaction_never_cuts_a_prompt_nor_touches_the_operators_own_text(make_env: Any) -> None:
    # email blocks answers on this route; in a prompt a block redacts instead (a prompt is never cut short).
    # The system prompt is the protected corpus and may carry the canary: both reach the model intact.
    env = make_env(
        routes={CHAT: {"redact_prompts": True, "sanitize_actions": {"email": "block", "ip_address": "alert"}}}
    )
    system = f"{PROTECTED_PARAGRAPH} Reference {DEMO_CANARY}."
    messages = [{"role": "system", "content": system}, {"role": "user", "content": f"{PROMPT} from 10.1.2.3"}]
    post(env, CHAT, {"messages": messages})
    assert env.eu.upstream.requests[0]["messages"] == [
        {"role": "system", "content": system},
        {"role": "user", "content": f"{REDACTED_PROMPT} from 10.1.2.3"},
    ]


def test_prompt_hits_are_audited_and_counted_with_the_action_taken(make_env: Any) -> None:
    env = make_env(routes={COMPLETIONS: {"redact_prompts": True, "sanitize_actions": {"email": "block"}}})
    complete(env, ["hello", f"ip 10.1.2.3, {PROMPT}"])
    (record,) = exchanges(env)
    text = f"ip 10.1.2.3, {PROMPT}"
    email = "max.mustermann@example.de"
    assert record["prompt_hits"] == [
        {"detector": "ip_address", "action": "alert", "start": 3, "end": 11, "where": "prompt[1]"},
        {
            "detector": "email",
            "action": "redact",
            "start": text.index(email),
            "end": text.index(email) + len(email),
            "where": "prompt[1]",
        },
    ]
    assert record["hits"] == [] and record["blocked"] is False
    assert "mustermann" not in str(record)
    endpoint = f'endpoint="{COMPLETIONS}"'
    assert counters(env, "leakline_gateway_prompt_actions_total") == {
        f'leakline_gateway_prompt_actions_total{{action="alert",detector="ip_address",{endpoint}}}': 1.0,
        f'leakline_gateway_prompt_actions_total{{action="redact",detector="email",{endpoint}}}': 1.0,
    }
    # Prompt hits are no leak: the answer's actions and the leak signals see none.
    assert counters(env, "leakline_gateway_sanitizer_actions_total") == {}


# -- canaries in completion prompts --------------------------------------------------------------------


def test_canary_is_put_in_front_of_completion_prompts(make_env: Any) -> None:
    env = make_env(insert_canary=True)
    complete(env, "Once upon a time")
    complete(env, ["first", "second"])
    complete(env, [[1, 2, 3]])  # token ids: no tokenizer here, sent as they are
    complete(env, "Once upon a time", echo=True)  # the prompt comes back: a canary in it would block it
    post(env, EMBEDDINGS, {"input": "text"})
    chat(env, "hello")
    sent = env.eu.upstream.requests
    assert [r.get("prompt") for r in sent[:4]] == [
        NOTE + "Once upon a time",
        [NOTE + "first", NOTE + "second"],
        [[1, 2, 3]],
        "Once upon a time",
    ]
    assert sent[4]["input"] == "text"
    assert sent[5]["messages"][0] == {"role": "system", "content": NOTE.rstrip()}


@pytest.mark.parametrize("stream", [False, True])
def test_a_completion_repeating_its_canary_is_blocked(make_env: Any, stream: bool) -> None:
    env = make_env(insert_canary=True)
    response = complete(env, "canary", stream=stream)
    assert completion_text(response, stream=stream) == ("", "content_filter")
    assert env.eu.upstream.requests[0]["prompt"] == NOTE + "canary"


def test_canary_insertion_per_route(make_env: Any) -> None:
    env = make_env(routes={COMPLETIONS: {"insert_canary": True}})
    chat(env, "hello")
    complete(env, "Once upon a time")
    assert env.eu.upstream.requests[0]["messages"] == [{"role": "user", "content": "hello"}]
    assert env.eu.upstream.requests[1]["prompt"] == NOTE + "Once upon a time"


def test_canary_after_prompt_redaction_is_planted_intact(make_env: Any) -> None:
    env = make_env(routes={COMPLETIONS: {"insert_canary": True, "redact_prompts": True}})
    complete(env, PROMPT)
    assert env.eu.upstream.requests[0]["prompt"] == NOTE + REDACTED_PROMPT


# -- configuration errors ------------------------------------------------------------------------------

EXPECTED_ROUTES = '"/v1/chat/completions", "/v1/completions", "/v1/embeddings"'
DETECTORS = "email, phone, payment_card, iban, us_ssn, uk_nino, national_id, ip_address, secret, canary, protected_text"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"gateway": {"routes": {"/v1/models": {"redact_prompts": True}}}},
            f't.toml: gateway.routes."/v1/models": unknown route; expected one of {EXPECTED_ROUTES}',
        ),
        (
            {"gateway": {"routes": {"v1/completions": {}}}},
            f't.toml: gateway.routes."v1/completions": unknown route; expected one of {EXPECTED_ROUTES}',
        ),
        (
            {"gateway": {"routes": {COMPLETIONS: {"sanitize_actions": {"emails": "block"}}}}},
            f't.toml: gateway.routes."/v1/completions".sanitize_actions.emails: unknown detector; '
            f"expected one of {DETECTORS}",
        ),
        (
            {"clients": [{"name": "a", "key_sha256": "a" * 64, "sanitize_actions": {"card": "redact"}}]},
            f"t.toml: clients.0.sanitize_actions.card: unknown detector; expected one of {DETECTORS}",
        ),
        (
            {"gateway": {"routes": {EMBEDDINGS: {"insert_canary": True}}}, "sanitize": {"canaries": [DEMO_CANARY]}},
            't.toml: gateway.routes."/v1/embeddings".insert_canary: expected false or no value: embeddings carry '
            "no text in which a canary could come back",
        ),
        (
            {"gateway": {"insert_canary": True}},
            "t.toml: gateway.insert_canary: is true but sanitize.canaries is empty; expected at least one canary",
        ),
        (
            {"gateway": {"routes": {COMPLETIONS: {"insert_canary": True}}}},
            't.toml: gateway.routes."/v1/completions".insert_canary: is true but sanitize.canaries is empty; '
            "expected at least one canary",
        ),
        (
            {"clients": [{"name": "a", "key_sha256": "a" * 64, "routes": {"/v1/chat": {"redact_prompts": True}}}]},
            f't.toml: clients.0.routes."/v1/chat": unknown route; expected one of {EXPECTED_ROUTES}',
        ),
        (
            {"clients": [{"name": "a", "key_sha256": "a" * 64, "routes": {CHAT: {"sanitize_actions": {"ip": "alert"}}}}]},
            f't.toml: clients.0.routes."/v1/chat/completions".sanitize_actions.ip: unknown detector; '
            f"expected one of {DETECTORS}",
        ),
        (
            {
                "clients": [{"name": "a", "key_sha256": "a" * 64, "routes": {EMBEDDINGS: {"insert_canary": True}}}],
                "sanitize": {"canaries": [DEMO_CANARY]},
            },
            't.toml: clients.0.routes."/v1/embeddings".insert_canary: expected false or no value: embeddings '
            "carry no text in which a canary could come back",
        ),
        (
            {"clients": [{"name": "a", "key_sha256": "a" * 64, "routes": {COMPLETIONS: {"insert_canary": True}}}]},
            't.toml: clients.0.routes."/v1/completions".insert_canary: is true but sanitize.canaries is empty; '
            "expected at least one canary",
        ),
    ],
)
def test_route_policy_errors_name_the_key_and_what_is_expected(data: dict[str, Any], message: str) -> None:
    settings = parse_settings(data, source="t.toml")
    with pytest.raises(GatewayConfigError) as caught:
        check_gateway_settings(settings)
    assert caught.value.message == message
    with pytest.raises(GatewayConfigError) as again:  # `leakline serve`'s check before binding
        preflight(settings)
    assert again.value.message == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {"gateway": {"routes": {COMPLETIONS: {"sanitize_actions": {"email": "drop"}}}}},
            "t.toml: gateway.routes./v1/completions.sanitize_actions.email: "
            "expected one of 'redact', 'block' or 'alert', got 'drop'",
        ),
        (
            {"gateway": {"routes": {COMPLETIONS: {"redact_prompts": "yes"}}}},
            "t.toml: gateway.routes./v1/completions.redact_prompts: expected a boolean (true or false), got 'yes'",
        ),
        (
            {"gateway": {"routes": {COMPLETIONS: {"sanitize_actions": "block"}}}},
            "t.toml: gateway.routes./v1/completions.sanitize_actions: expected a table, got 'block'",
        ),
        (
            {"gateway": {"routes": {COMPLETIONS: {"redact_prompt": True}}}},
            "t.toml: gateway.routes./v1/completions.redact_prompt: unknown key",
        ),
        ({"gateway": {"routes": {COMPLETIONS: True}}}, "t.toml: gateway.routes./v1/completions: expected a table"),
        (
            {"clients": [{"name": "a", "key_sha256": "a" * 64, "routes": {CHAT: {"redact_prompts": 1}}}]},
            "t.toml: clients.0.routes./v1/chat/completions.redact_prompts: expected a boolean (true or false), got 1",
        ),
    ],
)
def test_route_table_type_errors_name_the_key(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(data, source="t.toml")
    assert caught.value.message.startswith(message)


def test_leakline_serve_refuses_an_unknown_route_before_binding(tmp_path: Path) -> None:
    (tmp_path / "leakline.toml").write_text(
        '[gateway.routes."/v1/completions"]\nsanitize_actions = { email = "block" }\n\n'
        '[gateway.routes."/v1/chat"]\nredact_prompts = true\n',
        encoding="utf-8",
    )
    proc = run_serve(tmp_path)
    assert proc.returncode == 2, proc.stderr
    assert proc.stderr.splitlines()[0] == (
        f'error: leakline.toml: gateway.routes."/v1/chat": unknown route; expected one of {EXPECTED_ROUTES}'
    )
    assert "Traceback" not in proc.stderr and "Uvicorn running" not in proc.stderr


def test_prompt_redaction_covers_the_arguments_of_earlier_tool_calls(make_env: Any) -> None:
    env = make_env(routes={CHAT: {"redact_prompts": True}})
    arguments = json.dumps({"customer": "max.mustermann@example.de", "order": "A-10023"})
    call = {"id": "call_1", "type": "function", "function": {"name": "find_order", "arguments": arguments}}
    messages = [
        {"role": "user", "content": "where is my order?"},
        {"role": "assistant", "content": None, "tool_calls": [call]},
        {"role": "tool", "tool_call_id": "call_1", "content": "shipped"},
    ]
    post(env, CHAT, {"messages": messages})
    sent = env.eu.upstream.requests[0]["messages"]
    assert sent[0] == messages[0] and sent[2] == messages[2]
    sent_call = sent[1]["tool_calls"][0]
    assert {k: v for k, v in sent_call.items() if k != "function"} == {"id": "call_1", "type": "function"}
    assert sent_call["function"]["name"] == "find_order"
    assert json.loads(sent_call["function"]["arguments"]) == {"customer": "[REDACTED:EMAIL]", "order": "A-10023"}
    (record,) = exchanges(env)
    assert [h["where"] for h in record["prompt_hits"]] == ["messages[1].tool_calls[0].function.arguments"]


def test_prompt_redaction_covers_user_names_metadata_and_tool_definitions(make_env: Any) -> None:
    # Before: `user` (OpenAI's end-user id, often an e-mail), a message's `name`, `metadata` and the tools'
    # definitions reached the upstream as sent (red team R6). A tool's name and an order number stay.
    env = make_env(routes={CHAT: {"redact_prompts": True}})
    key = "AKIA" + "IOSFODNN7Q2XK4ZT"
    tool = {"type": "function", "function": {"name": "find_order", "description": "Ask ops@example.com first",
            "parameters": {"type": "object", "properties": {"key": {"type": "string", "default": key},
                                                            "order": {"type": "string", "default": "A-10023"}}}}}  # fmt: skip
    post(env, CHAT, {"messages": [{"role": "user", "name": "max.mustermann@example.de", "content": "hi"}],
                     "user": "max.mustermann@example.de", "metadata": {"ref": "A-10023", "mail": "jo@example.org"},
                     "tools": [tool]})  # fmt: skip
    sent = env.eu.upstream.requests[0]
    assert sent["user"] == "[REDACTED:EMAIL]"
    assert sent["messages"][0] == {"role": "user", "name": "[REDACTED:EMAIL]", "content": "hi"}
    assert sent["metadata"] == {"ref": "A-10023", "mail": "[REDACTED:EMAIL]"}
    function = sent["tools"][0]["function"]
    assert function["name"] == "find_order" and function["description"] == "Ask [REDACTED:EMAIL] first"
    assert function["parameters"]["properties"] == {"key": {"type": "string", "default": "[REDACTED:SECRET]"},
                                                    "order": {"type": "string", "default": "A-10023"}}  # fmt: skip
    (record,) = exchanges(env)
    assert sorted(h["where"] for h in record["prompt_hits"]) == [
        "messages[0].name",
        "metadata.mail",
        "tools[0].function.description",
        "tools[0].function.parameters.properties.key.default",
        "user",
    ]
