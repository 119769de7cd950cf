"""The response headers an app sets, each with the place that sets it, and a CSP3 policy parser.

Headers come from next.config `headers()` (or a base config module it imports; entries
`{source, headers: [{key, value}]}` whose values may be literals, template strings, concatenations,
`[...].join('; ')`, `.replace()`/`.trim()` of those, `Object.entries(obj).map(...)`, constants and project
imports, all resolved statically where possible, with `process.env.NODE_ENV` read as "production"),
middleware/proxy code and the project modules it imports (`response.headers.set(...)`, a
`new Headers(...)` passed as response headers, `NextResponse.next({ headers: {...} })`, but never request
headers forwarded to the app nor the headers of an outgoing `fetch`), `res.setHeader` in Pages Router
pages, vercel.json (`headers` and legacy `routes[].headers`), `<meta httpEquiv>` /
`<meta name="referrer">` and the Metadata API `referrer` in layouts, pages and `_document`/`_app`, and
recognised helpers (next-secure-headers, @nosecone/next, nosecone) modelled with their documented
defaults. Strings keep the source file, line and column of every character, so a finding inside a
multi-line policy points at the directive's own line. The CSP parser follows the CSP3 grammar: a header
value is a comma-separated list of policies, a policy is directives split on ';', a directive is a name
and its source expressions split on ASCII whitespace.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from enum import StrEnum
from typing import NamedTuple, TypeAlias

from tree_sitter import Node

from leakline.scan import parse as ts
from leakline.scan.index import ProjectIndex, SourceFile
from leakline.scan.routes import locate_middleware

DYNAMIC = "\x00"
"""Stands for a part of a string known only at run time (a `${nonce}` substitution)."""

MAX_EVAL_DEPTH = 40
MAX_IMPORT_DEPTH = 3
MAX_STATIC_CHARS = 64 * 1024
"""Longer computed strings are treated as unknown: a header value is never that long, and doubling chains
(`const b = a + a; const c = b + b; ...`) must not exhaust memory."""
CSP = "content-security-policy"
CSP_REPORT_ONLY = "content-security-policy-report-only"
HSTS = "strict-transport-security"
NOSNIFF = "x-content-type-options"
REFERRER = "referrer-policy"
FRAME_OPTIONS = "x-frame-options"

NEXT_SECURE_HEADERS = "next-secure-headers"
NOSECONE_PACKAGES = ("@nosecone/next", "nosecone")
_HELPER_FUNCTIONS = {
    NEXT_SECURE_HEADERS: frozenset({"createSecureHeaders", "createHeadersObject", "withSecureHeaders", "default"}),
    "@nosecone/next": frozenset({"createMiddleware", "nosecone", "default"}),
    "nosecone": frozenset({"nosecone", "default"}),
}
_MIDDLEWARE_KEYWORDS = (b"headers", b"Headers", b"nosecone")
_META_KEYWORDS = (b"ttpEquiv", b"http-equiv", b"referrer")
_CONFIG_KEYWORDS = (b"headers", b"SecureHeaders")
_RESPONSE_FACTORIES = frozenset({"next", "rewrite", "redirect", "json"})
_REQUEST_NAMES = frozenset({"request", "req"})
MIDDLEWARE_NAMES = frozenset({"middleware", "proxy"})
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "v": "\v", "f": "\f", "b": "\b", "0": "\0"}
NODE_ENV = "process.env.NODE_ENV"
_RISKY_REGEX = re.compile(r"\)[*+?{]|\\[1-9]|\(\?[<=!]")
"""Quantified groups, backreferences and lookarounds: not what tidies a header, and where backtracking lives."""
_QUANTIFIER = re.compile(r"(?<!\\)[*+?{]")
MAX_REGEX_QUANTIFIERS = 1
MAX_REGEX_INPUT = 8192
"""Adjacent quantifiers (`\\s*\\s*x`) backtrack polynomially; the regexes that tidy a policy (`/\\s{2,}/g`,
`/\\n/g`) have one quantifier, and a policy is a few KB at most."""
_JS_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}


class HeaderOrigin(StrEnum):
    NEXT_CONFIG = "next.config headers()"
    MIDDLEWARE = "middleware"
    PAGE_RESPONSE = "res.setHeader in a Pages Router page"
    VERCEL_JSON = "vercel.json"
    META = "<meta> tag"
    HELPER = "security-headers helper"


# ---- statically known values ------------------------------------------------------------------


class Piece(NamedTuple):
    """Part of a string that lies on one source line (a piece holds at most one newline, at its end)."""

    text: str
    line: int
    column: int
    """1-based UTF-8 byte column, as tree-sitter's points are (the engine turns it into code points): a
    position inside `text` adds the bytes before it (`_bytes`), not its character offset."""
    path: str = ""
    """The file the text comes from ("" : the file that sets the header)."""


def _bytes(text: str) -> int:
    """UTF-8 length of `text`: how far a piece's column moves over it."""
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


class StaticString(NamedTuple):
    """A string whose text is known (run-time parts are `DYNAMIC`), with the source line of every part."""

    pieces: tuple[Piece, ...]

    @property
    def value(self) -> str:
        return "".join(p.text for p in self.pieces)

    @property
    def is_fully_static(self) -> bool:
        return DYNAMIC not in self.value

    def position_at(self, offset: int) -> tuple[int, int]:
        """Source (line, column) of the character at `offset` of `value`."""
        _, line, column = self.location_at(offset)
        return line, column

    def location_at(self, offset: int) -> tuple[str, int, int]:
        """Source (path, line, column) of the character at `offset` of `value` (path "" : the setter's file)."""
        for piece in self.pieces:
            if offset < len(piece.text):
                return piece.path, piece.line, piece.column + _bytes(piece.text[:offset])
            offset -= len(piece.text)
        if self.pieces:
            last = self.pieces[-1]
            return last.path, last.line, last.column
        return "", 0, 0


class Unknown:
    """A value that static evaluation cannot know."""

    _instance: Unknown | None = None

    def __new__(cls) -> Unknown:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance


UNKNOWN = Unknown()


class Obj(NamedTuple):
    """An object literal: fields and the source position of each field."""

    fields: dict[str, Value]
    positions: dict[str, tuple[int, int]]
    line: int
    column: int
    path: str = ""

    def get(self, name: str) -> Value:
        return self.fields.get(name, UNKNOWN)


Value: TypeAlias = "StaticString | list[Value] | Obj | bool | int | float | Unknown | None"


def _point(node: Node, row_shift: int = 0) -> tuple[int, int]:
    row, col = node.start_point
    return row + 1, col + 1 - (row_shift if row == 0 else 0)


def _split_lines(text: str, line: int, column: int, path: str = "") -> list[Piece]:
    out: list[Piece] = []
    # Only "\n" ends a line: tree-sitter counts rows that way, and source positions must agree with it.
    parts = text.split("\n")
    for i, chunk in enumerate(parts):
        last = i == len(parts) - 1
        piece = chunk if last else chunk + "\n"
        if piece:
            out.append(Piece(piece, line, column, path))
        if not last:
            line, column = line + 1, 1
    return out


def static(text: str, line: int, column: int, path: str = "") -> StaticString:
    return StaticString(tuple(_split_lines(text, line, column, path)))


def _decode_escape(raw: str) -> str:
    body = raw[1:]
    if body[:1] in _ESCAPES:
        return _ESCAPES[body[:1]]
    if body.startswith(("u", "x")):
        digits = body[1:].strip("{}")
        try:
            return chr(int(digits, 16))
        except ValueError:
            return ""
    if body[:1] in ("\n", "\r"):
        return ""  # a line continuation inside a string adds nothing
    return body


def _concat(*parts: StaticString) -> StaticString:
    return StaticString(tuple(p for s in parts for p in s.pieces))


def _matches(pattern: re.Pattern[str] | str, text: str) -> Iterator[tuple[int, int]]:
    if isinstance(pattern, str):
        if not pattern:
            return
        pos = text.find(pattern)
        while pos >= 0:
            yield pos, pos + len(pattern)
            pos = text.find(pattern, pos + len(pattern))
        return
    for match in pattern.finditer(text):
        yield match.start(), match.end()


