"""What an app's middleware (Next 16: proxy) does for data residency, read from its tree-sitter tree.

Two questions matter to the residency rules: which URL paths the middleware runs on, and whether it
reads the visitor's country and acts on it. The first follows Next.js' `config.matcher` semantics
(path-to-regexp v6 syntax, compiled case-insensitively as Next.js does, strings or `{ source }`
objects, one or an array); the second is a small name-based taint analysis: a country signal
(`x-vercel-ip-country`, `cf-ipcountry`, `x-amz-cf-ipcountry`, a header from `[scan] country_headers`,
`geolocation()` from `@vercel/functions`, `request.geo` before Next 15) flows into a condition
(`if`, `switch`, ternary) whose branch answers with a response that blocks, redirects or rewrites; a project
helper given the request that returns a value computed from the country (`isAllowedCountry(req)`) carries it too.
Only the middleware Next.js runs is analysed (`leakline.scan.routes.locate_middleware`).
It also lists the app's LLM routes (route handlers, API routes, server action modules that call an
LLM), which the residency rules LL006 and LL013 both judge.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, NamedTuple

from tree_sitter import Node

from leakline.errors import UsageError
from leakline.scan import parse as ts
from leakline.scan.index import ProjectIndex, SourceFile
from leakline.scan.routes import IMPORT_DEPTH, Position, locate_middleware, position_of

if TYPE_CHECKING:
    pass

WELL_KNOWN_COUNTRY_HEADERS = ("x-vercel-ip-country", "cf-ipcountry", "x-amz-cf-ipcountry")
GEOLOCATION_PACKAGES = ("@vercel/functions", "@vercel/edge")
# Next 15 removed `NextRequest.geo`; reading it there always yields undefined.
GEO_REMOVED_IN_NEXT = 15
MIDDLEWARE_EXPORTS = frozenset({"middleware", "proxy", "default"})
BLOCKING_CALLEES = frozenset(
    {"NextResponse.redirect", "NextResponse.rewrite", "Response.redirect", "redirect", "permanentRedirect"}
)
STATUS_CALLEES = frozenset({"NextResponse.json", "Response.json"})
STATUS_CONSTRUCTORS = frozenset({"NextResponse", "Response"})
FIRST_BLOCKING_STATUS = 300
# Dynamic route segments are tried with several sample values: a matcher covers a route only when
# every request the route answers goes through the middleware.
DYNAMIC_SAMPLES = ("1", "abc")
CATCH_ALL_SAMPLES = ("abc", "abc/def")
OPTIONAL_CATCH_ALL_SAMPLES = ("", "abc", "abc/def")
MAX_SAMPLE_URLS = 64
HELPER_DEPTH = 2
CALL_DEPTH = 3
"""How many project helper calls deep a country read given the request is followed (`isAllowedCountry(req)` →
`countryOf(req)` → `req.headers.get('x-vercel-ip-country')`)."""

_PARAM_PREFIXES = "./"
_DEFAULT_PARAM_PATTERN = "[^/#?]+?"
_NAME_CHAR = re.compile(r"[A-Za-z0-9_]")
_BYTES_HINTS = (b"matcher", b"country", b"geo", b"Country", b"Geo")


# ---- errors: one per way a matcher can be malformed ---------------------------------------------


class MatcherError(UsageError):
    """A middleware `config.matcher` entry that Next.js itself would reject."""

    def __init__(self, source: str, offset: int, problem: str) -> None:
        super().__init__(f"matcher {source!r}: {problem} at offset {offset}")
        self.source = source
        self.offset = offset


class MissingParameterName(MatcherError):
    """`:` not followed by a parameter name."""


class UnbalancedGroup(MatcherError):
    """A `(` without its `)`, or a `{` without its `}`."""


class InvalidGroupPattern(MatcherError):
    """A `( ... )` group that is empty, starts a capturing name with `?`, or is not a valid regex."""


class UnexpectedToken(MatcherError):
    """A character where path-to-regexp expects something else (e.g. a modifier after nothing)."""


class NotAbsolute(MatcherError):
    """Next.js requires every matcher to start with `/`."""


# ---- path-to-regexp v6 ------------------------------------------------------------------------


class _Token(NamedTuple):
    kind: str  # CHAR, ESCAPED, MODIFIER, OPEN, CLOSE, NAME, PATTERN, END
    offset: int
    value: str


def _lex(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(source)
    while i < n:
        c = source[i]
        if c in "*+?":
            tokens.append(_Token("MODIFIER", i, c))
            i += 1
        elif c == "\\":
            if i + 1 >= n:
                raise UnexpectedToken(source, i, "trailing backslash")
            tokens.append(_Token("ESCAPED", i, source[i + 1]))
            i += 2
        elif c == "{":
            tokens.append(_Token("OPEN", i, c))
            i += 1
        elif c == "}":
            tokens.append(_Token("CLOSE", i, c))
            i += 1
        elif c == ":":
            j = i + 1
            while j < n and _NAME_CHAR.match(source[j]):
                j += 1
            if j == i + 1:
                raise MissingParameterName(source, i, "missing parameter name")
            tokens.append(_Token("NAME", i, source[i + 1 : j]))
            i = j
        elif c == "(":
            pattern, i = _lex_group(source, i)
            tokens.append(_Token("PATTERN", i, pattern))
        else:
            tokens.append(_Token("CHAR", i, c))
            i += 1
    tokens.append(_Token("END", n, ""))
    return tokens


def _lex_group(source: str, start: int) -> tuple[str, int]:
    """The regex inside a balanced `( ... )` starting at `start`, and the offset after it."""
    depth, j, n = 1, start + 1, len(source)
    if j < n and source[j] == "?":
        raise InvalidGroupPattern(source, j, "a group cannot start with '?'")
    while j < n:
        c = source[j]
        if c == "\\":
            j += 2
            continue
        if c == ")":
            depth -= 1
            if depth == 0:
                break
        elif c == "(":
            depth += 1
            if j + 1 < n and source[j + 1] != "?":
                raise InvalidGroupPattern(source, j, "capturing groups are not allowed inside a group; use (?:")
        j += 1
    if depth:
        raise UnbalancedGroup(source, start, "unbalanced '('")
    pattern = source[start + 1 : j]
    if not pattern:
        raise InvalidGroupPattern(source, start, "empty group")
    try:
        re.compile(pattern)
    except re.error as exc:
        raise InvalidGroupPattern(
            source, start + 1 + (exc.pos or 0), f"invalid regular expression ({exc.msg})"
        ) from None
    return pattern, j + 1


class _Key(NamedTuple):
    prefix: str
    pattern: str
    suffix: str
    modifier: str


class _Parser:
    def __init__(self, source: str) -> None:
        self.source = source
        self.tokens = _lex(source)
        self.i = 0

    def take(self, kind: str) -> str | None:
        token = self.tokens[self.i]
        if token.kind == kind:
            self.i += 1
            return token.value
        return None

    def need(self, kind: str) -> str:
        value = self.take(kind)
        if value is None:
            token = self.tokens[self.i]
            raise UnexpectedToken(self.source, token.offset, f"expected {kind}, found {token.value or 'end'!r}")
        return value

    def text(self) -> str:
        out = ""
        while True:
            value = self.take("CHAR")
            if value is None:
                value = self.take("ESCAPED")
            if value is None:
                return out
            out += value

    def parse(self) -> list[str | _Key]:
        out: list[str | _Key] = []
        path = ""
        while True:
            char = self.take("CHAR")
            name = self.take("NAME")
            pattern = self.take("PATTERN")
            if name is not None or pattern is not None:
                prefix = char or ""
                if prefix not in _PARAM_PREFIXES:
                    path += prefix
                    prefix = ""
                if path:
                    out.append(path)
                    path = ""
                out.append(_Key(prefix, pattern or _DEFAULT_PARAM_PATTERN, "", self.take("MODIFIER") or ""))
                continue
            value = char if char is not None else self.take("ESCAPED")
            if value is not None:
                path += value
                continue
            if path:
                out.append(path)
                path = ""
            if self.take("OPEN") is not None:
                prefix = self.text()
                name = self.take("NAME")
                pattern = self.take("PATTERN")
                suffix = self.text()
                if self.take("CLOSE") is None:
                    raise UnbalancedGroup(self.source, self.tokens[self.i].offset, "unbalanced '{'")
                if pattern is None:
                    pattern = _DEFAULT_PARAM_PATTERN if name is not None else ""
                out.append(_Key(prefix, pattern, suffix, self.take("MODIFIER") or ""))
                continue
            self.need("END")
            return out


def _key_regex(key: _Key) -> str:
    prefix, suffix = re.escape(key.prefix), re.escape(key.suffix)
    if not key.pattern:
        return f"(?:{prefix}{suffix}){key.modifier}"
    if not (prefix or suffix):
        return f"({key.pattern}){key.modifier}"
    if key.modifier in ("+", "*"):
        optional = "?" if key.modifier == "*" else ""
        return f"(?:{prefix}((?:{key.pattern})(?:{suffix}{prefix}(?:{key.pattern}))*){suffix}){optional}"
    return f"(?:{prefix}({key.pattern}){suffix}){key.modifier}"


def compile_matcher(source: str) -> re.Pattern[str]:
    """The regex Next.js builds for one matcher string (path-to-regexp v6, case-insensitive, whole path)."""
    if not source.startswith("/"):
        raise NotAbsolute(source, 0, "a matcher must start with '/'")
    parts = _Parser(source).parse()
    body = "".join(re.escape(p) if isinstance(p, str) else _key_regex(p) for p in parts)
    try:
        # `.json` is optional after any matcher: Next.js routes `/_next/data/...json` requests through it too.
        return re.compile(rf"^{body}(?:\.json)?$", re.IGNORECASE)
    except re.error as exc:  # groups compile alone but not together (e.g. a name used twice)
        raise InvalidGroupPattern(source, 0, f"invalid regular expression ({exc.msg})") from None


def sample_urls(route_url: str) -> list[str]:
    """Concrete URL paths that a route pattern (`/api/chat/[id]`, `/docs/[...slug]`) answers."""
    choices: list[tuple[str, ...]] = []
    for segment in route_url.strip("/").split("/"):
        if segment.startswith("[[...") and segment.endswith("]]"):
            choices.append(OPTIONAL_CATCH_ALL_SAMPLES)
        elif segment.startswith("[...") and segment.endswith("]"):
            choices.append(CATCH_ALL_SAMPLES)
        elif segment.startswith("[") and segment.endswith("]"):
            choices.append(DYNAMIC_SAMPLES)
        else:
            choices.append((segment,))
    out = []
    for combo in itertools.islice(itertools.product(*choices), MAX_SAMPLE_URLS):
        out.append("/" + "/".join(part for part in combo if part))
    return out


# ---- middleware facts ---------------------------------------------------------------------------


class MatcherEntry(NamedTuple):
    source: str
    line: int
    column: int
    regex: re.Pattern[str] | None
    """None when the entry is not a string literal leakline can read or not valid (see `problem`)."""
    problem: str = ""
    conditional: bool = False
    """The entry has `has` conditions: requests without the header/cookie/query it names skip the middleware.
    (`missing` conditions are taken as covering: they usually exclude prefetches.)"""


class Matcher(NamedTuple):
    """`config.matcher` of a middleware: where it is written and its entries (None: not readable)."""

    line: int
    column: int
    entries: tuple[MatcherEntry, ...] | None

    def uncovered(self, route_url: str) -> str | None:
        """A URL the route answers that skips the middleware, or None. Unreadable matchers get the benefit of doubt."""
        if self.entries is None or any(entry.regex is None for entry in self.entries):
            return None
        regexes = [entry.regex for entry in self.entries if entry.regex is not None and not entry.conditional]
        return next((url for url in sample_urls(route_url) if not any(rx.match(url) for rx in regexes)), None)

    def covers(self, route_url: str) -> bool:
        return self.uncovered(route_url) is None


class MiddlewareFacts(NamedTuple):
    rel: str
    entry: Position
    """Where the middleware function is exported (the default export, or `middleware` / `proxy`)."""
    matcher: Matcher | None
    """None: no `config.matcher`, the middleware runs on every path."""
    country_check: bool
    """A country signal is read and branched on, with a blocking/redirecting/rewriting response."""
    removed_geo: Position | None
    """Where `request.geo` is read although the app runs Next 15+ (always undefined there)."""
    early_exits: tuple[EarlyExit, ...] = ()
    """Path tests that let requests through before the country check is reached."""
    guard: CheckGuard | None = None
    """The pathname conditions the country check itself runs under, when it has any."""

    def covers(self, route_url: str) -> bool:
        return self.matcher is None or self.matcher.covers(route_url)

    def check_skips(self, route_url: str) -> str | None:
        """A URL the route answers for which the country check cannot refuse (its path guard is false), or None."""
        if self.guard is None:
            return None
        return next((url for url in sample_urls(route_url) if self.guard.skips(url)), None)

    def exit_before_check(self, route_url: str) -> EarlyExit | None:
        """The early exit that lets some request of the route pass without the country check, if any."""
        urls = sample_urls(route_url)
        return next((early for early in self.early_exits if any(early.matches(url) for url in urls)), None)


class EarlyExit(NamedTuple):
    """`if (pathname.startsWith('/api')) return NextResponse.next();` before the country check."""

    line: int
    column: int
    prefixes: tuple[str, ...]
    exact: tuple[str, ...]
    test: PathTest | None = None
    """Any other condition on the pathname (`!pathname.startsWith('/api/')`), with its source text in `text`."""
    text: str = ""

    def matches(self, url: str) -> bool:
        if self.test is not None:
            return self.test.truth(url) is True
        return url in self.exact or any(url.startswith(prefix) for prefix in self.prefixes)

    def describe(self) -> str:
        if self.test is not None:
            return self.text
        return ", ".join([*(f"{p}*" for p in self.prefixes), *self.exact])


class PathTest:
    """What a condition says about the request's pathname, in three values: `truth(url)` is True or False when
    the pathname alone decides it, None when other values (the country, the method) take part.

    `op` is `prefix` / `suffix` / `exact` (over `values`), `not` / `and` / `or` (over `parts`), or `unknown`.
    """

    __slots__ = ("op", "parts", "values")

    def __init__(self, op: str, values: tuple[str, ...] = (), parts: tuple[PathTest, ...] = ()) -> None:
        self.op = op
        self.values = values
        self.parts = parts

    def truth(self, url: str) -> bool | None:
        op = self.op
        if op == "prefix":
            return any(url.startswith(value) for value in self.values)
        if op == "suffix":
            return any(url.endswith(value) for value in self.values)
        if op == "exact":
            return url in self.values
        if op == "not":
            inner = self.parts[0].truth(url)
            return None if inner is None else not inner
        if op in ("and", "or"):
            decisive = op == "or"  # the value that settles the whole: True for `||`, False for `&&`
            found = [part.truth(url) for part in self.parts]
            if decisive in found:
                return decisive
            return None if None in found else not decisive
        return None

    @property
    def known(self) -> bool:
        """Whether the pathname takes part at all (else the test never decides anything)."""
        return self.op != "unknown" and (self.op not in ("not", "and", "or") or any(p.known for p in self.parts))


_UNKNOWN = PathTest("unknown")
_STRING_TESTS = {"startsWith": "prefix", "endsWith": "suffix"}


def path_test(node: Node) -> PathTest:
    """The pathname test a condition makes (`pathname.startsWith('/api/') && country !== 'DE'`)."""
    node = ts.unwrap(node)
    kind = node.type
    if kind == "unary_expression" and ts.text(node.child_by_field_name("operator")) == "!":
        argument = node.child_by_field_name("argument")
        return PathTest("not", parts=(path_test(argument),)) if argument is not None else _UNKNOWN
    if kind == "binary_expression":
        operator = ts.text(node.child_by_field_name("operator"))
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if left is None or right is None:
            return _UNKNOWN
        if operator in ("&&", "||"):
            return PathTest("and" if operator == "&&" else "or", parts=(path_test(left), path_test(right)))
        if operator in ("===", "==", "!==", "!="):
            for path_side, literal_side in ((left, right), (right, left)):
                value = js_string(literal_side)
                if value is not None and "pathname" in ts.text(path_side):
                    exact = PathTest("exact", (value,))
                    return exact if operator in ("===", "==") else PathTest("not", parts=(exact,))
        return _UNKNOWN
    if kind == "call_expression":
        fn = ts.unwrap(node.child_by_field_name("function") or node)
        args = node.child_by_field_name("arguments")
        first = args.named_children[0] if args is not None and args.named_children else None
        if fn.type != "member_expression" or first is None:
            return _UNKNOWN
        method = ts.text(fn.child_by_field_name("property"))
        target = fn.child_by_field_name("object")
        value = js_string(first)
        if method in _STRING_TESTS and value is not None and target is not None and "pathname" in ts.text(target):
            return PathTest(_STRING_TESTS[method], (value,))
        if method == "includes" and target is not None and target.type == "array" and "pathname" in ts.text(first):
            listed = tuple(v for v in (js_string(item) for item in target.named_children) if v is not None)
            if len(listed) == len(target.named_children):
                return PathTest("exact", listed)
    return _UNKNOWN


class CheckGuard(NamedTuple):
    """The pathname conditions under which the country check can refuse a request: its own condition when only
    one of its branches refuses (`if (pathname.startsWith('/api/') && country !== 'DE') return 451`), and the
    `if`s it is nested in (`if (pathname.startsWith('/api/')) { if (country !== 'DE') ... }`)."""

    line: int
    column: int
    requirements: tuple[tuple[PathTest, bool], ...]
    """(test, the value it must be able to take for the check to refuse)."""

    def skips(self, url: str) -> bool:
        return any(test.truth(url) is (not needed) for test, needed in self.requirements)


_FUNCTION_BOUNDARIES = frozenset(
    {"function_declaration", "function_expression", "arrow_function", "method_definition", "function"}
)


def _contains(outer: Node | None, inner: Node) -> bool:
    return outer is not None and outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte


def _check_guard(branch: Node, functions: dict[str, Node]) -> CheckGuard | None:
    """The path conditions of the country `branch` (an `if` or ternary; a `switch` has none of its own)."""
    requirements: list[tuple[PathTest, bool]] = []
    condition = branch.child_by_field_name("condition")
    if condition is not None:
        consequence = branch.child_by_field_name("consequence")
        alternative = branch.child_by_field_name("alternative")
        otherwise = [alternative] if alternative is not None else []
        if branch.type == "if_statement" and alternative is None:
            otherwise = _following_statements(branch)
        refuses_then = consequence is not None and _blocks(consequence, functions)
        refuses_else = any(_blocks(node, functions) for node in otherwise)
        if refuses_then != refuses_else:
            requirements.append((path_test(condition), refuses_then))
    child, node = branch, branch.parent
    while node is not None and node.type not in _FUNCTION_BOUNDARIES:
        if node.type in ("if_statement", "ternary_expression"):
            outer = node.child_by_field_name("condition")
            if outer is not None and not _contains(outer, child):
                inside_then = _contains(node.child_by_field_name("consequence"), child)
                requirements.append((path_test(outer), inside_then))
        child, node = node, node.parent
    kept = tuple((test, needed) for test, needed in requirements if test.known)
    if not kept:
        return None
    where = position_of(branch)
    return CheckGuard(where.line, where.column, kept)


def export_entry(f: SourceFile) -> Position:
    """Where a middleware/proxy file exports its function (1:1 when it cannot be parsed or exports none)."""
    return _export_entry(f.root) if f.root is not None else Position(1, 1)


def _export_entry(root: Node) -> Position:
    fallback: Node | None = None
    for child in root.named_children:
        if child.type != "export_statement":
            continue
        if any(c.type == "default" for c in child.children):
            return position_of(child)
        decl = child.child_by_field_name("declaration")
        if decl is None:
            continue
        names: list[str] = []
        if decl.type == "function_declaration":
            names.append(ts.text(decl.child_by_field_name("name")))
        elif decl.type in ("lexical_declaration", "variable_declaration"):
            names.extend(
                ts.text(d.child_by_field_name("name")) for d in decl.named_children if d.type == "variable_declarator"
            )
        if fallback is None and any(name in MIDDLEWARE_EXPORTS for name in names):
            fallback = child
    return position_of(fallback) if fallback is not None else Position(1, 1)


def _const_values(root: Node) -> dict[str, Node]:
    out: dict[str, Node] = {}
    for node in ts.walk(root):
        if node.type == "variable_declarator":
            name, value = node.child_by_field_name("name"), node.child_by_field_name("value")
            if name is not None and value is not None and name.type == "identifier":
                out.setdefault(ts.text(name), ts.unwrap(value))
    return out


def _object_property(obj: Node, key: str) -> Node | None:
    for pair in obj.named_children:
        if pair.type == "pair":
            name = pair.child_by_field_name("key")
            if name is not None and (ts.text(name) == key or ts.string_value(name) == key):
                return pair
    return None


_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}


def _unescape(sequence: str) -> str:
    body = sequence[1:]
    if body[:1] in ("u", "x") and len(body) > 1:
        digits = body[1:].strip("{}")
        try:
            return chr(int(digits, 16))
        except ValueError:
            return body
    if body.startswith(("\r\n", "\n")):  # a line continuation
        return ""
    return _SIMPLE_ESCAPES.get(body, body)


def js_string(node: Node | None) -> str | None:
    """The runtime value of a string literal (escape sequences decoded: `'\\\\d+'` is `\\d+`), else None."""
    if node is None or node.type not in ("string", "template_string"):
        return None
    if any(child.type == "template_substitution" for child in node.named_children):
        return None
    parts = []
    for child in node.named_children:
        if child.type == "string_fragment":
            parts.append(ts.text(child))
        elif child.type == "escape_sequence":
            parts.append(_unescape(ts.text(child)))
    return "".join(parts)


def _read_matcher(root: Node) -> Matcher | None:
    constants = _const_values(root)
    config = constants.get("config")
    if config is None or config.type != "object":
        return None
    pair = _object_property(config, "matcher")
    if pair is None:
        return None
    where = position_of(pair)
    value = pair.child_by_field_name("value")
    if value is None:
        return Matcher(where.line, where.column, None)
    value = ts.unwrap(value)
    if value.type == "identifier" and ts.text(value) in constants:
        value = constants[ts.text(value)]
    items = list(value.named_children) if value.type == "array" else [value]
    entries: list[MatcherEntry] = []
    for item in items:
        item = ts.unwrap(item)
        conditional = False
        if item.type == "object":
            source_pair = _object_property(item, "source")
            source_node = source_pair.child_by_field_name("value") if source_pair is not None else None
            conditional = _object_property(item, "has") is not None
        else:
            source_node = item
        source = js_string(source_node)
        at = position_of(item)
        if source is None:
            return Matcher(where.line, where.column, None)
        try:
            entries.append(MatcherEntry(source, at.line, at.column, compile_matcher(source), conditional=conditional))
        except MatcherError as exc:
            entries.append(MatcherEntry(source, at.line, at.column, None, exc.message))
    return Matcher(where.line, where.column, tuple(entries))


class _Helpers:
    """Project functions the country analysis follows: which one a call invokes (declared in the module, imported
    by name or through a namespace, re-exported by a barrel), and whether it returns a country value for the
    arguments it is given. Shared by every analysis of one middleware, so each helper is read once."""

    def __init__(self, index: ProjectIndex, headers: frozenset[str], geo_allowed: bool) -> None:
        self.index = index
        self.headers = headers
        self.geo_allowed = geo_allowed
        self._exports: dict[str, dict[str, Node]] = {}
        self._returns: dict[tuple[str, int, frozenset[int]], bool] = {}

    def resolve(self, module: SourceFile, call: Node, local: dict[str, Node]) -> tuple[SourceFile, Node] | None:
        fn = call.child_by_field_name("function")
        if fn is None:
            return None
        fn = ts.unwrap(fn)
        if fn.type == "identifier":
            name = ts.text(fn)
            for imp in self.index.imports_of(module):
                if imp.local == name and imp.imported != "*":
                    return self._exported(imp.resolved, imp.imported, HELPER_DEPTH)
            target = local.get(name)
            return (module, target) if target is not None else None
        if fn.type == "member_expression":
            obj = fn.child_by_field_name("object")
            name = ts.text(fn.child_by_field_name("property"))
            for imp in self.index.imports_of(module):
                if obj is not None and imp.local == ts.text(obj) and imp.imported == "*":
                    return self._exported(imp.resolved, name, HELPER_DEPTH)
        return None

    def _exported(self, rel: str | None, name: str, hops: int) -> tuple[SourceFile, Node] | None:
        """The function `rel` exports as `name`, following `export ... from` re-exports `hops` times."""
        target = self.index.get(rel) if rel else None
        if target is None or target.root is None:
            return None
        exports = self._exports.get(target.rel)
        if exports is None:
            exports = self._exports[target.rel] = _exported_functions(target.root)
        if name in exports:
            return target, exports[name]
        if hops <= 0:
            return None
        for statement in target.root.named_children:
            source = statement.child_by_field_name("source") if statement.type == "export_statement" else None
            spec = ts.string_value(source) if source is not None else None
            if spec is None:
                continue
            clause = next((c for c in statement.named_children if c.type == "export_clause"), None)
            inner = name if clause is None else _reexported_as(clause, name)
            if inner is not None:
                found = self._exported(self.index.resolve_import(target.rel, spec), inner, hops - 1)
                if found is not None:
                    return found
        return None

    def returns_country(self, module: SourceFile, fn: Node, request_params: frozenset[int], depth: int) -> bool:
        """Whether `fn`, given the request (or its headers) in the parameters `request_params`, returns a value
        computed from the visitor's country (`['DE'].includes(req.headers.get('x-vercel-ip-country') ?? '')`)."""
        key = (module.rel, fn.id, request_params)
        known = self._returns.get(key)
        if known is not None:
            return known
        self._returns[key] = False  # a recursive helper does not prove itself
        root = module.root
        if root is None:
            return False
        params = _parameter_names(fn)
        seeds = {name for position in request_params if position < len(params) for name in params[position]}
        analysis = _CountryAnalysis(self.index, module, root, self.headers, self.geo_allowed, self, fn, seeds, depth)
        result = any(analysis.carries(value) for value in _returned_values(fn))
        self._returns[key] = result
        return result


