"""The project index: everything the rules need to know about one app, computed once.

Files by role (route handler, API route, page, client component, server action, middleware/proxy,
next.config, env, build output), their tree-sitter trees (parsed lazily, cached), the import graph
with tsconfig `paths`, `.env*` definitions, package.json and lockfile versions. Rules read the index;
they never walk the disk themselves.
"""

from __future__ import annotations

import bisect
import json
import os
import posixpath
import re
from collections import Counter
from collections.abc import Callable, Iterator
from functools import cached_property, lru_cache
from pathlib import Path
from typing import NamedTuple

from tree_sitter import Language, Node, Tree

from leakline.configfile import ScanAppSettings
from leakline.scan import parse as ts
from leakline.scan.walker import NEXT_CONFIG_NAMES

MINIFIED_AVG_LINE = 1000
MINIFIED_MIN_BYTES = 4096
# Long lines alone do not make code minified: a system prompt written on one line, or a route that concatenates
# thousands of strings (tests/scan/test_incomplete_scan.py), is the app's own code. Minified code is also dense:
# measured on real Next 15 chunks (webpack and turbopack), whitespace was 0.5-8 % of the bytes and the characters
# `;{}(),=` 4-22 %; a prompt or a string concatenation on one line is 16-19 % whitespace, an embedded base64 image
# has next to no punctuation (and costs nothing to parse).
MINIFIED_MAX_WHITESPACE = 0.12
MINIFIED_MIN_PUNCTUATION = 0.02
_WHITESPACE = (b" ", b"\t", b"\n", b"\r")
_PUNCTUATION = (b";", b"{", b"}", b"(", b")", b",", b"=")
MINIFIED_SKIP = "minified (average line over 1,000 characters, dense code): not parsed"
"""The skip reason of a minified script outside the build output (a vendored bundle): parsing one and running the
source rules over it took LL007 over 20 s per 100 kB chunk of a real export, and nobody wrote its code there."""
BUILD_OUTPUT_PREFIXES = (".next/", "out/_next/")
"""Build output whatever next.config says: `out/_next/` is only ever written by `next build` (an export's chunks)."""
EXPORT_PREFIX = "out/"
EXPORT_MARKER = "out/_next/static/"
_OUTPUT_OPTION = "output"
_EXPORT_VALUE = "export"
NOTE_PREFIX = "note: "
"""Stats keys with this prefix count files that were analysed with a caveat, not skipped."""
# Statement-level node kinds most rules and the LLM-data analysis look at; one query per file finds them all.
INDEXED_NODE_TYPES = (
    "function_declaration",
    "function_expression",
    "function",
    "arrow_function",
    "method_definition",
    "generator_function_declaration",
    "generator_function",
    "variable_declarator",
    "assignment_expression",
    "augmented_assignment_expression",
    "for_in_statement",
    "call_expression",
    "new_expression",
    "export_statement",
    "return_statement",
    # LL010's sinks and component uses: found here, a rule's own query cost each worker ~7 ms to compile.
    "jsx_opening_element",
    "jsx_self_closing_element",
    "jsx_attribute",
    "jsx_element",
)
_INDEXED_SET = frozenset(INDEXED_NODE_TYPES)
# Import specifiers: `import x from "spec"`, `export … from "spec"`, `import "spec"`, `import("spec")`. Matches
# inside comments and strings too, which only makes the tests that use them more cautious. Each pattern starts
# with a literal so that the regex engine can skip ahead instead of trying every position.
_FROM_SPEC = re.compile(rb"""from\s*["'`]([^"'`\r\n]{1,512})["'`]""")
_IMPORT_SPEC = re.compile(rb"""import\s*\(?\s*["'`]([^"'`\r\n]{1,512})["'`]""")
# CommonJS: `require("spec")`. Searched only in files that have the word (most modules of a Next.js app do not).
_REQUIRE_SPEC = re.compile(rb"""\brequire\s*\(\s*["'`]([^"'`\r\n]{1,512})["'`]\s*\)""")
_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_.]*)\s*=\s*(.*)$")
_ROUTE_FILE = ("route",)
_RESOLVE_SUFFIXES = (".ts", ".tsx", ".js", ".jsx", ".mjs", ".cjs", ".mts", ".cts")
_TS_FOR_JS = {"js": (".ts", ".tsx"), "jsx": (".tsx",), "mjs": (".mts",), "cjs": (".cts",)}
"""The TypeScript sources an ESM specifier's emitted extension stands for, in TypeScript's order."""


class EnvEntry(NamedTuple):
    """One `KEY=value` line of a `.env*` file. `value` is kept in memory only, never printed."""

    path: str
    line: int
    column: int
    key: str
    value: str


class Import(NamedTuple):
    local: str
    """The name bound in the importing module ("*" for side-effect imports)."""
    imported: str
    """The exported name ("default", "*" for namespaces)."""
    source: str
    resolved: str | None


