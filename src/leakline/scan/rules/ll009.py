"""LL009: LLM output cached with no purge path.

Cached model output outlives the moment it was produced: when it turns out to contain someone's data,
a wrong price or a leaked system prompt, the team must be able to purge it (`revalidateTag`,
`revalidatePath`, a revalidation interval). Reported at the cache site:
- `getStaticProps` that calls an LLM and returns no `revalidate`;
- `unstable_cache(fn, keys, options)` around an LLM call with `revalidate: false` or without `tags`;
- a `'use cache'` function or module that calls an LLM without `cacheTag(...)`;
- `fetch` to an LLM with `cache: 'force-cache'`, or `next: { revalidate }` without `next.tags`;
- segment config `revalidate = false` / `dynamic = 'force-static'` in an LLM route or page;
- `.next/prerender-manifest.json` routes with `initialRevalidateSeconds: false` whose source calls an LLM.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator

from tree_sitter import Node

from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.index import SourceFile, url_path_of
from leakline.scan.keywords import Keywords
from leakline.scan.llmdata import FUNCTION_TYPES, FileLlm, wrapped_declarator
from leakline.scan.rules.base import Hit, Rule

PRERENDER_MANIFEST = ".next/prerender-manifest.json"
_KEYWORDS = (b"getStaticProps", b"unstable_cache", b"use cache", b"force-cache", b"revalidate", b"force-static")
_KEYWORD_SET = Keywords(_KEYWORDS)


def _object_pairs(node: Node | None) -> dict[str, Node]:
    if node is None:
        return {}
    node = ts.unwrap(node)
    if node.type != "object":
        return {}
    out: dict[str, Node] = {}
    for member in node.named_children:
        if member.type == "pair":
            key = ts.text(member.child_by_field_name("key")).strip("\"'")
            value = member.child_by_field_name("value")
            if value is not None:
                out[key] = value
        elif member.type == "shorthand_property_identifier":
            out[ts.text(member)] = member
    return out


def _hit(f: SourceFile, node: Node, message: str, key: str) -> Hit:
    line, column = node.start_point
    return Hit(path=f.rel, line=line + 1, column=column + 1, message=message, key=key)


def _body_directive(fn: Node) -> Node | None:
    body = fn.child_by_field_name("body")
    if body is None or body.type != "statement_block":
        return None
    for child in body.named_children:
        if child.type == "comment":
            continue
        if child.type == "expression_statement" and child.named_children:
            value = ts.string_value(child.named_children[0])
            if value is None:
                break
            # 'use cache: private' and 'use cache: remote' are cache directives too.
            if value == "use cache" or value.startswith("use cache:"):
                return child
            continue
        break
    return None


_EXPRESSION_WRAPPERS = frozenset({"parenthesized_expression", "as_expression", "satisfies_expression"})


def _declared_name(fn: Node) -> str:
    """The name a function is declared or bound under: `function getStaticProps() {}`, and the arrow and
    function expressions Next accepts as well: `export const getStaticProps: GetStaticProps = async (ctx) =>
    {…}`, `(async () => {…}) satisfies GetStaticProps`, `withI18n(async (ctx) => {…})`."""
    name = fn.child_by_field_name("name")
    if name is not None:
        return ts.text(name)
    parent = fn.parent
    while parent is not None and parent.type in _EXPRESSION_WRAPPERS:
        parent = parent.parent
    if parent is not None and parent.type == "arguments":
        parent = wrapped_declarator(fn)
    if parent is None or parent.type != "variable_declarator":
        return ""
    return ts.text(parent.child_by_field_name("name"))


def _calls(node: Node, name: str) -> bool:
    return any(
        n.type == "call_expression" and ts.callee_path(n.child_by_field_name("function") or n) == name
        for n in ts.walk(node)
    )


class LlmOutputCachedWithoutPurge(Rule):
    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        for f in ctx.index.sources:
            data = f.data()
            if not _KEYWORD_SET.in_bytes(data) or f.root is None:
                continue
            llm = ctx.llm.file(f)
            if llm is None:
                continue
            yield from self._check_file(ctx, f, llm)
        yield from self._check_prerender_manifest(ctx)

    def _check_file(self, ctx: ScanContext, f: SourceFile, llm: FileLlm) -> Iterator[Hit]:
        root = f.root
        if root is None:
            return
        module_calls_llm = llm.calls_llm
        has_gsp = b"getStaticProps" in f.data()  # most files: no function's name looked up
        for node in ts.walk(root):
            kind = node.type
            if kind in FUNCTION_TYPES:
                if (
                    has_gsp
                    and _declared_name(node) == "getStaticProps"
                    and llm.function_calls_llm(node)
                    and not self._returns_revalidate(node)
                ):
                    yield _hit(
                        f,
                        node,
                        "getStaticProps calls an LLM and returns no `revalidate`: cached until the next deploy",
                        "getStaticProps",
                    )
                directive = _body_directive(node)
                if directive is not None and llm.function_calls_llm(node) and not _calls(node, "cacheTag"):
                    yield _hit(
                        f,
                        directive,
                        "'use cache' around an LLM call without cacheTag(): no way to purge it",
                        "use cache",
                    )
            elif kind == "call_expression":
                callee = ts.callee_path(node.child_by_field_name("function") or node)
                args = node.child_by_field_name("arguments")
                arg_list = list(args.named_children) if args is not None else []
                if callee == "unstable_cache" and arg_list:
                    yield from self._check_unstable_cache(f, llm, node, arg_list)
                elif llm.is_direct_llm_call(node) and callee in ("fetch", "$fetch", "ofetch") and len(arg_list) > 1:
                    yield from self._check_fetch(f, node, arg_list[1])
            elif kind == "expression_statement" and node.parent is not None and node.parent.type == "program":
                value = ts.string_value(node.named_children[0]) if node.named_children else None
                if value == "use cache" and module_calls_llm and not _calls(root, "cacheTag"):
                    yield _hit(
                        f, node, "'use cache' module calls an LLM without cacheTag(): no way to purge it", "use cache"
                    )
            elif (
                kind == "export_statement"
                and module_calls_llm
                and (ctx.index.is_page(f) or ctx.index.is_route_handler(f))
            ):
                yield from self._check_segment_config(f, node)

    @staticmethod
    def _returns_revalidate(fn: Node) -> bool:
        for node in ts.walk(fn):
            if node.type == "return_statement" and node.named_children:
                pairs = _object_pairs(node.named_children[0])
                if "revalidate" in pairs and ts.text(pairs["revalidate"]) != "false":
                    return True
        return False

    def _check_unstable_cache(self, f: SourceFile, llm: FileLlm, call: Node, args: list[Node]) -> Iterator[Hit]:
        wrapped = ts.unwrap(args[0])
        if wrapped.type in FUNCTION_TYPES:
            calls_llm = llm.function_calls_llm(wrapped)
        else:
            calls_llm = wrapped.type == "identifier" and llm.name_calls_llm(ts.text(wrapped))
        if not calls_llm:
            return
        options = _object_pairs(args[2]) if len(args) > 2 else {}
        if "revalidate" in options and ts.text(options["revalidate"]) == "false":
            yield _hit(f, call, "unstable_cache around an LLM call with `revalidate: false`", "unstable_cache:false")
        elif "tags" not in options:
            yield _hit(
                f, call, "unstable_cache around an LLM call without `tags`: no way to purge it", "unstable_cache"
            )

    def _check_fetch(self, f: SourceFile, call: Node, options_node: Node) -> Iterator[Hit]:
        options = _object_pairs(options_node)
        cache = ts.string_value(options.get("cache"))
        next_options = _object_pairs(options.get("next"))
        if cache == "force-cache" and "tags" not in next_options:
            yield _hit(
                f, call, "fetch to an LLM with cache: 'force-cache' and no tags: the answer is cached", "fetch:force"
            )
        elif "revalidate" in next_options and "tags" not in next_options:
            yield _hit(
                f, call, "fetch to an LLM with next.revalidate but no next.tags: no way to purge it", "fetch:reval"
            )

    def _check_segment_config(self, f: SourceFile, export: Node) -> Iterator[Hit]:
        decl = export.child_by_field_name("declaration")
        if decl is None or decl.type not in ("lexical_declaration", "variable_declaration"):
            return
        for declarator in decl.named_children:
            if declarator.type != "variable_declarator":
                continue
            name = ts.text(declarator.child_by_field_name("name"))
            value = declarator.child_by_field_name("value")
            if value is None:
                continue
            if name == "revalidate" and ts.text(value) == "false":
                yield _hit(
                    f, declarator, "LLM route/page with `revalidate = false`: cached forever", "revalidate=false"
                )
            elif name == "dynamic" and ts.string_value(value) == "force-static":
                yield _hit(
                    f,
                    declarator,
                    "LLM route/page with `dynamic = 'force-static'`: cached until redeploy",
                    "force-static",
                )

    def _check_prerender_manifest(self, ctx: ScanContext) -> Iterator[Hit]:
        manifest = ctx.index.get(PRERENDER_MANIFEST)
        if manifest is None:
            return
        try:
            data = json.loads(manifest.text)
        except ValueError:
            ctx.index.stats["prerender-manifest.json is not valid JSON"] += 1
            return
        routes = data.get("routes") if isinstance(data, dict) else None
        if not isinstance(routes, dict):
            return
        by_url: dict[str, SourceFile] = {}
        for f in ctx.index.sources:
            if ctx.index.is_page(f) or ctx.index.is_route_handler(f):
                url = url_path_of(f.rel)
                if url is not None:
                    by_url[url.rstrip("/") or "/"] = f
        for route, entry in routes.items():
            if not isinstance(entry, dict) or entry.get("initialRevalidateSeconds") is not False:
                continue
            source_route = entry.get("srcRoute") or route
            source = by_url.get(str(source_route).rstrip("/") or "/")
            if source is None or not ctx.llm.calls_llm(source):
                continue
            line = _line_of_key(manifest, route)
            yield Hit(
                path=manifest.rel,
                line=line,
                column=1,
                message=f"prerendered route {route} calls an LLM, never revalidated (initialRevalidateSeconds: false)",
                key=f"prerender:{route}",
            )


def _line_of_key(f: SourceFile, key: str) -> int:
    needle = json.dumps(key) + ":"
    for number, line in enumerate(f.lines, start=1):
        if needle in line.replace('": ', '":'):
            return number
    return 1


RULE_CLASS = LlmOutputCachedWithoutPurge
