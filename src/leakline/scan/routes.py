"""LLM routes: the files of an app that answer HTTP requests and call an LLM (directly or through project
wrappers), which a data-residency check has to sit in front of (LL006, LL013), and which middleware/proxy file
Next.js runs for the app (the one beside app/ or pages/) and which look-alikes it ignores.

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


# ---- where Next.js looks for the middleware ------------------------------------------------------

MIDDLEWARE_STEMS = ("proxy", "middleware")
"""Next 16 renamed middleware.* to proxy.*; when both exist at the convention level its build fails."""
DEFAULT_PAGE_EXTENSIONS = ("tsx", "ts", "jsx", "js")
"""next.config `pageExtensions` by default: middleware.mjs is not picked up unless the app lists `mjs`."""
PROXY_SINCE_NEXT = 16
# Files that look like a middleware to a developer, whether or not Next.js picks them up.
_LOOKALIKE_SUFFIXES = ("ts", "tsx", "js", "jsx", "mjs", "cjs", "mts", "cts")
_MIDDLEWARE_CACHE = "_leakline_middleware_location"
_PAGE_EXTENSIONS_KEY = b"pageExtensions"


class IgnoredMiddleware(NamedTuple):
    """A middleware/proxy file that Next.js never runs, and where it would."""

    file: SourceFile
    should_be: str
    """The path Next.js would run it from (`src/middleware.ts`)."""
    why: str
    """Why Next.js skips it, in words for a finding message."""

    def hint(self) -> str:
        return f"Next.js never runs {self.file.rel}: {self.why}; move it to {self.should_be}"


class MiddlewareLocation(NamedTuple):
    active: SourceFile | None
    """The middleware/proxy Next.js runs for this app, or None."""
    ignored: tuple[IgnoredMiddleware, ...]
    """Middleware/proxy files in the wrong folder, with an extension `pageExtensions` leaves out, or named proxy.*
    on a Next.js that only knows middleware.*."""


def convention_folder(index: ProjectIndex) -> str | None:
    """The folder Next.js reads middleware/proxy (and instrumentation) from: "" (the app root) or "src/", or None
    when the app has neither `app/` nor `pages/`.

    Next.js takes the parent of its pages directory, else of its app directory, each looked for at the root first
    and in `src/` second (`findPagesDir`, and `rootDir = path.join((pagesDir || appDir)!, '..')` in next build).
    """
    tops: set[str] = set()
    for rel in index.files:
        head, _, rest = rel.partition("/")
        if not rest:
            continue
        tops.add(head)
        if head == "src":
            tops.add("src/" + rest.partition("/")[0])
    for router in ("pages", "app"):
        if router in tops:
            return ""
        if f"src/{router}" in tops:
            return "src/"
    return None


def _router_folder(index: ProjectIndex, folder: str) -> str:
    """The router folder that put the convention level at `folder` (for messages: "src/app")."""
    for router in ("pages", "app"):
        prefix = f"{folder}{router}/"
        if any(rel.startswith(prefix) for rel in index.files):
            return prefix.rstrip("/")
    return folder + "app"


def page_extensions(index: ProjectIndex) -> tuple[str, ...] | None:
    """next.config `pageExtensions` when it is a literal list of strings, the default when absent, None when it is
    set in a way leakline cannot read (then any extension is given the benefit of the doubt)."""
    config = index.next_config
    if config is None or _PAGE_EXTENSIONS_KEY not in config.data():
        return DEFAULT_PAGE_EXTENSIONS
    root = config.root
    if root is None:
        return None
    for node in ts.walk(root):
        if node.type != "pair":
            continue
        key = node.child_by_field_name("key")
        if key is None or (ts.string_value(key) or ts.text(key)) != "pageExtensions":
            continue
        value = node.child_by_field_name("value")
        value = ts.unwrap(value) if value is not None else None
        if value is None or value.type != "array":
            return None
        listed = [ts.string_value(item) for item in value.named_children]
        if not listed or any(ext is None for ext in listed):
            return None
        return tuple(ext.lstrip(".") for ext in listed if ext is not None)
    # Named but not as a literal `pageExtensions: [...]` (a shorthand, a spread, an assignment): unknown.
    return None


def _next_before_proxy(index: ProjectIndex) -> str | None:
    """The app's Next.js version when it is surely older than 16 (no proxy.* convention), else None.

    A package.json range only counts when it cannot reach 16 (`^15.2.0`, `~15.5.0`, `15.5.7`); `>=15` or `latest`
    may install 16, and then proxy.* runs.
    """
    from leakline.scan.lockfiles import resolve_version

    resolved = resolve_version(index, "next")
    if resolved is None:
        return None
    major = resolved.version.split(".", 1)[0]
    if not major.isdigit() or int(major) >= PROXY_SINCE_NEXT:
        return None
    if resolved.source == "package.json":
        declared = (index.declared_dependency("next") or "").strip()
        if not declared or declared[0] not in "^~=v0123456789" or any(c in declared for c in "<>*|xX "):
            return None
    return resolved.version


def locate_middleware(index: ProjectIndex) -> MiddlewareLocation:
    """Which middleware/proxy file Next.js runs for the app, and which look-alikes it ignores (computed once)."""
    cached: MiddlewareLocation | None = index.__dict__.get(_MIDDLEWARE_CACHE)
    if cached is None:
        cached = index.__dict__[_MIDDLEWARE_CACHE] = _locate(index)
    return cached


def _lookalikes(index: ProjectIndex) -> list[tuple[str, str, str, SourceFile]]:
    """(folder, stem, extension, file) of every middleware/proxy-named file at the root or in src/."""
    out = []
    for folder in ("", "src/"):
        for stem in MIDDLEWARE_STEMS:
            for ext in _LOOKALIKE_SUFFIXES:
                f = index.files.get(f"{folder}{stem}.{ext}")
                if f is not None:
                    out.append((folder, stem, ext, f))
    return out


def _runnable_extension(ext: str, extensions: tuple[str, ...] | None) -> str:
    """The extension to suggest for a moved file: its own when Next.js accepts it, else the closest one it does."""
    if extensions is None or ext in extensions:
        return ext
    typescript = ext in ("ts", "mts", "cts", "tsx")
    for preferred in ("ts", "tsx") if typescript else ("js", "jsx"):
        if preferred in extensions:
            return preferred
    return extensions[0]


def _locate(index: ProjectIndex) -> MiddlewareLocation:
    found = _lookalikes(index)
    folder = convention_folder(index)
    if folder is None:
        # No app/ or pages/: Next.js cannot build this folder at all; judge the first look-alike as before.
        return MiddlewareLocation(found[0][3] if found else None, ())
    extensions = page_extensions(index)
    # Reading the lockfile costs: only when a proxy.* is there to judge.
    old_next = _next_before_proxy(index) if any(stem == "proxy" for _, stem, _, _ in found) else None
    stems = ("middleware",) if old_next is not None else MIDDLEWARE_STEMS
    runs = [
        f for at, stem, ext, f in found if at == folder and stem in stems and (extensions is None or ext in extensions)
    ]
    active = runs[0] if runs else None
    level = folder or "the project root"
    ignored: list[IgnoredMiddleware] = []
    for at, stem, ext, f in found:
        if f in runs:
            continue
        name = stem if stem in stems else "middleware"
        should_be = f"{folder}{name}.{_runnable_extension(ext, extensions)}"
        if at != folder:
            router = _router_folder(index, folder)
            why = f"this app's routes are in {router}/, so Next.js only runs {name}.* from {level}"
        elif stem not in stems:
            why = f"proxy.* is the Next.js 16 name; next {old_next} only runs middleware.*"
        elif extensions is not None and ext not in extensions:
            why = f"Next.js only picks up the extensions in next.config pageExtensions ({', '.join(extensions)})"
        else:
            # A second file at the right level (middleware.ts beside proxy.ts): next build fails, nothing is silent.
            continue
        ignored.append(IgnoredMiddleware(f, should_be, why))
    return MiddlewareLocation(active, tuple(ignored))


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

    # Every client family of `llmdata.CLIENT_FAMILIES` needs a trace here: a family without one makes LL006 skip
    # routes that call only it (LangGraph runs, TGI's `/generate`, the Assistants API, openai v3 were skipped).
    words = {
        "completions",
        "responses",
        "ollama",
        "langchain",
        "threads",
        *llmdata.OPENAI_V3_METHODS,
        *llmdata.AI_SDK_FUNCTIONS,
        *llmdata.LLM_ENV_MARKERS,
        *llmdata.LLM_URL_PATHS,
        *llmdata.TGI_URL_PATHS,
        *llmdata.SDK_CLIENT_CLASSES,
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
