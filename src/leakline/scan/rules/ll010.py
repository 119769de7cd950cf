"""LL010: LLM output rendered as HTML or executed as code without sanitization.

Model output is attacker-influenced text (prompt injection, poisoned documents), so it must never reach an
HTML or script sink unsanitized: `dangerouslySetInnerHTML={{ __html: x }}`, `innerHTML` / `outerHTML`
assignments, `insertAdjacentHTML`, `document.write`, `createContextualFragment`, `eval`, `new Function`,
inline `<Script>` / `<script>` bodies, and `suppressHydrationWarning` on an element that renders LLM data
(it hides exactly the server/client mismatch an injected payload causes). HTML sinks accept LLM data that
passed through DOMPurify, sanitize-html and the like (`FileLlm.is_unsanitized_llm`); script sinks accept no
LLM data at all, because an HTML sanitizer does not make text safe to execute. LLM data also enters a
component through its props when a caller elsewhere in the project passes it (see `PropFlows`), and a Pages
Router page's default export through the props its data functions return (`FileLlm._solve_page_props`).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from tree_sitter import Node

from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.index import SourceFile
from leakline.scan.keywords import Keywords
from leakline.scan.llmdata import FileLlm, Mode, wrapped_declarator
from leakline.scan.rules.base import Hit, Rule
from leakline.scan.rules.ll011 import call_arguments

KEYWORDS = (
    b"dangerouslySetInnerHTML",
    b"suppressHydrationWarning",
    b"innerHTML",
    b"outerHTML",
    b"insertAdjacentHTML",
    b"createContextualFragment",
    b"document.write",
    b"eval",
    b"Function(",
    b"<Script",
    b"<script",
    b"next/script",
)
_KEYWORDS = Keywords(KEYWORDS)
HTML_PROPERTIES = frozenset({"innerHTML", "outerHTML"})
HTML_METHODS = {"insertAdjacentHTML": 1, "createContextualFragment": 0}
"""Method name → index of the argument that is parsed as HTML."""
DOCUMENT_WRITERS = frozenset({"document.write", "document.writeln"})
CODE_CALLEES = frozenset({"eval", "window.eval", "globalThis.eval", "Function"})
NEXT_SCRIPT_MODULE = "next/script"
COMPONENT_FUNCTIONS = ("function_declaration", "arrow_function", "function_expression", "function")
JSX_TAGS = ("jsx_opening_element", "jsx_self_closing_element")
SINK_NODE_TYPES = ("jsx_attribute", "jsx_element", "assignment_expression", "call_expression", "new_expression")
# Next.js file conventions: modules the framework renders itself, never imported by project code.
CONVENTION_STEMS = frozenset(
    {"page", "layout", "template", "route", "loading", "not-found", "error", "global-error", "default"}
)
# Byte-level prefilter for "which modules might import X": the specifiers of import/export-from/import().
SNIPPET_CHARS = 60
DATA_BLOCK_TYPES = frozenset({"application/ld+json", "application/json"})


def _snippet(node: Node) -> str:
    """Source text of an expression, one line, short: expressions, not values, so nothing secret."""
    flat = " ".join(ts.text(node).split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1] + "…"


def _attribute_name(attr: Node) -> str:
    first = attr.named_children[0] if attr.named_children else None
    return ts.text(first) if first is not None else ""


def _attribute_value(attr: Node) -> Node | None:
    """The expression inside `name={...}`, or None for bare or string attributes."""
    if len(attr.named_children) < 2:
        return None
    value = attr.named_children[1]
    if value.type == "jsx_expression" and value.named_children:
        return value.named_children[0]
    return None


def _spread_identifiers(tag: Node) -> Iterator[Node]:
    """The identifiers a JSX tag spreads whole (`<Answer {...props} />`), for `FileLlm.spread_props`."""
    for attr in tag.named_children:
        if attr.type == "jsx_expression" and attr.named_children and attr.named_children[0].type == "spread_element":
            spread = attr.named_children[0]
            obj = ts.unwrap(spread.named_children[0]) if spread.named_children else None
            if obj is not None and obj.type == "identifier":
                yield obj


def _passed_props(tag: Node) -> Iterator[tuple[str, Node]]:
    """(prop, value) pairs a JSX tag passes: `name={value}` attributes, and the members of an object
    spread into it, written inline or bound to a `const` (`<Answer {...props} />`)."""
    for attr in tag.named_children:
        if attr.type == "jsx_attribute":
            value = _attribute_value(attr)
            if value is not None:
                yield _attribute_name(attr), value
        elif attr.type == "jsx_expression" and attr.named_children and attr.named_children[0].type == "spread_element":
            spread = attr.named_children[0]
            obj = ts.unwrap(spread.named_children[0]) if spread.named_children else None
            if obj is not None and obj.type == "identifier":
                bound = ts.declared_value(obj, ts.text(obj))
                obj = ts.unwrap(bound) if bound is not None else None
            if obj is None or obj.type != "object":
                continue
            for member in obj.named_children:
                if member.type == "pair":
                    key = member.child_by_field_name("key")
                    value = member.child_by_field_name("value")
                    if key is not None and value is not None:
                        yield ts.text(key).strip("\"'"), value
                elif member.type == "shorthand_property_identifier":
                    yield ts.text(member), member


def _html_payload(value: Node) -> Node:
    """`{ __html: x }` → x; anything else (a variable holding the object) is judged whole."""
    value = ts.unwrap(value)
    if value.type == "object":
        for member in value.named_children:
            if member.type == "pair" and ts.text(member.child_by_field_name("key")) in ("__html", '"__html"'):
                inner = member.child_by_field_name("value")
                if inner is not None:
                    return inner
    return value


def _element_of(attr: Node) -> tuple[Node, str]:
    """(element node, tag name) of a JSX attribute; the element is the self-closing tag or the jsx_element."""
    opening = attr.parent
    if opening is None:
        return attr, ""
    name = ts.text(opening.child_by_field_name("name"))
    if opening.type == "jsx_opening_element" and opening.parent is not None:
        return opening.parent, name
    return opening, name


def _is_data_block(element: Node) -> bool:
    """A `<script type="application/ld+json">` (or other JSON type): a data block, not executed."""
    opening = element.child_by_field_name("open_tag") if element.type == "jsx_element" else element
    if opening is None:
        return False
    for attr in opening.named_children:
        if attr.type == "jsx_attribute" and _attribute_name(attr) == "type" and len(attr.named_children) > 1:
            literal = ts.string_value(attr.named_children[1])
            return literal is not None and literal.lower().split(";", 1)[0].strip() in DATA_BLOCK_TYPES
    return False


def _escapes_markup(payload: Node) -> bool:
    """`JSON.stringify(x).replace(/</g, "\\u003c")`: the payload cannot contain `</script>`."""
    payload = ts.unwrap(payload)
    if payload.type != "call_expression":
        return False
    fn = payload.child_by_field_name("function")
    args = call_arguments(payload)
    if fn is None or fn.type != "member_expression" or not args:
        return False
    method = ts.text(fn.child_by_field_name("property"))
    return method in ("replace", "replaceAll") and "<" in ts.text(args[0])


def _child_expressions(element: Node) -> Iterator[Node]:
    """Expressions rendered as children of an element (at any depth), not attribute values."""
    if element.type != "jsx_element":
        return
    for node in ts.walk(element):
        parent = node.parent
        is_child = node.type == "jsx_expression" and parent is not None and parent.type == "jsx_element"
        if is_child and node.named_children and node.named_children[0].type != "comment":
            yield node.named_children[0]


def _script_tags(ctx: ScanContext, f: SourceFile) -> frozenset[str]:
    """Local names of next/script's component in this module, plus the intrinsic `script` element."""
    names = {"script"}
    for imp in ctx.index.imports_of(f):
        if imp.source == NEXT_SCRIPT_MODULE and imp.imported == "default":
            names.add(imp.local)
    return frozenset(names)


