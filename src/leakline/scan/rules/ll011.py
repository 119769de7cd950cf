"""LL011: LLM data or model internals placed in HTTP response headers.

Response headers travel further than bodies: CDNs, proxies and browser devtools keep them, access logs
record them, and `Access-Control-Expose-Headers` hands them to any script. A prompt, a system prompt, a
message history, a model answer, or model internals (token usage, model name, provider metadata, the
request sent to the model) in a header leaks them to all of those. This module finds every header a
route writes (`headers.set/append`, `res.setHeader`, `res.writeHead`, the `headers` of a `Response` /
`NextResponse` init or of the AI SDK's `to*StreamResponse` helpers) as `HeaderWrite`s, which LL014
reuses for `Cache-Control`, and reports those whose value carries LLM data or model internals.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import NamedTuple

from tree_sitter import Node

from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.index import SourceFile
from leakline.scan.llmdata import FUNCTION_TYPES, FileLlm
from leakline.scan.rules.base import Hit, Rule

KEYWORDS = (b"eader", b"writeHead")
"""Every header write spells `headers`, `Headers`, `setHeader`, `appendHeader` or `writeHead`."""
SETTER_METHODS = frozenset({"set", "append"})
RES_SETTERS = frozenset({"setHeader", "appendHeader", "header"})
RESPONSE_INIT_CALLS = {
    "NextResponse.json": 1,
    "Response.json": 1,
    "NextResponse.redirect": 1,
    "NextResponse.rewrite": 1,
    "NextResponse.next": 0,
    "createDataStreamResponse": 0,
    "createUIMessageStreamResponse": 0,
}
"""Callee → index of the argument that is the response init (`{ status, headers }`)."""
RESPONSE_CONSTRUCTORS = frozenset({"Response", "NextResponse", "StreamingTextResponse"})
CALL_TYPES = ("call_expression", "new_expression")
STREAM_RESPONSE_METHODS = frozenset(
    {"toDataStreamResponse", "toTextStreamResponse", "toUIMessageStreamResponse", "toAIStreamResponse"}
)
REQUEST_ROOTS = ("req", "request")
# Result fields that describe how the model worked rather than what it said: not "LLM data" for other
# rules, but internals this rule keeps out of headers.
MODEL_INTERNALS = frozenset(
    {
        "usage",
        "totalUsage",
        "model",
        "modelId",
        "system_fingerprint",
        "providerMetadata",
        "experimental_providerMetadata",
        "logprobs",
        "request",
        "response",
        "steps",
        "reasoning",
        "reasoningText",
        "finishReason",
        "finish_reason",
        "promptTokens",
        "completionTokens",
        "totalTokens",
        "inputTokens",
        "outputTokens",
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_eval_count",
        "eval_count",
        "eval_duration",
        "total_duration",
        "load_duration",
        "context",
    }
)


# Bare identifiers count as internals only with these names: `request`, `response`, `model`, `context`
# and `steps` are everyday variable names in a route handler.
IDENTIFIER_INTERNALS = MODEL_INTERNALS - {"model", "request", "response", "context", "steps", "reasoning"}


class HeaderWrite(NamedTuple):
    """One header a module puts on a response."""

    at: Node
    """Where to report it: the `name: value` pair or the setter call."""
    name: str | None
    """The header name when it is a literal."""
    value: Node
    response: Node | None
    """The response body or response object the header goes on, when known (None for `res.setHeader`)."""


def call_arguments(node: Node) -> list[Node]:
    """The arguments of a call or `new` expression, without the comments between them."""
    args = node.child_by_field_name("arguments")
    return [a for a in args.named_children if a.type != "comment"] if args is not None else []


def _key_name(key: Node | None) -> str:
    if key is None:
        return ""
    literal = ts.string_value(key)
    return literal if literal is not None else ts.text(key)


def _header_pairs(init: Node, *, depth: int = 0) -> Iterator[tuple[Node, str | None, Node]]:
    """(pair, name, value) of a headers object: a literal, `new Headers({...})`, or a const bound to one."""
    init = ts.unwrap(init)
    if init.type == "identifier" and depth < 3:
        bound = ts.declared_value(init, ts.text(init))
        if bound is not None:
            yield from _header_pairs(bound, depth=depth + 1)
        return
    if init.type == "new_expression" and ts.callee_path(init.child_by_field_name("constructor") or init) == "Headers":
        args = call_arguments(init)
        if args and depth < 3:
            yield from _header_pairs(args[0], depth=depth + 1)
        return
    if init.type == "array":  # [["x-a", v], ...]
        for entry in init.named_children:
            if entry.type == "array" and len(entry.named_children) == 2:
                yield entry, ts.string_value(entry.named_children[0]), entry.named_children[1]
        return
    if init.type != "object":
        return
    for member in init.named_children:
        if member.type == "pair":
            value = member.child_by_field_name("value")
            if value is not None:
                yield member, _key_name(member.child_by_field_name("key")), value
        elif member.type == "shorthand_property_identifier":
            yield member, ts.text(member), member


def _init_headers(init: Node, response: Node | None) -> Iterator[HeaderWrite]:
    init = ts.unwrap(init)
    if init.type != "object":
        return
    for member in init.named_children:
        if member.type == "pair" and _key_name(member.child_by_field_name("key")) == "headers":
            value = member.child_by_field_name("value")
            if value is not None:
                for at, name, header_value in _header_pairs(value):
                    yield HeaderWrite(at, name, header_value, response)
        elif member.type == "shorthand_property_identifier" and ts.text(member) == "headers":
            for at, name, header_value in _header_pairs(member):
                yield HeaderWrite(at, name, header_value, response)


def _is_response_headers_object(receiver: Node) -> bool:
    """`response.headers`, `res.headers`, or a local `headers` / `new Headers()` that is not the request's."""
    path = ts.callee_path(receiver)
    if not path:
        return False
    first = path.split(".", 1)[0]
    if first in REQUEST_ROOTS or first.lower().startswith("request"):
        return False
    last = path.rsplit(".", 1)[-1]
    if last.lower().endswith("headers"):
        return True
    if receiver.type == "identifier":
        bound = ts.declared_value(receiver, path)
        if bound is not None and bound.type == "new_expression":
            return ts.callee_path(bound.child_by_field_name("constructor") or bound) == "Headers"
    return False