def import_specs(data: bytes) -> list[str]:
    """Import specifiers in document order, read from the bytes (no parse)."""
    patterns = (_FROM_SPEC, _IMPORT_SPEC, _REQUIRE_SPEC) if b"require" in data else (_FROM_SPEC, _IMPORT_SPEC)
    found = [(m.start(), m.group(1)) for pattern in patterns for m in pattern.finditer(data)]
    found.sort()
    return [spec.decode("utf-8", errors="replace") for _, spec in found]


class SourceFile:
    # A plain class, as ProjectIndex: a dataclass generates and compiles its methods at import (~1 ms each,
    # before a scan can start its workers), and neither is compared or printed.
    def __init__(
        self,
        rel: str,
        abs: Path,
        size: int,
        stats: Counter[str],
        _data: bytes | None = None,
        build_output: bool = False,
    ) -> None:
        self.rel = rel
        self.abs = abs
        self.size = size
        self.stats = stats
        self._data = _data
        self.build_output = build_output
        """Written by `next build` (a static export's `out/` files; `ProjectIndex` marks them): read by the
        build-output rules' literal engine only, never parsed as source."""

    @cached_property
    def suffix(self) -> str:
        """`PurePosixPath(rel).suffix`, lower-cased, read with string operations (a PurePosixPath per file
        cost a 300-file scan ~3 ms before its workers could start)."""
        name = self.name
        dot = name.rfind(".")
        return name[dot:].lower() if 0 < dot < len(name) - 1 else ""

    @cached_property
    def name(self) -> str:
        """`PurePosixPath(rel).name` (the walker's paths have no empty or trailing parts)."""
        return self.rel.rpartition("/")[2]

    @property
    def stem(self) -> str:
        name = self.name
        return name.split(".", 1)[0]

    def data(self) -> bytes:
        if self._data is None:
            try:
                self._data = _read_file(os.fspath(self.abs), self.size)
            except OSError:
                self._caveat("unreadable file")
                self._data = b""
        return self._data

    def _caveat(self, key: str) -> None:
        """Count a caveat of this file (a skip or a note) in the index's stats, and keep it with the file: a
        sharded scan counts a file's caveats once, however many of its workers read the file."""
        self.stats[key] += 1
        caveats: set[str] = self.__dict__.setdefault("caveats", set())
        caveats.add(key)

    @cached_property
    def text(self) -> str:
        raw = self.data()
        try:
            # utf-8-sig: a byte order mark is not part of the first line (`.env`, package.json).
            return raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            self._caveat(NOTE_PREFIX + "invalid UTF-8 (read with replacement characters)")
            return raw.decode("utf-8-sig", errors="replace")

    @cached_property
    def lines(self) -> list[str]:
        return self.text.splitlines()

    def line_text(self, line: int) -> str:
        return self.lines[line - 1] if 0 < line <= len(self.lines) else ""

    @property
    def language(self) -> Language | None:
        return ts.language_for(self.suffix)

    @cached_property
    def is_source(self) -> bool:
        """Code the source rules parse: not build output (`.next/`, `out/_next/`, a static export's `out/`), not
        type declarations, and not a minified script (see `MINIFIED_SKIP`; skipped and named)."""
        if self.build_output or self.rel.startswith(BUILD_OUTPUT_PREFIXES) or self.rel.endswith(".d.ts"):
            return False
        if self.language is None:
            return False
        if self.looks_minified:
            self._caveat(MINIFIED_SKIP)
            return False
        return True

    @cached_property
    def tree(self) -> Tree | None:
        lang = self.language
        if lang is None:
            return None
        tree = ts.parse(self.data(), lang)
        if tree.root_node.has_error:
            self._caveat(NOTE_PREFIX + "syntax errors (analysed what parsed)")
        return tree

    @property
    def root(self) -> Node | None:
        tree = self.tree
        return tree.root_node if tree is not None else None

    @cached_property
    def _indexed_nodes(self) -> list[Node]:
        root = self.root
        language = self.language
        if root is None or language is None:
            return []
        return ts.nodes_of_types(language, INDEXED_NODE_TYPES, root)

    @cached_property
    def _indexed_starts(self) -> list[int]:
        return [n.start_byte for n in self._indexed_nodes]

    @cached_property
    def _indexed_types(self) -> list[str]:
        """The kind of each indexed node, read once (every `Node.type` builds a new string)."""
        return [n.type for n in self._indexed_nodes]

    def nodes_in(self, node: Node, *types: str) -> list[Node]:
        """`node` and its descendants of the given kinds, in document order (parents first), like
        `parse.nodes_of_types`; kinds in `INDEXED_NODE_TYPES` are taken from the shared per-file index
        instead of compiling and running another query."""
        wanted = frozenset(types)
        language = self.language
        root = self.root
        if not wanted <= _INDEXED_SET or root is None or language is None:
            return ts.nodes_of_types(language, tuple(types), node) if language is not None else []
        # The file's root, told by its id: `Node.parent` walks down from the root to find a node's parent.
        if node.id == root.id:
            return self.nodes(*types)
        indexed = self._indexed_nodes
        starts = self._indexed_starts
        kinds = self._indexed_types
        start, end = node.start_byte, node.end_byte
        out = []
        for i in range(bisect.bisect_left(starts, start), len(indexed)):
            n_start = starts[i]
            if n_start >= end and not (n_start == end == start):
                break
            if kinds[i] in wanted:
                n = indexed[i]
                if n.end_byte <= end and _within(n, node):
                    out.append(n)
        return out

    def nodes_and_kinds(self, *types: str) -> tuple[list[Node], list[str]]:
        """`nodes(*types)` (kinds in `INDEXED_NODE_TYPES` only) and the kind of each, read once per file."""
        wanted = frozenset(types)
        if not wanted <= _INDEXED_SET:
            raise ValueError(f"not indexed: {sorted(wanted - _INDEXED_SET)}")
        pairs = [(n, kind) for n, kind in zip(self._indexed_nodes, self._indexed_types, strict=True) if kind in wanted]
        return [n for n, _ in pairs], [kind for _, kind in pairs]

    def nodes(self, *types: str) -> list[Node]:
        """Descendants of the given kinds in document order. Kinds in `INDEXED_NODE_TYPES` come from one
        shared query per file; rules asking for them cost no further traversal."""
        wanted = frozenset(types)
        if wanted <= _INDEXED_SET:
            return [n for n, kind in zip(self._indexed_nodes, self._indexed_types, strict=True) if kind in wanted]
        root = self.root
        language = self.language
        return ts.nodes_of_types(language, tuple(types), root) if root is not None and language is not None else []

    @cached_property
    def call_last_names(self) -> dict[int, str | None]:
        """The last name of each call's callee (`create` of `client.chat.completions.create`; None when the
        callee is not a name or a member access), by call id: read once per file, several rules ask."""
        out: dict[int, str | None] = {}
        for call in self.nodes("call_expression"):
            fn = call.child_by_field_name("function")
            if fn is None:
                out[call.id] = None
                continue
            # `ts.last_name` written out for the two common callees (a call per call of every file otherwise).
            kind = fn.type
            if kind == "identifier":
                out[call.id] = ts.text(fn)
            elif kind == "member_expression":
                prop = fn.child_by_field_name("property")
                out[call.id] = ts.text(prop) if prop is not None else None
            else:
                out[call.id] = ts.last_name(fn)
        return out

    @cached_property
    def looks_minified(self) -> bool:
        # The size first: a small file is cheap to parse whatever its lines, and is not read here for nothing.
        if self.size <= MINIFIED_MIN_BYTES and self._data is None:
            return False
        data = self.data()
        size = len(data)
        if size <= MINIFIED_MIN_BYTES or size / (data.count(b"\n") + 1) <= MINIFIED_AVG_LINE:
            return False
        whitespace = sum(data.count(c) for c in _WHITESPACE) / size
        punctuation = sum(data.count(c) for c in _PUNCTUATION) / size
        return whitespace < MINIFIED_MAX_WHITESPACE and punctuation >= MINIFIED_MIN_PUNCTUATION

    @cached_property
    def directive(self) -> str | None:
        """'use client' / 'use server' when the module starts with that directive."""
        root = self.root
        if root is None:
            return None
        for child in root.named_children:
            if child.type == "comment":
                continue
            if child.type == "expression_statement" and child.named_children:
                value = ts.string_value(child.named_children[0])
                if value in ("use client", "use server"):
                    return value
                if value is not None:
                    continue
            return None
        return None


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_BINARY", 0)


