"""LL013: LLM routes that may run outside the regions allowed by `[residency] allowed_regions`.

Three places decide where a Vercel function runs: `vercel.json` (`regions`, `functions.<glob>.regions`,
`functionFailoverRegions`), and the route segment config of the route or of a layout above it
(`export const runtime = 'edge'`, `export const preferredRegion = ...`; in the Pages Router
`export const config = { runtime, regions }`); a route's own preferredRegion and a matching `functions`
entry override the top-level `regions` for that route. An edge function without a preferred region runs in
whichever region is closest to the visitor, i.e. anywhere. With a residency policy every region
named for an LLM route must be in the allowed set; without one, only unpinned edge LLM routes are
reported. vercel.json is read with a small JSON reader that keeps line numbers, so each offending
region is reported on its own line.
"""

from __future__ import annotations

import json
import posixpath
import re
from bisect import bisect_right
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from tree_sitter import Node

from leakline.errors import ConfigError
from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.index import ProjectIndex, SourceFile
from leakline.scan.middleware import js_string
from leakline.scan.routes import llm_routes
from leakline.scan.rules.base import Hit, Rule

VERCEL_JSON = "vercel.json"
EDGE_RUNTIMES = frozenset({"edge", "experimental-edge"})
# preferredRegion values that pin nothing: 'auto' (the platform picks, the default) and 'global'.
UNPINNED_REGIONS = frozenset({"auto", "global"})
# 'home' is the project's default function region, set in the dashboard: leakline cannot see it.
HOME_REGION = "home"
SEGMENT_HINTS = (b"runtime", b"preferredRegion", b"regions")
SEGMENT_OWNERS = ("layout",)
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?")
_JSON_WS = " \t\n\r"


# ---- vercel.json with positions ----------------------------------------------------------------


class VercelJsonError(ConfigError):
    """vercel.json is not valid JSON; the message names the file, line, column and byte offset."""

    def __init__(self, path: str, offset: int, line: int, column: int, problem: str) -> None:
        super().__init__(f"{path}:{line}:{column}: {problem} (byte offset {offset})")
        self.offset = offset


class UnexpectedCharacter(VercelJsonError):
    """A character that cannot start or continue a JSON value here."""


class UnterminatedString(VercelJsonError):
    """A string without its closing quote."""


class InvalidEscape(VercelJsonError):
    """A string with an escape sequence JSON does not allow."""


class TrailingData(VercelJsonError):
    """Something after the top-level value."""


class DuplicateKey(VercelJsonError):
    """The same key twice in one object (Vercel would silently keep the last one)."""


class Located(NamedTuple):
    """A JSON value with the 1-based line and column where it starts."""

    value: object
    """str, int, float, bool, None, dict[str, Located] or list[Located]."""
    line: int
    column: int


