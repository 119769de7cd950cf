"""Which fields of an OpenAI answer may leave the gateway: an allow-list, so an unknown one fails closed.

Servers add their own text fields to a message or a delta (vLLM's `reasoning`, Ollama's `thinking`,
DeepSeek's `reasoning_content`, audio transcripts, citations); a field the gateway does not know is a
field the sanitizer never read. So a message or delta keeps only the keys listed here, each known text
field is sanitized by the pipeline, and an unknown key whose value holds any string is dropped (logged
by key name only, once per name and process, counted in `DROPPED` and given to the caller's `dropped`,
the gateway's `leakline_gateway_dropped_fields_total`), as is a known string key in
another shape (tool `arguments` as an object); unknown keys that hold no text (flags, numbers, null)
pass. `logprobs` is always set to null: its tokens, bytes and top alternatives
repeat the answer token by token and offer text the model did not choose, which no redaction of the
content can follow (docs/gateway.md, What the gateway removes).

The top level of a whole answer and of every streamed chunk is allow-listed too (`screen_answer`):
vLLM's `prompt_logprobs` and `prompt_token_ids` spell out the prompt (system prompt, planted canary,
protected text) token by token, numbers or not, so they and the answer's own `token_ids` are dropped
whatever they hold, `usage` keeps numbers only, and an unknown top-level key goes if it holds text or a
list (a list of numbers may be token ids). The top-level `model` is replaced by the name the client
asked for and `system_fingerprint` is set to null: the upstream's model path and its fingerprint name the
deployment (a fine-tune's path, a server version and host), not anything the client asked for.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from collections.abc import Callable, MutableMapping
from typing import Any, TypeAlias

log = logging.getLogger("leakline.guard")

TEXT_FIELDS = ("content", "reasoning_content", "reasoning", "thinking", "refusal")
"""Text a message or delta may carry; each is sanitized (streamed: one hold-back buffer each)."""
MESSAGE_KEYS = frozenset({"role", *TEXT_FIELDS, "tool_calls", "function_call"})
CALL_KEYS = frozenset({"index", "id", "type", "function"})
FUNCTION_KEYS = frozenset({"name", "arguments"})
PART_KEYS = frozenset({"type", "text", "refusal"})
PART_TEXT = ("text", "refusal")
CHOICE_KEYS = {
    "chat": frozenset({"index", "message", "delta", "finish_reason", "logprobs"}),
    "completions": frozenset({"index", "text", "finish_reason", "logprobs"}),
}
"""The keys a choice keeps when they hold text; others that do (vLLM's `stop_reason` when a stop string
matched) are dropped like a message's unknown keys, those holding no text (a token id, null) pass."""
STRING_KEYS = frozenset({"role", "id", "type", "name", "arguments", "text", "refusal", "finish_reason"})
"""Known keys whose value must be a string to pass (it is sanitized, or it is a short protocol word)."""
NEVER_KEYS = frozenset({"prompt_logprobs", "prompt_token_ids", "token_ids", "kv_transfer_params"})
"""Dropped from an answer, a chunk or a choice whatever they hold. vLLM's `prompt_logprobs` and
`prompt_token_ids` are the prompt token by token (a dict keyed by token id is the prompt too once
detokenized), `token_ids` the answer's tokens before any redaction, `kv_transfer_params` the upstream's
cache hosts and block ids for this prompt: nothing an application needs, nothing a redaction can follow."""
_ANSWER_META = frozenset({"id", "object", "created", "model", "usage", "system_fingerprint", "service_tier"})
ANSWER_KEYS = {
    "chat": _ANSWER_META | {"choices"},
    "completions": _ANSWER_META | {"choices"},
    "embeddings": _ANSWER_META | {"data"},
}
"""The top-level keys of a whole answer or a streamed chunk, per endpoint."""
ANSWER_STRINGS = frozenset({"id", "object", "model", "system_fingerprint", "service_tier"})
"""Top-level keys that pass only as strings (protocol words and names the upstream made up, not the model)."""
EMBEDDING_KEYS = frozenset({"object", "index", "embedding"})
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")