def _span(s: StaticString, starts: list[int], begin: int, end: int) -> list[Piece]:
    """The characters [begin, end) of `s.value` as pieces that keep their source positions."""
    out: list[Piece] = []
    i = max(0, bisect_right(starts, begin) - 1)
    while begin < end and i < len(s.pieces):
        piece, piece_start = s.pieces[i], starts[i]
        lo, hi = max(begin, piece_start), min(end, piece_start + len(piece.text))
        if lo < hi:
            text = piece.text[lo - piece_start : hi - piece_start]
            out.append(Piece(text, piece.line, piece.column + _bytes(piece.text[: lo - piece_start]), piece.path))
        i += 1
    return out


def _map_pieces(s: StaticString, pattern: re.Pattern[str] | str, repl: str, count: int) -> StaticString:
    """`.replace()` / `.replaceAll()` with JavaScript's result, keeping the source position of every
    character it does not touch (a replacement takes the position of what it replaced)."""
    text = s.value
    starts: list[int] = []
    offset = 0
    for piece in s.pieces:
        starts.append(offset)
        offset += len(piece.text)
    out: list[Piece] = []
    pos = done = 0
    for begin, end in _matches(pattern, text):
        if count and done >= count:
            break
        out.extend(_span(s, starts, pos, begin))
        if repl:
            path, line, column = s.location_at(begin)
            out.append(Piece(repl, line, column, path))
        pos, done = end, done + 1
    out.extend(_span(s, starts, pos, len(text)))
    return StaticString(tuple(out))


def _trim(s: StaticString) -> StaticString:
    pieces = list(s.pieces)
    while pieces and not pieces[0].text.strip():
        pieces.pop(0)
    while pieces and not pieces[-1].text.strip():
        pieces.pop()
    if not pieces:
        return StaticString(())
    first, last = pieces[0], pieces[-1]
    lead = len(first.text) - len(first.text.lstrip())
    pieces[0] = Piece(first.text.lstrip(), first.line, first.column + _bytes(first.text[:lead]), first.path)
    last = pieces[-1]
    pieces[-1] = Piece(last.text.rstrip(), last.line, last.column, last.path)
    return StaticString(tuple(pieces))


def _to_static(value: Value, node: Node, path: str = "") -> StaticString | None:
    """A value as string text, for template substitutions and concatenation (None: not a string)."""
    if isinstance(value, StaticString):
        return value
    if isinstance(value, bool):
        return static("true" if value else "false", *_point(node), path)
    if isinstance(value, int | float):
        return static(str(value), *_point(node), path)
    return None


class ImportRef(NamedTuple):
    spec: str
    imported: str
    resolved: str | None


Binding: TypeAlias = "Node | ImportRef"


def _collect_bindings(index: ProjectIndex, f: SourceFile, root: Node) -> dict[str, Binding]:
    """Names bound in a module: const/let/var values, functions, imports and `require` destructuring."""
    out: dict[str, Binding] = {}
    for imp in index.imports_of(f):
        out.setdefault(imp.local, ImportRef(imp.source, imp.imported, imp.resolved))
    for node in ts.walk(root):
        if node.type == "variable_declarator":
            name = node.child_by_field_name("name")
            value = node.child_by_field_name("value")
            if name is None or value is None:
                continue
            if name.type == "identifier":
                required = _require_spec(value)
                if required is not None:
                    out.setdefault(ts.text(name), ImportRef(required, "default", index.resolve_import(f.rel, required)))
                else:
                    out.setdefault(ts.text(name), value)
            elif name.type == "object_pattern":
                required = _require_spec(value)
                if required is None:
                    continue
                resolved = index.resolve_import(f.rel, required)
                for part in name.named_children:
                    if part.type == "shorthand_property_identifier_pattern":
                        out.setdefault(ts.text(part), ImportRef(required, ts.text(part), resolved))
                    elif part.type == "pair_pattern":
                        key, alias = part.child_by_field_name("key"), part.child_by_field_name("value")
                        if key is not None and alias is not None and alias.type == "identifier":
                            out.setdefault(ts.text(alias), ImportRef(required, ts.text(key), resolved))
        elif node.type in ("function_declaration", "generator_function_declaration"):
            name = node.child_by_field_name("name")
            if name is not None:
                out.setdefault(ts.text(name), node)
    return out


def _require_spec(node: Node) -> str | None:
    node = ts.unwrap(node)
    if node.type != "call_expression":
        return None
    fn = node.child_by_field_name("function")
    args = node.child_by_field_name("arguments")
    if fn is None or ts.text(fn) != "require" or args is None or not args.named_children:
        return None
    return ts.string_value(args.named_children[0])


def _property_name(key: Node) -> str | None:
    if key.type in ("property_identifier", "identifier", "private_property_identifier"):
        return ts.text(key)
    if key.type == "string":
        return ts.string_value(key)
    if key.type == "number":
        return ts.text(key)
    if key.type == "computed_property_name" and key.named_children:
        return ts.string_value(key.named_children[0])
    return None


