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

And a value read on the server that Next serializes for the browser: a secret-ish `process.env.X` passed by a
server component as a prop (or child) of a component imported from a `'use client'` module, or rendered into
an HTML element, lands in the page's HTML and RSC payload; one returned in the `props` of a Pages Router
`getServerSideProps` / `getStaticProps` lands in `__NEXT_DATA__` and `/_next/data/…json`. The value is
followed through local bindings, one import of an exported constant, `??`/`||`/`+`/templates, object and
array literals and string methods; a test of it (`Boolean(x)`, `!x`, `x ? a : b`, `x === y`) and functions
(server actions passed as props) carry nothing to the browser.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import NamedTuple

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
        yield from _serialized_props(index, sensitive, candidates, reached)
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


# ---- values Next serializes for the browser: server component props, getServerSideProps props ----------

PROPS_FUNCTIONS = ("getServerSideProps", "getStaticProps")
INITIAL_PROPS = "getInitialProps"
DATA_FUNCTIONS = (*PROPS_FUNCTIONS, "getStaticPaths")
"""Exported functions of a page that Next runs on the server only (with `getInitialProps`, which it does not
export): reads inside them are not rendered into the page."""
DOCUMENT_STEM = "_document"
"""pages/_document: its getInitialProps runs on the server only and its result is not sent to the browser."""
# Props React never writes into the HTML.
_UNRENDERED_PROPS = frozenset({"key", "ref"})
_FUNCTION_TYPES = frozenset(
    {"arrow_function", "function_expression", "function", "function_declaration", "method_definition"}
)
_JSX_TAGS = ("jsx_opening_element", "jsx_self_closing_element")
_JSX_SUFFIXES = frozenset({".tsx", ".jsx", ".js", ".mjs"})
# Methods of a string that return (part of) the string: the secret still flows.
_STRING_METHODS = frozenset(
    {"trim", "trimStart", "trimEnd", "toString", "valueOf", "concat", "replace", "replaceAll", "slice"}
    | {"substring", "padStart", "padEnd", "toLowerCase", "toUpperCase", "normalize", "at"}
)
# Calls that return a copy or an encoding of their argument.
_COPYING_CALLS = frozenset({"String", "encodeURIComponent", "encodeURI", "btoa", "stringify", "structuredClone"})
# Calls that return a test or a number of their argument: nothing of the secret flows.
_OPAQUE_CALLS = frozenset({"Boolean", "Number", "parseInt", "parseFloat", "isNaN", "isFinite"})
_MAX_BINDINGS = 6
"""Local bindings and imports followed per expression (`const a = b`, `const b = process.env.X`, ...)."""
_MAX_STEPS = 2000


class _Flow(NamedTuple):
    name: str
    """The variable whose value flows."""
    file: SourceFile
    at: Node
    """Where to report: the read when it is written in the expression, else the name the expression uses."""
    via: str | None
    """The local name the value went through, when it did."""
    certain: bool
    """False when the value went through a call to a project function (which may not return it)."""
    read: Node
    """The `process.env` read itself (in `file`)."""


class _Item(NamedTuple):
    file: SourceFile
    node: Node
    pick: tuple[str, ...]
    """Only this property path of the value flows (`config.llm.apiKey`, `return { props }`)."""
    at: Node | None
    via: str | None
    certain: bool
    hops: int


def _env_read_name(node: Node) -> str | None:
    """X of `process.env.X` / `process.env["X"]`."""
    obj = node.child_by_field_name("object")
    if obj is None or ts.callee_path(obj) != "process.env":
        return None
    if node.type == "member_expression":
        prop = node.child_by_field_name("property")
        return ts.text(prop) if prop is not None and prop.type == "property_identifier" else None
    return ts.string_value(node.child_by_field_name("index"))


def _declarations(scope: Node) -> Iterator[Node]:
    for child in scope.named_children:
        if child.type == "export_statement":
            child = child.child_by_field_name("declaration") or child
        if child.type in ("lexical_declaration", "variable_declaration"):
            yield from (d for d in child.named_children if d.type == "variable_declarator")


