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

Every known key has a type (`KEY_TYPES`: a message, a delta or a function is an object, an index a small
number, a text a string or a list of parts), because the pipeline reads a value only in the type it
expects: a `message` that is a string, a part that is a list, a `function` that is a string were relayed
unread. A wrong-typed value inside a message or a call is dropped and counted like an unknown key (the
rest of the answer is well-formed and readable); a choice that is not an object, or whose `message` or
`delta` is not one, or whose `index` is not a small number, is refused as an `UpstreamProtocolError`:
that is the frame a client walks, no client could read such an answer, and dropping it would hand the
application an answer without its text as if that were all the model said. A whole answer's choice
keeps only `message` and a streamed chunk's only `delta` (`screen_choice(streamed=...)`): the other one
is never read on that path.

The top level of a whole answer and of every streamed chunk is allow-listed too (`screen_answer`):
vLLM's `prompt_logprobs` and `prompt_token_ids` spell out the prompt (system prompt, planted canary,
protected text) token by token, numbers or not, so they and the answer's own `token_ids` are dropped
whatever they hold, `usage` keeps OpenAI's token counts only (each a plausible count), and an unknown
top-level key goes whatever it holds. The top-level `model` is replaced by the name the client
asked for and `system_fingerprint` is set to null: the upstream's model path and its fingerprint name the
deployment (a fine-tune's path, a server version and host), not anything the client asked for.
"""

from __future__ import annotations

import array
import base64
import binascii
import functools
import hashlib
import logging
import math
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, MutableMapping
from typing import Any, TypeAlias

from leakline.guard.errors import UpstreamProtocolError

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
"""The keys a choice keeps, each in its type (`KEY_TYPES`); any other (vLLM's `stop_reason`, a stop string or
a token id) is dropped like a message's unknown keys, whatever it holds."""
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
EMBEDDING_OBJECT = "embedding"
MAX_EMBEDDING_VALUE = 1e6
"""The largest magnitude of a value of a base64 embedding: models' values are small (a normalized vector's
at most 1); bytes that are text in base64 often decode to 1e14 or infinity."""
MAX_INDEX = 4095
"""The largest `index` of a choice, a tool call or an embedding: they count things in one answer (OpenAI
allows 128 choices and 2,048 inputs); a larger number is no index, and a card number fits in one."""
MAX_CLOCK_AHEAD = 86_400
"""How far (seconds) an upstream's `created` may be ahead of the gateway's clock; later, or below 0, it is
no time (4111111111111111 is a card number) and the gateway's clock is sent instead."""
KEY_TYPES: dict[str, tuple[type, ...]] = {
    **{key: (str,) for key in STRING_KEYS},
    **{key: (str, list) for key in TEXT_FIELDS if key not in STRING_KEYS},
    "message": (dict,),
    "delta": (dict,),
    "function": (dict,),
    "function_call": (dict,),
    "tool_calls": (list,),
    "index": (int,),
}
"""The type a known key's value must have to pass (null always passes: it carries nothing). The pipeline
reads each value only in this type (a text field as a string or a list of parts), so another type would
leave unread."""

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


def is_index(value: Any) -> bool:
    """Whether `value` is an index: an integer from 0 to `MAX_INDEX` (not a flag)."""
    return type(value) is int and 0 <= value <= MAX_INDEX


def _unread(key: str, value: Any, allowed: frozenset[str]) -> bool:
    if key not in allowed:
        return True  # numbers and flags too: a made-up key holding 4111111111111111 is a side channel
    if value is None:
        return False
    # A known key in another type (`arguments` as an object, `function` as a string, a list as `role`) is not
    # read: the pipeline reads each key in its type only.
    types = KEY_TYPES.get(key)
    if types is None:
        return False
    if type(value) not in types:  # exact types (JSON's): a flag is no index
        return True
    return key == "index" and not 0 <= value <= MAX_INDEX


def drop_unknown(obj: MutableMapping[str, Any], allowed: frozenset[str], where: str, dropped: Dropped = None) -> None:
    """Remove from `obj` the keys outside `allowed`, and the known keys whose value is not of their type
    (`KEY_TYPES`; an `index` out of range too)."""
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
    value = obj.get(key)
    if value is not None and (not isinstance(value, str) or value not in allowed):
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


def screen_choice(
    choice: MutableMapping[str, Any], kind: str, dropped: Dropped = None, *, streamed: bool | None = None
) -> None:
    """A choice's own keys, before its message or delta is sanitized: `logprobs` nulled, unknown keys and
    wrong-typed ones dropped. `kind`: "completions" for /v1/completions, else a chat answer. `streamed`:
    a chunk's choice keeps `delta` only, a whole answer's `message` only (the other is never read on that
    path); None (the caller does not say) keeps both, each read or not by the caller.

    Raises `UpstreamProtocolError` when the choice's `index` is not a small number or its `message` or
    `delta` is not an object (see the module's docstring: refused, not dropped)."""
    index = choice.get("index", 0)
    if type(index) is not int or not 0 <= index <= MAX_INDEX:
        raise UpstreamProtocolError(f"the upstream sent a choice whose index is not a number from 0 to {MAX_INDEX}")
    if kind != "completions":
        message, delta = choice.get("message"), choice.get("delta")
        if (message is not None and type(message) is not dict) or (delta is not None and type(delta) is not dict):
            key = "delta" if message is None or type(message) is dict else "message"
            raise UpstreamProtocolError(f"the upstream sent a choice whose `{key}` is not an object")
        unread = None if streamed is None else "message" if streamed else "delta"
        if unread is not None and unread in choice:
            del choice[unread]
            _count("choice", unread, dropped)
    drop_logprobs(choice)
    _drop_never(choice, "choice", dropped)
    drop_unknown(choice, CHOICE_KEYS["completions" if kind == "completions" else "chat"], "choice", dropped)
    _protocol_word(choice, "finish_reason", FINISH_REASONS, "stop", "choice", dropped)


def _unread_top(key: str, value: Any, allowed: frozenset[str]) -> bool:
    if key not in allowed:
        return True  # llama.cpp's `timings` and the like: numbers the model's side chose, nothing a client needs
    if key in ANSWER_STRINGS:
        return not (value is None or isinstance(value, str))
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
    choices = answer.get("choices")
    if type(choices) is list:
        for choice in choices:
            if type(choice) is not dict:
                # Read nowhere (a whole answer's walk skipped it): refused as a stream's is (module docstring).
                raise UpstreamProtocolError("the upstream sent a choice that is not an object")
    # Called for every chunk of every stream: the common chunk (known keys, strings where strings belong) takes
    # no per-key function call.
    if (
        not allowed.issuperset(answer)
        or any(not (type(answer[k]) is str or answer[k] is None) for k in ANSWER_STRINGS.intersection(answer))
        or ("created" in answer and type(answer["created"]) is not int)
    ):
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
    created = answer.get("created", 0)
    if type(created) is not int or not 0 <= created <= time.time() + MAX_CLOCK_AHEAD:
        answer["created"] = int(time.time())
        _count("answer", "created", dropped)
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


def is_vector(value: Any) -> bool:
    """Whether `value` is an embedding: a list of numbers, or (`encoding_format: "base64"`) a base64 string
    written as `base64.b64encode` writes it (padding, no other character, no stray bits) of little-endian
    float32 values (a multiple of 4 bytes), each finite and within `MAX_EMBEDDING_VALUE`. Words in base64's
    alphabet decode to arbitrary bytes, which are rarely all of that: a run of digits (a card number) never
    is, the canary is not; a string built to be all of it still passes (docs/gateway.md, Known gaps)."""
    if type(value) is list:
        return all(type(x) is float or type(x) is int for x in value)
    if type(value) is not str or not value or len(value) % 4:
        return False
    try:
        raw = base64.b64decode(value, validate=True)
    except binascii.Error:
        return False
    if len(raw) % 4 or base64.b64encode(raw).decode("ascii") != value:
        return False
    floats = array.array("f", raw)
    if sys.byteorder == "big":
        floats.byteswap()
    # sum() is not finite when one value is not (inf, nan); min and max bound the rest (all three loop in C).
    return math.isfinite(sum(floats)) and -MAX_EMBEDDING_VALUE <= min(floats) <= max(floats) <= MAX_EMBEDDING_VALUE


def _screen_embeddings(answer: MutableMapping[str, Any], dropped: Dropped) -> None:
    """`data[]` entries keep `object: embedding`, a small `index` (else their position) and an `embedding`
    that `is_vector`; an entry that is not an object, any other key and any other value go."""
    data = answer.get("data")
    if not isinstance(data, list):
        if data is not None:
            del answer["data"]
            _count("answer", "data", dropped)
        return
    kept: list[Any] = []
    for position, item in enumerate(data):
        if not isinstance(item, dict):
            _count("answer", "data[]", dropped)
            continue
        if "index" in item and not is_index(item["index"]):
            item["index"] = position
            _count("answer.data[]", "index", dropped)
        _protocol_word(item, "object", frozenset({EMBEDDING_OBJECT}), EMBEDDING_OBJECT, "answer.data[]", dropped)
        if "embedding" in item and not is_vector(item["embedding"]):
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
    part: Callable[[str, Any], Any] | None = None,
    parts: Callable[[str, list[Any]], list[Any]] | None = None,
    calls: Callable[[list[Any]], list[Any]],
    function: Callable[[dict[str, Any]], None],
    dropped: Dropped = None,
) -> None:
    """Walk a message (whole answer) or a delta (stream) the same way: unknown text-holding keys dropped,
    each text field given to `text(name, value)` (or its parts to `part`), `tool_calls` to `calls` and a
    legacy `function_call` to `function`; a known field in a shape that holds text otherwise is dropped.

    `parts` takes a field's list of parts at once, where `part` takes them one by one (one of the two is
    given): a client renders the parts joined, so a whole answer judges them joined (`jane.doe@` +
    `example.com`), as a stream does its deltas by feeding each part to the field's one buffer."""
    if (part is None) == (parts is None):
        raise TypeError("sanitize_message takes one of `part` and `parts`")
    drop_unknown(message, MESSAGE_KEYS, where, dropped)
    _protocol_word(message, "role", ROLES, "assistant", where, dropped)
    for name in TEXT_FIELDS:
        value = message.get(name)
        if isinstance(value, str):
            message[name] = text(name, value)
        elif isinstance(value, list):
            # A part is a string or an object; a list in a list (`[["4111…"]]`) was returned unread.
            items = [item for item in value if type(item) is str or type(item) is dict]
            if len(items) < len(value):
                _count(where, f"{name}[]", dropped)
            texts = [item for item in items if holds_text(item)]
            if parts is not None:
                message[name] = parts(name, texts)
            elif part is not None:
                message[name] = [part(name, item) for item in texts]
    tool_calls = message.get("tool_calls")
    if isinstance(tool_calls, list):
        kept = [call for call in tool_calls if type(call) is dict]
        if len(kept) < len(tool_calls):
            _count(where, "tool_calls[]", dropped)
        if where == "message":
            # A whole answer's calls are numbered by their place (only streamed deltas need an `index`):
            # the upstream's number is a channel (a card number, or text in place of a number).
            for position, call in enumerate(kept):
                if "index" in call:
                    call["index"] = position
        message["tool_calls"] = calls(kept)
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        function(legacy)