class Evaluator:
    """Static evaluation of JS expressions in one module: literals, constants, string operations, imports."""

    def __init__(self, index: ProjectIndex, f: SourceFile, root: Node, *, row_shift: int = 0, depth: int = 0) -> None:
        self.index = index
        self.file = f
        self.root = root
        self.row_shift = row_shift
        self.import_depth = depth
        self._bindings: dict[str, Binding] | None = None
        self._locals: list[dict[str, Value]] = []
        self._active: set[str] = set()
        self._values: dict[str, Value] = {}
        self._peers: dict[str, Evaluator] = {f.rel: self}

    @property
    def bindings(self) -> dict[str, Binding]:
        if self._bindings is None:
            self._bindings = _collect_bindings(self.index, self.file, self.root) if self.row_shift == 0 else {}
        return self._bindings

    def point(self, node: Node) -> tuple[int, int]:
        return _point(node, self.row_shift)

    def binding(self, name: str) -> Binding | None:
        return self.bindings.get(name)

    def eval(self, node: Node | None, depth: int = 0) -> Value:
        value = self._eval(node, depth)
        if isinstance(value, StaticString) and sum(len(p.text) for p in value.pieces) > MAX_STATIC_CHARS:
            return UNKNOWN
        return value

    def _eval(self, node: Node | None, depth: int) -> Value:
        if node is None or depth > MAX_EVAL_DEPTH:
            return UNKNOWN
        node = ts.unwrap(node)
        kind = node.type
        if kind == "string":
            return self._string(node)
        if kind == "template_string":
            return self._template(node, depth)
        if kind in ("true", "false"):
            return kind == "true"
        if kind in ("null", "undefined"):
            return None
        if kind == "number":
            return _number(ts.text(node))
        if kind == "identifier":
            return self._identifier(ts.text(node), depth)
        if kind == "array":
            return self._array(node, depth)
        if kind == "object":
            return self._object(node, depth)
        if kind == "binary_expression":
            return self._binary(node, depth)
        if kind == "ternary_expression":
            condition = self.eval(node.child_by_field_name("condition"), depth + 1)
            if isinstance(condition, bool):
                branch = "consequence" if condition else "alternative"
                return self.eval(node.child_by_field_name(branch), depth + 1)
            return UNKNOWN
        if kind == "unary_expression" and ts.text(node.child_by_field_name("operator")) == "!":
            operand = self.eval(node.child_by_field_name("argument"), depth + 1)
            return (not operand) if isinstance(operand, bool) else UNKNOWN
        if kind == "member_expression" and ts.text(node) == NODE_ENV:
            # Headers are judged as they are sent in production.
            return static("production", *self.point(node), self.file.rel)
        if kind == "member_expression":
            obj = self.eval(node.child_by_field_name("object"), depth + 1)
            prop = node.child_by_field_name("property")
            if isinstance(obj, Obj) and prop is not None:
                return obj.get(ts.text(prop))
            return UNKNOWN
        if kind == "call_expression":
            return self._call(node, depth)
        return UNKNOWN

    def _string(self, node: Node) -> StaticString:
        pieces: list[Piece] = []
        for child in node.named_children:
            line, column = self.point(child)
            if child.type == "string_fragment":
                pieces.extend(_split_lines(ts.text(child), line, column, self.file.rel))
            elif child.type == "escape_sequence":
                pieces.append(Piece(_decode_escape(ts.text(child)), line, column, self.file.rel))
        return StaticString(tuple(pieces))

    def _template(self, node: Node, depth: int) -> StaticString:
        pieces: list[Piece] = []
        for child in node.named_children:
            line, column = self.point(child)
            if child.type == "string_fragment":
                pieces.extend(_split_lines(ts.text(child), line, column, self.file.rel))
            elif child.type == "escape_sequence":
                pieces.append(Piece(_decode_escape(ts.text(child)), line, column, self.file.rel))
            elif child.type == "template_substitution":
                inner = child.named_children[0] if child.named_children else None
                value = self.eval(inner, depth + 1)
                text = _to_static(value, child, self.file.rel) if inner is not None else None
                pieces.extend(text.pieces if text is not None else (Piece(DYNAMIC, line, column, self.file.rel),))
        return StaticString(tuple(pieces))

    def _identifier(self, name: str, depth: int) -> Value:
        for scope in reversed(self._locals):
            if name in scope:
                return scope[name]
        if name == "undefined":
            return None
        if name in self._active:
            return UNKNOWN
        if name in self._values:
            return self._values[name]
        bound = self.binding(name)
        if bound is None:
            return UNKNOWN
        self._active.add(name)
        # A module-level binding does not see the parameters of the callback being evaluated.
        saved, self._locals = self._locals, []
        try:
            value = self._imported(bound) if isinstance(bound, ImportRef) else self.eval(bound, depth + 1)
        finally:
            self._locals = saved
            self._active.discard(name)
        # Memoised: `const b = a + a; const c = b + b; ...` must stay linear.
        self._values[name] = value
        return value

    def _imported(self, ref: ImportRef) -> Value:
        if ref.spec in NOSECONE_PACKAGES:
            if ref.imported == "defaults":
                return nosecone_defaults(*self._import_point(ref))
            if ref.imported == "nonce":
                return static(f"'nonce-{DYNAMIC}'", *self._import_point(ref), self.file.rel)
            return UNKNOWN
        if ref.resolved is None or self.import_depth >= MAX_IMPORT_DEPTH:
            return UNKNOWN
        other = self.index.get(ref.resolved)
        if other is None or other.root is None:
            return UNKNOWN
        evaluator = self._peers.get(other.rel)
        if evaluator is None:
            evaluator = Evaluator(self.index, other, other.root, depth=self.import_depth + 1)
            evaluator._peers = self._peers
            self._peers[other.rel] = evaluator
        if ref.imported == "default":
            return evaluator.default_export()
        return evaluator.eval_name(ref.imported)

    def _import_point(self, ref: ImportRef) -> tuple[int, int]:
        """Where a helper's defaults come from: the import of its package."""
        language = self.file.language
        if language is None:
            return 1, 1
        for imp in ts.captures(language, _STRING_QUERY, self.root).get("s", []):
            if ts.string_value(imp) == ref.spec:
                return self.point(imp)
        return 1, 1

    def eval_name(self, name: str) -> Value:
        """An exported name: a module-level binding, else a field of `module.exports = {...}`."""
        if self.binding(name) is not None:
            return self._identifier(name, 0)
        exports = self.default_export()
        return exports.get(name) if isinstance(exports, Obj) else UNKNOWN

    def default_export(self) -> Value:
        for child in self.root.named_children:
            if child.type == "export_statement":
                value = child.child_by_field_name("value")
                if value is not None:
                    return self.eval(value)
            if child.type == "expression_statement" and child.named_children:
                expr = child.named_children[0]
                left = expr.child_by_field_name("left")
                if expr.type == "assignment_expression" and ts.text(left) == "module.exports":
                    return self.eval(expr.child_by_field_name("right"))
        return UNKNOWN

    def _array(self, node: Node, depth: int) -> list[Value]:
        out: list[Value] = []
        for child in node.named_children:
            if child.type == "comment":
                continue
            if child.type == "spread_element":
                inner = self.eval(child.named_children[0] if child.named_children else None, depth + 1)
                if isinstance(inner, list):
                    out.extend(inner)
                else:
                    out.append(UNKNOWN)
                continue
            out.append(self.eval(child, depth + 1))
        return out

    def _object(self, node: Node, depth: int) -> Obj:
        fields: dict[str, Value] = {}
        positions: dict[str, tuple[int, int]] = {}
        for child in node.named_children:
            if child.type == "pair":
                key = child.child_by_field_name("key")
                name = _property_name(key) if key is not None else None
                if name is None or key is None:
                    continue
                fields[name] = self.eval(child.child_by_field_name("value"), depth + 1)
                positions[name] = self.point(key)
            elif child.type == "shorthand_property_identifier":
                name = ts.text(child)
                fields[name] = self._identifier(name, depth + 1)
                positions[name] = self.point(child)
            elif child.type == "spread_element" and child.named_children:
                inner = self.eval(child.named_children[0], depth + 1)
                if isinstance(inner, Obj):
                    fields.update(inner.fields)
                    positions.update(inner.positions)
        line, column = self.point(node)
        return Obj(fields, positions, line, column, self.file.rel)

    def _binary(self, node: Node, depth: int) -> Value:
        operator = node.child_by_field_name("operator")
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if operator is None or left is None or right is None:
            return UNKNOWN
        op = ts.text(operator)
        if op in _EQUALITY:
            return _compare(op, self.eval(left, depth + 1), self.eval(right, depth + 1))
        if op in ("&&", "||"):
            lhs_value = self.eval(left, depth + 1)
            if not isinstance(lhs_value, bool):
                return UNKNOWN
            if (op == "&&") == lhs_value:
                return self.eval(right, depth + 1)
            return lhs_value
        if op != "+":
            return UNKNOWN
        lhs = _to_static(self.eval(left, depth + 1), left, self.file.rel)
        rhs = _to_static(self.eval(right, depth + 1), right, self.file.rel)
        if lhs is None and rhs is None:
            return UNKNOWN
        dynamic_left = static(DYNAMIC, *self.point(left), self.file.rel)
        dynamic_right = static(DYNAMIC, *self.point(right), self.file.rel)
        return _concat(lhs or dynamic_left, rhs or dynamic_right)

    def _call(self, node: Node, depth: int) -> Value:
        fn = node.child_by_field_name("function")
        args_node = node.child_by_field_name("arguments")
        if fn is None or args_node is None:
            return UNKNOWN
        args = [a for a in args_node.named_children if a.type != "comment"]
        fn = ts.unwrap(fn)
        if fn.type != "member_expression":
            return UNKNOWN
        method = ts.text(fn.child_by_field_name("property"))
        target_node = fn.child_by_field_name("object")
        if method == "map" and target_node is not None and args:
            return self._map(target_node, args[0], depth)
        target = self.eval(target_node, depth + 1)
        if method == "join" and isinstance(target, list):
            sep = self.eval(args[0], depth + 1) if args else static(",", *self.point(node), self.file.rel)
            return _join(target, sep, node, self)
        if not isinstance(target, StaticString):
            return UNKNOWN
        if method in ("trim", "trimEnd", "trimStart") and not args:
            return _trim(target)
        if method in ("replace", "replaceAll") and len(args) == 2:
            return self._replace(target, args[0], args[1], all_=method == "replaceAll", depth=depth)
        if method == "concat":
            parts = [_to_static(self.eval(a, depth + 1), a) for a in args]
            if any(p is None for p in parts):
                return UNKNOWN
            return _concat(target, *[p for p in parts if p is not None])
        return UNKNOWN

    def _replace(self, target: StaticString, pattern: Node, repl_node: Node, *, all_: bool, depth: int) -> Value:
        repl = self.eval(repl_node, depth + 1)
        if not isinstance(repl, StaticString) or not repl.is_fully_static or "$" in repl.value:
            return UNKNOWN
        pattern = ts.unwrap(pattern)
        if pattern.type == "regex":
            body = ts.text(pattern.child_by_field_name("pattern"))
            flags_text = ts.text(pattern.child_by_field_name("flags"))
            risky = _RISKY_REGEX.search(body) or len(_QUANTIFIER.findall(body)) > MAX_REGEX_QUANTIFIERS
            if risky or len(target.value) > MAX_REGEX_INPUT:
                return UNKNOWN  # a scanned repository must not be able to stall the scan by backtracking
            flags = 0
            for flag in flags_text:
                flags |= _JS_REGEX_FLAGS.get(flag, 0)
            try:
                compiled = re.compile(body, flags)
            except re.error:
                return UNKNOWN
            return _map_pieces(target, compiled, repl.value, 0 if "g" in flags_text or all_ else 1)
        literal = self.eval(pattern, depth + 1)
        if not isinstance(literal, StaticString) or not literal.is_fully_static:
            return UNKNOWN
        return _map_pieces(target, literal.value, repl.value, 0 if all_ else 1)

    def _map(self, target_node: Node, mapper: Node, depth: int) -> Value:
        """`list.map(x => ...)` and `Object.entries(obj).map(([k, v]) => ...)` over known values."""
        mapper = ts.unwrap(mapper)
        if mapper.type not in ("arrow_function", "function_expression", "function"):
            return UNKNOWN
        params = _param_patterns(mapper)
        body = mapper.child_by_field_name("body")
        if body is None or not params:
            return UNKNOWN
        body_expr = _returned_expression(body)
        if body_expr is None:
            return UNKNOWN
        items: list[Value]
        target_node = ts.unwrap(target_node)
        fn = target_node.child_by_field_name("function") if target_node.type == "call_expression" else None
        if fn is not None and ts.text(fn) == "Object.entries":
            args = target_node.child_by_field_name("arguments")
            source = self.eval(args.named_children[0] if args and args.named_children else None, depth + 1)
            if not isinstance(source, Obj):
                return UNKNOWN
            items = []
            for key, value in source.fields.items():
                line, column = source.positions.get(key, (source.line, source.column))
                items.append([static(key, line, column, source.path), value])
        else:
            evaluated = self.eval(target_node, depth + 1)
            if not isinstance(evaluated, list):
                return UNKNOWN
            items = evaluated
        out: list[Value] = []
        for item in items:
            scope = _bind_pattern(params[0], item)
            if scope is None:
                return UNKNOWN
            self._locals.append(scope)
            try:
                out.append(self.eval(body_expr, depth + 1))
            finally:
                self._locals.pop()
        return out