class _JsonReader:
    def __init__(self, path: str, text: str) -> None:
        self.path = path
        self.text = text
        self.i = 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def where(self, offset: int) -> tuple[int, int]:
        line = bisect_right(self.line_starts, offset)
        return line, offset - self.line_starts[line - 1] + 1

    def fail(self, kind: type[VercelJsonError], problem: str, offset: int | None = None) -> VercelJsonError:
        at = self.i if offset is None else offset
        line, column = self.where(at)
        return kind(self.path, len(self.text[:at].encode("utf-8")), line, column, problem)

    def skip_ws(self) -> None:
        while self.i < len(self.text) and self.text[self.i] in _JSON_WS:
            self.i += 1

    def document(self) -> Located:
        value = self.value()
        self.skip_ws()
        if self.i != len(self.text):
            raise self.fail(TrailingData, "unexpected data after the JSON value")
        return value

    def value(self) -> Located:
        self.skip_ws()
        start = self.i
        line, column = self.where(start)
        c = self.text[start : start + 1]
        if c == "{":
            return Located(self.object(), line, column)
        if c == "[":
            return Located(self.array(), line, column)
        if c == '"':
            return Located(self.string(), line, column)
        for literal, value in (("true", True), ("false", False), ("null", None)):
            if self.text.startswith(literal, start):
                self.i += len(literal)
                return Located(value, line, column)
        match = _JSON_NUMBER.match(self.text, start)
        if match and match.end() > start:
            self.i = match.end()
            raw = match.group(0)
            return Located(float(raw) if any(ch in raw for ch in ".eE") else int(raw), line, column)
        found = repr(c) if c else "end of file"
        raise self.fail(UnexpectedCharacter, f"expected a JSON value, found {found}")

    def string(self) -> str:
        start = self.i
        j = start + 1
        while j < len(self.text):
            c = self.text[j]
            if c == "\\":
                j += 2
                continue
            if c == '"':
                break
            if c == "\n":
                j = len(self.text)
                break
            j += 1
        if j >= len(self.text):
            raise self.fail(UnterminatedString, "unterminated string", start)
        self.i = j + 1
        try:
            value = json.loads(self.text[start : j + 1])
        except ValueError:
            raise self.fail(InvalidEscape, "invalid escape sequence in string", start) from None
        return str(value)

    def expect(self, char: str) -> None:
        self.skip_ws()
        if self.text[self.i : self.i + 1] != char:
            found = repr(self.text[self.i]) if self.i < len(self.text) else "end of file"
            raise self.fail(UnexpectedCharacter, f"expected {char!r}, found {found}")
        self.i += 1

    def object(self) -> dict[str, Located]:
        out: dict[str, Located] = {}
        self.i += 1
        self.skip_ws()
        if self.text[self.i : self.i + 1] == "}":
            self.i += 1
            return out
        while True:
            self.skip_ws()
            if self.text[self.i : self.i + 1] != '"':
                raise self.fail(UnexpectedCharacter, "expected a string key")
            key_offset = self.i
            key = self.string()
            if key in out:
                raise self.fail(DuplicateKey, f"duplicate key {key!r}", key_offset)
            self.expect(":")
            out[key] = self.value()
            self.skip_ws()
            if self.text[self.i : self.i + 1] == ",":
                self.i += 1
                continue
            self.expect("}")
            return out

    def array(self) -> list[Located]:
        out: list[Located] = []
        self.i += 1
        self.skip_ws()
        if self.text[self.i : self.i + 1] == "]":
            self.i += 1
            return out
        while True:
            out.append(self.value())
            self.skip_ws()
            if self.text[self.i : self.i + 1] == ",":
                self.i += 1
                continue
            self.expect("]")
            return out


def read_located_json(path: str, text: str) -> Located:
    """Parse JSON keeping each value's position; malformed input raises a `VercelJsonError` subclass."""
    return _JsonReader(path, text).document()


# ---- vercel.json `functions` globs ----------------------------------------------------------------


def glob_to_regex(pattern: str) -> re.Pattern[str]:
    """Vercel's `functions` keys are globs over project paths: `*`, `?`, `**`, `{a,b}`."""
    out: list[str] = []
    i = 0
    pattern = pattern.lstrip("/")
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        elif pattern[i] == "{" and "}" in pattern[i:]:
            end = pattern.index("}", i)
            out.append("(?:" + "|".join(re.escape(p) for p in pattern[i + 1 : end].split(",")) + ")")
            i = end + 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("^" + "".join(out) + "$")


# ---- route segment config ---------------------------------------------------------------------------


class SegmentValue(NamedTuple):
    """One segment config export: its value(s) and where it is written."""

    values: tuple[str, ...] | None
    """None when the value is not a literal leakline can read."""
    path: str
    line: int
    column: int


class SegmentConfig(NamedTuple):
    runtime: SegmentValue | None = None
    regions: SegmentValue | None = None
    """`preferredRegion` (App Router) or `config.regions` (Pages Router)."""


MAX_CONST_DEPTH = 4


def module_constants(root: Node) -> dict[str, Node]:
    """`const NAME = value` at the top level of a module (exported or not): `let`/`var` may be reassigned."""
    out: dict[str, Node] = {}
    for statement in root.named_children:
        decl = statement.child_by_field_name("declaration") if statement.type == "export_statement" else statement
        if decl is None or decl.type != "lexical_declaration" or not ts.text(decl).startswith("const"):
            continue
        for declarator in decl.named_children:
            name, value = declarator.child_by_field_name("name"), declarator.child_by_field_name("value")
            if declarator.type == "variable_declarator" and name is not None and name.type == "identifier" and value:
                out.setdefault(ts.text(name), value)
    return out