class Checker:
    """Finds the sinks of one file and asks the LLM-data analysis about what flows into them."""

    def __init__(self, f: SourceFile, llm: FileLlm, script_tags: frozenset[str]) -> None:
        self.file = f
        self.llm = llm
        self.script_tags = script_tags

    def hits(self, root: Node) -> Iterator[Hit]:
        for node in self.file.nodes_in(root, *SINK_NODE_TYPES):
            kind = node.type
            if kind == "jsx_attribute":
                yield from self._attribute(node)
            elif kind == "jsx_element":
                yield from self._script_body(node)
            elif kind == "assignment_expression":
                yield from self._html_property(node)
            elif kind in ("call_expression", "new_expression"):
                yield from self._call(node)

    def _hit(self, at: Node, message: str, evidence: str, key: str) -> Hit:
        line, column = at.start_point
        return Hit(path=self.file.rel, line=line + 1, column=column + 1, message=message, evidence=evidence, key=key)

    def _attribute(self, attr: Node) -> Iterator[Hit]:
        name = _attribute_name(attr)
        if name == "dangerouslySetInnerHTML":
            value = _attribute_value(attr)
            if value is None:
                return
            payload = _html_payload(value)
            element, tag = _element_of(attr)
            if tag in self.script_tags:
                if _is_data_block(element) and _escapes_markup(payload):
                    return  # JSON-LD with `<` escaped: the browser never runs it and it cannot close the tag
                if self.llm.is_llm(payload):
                    yield self._hit(
                        attr,
                        f"LLM data becomes the inline script of <{tag}> (executed in the browser)",
                        f"<{tag} dangerouslySetInnerHTML={{{{ __html: {_snippet(payload)} }}}}>",
                        f"script-html:{_snippet(payload)}",
                    )
            elif self.llm.is_unsanitized_llm(payload):
                yield self._hit(
                    attr,
                    "LLM output is rendered as HTML with dangerouslySetInnerHTML without sanitization",
                    f"dangerouslySetInnerHTML={{{{ __html: {_snippet(payload)} }}}}",
                    f"dangerouslySetInnerHTML:{_snippet(payload)}",
                )
        elif name == "suppressHydrationWarning":
            value = _attribute_value(attr)
            if value is not None and ts.text(value) == "false":
                return
            element, tag = _element_of(attr)
            for expr in _child_expressions(element):
                if self.llm.is_llm(expr):
                    yield self._hit(
                        attr,
                        f"suppressHydrationWarning on <{tag}> hides mismatches of the LLM output it renders",
                        f"<{tag} suppressHydrationWarning>{{{_snippet(expr)}}}",
                        f"suppressHydrationWarning:{tag}",
                    )
                    return

    def _script_body(self, element: Node) -> Iterator[Hit]:
        opening = element.child_by_field_name("open_tag")
        tag = ts.text(opening.child_by_field_name("name")) if opening is not None else ""
        if tag not in self.script_tags:
            return
        for child in element.named_children:
            if child.type == "jsx_expression" and child.named_children and self.llm.is_llm(child.named_children[0]):
                expr = child.named_children[0]
                yield self._hit(
                    child,
                    f"LLM data becomes the body of <{tag}> (executed in the browser)",
                    f"<{tag}>{{{_snippet(expr)}}}</{tag}>",
                    f"script-body:{_snippet(expr)}",
                )

    def _html_property(self, node: Node) -> Iterator[Hit]:
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None or left.type != "member_expression":
            return
        prop = ts.text(left.child_by_field_name("property"))
        if prop in HTML_PROPERTIES and self.llm.is_unsanitized_llm(right):
            yield self._hit(
                node,
                f"LLM output is assigned to {prop} without sanitization",
                f"{_snippet(left)} = {_snippet(right)}",
                f"{prop}:{_snippet(right)}",
            )

    def _call(self, node: Node) -> Iterator[Hit]:
        if node.type == "new_expression":
            callee = ts.callee_path(node.child_by_field_name("constructor") or node)
        else:
            callee = ts.callee_path(node.child_by_field_name("function") or node)
        if not callee:
            return
        args = call_arguments(node)
        method = callee.rsplit(".", 1)[-1]
        if node.type == "call_expression" and method in HTML_METHODS and "." in callee:
            position = HTML_METHODS[method]
            if len(args) > position and self.llm.is_unsanitized_llm(args[position]):
                yield self._hit(
                    node,
                    f"LLM output is parsed as HTML by {method} without sanitization",
                    f"{callee}(…{_snippet(args[position])})",
                    f"{method}:{_snippet(args[position])}",
                )
        elif node.type == "call_expression" and callee in DOCUMENT_WRITERS:
            if any(self.llm.is_unsanitized_llm(a) for a in args):
                yield self._hit(node, f"LLM output is written into the page by {callee}", f"{callee}(…)", callee)
        elif callee in CODE_CALLEES and any(self.llm.is_llm(a) for a in args):
            what = "new Function" if node.type == "new_expression" or callee == "Function" else "eval"
            yield self._hit(
                node,
                f"LLM data is executed as code by {what}",
                f"{what}(…{_snippet(args[-1])})",
                f"{what}:{_snippet(args[-1])}",
            )