def _exported_functions(root: Node) -> dict[str, Node]:
    """Functions a module exports, by exported name (`default` included), declared in the module itself."""
    functions = _local_functions(list(ts.walk(root)))
    out: dict[str, Node] = {}
    for statement in root.named_children:
        if statement.type != "export_statement" or statement.child_by_field_name("source") is not None:
            continue
        is_default = any(child.type == "default" for child in statement.children)
        decl = statement.child_by_field_name("declaration")
        value = statement.child_by_field_name("value")
        if decl is not None and decl.type == "function_declaration":
            name = ts.text(decl.child_by_field_name("name"))
            out["default" if is_default else name] = decl
        elif decl is not None and decl.type in ("lexical_declaration", "variable_declaration"):
            for declarator in decl.named_children:
                name = ts.text(declarator.child_by_field_name("name"))
                if declarator.type == "variable_declarator" and name in functions:
                    out[name] = functions[name]
        elif value is not None and is_default:
            value = ts.unwrap(value)
            if value.type in _FUNCTION_BOUNDARIES:
                out["default"] = value
            elif value.type == "identifier" and ts.text(value) in functions:
                out["default"] = functions[ts.text(value)]
        for clause in statement.named_children:
            if clause.type != "export_clause":
                continue
            for spec in clause.named_children:
                local = ts.text(spec.child_by_field_name("name"))
                alias = spec.child_by_field_name("alias")
                if local in functions:
                    out[ts.text(alias) if alias is not None else local] = functions[local]
    return out