def _read_file(path: str, size: int) -> bytes:
    """The whole file, read with plain `os` calls: `Path.read_bytes` builds a buffered file object per file,
    which doubled the cost of reading a 300-file app's sources (~8 ms, before its workers can fork)."""
    fd = os.open(path, _READ_FLAGS)
    try:
        # The size from the walk is a hint: a file that grew since is read to its end all the same.
        chunks = [os.read(fd, size + 1)]
        while chunks[-1]:
            chunks.append(os.read(fd, max(size, 65536)))
        return b"".join(chunks)
    finally:
        os.close(fd)


def _within(n: Node, node: Node) -> bool:
    """`n` lies inside `node`'s range; when the ranges are equal, `n` must be `node` or below it (an
    ancestor wrapping it exactly, like an expression statement without a semicolon, is not)."""
    if n.start_byte != node.start_byte or n.end_byte != node.end_byte or n.id == node.id:
        return True
    current = n.parent
    while current is not None and current.start_byte == node.start_byte and current.end_byte == node.end_byte:
        if current.id == node.id:
            return True
        current = current.parent
    return False


# Asked ~8 times a file by the rules of a scan (router, page, route handler, error boundary, API route tests).
@lru_cache(maxsize=1 << 16)
def _strip_app_prefix(rel: str) -> tuple[str, str] | None:
    """('app'|'pages', rest) when rel lies in an App Router or Pages Router folder."""
    for prefix in ("src/app/", "app/", "src/pages/", "pages/"):
        if rel.startswith(prefix):
            return prefix.rstrip("/").split("/")[-1], rel[len(prefix) :]
    return None