def _binding(at: Node, name: str) -> tuple[Node, str | None] | None:
    """The value a name used at `at` is bound to in its file (nearest enclosing scope first), and the
    property taken from it when the binding destructures (`const { KEY } = process.env` → (process.env, KEY))."""
    scope = at.parent
    while scope is not None:
        if scope.type in _FUNCTION_TYPES:
            params = scope.child_by_field_name("parameters") or scope.child_by_field_name("parameter")
            if params is not None and any(ts.text(n) == name for n in ts.walk(params) if n.type == "identifier"):
                return None  # a parameter: its value comes from the caller
        for declarator in _declarations(scope):
            target = declarator.child_by_field_name("name")
            value = declarator.child_by_field_name("value")
            if target is None or value is None or value.start_byte > at.start_byte:
                continue
            if target.type == "identifier" and ts.text(target) == name:
                return value, None
            if target.type == "object_pattern":
                key = ts.pattern_key(target, name)
                if key is not None:
                    return value, key
        scope = scope.parent
    return None


def _exported_value(module: SourceFile, name: str) -> Node | None:
    """The initial value of a module's top-level `const name = …` (exported where it is declared or later)."""
    root = module.root
    if root is None or name in ("default", "*"):
        return None
    for declarator in _declarations(root):
        target = declarator.child_by_field_name("name")
        if target is not None and target.type == "identifier" and ts.text(target) == name:
            return declarator.child_by_field_name("value")
    return None


def _flows(index: ProjectIndex, f: SourceFile, expr: Node, pick: tuple[str, ...] = ()) -> list[_Flow]:
    """The `process.env` reads whose value `expr` evaluates to (in whole or in part), read off the tree
    with a work list: an expression of any depth costs no Python recursion."""
    out: list[_Flow] = []
    todo = [_Item(f, expr, pick, None, None, True, 0)]
    steps = 0
    while todo and steps < _MAX_STEPS:
        steps += 1
        item = todo.pop()
        node = ts.unwrap(item.node)
        kind = node.type
        if kind in ("member_expression", "subscript_expression"):
            name = _env_read_name(node)
            if name is not None:
                if not item.pick:  # a property of the string (`.length`) is not the secret
                    out.append(_Flow(name, item.file, item.at or node, item.via, item.certain, node))
                continue
            prop = node.child_by_field_name("property") if kind == "member_expression" else None
            key = ts.key_name(prop) if prop is not None else ts.string_value(node.child_by_field_name("index"))
            obj = node.child_by_field_name("object")
            if key is not None and obj is not None:
                todo.append(item._replace(node=obj, pick=(key, *item.pick)))
        elif kind in ("identifier", "shorthand_property_identifier"):
            if item.hops < _MAX_BINDINGS:
                for step in _through_name(index, item, node):
                    if isinstance(step, _Flow):
                        out.append(step)
                    else:
                        todo.append(step)
        elif kind == "call_expression":
            todo.extend(_through_call(item, node))
        elif kind == "binary_expression":
            op = node.child_by_field_name("operator")
            operator = op.type if op is not None else ""
            sides = ("left", "right") if operator in ("??", "||", "+") else ("right",) if operator == "&&" else ()
            todo.extend(item._replace(node=side) for side in map(node.child_by_field_name, sides) if side is not None)
        elif kind == "ternary_expression":
            branches = map(node.child_by_field_name, ("consequence", "alternative"))
            todo.extend(item._replace(node=branch) for branch in branches if branch is not None)
        elif kind == "template_string" and not item.pick:
            for part in node.named_children:
                if part.type == "template_substitution" and part.named_children:
                    todo.append(item._replace(node=part.named_children[0]))
        elif kind == "object":
            todo.extend(_through_object(item, node))
        elif kind == "array" and not item.pick:
            for element in node.named_children:
                spread = element.type == "spread_element" and element.named_children
                todo.append(item._replace(node=element.named_children[0] if spread else element))
        elif kind in ("jsx_expression", "spread_element", "sequence_expression") and node.named_children:
            todo.append(item._replace(node=node.named_children[-1]))
    return out