def _reexported_as(clause: Node, name: str) -> str | None:
    """The name a module re-exports as `name` in `export { inner as name } from '...'`, or None."""
    for spec in clause.named_children:
        inner = ts.text(spec.child_by_field_name("name"))
        alias = spec.child_by_field_name("alias")
        if (ts.text(alias) if alias is not None else inner) == name:
            return inner
    return None


def _parameter_names(fn: Node) -> list[list[str]]:
    """The names each parameter binds, by position (`({ headers }, init)` → [["headers"], ["init"]])."""
    params = fn.child_by_field_name("parameters")
    if params is None:
        single = fn.child_by_field_name("parameter")  # `req => ...`
        return [[ts.text(single)]] if single is not None else []
    out = []
    for param in params.named_children:
        if param.type == "comment":
            continue
        pattern = param.child_by_field_name("pattern") if param.type != "identifier" else param
        pattern = pattern if pattern is not None else param
        if pattern.type == "assignment_pattern":  # `(req = defaultRequest)`
            pattern = pattern.child_by_field_name("left") or pattern
        names = [
            ts.text(n) for n in ts.walk(pattern) if n.type in ("identifier", "shorthand_property_identifier_pattern")
        ]
        out.append(names)
    return out


def _returned_values(fn: Node) -> list[Node]:
    """What `fn` returns: an arrow function's expression body, or its `return` values (not nested functions')."""
    body = fn.child_by_field_name("body")
    if body is None:
        return []
    if body.type != "statement_block":
        return [body]
    out: list[Node] = []
    stack = list(body.named_children)
    while stack:
        node = stack.pop()
        if node.type in _FUNCTION_BOUNDARIES:
            continue
        if node.type == "return_statement":
            out.extend(c for c in node.named_children if c.type != "comment")
            continue
        stack.extend(node.named_children)
    return out