def url_path_of(rel: str) -> str | None:
    """The URL path a route file serves (`app/(shop)/api/chat/route.ts` → `/api/chat`), or None."""
    split = _strip_app_prefix(rel)
    if split is None:
        return None
    router, rest = split
    parts = rest.split("/")
    leaf = parts[-1].split(".", 1)[0]
    folders = [p for p in parts[:-1] if not (p.startswith("(") and p.endswith(")")) and not p.startswith("@")]
    if router == "app":
        if leaf not in ("route", "page"):
            return None
        return "/" + "/".join(folders)
    if leaf.startswith("_"):
        return None
    segments = [*folders] if leaf == "index" else [*folders, leaf]
    return "/" + "/".join(segments)


def _segment_matches(pattern: str, actual: str) -> bool:
    return (pattern.startswith("[") and pattern.endswith("]")) or pattern == actual


class ProjectIndex:
    def __init__(
        self,
        root: Path,
        settings: ScanAppSettings,
        files: dict[str, SourceFile],
        stats: Counter[str] | None = None,
        cache_dir: Path | None = None,
        static_export: bool | None = None,
        workspace: dict[str, WorkspaceLink] | None = None,
    ) -> None:
        self.root = root
        self.workspace: dict[str, WorkspaceLink] = workspace if workspace is not None else {}
        """The monorepo packages the app depends on, by package name: their files are in `files` under the
        package's folder relative to the app (`../../packages/ai/src/index.ts`), and bare imports of them
        (`@acme/ai`, `@acme/ai/server`) resolve through their package.json."""
        self.settings = settings
        self.files = files
        self.stats: Counter[str] = stats if stats is not None else Counter()
        self.cache_dir = cache_dir
        """Where compiled Hyperscan databases are kept (`leakline.scan.hscache`); None: compiled each time."""
        self.static_export = exports_statically(files) if static_export is None else static_export
        """`out/` is a static export (`exports_statically`): its files are build output, not source."""
        if self.static_export:
            # Before anything asks `is_source`: the minified chunks of an export made LL007 run for minutes.
            for rel, f in files.items():
                if rel.startswith(EXPORT_PREFIX):
                    f.build_output = True

    # ---- roles -------------------------------------------------------------------------------

    @cached_property
    def sources(self) -> list[SourceFile]:
        return [f for f in self.files.values() if f.is_source]

    def get(self, rel: str) -> SourceFile | None:
        return self.files.get(rel)

    @cached_property
    def next_config(self) -> SourceFile | None:
        for name in NEXT_CONFIG_NAMES:
            if name in self.files:
                return self.files[name]
        return None

    @cached_property
    def middleware(self) -> SourceFile | None:
        """middleware.* or Next 16's proxy.* at the app root or in src/."""
        for folder in ("", "src/"):
            for stem in ("proxy", "middleware"):
                for suffix in (".ts", ".js", ".mjs", ".tsx", ".jsx"):
                    f = self.files.get(f"{folder}{stem}{suffix}")
                    if f is not None:
                        return f
        return None

    def router_of(self, f: SourceFile) -> str | None:
        split = _strip_app_prefix(f.rel)
        return split[0] if split else None

    def is_route_handler(self, f: SourceFile) -> bool:
        return self.router_of(f) == "app" and f.stem == "route"

    def is_api_route(self, f: SourceFile) -> bool:
        split = _strip_app_prefix(f.rel)
        return split is not None and split[0] == "pages" and split[1].startswith("api/")

    def is_page(self, f: SourceFile) -> bool:
        router = self.router_of(f)
        if router == "app":
            return f.stem == "page"
        return router == "pages" and not self.is_api_route(f) and not f.stem.startswith("_")

    def is_error_boundary(self, f: SourceFile) -> bool:
        return self.router_of(f) == "app" and f.stem in ("error", "global-error")

    def is_server_action_module(self, f: SourceFile) -> bool:
        return f.directive == "use server"

    def is_endpoint(self, f: SourceFile) -> bool:
        """Code that answers HTTP requests directly (route handlers, API routes, server action modules)."""
        return self.is_route_handler(f) or self.is_api_route(f) or self.is_server_action_module(f)

    @cached_property
    def routes_by_url(self) -> dict[str, SourceFile]:
        out: dict[str, SourceFile] = {}
        for f in self.sources:
            if self.is_route_handler(f) or self.is_api_route(f):
                url = url_path_of(f.rel)
                if url is not None:
                    out[url] = f
        return out

    def route_for_url(self, url: str) -> SourceFile | None:
        """The route file that serves a same-origin URL path (dynamic `[id]` segments match anything)."""
        path = url.split("?", 1)[0].split("#", 1)[0].rstrip("/") or "/"
        if path in self.routes_by_url:
            return self.routes_by_url[path]
        actual = path.strip("/").split("/")
        for pattern_url, f in self.routes_by_url.items():
            pattern = pattern_url.strip("/").split("/")
            if len(pattern) == len(actual) and all(
                _segment_matches(p, a) for p, a in zip(pattern, actual, strict=True)
            ):
                return f
        return None

    # ---- package.json, lockfiles, versions ------------------------------------------------------

    @cached_property
    def package_json(self) -> dict[str, object]:
        f = self.files.get("package.json")
        if f is None:
            return {}
        try:
            data = json.loads(f.text)
        except ValueError:
            self.stats["package.json is not valid JSON"] += 1
            return {}
        return data if isinstance(data, dict) else {}

    def declared_dependency(self, name: str) -> str | None:
        """The version range the app's package.json gives `name`, else the one a workspace package the app
        depends on gives it (that package's code is scanned with the app: an LLM client it depends on is one
        the app's scan must see, or warn about)."""
        for manifest in (self.package_json, *(link[1] for link in self.workspace.values())):
            for section in ("dependencies", "devDependencies"):
                deps = manifest.get(section)
                if isinstance(deps, dict) and isinstance(deps.get(name), str):
                    return str(deps[name])
        return None

    @cached_property
    def next_major(self) -> int | None:
        from leakline.scan.lockfiles import installed_version

        version = installed_version(self, "next")
        if version is None:
            return None
        head = version.split(".", 1)[0]
        return int(head) if head.isdigit() else None

    # ---- env -----------------------------------------------------------------------------------

    @cached_property
    def env_entries(self) -> list[EnvEntry]:
        out: list[EnvEntry] = []
        for f in self.files.values():
            if "/" in f.rel or not f.name.startswith(".env"):
                continue
            for number, raw in enumerate(f.lines, start=1):
                match = _ENV_LINE.match(raw)
                if match is None or raw.lstrip().startswith("#"):
                    continue
                out.append(EnvEntry(f.rel, number, match.start(1) + 1, match.group(1), _env_value(match.group(2))))
        return out

    # ---- imports --------------------------------------------------------------------------------

    @cached_property
    def _path_aliases(self) -> list[tuple[str, list[str]]]:
        """tsconfig/jsconfig `paths` as (pattern, targets relative to the app), read through `extends`."""
        app = Path(self.root).absolute()
        for name in ("tsconfig.json", "jsconfig.json"):
            if name not in self.files:
                continue
            found = _compiler_paths(app / name, self._config_text, frozenset(), 0)
            if found is None or (found[0] is None and found[2] is None):
                continue  # (a tsconfig.json without compiler paths: a jsconfig.json beside it may have them)
            paths, paths_dir, base_url = found
            base = base_url if base_url is not None else paths_dir
            out: list[tuple[str, list[str]]] = []
            for pattern, targets in (paths or {}).items():
                if isinstance(targets, list):
                    where = [os.path.relpath(base / str(t), app) for t in targets]
                    out.append((str(pattern), [posixpath.normpath(w.replace(os.sep, "/")) for w in where]))
            return out
        return []

    def _config_text(self, path: Path) -> str | None:
        """A tsconfig's text: the index's copy for a file of the app, else read from disk (a base config in a
        monorepo's root or in node_modules, which the walk does not read)."""
        rel = os.path.relpath(path, Path(self.root).absolute()).replace(os.sep, "/")
        if rel in self.files:
            return self.files[rel].text
        try:
            with path.open("rb") as handle:
                raw = handle.read(MAX_TSCONFIG_BYTES + 1)
        except OSError:
            return None
        if len(raw) > MAX_TSCONFIG_BYTES:
            return None
        return raw.decode("utf-8-sig", errors="replace")

    def _resolve_file(self, candidate: str) -> str | None:
        candidate = posixpath.normpath(candidate)
        if candidate in self.files and self.files[candidate].is_source:
            return candidate
        stem, dot, extension = candidate.rpartition(".")
        for substitute in _TS_FOR_JS.get(extension, ()) if dot and "/" not in extension else ():
            # ESM specifiers name the emitted file (`./llm.js`); TypeScript's node16/nodenext and bundler
            # resolution find the source it is emitted from (`llm.ts`, `llm.tsx`).
            if stem + substitute in self.files:
                return stem + substitute
        for suffix in _RESOLVE_SUFFIXES:
            if candidate + suffix in self.files:
                return candidate + suffix
        for suffix in _RESOLVE_SUFFIXES:
            index = f"{candidate}/index{suffix}"
            if index in self.files:
                return index
        return None

    def resolve_import(self, from_rel: str, spec: str) -> str | None:
        """The project file an import specifier points at, or None (packages, unknown files)."""
        if spec.startswith("."):
            return self._resolve_file(posixpath.join(posixpath.dirname(from_rel), spec))
        for pattern, targets in self._path_aliases:
            if pattern.endswith("*"):
                prefix = pattern[:-1]
                if spec.startswith(prefix):
                    rest = spec[len(prefix) :]
                    for target in targets:
                        hit = self._resolve_file(target.replace("*", rest, 1))
                        if hit:
                            return hit
            elif spec == pattern:
                for target in targets:
                    hit = self._resolve_file(target)
                    if hit:
                        return hit
        # After `paths`, as TypeScript and bundlers look in node_modules (where a workspace links its packages).
        return self._resolve_workspace(spec) if self.workspace else None

    def _resolve_workspace(self, spec: str) -> str | None:
        """A bare specifier naming a workspace package (`@acme/ai`, `@acme/ai/server`, `utils/x`): the file its
        package.json `exports` maps the subpath to (conditions tried in `EXPORT_CONDITIONS` order), else, without
        `exports`, `module`/`main`/`types` for the package itself and the file below its folder for a subpath.
        Targets that name build output (`./dist/index.js`) not in the scan fall back to the package's sources
        (`src/index.ts`, `index.ts`), which is what a bundler builds them from."""
        head = spec.split("/", 2 if spec.startswith("@") else 1)
        name = "/".join(head[:2]) if spec.startswith("@") else head[0]
        link = self.workspace.get(name)
        if link is None:
            return None
        sub = "." + spec[len(name) :]
        folder, manifest = link
        exports = manifest.get("exports")
        targets: list[str] = []
        if exports is not None:
            targets = _export_targets(exports, sub)
        elif sub == ".":
            targets = [str(manifest[key]) for key in ("module", "main", "types") if isinstance(manifest.get(key), str)]
        else:
            targets = [sub]
        for target in targets:
            hit = self._resolve_file(posixpath.join(folder, target))
            if hit is not None:
                return hit
        if sub == ".":
            for fallback in ("src/index", "index"):
                hit = self._resolve_file(posixpath.join(folder, fallback))
                if hit is not None:
                    return hit
        return None

    def imports_of(self, f: SourceFile) -> list[Import]:
        cached = self._imports.get(f.rel)
        if cached is None:
            cached = self._imports[f.rel] = _collect_imports(self, f)
        return cached

    @cached_property
    def _imports(self) -> dict[str, list[Import]]:
        return {}

    def import_specs_of(self, f: SourceFile) -> list[str]:
        """`import_specs` of a file, read once: the prefilter reads them all before scan workers fork, so
        the workers inherit them."""
        cached = self._import_specs.get(f.rel)
        if cached is None:
            cached = self._import_specs[f.rel] = import_specs(f.data())
        return cached

    @cached_property
    def _import_specs(self) -> dict[str, list[str]]:
        return {}

    @cached_property
    def importers_by_spec_tail(self) -> dict[str, list[SourceFile]]:
        """Source files by the last segment of each specifier they import (`Answer` of `@/components/Answer`),
        in index order: the files that may import a module, found without parsing."""
        out: dict[str, list[SourceFile]] = {}
        for f in self.sources:
            for tail in {spec.rsplit("/", 1)[-1] for spec in self.import_specs_of(f)}:
                out.setdefault(tail, []).append(f)
        return out

    @cached_property
    def llm_candidates(self) -> frozenset[str]:
        """Source files that may hold LLM data, judged on bytes (see `leakline.scan.prefilter`)."""
        from leakline.scan.prefilter import llm_candidates

        return llm_candidates(self, self.sources, self.cache_dir)

    def prepare_for_workers(self) -> None:
        """Compute, before forking scan workers, what each of them would otherwise compute again: the byte
        prefilter's verdicts (which read every source file) and the shared node query of the languages of
        the files that may hold LLM data (the ones workers parse; a language only a `next.config.js` is
        written in would cost every scan 1-8 ms to compile for nothing)."""
        candidates = self.llm_candidates
        languages = {self.files[rel].language for rel in candidates}
        for language in languages:
            if language is not None:
                ts.compile_types_query(language, INDEXED_NODE_TYPES)

    @cached_property
    def client_modules(self) -> set[str]:
        """'use client' modules and every project module they import (all end up in browser bundles)."""
        todo = [f.rel for f in self.sources if b"use client" in f.data() and f.directive == "use client"]
        seen: set[str] = set()
        while todo:
            rel = todo.pop()
            if rel in seen:
                continue
            seen.add(rel)
            f = self.files[rel]
            for imp in self.imports_of(f):
                if imp.resolved and imp.resolved not in seen:
                    todo.append(imp.resolved)
        return seen