def _through_object(item: _Item, node: Node) -> Iterator[_Item]:
    head, rest = (item.pick[0], item.pick[1:]) if item.pick else (None, ())
    for entry in node.named_children:
        if entry.type == "pair":
            if head is None or ts.key_name(entry.child_by_field_name("key")) == head:
                value = entry.child_by_field_name("value")
                if value is not None:
                    yield item._replace(node=value, pick=rest)
        elif entry.type == "shorthand_property_identifier":
            if head is None or ts.text(entry) == head:
                yield item._replace(node=entry, pick=rest)
        elif entry.type == "spread_element" and entry.named_children:
            yield item._replace(node=entry.named_children[0])


def _through_name(index: ProjectIndex, item: _Item, node: Node) -> Iterator[_Item | _Flow]:
    """A name's value: its binding in the file (destructuring included), or the constant an import names."""
    name = ts.text(node)
    moved = item._replace(at=item.at or node, via=item.via or name, hops=item.hops + 1)
    bound = _binding(node, name)
    if bound is not None:
        value, key = bound
        if key is None:
            yield moved._replace(node=value)
        elif ts.callee_path(ts.unwrap(value)) == "process.env":
            # `const { OPENAI_API_KEY: key } = process.env`: as `process.env.OPENAI_API_KEY`.
            if not item.pick and moved.at is not None:
                yield _Flow(key, item.file, moved.at, moved.via, item.certain, value)
        else:
            yield moved._replace(node=value, pick=(key, *item.pick))
        return
    imported = next((imp for imp in index.imports_of(item.file) if imp.local == name), None)
    module = index.files.get(imported.resolved) if imported is not None and imported.resolved else None
    exported = _exported_value(module, imported.imported) if module is not None and imported is not None else None
    if module is not None and exported is not None:
        yield moved._replace(file=module, node=exported)


def _through_call(item: _Item, node: Node) -> Iterator[_Item]:
    fn = node.child_by_field_name("function")
    args = node.child_by_field_name("arguments")
    if fn is None or args is None:
        return
    fn = ts.unwrap(fn)
    last = ts.last_name(fn)
    if fn.type == "member_expression" and last in _STRING_METHODS and not item.pick:
        obj = fn.child_by_field_name("object")
        if obj is not None:
            yield item._replace(node=obj)
    elif last == "createEnv":
        # @t3-oss/env-nextjs: `env.X` is the `runtimeEnv` entry X.
        for arg in args.named_children:
            for key in ("runtimeEnv", "experimental__runtimeEnv"):
                yield item._replace(node=arg, pick=(key, *item.pick))
    elif last in _COPYING_CALLS and not item.pick:
        yield from (item._replace(node=arg) for arg in args.named_children)
    elif fn.type == "identifier" and last not in _OPAQUE_CALLS and not item.pick:
        # A project function may return (part of) its argument; it may as well not.
        yield from (item._replace(node=arg, certain=False) for arg in args.named_children)


def _module_export_is_client(index: ProjectIndex, rel: str | None, name: str, hops: int = 0) -> bool:
    """Whether `name` exported by module `rel` is a `'use client'` component (re-exports followed a few hops)."""
    f = index.files.get(rel) if rel is not None else None
    if f is None or hops > 3:
        return False
    if CLIENT_DIRECTIVE_BYTES in f.data() and f.directive == "use client":
        return True
    if b"from" not in f.data() or f.root is None:
        return False
    for statement in f.root.named_children:
        source = statement.child_by_field_name("source") if statement.type == "export_statement" else None
        if source is None:
            continue
        target = index.resolve_import(f.rel, ts.string_value(source) or "")
        clause = next((c for c in statement.named_children if c.type == "export_clause"), None)
        if clause is None:
            if name != "default" and _module_export_is_client(index, target, name, hops + 1):
                return True
            continue
        for spec in clause.named_children:
            original = ts.text(spec.child_by_field_name("name"))
            alias = spec.child_by_field_name("alias")
            if (ts.text(alias) if alias is not None else original) == name:
                return _module_export_is_client(index, target, original, hops + 1)
    return False