def _chain_root(node: Node) -> Node:
    """`req.headers` → `req`; `(await ctx).req!` → `ctx`: the variable a member chain starts from."""
    node = ts.unwrap(node)
    while True:
        if node.type in ("member_expression", "subscript_expression"):
            inner = node.child_by_field_name("object")
        elif node.type in ("non_null_expression", "await_expression", "parenthesized_expression"):
            inner = node.named_children[0] if node.named_children else None
        else:
            return node
        if inner is None:
            return node
        node = ts.unwrap(inner)


class _CountryAnalysis:
    """Name-based, flow-insensitive: a variable is a country value if any assignment to it carries one.

    A call to a project helper carries one when the helper returns a country value computed from the request (or its
    headers) the call passes it (`if (!isAllowedCountry(req)) return 451`), followed `CALL_DEPTH` calls deep.
    """

    def __init__(
        self,
        index: ProjectIndex,
        f: SourceFile,
        root: Node,
        headers: frozenset[str],
        geo_allowed: bool,
        helpers: _Helpers | None = None,
        scope: Node | None = None,
        request_seeds: Iterable[str] = (),
        depth: int = 0,
    ):
        self.file = f
        self.headers = headers
        self.geo_allowed = geo_allowed
        self.helpers = helpers if helpers is not None else _Helpers(index, headers, geo_allowed)
        self.depth = depth
        self.geo_locals = {
            imp.local
            for imp in index.imports_of(f)
            if imp.source in GEOLOCATION_PACKAGES and imp.imported in ("geolocation", "*")
        }
        self.nodes = list(ts.walk(scope if scope is not None else root))
        self.module_functions = _local_functions(self.nodes if scope is None else list(ts.walk(root)))
        self.removed_geo: Node | None = None
        if not geo_allowed:
            self.removed_geo = next((n for n in self.nodes if _is_geo_read(n)), None)
        self.names: set[str] = set()
        # Where the request (or its headers) may be: a helper's seeded parameters, or in the middleware module every
        # function parameter (the middleware's own `req`, local helpers' `req`).
        self.request_names: set[str] = set(request_seeds)
        if scope is None:
            for node in self.nodes:
                if node.type in _FUNCTION_BOUNDARIES:
                    self.request_names.update(name for names in _parameter_names(node) for name in names)
        self._call_memo: dict[int, bool] = {}
        self.constants = _const_values(root)
        self._solve()

    def is_signal(self, node: Node) -> bool:
        """`node` itself reads a country signal."""
        kind = node.type
        if kind == "call_expression":
            fn = node.child_by_field_name("function")
            path = ts.callee_path(fn) if fn is not None else ""
            last = path.rsplit(".", 1)[-1]
            if last == "get":
                return self._first_arg_is_header(node)
            head = path.split(".", 1)[0]
            if path == "geolocation" and "geolocation" in self.geo_locals:
                return True
            return path.endswith(".geolocation") and head in self.geo_locals
        if kind == "subscript_expression":
            obj = node.child_by_field_name("object")
            index = node.child_by_field_name("index")
            value = ts.string_value(index)
            return obj is not None and "headers" in ts.text(obj) and value is not None and value.lower() in self.headers
        return self.geo_allowed and _is_geo_read(node)

    def _first_arg_is_header(self, call: Node) -> bool:
        args = call.child_by_field_name("arguments")
        first = args.named_children[0] if args is not None and args.named_children else None
        if first is not None and first.type == "identifier":
            # `const COUNTRY_HEADER = "x-vercel-ip-country"; req.headers.get(COUNTRY_HEADER)`
            first = self.constants.get(ts.text(first), first)
        value = js_string(first)
        return value is not None and value.lower() in self.headers

    def carries(self, node: Node) -> bool:
        for inner in ts.walk(node):
            if inner.type == "identifier" and ts.text(inner) in self.names:
                return True
            if self.is_signal(inner):
                return True
            if inner.type == "call_expression" and self._helper_returns_country(inner):
                return True
        return False

    def _is_request(self, node: Node) -> bool:
        root = _chain_root(node)
        return root.type == "identifier" and ts.text(root) in self.request_names

    def _helper_returns_country(self, call: Node) -> bool:
        """`isAllowedCountry(req)` / `geo.countryOf(req.headers)`: a project helper given the request returns a
        country value."""
        known = self._call_memo.get(call.id)
        if known is not None:
            return known
        self._call_memo[call.id] = False
        args = call.child_by_field_name("arguments")
        if self.depth >= CALL_DEPTH or args is None:
            return False
        arguments = [a for a in args.named_children if a.type != "comment"]
        passed = frozenset(n for n, arg in enumerate(arguments) if self._is_request(arg))
        if not passed:
            return False
        target = self.helpers.resolve(self.file, call, self.module_functions)
        result = target is not None and self.helpers.returns_country(target[0], target[1], passed, self.depth + 1)
        self._call_memo[call.id] = result
        return result

    def _solve(self) -> None:
        declarators = [
            n for n in self.nodes if n.type in ("variable_declarator", "assignment_expression", "required_parameter")
        ]
        for _ in range(4):
            before = (len(self.names), len(self.request_names))
            for node in declarators:
                if node.type == "variable_declarator":
                    target, value = node.child_by_field_name("name"), node.child_by_field_name("value")
                elif node.type == "assignment_expression":
                    target, value = node.child_by_field_name("left"), node.child_by_field_name("right")
                else:
                    target, value = node.child_by_field_name("pattern"), node.child_by_field_name("value")
                if target is None or value is None:
                    continue
                if self._is_request(value) and target.type in ("identifier", "object_pattern"):
                    # `const h = req.headers` / `const { headers } = request`: still the request.
                    self.request_names.update(
                        ts.text(inner)
                        for inner in ts.walk(target)
                        if inner.type in ("identifier", "shorthand_property_identifier_pattern")
                    )
                if not self.carries(value):
                    continue
                for inner in ts.walk(target):
                    if inner.type in ("identifier", "shorthand_property_identifier_pattern"):
                        self.names.add(ts.text(inner))
            self._bind_helper_parameters()
            if len(self.request_names) != before[1]:
                self._call_memo.clear()  # calls judged before a request alias was known may pass the request
            if (len(self.names), len(self.request_names)) == before:
                return

    def _bind_helper_parameters(self) -> None:
        """A local helper called with a country value (`isAllowed(country)`) receives one in that parameter."""
        functions: dict[str, Node] = {}
        for node in self.nodes:
            if node.type == "function_declaration":
                functions[ts.text(node.child_by_field_name("name"))] = node
        if not functions:
            return
        for node in self.nodes:
            if node.type != "call_expression":
                continue
            fn = node.child_by_field_name("function")
            target = functions.get(ts.text(fn)) if fn is not None and fn.type == "identifier" else None
            args = node.child_by_field_name("arguments")
            if target is None or args is None:
                continue
            params = target.child_by_field_name("parameters")
            formal = list(params.named_children) if params is not None else []
            for arg, param in zip(args.named_children, formal, strict=False):
                if self.carries(arg):
                    for inner in ts.walk(param):
                        if inner.type == "identifier":
                            self.names.add(ts.text(inner))
                            break

    def guard_of(self, branch: Node) -> CheckGuard | None:
        return _check_guard(branch, _local_functions(self.nodes))

    def country_branch(self) -> Node | None:
        """The first `if`/ternary/`switch` on a country value with a blocking branch, or None."""
        functions = _local_functions(self.nodes)
        for node in self.nodes:
            kind = node.type
            if kind in ("if_statement", "ternary_expression"):
                condition = node.child_by_field_name("condition")
                branches = [node.child_by_field_name("consequence"), node.child_by_field_name("alternative")]
                if kind == "if_statement" and branches[1] is None:
                    # `if (allowed) return NextResponse.next();` then the refusal: what follows is the else
                    branches.extend(_following_statements(node))
            elif kind == "switch_statement":
                condition = node.child_by_field_name("value")
                branches = [node.child_by_field_name("body")]
            else:
                continue
            if condition is None or not self.carries(condition):
                continue
            if any(branch is not None and _blocks(branch, functions) for branch in branches):
                return node
        return None