def exports_statically(files: dict[str, SourceFile]) -> bool:
    """`out/` is a static export: it holds `_next/static`, which every export writes, or next.config sets
    `output: 'export'` (a branch of a condition that may be 'export' counts: out/ is then treated as build output
    rather than parsed). LL005 uses it to decide which files it searches."""
    if not any(rel.startswith(EXPORT_PREFIX) for rel in files):
        return False
    if any(rel.startswith(EXPORT_MARKER) for rel in files):
        return True
    config = next((files[name] for name in NEXT_CONFIG_NAMES if name in files), None)
    if config is None or _EXPORT_VALUE.encode() not in config.data():
        return False
    for pair in config.nodes("pair"):
        key = pair.child_by_field_name("key")
        value = pair.child_by_field_name("value")
        if key is None or value is None or (ts.string_value(key) or ts.text(key)) != _OUTPUT_OPTION:
            continue
        value = ts.unwrap(value)
        branches = (
            [value.child_by_field_name(side) for side in ("consequence", "alternative")]
            if value.type == "ternary_expression"
            else [value]
        )
        if any(branch is not None and ts.string_value(branch) == _EXPORT_VALUE for branch in branches):
            return True
    return False


def _env_value(raw: str) -> str:
    raw = raw.strip()
    if len(raw) >= 2 and raw[0] == raw[-1] and raw[0] in "\"'`":
        return raw[1:-1]
    if " #" in raw:
        raw = raw.split(" #", 1)[0].rstrip()
    return raw