def _dynamic_import_target(index: ProjectIndex, f: SourceFile, value: Node) -> str | None:
    """The module of `dynamic(() => import("…"))` (next/dynamic)."""
    value = ts.unwrap(value)
    fn = value.child_by_field_name("function") if value.type == "call_expression" else None
    if fn is None or ts.last_name(fn) != "dynamic":
        return None
    for node in ts.walk(value):
        callee = node.child_by_field_name("function") if node.type == "call_expression" else None
        if callee is not None and callee.type == "import":
            args = node.child_by_field_name("arguments")
            spec = ts.string_value(args.named_children[0]) if args is not None and args.named_children else None
            return index.resolve_import(f.rel, spec) if spec else None
    return None


def _client_component(
    index: ProjectIndex, f: SourceFile, tag: Node, imports: dict[str, tuple[str | None, str]]
) -> bool:
    """Whether a JSX tag names a component of a `'use client'` module (imported, or loaded with next/dynamic)."""
    if tag.type == "member_expression":  # <UI.ChatWidget>: a namespace import
        obj = tag.child_by_field_name("object")
        prop = tag.child_by_field_name("property")
        found = imports.get(ts.text(obj)) if obj is not None else None
        return found is not None and found[1] == "*" and _module_export_is_client(index, found[0], ts.text(prop))
    name = ts.text(tag)
    if name in imports:
        rel, imported = imports[name]
        return _module_export_is_client(index, rel, imported)
    bound = _binding(tag, name)
    if bound is not None and bound[1] is None:
        target = _dynamic_import_target(index, f, bound[0])
        return target is not None and _module_export_is_client(index, target, "default")
    return False


def _element_props(element: Node) -> Iterator[tuple[str, Node]]:
    """(prop name, value expression) of a JSX element's attributes, spreads (`...`) and child expressions."""
    for attr in element.named_children:
        if attr.type == "jsx_attribute" and len(attr.named_children) > 1:
            value = attr.named_children[1]
            if value.type == "jsx_expression" and value.named_children:
                yield ts.text(attr.named_children[0]), value.named_children[0]
        elif attr.type == "jsx_expression" and attr.named_children:
            yield SPREAD, attr.named_children[0]
    parent = element.parent
    if element.type == "jsx_opening_element" and parent is not None and parent.type == "jsx_element":
        for child in parent.named_children:
            if child.type == "jsx_expression" and child.named_children:
                yield "children", child.named_children[0]


def _props_returns(fn: Node) -> Iterator[Node]:
    """What a getServerSideProps-like function returns (its own `return`s, not those of functions inside)."""
    body = fn.child_by_field_name("body")
    if body is None:
        return
    if body.type != "statement_block":
        yield body
        return
    for node in ts.walk(body):
        if node.type != "return_statement" or not node.named_children:
            continue
        owner = node.parent
        while owner is not None and owner.type not in _FUNCTION_TYPES:
            owner = owner.parent
        if owner is not None and owner.id == fn.id:
            yield node.named_children[0]


def _props_functions(f: SourceFile, names: tuple[str, ...] = PROPS_FUNCTIONS) -> Iterator[tuple[str, Node]]:
    """The exported getServerSideProps / getStaticProps (or other `names`) of a page: the function itself, or
    the functions passed to a wrapper (`export const getServerSideProps = withSession(async (ctx) => …)`)."""
    root = f.root
    if root is None:
        return
    for statement in root.named_children:
        decl = statement.child_by_field_name("declaration") if statement.type == "export_statement" else None
        if decl is None:
            continue
        if decl.type == "function_declaration":
            name = ts.text(decl.child_by_field_name("name"))
            if name in names:
                yield name, decl
            continue
        for declarator in _declarations(statement):
            name = ts.text(declarator.child_by_field_name("name"))
            value = declarator.child_by_field_name("value")
            if name in names and value is not None:
                yield from ((name, fn) for fn in _function_args(value))