def _local_functions(nodes: list[Node]) -> dict[str, Node]:
    """Functions of a module by name (declarations and `const f = () => ...`), for helpers like `block(req)`."""
    out: dict[str, Node] = {}
    for node in nodes:
        if node.type == "function_declaration":
            out[ts.text(node.child_by_field_name("name"))] = node
        elif node.type == "variable_declarator":
            value = node.child_by_field_name("value")
            if value is not None and value.type in ("arrow_function", "function_expression", "function"):
                out[ts.text(node.child_by_field_name("name"))] = value
    return out


def _following_statements(statement: Node) -> list[Node]:
    """The statements after an `if` without `else` in its block, when the `if` branch returns."""
    consequence = statement.child_by_field_name("consequence")
    if consequence is None or not any(n.type == "return_statement" for n in ts.walk(consequence)):
        return []
    out = []
    sibling = statement.next_named_sibling
    while sibling is not None:
        out.append(sibling)
        sibling = sibling.next_named_sibling
    return out


def _is_geo_read(node: Node) -> bool:
    """`request.geo` / `req.geo?.country`: NextRequest's geo object."""
    return node.type == "member_expression" and ts.text(node.child_by_field_name("property")) == "geo"


def _status_of(init: Node | None) -> int | None:
    """`{ status: 451 }` → 451; a non-literal status → a blocking placeholder; no status → None."""
    if init is None or ts.unwrap(init).type != "object":
        return None
    pair = _object_property(ts.unwrap(init), "status")
    value = pair.child_by_field_name("value") if pair is not None else None
    if value is None:
        return None
    literal = ts.text(value)
    return int(literal) if literal.isdigit() else FIRST_BLOCKING_STATUS


