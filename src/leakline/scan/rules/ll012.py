"""LL012: error details (message, stack, the error object) sent to clients.

An exception's message and stack describe the server: file paths, SQL, upstream URLs, and in LLM apps the
system prompt or the model endpoint quoted back by a provider error. Next.js replaces server errors with a
generic message and a `digest` in production for exactly this reason; code that copies `error.message`
into a response undoes it. Reported: in `error.tsx` / `global-error.tsx`, JSX that renders the `error`
prop's message, stack or the object itself; in any module, error details (of a `catch` parameter, a
`.catch()` callback, or an `{ error }` destructured from an awaited result) that reach a response body
(`NextResponse.json`, `Response.json`, `new Response`, `res.json/send/write/end`), the return value of a
server action or of `getServerSideProps`, or the AI SDK's `getErrorMessage` / stream `onError`, which
become the text the client sees. `error.digest`, error names and codes, and generic messages are fine.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from tree_sitter import Language, Node

from leakline.scan import parse as ts
from leakline.scan.chains import ChainCache
from leakline.scan.context import ScanContext
from leakline.scan.index import SourceFile
from leakline.scan.keywords import Keywords
from leakline.scan.llmdata import FUNCTION_TYPES, parameters, pattern_names
from leakline.scan.rules.base import Hit, Rule
from leakline.scan.rules.ll011 import call_arguments

# Byte prefilter: a finding needs an error binding (or an AI SDK error option) and a way to the client.
BINDING_KEYWORDS = (b"catch", b"error", b"getErrorMessage", b"onError")
# `res.json(...)` alone is also how fetch responses are read, so Pages API sinks are recognised by
# `res.status(` / `res.send(` / the `NextApiResponse` type, or by the file being an API route.
SINK_KEYWORDS = (
    b"Response",
    b"use server",
    b"getServerSideProps",
    b"getErrorMessage",
    b"onError",
    b"res.status(",
    b"res.send(",
)
_SINK_KEYWORD_SET = Keywords(SINK_KEYWORDS)
# Properties of an error that identify it without describing the server.
SAFE_PROPS = frozenset({"digest", "name", "code", "status", "statusCode", "length", "issues", "errors", "type"})
# Calls whose result carries the text of their receiver (methods) or first argument (functions).
CARRYING_METHODS = frozenset(
    {
        "toString",
        "trim",
        "slice",
        "substring",
        "split",
        "join",
        "replace",
        "replaceAll",
        "toLowerCase",
        "toUpperCase",
        "map",
        "flatMap",
        "filter",
        "at",
        "find",
    }
)
CARRYING_FUNCTIONS = frozenset(
    {"String", "JSON.stringify", "encodeURIComponent", "inspect", "util.inspect", "serializeError", "Object.assign"}
)
RESPONSE_BODY_CALLS = frozenset({"NextResponse.json", "Response.json"})
RESPONSE_CONSTRUCTORS = frozenset({"Response", "NextResponse"})
RES_SENDERS = (".json", ".send", ".write", ".end")
# AI SDK options whose function's return value is streamed to the client as the error text.
CLIENT_ERROR_TEXT_KEYS = frozenset({"getErrorMessage"})
CLIENT_STREAM_CALLS = frozenset(
    {
        "toUIMessageStreamResponse",
        "toUIMessageStream",
        "createUIMessageStream",
        "createUIMessageStreamResponse",
        "createDataStream",
        "createDataStreamResponse",
        "pipeUIMessageStreamToResponse",
        "pipeDataStreamToResponse",
    }
)
ERROR_RESULT_NAMES = frozenset({"error", "err"})
GSSP = "getServerSideProps"
JSX_TYPES = frozenset({"jsx_element", "jsx_self_closing_element", "jsx_fragment"})
_MAX_ROUNDS = 4
MAX_NESTING = 150
ASSIGNMENT_TYPES = ("variable_declarator", "assignment_expression")
SINK_TYPES = ("call_expression", "new_expression", "return_statement")
# Climbing from a keyword's token to the construct it belongs to takes at most this many parents.
_CLIMB = 4


Helpers = Callable[[Node], frozenset[int]]
"""Given a call, the indexes of the arguments whose error details the called project function returns."""


def carrier(node: Node, names: frozenset[str], depth: int = 0, helpers: Helpers | None = None) -> Node | None:
    """The sub-expression of `node` that carries error details (of the error bound to `names`), or None.

    `helpers` resolves calls of project functions (`describe(err)` returning `err.message`)."""
    if depth > MAX_NESTING:
        return None  # generated code nested deeper than anything hand-written; not worth a RecursionError
    node = ts.unwrap(node)
    kind = node.type
    if kind in ("identifier", "shorthand_property_identifier"):
        return node if ts.text(node) in names else None
    if kind == "member_expression":
        if ts.callee_path(node) in names:
            return node
        if ts.text(node.child_by_field_name("property")) in SAFE_PROPS:
            return None
        obj = node.child_by_field_name("object")
        return node if obj is not None and carrier(obj, names, depth + 1, helpers) is not None else None
    if kind == "call_expression":
        fn = node.child_by_field_name("function")
        call_args = call_arguments(node)
        first = call_args[0] if call_args else None
        if fn is None:
            return None
        fn = ts.unwrap(fn)
        if fn.type == "member_expression" and ts.text(fn.child_by_field_name("property")) in CARRYING_METHODS:
            obj = fn.child_by_field_name("object")
            return node if obj is not None and carrier(obj, names, depth + 1, helpers) is not None else None
        if ts.callee_path(fn) in CARRYING_FUNCTIONS and first is not None:
            return node if carrier(first, names, depth + 1, helpers) is not None else None
        if helpers is not None:
            for i in sorted(helpers(node)):
                if i < len(call_args) and carrier(call_args[i], names, depth + 1, helpers) is not None:
                    return node
        return None
    if kind == "template_string":
        for sub in node.named_children:
            if sub.type == "template_substitution" and sub.named_children:
                found = carrier(sub.named_children[0], names, depth + 1, helpers)
                if found is not None:
                    return found
        return None
    if kind == "binary_expression":
        op = ts.text(node.child_by_field_name("operator"))
        sides = {"+": ("left", "right"), "||": ("left", "right"), "??": ("left", "right"), "&&": ("right",)}
        for side in sides.get(op, ()):
            child = node.child_by_field_name(side)
            found = carrier(child, names, depth + 1, helpers) if child is not None else None
            if found is not None:
                return found
        return None
    if kind == "ternary_expression":
        for side in ("consequence", "alternative"):
            child = node.child_by_field_name(side)
            found = carrier(child, names, depth + 1, helpers) if child is not None else None
            if found is not None:
                return found
        return None
    if kind in ("object", "array"):
        for member in node.named_children:
            if member.type == "pair":
                target = member.child_by_field_name("value")
            elif member.type == "spread_element" and member.named_children:
                target = member.named_children[0]
            else:
                target = member
            found = carrier(target, names, depth + 1, helpers) if target is not None else None
            if found is not None:
                return found
        return None
    if kind in ("jsx_expression", "spread_element") and node.named_children:
        return carrier(node.named_children[0], names, depth + 1, helpers)
    if kind in JSX_TYPES:
        for inner in ts.walk(node):
            if inner.type == "jsx_expression" and inner.named_children and not _is_key_attribute(inner):
                found = carrier(inner.named_children[0], names, depth + 1, helpers)
                if found is not None:
                    return found
    return None


def _is_key_attribute(expr: Node) -> bool:
    parent = expr.parent
    return (
        parent is not None
        and parent.type == "jsx_attribute"
        and bool(parent.named_children)
        and ts.text(parent.named_children[0]) == "key"
    )


def _derive(f: SourceFile, scope: Node, names: set[str], helpers: Helpers | None = None) -> frozenset[str]:
    """Add the variables assigned from error details inside `scope` (`const msg = e.message`), to a fixpoint."""
    assignments = f.nodes_in(scope, *ASSIGNMENT_TYPES)
    for _ in range(_MAX_ROUNDS):
        before = len(names)
        frozen = frozenset(names)
        for node in assignments:
            if node.type == "variable_declarator":
                target = node.child_by_field_name("name")
                value = node.child_by_field_name("value")
            else:
                target = node.child_by_field_name("left")
                value = node.child_by_field_name("right")
            if target is None or value is None or carrier(value, frozen, helpers=helpers) is None:
                continue
            if target.type == "member_expression":
                names.add(ts.callee_path(target))
            else:
                names.update(pattern_names(target))
        if len(names) == before:
            break
    return frozenset(names)


def _anchored(root: Node, data: bytes, keyword: bytes, wanted: Callable[[Node], bool]) -> list[Node]:
    """Nodes satisfying `wanted` that contain an occurrence of `keyword`, climbing at most `_CLIMB` parents."""
    found: dict[int, Node] = {}
    start = 0
    while (pos := data.find(keyword, start)) >= 0:
        start = pos + len(keyword)
        node = root.named_descendant_for_byte_range(pos, pos + len(keyword))
        for _ in range(_CLIMB):
            if node is None:
                break
            if wanted(node):
                found[node.id] = node
                break
            node = node.parent
    return sorted(found.values(), key=lambda n: n.start_byte)


def _is_catch_clause(node: Node) -> bool:
    return node.type == "catch_clause"


def _is_promise_handler(node: Node) -> bool:
    if node.type != "call_expression":
        return False
    fn = node.child_by_field_name("function")
    return (
        fn is not None
        and fn.type == "member_expression"
        and ts.text(fn.child_by_field_name("property"))
        in (
            "catch",
            "then",
        )
    )


def _is_error_result(node: Node) -> bool:
    if node.type != "variable_declarator":
        return False
    pattern = node.child_by_field_name("name")
    value = node.child_by_field_name("value")
    while value is not None and value.type == "parenthesized_expression" and value.named_children:
        value = value.named_children[0]
    return (
        pattern is not None
        and pattern.type == "object_pattern"
        and value is not None
        and value.type == "await_expression"
    )


def _is_error_option(node: Node) -> bool:
    return node.type == "pair" and ts.text(node.child_by_field_name("key")) in ("getErrorMessage", "onError")


def _has_use_server(fn: Node) -> bool:
    body = fn.child_by_field_name("body")
    if body is None or body.type != "statement_block":
        return False
    for child in body.named_children:
        if child.type == "expression_statement" and child.named_children:
            if ts.string_value(child.named_children[0]) == "use server":
                return True
            continue
        return False
    return False


def _enclosing_function(node: Node) -> Node | None:
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            return current
        current = current.parent
    return None


def _function_name(fn: Node) -> str:
    name = fn.child_by_field_name("name")
    if name is None and fn.parent is not None and fn.parent.type == "variable_declarator":
        name = fn.parent.child_by_field_name("name")
    return ts.text(name)


def _returned_error_params(f: SourceFile, fn: Node, helpers: Helpers | None = None) -> frozenset[int]:
    """Parameters of `fn` whose error details its return value carries (`describe(e) { return e.message }`);
    `helpers` resolves the project functions `fn` itself passes them through."""
    body = fn.child_by_field_name("body")
    if body is None:
        return frozenset()
    if body.type != "statement_block":
        returns = [body]
    else:
        returns = [
            node.named_children[0]
            for node in f.nodes_in(body, "return_statement")
            if node.named_children and _enclosing_function(node) == fn
        ]
    out = set()
    for i, param in enumerate(parameters(fn)):
        names = set(pattern_names(param))
        if not names:
            continue
        derived = _derive(f, fn, names, helpers)
        if any(carrier(value, derived, helpers=helpers) is not None for value in returns):
            out.add(i)
    return frozenset(out)


MAX_HELPER_DEPTH = 4
"""How many project functions deep error details are followed (`describe(e)` → `messageOf(e)` → `e.message`)."""


class _ErrorHelpers:
    """Which arguments' error details a call of a project function returns, through the functions that one
    passes them on to (up to `MAX_HELPER_DEPTH` deep; recursion is cut). Shared by every module of a scan."""

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        self._chain: ChainCache[frozenset[int]] = ChainCache(MAX_HELPER_DEPTH, frozenset())

    def carried_args(self, f: SourceFile, call: Node, depth: int = 0) -> frozenset[int]:
        fn = call.child_by_field_name("function")
        if fn is None or ts.unwrap(fn).type not in ("identifier", "member_expression"):
            return frozenset()
        llm = self.ctx.llm.file(f)
        if llm is None:
            return frozenset()
        out: set[int] = set()
        for target, function in llm.callee_functions(call):
            out |= self.returned_params(target, function, depth)
        return frozenset(out)

    def returned_params(self, f: SourceFile, fn: Node, depth: int) -> frozenset[int]:
        return self._chain.get(
            (f.rel, fn.id),
            depth,
            lambda: _returned_error_params(f, fn, lambda call: self.carried_args(f, call, depth + 1)),
        )


class _File:
    """The error scopes and sinks of one module."""

    def __init__(self, ctx: ScanContext, f: SourceFile, root: Node, language: Language, helpers: _ErrorHelpers) -> None:
        self.ctx = ctx
        self.helpers = helpers
        self.file = f
        self.root = root
        self.language = language
        self._query_hits: dict[str, list[Node]] | None = None
        self.server_module = ctx.index.is_server_action_module(f)
        self.page = ctx.index.is_page(f)
        self.exported = self._exported_names()
        self._carried: dict[int, frozenset[int]] = {}

    def carried_args(self, call: Node) -> frozenset[int]:
        """Arguments of `call` whose error details the called project function returns."""
        cached = self._carried.get(call.id)
        if cached is None:
            cached = self._carried[call.id] = self.helpers.carried_args(self.file, call)
        return cached

    def _exported_names(self) -> set[str]:
        out: set[str] = set()
        for node in self.root.named_children:
            if node.type != "export_statement":
                continue
            decl = node.child_by_field_name("declaration")
            if decl is None:
                continue
            if decl.type in FUNCTION_TYPES:
                out.add(ts.text(decl.child_by_field_name("name")))
            elif decl.type in ("lexical_declaration", "variable_declaration"):
                out.update(ts.text(d.child_by_field_name("name")) for d in decl.named_children)
        return out

    def hit(self, at: Node, message: str) -> Hit:
        line, column = at.start_point
        snippet = " ".join(ts.text(at).split())[:60]
        return Hit(
            path=self.file.rel,
            line=line + 1,
            column=column + 1,
            message=message,
            evidence=snippet,
            key=f"error-detail:{snippet}",
        )

    # ---- where error objects are bound ---------------------------------------------------------

    def _captures(self) -> dict[str, list[Node]]:
        """Catch clauses, `.catch`/`.then` calls, `{ error } = await` and AI SDK error options.

        Found from the byte offsets of their keywords (the tree was parsed from these bytes) by climbing
        a few parents: much cheaper than a query or a walk over the whole tree, which costs as much as
        parsing it again.
        """
        if self._query_hits is None:
            data = self.file.data()
            self._query_hits = {
                "catch": _anchored(self.root, data, b"catch", _is_catch_clause),
                "promise": _anchored(self.root, data, b"catch", _is_promise_handler)
                + _anchored(self.root, data, b"then", _is_promise_handler),
                "result": _anchored(self.root, data, b"error", _is_error_result),
                "option": _anchored(self.root, data, b"getErrorMessage", _is_error_option)
                + _anchored(self.root, data, b"onError", _is_error_option),
            }
        return self._query_hits

    def error_scopes(self) -> Iterator[tuple[Node, frozenset[str]]]:
        """(scope, names bound to an error in it) for catch clauses, `.catch` callbacks, `{ error }` results."""
        captures = self._captures()
        for node in captures.get("catch", []):
            param = node.child_by_field_name("parameter")
            body = node.child_by_field_name("body")
            if param is not None and body is not None:
                yield body, _derive(self.file, body, set(pattern_names(param)), self.carried_args)
        for node in captures.get("promise", []):
            fn = node.child_by_field_name("function")
            args = call_arguments(node)
            method = ts.text(fn.child_by_field_name("property")) if fn is not None else ""
            position = {"catch": 0, "then": 1}.get(method)
            if position is None or len(args) <= position:
                continue
            callback = args[position]
            if callback.type in FUNCTION_TYPES:
                names = {name for p in parameters(callback)[:1] for name in pattern_names(p)}
                yield callback, _derive(self.file, callback, names, self.carried_args)
        for node in captures.get("result", []):
            # `{ error }` of an awaited call: a Supabase / fetch-wrapper style result
            pattern = node.child_by_field_name("name")
            if pattern is None:
                continue
            names = set()
            for child in pattern.named_children:
                if child.type == "shorthand_property_identifier_pattern" and ts.text(child) in ERROR_RESULT_NAMES:
                    names.add(ts.text(child))
                elif child.type == "pair_pattern" and ts.text(child.child_by_field_name("key")) == "error":
                    target = child.child_by_field_name("value")
                    if target is not None and target.type == "identifier":
                        names.add(ts.text(target))
            scope = _enclosing_function(node)
            if names and scope is not None:
                yield scope, _derive(self.file, scope, names, self.carried_args)

    # ---- where details reach the client --------------------------------------------------------

    def _returns_to_client(self, ret: Node) -> bool:
        fn = _enclosing_function(ret)
        if fn is None:
            return False
        name = _function_name(fn)
        if name == GSSP:
            return True
        if self.page and ts.unwrap(ret.named_children[0]).type in JSX_TYPES:
            return True  # a server component rendering the error into its HTML
        if _has_use_server(fn):
            return True
        return self.server_module and name in self.exported

    def sinks(self, scope: Node, names: frozenset[str]) -> Iterator[Hit]:
        for node in self.file.nodes_in(scope, *SINK_TYPES):
            found: Node | None = None
            if node.type == "call_expression":
                fn = node.child_by_field_name("function")
                args = call_arguments(node)
                if fn is None or not args:
                    continue
                path = ts.callee_path(fn)
                if path in RESPONSE_BODY_CALLS:
                    found = carrier(args[0], names, helpers=self.carried_args)
                elif path.startswith("res") and path.endswith(RES_SENDERS):
                    carried = (carrier(a, names, helpers=self.carried_args) for a in args)
                    found = next((c for c in carried if c is not None), None)
            elif node.type == "new_expression":
                ctor = ts.callee_path(node.child_by_field_name("constructor") or node)
                args = call_arguments(node)
                if ctor in RESPONSE_CONSTRUCTORS and args:
                    found = carrier(args[0], names, helpers=self.carried_args)
            elif node.type == "return_statement" and node.named_children and self._returns_to_client(node):
                found = carrier(node.named_children[0], names, helpers=self.carried_args)
            if found is not None:
                yield self.hit(found, "error details are sent to the client")

    def client_error_text(self) -> Iterator[Hit]:
        """AI SDK `getErrorMessage` / UI stream `onError`: their return value is the client's error text."""
        for node in self._captures().get("option", []):
            key = ts.text(node.child_by_field_name("key"))
            value = node.child_by_field_name("value")
            if value is None or value.type not in FUNCTION_TYPES:
                continue
            if key not in CLIENT_ERROR_TEXT_KEYS and not (key == "onError" and self._in_client_stream_call(node)):
                continue
            params = parameters(value)
            first = {name for p in params[:1] for name in pattern_names(p)}
            names = _derive(self.file, value, first, self.carried_args)
            body = value.child_by_field_name("body")
            if body is None:
                continue
            returns = [body] if body.type != "statement_block" else self._own_returns(value, body)
            for expr in returns:
                found = carrier(expr, names, helpers=self.carried_args)
                if found is not None:
                    yield self.hit(found, f"error details become the client's error text via {key}")

    @staticmethod
    def _own_returns(fn: Node, body: Node) -> list[Node]:
        return [
            node.named_children[0]
            for node in ts.walk(body)
            if node.type == "return_statement" and node.named_children and _enclosing_function(node) == fn
        ]

    @staticmethod
    def _in_client_stream_call(pair: Node) -> bool:
        obj = pair.parent
        args = obj.parent if obj is not None else None
        call = args.parent if args is not None else None
        if call is None or call.type != "call_expression":
            return False
        path = ts.callee_path(call.child_by_field_name("function") or call)
        return path.rsplit(".", 1)[-1] in CLIENT_STREAM_CALLS

    # ---- error.tsx / global-error.tsx ----------------------------------------------------------

    def boundary(self) -> Iterator[Hit]:
        for node in self.file.nodes_in(self.root, *sorted(FUNCTION_TYPES)):
            params = parameters(node)
            if not params:
                continue
            names = self._error_prop_names(params[0])
            if not names:
                continue
            names = _derive(self.file, node, set(names), self.carried_args)
            for expr in ts.nodes_of_types(self.language, ("jsx_expression",), node):
                if not expr.named_children:
                    continue
                if _is_key_attribute(expr):
                    continue
                found = carrier(expr.named_children[0], names, helpers=self.carried_args)
                if found is not None:
                    yield self.hit(found, "the error boundary renders error details to the visitor")

    @staticmethod
    def _error_prop_names(param: Node) -> frozenset[str]:
        if param.type in ("required_parameter", "optional_parameter"):
            param = param.child_by_field_name("pattern") or param
        if param.type == "identifier":
            return frozenset({f"{ts.text(param)}.error"})
        out: set[str] = set()
        if param.type == "object_pattern":
            for child in param.named_children:
                if child.type == "shorthand_property_identifier_pattern" and ts.text(child) == "error":
                    out.add("error")
                elif child.type == "pair_pattern" and ts.text(child.child_by_field_name("key")) == "error":
                    value = child.child_by_field_name("value")
                    if value is not None:
                        out.update(pattern_names(value))
        return frozenset(out)


class ErrorDetailsExposed(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        helpers = _ErrorHelpers(ctx)
        for f in ctx.targets:
            boundary = ctx.index.is_error_boundary(f)
            data = f.data()
            if boundary:
                if b"error" not in data:
                    continue
            elif not any(k in data for k in BINDING_KEYWORDS) or not (
                _SINK_KEYWORD_SET.in_bytes(data) or ctx.index.is_page(f) or ctx.index.is_api_route(f)
            ):
                continue
            root = f.root
            language = f.language
            if root is None or language is None:
                continue
            module = _File(ctx, f, root, language, helpers)
            if boundary:
                yield from module.boundary()
            for scope, names in module.error_scopes():
                yield from module.sinks(scope, names)
            yield from module.client_error_text()


RULE_CLASS = ErrorDetailsExposed