def _function_args(value: Node) -> Iterator[Node]:
    """The function a data function is bound to: itself, or the functions given to a wrapper (`withSession(fn)`)."""
    value = ts.unwrap(value)
    if value.type in _FUNCTION_TYPES:
        yield value
    elif value.type == "call_expression":
        args = value.child_by_field_name("arguments")
        for arg in args.named_children if args is not None else []:
            if ts.unwrap(arg).type in _FUNCTION_TYPES:
                yield ts.unwrap(arg)


def _initial_props_functions(f: SourceFile) -> Iterator[Node]:
    """A page's (or `_app`'s) getInitialProps: `Page.getInitialProps = async (ctx) => …` at the top level, or a
    class component's `static async getInitialProps()`. Whatever it returns is the page's props."""
    root = f.root
    if root is None:
        return
    for statement in root.named_children:
        expr = statement.named_children[0] if statement.type == "expression_statement" else None
        if expr is not None and expr.type == "assignment_expression":
            left = expr.child_by_field_name("left")
            right = expr.child_by_field_name("right")
            if left is not None and right is not None and ts.last_name(left) == INITIAL_PROPS:
                yield from _function_args(right)
    for method in f.nodes("method_definition"):
        if ts.text(method.child_by_field_name("name")) == INITIAL_PROPS:
            yield method


def _data_function_spans(f: SourceFile) -> list[tuple[int, int]]:
    """Byte spans of the functions Next runs only on the server to get data (getServerSideProps, getStaticProps,
    getStaticPaths, getInitialProps): what they render or compute is not the page's HTML."""
    data = f.data()
    if not any(name.encode() in data for name in DATA_FUNCTIONS):
        return []
    spans = [(fn.start_byte, fn.end_byte) for _name, fn in _props_functions(f, DATA_FUNCTIONS)]
    if INITIAL_PROPS.encode() in data:
        spans += [(fn.start_byte, fn.end_byte) for fn in _initial_props_functions(f)]
    return spans


def _may_use(index: ProjectIndex, modules: set[str]) -> set[str]:
    """Source files whose bytes name one of `modules` (so may import a value from one), judged without parsing."""
    if not modules:
        return set()
    pattern = re.compile(b"|".join(re.escape(_import_needle(rel)) for rel in sorted(modules)))
    return {f.rel for f in index.sources if pattern.search(f.data()) is not None}


def _serialized_props(
    index: ProjectIndex, sensitive: _SensitiveNames, candidates: set[str], reached: dict[str, bool]
) -> Iterator[Hit]:
    """Secret-ish env values that server code hands to Next to serialize for the browser."""
    # Files that read no such variable themselves but may import a value from one that does (`lib/env.ts`).
    # Only files with JSX (pages returning props have it too) can hand a value to Next to serialize.
    users = {rel for rel in _may_use(index, candidates) - candidates if b"<" in index.files[rel].data()}
    client_side = set(reached) | set(_client_reachable(index, users) if users else ())
    rendered = {
        rel
        for rel in candidates | users
        if rel not in client_side and b"<" in index.files[rel].data() and index.files[rel].suffix in _JSX_SUFFIXES
    }
    pages_side = _pages_reachable(index, rendered) if rendered else set()
    hits: list[_Report] = []
    for rel in sorted(candidates | users):
        f = index.files[rel]
        if rel in client_side or _server_entry(index, f) or _is_server_action_module(f):
            continue
        if index.router_of(f) == "pages":
            data = f.data()
            if any(name.encode() in data for name in (*PROPS_FUNCTIONS, INITIAL_PROPS)):
                hits += _page_props_hits(index, sensitive, f)
            if rel in pages_side:
                hits += _pages_render_hits(index, sensitive, f)
        elif rel in pages_side:
            hits += _pages_render_hits(index, sensitive, f)
        elif rel in rendered:
            hits += _server_component_hits(index, sensitive, f)
    yield from _one_per_line(hits)