def _resolve(node: Node, constants: dict[str, Node] | None, depth: int) -> Node | None:
    """`node`, or the value of the module `const` it names (followed a few times), unwrapped."""
    node = ts.unwrap(node)
    while node.type == "identifier" and constants is not None and depth <= MAX_CONST_DEPTH:
        bound = constants.get(ts.text(node))
        if bound is None:
            return None
        node = ts.unwrap(bound)
        depth += 1
    return None if node.type == "identifier" else node


def _literal_values(
    node: Node | None, constants: dict[str, Node] | None = None, depth: int = 0
) -> tuple[str, ...] | None:
    """The string(s) a segment config value names: a literal, an array of literals, or a `const` of this module
    holding one (`const REGIONS = ['fra1', 'sfo1']; export const preferredRegion = REGIONS`), also spread
    into an array. None when any part is not known (an import, a call, a `let`)."""
    if node is None or depth > MAX_CONST_DEPTH:
        return None
    value = _resolve(node, constants, depth)
    if value is None:
        return None
    single = js_string(value)
    if single is not None:
        return (single,)
    if value.type != "array":
        return None
    out: list[str] = []
    for item in value.named_children:
        if item.type == "comment":
            continue
        if item.type == "spread_element":
            spread = _literal_values(item.named_children[0], constants, depth + 1) if item.named_children else None
            if spread is None:
                return None
            out.extend(spread)
            continue
        element = _resolve(item, constants, depth + 1)
        text = js_string(element) if element is not None else None
        if text is None:
            return None
        out.append(text)
    return tuple(out)


def _at(f: SourceFile, node: Node, values: tuple[str, ...] | None) -> SegmentValue:
    return SegmentValue(values, f.rel, node.start_point[0] + 1, node.start_point[1] + 1)


def read_segment_config(f: SourceFile) -> SegmentConfig:
    """`export const runtime / preferredRegion` and Pages Router `export const config = { runtime, regions }`."""
    # Bytes first: parsing a route only to learn that it sets no segment config is the expensive way.
    if not any(hint in f.data() for hint in SEGMENT_HINTS):
        return SegmentConfig()
    root = f.root
    if root is None:
        return SegmentConfig()
    runtime: SegmentValue | None = None
    regions: SegmentValue | None = None
    constants = module_constants(root)
    for statement in root.named_children:
        decl = statement.child_by_field_name("declaration") if statement.type == "export_statement" else None
        if decl is None or decl.type not in ("lexical_declaration", "variable_declaration"):
            continue
        for declarator in decl.named_children:
            if declarator.type != "variable_declarator":
                continue
            name = ts.text(declarator.child_by_field_name("name"))
            value = declarator.child_by_field_name("value")
            if name == "runtime":
                runtime = _at(f, declarator, _literal_values(value, constants))
            elif name == "preferredRegion":
                regions = _at(f, declarator, _literal_values(value, constants))
            elif name == "config" and value is not None and ts.unwrap(value).type == "object":
                for pair in ts.unwrap(value).named_children:
                    if pair.type != "pair":
                        continue
                    key = ts.text(pair.child_by_field_name("key")).strip("'\"")
                    if key == "runtime":
                        runtime = _at(f, pair, _literal_values(pair.child_by_field_name("value"), constants))
                    elif key in ("regions", "preferredRegion"):
                        regions = _at(f, pair, _literal_values(pair.child_by_field_name("value"), constants))
    return SegmentConfig(runtime, regions)


def _layouts_above(index: ProjectIndex, f: SourceFile) -> Iterator[SourceFile]:
    """Layouts of the route's own folder and every folder above it inside the app directory, nearest first."""
    if index.router_of(f) != "app":
        return
    # Plain string operations: a PurePosixPath per folder level cost ~0.1 ms a route.
    folder = posixpath.dirname(f.rel) or "."
    while True:
        for suffix in (".tsx", ".ts", ".jsx", ".js"):
            layout = index.get(f"{folder}/layout{suffix}")
            if layout is not None and layout is not f:
                yield layout
        parent = posixpath.dirname(folder) or "."
        if posixpath.basename(folder) == "app" or folder == parent:
            return
        folder = parent


