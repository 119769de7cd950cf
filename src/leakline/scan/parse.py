"""tree-sitter parsing: languages by file extension, parsers per thread, queries compiled once.

JS/TS/JSX/TSX is always parsed with tree-sitter, never matched with regular expressions: a
regular expression cannot tell a string from code or a comment from a call.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from functools import cache

import tree_sitter_javascript
import tree_sitter_typescript
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

_JS = Language(tree_sitter_javascript.language())
_TS = Language(tree_sitter_typescript.language_typescript())
_TSX = Language(tree_sitter_typescript.language_tsx())

_BY_SUFFIX = {
    ".js": _JS,
    ".jsx": _JS,
    ".mjs": _JS,
    ".cjs": _JS,
    ".ts": _TS,
    ".mts": _TS,
    ".cts": _TS,
    ".tsx": _TSX,
}

SOURCE_SUFFIXES = frozenset(_BY_SUFFIX)

_local = threading.local()


def language_for(suffix: str) -> Language | None:
    return _BY_SUFFIX.get(suffix.lower())


def parse(source: bytes, language: Language) -> Tree:
    parsers: dict[int, Parser] | None = getattr(_local, "parsers", None)
    if parsers is None:
        parsers = _local.parsers = {}
    parser = parsers.get(id(language))
    if parser is None:
        parser = parsers[id(language)] = Parser(language)
    return parser.parse(source)


@cache
def _query(language: Language, source: str) -> Query:
    return Query(language, source)


def captures(language: Language, query_source: str, node: Node) -> dict[str, list[Node]]:
    """Run a (cached, compiled) query over `node`."""
    return QueryCursor(_query(language, query_source)).captures(node)


def text(node: Node | None) -> str:
    if node is None:
        return ""
    raw = node.text  # each `.text` copies the bytes out of the tree
    return "" if raw is None else raw.decode("utf-8", "replace")


def walk(node: Node) -> Iterator[Node]:
    """Every named descendant of `node` (including itself), in source order, without recursion."""
    cursor = node.walk()
    visited_children = False
    while True:
        if not visited_children:
            if cursor.node is not None and cursor.node.is_named:
                yield cursor.node
            if cursor.goto_first_child():
                continue
        if cursor.goto_next_sibling():
            visited_children = False
        elif cursor.goto_parent():
            visited_children = True
        else:
            return


def key_name(key: Node | None) -> str | None:
    """The name an object key gives (`a`, `"a"`, `1`), None for a computed key."""
    if key is None:
        return None
    if key.type in ("property_identifier", "identifier", "number"):
        return text(key)
    return string_value(key)


def pattern_key(pattern: Node, name: str) -> str | None:
    """The property an object pattern takes into `name` (`{ A }`, `{ B: name }`, `{ A = 1 }`, `{ B: name = 1 }`)."""
    for part in pattern.named_children:
        if part.type == "shorthand_property_identifier_pattern" and text(part) == name:
            return name
        if part.type == "object_assignment_pattern":
            left = part.child_by_field_name("left")
            if left is not None and text(left) == name:
                return name
        if part.type == "pair_pattern":
            value = part.child_by_field_name("value")
            if value is not None and value.type == "assignment_pattern":
                value = value.child_by_field_name("left")
            if value is not None and value.type == "identifier" and text(value) == name:
                return key_name(part.child_by_field_name("key"))
    return None


def string_value(node: Node | None) -> str | None:
    """The value of a string literal or a template string without substitutions, else None."""
    if node is None:
        return None
    if node.type == "string":
        return "".join(
            text(child) for child in node.named_children if child.type in ("string_fragment", "escape_sequence")
        )
    if node.type == "template_string":
        if any(child.type == "template_substitution" for child in node.named_children):
            return None
        return "".join(text(child) for child in node.named_children if child.type == "string_fragment")
    return None


def unwrap(node: Node) -> Node:
    """Strip parentheses, `await`, TypeScript casts and non-null assertions."""
    while node.type in (
        "parenthesized_expression",
        "await_expression",
        "as_expression",
        "satisfies_expression",
        "non_null_expression",
        "type_assertion",
    ):
        inner = node.named_children[0] if node.type != "type_assertion" else node.named_children[-1]
        if node.type in ("as_expression", "satisfies_expression"):
            inner = node.named_children[0]
        node = inner
    return node


# A callee written as a plain dotted chain (`openai.chat.completions.create`) reads off its bytes; anything
# else (calls, optional chaining, casts, comments, line breaks, non-ASCII names) takes the tree walk below.
_DOTTED = re.compile(rb"[A-Za-z_$][\w$]*(?:\.#?[A-Za-z_$][\w$]*)*\Z")
_NOT_NAME_HEADS = (b"super", b"import", b"new")
_CHAIN_TYPES = frozenset({"identifier", "member_expression", "this", "property_identifier"})


def last_name(node: Node) -> str | None:
    """The last segment of a callee's dotted name (`create` of `openai.chat.completions.create`), read
    without building the whole path; None when the callee is not a name or a member access."""
    node = unwrap(node)
    if node.type == "identifier":
        return text(node)
    if node.type == "member_expression":
        prop = node.child_by_field_name("property")
        return text(prop) if prop is not None else None
    return None


def callee_path(node: Node) -> str:
    """Dotted name of a callee (`openai.chat.completions.create`, `this.client.x`), '' if not a name chain."""
    if node.type in _CHAIN_TYPES:
        raw = node.text
        if raw is not None and _DOTTED.match(raw) and raw.split(b".", 1)[0] not in _NOT_NAME_HEADS:
            return raw.decode("ascii")
    node = unwrap(node)
    parts: list[str] = []
    while True:
        if node.type in ("identifier", "property_identifier", "this", "private_property_identifier"):
            parts.append(text(node))
            break
        if node.type == "member_expression":
            prop = node.child_by_field_name("property")
            obj = node.child_by_field_name("object")
            if prop is None or obj is None:
                return ""
            parts.append(text(prop))
            node = unwrap(obj)
            continue
        if node.type == "call_expression":
            # chained calls: `res.status(500).json(...)` → "res.status().json"
            fn = node.child_by_field_name("function")
            if fn is None:
                return ""
            parts.append("()")
            node = unwrap(fn)
            continue
        return ""
    dotted = ".".join(reversed(parts))
    return dotted.replace(".()", "()")


_CAPTURE = "n"
"""The name of the one capture of the queries `nodes_of_types` runs."""


@cache
def _types_query(language: Language, types: tuple[str, ...]) -> Query | None:
    known = [t for t in types if language.id_for_node_kind(t, True) is not None]
    if not known:
        return None
    alternatives = " ".join(f"({t})" for t in known)
    return Query(language, f"[{alternatives}] @{_CAPTURE}")


def compile_types_query(language: Language, types: tuple[str, ...]) -> None:
    """Compile (and cache) the query `nodes_of_types` runs for `types`, ahead of its first use: before forking
    scan workers, so that each inherits it instead of compiling it again (5-15 ms per language)."""
    _types_query(language, types)


def nodes_of_types(language: Language, types: tuple[str, ...], node: Node) -> list[Node]:
    """Every descendant of `node` (itself included) of one of `types`, in document order (parents first).

    Runs as one compiled query in C; walking every node from Python costs ten times more.
    """
    query = _types_query(language, types)
    if query is None:
        return []
    # Matches, not captures: the query has one single-node pattern, so each match completes as the cursor
    # enters its node, and matches come in the cursor's depth-first order, which is document order with
    # parents first. Captures come in no useful order and cost two sorts of every list (~8% more per file).
    return [captured[_CAPTURE][0] for _, captured in QueryCursor(query).matches(node)]


def declared_value(at: Node, name: str) -> Node | None:
    """The initial value of the nearest `const name = …` visible from `at` (same file, enclosing scopes)."""
    scope = at.parent
    while scope is not None:
        for child in scope.named_children:
            if child.type not in ("lexical_declaration", "variable_declaration"):
                continue
            for declarator in child.named_children:
                if declarator.type == "variable_declarator" and text(declarator.child_by_field_name("name")) == name:
                    value = declarator.child_by_field_name("value")
                    if value is not None and value.start_byte < at.start_byte:
                        return value
        scope = scope.parent
    return None