_STRING_QUERY = "(string) @s"


_EQUALITY = frozenset({"===", "==", "!==", "!="})


def _compare(op: str, lhs: Value, rhs: Value) -> Value:
    """Equality of two statically known strings, numbers or booleans (`NODE_ENV === "development"`)."""
    known = (StaticString, bool, int, float)
    if not isinstance(lhs, known) or not isinstance(rhs, known):
        return UNKNOWN
    if isinstance(lhs, StaticString) != isinstance(rhs, StaticString):
        return UNKNOWN
    if isinstance(lhs, StaticString) and isinstance(rhs, StaticString):
        if not (lhs.is_fully_static and rhs.is_fully_static):
            return UNKNOWN
        equal = lhs.value == rhs.value
    else:
        equal = lhs == rhs
    return equal if op in ("===", "==") else not equal


def _number(raw: str) -> int | float | Unknown:
    try:
        return int(raw.replace("_", ""), 0)
    except ValueError:
        try:
            return float(raw.replace("_", ""))
        except ValueError:
            return UNKNOWN


def _join(items: list[Value], sep: Value, node: Node, ev: Evaluator) -> Value:
    if not isinstance(sep, StaticString):
        return UNKNOWN
    parts: list[StaticString] = []
    for i, item in enumerate(items):
        text = _to_static(item, node)
        if text is None:
            text = static(DYNAMIC, *ev.point(node), ev.file.rel)
        if i:
            parts.append(sep)
        parts.append(text)
    return _concat(*parts)


def _param_patterns(fn: Node) -> list[Node]:
    params = fn.child_by_field_name("parameters")
    if params is None:
        single = fn.child_by_field_name("parameter")
        return [single] if single is not None else []
    out = []
    for p in params.named_children:
        if p.type in ("required_parameter", "optional_parameter"):
            pattern = p.child_by_field_name("pattern")
            if pattern is not None:
                out.append(pattern)
        else:
            out.append(p)
    return out


def _bind_pattern(pattern: Node, value: Value) -> dict[str, Value] | None:
    if pattern.type == "identifier":
        return {ts.text(pattern): value}
    if pattern.type == "array_pattern" and isinstance(value, list):
        names = [c for c in pattern.named_children if c.type == "identifier"]
        return {ts.text(n): (value[i] if i < len(value) else None) for i, n in enumerate(names)}
    if pattern.type == "object_pattern" and isinstance(value, Obj):
        scope: dict[str, Value] = {}
        for part in pattern.named_children:
            if part.type == "shorthand_property_identifier_pattern":
                scope[ts.text(part)] = value.get(ts.text(part))
        return scope
    return None


def _returned_expression(body: Node) -> Node | None:
    if body.type != "statement_block":
        return body
    for child in body.named_children:
        if child.type == "return_statement" and child.named_children:
            return child.named_children[0]
    return None


def _returns(fn: Node) -> Iterator[Node]:
    """Expressions returned by a function (not by functions nested in it)."""
    body = fn.child_by_field_name("body")
    if body is None:
        return
    if body.type != "statement_block":
        yield body
        return
    todo = list(body.named_children)
    while todo:
        node = todo.pop(0)
        if node.type in ("function_declaration", "function_expression", "arrow_function", "method_definition"):
            continue
        if node.type == "return_statement":
            if node.named_children:
                yield node.named_children[0]
            continue
        todo.extend(node.named_children)


# ---- header settings ----------------------------------------------------------------------------


class HeaderSetting(NamedTuple):
    """One response header set by the app. `value` None: set, but its value is not statically known."""

    name: str
    value: StaticString | None
    path: str
    line: int
    column: int
    origin: HeaderOrigin
    route: str | None = None
    helper: str | None = None


def _header_entry(
    ev: Evaluator, item: Value, origin: HeaderOrigin, route: str | None, helper: str | None = None
) -> HeaderSetting | None:
    if not isinstance(item, Obj):
        return None
    key, value = item.get("key"), item.get("value")
    if not isinstance(key, StaticString) or not key.is_fully_static or not key.value.strip():
        return None
    return HeaderSetting(
        name=key.value.strip().lower(),
        value=value if isinstance(value, StaticString) else None,
        path=item.path or ev.file.rel,
        line=item.line,
        column=item.column,
        origin=origin,
        route=route,
        helper=helper,
    )


def _route_entries(ev: Evaluator, routes: Value, origin: HeaderOrigin) -> Iterator[HeaderSetting]:
    """`[{source, headers: [{key, value}]}]` as returned by next.config headers() and in vercel.json."""
    if not isinstance(routes, list):
        return
    for route in routes:
        if not isinstance(route, Obj):
            continue
        source = route.get("source")
        route_path = source.value if isinstance(source, StaticString) else None
        entries = route.get("headers")
        if isinstance(entries, list):
            for item in entries:
                setting = _header_entry(ev, item, origin, route_path)
                if setting is not None:
                    yield setting


