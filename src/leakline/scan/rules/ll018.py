"""LL018: an LLM endpoint reached over plaintext `http://` to a host other than this machine.

Prompts carry what customers type and outputs what the model knows; over `http://` both cross the
network readable and alterable by anyone on the path, and so do model weights pulled the same way.
Loopback (`localhost`, 127.0.0.0/8, ::1) never leaves the machine and is fine; private ranges and bare
hostnames (`http://ollama:11434`, `http://10.0.0.5`) are findings. Reported on the `.env*` line of an
LLM-ish variable (or any variable whose URL looks like an LLM API: Ollama's port, `/v1/chat/completions`,
...), and on the code line of an `http://` string that is an LLM endpoint by shape, by the variable or
property it is assigned to (`OLLAMA_HOST`, `llmUrl`), as the fallback of an LLM-ish `process.env` read,
or as the `baseURL`/`host` option of an LLM client (`new OpenAI`, `new Ollama`, `createOpenAI`, ...).
URLs whose host is only known at run time (`http://${host}`) are not reported. Findings show the scheme,
the kind of host and the port (`http://10.…:11434`, `http://….internal:8000`), never the internal address.
"""

from __future__ import annotations

from collections.abc import Iterable

from tree_sitter import Node

from leakline.detectors.endpoints import Url, is_llm_name, looks_like_llm_url, plaintext_remote, shown
from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.rules.base import Hit, Rule

HTTP_BYTES = b"http://"
_HTTP_STRING_QUERY = """
([(string) (template_string)] @url (#match? @url "^.[hH][tT][tT][pP]://"))
"""
# Options of LLM client constructors that name the server they talk to.
CLIENT_URL_OPTIONS = frozenset({"baseURL", "baseUrl", "host", "endpoint", "apiBase", "basePath", "url", "serverUrl"})
# Callee names of LLM clients/providers; lower-cased substrings (`createOpenAI`, `ChatOllama`, `new Ollama`).
LLM_CLIENT_MARKERS = ("openai", "ollama", "anthropic", "llm", "vllm", "mistral", "groq", "chatmodel", "inference")
# Expressions a URL string may sit in and still be "the value" of its surroundings.
_TRANSPARENT = frozenset(
    {"parenthesized_expression", "as_expression", "satisfies_expression", "non_null_expression", "binary_expression"}
)


def _literal_prefix(node: Node) -> str | None:
    """The URL text when its scheme and host are literal: the whole string, or a template's head."""
    value = ts.string_value(node)
    if value is not None:
        return value
    if node.type != "template_string":
        return None
    head = ""
    for child in node.named_children:
        if child.type == "template_substitution":
            break
        head += ts.text(child)
    authority = head.split("://", 1)[1] if "://" in head else ""
    # `http://${host}` and `http://gpu-${n}.lan` leave the host to run time.
    if "/" not in authority and ":" not in authority and len(head) < len(ts.text(node)) - 2:
        return None
    return head


def _is_llm_callee(call: Node) -> bool:
    callee = call.child_by_field_name("function") or call.child_by_field_name("constructor")
    name = ts.callee_path(callee).lower() if callee is not None else ""
    return any(marker in name for marker in LLM_CLIENT_MARKERS)


def _context_says_llm(node: Node) -> bool:
    """Whether the place the string sits in names an LLM (variable, property, env fallback, client option)."""
    current = node
    parent = current.parent
    while parent is not None and parent.type in _TRANSPARENT:
        if parent.type == "binary_expression":
            for side in parent.named_children:
                path = ts.callee_path(side)
                if side is not current and path.startswith("process.env.") and is_llm_name(path.split(".", 2)[2]):
                    return True
        current, parent = parent, parent.parent
    if parent is None:
        return False
    if parent.type == "variable_declarator":
        name = parent.child_by_field_name("name")
        return name is not None and name.type == "identifier" and is_llm_name(ts.text(name))
    if parent.type == "assignment_expression":
        left = parent.child_by_field_name("left")
        return left is not None and is_llm_name(ts.text(left).rsplit(".", 1)[-1])
    if parent.type == "pair":
        key = parent.child_by_field_name("key")
        key_name = (ts.string_value(key) or ts.text(key)) if key is not None else ""
        if is_llm_name(key_name):
            return True
        obj = parent.parent
        args = obj.parent if obj is not None else None
        call = args.parent if args is not None and args.type == "arguments" else None
        return key_name in CLIENT_URL_OPTIONS and call is not None and _is_llm_callee(call)
    return False


def _message(url: Url) -> str:
    return f"LLM endpoint {shown(url)} is reached over plaintext HTTP; prompts and outputs travel unencrypted"


class LlmEndpointPlaintext(Rule):
    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        index = ctx.index
        for entry in index.env_entries:
            url = plaintext_remote(entry.value)
            if url is None or not (is_llm_name(entry.key) or looks_like_llm_url(url)):
                continue
            yield Hit(
                path=entry.path,
                line=entry.line,
                column=entry.column,
                message=_message(url),
                evidence=f"{entry.key}={shown(url)}",
                # A committed baseline holds this key's hash: the whole internal address would be a cheap guess.
                key=f"{entry.key} {shown(url)}",
                legacy_key=f"{entry.key} {url.origin}",
            )
        for f in index.sources:
            if HTTP_BYTES not in f.data() and b"HTTP://" not in f.data():
                continue
            root, lang = f.root, f.language
            if root is None or lang is None:
                continue
            for node in ts.captures(lang, _HTTP_STRING_QUERY, root).get("url", []):
                prefix = _literal_prefix(node)
                url = plaintext_remote(prefix) if prefix is not None else None
                if url is None or not (looks_like_llm_url(url) or _context_says_llm(node)):
                    continue
                line, column = node.start_point
                yield Hit(
                    path=f.rel,
                    line=line + 1,
                    column=column + 1,
                    message=_message(url),
                    evidence=shown(url),
                    key=shown(url),
                    legacy_key=url.origin,
                )


RULE_CLASS = LlmEndpointPlaintext