def _loads_jsonc(text: str) -> object:
    """tsconfig.json allows comments and trailing commas; strip them outside strings."""
    out: list[str] = []
    i, n = 0, len(text)
    in_string = False
    while i < n:
        c = text[i]
        if in_string:
            out.append(c)
            if c == "\\" and i + 1 < n:
                out.append(text[i + 1])
                i += 2
                continue
            if c == '"':
                in_string = False
            i += 1
            continue
        if c == '"':
            in_string = True
            out.append(c)
            i += 1
        elif text.startswith("//", i):
            end = text.find("\n", i)
            i = n if end < 0 else end
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            out.append(c)
            i += 1
    cleaned = re.sub(r",(\s*[}\]])", r"\1", "".join(out))
    try:
        return json.loads(cleaned)
    except ValueError:
        return {}


WorkspaceLink = tuple[str, dict[str, object]]
"""(folder relative to the app, package.json) of a workspace package."""
EXPORT_CONDITIONS = ("source", "import", "module", "default", "node", "require", "development", "types")
"""The `exports` conditions tried, in this order: a source condition first, then what a bundler for the server
picks; `types` last (it often names a .d.ts, which is not source, but in internal packages the .ts itself)."""


def _export_targets(exports: object, sub: str) -> list[str]:
    """The targets package.json `exports` gives subpath `sub` ("." or "./x"), most likely first: a string,
    a conditions object, an array of those, or a subpath map (with `*` patterns, `"./*": "./src/*.ts"`)."""
    if isinstance(exports, dict) and any(isinstance(k, str) and k.startswith(".") for k in exports):
        if sub in exports:
            return _condition_targets(exports[sub], "")
        for key, value in exports.items():
            if isinstance(key, str) and key.count("*") == 1:
                before, after = key.split("*")
                if sub.startswith(before) and sub.endswith(after) and len(sub) >= len(before) + len(after):
                    return _condition_targets(value, sub[len(before) : len(sub) - len(after)])
        return []
    return _condition_targets(exports, "") if sub == "." else []