def _headers_functions(ev: Evaluator, root: Node) -> Iterator[Node]:
    """The `headers()` function(s) of a next.config module."""
    for node in ts.walk(root):
        if node.type == "method_definition":
            name = node.child_by_field_name("name")
            if name is not None and ts.text(name) == "headers":
                yield node
        elif node.type == "pair":
            key = node.child_by_field_name("key")
            value = node.child_by_field_name("value")
            if key is None or value is None or _property_name(key) != "headers":
                continue
            value = ts.unwrap(value)
            if value.type in ("arrow_function", "function_expression", "function"):
                yield value
            elif value.type == "identifier":
                yield from _bound_function(ev, ts.text(value))
        elif node.type == "shorthand_property_identifier" and ts.text(node) == "headers":
            yield from _bound_function(ev, "headers")


def _bound_function(ev: Evaluator, name: str) -> Iterator[Node]:
    bound = ev.binding(name)
    if isinstance(bound, Node):
        bound = ts.unwrap(bound)
        if bound.type in ("arrow_function", "function_expression", "function", "function_declaration"):
            yield bound


def next_config_headers(
    index: ProjectIndex, f: SourceFile, *, depth: int = 0, seen: set[str] | None = None
) -> list[HeaderSetting]:
    """Headers from `headers()` of next.config, or of a project module it imports (shared base configs)."""
    seen = seen if seen is not None else set()
    seen.add(f.rel)
    if f.root is None:
        return []
    ev = Evaluator(index, f, f.root)
    out: list[HeaderSetting] = []
    if any(k in f.data() for k in _CONFIG_KEYWORDS):
        for fn in _headers_functions(ev, f.root):
            for returned in _returns(fn):
                out.extend(_route_entries(ev, ev.eval(returned), HeaderOrigin.NEXT_CONFIG))
        out.extend(helper_headers(index, f, ev))
    if depth < MAX_IMPORT_DEPTH:
        for bound in ev.bindings.values():
            other = index.get(bound.resolved) if isinstance(bound, ImportRef) and bound.resolved else None
            # Only modules that mention headers are parsed: a config imports few, but they may be large.
            if other is not None and other.rel not in seen and b"headers" in other.data():
                out.extend(next_config_headers(index, other, depth=depth + 1, seen=seen))
    return out


# ---- middleware ----------------------------------------------------------------------------------


def _response_init_pair(ev: Evaluator, node: Node) -> bool:
    """Whether a `headers` pair/shorthand sits in the init of a response (`NextResponse.next({ headers })`,
    `new Response(body, { headers })`), not in `{ request: { headers } }` (forwarded to the app) nor in
    the init of an outgoing `fetch`."""
    current = node.parent
    while current is not None:
        if current.type == "pair":
            key = current.child_by_field_name("key")
            if key is not None and _property_name(key) == "request":
                return False
        if current.type in ("call_expression", "new_expression"):
            return _is_response_expression(ev, current)
        if current.type not in ("object", "arguments", "pair", "parenthesized_expression"):
            return False
        current = current.parent
    return False


def _headers_value_nodes(ev: Evaluator, root: Node) -> Iterator[Node]:
    """`headers: X` pairs and `{ headers }` shorthands that are response init headers."""
    for node in ts.walk(root):
        if node.type == "pair":
            key = node.child_by_field_name("key")
            value = node.child_by_field_name("value")
            is_headers = key is not None and value is not None and _property_name(key) == "headers"
            if is_headers and value is not None and _response_init_pair(ev, node):
                yield value
        elif (
            node.type == "shorthand_property_identifier"
            and ts.text(node) == "headers"
            and _response_init_pair(ev, node)
        ):
            yield node


def _request_names(root: Node) -> set[str]:
    """Names of incoming requests: `request`/`req`, parameters typed `NextRequest`/`Request`, and the first
    parameter of a function called middleware or proxy."""
    names = set(_REQUEST_NAMES)
    for node in ts.walk(root):
        if node.type in ("required_parameter", "optional_parameter"):
            annotation = node.child_by_field_name("type")
            pattern = node.child_by_field_name("pattern")
            if annotation is not None and pattern is not None and "Request" in ts.text(annotation):
                names.add(ts.text(pattern))
        elif node.type == "function_declaration" and ts.text(node.child_by_field_name("name")) in MIDDLEWARE_NAMES:
            params = _param_patterns(node)
            if params and params[0].type == "identifier":
                names.add(ts.text(params[0]))
    return names


def _is_response_expression(ev: Evaluator, node: Node, depth: int = 0) -> bool:
    """NextResponse.next()/rewrite()/json(), new NextResponse(...), new Response(...), or a name bound to one."""
    node = ts.unwrap(node)
    if depth > 5:
        return False
    if node.type == "new_expression":
        ctor = node.child_by_field_name("constructor")
        return ts.text(ctor) in ("NextResponse", "Response")
    if node.type == "call_expression":
        path = ts.callee_path(node.child_by_field_name("function") or node)
        head, _, method = path.rpartition(".")
        return (head in ("NextResponse", "Response") and method in _RESPONSE_FACTORIES) or path.endswith(
            "Response.json"
        )
    if node.type == "identifier":
        bound = ev.binding(ts.text(node))
        return isinstance(bound, Node) and _is_response_expression(ev, bound, depth + 1)
    return False


def _response_header_names(ev: Evaluator, root: Node) -> set[str]:
    """Variables holding a `Headers` object that ends up as a response's headers."""
    names = set()
    for value in _headers_value_nodes(ev, root):
        if value.type in ("identifier", "shorthand_property_identifier"):
            names.add(ts.text(value))
    return names


def _receiver_is_response(
    ev: Evaluator, receiver: Node, response_headers: set[str], request_names: frozenset[str] = _REQUEST_NAMES
) -> bool:
    receiver = ts.unwrap(receiver)
    if receiver.type == "member_expression":
        prop = receiver.child_by_field_name("property")
        obj = receiver.child_by_field_name("object")
        if prop is None or obj is None or ts.text(prop) != "headers":
            return False
        obj = ts.unwrap(obj)
        if obj.type == "identifier":
            name = ts.text(obj)
            if name in request_names:
                return False
            bound = ev.binding(name)
            return not (isinstance(bound, Node) and ts.text(bound).startswith(tuple(request_names)))
        return _is_response_expression(ev, obj)
    if receiver.type == "identifier":
        name = ts.text(receiver)
        if name in response_headers:
            return True
        bound = ev.binding(name)
        if isinstance(bound, Node):
            bound = ts.unwrap(bound)
            if bound.type == "member_expression":
                return _receiver_is_response(ev, bound, response_headers, request_names)
    return False


def _object_headers(ev: Evaluator, value: Value, origin: HeaderOrigin) -> Iterator[HeaderSetting]:
    if not isinstance(value, Obj):
        return
    for name, item in value.fields.items():
        line, column = value.positions.get(name, (value.line, value.column))
        yield HeaderSetting(
            name=name.strip().lower(),
            value=item if isinstance(item, StaticString) else None,
            path=value.path or ev.file.rel,
            line=line,
            column=column,
            origin=origin,
        )