def effective_segment_config(index: ProjectIndex, f: SourceFile) -> SegmentConfig:
    """The route's own config, completed by the nearest layout that sets what the route leaves out."""
    own = read_segment_config(f)
    runtime, regions = own.runtime, own.regions
    for layout in _layouts_above(index, f):
        if runtime is not None and regions is not None:
            break
        inherited = read_segment_config(layout)
        runtime = runtime or inherited.runtime
        regions = regions or inherited.regions
    return SegmentConfig(runtime, regions)


# ---- the rule ------------------------------------------------------------------------------------------


def _read_vercel_json(index: ProjectIndex) -> Located | None:
    """The app's vercel.json as an object with positions; None when absent, malformed (counted) or not an object."""
    f = index.get(VERCEL_JSON)
    if f is None:
        return None
    try:
        doc = read_located_json(VERCEL_JSON, f.text)
    except VercelJsonError:
        index.stats["vercel.json is not valid JSON (LL013 skipped it)"] += 1
        return None
    return doc if isinstance(doc.value, dict) else None


def _function_specs(doc: Located | None) -> dict[str, dict[str, Located]]:
    """`functions` of vercel.json: glob → its settings object."""
    if doc is None or not isinstance(doc.value, dict):
        return {}
    functions = doc.value.get("functions")
    if functions is None or not isinstance(functions.value, dict):
        return {}
    return {glob: spec.value for glob, spec in functions.value.items() if isinstance(spec.value, dict)}


def _pins_own_region(config: SegmentConfig) -> bool:
    """The route (or a layout above it) names its regions itself, so vercel.json's top-level `regions` does not
    apply to it. 'auto' and 'home' defer to the project's regions; a value leakline cannot read decides nothing
    (the top-level list is still judged)."""
    regions = config.regions
    if regions is None or not regions.values:
        return False
    return not any(value in ("auto", HOME_REGION) for value in regions.values)


def _names_regions(spec: dict[str, Located]) -> bool:
    """A `functions` entry with a non-empty `regions` list (anything else is not a region setting Vercel accepts)."""
    regions = spec.get("regions")
    return regions is not None and isinstance(regions.value, list) and bool(regions.value)


def _fmt(regions: Iterable[str]) -> str:
    return ", ".join(sorted(regions)) or "(none)"