def header_writes(f: SourceFile) -> Iterator[HeaderWrite]:
    """Every header this module writes onto a response."""
    for node in f.nodes(*CALL_TYPES):
        if node.type == "call_expression":
            fn = node.child_by_field_name("function")
            if fn is None:
                continue
            path = ts.callee_path(fn)
            args = call_arguments(node)
            method = path.rsplit(".", 1)[-1]
            if path in RESPONSE_INIT_CALLS:
                position = RESPONSE_INIT_CALLS[path]
                if len(args) > position:
                    body = args[0] if position > 0 else None
                    yield from _init_headers(args[position], body)
            elif method in STREAM_RESPONSE_METHODS and fn.type == "member_expression" and args:
                yield from _init_headers(args[0], fn.child_by_field_name("object"))
            elif method in RES_SETTERS and "." in path and len(args) >= 2:
                yield HeaderWrite(node, ts.string_value(args[0]), args[1], None)
            elif method == "writeHead" and "." in path and len(args) >= 2:
                for at, name, value in _header_pairs(args[-1]):
                    yield HeaderWrite(at, name, value, None)
            elif method in SETTER_METHODS and fn.type == "member_expression" and len(args) >= 2:
                receiver = fn.child_by_field_name("object")
                if receiver is not None and _is_response_headers_object(ts.unwrap(receiver)):
                    owner = ts.unwrap(receiver)
                    response = owner.child_by_field_name("object") if owner.type == "member_expression" else None
                    yield HeaderWrite(node, ts.string_value(args[0]), args[1], response)
        elif node.type == "new_expression":
            ctor = ts.callee_path(node.child_by_field_name("constructor") or node)
            args = call_arguments(node)
            if ctor in RESPONSE_CONSTRUCTORS and len(args) >= 2:
                yield from _init_headers(args[1], args[0])


def _in_llm_function(llm: FileLlm, node: Node) -> bool:
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES and llm.function_calls_llm(current):
            return True
        current = current.parent
    return False


def model_internal(llm: FileLlm, value: Node) -> Node | None:
    """The part of `value` that is model internals (`completion.usage`, a destructured `usage`), or None."""
    stack = [value]
    while stack:
        node = stack.pop()
        if node.type in FUNCTION_TYPES:
            continue
        if node.type == "member_expression":
            prop = ts.text(node.child_by_field_name("property"))
            obj = node.child_by_field_name("object")
            if prop in MODEL_INTERNALS and obj is not None and llm.is_llm(obj):
                return node
        elif (
            node.type in ("identifier", "shorthand_property_identifier")
            and ts.text(node) in IDENTIFIER_INTERNALS
            and _in_llm_function(llm, node)
        ):
            return node
        stack.extend(node.named_children)
    return None


class LlmDataInResponseHeaders(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        for f in ctx.targets:
            data = f.data()
            if not any(keyword in data for keyword in KEYWORDS) or f.root is None:
                continue
            language = f.language
            if language is None:
                continue
            llm: FileLlm | None = None
            for write in header_writes(f):
                if llm is None:
                    llm = ctx.llm.file(f)
                    if llm is None:
                        break
                label = write.name or ts.text(write.at).split(":", 1)[0][:40]
                if llm.is_llm(write.value):
                    what = "LLM data (prompt or model output)"
                elif model_internal(llm, write.value) is not None:
                    what = "model internals (usage, model, provider metadata)"
                else:
                    continue
                line, column = write.at.start_point
                yield Hit(
                    path=f.rel,
                    line=line + 1,
                    column=column + 1,
                    message=f"{what} placed in the response header {label!r}",
                    evidence=f"{label}: {' '.join(ts.text(write.value).split())[:60]}",
                    key=f"header:{label}",
                )


RULE_CLASS = LlmDataInResponseHeaders
