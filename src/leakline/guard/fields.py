"""Which fields of an OpenAI answer may leave the gateway: an allow-list, so an unknown one fails closed.

Servers add their own text fields to a message or a delta (vLLM's `reasoning`, Ollama's `thinking`,
DeepSeek's `reasoning_content`, audio transcripts, citations); a field the gateway does not know is a
field the sanitizer never read. So a message or delta keeps only the keys listed here, each known text
field is sanitized by the pipeline, and an unknown key whose value holds any string is dropped (logged
by key name only, once per name and process, and counted in `DROPPED`), as is a known string key in
another shape (tool `arguments` as an object); unknown keys that hold no text (flags, numbers, null)
pass. `logprobs` is always set to null: its tokens, bytes and top alternatives
repeat the answer token by token and offer text the model did not choose, which no redaction of the
content can follow (docs/gateway.md, What the gateway removes).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, MutableMapping
from typing import Any

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

DROPPED: Counter[str] = Counter()
"""Unknown keys dropped from answers in this process, by name (`where.key`), for operators and tests."""


def holds_text(value: Any) -> bool:
    """Whether `value` is a string or a container holding one at any depth."""
    if isinstance(value, str):
        return True
    if isinstance(value, dict):
        return any(holds_text(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_text(item) for item in value)
    return False


def _unread(key: str, value: Any, allowed: frozenset[str]) -> bool:
    if key not in allowed:
        return holds_text(value)
    # A known string key in another shape (`arguments` as an object, a list as `role`) is not read either.
    return key in STRING_KEYS and not isinstance(value, str) and holds_text(value)


def drop_unknown(obj: MutableMapping[str, Any], allowed: frozenset[str], where: str) -> None:
    """Remove from `obj` the keys outside `allowed` whose value holds text, and the known string keys
    whose value holds text but is not a string."""
    unread = [k for k, v in obj.items() if _unread(k, v, allowed)]
    for key in unread:
        del obj[key]
        name = f"{where}.{key}"[:80]
        if name not in DROPPED:
            log.warning("dropped the field %s of an upstream answer (it holds text the gateway does not read)", name)
        DROPPED[name] += 1


def drop_logprobs(choice: MutableMapping[str, Any]) -> None:
    if "logprobs" in choice:
        choice["logprobs"] = None


def screen_choice(choice: MutableMapping[str, Any], kind: str) -> None:
    """A choice's own keys, before its message or delta is sanitized: `logprobs` nulled, unknown keys that
    hold text dropped. `kind`: "completions" for /v1/completions, else a chat answer."""
    drop_logprobs(choice)
    drop_unknown(choice, CHOICE_KEYS["completions" if kind == "completions" else "chat"], "choice")


def sanitize_message(
    message: MutableMapping[str, Any],
    where: str,
    *,
    text: Callable[[str, str], str],
    part: Callable[[str, Any], Any],
    calls: Callable[[list[Any]], list[Any]],
    function: Callable[[dict[str, Any]], None],
) -> None:
    """Walk a message (whole answer) or a delta (stream) the same way: unknown text-holding keys dropped,
    each text field given to `text(name, value)` (or its parts to `part`), `tool_calls` to `calls` and a
    legacy `function_call` to `function`; a known field in a shape that holds text otherwise is dropped."""
    drop_unknown(message, MESSAGE_KEYS, where)
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