def _pages_reachable(index: ProjectIndex, targets: set[str]) -> set[str]:
    """Which of `targets` the Pages Router renders: its page files (`_app` and `_document` included, API routes
    not) and the project modules they import, transitively; the walk ends at `'server-only'` modules, which
    Next will not bundle for pages. Next renders these on the server for the first HTML of every page."""
    relevant = _may_import(index, targets)
    roots = [
        f.rel
        for f in index.sources
        if f.rel in relevant and index.router_of(f) == "pages" and not index.is_api_route(f)
    ]
    out: set[str] = set()
    todo = list(roots)
    seen: set[str] = set()
    while todo:
        rel = todo.pop()
        if rel in seen:
            continue
        seen.add(rel)
        f = index.files[rel]
        if _imports_server_only(index, f) or _is_server_action_module(f):
            continue
        if rel in targets:
            out.add(rel)
        todo.extend(
            imp.resolved
            for imp in index.imports_of(f)
            if imp.resolved and imp.resolved in relevant and imp.resolved not in seen
        )
    return out


class _Report(NamedTuple):
    path: str
    line: int
    column: int
    variable: str
    """`process.env.X`, with the local name it went through."""
    reason: str
    what: str
    """What happens to the value (`is returned in the props of getServerSideProps: …`)."""
    key: str
    severity: Severity
    confidence: Confidence


def _one_per_line(reports: list[_Report]) -> Iterator[Hit]:
    """One hit per line: the scan keeps one finding per rule and line, and the first by column (an LLM URL
    before the key beside it in `{ baseURL, apiKey }`) must not hide the worse one."""
    by_line: dict[tuple[str, int], list[_Report]] = {}
    for report in sorted(reports, key=lambda r: (r.path, r.line, r.column)):
        by_line.setdefault((report.path, report.line), []).append(report)
    for group in by_line.values():
        first = group[0]
        whats = list(dict.fromkeys(r.what for r in group))
        if len(whats) == 1:
            what = whats[0] if len(group) == 1 else "are" + whats[0].removeprefix("is")
            message = f"{', '.join(f'{r.variable} ({r.reason})' for r in group)} {what}"
        else:
            message = "; ".join(f"{r.variable} {r.what} ({r.reason})" for r in group)
        worst = max(group, key=lambda r: r.severity.rank)
        certain = any(r.confidence is Confidence.HIGH for r in group)
        yield Hit(
            path=first.path,
            line=first.line,
            column=first.column,
            message=message,
            evidence=", ".join(dict.fromkeys(r.variable.split(" ", 1)[0] for r in group)),
            key=" ".join(r.key for r in group),
            severity=worst.severity,
            confidence=Confidence.HIGH if certain else worst.confidence,
        )


def _report(sensitive: _SensitiveNames, flow: _Flow, what: str, key: str, detail: str = "") -> _Report | None:
    found = sensitive.classify(flow.name)
    if found is None:
        return None
    severity, confidence = grade(found)
    line, column = flow.at.start_point
    via = f" (through `{flow.via}`)" if flow.via is not None else ""
    return _Report(
        path=flow.file.rel,
        line=line + 1,
        column=column + 1,
        variable=f"process.env.{flow.name}{via}{detail}",
        reason=found.reason,
        what=what,
        key=f"{key}:{flow.name}",
        severity=severity,
        confidence=confidence if flow.certain else Confidence.MEDIUM,
    )


def _page_props_hits(index: ProjectIndex, sensitive: _SensitiveNames, f: SourceFile) -> Iterator[_Report]:
    functions: list[tuple[str, Node, tuple[str, ...]]] = [(name, fn, ("props",)) for name, fn in _props_functions(f)]
    if f.stem != DOCUMENT_STEM and INITIAL_PROPS.encode() in f.data():
        # getInitialProps returns the props themselves, not `{ props }`.
        functions += [(INITIAL_PROPS, fn, ()) for fn in _initial_props_functions(f)]
    for name, fn, pick in functions:
        what = (
            f"is returned in the props of {name}: Next sends page props to the browser "
            "(__NEXT_DATA__ in the HTML, /_next/data/….json)"
        )
        for returned in _props_returns(fn):
            for flow in _flows(index, f, returned, pick=pick):
                # Reported in the page, where the props are returned, whichever module the value came from.
                at = flow if flow.file is f else flow._replace(file=f, at=returned)
                report = _report(sensitive, at, what, f"{name}.props")
                if report is not None:
                    yield report