def _blocks(branch: Node, functions: dict[str, Node], depth: int = 0) -> bool:
    """The branch answers with a redirect, a rewrite, or a response whose status is 3xx-5xx (also through a
    local helper such as `return refuse(req)`)."""
    for node in ts.walk(branch):
        if node.type == "call_expression":
            fn = node.child_by_field_name("function")
            path = ts.callee_path(fn) if fn is not None else ""
            if path in BLOCKING_CALLEES:
                return True
            if path in STATUS_CALLEES:
                args = node.child_by_field_name("arguments")
                init = args.named_children[1] if args is not None and len(args.named_children) > 1 else None
                status = _status_of(init)
                if status is not None and status >= FIRST_BLOCKING_STATUS:
                    return True
            helper = functions.get(path)
            if (
                helper is not None
                and depth < HELPER_DEPTH
                and helper.id != branch.id
                and _blocks(helper, functions, depth + 1)
            ):
                return True
        elif node.type == "new_expression":
            ctor = ts.text(node.child_by_field_name("constructor"))
            args = node.child_by_field_name("arguments")
            if ctor in STATUS_CONSTRUCTORS and args is not None:
                init = args.named_children[1] if len(args.named_children) > 1 else None
                status = _status_of(init)
                if status is not None and status >= FIRST_BLOCKING_STATUS:
                    return True
    return False