def _condition_targets(value: object, star: str, depth: int = 0) -> list[str]:
    if depth > 8:
        return []
    if isinstance(value, str):
        return [value.replace("*", star)]
    if isinstance(value, list):
        return [t for item in value for t in _condition_targets(item, star, depth + 1)]
    if isinstance(value, dict):
        keys = [k for k in EXPORT_CONDITIONS if k in value] + [k for k in value if k not in EXPORT_CONDITIONS]
        return [t for k in keys for t in _condition_targets(value[k], star, depth + 1)]
    return []


MAX_TSCONFIG_BYTES = 1_000_000
MAX_EXTENDS_DEPTH = 8
"""How many `extends` a tsconfig chain is followed (TypeScript has no limit; real chains are 1-3 deep)."""

_CompilerPaths = tuple[dict[str, object] | None, Path, Path | None]
"""(`paths`, folder of the file that declared them, absolute `baseUrl` or None) of a tsconfig chain."""


def _compiler_paths(
    path: Path, read: Callable[[Path], str | None], seen: frozenset[Path], depth: int
) -> _CompilerPaths | None:
    """`compilerOptions.paths` and `baseUrl` of the tsconfig at absolute `path`, with what its `extends` chain
    gives it, the way TypeScript merges them: the extending file's options replace the base's, `baseUrl` is
    relative to the file that declares it, `paths` without a `baseUrl` to the file that declares them. An
    `extends` (a string or, since TypeScript 5.0, a list) names a file relative to this one or a package in
    node_modules (`@acme/tsconfig/base.json`); a cycle or a missing base is not followed. None: no such file."""
    text = read(path)
    if text is None:
        return None
    data = _loads_jsonc(text)
    if not isinstance(data, dict):
        return None
    folder = path.parent
    paths: dict[str, object] | None = None
    paths_dir = folder
    base_url: Path | None = None
    extends = data.get("extends")
    for spec in extends if isinstance(extends, list) else [extends]:
        target = _extended_config(folder, spec) if isinstance(spec, str) and spec else None
        if target is None or target in seen or target == path or depth >= MAX_EXTENDS_DEPTH:
            continue
        inherited = _compiler_paths(target, read, seen | {path}, depth + 1)
        if inherited is None:
            continue
        if inherited[0] is not None:
            paths, paths_dir = inherited[0], inherited[1]
        if inherited[2] is not None:
            base_url = inherited[2]
    options = data.get("compilerOptions")
    if isinstance(options, dict):
        if isinstance(options.get("paths"), dict):
            paths, paths_dir = options["paths"], folder
        if isinstance(options.get("baseUrl"), str):
            base_url = Path(os.path.normpath(folder / options["baseUrl"]))
    return paths, paths_dir, base_url