def middleware_headers(
    index: ProjectIndex, f: SourceFile, *, depth: int = 0, seen: set[str] | None = None
) -> list[HeaderSetting]:
    """Response headers set by middleware/proxy code (and project modules it imports, each once)."""
    seen = seen if seen is not None else set()
    seen.add(f.rel)
    data = f.data()
    if not any(k in data for k in _MIDDLEWARE_KEYWORDS) or f.root is None:
        return []
    root = f.root
    ev = Evaluator(index, f, root)
    response_headers = _response_header_names(ev, root)
    request_names = frozenset(_request_names(root))
    out: list[HeaderSetting] = []
    for node in ts.walk(root):
        if node.type == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is None or args is None:
                continue
            fn = ts.unwrap(fn)
            if fn.type != "member_expression" or ts.text(fn.child_by_field_name("property")) not in ("set", "append"):
                continue
            arguments = [a for a in args.named_children if a.type != "comment"]
            receiver = fn.child_by_field_name("object")
            if len(arguments) != 2 or receiver is None:
                continue
            key = ev.eval(arguments[0])
            if not isinstance(key, StaticString) or not key.is_fully_static:
                continue
            if not _receiver_is_response(ev, receiver, response_headers, request_names):
                continue
            value = ev.eval(arguments[1])
            line, column = ev.point(node)
            out.append(
                HeaderSetting(
                    name=key.value.strip().lower(),
                    value=value if isinstance(value, StaticString) else None,
                    path=f.rel,
                    line=line,
                    column=column,
                    origin=HeaderOrigin.MIDDLEWARE,
                )
            )
        elif node.type == "new_expression" and ts.text(node.child_by_field_name("constructor")) == "Headers":
            args = node.child_by_field_name("arguments")
            declarator = node.parent
            if args is None or not args.named_children or declarator is None:
                continue
            if declarator.type != "variable_declarator":
                # `NextResponse.next({ headers: new Headers({...}) })`
                if declarator.type != "pair" or not _response_init_pair(ev, declarator):
                    continue
            elif ts.text(declarator.child_by_field_name("name")) not in response_headers:
                continue
            out.extend(_object_headers(ev, ev.eval(args.named_children[0]), HeaderOrigin.MIDDLEWARE))
    for value_node in _headers_value_nodes(ev, root):
        if ts.unwrap(value_node).type == "object":
            out.extend(_object_headers(ev, ev.eval(value_node), HeaderOrigin.MIDDLEWARE))
    out.extend(helper_headers(index, f, ev))
    if depth < MAX_IMPORT_DEPTH:
        for imp in index.imports_of(f):
            other = index.get(imp.resolved) if imp.resolved else None
            if other is not None and other.rel not in seen:
                out.extend(middleware_headers(index, other, depth=depth + 1, seen=seen))
    return out


# ---- helpers (next-secure-headers, nosecone) -----------------------------------------------------


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])([A-Z])", r"-\1", name).lower()


def csp_from_directives(directives: Obj) -> StaticString:
    """`{ defaultSrc: "'self'", scriptSrc: [...], upgradeInsecureRequests: true }` as a policy string."""
    parts: list[StaticString] = []
    for name, value in directives.fields.items():
        line, column = directives.positions.get(name, (directives.line, directives.column))
        values = value if isinstance(value, list) else [value]
        if value is False or value is None:
            continue
        tokens: list[StaticString] = [static(_kebab(name), line, column)]
        for item in values:
            if isinstance(item, StaticString):
                tokens.append(item)
            elif item is True or item is None:
                continue
            else:
                tokens.append(static(DYNAMIC, line, column))
        for i, token in enumerate(tokens):
            parts.append(token if i == 0 else _concat(static(" ", line, column), token))
        parts.append(static("; ", line, column))
    return _concat(*parts)


def nosecone_defaults(line: int, column: int) -> Obj:
    """@nosecone/next's documented `defaults` (CSP with a nonce, HSTS, nosniff, no-referrer, SAMEORIGIN)."""

    def strs(*items: str) -> list[Value]:
        return [static(i, line, column) for i in items]

    directives: dict[str, Value] = {
        "baseUri": strs("'none'"),
        "childSrc": strs("'none'"),
        "connectSrc": strs("'self'"),
        "defaultSrc": strs("'self'"),
        "fontSrc": strs("'self'"),
        "formAction": strs("'self'"),
        "frameAncestors": strs("'none'"),
        "frameSrc": strs("'none'"),
        "imgSrc": strs("'self'", "blob:", "data:"),
        "manifestSrc": strs("'self'"),
        "mediaSrc": strs("'self'"),
        "objectSrc": strs("'none'"),
        "scriptSrc": strs("'self'", f"'nonce-{DYNAMIC}'"),
        "styleSrc": strs("'self'", "'unsafe-inline'"),
        "workerSrc": strs("'self'"),
        "upgradeInsecureRequests": True,
    }
    pos = dict.fromkeys(directives, (line, column))
    csp = Obj({"directives": Obj(directives, pos, line, column)}, {"directives": (line, column)}, line, column)
    top: dict[str, Value] = {
        "contentSecurityPolicy": csp,
        "strictTransportSecurity": Obj({}, {}, line, column),
        "xContentTypeOptions": True,
        "referrerPolicy": Obj({}, {}, line, column),
        "xFrameOptions": Obj({}, {}, line, column),
    }
    return Obj(top, dict.fromkeys(top, (line, column)), line, column)


_NOSECONE_HEADERS = {
    "strictTransportSecurity": (HSTS, "max-age=31536000; includeSubDomains"),
    "xContentTypeOptions": (NOSNIFF, "nosniff"),
    "referrerPolicy": (REFERRER, "no-referrer"),
    "xFrameOptions": (FRAME_OPTIONS, "SAMEORIGIN"),
}
_NEXT_SECURE_HEADERS = {
    # option: (header, default on?)
    "forceHTTPSRedirect": (HSTS, True),
    "nosniff": (NOSNIFF, True),
    "frameGuard": (FRAME_OPTIONS, True),
    "referrerPolicy": (REFERRER, False),
}


def _helper_names(index: ProjectIndex, f: SourceFile, ev: Evaluator) -> dict[str, str]:
    """Local names bound to helper functions → their package."""
    out: dict[str, str] = {}
    for local, bound in ev.bindings.items():
        if isinstance(bound, ImportRef) and bound.imported in _HELPER_FUNCTIONS.get(bound.spec, frozenset()):
            out[local] = bound.spec
    return out


def has_helper_import(f: SourceFile) -> bool:
    data = f.data()
    return any(pkg.encode() in data for pkg in (NEXT_SECURE_HEADERS, *NOSECONE_PACKAGES))


def helper_headers(index: ProjectIndex, f: SourceFile, ev: Evaluator) -> list[HeaderSetting]:
    """Headers set by calls to next-secure-headers / nosecone functions, per their documented defaults."""
    if not has_helper_import(f) or f.root is None:
        return []
    helpers = _helper_names(index, f, ev)
    out: list[HeaderSetting] = []
    for node in ts.walk(f.root):
        if node.type != "call_expression":
            continue
        fn = node.child_by_field_name("function")
        if fn is None or ts.unwrap(fn).type != "identifier" or ts.text(fn) not in helpers:
            continue
        package = helpers[ts.text(fn)]
        args = node.child_by_field_name("arguments")
        first = args.named_children[0] if args is not None and args.named_children else None
        options = ev.eval(first) if first is not None else None
        line, column = ev.point(node)
        if package == NEXT_SECURE_HEADERS:
            out.extend(_next_secure_headers(f.rel, options, line, column))
        else:
            if options is None or isinstance(options, Unknown):
                options = nosecone_defaults(line, column)
            out.extend(_nosecone(f.rel, options, line, column))
    return out


def _helper_setting(rel: str, name: str, value: StaticString | None, line: int, column: int, pkg: str) -> HeaderSetting:
    return HeaderSetting(name, value, rel, line, column, HeaderOrigin.HELPER, helper=pkg)


def _next_secure_headers(rel: str, options: Value, line: int, column: int) -> Iterator[HeaderSetting]:
    opts = options if isinstance(options, Obj) else Obj({}, {}, line, column)
    for option, (header, default_on) in _NEXT_SECURE_HEADERS.items():
        value = opts.fields.get(option, default_on)
        if value is False or value is None:
            continue
        text = value if isinstance(value, StaticString) else None
        yield _helper_setting(rel, header, text, line, column, NEXT_SECURE_HEADERS)
    csp = opts.fields.get("contentSecurityPolicy", False)
    if isinstance(csp, Obj):
        directives = csp.get("directives")
        name = CSP_REPORT_ONLY if csp.get("reportOnly") is True else CSP
        value = csp_from_directives(directives) if isinstance(directives, Obj) else None
        yield _helper_setting(rel, name, value, line, column, NEXT_SECURE_HEADERS)
    elif isinstance(csp, Unknown):
        yield _helper_setting(rel, CSP, None, line, column, NEXT_SECURE_HEADERS)