def _reachable_modules(index: ProjectIndex, f: SourceFile) -> Iterator[SourceFile]:
    """The middleware and the project modules it imports (helpers where the check may live)."""
    seen = {f.rel}
    frontier = [f]
    yield f
    for _ in range(IMPORT_DEPTH):
        following: list[SourceFile] = []
        for module in frontier:
            for imp in index.imports_of(module):
                if imp.resolved and imp.resolved not in seen:
                    seen.add(imp.resolved)
                    target = index.get(imp.resolved)
                    if target is not None:
                        following.append(target)
                        yield target
        frontier = following


def country_headers(index: ProjectIndex) -> frozenset[str]:
    extra = (header.lower() for header in index.settings.scan.country_headers)
    return frozenset((*WELL_KNOWN_COUNTRY_HEADERS, *extra))


def _may_check(f: SourceFile, headers: Iterable[str]) -> bool:
    data = f.data()
    lowered = data.lower()
    return any(hint in data for hint in _BYTES_HINTS) or any(h.encode() in lowered for h in headers)


def analyse_middleware(index: ProjectIndex) -> MiddlewareFacts | None:
    """The residency facts of the app's middleware/proxy, or None when the app has none Next.js runs (see
    `locate_middleware`: a root middleware.ts beside src/app is ignored) or it cannot be parsed."""
    f = locate_middleware(index).active
    if f is None or f.root is None:
        return None
    headers = country_headers(index)
    major = index.next_major
    geo_allowed = major is None or major < GEO_REMOVED_IN_NEXT
    helpers = _Helpers(index, headers, geo_allowed)
    checked = False
    removed_geo: Position | None = None
    exits: tuple[EarlyExit, ...] = ()
    guard: CheckGuard | None = None
    for module in _reachable_modules(index, f):
        # The middleware itself is always read: `if (!isAllowedRegion(req))` names no country, its helper does.
        if module.root is None or (module is not f and not _may_check(module, headers)):
            continue
        analysis = _CountryAnalysis(index, module, module.root, headers, geo_allowed, helpers)
        if module is f and analysis.removed_geo is not None:
            removed_geo = position_of(analysis.removed_geo)
        branch = analysis.country_branch()
        if branch is not None:
            checked = True
            exits = _early_exits(branch) if module is f else ()
            guard = analysis.guard_of(branch)
            break
    return MiddlewareFacts(
        rel=f.rel,
        entry=_export_entry(f.root),
        matcher=_read_matcher(f.root),
        country_check=checked,
        removed_geo=removed_geo,
        early_exits=exits,
        guard=guard,
    )