DROPPED: Counter[str] = Counter()
"""Unknown keys dropped from answers in this process, by name (`where.key`), for operators and tests."""
MAX_DROPPED_NAMES = 100
"""Distinct names `DROPPED`, the log and the metric's `field` label take in a process; later ones are `other`.
The names come from the upstream: without a bound, an upstream inventing keys would grow them without end."""
OTHER = "other"
_KEY = re.compile(r"[A-Za-z0-9_\[\]-]{1,64}")
"""A key name shown as it is; any other (spaces, punctuation, a sentence) is counted as `other`, so no text
an upstream put in a key's name reaches the log or a label."""
Dropped: TypeAlias = Callable[[str], None] | None
"""Told the (bounded) name of each field dropped: the gateway's metric."""


def holds_text(value: Any) -> bool:
    """Whether `value` is a string or a container holding one at any depth."""
    if isinstance(value, str):
        return True
    if isinstance(value, dict):
        return any(holds_text(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_text(item) for item in value)
    return False


def holds_list(value: Any) -> bool:
    """Whether `value` is a list or a dict holding one at any depth."""
    if isinstance(value, list):
        return True
    if isinstance(value, dict):
        return any(holds_list(v) for v in value.values())
    return False


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def dropped_name(where: str, key: str) -> str:
    """The name a dropped field is logged and counted under: `where.key`, or `other` (see `MAX_DROPPED_NAMES`)."""
    name = f"{where}.{key}"[:80]
    if _KEY.fullmatch(key) is None or (name not in DROPPED and len(DROPPED) >= MAX_DROPPED_NAMES):
        return OTHER
    return name


def _count(where: str, key: str, dropped: Dropped) -> None:
    name = dropped_name(where, key)
    if name not in DROPPED:
        log.warning("dropped the field %s of an upstream answer (it holds text the gateway does not read)", name)
    DROPPED[name] += 1
    if dropped is not None:
        dropped(name)


def _unread(key: str, value: Any, allowed: frozenset[str]) -> bool:
    if key not in allowed:
        return holds_text(value)
    # A known string key in another shape (`arguments` as an object, a list as `role`) is not read either.
    return key in STRING_KEYS and not isinstance(value, str) and holds_text(value)


def drop_unknown(obj: MutableMapping[str, Any], allowed: frozenset[str], where: str, dropped: Dropped = None) -> None:
    """Remove from `obj` the keys outside `allowed` whose value holds text, and the known string keys
    whose value holds text but is not a string."""
    unread = [k for k, v in obj.items() if _unread(k, v, allowed)]
    for key in unread:
        del obj[key]
        _count(where, key, dropped)


def _drop_never(obj: MutableMapping[str, Any], where: str, dropped: Dropped) -> None:
    for key in NEVER_KEYS.intersection(obj):
        del obj[key]
        _count(where, key, dropped)


def drop_logprobs(choice: MutableMapping[str, Any]) -> None:
    if "logprobs" in choice:
        choice["logprobs"] = None


def screen_choice(choice: MutableMapping[str, Any], kind: str, dropped: Dropped = None) -> None:
    """A choice's own keys, before its message or delta is sanitized: `logprobs` nulled, unknown keys that
    hold text dropped. `kind`: "completions" for /v1/completions, else a chat answer."""
    drop_logprobs(choice)
    _drop_never(choice, "choice", dropped)
    drop_unknown(choice, CHOICE_KEYS["completions" if kind == "completions" else "chat"], "choice", dropped)


def _unread_top(key: str, value: Any, allowed: frozenset[str]) -> bool:
    if key not in allowed:
        return holds_text(value) or holds_list(value)
    if key in ANSWER_STRINGS:
        return not isinstance(value, str) and holds_text(value)
    if key == "created":
        return holds_text(value) or holds_list(value)
    return False  # choices, data and usage: screened on their own


def screen_answer(
    answer: MutableMapping[str, Any], kind: str, dropped: Dropped = None, *, model: str | None = None
) -> None:
    """The top-level keys of a whole answer or a streamed chunk of endpoint `kind` (chat, completions,
    embeddings), before its choices are screened: `NEVER_KEYS` dropped, `usage` reduced to numbers, a
    known string key in another shape dropped, an unknown key dropped when it holds text or a list. An
    embeddings answer's `data[]` entries keep `object`, `index` and an `embedding` of numbers or base64.

    `model`, the name the client asked for, replaces the upstream's `model` (vLLM answers with the path
    it loaded, `/models/acme-customer-finetune-v3`), and `system_fingerprint` is set to null (servers put
    their version and host there, `vllm-0.6.3-gpu-node-7.internal`): both name the deployment, which the
    client has no use for."""
    allowed = ANSWER_KEYS.get(kind, ANSWER_KEYS["chat"])
    _drop_never(answer, "answer", dropped)
    unread = [k for k, v in answer.items() if _unread_top(k, v, allowed)]
    for key in unread:
        del answer[key]
        _count("answer", key, dropped)
    if model is not None and "model" in answer:
        answer["model"] = model
    if "system_fingerprint" in answer:
        answer["system_fingerprint"] = None
    usage = answer.get("usage")
    if isinstance(usage, dict):
        _numbers_only(usage, "answer.usage", dropped, nested=True)
    elif usage is not None:
        del answer["usage"]
        _count("answer", "usage", dropped)
    if kind == "embeddings":
        _screen_embeddings(answer, dropped)


def _numbers_only(obj: MutableMapping[str, Any], where: str, dropped: Dropped, *, nested: bool) -> None:
    """Keep numbers and nulls; one level of dicts of them (`prompt_tokens_details`) when `nested`."""
    for key, value in list(obj.items()):
        if value is None or _is_number(value):
            continue
        if nested and isinstance(value, dict):
            _numbers_only(value, f"{where}.{key}", dropped, nested=False)
            continue
        del obj[key]
        _count(where, key, dropped)


def _screen_embeddings(answer: MutableMapping[str, Any], dropped: Dropped) -> None:
    data = answer.get("data")
    if not isinstance(data, list):
        if holds_text(data):
            del answer["data"]
            _count("answer", "data", dropped)
        return
    kept: list[Any] = []
    for item in data:
        if not isinstance(item, dict):
            if holds_text(item):
                _count("answer", "data[]", dropped)
                continue
            kept.append(item)
            continue
        embedding = item.get("embedding")
        # `encoding_format: "base64"` sends the vectors as one base64 string: bytes, not words.
        base64 = isinstance(embedding, str) and _BASE64.fullmatch(embedding) is not None
        if not base64 and holds_text(embedding):
            del item["embedding"]
            _count("answer.data[]", "embedding", dropped)
        drop_unknown(item, EMBEDDING_KEYS, "answer.data[]", dropped)
        kept.append(item)
    answer["data"] = kept


def sanitize_message(
    message: MutableMapping[str, Any],
    where: str,
    *,
    text: Callable[[str, str], str],
    part: Callable[[str, Any], Any],
    calls: Callable[[list[Any]], list[Any]],
    function: Callable[[dict[str, Any]], None],
    dropped: Dropped = None,
) -> None:
    """Walk a message (whole answer) or a delta (stream) the same way: unknown text-holding keys dropped,
    each text field given to `text(name, value)` (or its parts to `part`), `tool_calls` to `calls` and a
    legacy `function_call` to `function`; a known field in a shape that holds text otherwise is dropped."""
    drop_unknown(message, MESSAGE_KEYS, where, dropped)
    for name in TEXT_FIELDS:
        value = message.get(name)
        if isinstance(value, str):
            message[name] = text(name, value)
        elif isinstance(value, list):
            message[name] = [part(name, item) for item in value if holds_text(item)]
        elif holds_text(value):
            del message[name]
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list):
        message["tool_calls"] = calls(tool_calls)
    elif holds_text(tool_calls):
        del message["tool_calls"]
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        function(legacy)
    elif holds_text(legacy):
        del message["function_call"]