def _import_token(rel: str) -> str:
    """The last segment an import specifier of this module ends with (`components/answer/index.tsx` → answer)."""
    parts = rel.split("/")
    stem = parts[-1].split(".", 1)[0]
    return parts[-2] if stem == "index" and len(parts) > 1 else stem


def _components(f: SourceFile) -> dict[str, list[Node]]:
    """Function components of a module by name (capitalised functions that take props)."""
    out: dict[str, list[Node]] = {}
    for node in f.nodes(*COMPONENT_FUNCTIONS):
        name_node = node.child_by_field_name("name")
        declarator = node.parent
        if declarator is not None and declarator.type == "arguments":
            declarator = wrapped_declarator(node)  # `const Answer = memo((props) => ...)`
        if name_node is None and declarator is not None and declarator.type == "variable_declarator":
            name_node = declarator.child_by_field_name("name")
        name = ts.text(name_node)
        params = node.child_by_field_name("parameters")
        if name[:1].isupper() and (params is None or params.named_children):
            out.setdefault(name, []).append(node)
    return out


class PropFlows:
    """Seeds component props with LLM data when a caller in the project passes LLM data to them.

    `<Answer html={answer} />` in a server page whose `answer` came from the model makes `html` LLM data
    inside `Answer`, in the same module or across imports (tsconfig paths included). Callers are found
    through an index of import specifiers' last segments (a byte-level prefilter; every candidate is
    then confirmed with the tree-sitter import graph). Callers are seeded first, so props flow through
    several layers of components.
    """

    def __init__(self, ctx: ScanContext) -> None:
        self.ctx = ctx
        self._done: set[str] = set()
        self._in_progress: set[str] = set()

    def importers_by_token(self) -> dict[str, list[SourceFile]]:
        # Kept by the index, which has every file's specifiers from the prefilter (read before scan workers
        # fork) and serves every PropFlows of the scan.
        return self.ctx.index.importers_by_spec_tail

    def prepare(self, f: SourceFile) -> None:
        if f.rel in self._done or f.rel in self._in_progress:
            return
        self._in_progress.add(f.rel)
        try:
            self._seed(f)
        finally:
            self._in_progress.discard(f.rel)
            self._done.add(f.rel)

    def _seed(self, f: SourceFile) -> None:
        root = f.root
        language = f.language
        llm = self.ctx.llm.file(f)
        if root is None or language is None or llm is None:
            return
        local = _components(f)
        if not local:
            return
        callers: list[tuple[SourceFile, dict[str, list[Node]]]] = []
        convention = f.stem in CONVENTION_STEMS and self.ctx.index.router_of(f) is not None
        importers = [] if convention else self.importers_by_token().get(_import_token(f.rel), [])
        for caller in importers:
            if caller.rel == f.rel:
                continue
            names: dict[str, list[Node]] = {}
            for imp in self.ctx.index.imports_of(caller):
                if imp.resolved != f.rel:
                    continue
                if imp.imported == "*":
                    for name in local:
                        names[f"{imp.local}.{name}"] = llm.exported_functions(frozenset({name}))
                else:
                    names[imp.local] = llm.exported_functions(frozenset({imp.imported}))
            if names:
                callers.append((caller, names))
        plain: dict[int, tuple[Node, set[str]]] = {}
        html: dict[int, tuple[Node, set[str]]] = {}
        for caller, names in callers:
            self.prepare(caller)
            self._collect(caller, names, plain, html)
        # The module's own JSX last: a component of it that spreads its props on (`<Answer {...props} />`) passes
        # what the other modules' callers seeded into it.
        self._seed_props(llm, plain, html)
        plain, html = {}, {}
        self._collect(f, local, plain, html)
        self._seed_props(llm, plain, html)

    @staticmethod
    def _seed_props(
        llm: FileLlm, plain: dict[int, tuple[Node, set[str]]], html: dict[int, tuple[Node, set[str]]]
    ) -> None:
        for fn, props in plain.values():
            llm.seed_props(fn, frozenset(props), Mode.PLAIN)
        for fn, props in html.values():
            llm.seed_props(fn, frozenset(props), Mode.HTML)

    def _collect(
        self,
        caller: SourceFile,
        names: dict[str, list[Node]],
        plain: dict[int, tuple[Node, set[str]]],
        html: dict[int, tuple[Node, set[str]]],
    ) -> None:
        root = caller.root
        language = caller.language
        caller_llm = self.ctx.llm.file(caller)
        if root is None or language is None or caller_llm is None:
            return
        for node in caller.nodes(*JSX_TAGS):
            fns = names.get(ts.text(node.child_by_field_name("name")))
            if not fns:
                continue
            for prop, value in _passed_props(node):
                for target, is_tainted in ((plain, caller_llm.is_llm), (html, caller_llm.is_unsanitized_llm)):
                    if is_tainted(value):
                        for fn in fns:
                            target.setdefault(fn.id, (fn, set()))[1].add(prop)
            for spread in _spread_identifiers(node):
                for target, mode in ((plain, Mode.PLAIN), (html, Mode.HTML)):
                    passed = caller_llm.spread_props(spread, mode)
                    for fn in fns if passed else ():
                        target.setdefault(fn.id, (fn, set()))[1].update(passed)


class LlmOutputRenderedUnsafely(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        flows = PropFlows(ctx)
        for f in ctx.targets:
            data = f.data()
            if not _KEYWORDS.in_bytes(data) or f.root is None:
                continue
            flows.prepare(f)
            llm = ctx.llm.file(f)
            language = f.language
            if llm is None or language is None:
                continue
            yield from Checker(f, llm, _script_tags(ctx, f)).hits(f.root)


RULE_CLASS = LlmOutputRenderedUnsafely
