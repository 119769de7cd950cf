"""Which fields of an OpenAI answer may leave the gateway: an allow-list, so an unknown one fails closed.

Servers add their own text fields to a message or a delta (vLLM's `reasoning`, Ollama's `thinking`,
DeepSeek's `reasoning_content`, audio transcripts, citations); a field the gateway does not know is a
field the sanitizer never read. So a message or delta keeps only the keys listed here, each known text
field is sanitized by the pipeline, and an unknown key whose value holds any string is dropped (logged
by key name only, once per name and process, counted in `DROPPED` and given to the caller's `dropped`,
the gateway's `leakline_gateway_dropped_fields_total`), as is a known string key in
another shape (tool `arguments` as an object); unknown keys holding numbers or flags go too (a made-up
key holding a card number is a channel). Protocol words (`role`, `finish_reason`, `object`, a call's or
a part's `type`, `service_tier`) keep only their known values, and ids are replaced by `opaque_id`: they
are words the upstream chooses, and a hostile one wrote the canary into them. `logprobs` is always set
to null: its tokens, bytes and top alternatives
repeat the answer token by token and offer text the model did not choose, which no redaction of the
content can follow (docs/gateway.md, What the gateway removes).

The top level of a whole answer and of every streamed chunk is allow-listed too (`screen_answer`):
vLLM's `prompt_logprobs` and `prompt_token_ids` spell out the prompt (system prompt, planted canary,
protected text) token by token, numbers or not, so they and the answer's own `token_ids` are dropped
whatever they hold, `usage` keeps OpenAI's token counts only (each a plausible count), and an unknown
top-level key goes whatever it holds. The top-level `model` is replaced by the name the client
asked for and `system_fingerprint` is set to null: the upstream's model path and its fingerprint name the
deployment (a fine-tune's path, a server version and host), not anything the client asked for.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import re
import time
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

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "function_call", "content_filter"})
"""The finish reasons an OpenAI client knows; any other string (an upstream's own word, or text it put there)
becomes `stop`."""
ROLES = frozenset({"assistant"})
"""The only role an answer's message or delta has; any other value becomes `assistant`."""
CALL_TYPE = "function"
PART_TYPES = frozenset({"text", "refusal"})
SERVICE_TIERS = frozenset({"auto", "default", "flex", "scale", "priority"})
OBJECTS = {
    "chat": ("chat.completion", "chat.completion.chunk"),
    "completions": ("text_completion", "text_completion"),
    "embeddings": ("list", "list"),
}
"""The `object` of a whole answer and of a chunk, per endpoint: the only values passed."""
USAGE_KEYS = frozenset({"prompt_tokens", "completion_tokens", "total_tokens"})
USAGE_DETAILS = {
    "prompt_tokens_details": frozenset({"cached_tokens", "audio_tokens", "text_tokens", "image_tokens"}),
    "completion_tokens_details": frozenset(
        {"reasoning_tokens", "audio_tokens", "accepted_prediction_tokens", "rejected_prediction_tokens", "text_tokens"}
    ),
}
MAX_TOKEN_COUNT = 2**31 - 1
"""A token count above this is no count (a card number fits in `prompt_tokens` otherwise)."""
_ID_KEY = os.urandom(32)
"""Keys the ids the gateway writes in place of the upstream's (one per process: a stream is relayed by one)."""
_ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_PREFIXES = ("chatcmpl-", "cmpl-", "call_", "call-", "chatcmpl_", "embd-", "resp_")
MAX_ID = 64

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
        log.warning("dropped or replaced the field %s of an upstream answer (a field or value it does not know)", name)
    DROPPED[name] += 1
    if dropped is not None:
        dropped(name)


def _unread(key: str, value: Any, allowed: frozenset[str]) -> bool:
    if key not in allowed:
        return True  # numbers and flags too: a made-up key holding 4111111111111111 is a side channel
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


def opaque_id(value: Any, default_prefix: str) -> str:
    """See `_opaque_id`; every chunk of a stream carries the same id, so the digest is computed once."""
    return _opaque_id(value if isinstance(value, str) else "", default_prefix)


@functools.lru_cache(maxsize=4096)
def _opaque_id(value: str, default_prefix: str) -> str:
    """The id sent in place of an upstream's: its known prefix kept (`chatcmpl-`, `call_`), the rest replaced by
    a keyed digest of the same length in letters and digits (at most `MAX_ID`). Ids are words the upstream
    chooses, so a hostile one can carry the canary or an address; replaced, they carry nothing, and each
    upstream id still maps to one gateway id (the chunks of a stream keep theirs; a tool call's id is the
    same in each delta, and its length and alphabet suit templates that check them: Mistral's nine characters)."""
    text = value if isinstance(value, str) else ""
    prefix = next((p for p in _ID_PREFIXES if text.startswith(p)), "" if text else default_prefix)
    rest = text[len(prefix) :]
    size = max(1, min(len(rest) or 24, MAX_ID - len(prefix)))
    digest = hashlib.blake2b(text.encode("utf-8", "surrogatepass"), key=_ID_KEY, digest_size=64).digest()
    return prefix + "".join(_ID_ALPHABET[b % len(_ID_ALPHABET)] for b in digest[:size])


def _protocol_word(obj: MutableMapping[str, Any], key: str, allowed: frozenset[str], default: Any, where: str,
                   dropped: Dropped) -> None:  # fmt: skip
    """`obj[key]` kept when it is one of `allowed` (or null), else replaced by `default` and counted."""
    if key in obj and obj[key] is not None and obj[key] not in allowed:
        obj[key] = default
        _count(where, key, dropped)


def screen_call(call: MutableMapping[str, Any], where: str, dropped: Dropped = None) -> None:
    """A tool call's own keys: unknown ones dropped, `type` is `function`, `id` replaced by `opaque_id`."""
    drop_unknown(call, CALL_KEYS, where, dropped)
    _protocol_word(call, "type", frozenset({CALL_TYPE}), CALL_TYPE, where, dropped)
    if "id" in call and call["id"] is not None:
        call["id"] = opaque_id(call["id"], "call_")


def screen_part(part: MutableMapping[str, Any], where: str, dropped: Dropped = None) -> None:
    """A content part's own keys: unknown ones dropped, `type` is `text` or `refusal`."""
    drop_unknown(part, PART_KEYS, where, dropped)
    _protocol_word(part, "type", PART_TYPES, "text", where, dropped)


def drop_logprobs(choice: MutableMapping[str, Any]) -> None:
    if "logprobs" in choice:
        choice["logprobs"] = None


def screen_choice(choice: MutableMapping[str, Any], kind: str, dropped: Dropped = None) -> None:
    """A choice's own keys, before its message or delta is sanitized: `logprobs` nulled, unknown keys that
    hold text dropped. `kind`: "completions" for /v1/completions, else a chat answer."""
    drop_logprobs(choice)
    _drop_never(choice, "choice", dropped)
    drop_unknown(choice, CHOICE_KEYS["completions" if kind == "completions" else "chat"], "choice", dropped)
    _protocol_word(choice, "finish_reason", FINISH_REASONS, "stop", "choice", dropped)


def _unread_top(key: str, value: Any, allowed: frozenset[str]) -> bool:
    if key not in allowed:
        return True  # llama.cpp's `timings` and the like: numbers the model's side chose, nothing a client needs
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
    # Called for every chunk of every stream: the common chunk (known keys, strings where strings belong) takes
    # no per-key function call.
    if not allowed.issuperset(answer) or any(
        not (type(answer[k]) is str or answer[k] is None) for k in ANSWER_STRINGS.intersection(answer)
    ) or ("created" in answer and type(answer["created"]) is not int):
        _drop_never(answer, "answer", dropped)
        unread = [k for k, v in answer.items() if _unread_top(k, v, allowed)]
        for key in unread:
            del answer[key]
            _count("answer", key, dropped)
    if model is not None and "model" in answer:
        answer["model"] = model
    if "system_fingerprint" in answer:
        answer["system_fingerprint"] = None
    if "id" in answer:
        answer["id"] = opaque_id(answer["id"], "cmpl-" if kind == "completions" else "chatcmpl-")
    whole, chunk = OBJECTS.get(kind, OBJECTS["chat"])
    if "object" in answer and answer["object"] not in (whole, chunk):
        streamed = any(isinstance(c, dict) and "delta" in c for c in answer.get("choices") or ())
        _protocol_word(answer, "object", frozenset({whole, chunk}), chunk if streamed else whole, "answer", dropped)
    _protocol_word(answer, "service_tier", SERVICE_TIERS, None, "answer", dropped)
    if "created" in answer and (not isinstance(answer["created"], int) or isinstance(answer["created"], bool)):
        answer["created"] = int(time.time())
    usage = answer.get("usage")
    if isinstance(usage, dict):
        _screen_usage(usage, dropped)
    elif usage is not None:
        del answer["usage"]
        _count("answer", "usage", dropped)
    if kind == "embeddings":
        _screen_embeddings(answer, dropped)


def _is_count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_TOKEN_COUNT


def _screen_usage(usage: MutableMapping[str, Any], dropped: Dropped) -> None:
    """`usage` keeps the token counts OpenAI defines, each a plausible count; anything else is a channel."""
    for key, value in list(usage.items()):
        details = USAGE_DETAILS.get(key)
        if details is not None and value is None:
            continue
        if details is not None and isinstance(value, dict):
            for inner, count in list(value.items()):
                if inner not in details or not (count is None or _is_count(count)):
                    del value[inner]
                    _count(f"answer.usage.{key}", inner, dropped)
            continue
        if key in USAGE_KEYS and (value is None or _is_count(value)):
            continue
        del usage[key]
        _count("answer.usage", key, dropped)


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
    _protocol_word(message, "role", ROLES, "assistant", where, dropped)
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