class LlmRouteOutsideAllowedRegions(Rule):
    uses_llm_routes = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        allowed = frozenset(ctx.settings.residency.allowed_regions)
        vercel = _read_vercel_json(ctx.index) if allowed else None
        globs = [glob_to_regex(glob) for glob in _function_specs(vercel)]
        llm_files = self._llm_files(ctx, globs)
        for f in llm_files:
            yield from self._segment_hits(ctx.index, f, allowed)
        if vercel is not None and isinstance(vercel.value, dict) and llm_files:
            yield from self._vercel_json_hits(ctx.index, vercel.value, llm_files, allowed)

    def _llm_files(self, ctx: ScanContext, globs: list[re.Pattern[str]]) -> list[SourceFile]:
        """Route handlers, API routes and pages whose server code calls an LLM.

        Pages are many and rarely matter here: one is only analysed when it (or a layout above it) has
        segment config or a vercel.json `functions` glob names it.
        """
        index = ctx.index
        out = [route.file for route in llm_routes(ctx) if route.kind != "server action"]
        for f in index.sources:
            if not index.is_page(f):
                continue
            relevant = any(rx.match(f.rel) for rx in globs) or any(
                hint in g.data() for g in (f, *_layouts_above(index, f)) for hint in SEGMENT_HINTS
            )
            if relevant and ctx.llm.calls_llm(f):
                out.append(f)
        return out

    def _segment_hits(self, index: ProjectIndex, f: SourceFile, allowed: frozenset[str]) -> Iterator[Hit]:
        config = effective_segment_config(index, f)
        runtime = config.runtime.values if config.runtime is not None else None
        is_edge = runtime is not None and any(value in EDGE_RUNTIMES for value in runtime)
        regions = config.regions
        if regions is not None and regions.values is not None:
            named = set(regions.values)
            pinned = named - UNPINNED_REGIONS
            if allowed:
                outside = {r for r in pinned if r != HOME_REGION and r not in allowed}
                unpinned = named & UNPINNED_REGIONS
                if outside or unpinned:
                    what = _fmt(outside | unpinned)
                    yield Hit(
                        path=regions.path,
                        line=regions.line,
                        column=regions.column,
                        message=(
                            f"LLM route {f.rel} prefers region(s) {what}, outside [residency] allowed_regions "
                            f"({_fmt(allowed)})"
                        ),
                        evidence=f"preferredRegion: {what}",
                        key=f"{f.rel} preferredRegion {what}",
                    )
                return
            if is_edge and named and not pinned:
                yield self._unpinned_edge(f, regions, f"preferredRegion '{_fmt(named)}' pins no region")
            return
        if is_edge and regions is None and config.runtime is not None:
            yield self._unpinned_edge(f, config.runtime, "it has no preferredRegion", allowed)

    def _unpinned_edge(
        self, f: SourceFile, where: SegmentValue, why: str, allowed: frozenset[str] = frozenset()
    ) -> Hit:
        policy = f" (allowed: {_fmt(allowed)})" if allowed else ""
        return Hit(
            path=where.path,
            line=where.line,
            column=where.column,
            message=(
                f"LLM route {f.rel} runs on the edge runtime and {why}: it runs in whichever region is "
                f"closest to the visitor{policy}"
            ),
            evidence="runtime: edge",
            key=f"{f.rel} unpinned edge",
        )

    def _vercel_json_hits(
        self, index: ProjectIndex, doc: dict[str, Located], llm_files: list[SourceFile], allowed: frozenset[str]
    ) -> Iterator[Hit]:
        # Where a function runs: its own preferredRegion (route or layout), else the `functions` entries whose
        # glob matches it (vercel@50.14.1 writes their `regions` into the function's config, overriding the
        # top-level list), else the top-level `regions`. Both per-function settings are judged when both are
        # set: which one Vercel's Next.js builder applies is not documented, and either may decide.
        specs = _function_specs(Located(doc, 1, 1))
        own_region = {f.rel for f in llm_files if _pins_own_region(effective_segment_config(index, f))}
        by_glob = {glob: [f.rel for f in llm_files if glob_to_regex(glob).match(f.rel)] for glob in specs}
        function_regions = {rel for glob, rels in by_glob.items() if _names_regions(specs[glob]) for rel in rels}
        governed = sorted(f.rel for f in llm_files if f.rel not in own_region and f.rel not in function_regions)
        if governed:
            routes = ", ".join(governed[:3])
            yield from self._entries_outside(doc.get("regions"), allowed, "vercel.json regions", routes)
        # Failover regions are where every function goes when its region is down, whatever pinned it.
        routes = ", ".join(sorted(g.rel for g in llm_files)[:3])
        yield from self._entries_outside(
            doc.get("functionFailoverRegions"), allowed, "vercel.json functionFailoverRegions", routes
        )
        for glob, spec in specs.items():
            matched = sorted(by_glob[glob])
            if matched:
                where = f'vercel.json functions["{glob}"].regions'
                yield from self._entries_outside(spec.get("regions"), allowed, where, ", ".join(matched[:3]))

    def _entries_outside(self, node: Located | None, allowed: frozenset[str], where: str, routes: str) -> Iterator[Hit]:
        if node is None:
            return
        entries = node.value if isinstance(node.value, list) else [node]
        for entry in entries:
            if isinstance(entry.value, str) and entry.value not in allowed:
                yield Hit(
                    path=VERCEL_JSON,
                    line=entry.line,
                    column=entry.column,
                    message=(
                        f"{where} includes {entry.value!r}, outside [residency] allowed_regions ({_fmt(allowed)}): "
                        f"LLM routes ({routes}) may run there"
                    ),
                    evidence=f"{where}: {entry.value}",
                    key=f"{where} {entry.value}",
                    text_columns=True,
                )


RULE_CLASS = LlmRouteOutsideAllowedRegions