def _extended_config(folder: Path, spec: str) -> Path | None:
    """The file an `extends` names, resolved as TypeScript does: a path (relative or absolute; `.json` may be
    left out), or a package in the nearest node_modules above `folder` (`@tsconfig/next`: its tsconfig.json;
    `@acme/tsconfig/base.json`: that file)."""
    if spec.startswith(".") or Path(spec).is_absolute():
        return _config_file(Path(os.path.normpath(folder / spec)))
    for current in (folder, *folder.parents):
        found = _config_file(current / "node_modules" / spec)
        if found is not None:
            return found
    return None


def _config_file(candidate: Path) -> Path | None:
    for path in (candidate, candidate.with_name(candidate.name + ".json"), candidate / "tsconfig.json"):
        if path.is_file():
            return path.absolute()
    return None


def _collect_imports(index: ProjectIndex, f: SourceFile) -> list[Import]:
    root = f.root
    lang = f.language
    if root is None or lang is None:
        return []
    out: list[Import] = []
    if b"require" in f.data():
        out.extend(_required_imports(index, f, root))
    # Imports and re-exports are top-level statements: no tree query needed.
    sources = [
        statement.child_by_field_name("source")
        or next((c for c in statement.named_children if c.type == "import_require_clause"), None)
        for statement in root.named_children
        if statement.type in ("import_statement", "export_statement")
    ]
    for node in sources:
        if node is None:
            continue
        if node.type == "import_require_clause":
            # TypeScript's `import llm = require("./llm")`: the module as a namespace, as CommonJS hands it out.
            name = node.named_children[0] if node.named_children else None
            source = node.child_by_field_name("source")
            spec = (ts.string_value(source) or "") if source is not None else ""
            if name is not None and name.type == "identifier" and spec:
                out.append(Import(ts.text(name), "*", spec, index.resolve_import(f.rel, spec)))
            continue
        spec = ts.string_value(node) or ""
        resolved = index.resolve_import(f.rel, spec)
        statement = node.parent
        if statement is None:
            continue
        clause = next((c for c in statement.named_children if c.type == "import_clause"), None)
        if clause is None:
            out.append(Import("*", "*", spec, resolved))
            continue
        for part in clause.named_children:
            if part.type == "identifier":
                out.append(Import(ts.text(part), "default", spec, resolved))
            elif part.type == "namespace_import":
                ident = next((c for c in part.named_children if c.type == "identifier"), None)
                out.append(Import(ts.text(ident), "*", spec, resolved))
            elif part.type == "named_imports":
                for spec_node in part.named_children:
                    if spec_node.type != "import_specifier":
                        continue
                    name = spec_node.child_by_field_name("name")
                    alias = spec_node.child_by_field_name("alias")
                    out.append(Import(ts.text(alias or name), ts.text(name), spec, resolved))
    return out


def _required_imports(index: ProjectIndex, f: SourceFile, root: Node) -> Iterator[Import]:
    """Top-level CommonJS imports, as the import statements they stand for: `const m = require("spec")` binds the
    module (a namespace, "*"), `const { A, B: C } = require("spec")` and `const A = require("spec").A` its names.
    Requires inside functions (a lazy load) are not imports of the module."""
    for statement in root.named_children:
        if statement.type not in ("lexical_declaration", "variable_declaration"):
            continue
        for declarator in statement.named_children:
            if declarator.type != "variable_declarator":
                continue
            name = declarator.child_by_field_name("name")
            value = declarator.child_by_field_name("value")
            required = _required(value) if value is not None else None
            if name is None or required is None:
                continue
            spec, imported = required
            resolved = index.resolve_import(f.rel, spec)
            if name.type == "identifier":
                yield Import(ts.text(name), imported, spec, resolved)
            elif name.type == "object_pattern" and imported == "*":
                for part in name.named_children:
                    if part.type == "shorthand_property_identifier_pattern":
                        yield Import(ts.text(part), ts.text(part), spec, resolved)
                    elif part.type == "pair_pattern":
                        key = part.child_by_field_name("key")
                        local = part.child_by_field_name("value")
                        if key is not None and local is not None and local.type == "identifier":
                            yield Import(ts.text(local), ts.text(key).strip("\"'"), spec, resolved)


def _required(value: Node) -> tuple[str, str] | None:
    """`require("spec")` → (spec, "*"), `require("spec").name` → (spec, name); None for anything else."""
    value = ts.unwrap(value)
    imported = "*"
    if value.type == "member_expression":
        imported = ts.text(value.child_by_field_name("property"))
        inner = value.child_by_field_name("object")
        if inner is None:
            return None
        value = inner
    if value.type != "call_expression":
        return None
    fn = value.child_by_field_name("function")
    args = value.child_by_field_name("arguments")
    if fn is None or fn.type != "identifier" or ts.text(fn) != "require" or args is None:
        return None
    if len(args.named_children) != 1:
        return None
    spec = ts.string_value(args.named_children[0])
    return (spec, imported) if spec else None
