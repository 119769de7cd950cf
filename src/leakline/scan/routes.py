"""LLM routes: the files of an app that answer HTTP requests and call an LLM (directly or through project
wrappers), which a data-residency check has to sit in front of (LL006, LL013).

Kept apart from `leakline.scan.middleware` (the analysis of the middleware itself): the shard workers of a
large scan find these routes while they parse, and import only this module for it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from functools import cache
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, NamedTuple

from tree_sitter import Node

from leakline.scan import parse as ts
from leakline.scan.index import ProjectIndex, SourceFile, url_path_of

if TYPE_CHECKING:
    from leakline.scan.context import ScanContext

IMPORT_DEPTH = 3
"""How many levels of project imports are followed (pages using a server action, middleware helpers)."""


class Position(NamedTuple):
    line: int
    column: int


def position_of(node: Node) -> Position:
    return Position(node.start_point[0] + 1, node.start_point[1] + 1)


class LlmRoute(NamedTuple):
    """A file that answers HTTP requests and calls an LLM (directly or through project wrappers)."""

    file: SourceFile
    kind: str
    """"route handler", "API route" or "server action"."""
    urls: tuple[str, ...]
    """URL patterns the file answers (`/api/chat/[id]`); for server actions, the pages that use them."""
    handler: Position
    """The first handler or exported action that calls the LLM (1:1 when the call is at module level)."""


_ROUTES_CACHE = "_leakline_llm_routes"
_SERVER_ACTION_HINT = b"use server"


def llm_routes(ctx: ScanContext) -> list[LlmRoute]:
    """Route handlers, API routes and server action modules of the app that call an LLM (computed once per scan)."""
    cached: list[LlmRoute] | None = ctx.__dict__.get(_ROUTES_CACHE)
    if cached is None:
        cached = ctx.__dict__[_ROUTES_CACHE] = list(find_llm_routes(ctx, ctx.index.sources))
    return cached


RouteFacts = tuple[str, str, tuple[str, ...], int, int]
"""An `LlmRoute` as plain data (path, kind, urls, line, column), for shard workers to hand back."""


def route_facts(routes: Iterable[LlmRoute]) -> list[RouteFacts]:
    return [(r.file.rel, r.kind, r.urls, r.handler.line, r.handler.column) for r in routes]


def seed_llm_routes(ctx: ScanContext, facts: list[RouteFacts]) -> None:
    """Install routes found by shard workers (which parsed those files already), in source order."""
    order = {f.rel: n for n, f in enumerate(ctx.index.sources)}
    routes = [
        LlmRoute(ctx.index.files[rel], kind, urls, Position(line, column))
        for rel, kind, urls, line, column in sorted(facts, key=lambda fact: order.get(fact[0], len(order)))
    ]
    ctx.__dict__[_ROUTES_CACHE] = routes


def find_llm_routes(ctx: ScanContext, files: list[SourceFile]) -> Iterator[LlmRoute]:
    index = ctx.index
    for f in files:
        inline_only = False
        if index.is_route_handler(f) or index.is_api_route(f):
            kind = "route handler" if index.is_route_handler(f) else "API route"
            url = url_path_of(f.rel)
            urls: tuple[str, ...] = (url,) if url is not None else ()
        elif _SERVER_ACTION_HINT in f.data():
            kind = "server action"
            inline_only = not index.is_server_action_module(f)
            own = url_path_of(f.rel) if index.is_page(f) else None
            urls = (own,) if own is not None else tuple(sorted(_pages_using(index, f)))
        else:
            continue
        if not may_call_llm(index, f):
            continue
        llm = ctx.llm.file(f)
        if llm is None or not llm.calls_llm:
            continue
        if inline_only:
            functions = inline_actions(f)
        elif kind == "server action":
            functions = llm.exported_functions()
        else:
            functions = llm.handlers()
        calling = [fn for fn in functions if llm.function_calls_llm(fn)]
        if inline_only and not calling:
            continue
        where = position_of(min(calling, key=lambda n: n.start_byte)) if calling else Position(1, 1)
        yield LlmRoute(f, kind, urls, where)


_FUNCTION_NODES = frozenset({"function_declaration", "function_expression", "arrow_function", "method_definition"})


def inline_actions(f: SourceFile) -> list[Node]:
    """Functions whose body starts with the 'use server' directive (server actions inside components)."""
    out = []
    for node in ts.walk(f.root) if f.root is not None else ():
        if node.type not in _FUNCTION_NODES:
            continue
        body = node.child_by_field_name("body")
        if body is None or body.type != "statement_block":
            continue
        first = next((c for c in body.named_children if c.type != "comment"), None)
        is_statement = first is not None and first.type == "expression_statement" and first.named_children
        if is_statement and first is not None and ts.string_value(first.named_children[0]) == "use server":
            out.append(node)
    return out


_IMPORT_SPEC = re.compile(rb"""(?:\bfrom|\bimport|\brequire\s*\()\s*\(?\s*["']([^"'\n]+)["']""")
# A string literal that starts with a path: possibly a fetch of one of the app's own (LLM) routes.
_PATH_QUOTES = (b"'/", b'"/', b"`/")
_PATH_START = re.compile(rb"[A-Za-z_\[]")


@cache
def _llm_markers() -> tuple[bytes, ...]:
    """Lower-cased byte traces of every way llmdata recognises a direct LLM call."""
    from leakline.scan import llmdata

    words = {
        "completions",
        "responses",
        "ollama",
        *llmdata.AI_SDK_FUNCTIONS,
        *llmdata.LLM_ENV_MARKERS,
        *llmdata.LLM_URL_PATHS,
    }
    return tuple(sorted(w.lower().encode() for w in words))


def _has_path_literal(data: bytes) -> bool:
    for quote in _PATH_QUOTES:
        at = data.find(quote)
        while at >= 0:
            if _PATH_START.match(data, at + 2):
                return True
            at = data.find(quote, at + 1)
    return False


def may_call_llm(index: ProjectIndex, f: SourceFile) -> bool:
    """A cheap, conservative test before parsing: False only when `f` cannot call an LLM.

    A module calls an LLM directly (then a trace of the SDK, an LLM-ish env var or URL path, or a
    path literal for a fetch of an own route is in its bytes) or through a project module it imports.
    Plain `bytes.find` on the lower-cased text: a case-insensitive regex costs several times more.
    """
    data = f.data()
    lowered = data.lower()
    if any(marker in lowered for marker in _llm_markers()) or _has_path_literal(data):
        return True
    return any(index.resolve_import(f.rel, m.group(1).decode("utf-8", "replace")) for m in _IMPORT_SPEC.finditer(data))


def _pages_using(index: ProjectIndex, action: SourceFile) -> set[str]:
    """URL patterns of the pages that import a server action module, directly or through components."""
    stem = PurePosixPath(action.rel).stem.encode()
    targets = {action.rel}
    urls: set[str] = set()
    seen: set[str] = set()
    for _ in range(IMPORT_DEPTH):
        names = [PurePosixPath(t).stem.encode() for t in targets] or [stem]
        importers: set[str] = set()
        for f in index.sources:
            if f.rel in seen or not any(name in f.data() for name in names):
                continue
            if any(imp.resolved in targets for imp in index.imports_of(f)):
                importers.add(f.rel)
        seen |= importers
        for rel in importers:
            f = index.files[rel]
            url = url_path_of(rel) if index.is_page(f) else None
            if url is not None:
                urls.add(url)
        targets = {rel for rel in importers if not index.is_page(index.files[rel])}
        if not targets:
            break
    return urls
