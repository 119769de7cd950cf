"""LL004: a server secret reaching client code.

Two ways a value meant for the server ends up in browser bundles. next.config's `env:` entries are
inlined into every bundle, client ones included, whatever their names; an entry whose name, value or
source variable is secret-ish is reported on its line. And a `process.env.X` read (X not
`NEXT_PUBLIC_`) in a `'use client'` module or in any project module such a module imports: the read
shows server-only data is wanted in the browser, and it ships the value as soon as X is also listed
in `env:` or renamed `NEXT_PUBLIC_`. Modules that `import 'server-only'` are skipped (Next refuses to
build them into client bundles), as are the variables Next itself inlines (`NODE_ENV`, ...). A `'use server'`
module ends client reachability: the browser gets a reference to each server action, never the module nor
what it imports; reads inside a function whose body starts with `'use server'` run on the server too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath

from tree_sitter import Node

from leakline.detectors.envvars import EnvClassification, classify_env, is_public_name
from leakline.findings import Confidence, Severity, redact
from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.index import ProjectIndex, SourceFile
from leakline.scan.routes import inline_actions
from leakline.scan.rules.base import Hit, Rule
from leakline.scan.rules.ll003 import ENV_BYTES, EnvRead, env_reads, grade

# Variables Next.js defines for client code itself; reading them there is expected.
NEXT_INLINED = frozenset({"NODE_ENV", "NEXT_RUNTIME", "__NEXT_ROUTER_BASEPATH", "TURBOPACK"})
SERVER_ONLY_PACKAGE = "server-only"
SPREAD = "..."
"""Stands for a `...expr` entry of the `env` object (no property can have this name)."""
CLIENT_DIRECTIVE_BYTES = b"use client"
SERVER_DIRECTIVE_BYTES = b"use server"
_DOTTED_ENV_NAME = re.compile(rb"process\.env\.([A-Za-z_][A-Za-z0-9_]*)")
_DESTRUCTURED_ENV = re.compile(rb"=\s*process\.env\b(?![.\[])")
_ENV_KEY_QUERY = """
(pair key: [(property_identifier) (string)] @key value: (object) @env)
"""


def _env_values(index: ProjectIndex) -> dict[str, str]:
    """The first `.env*` value of each variable (kept in memory only)."""
    out: dict[str, str] = {}
    for entry in index.env_entries:
        out.setdefault(entry.key, entry.value)
    return out


def _property_name(node: Node) -> str:
    value = ts.string_value(node)
    return value if value is not None else ts.text(node)


def _env_source_name(value: Node) -> str | None:
    """X when the value is `process.env.X` (optionally `?? fallback` / `|| fallback`)."""
    value = ts.unwrap(value)
    if value.type == "binary_expression":
        left = value.child_by_field_name("left")
        return _env_source_name(left) if left is not None else None
    path = ts.callee_path(value)
    if path.startswith("process.env.") and path.count(".") == 2:
        return path.split(".", 2)[2]
    return None


def _classify_config_entry(name: str, value: Node | None, env: dict[str, str]) -> EnvClassification | None:
    if value is None:  # shorthand `{ OPENAI_API_KEY }`: a variable of that name, value unknown
        return classify_env(name, None)
    literal = ts.string_value(ts.unwrap(value))
    if literal is not None:
        return classify_env(name, literal)
    source = _env_source_name(value)
    if source is not None:
        known = env.get(source)
        return classify_env(source, known) or classify_env(name, known)
    return classify_env(name, None)


def _config_env_entries(config: SourceFile) -> Iterator[tuple[str, Node, Node | None]]:
    """(name, node to report, value) of every entry of an `env: { ... }` object in next.config."""
    root, lang = config.root, config.language
    if root is None or lang is None:
        return
    found = ts.captures(lang, _ENV_KEY_QUERY, root)
    for key in found.get("key", []):
        if _property_name(key) != "env" or key.parent is None:
            continue
        obj = key.parent.child_by_field_name("value")
        if obj is None:
            continue
        for entry in obj.named_children:
            if entry.type == "pair":
                entry_key = entry.child_by_field_name("key")
                if entry_key is not None:
                    yield _property_name(entry_key), entry, entry.child_by_field_name("value")
            elif entry.type == "shorthand_property_identifier":
                yield ts.text(entry), entry, None
            elif entry.type == "spread_element" and entry.named_children:
                yield SPREAD, entry, entry.named_children[0]


def _spread_hit(config: SourceFile, node: Node, value: Node | None) -> Hit | None:
    """`env: { ...process.env }` inlines every variable of the build machine, secrets included."""
    if value is None or ts.callee_path(value) != "process.env":
        return None
    line, column = node.start_point
    return Hit(
        path=config.rel,
        line=line + 1,
        column=column + 1,
        message="next.config `env` spreads process.env: every server variable, secrets included, "
        "is inlined into every browser bundle",
        evidence="env: { ...process.env }",
        key="env....process.env",
        severity=Severity.CRITICAL,
        confidence=Confidence.HIGH,
    )


def _evidence(name: str, value: Node | None) -> str:
    """The entry with its value redacted; arbitrary expressions are not shown (they may embed a secret)."""
    if value is None:
        return f"env: {{ {name} }}"
    literal = ts.string_value(ts.unwrap(value))
    if literal is not None:
        return f"env.{name}: {redact(literal)}"
    source = _env_source_name(value)
    return f"env.{name}: process.env.{source}" if source is not None else f"env.{name}: …"


def _imports_server_only(index: ProjectIndex, f: SourceFile) -> bool:
    return any(imp.source == SERVER_ONLY_PACKAGE for imp in index.imports_of(f))


class ServerSecretInClient(Rule):
    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        index = ctx.index
        env = _env_values(index)
        config = index.next_config
        if config is not None and b"env" in config.data():
            for name, node, value in _config_env_entries(config):
                if name == SPREAD:
                    spread = _spread_hit(config, node, value)
                    if spread is not None:
                        yield spread
                    continue
                found = _classify_config_entry(name, value, env)
                if found is None:
                    continue
                line, column = node.start_point
                severity, confidence = grade(found)
                yield Hit(
                    path=config.rel,
                    line=line + 1,
                    column=column + 1,
                    message=f"next.config `env.{name}` is inlined into every browser bundle ({found.reason})",
                    evidence=_evidence(name, value),
                    key=f"env.{name}",
                    severity=severity,
                    confidence=confidence,
                )
        sensitive = _SensitiveNames(env)
        candidates = {f.rel for f in index.sources if not _server_entry(index, f) and sensitive.may_be_read_in(f)}
        if not candidates:
            return
        reached = _client_reachable(index, candidates)
        for rel in sorted(reached):
            where = "a 'use client' module" if reached[rel] else "a module imported by client components"
            f = index.files[rel]
            on_server = _inline_action_spans(f)
            for read in env_reads(f):
                found = sensitive.classify(read.name)
                if found is None or _within(read, on_server):
                    continue
                severity, confidence = grade(found)
                yield Hit(
                    path=rel,
                    line=read.line,
                    column=read.column,
                    message=f"process.env.{read.name} is read in {where} ({found.reason})",
                    evidence=f"process.env.{read.name}",
                    key=read.name,
                    severity=severity,
                    confidence=confidence,
                )


def _inline_action_spans(f: SourceFile) -> list[tuple[tuple[int, int], tuple[int, int]]]:
    """Where the functions whose body starts with `'use server'` are: they run on the server, and client code
    that imports them gets a reference to call, not their body."""
    if SERVER_DIRECTIVE_BYTES not in f.data():
        return []
    return [(node.start_point, node.end_point) for node in inline_actions(f)]


def _within(read: EnvRead, spans: list[tuple[tuple[int, int], tuple[int, int]]]) -> bool:
    point = (read.line - 1, read.column - 1)
    return any(start <= point < end for start, end in spans)


def _is_server_action_module(f: SourceFile) -> bool:
    """A module that starts with `'use server'`: Next sends client code a reference to each of its exports."""
    return SERVER_DIRECTIVE_BYTES in f.data() and f.directive == "use server"


def _server_entry(index: ProjectIndex, f: SourceFile) -> bool:
    """Files Next only ever runs on the server and nothing imports (route handlers, API routes, ...)."""
    return (
        index.is_route_handler(f)
        or index.is_api_route(f)
        or f is index.middleware
        or f is index.next_config
        or f.stem == "instrumentation"
    )


class _SensitiveNames:
    """Which server-only variables are secret-ish (by name or `.env*` value), memoised per name."""

    def __init__(self, env: dict[str, str]) -> None:
        self._env = env
        self._cache: dict[str, EnvClassification | None] = {}

    def classify(self, name: str) -> EnvClassification | None:
        if name not in self._cache:
            skip = is_public_name(name) or name in NEXT_INLINED or name.startswith("__NEXT")
            self._cache[name] = None if skip else classify_env(name, self._env.get(name))
        return self._cache[name]

    def may_be_read_in(self, f: SourceFile) -> bool:
        """A byte-level prefilter (never the analysis itself): could `f` read a sensitive variable?

        Files that only read harmless `process.env.NAME`s are not parsed; computed keys and
        destructuring of `process.env` cannot be judged from bytes, so they always are.
        """
        data = f.data()
        if ENV_BYTES not in data:
            return False
        if b"process.env[" in data or _DESTRUCTURED_ENV.search(data):
            return True
        names = {match.decode("ascii") for match in _DOTTED_ENV_NAME.findall(data)}
        return any(self.classify(name) is not None for name in names)


def _client_reachable(index: ProjectIndex, targets: set[str]) -> dict[str, bool]:
    """Which of `targets` end up in browser bundles: rel → True when it is itself a 'use client' module.

    The graph of `ProjectIndex.client_modules`, except that the walk ends at `'server-only'` modules and
    `'use server'` modules (the browser gets references to their actions); only files that contain the
    directive's bytes are parsed to find the roots, and the walk stops once every target is placed: on a
    large app this parses a fraction of the files.
    """
    relevant = _may_import(index, targets)
    roots = [
        f.rel
        for f in index.sources
        if f.rel in relevant and CLIENT_DIRECTIVE_BYTES in f.data() and f.directive == "use client"
    ]
    out: dict[str, bool] = {
        rel: True for rel in roots if rel in targets and not _imports_server_only(index, index.files[rel])
    }
    todo = list(roots)
    seen: set[str] = set()
    while todo and len(out) < len(targets):
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        f = index.files[rel]
        if _imports_server_only(index, f):
            continue  # Next refuses to bundle it for the browser: the build fails instead
        if _is_server_action_module(f):
            continue  # a boundary: client code gets references to its actions, not the module or its imports
        if rel in targets:
            out.setdefault(rel, False)
        todo.extend(
            imp.resolved
            for imp in index.imports_of(f)
            if imp.resolved and imp.resolved in relevant and imp.resolved not in seen
        )
    return out


_GENERIC_STEMS = frozenset({"index", "route", "page", "layout", "default"})


def _import_needle(rel: str) -> bytes:
    """Text every import of this module contains: its file stem, or its folder for `index` files
    (`"@/lib/env"`, `"./env"`; `"../lib"` for lib/index.ts)."""
    path = PurePosixPath(rel)
    stem = path.name.split(".", 1)[0]
    if stem in _GENERIC_STEMS and path.parent.name:
        return (path.parent.name if stem == "index" else f"{path.parent.name}/{stem}").encode()
    return stem.encode()


def _may_import(index: ProjectIndex, targets: set[str]) -> set[str]:
    """Targets and the files that may import them, directly or through others, judged on bytes: a file
    whose text names none of these modules cannot import them, so it is never parsed for the walk.
    (A tsconfig alias that renames a module entirely is the one form this misses.)"""
    relevant = set(targets)
    frontier = set(targets)
    while frontier:
        pattern = re.compile(b"|".join(re.escape(_import_needle(rel)) for rel in sorted(frontier)))
        found = {f.rel for f in index.sources if f.rel not in relevant and pattern.search(f.data()) is not None}
        relevant |= found
        frontier = found
    return relevant


RULE_CLASS = ServerSecretInClient