_PASS_THROUGH = frozenset({"NextResponse.next"})


def _lets_through(consequence: Node) -> bool:
    """The branch returns without answering (`return;`, `return NextResponse.next()`)."""
    returns = [n for n in ts.walk(consequence) if n.type == "return_statement"]
    if not returns:
        return False
    for statement in returns:
        value = statement.named_children[0] if statement.named_children else None
        if value is None or ts.text(value) == "undefined":
            continue
        if value.type == "call_expression" and _callee_path_of(value) in _PASS_THROUGH:
            continue
        return False
    return True


def _callee_path_of(call: Node) -> str:
    fn = call.child_by_field_name("function")
    return ts.callee_path(fn) if fn is not None else ""


def _path_test(condition: Node) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """Prefixes and exact paths an `if` condition lets through, when it is a plain (or-ed) pathname test.

    Conditions with `&&` or `!` are not read: they could narrow the test in ways a prefix cannot express.
    """
    prefixes: list[str] = []
    exact: list[str] = []
    for node in ts.walk(condition):
        if node.type == "unary_expression" or (
            node.type == "binary_expression" and ts.text(node.child_by_field_name("operator")) == "&&"
        ):
            return None
        if node.type == "call_expression":
            path = _callee_path_of(node)
            args = node.child_by_field_name("arguments")
            first = args.named_children[0] if args is not None and args.named_children else None
            if path.endswith(".startsWith") and "pathname" in path:
                value = js_string(first)
                if value is not None:
                    prefixes.append(value)
            elif first is not None and "pathname" in ts.text(first):
                fn = ts.unwrap(node.child_by_field_name("function") or node)
                array = fn.child_by_field_name("object") if fn.type == "member_expression" else None
                method = ts.text(fn.child_by_field_name("property")) if fn.type == "member_expression" else ""
                if array is not None and array.type == "array" and method == "includes":
                    exact.extend(v for v in (js_string(item) for item in array.named_children) if v is not None)
        elif node.type == "binary_expression" and ts.text(node.child_by_field_name("operator")) in ("===", "=="):
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if left is not None and right is not None:
                for path_side, literal_side in ((left, right), (right, left)):
                    value = js_string(literal_side)
                    if value is not None and "pathname" in ts.text(path_side):
                        exact.append(value)
    return (tuple(prefixes), tuple(exact)) if prefixes or exact else None


def _early_exits(branch: Node) -> tuple[EarlyExit, ...]:
    """Path tests in the same function body, before the statement holding the country branch, that return early."""
    statement = branch
    while statement.parent is not None and statement.parent.type != "statement_block":
        statement = statement.parent
    block = statement.parent
    if block is None:
        return ()
    out: list[EarlyExit] = []
    for previous in block.named_children:
        if previous.id == statement.id:
            break
        if previous.type != "if_statement" or previous.child_by_field_name("alternative") is not None:
            continue
        condition = previous.child_by_field_name("condition")
        consequence = previous.child_by_field_name("consequence")
        if condition is None or consequence is None or not _lets_through(consequence):
            continue
        test = _path_test(condition)
        where = position_of(previous)
        if test is not None:
            out.append(EarlyExit(where.line, where.column, test[0], test[1]))
            continue
        # Negations and mixed conditions: a request passes when the pathname alone makes the condition true.
        general = path_test(condition)
        if general.known:
            text = " ".join(ts.text(ts.unwrap(condition)).split())
            out.append(EarlyExit(where.line, where.column, (), (), general, text))
    return tuple(out)