def _nosecone(rel: str, options: Value, line: int, column: int) -> Iterator[HeaderSetting]:
    if not isinstance(options, Obj):
        return
    pkg = "@nosecone/next"
    for option, (header, default_value) in _NOSECONE_HEADERS.items():
        value = options.fields.get(option, True)
        if value is False or value is None:
            continue
        yield _helper_setting(rel, header, static(default_value, line, column), line, column, pkg)
    csp = options.fields.get("contentSecurityPolicy", True)
    if csp is False or csp is None:
        return
    if isinstance(csp, Obj):
        directives = csp.get("directives")
        value = csp_from_directives(directives) if isinstance(directives, Obj) else None
    elif csp is True:
        defaults = nosecone_defaults(line, column).get("contentSecurityPolicy")
        inner = defaults.get("directives") if isinstance(defaults, Obj) else None
        value = csp_from_directives(inner) if isinstance(inner, Obj) else None
    else:
        value = None
    yield _helper_setting(rel, CSP, value, line, column, pkg)


# ---- vercel.json -------------------------------------------------------------------------------


def vercel_json_headers(f: SourceFile, index: ProjectIndex) -> list[HeaderSetting]:
    data = f.data()
    if b"headers" not in data:
        return []
    # JSON is a JS expression; parenthesised so that `{` starts an object, not a block (column 1 shifts by one).
    language = ts.language_for(".js")
    if language is None:
        return []
    tree = ts.parse(b"(" + data + b")", language)
    root = tree.root_node
    expr = root.named_children[0] if root.named_children else None
    if expr is None or expr.type != "expression_statement" or not expr.named_children:
        return []
    ev = Evaluator(index, f, root, row_shift=1)
    config = ev.eval(expr.named_children[0])
    if not isinstance(config, Obj):
        return []
    out = list(_route_entries(ev, config.get("headers"), HeaderOrigin.VERCEL_JSON))
    routes = config.get("routes")
    if isinstance(routes, list):
        for route in routes:
            if isinstance(route, Obj):
                out.extend(_object_headers(ev, route.get("headers"), HeaderOrigin.VERCEL_JSON))
    return out


# ---- <meta> tags and the Metadata API ----------------------------------------------------------


_APP_PREFIXES = ("app/", "src/app/")
_APP_DOCUMENT_NAMES = ("layout.", "page.")
_PAGES_PREFIXES = ("pages/", "src/pages/")


def page_response_headers(index: ProjectIndex, f: SourceFile) -> list[HeaderSetting]:
    """`res.setHeader(name, value)` in Pages Router pages, `_app` and `_document` (getServerSideProps,
    getInitialProps): those calls set the headers of the HTML response itself."""
    if b"setHeader" not in f.data() or f.root is None:
        return []
    ev = Evaluator(index, f, f.root)
    out: list[HeaderSetting] = []
    for node in ts.walk(f.root):
        if node.type != "call_expression":
            continue
        fn = node.child_by_field_name("function")
        args = node.child_by_field_name("arguments")
        if fn is None or args is None or not ts.callee_path(fn).endswith("res.setHeader"):
            continue
        arguments = [a for a in args.named_children if a.type != "comment"]
        if len(arguments) != 2:
            continue
        key = ev.eval(arguments[0])
        if not isinstance(key, StaticString) or not key.is_fully_static:
            continue
        value = ev.eval(arguments[1])
        line, column = ev.point(node)
        text = value if isinstance(value, StaticString) else None
        out.append(HeaderSetting(key.value.strip().lower(), text, f.rel, line, column, HeaderOrigin.PAGE_RESPONSE))
    return out


def _renders_html(index: ProjectIndex, rel: str, f: SourceFile) -> bool:
    """Layouts and pages of either router, `_document` and `_app`: the modules that render the HTML a
    `<meta>` policy or a `res.setHeader` applies to. Cheap name checks first: every file passes here."""
    if rel.startswith(_APP_PREFIXES):
        return rel.rpartition("/")[2].startswith(_APP_DOCUMENT_NAMES) and f.is_source and index.router_of(f) == "app"
    if rel.startswith(_PAGES_PREFIXES):
        return f.is_source and (index.is_page(f) or f.stem in ("_app", "_document"))
    return False


def _jsx_attributes(element: Node) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for attr in element.named_children:
        if attr.type != "jsx_attribute" or not attr.named_children:
            continue
        name = ts.text(attr.named_children[0])
        value = attr.named_children[1] if len(attr.named_children) > 1 else None
        if value is not None and value.type == "jsx_expression":
            value = value.named_children[0] if value.named_children else None
        if value is not None:
            out[name.lower()] = value
    return out


def meta_headers(index: ProjectIndex, f: SourceFile) -> list[HeaderSetting]:
    """`<meta httpEquiv="Content-Security-Policy">`, `<meta name="referrer">` and `metadata.referrer`."""
    data = f.data()
    if not any(k in data for k in _META_KEYWORDS) or f.root is None:
        return []
    ev = Evaluator(index, f, f.root)
    out: list[HeaderSetting] = []
    for node in ts.walk(f.root):
        if node.type in ("jsx_self_closing_element", "jsx_opening_element"):
            if ts.text(node.child_by_field_name("name")) != "meta":
                continue
            attrs = _jsx_attributes(node)
            equiv = ev.eval(attrs.get("httpequiv") or attrs.get("http-equiv"))
            named = ev.eval(attrs.get("name"))
            header: str | None = None
            if isinstance(equiv, StaticString) and equiv.value.strip().lower() in (CSP, CSP_REPORT_ONLY):
                header = equiv.value.strip().lower()
            elif isinstance(named, StaticString) and named.value.strip().lower() == "referrer":
                header = REFERRER
            if header is None:
                continue
            content = ev.eval(attrs.get("content"))
            line, column = ev.point(node)
            value = content if isinstance(content, StaticString) else None
            out.append(HeaderSetting(header, value, f.rel, line, column, HeaderOrigin.META))
        elif node.type == "variable_declarator" and ts.text(node.child_by_field_name("name")) == "metadata":
            metadata = ev.eval(node.child_by_field_name("value"))
            if isinstance(metadata, Obj) and "referrer" in metadata.fields:
                referrer = metadata.get("referrer")
                line, column = metadata.positions["referrer"]
                value = referrer if isinstance(referrer, StaticString) else None
                out.append(HeaderSetting(REFERRER, value, f.rel, line, column, HeaderOrigin.META))
    return out


# ---- everything ---------------------------------------------------------------------------------


class AppHeaders:
    """Every header setting found in one app."""

    # Plain classes and NamedTuples in this module, not dataclasses: each dataclass generates and compiles its
    # methods at import, ~1 ms apiece on every scan.
    def __init__(self, settings: list[HeaderSetting] | None = None, ignored: list[HeaderSetting] | None = None) -> None:
        self.settings: list[HeaderSetting] = settings if settings is not None else []
        self.ignored: list[HeaderSetting] = ignored if ignored is not None else []
        """Settings of middleware/proxy files Next.js never runs (wrong folder or name): they reach no browser,
        and are kept only to tell why a header the code seems to set is missing."""

    def named(self, name: str) -> list[HeaderSetting]:
        return [s for s in self.settings if s.name == name]

    @property
    def enforced_csp(self) -> list[HeaderSetting]:
        return self.named(CSP)


def collect_headers(index: ProjectIndex) -> AppHeaders:
    found: list[HeaderSetting] = []
    config = index.next_config
    if config is not None:
        found.extend(next_config_headers(index, config))
    # Only the file Next.js runs: a root middleware.ts beside src/app sets nothing in production.
    location = locate_middleware(index)
    if location.active is not None:
        found.extend(middleware_headers(index, location.active))
    vercel = index.get("vercel.json")
    if vercel is not None:
        found.extend(vercel_json_headers(vercel, index))
    for rel, f in index.files.items():
        if not _renders_html(index, rel, f):
            continue
        found.extend(meta_headers(index, f))
        if rel.startswith(_PAGES_PREFIXES):
            found.extend(page_response_headers(index, f))
            if f.stem == "_app" and has_helper_import(f) and f.root is not None:
                found.extend(helper_headers(index, f, Evaluator(index, f, f.root)))
    unique: dict[tuple[str, str, int, int], HeaderSetting] = {}
    for s in found:
        unique.setdefault((s.name, s.path, s.line, s.column), s)
    ignored = [s for skipped in location.ignored for s in middleware_headers(index, skipped.file)]
    return AppHeaders(list(unique.values()), ignored)