def _pages_render_hits(index: ProjectIndex, sensitive: _SensitiveNames, f: SourceFile) -> Iterator[_Report]:
    """Secret-ish values written into the JSX a Pages Router page (or a component it renders) returns. Next
    renders every page on the server for its first HTML (SSR, or SSG at build time) with the server's
    environment: the value is in that HTML, though the browser bundle reads `undefined` for a variable
    without NEXT_PUBLIC_. Reported at the read when the module makes it, else where the JSX uses the value."""
    skip = _data_function_spans(f)
    seen: set[tuple[int, str]] = set()
    for element in f.nodes(*_JSX_TAGS):
        if any(start <= element.start_byte < end for start, end in skip):
            continue  # getServerSideProps & co. run on the server only; their props are reported apart
        tag = element.child_by_field_name("name")
        if tag is None:
            continue
        tag_name = ts.text(tag)
        intrinsic = tag.type == "identifier" and tag_name[:1].islower()
        for prop, value in _element_props(element):
            if prop in _UNRENDERED_PROPS or ts.unwrap(value).type in _FUNCTION_TYPES:
                continue  # React writes no key, ref or handler into the HTML
            what = (
                f"is rendered into <{tag_name}> by a Pages Router page: Next renders it on the server (SSR/SSG) "
                "with the real value into the HTML it sends, though the browser bundle reads undefined"
                if intrinsic
                else f"is passed to <{tag_name}> by a Pages Router page: what <{tag_name}> renders of it on the "
                "server (SSR/SSG) goes into the HTML with the real value, though the browser bundle reads undefined"
            )
            for flow in _flows(index, f, value):
                at = flow._replace(at=flow.read) if flow.file is f else flow._replace(file=f, at=value)
                if (at.at.start_byte, flow.name) in seen:
                    continue
                seen.add((at.at.start_byte, flow.name))
                if not intrinsic:
                    at = at._replace(certain=False)  # the component may use the prop without rendering it
                report = _report(sensitive, at, what, f"pages-html <{tag_name} {prop}>", f" as `{prop}`")
                if report is not None:
                    yield report


def _server_component_hits(index: ProjectIndex, sensitive: _SensitiveNames, f: SourceFile) -> Iterator[_Report]:
    imports = {imp.local: (imp.resolved, imp.imported) for imp in index.imports_of(f)}
    seen: set[tuple[int, str]] = set()
    for element in f.nodes(*_JSX_TAGS):
        tag = element.child_by_field_name("name")
        if tag is None:
            continue
        tag_name = ts.text(tag)
        intrinsic = tag.type == "identifier" and tag_name[:1].islower()
        if not intrinsic and not _client_component(index, f, tag, imports):
            continue
        for prop, value in _element_props(element):
            if ts.unwrap(value).type in _FUNCTION_TYPES:
                continue  # an inline server action or a handler: runs where it is called, sends no value
            what = (
                f"is rendered into the HTML of <{tag_name}> by a server component"
                if intrinsic
                else f"is passed by a server component to the client component <{tag_name}>: "
                "Next serializes its props into the page's HTML and RSC payload"
            )
            for flow in _flows(index, f, value):
                at = flow if flow.file is f else flow._replace(file=f, at=value)
                if (at.at.start_byte, flow.name) in seen:
                    continue
                seen.add((at.at.start_byte, flow.name))
                report = _report(sensitive, at, what, f"<{tag_name} {prop}>", f" as `{prop}`")
                if report is not None:
                    yield report


RULE_CLASS = ServerSecretInClient