# ---- CSP3 parsing and weaknesses ---------------------------------------------------------------

_ASCII_WS = " \t\n\f\r"
_DIRECTIVE_NAME = re.compile(r"^[A-Za-z0-9-]+$")
_NONCE_OR_HASH = re.compile(r"^'(nonce-|sha256-|sha384-|sha512-)", re.IGNORECASE)
_HOST_WILDCARD = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?\*(?::[0-9*]+)?(?:/.*)?$", re.IGNORECASE)
DANGEROUS_SCRIPT_SCHEMES = frozenset({"http:", "https:", "data:"})
OPEN_CONNECT_SCHEMES = frozenset({"http:", "https:", "ws:", "wss:"})


class CspSource(NamedTuple):
    text: str
    offset: int


class CspDirective(NamedTuple):
    name: str
    sources: tuple[CspSource, ...]
    offset: int


class CspPolicy(NamedTuple):
    directives: tuple[CspDirective, ...]
    offset: int
    has_dynamic_directives: bool
    """A run-time part stands where a directive could be: absent directives cannot be concluded."""

    def get(self, name: str) -> CspDirective | None:
        return next((d for d in self.directives if d.name == name), None)


def _tokens(text: str, base: int) -> Iterator[tuple[str, int]]:
    for match in re.finditer(r"[^ \t\n\f\r]+", text):
        yield match.group(0), base + match.start()


def parse_policy(text: str, base: int = 0) -> CspPolicy:
    """One serialized policy (CSP3 §2.2.1): the first occurrence of a directive wins, invalid names are skipped."""
    directives: list[CspDirective] = []
    seen: set[str] = set()
    dynamic = False
    position = 0
    for token in text.split(";"):
        start = base + position
        position += len(token) + 1
        parts = list(_tokens(token, start))
        if not parts:
            continue
        name, offset = parts[0]
        if DYNAMIC in name:
            dynamic = True
            continue
        if not _DIRECTIVE_NAME.match(name):
            continue
        name = name.lower()
        if name in seen:
            continue
        seen.add(name)
        directives.append(CspDirective(name, tuple(CspSource(t, o) for t, o in parts[1:]), offset))
    return CspPolicy(tuple(directives), base, dynamic)


def parse_policy_list(text: str) -> list[CspPolicy]:
    """A header value: policies separated by commas (CSP3 "parse a serialized CSP list")."""
    out: list[CspPolicy] = []
    position = 0
    for chunk in text.split(","):
        if chunk.strip(_ASCII_WS):
            out.append(parse_policy(chunk, position))
        position += len(chunk) + 1
    return out


class WeaknessKind(StrEnum):
    UNSAFE_INLINE = "'unsafe-inline' without a nonce or hash"
    UNSAFE_EVAL = "'unsafe-eval'"
    WILDCARD = "wildcard source"
    SCHEME = "scheme source"
    NO_SCRIPT_SRC = "no script-src or default-src"
    NO_CONNECT_SRC = "no connect-src or default-src"
    OPEN_CONNECT = "connect-src open to any host"


class CspWeakness(NamedTuple):
    kind: WeaknessKind
    directive: str
    detail: str
    offset: int


def _keyword(source: CspSource) -> str:
    return source.text.lower()


def _is_dynamic_source(source: CspSource) -> bool:
    return DYNAMIC in source.text and not _NONCE_OR_HASH.match(source.text)


SCRIPT_SUB_DIRECTIVES = ("script-src-elem", "script-src-attr")
"""CSP3 splits script-src: when present, these govern <script> elements and inline event handlers."""


def _script_weaknesses(policy: CspPolicy) -> list[CspWeakness]:
    directive = policy.get("script-src") or policy.get("default-src")
    if directive is None:
        if policy.has_dynamic_directives:
            return []
        detail = "missing, and no default-src: scripts load from any origin"
        return [CspWeakness(WeaknessKind.NO_SCRIPT_SRC, "script-src", detail, policy.offset)]
    where = directive.name if directive.name == "script-src" else "default-src (script fallback)"
    out = _script_source_list_weaknesses(directive, where)
    for name in SCRIPT_SUB_DIRECTIVES:
        sub = policy.get(name)
        if sub is not None:
            out.extend(_script_source_list_weaknesses(sub, name))
    return out


def _script_source_list_weaknesses(directive: CspDirective, where: str) -> list[CspWeakness]:
    keywords = [_keyword(s) for s in directive.sources]
    nonce_or_hash = any(_NONCE_OR_HASH.match(s.text) for s in directive.sources)
    strict_dynamic = "'strict-dynamic'" in keywords
    unknown = any(_is_dynamic_source(s) for s in directive.sources)
    out: list[CspWeakness] = []
    for source, kw in zip(directive.sources, keywords, strict=True):
        if kw == "'unsafe-eval'":
            detail = "'unsafe-eval' runs strings as code"
            out.append(CspWeakness(WeaknessKind.UNSAFE_EVAL, where, detail, source.offset))
        elif kw == "'unsafe-inline'" and not (nonce_or_hash or strict_dynamic or unknown):
            detail = "'unsafe-inline' without a nonce or hash runs injected inline scripts"
            out.append(CspWeakness(WeaknessKind.UNSAFE_INLINE, where, detail, source.offset))
        elif strict_dynamic:
            # CSP3: with 'strict-dynamic', host and scheme sources are ignored for scripts (CSP2 fallback only).
            continue
        elif kw == "*" or _HOST_WILDCARD.match(kw):
            out.append(CspWeakness(WeaknessKind.WILDCARD, where, f"{kw} loads scripts from any host", source.offset))
        elif kw in DANGEROUS_SCRIPT_SCHEMES:
            out.append(CspWeakness(WeaknessKind.SCHEME, where, f"{kw} loads scripts from any {kw} URL", source.offset))
    return out


def _connect_weaknesses(policy: CspPolicy) -> list[CspWeakness]:
    directive = policy.get("connect-src") or policy.get("default-src")
    if directive is None:
        if policy.has_dynamic_directives:
            return []
        return [
            CspWeakness(
                WeaknessKind.NO_CONNECT_SRC,
                "connect-src",
                "missing, and no default-src: fetch/XHR/WebSocket may send data anywhere",
                policy.offset,
            )
        ]
    where = directive.name if directive.name == "connect-src" else "default-src (connect fallback)"
    out: list[CspWeakness] = []
    for source in directive.sources:
        kw = _keyword(source)
        if kw == "*" or _HOST_WILDCARD.match(kw) or kw in OPEN_CONNECT_SCHEMES:
            detail = f"{kw} lets fetch/XHR/WebSocket send data to any host"
            out.append(CspWeakness(WeaknessKind.OPEN_CONNECT, where, detail, source.offset))
    return out


def policy_weaknesses(policy: CspPolicy) -> list[CspWeakness]:
    return _script_weaknesses(policy) + _connect_weaknesses(policy)


def header_weaknesses(value: str) -> list[CspWeakness]:
    """Weaknesses of a header value. Several policies are all enforced: a kind counts only if every policy has it."""
    policies = parse_policy_list(value)
    if not policies:
        return []
    per_policy = [policy_weaknesses(p) for p in policies]
    shared = set.intersection(*({w.kind for w in ws} for ws in per_policy))
    return [w for w in per_policy[0] if w.kind in shared]


def has_frame_ancestors(value: str) -> bool:
    """Whether a policy sets frame-ancestors (or may: a run-time part stands where a directive could be)."""
    return any(p.get("frame-ancestors") is not None or p.has_dynamic_directives for p in parse_policy_list(value))


def config_anchor(index: ProjectIndex) -> str | None:
    """Where app-wide header findings are reported: next.config, else package.json."""
    if index.next_config is not None:
        return index.next_config.rel
    return "package.json" if index.get("package.json") is not None else None
