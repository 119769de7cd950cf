"""LL014: LLM queries or outputs put in publicly readable storage or shared caches.

Whatever is written under `public/` is served to anyone who guesses the URL; an S3 object with a
`public-read` ACL, a Vercel Blob stored with `access: 'public'`, a GCS object saved with `public: true` /
`predefinedAcl: 'publicRead'` or made public with `makePublic()` are readable by anyone with the link,
and an answer to GET marked `Cache-Control: public` / `s-maxage`, or given a lifetime in a CDN-targeted
header (`CDN-Cache-Control`, `Vercel-CDN-Cache-Control`, `Surrogate-Control`, ...), is kept by CDNs and
shared proxies and served to the next visitor (answers to POST are never stored). Prompts and answers
carry what customers typed; this rule reports each of those writes when the data written is LLM data
(`FileLlm.is_llm`), at the line that makes it public.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from tree_sitter import Language, Node

from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.index import SourceFile
from leakline.scan.keywords import Keywords
from leakline.scan.llmdata import FUNCTION_TYPES, FileLlm
from leakline.scan.rules.base import Hit, Rule
from leakline.scan.rules.ll011 import call_arguments, header_writes
from leakline.scan.walker import NEXT_CONFIG_NAMES

KEYWORDS = (
    b"public",
    b"s-maxage",
    b"CDN-Cache-Control",
    b"cdn-cache-control",
    b"Surrogate-Control",
    b"surrogate-control",
)
_KEYWORDS = Keywords(KEYWORDS)
# Targeted cache headers (RFC 9213): read by the CDN only, and stripped before the browser sees the response,
# so a plain `max-age` in them is a shared-cache lifetime.
CDN_CACHE_HEADERS = frozenset(
    {"cdn-cache-control", "vercel-cdn-cache-control", "cloudflare-cdn-cache-control", "surrogate-control"}
)
SHARED_CACHE_HEADERS = frozenset({"cache-control"}) | CDN_CACHE_HEADERS
# CDNs (Vercel's, Cloudflare, Fastly, CloudFront by default) store answers to GET and HEAD only: a response
# to a POST is never served to the next visitor, whatever its cache headers say.
CACHEABLE_METHODS = frozenset({"GET", "HEAD"})
HTTP_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
FS_MODULES = frozenset({"fs", "node:fs", "fs/promises", "node:fs/promises", "fs-extra", "graceful-fs"})
FS_WRITERS = frozenset(
    {
        "writeFile",
        "writeFileSync",
        "appendFile",
        "appendFileSync",
        "outputFile",
        "outputFileSync",
        "writeJson",
        "writeJsonSync",
        "writeJSON",
        "outputJson",
        "outputJSON",
    }
)
FS_RECEIVERS = frozenset({"fs", "fsp", "fse", "fs.promises", "promises", "fsPromises"})
PATH_BUILDERS = frozenset({"path.join", "path.resolve", "join", "resolve", "path.posix.join", "posix.join"})
PUBLIC_ACLS = frozenset({"public-read", "public-read-write"})
ACL_KEYS = frozenset({"ACL", "acl"})
GCS_PUBLIC_ACLS = frozenset({"publicRead", "public-read"})
VERCEL_BLOB_MODULE = "@vercel/blob"
# A path segment named `public`, wherever it appears in the joined path (`*` stands for substitutions).
_PUBLIC_SEGMENT = re.compile(r"(?:^|[/*])(?:\.{0,2}/)?public(?:/|$)")
_SHARED_CACHE = re.compile(r"\bpublic\b|\bs-maxage\b", re.IGNORECASE)
_PRIVATE_CACHE = re.compile(r"\bprivate\b|\bno-store\b", re.IGNORECASE)
# A lifetime that is not zero; `*` is a run-time value (`max-age=${ttl}`), which may be anything.
_CDN_LIFETIME = re.compile(r"\b(?:s-maxage|max-age)\s*=\s*\"?(?:0*[1-9]|\*)|\bpublic\b", re.IGNORECASE)
_MAX_DEPTH = 4
_SLASH_PARAM = re.compile(r"/:([A-Za-z_][A-Za-z0-9_]*)([*+?]?)")
_SEGMENTS = {"": "/[^/]+", "?": "(?:/[^/]+)?", "+": "(?:/[^/]+)+", "*": "(?:/[^/]+)*"}


def _literal_shape(node: Node, depth: int = 0) -> str | None:
    """A string's text with `*` for every part that is not a literal; None when nothing is literal."""
    node = ts.unwrap(node)
    literal = ts.string_value(node)
    if literal is not None:
        return literal
    if node.type == "template_string":
        parts: list[str] = []
        for child in node.named_children:
            if child.type in ("string_fragment", "escape_sequence"):
                parts.append(ts.text(child))
            elif child.type == "template_substitution":
                inner = child.named_children[0] if child.named_children and depth < _MAX_DEPTH else None
                shape = _literal_shape(inner, depth + 1) if inner is not None else None
                parts.append(shape if shape is not None else "*")
        return "".join(parts)
    if node.type == "binary_expression" and ts.text(node.child_by_field_name("operator")) == "+":
        # `a + b + c` nests to the left; flatten it without recursion (generated code has long chains).
        terms: list[Node] = []
        stack = [node]
        while stack:
            current = ts.unwrap(stack.pop())
            is_concat = current.type == "binary_expression" and ts.text(current.child_by_field_name("operator")) == "+"
            if not is_concat:
                terms.append(current)
                continue
            for side in ("right", "left"):
                operand = current.child_by_field_name(side)
                if operand is not None:
                    stack.append(operand)
        shapes = [_literal_shape(term, depth) for term in terms]
        if all(shape is None for shape in shapes):
            return None
        return "".join(shape if shape is not None else "*" for shape in shapes)
    if node.type == "identifier" and depth < _MAX_DEPTH:
        bound = ts.declared_value(node, ts.text(node))
        return _literal_shape(bound, depth + 1) if bound is not None else None
    return None


def is_public_path(node: Node, depth: int = 0) -> bool:
    """The expression names a file under the app's `public/` folder."""
    node = ts.unwrap(node)
    shape = _literal_shape(node)
    if shape is not None and _PUBLIC_SEGMENT.search(shape):
        return True
    if node.type == "call_expression" and depth < _MAX_DEPTH:
        callee = ts.callee_path(node.child_by_field_name("function") or node)
        if callee in PATH_BUILDERS:
            joined = "/".join(_literal_shape(a) or "*" for a in call_arguments(node))
            return bool(_PUBLIC_SEGMENT.search(joined)) or any(
                is_public_path(a, depth + 1) for a in call_arguments(node)
            )
    if node.type == "identifier" and depth < _MAX_DEPTH:
        bound = ts.declared_value(node, ts.text(node))
        return bound is not None and is_public_path(bound, depth + 1)
    return False


def shares_cache(header: str, value: str) -> bool:
    """Whether a `header: value` response header lets a CDN or shared proxy keep the response: `Cache-Control`
    with `public` or `s-maxage`, or a CDN-targeted header (`CDN-Cache-Control`, `Vercel-CDN-Cache-Control`,
    `Cloudflare-CDN-Cache-Control`, `Surrogate-Control`) with a positive `max-age` / `s-maxage` or `public`;
    never with `private` or `no-store`."""
    header = header.lower()
    if header not in SHARED_CACHE_HEADERS or _PRIVATE_CACHE.search(value):
        return False
    if header in CDN_CACHE_HEADERS:
        return _CDN_LIFETIME.search(value) is not None
    return _SHARED_CACHE.search(value) is not None


def exported_methods(root: Node) -> dict[str, set[str]] | None:
    """Local name → the HTTP method names it is exported as (`export async function POST`, `export const GET =
    handler`, `export { handler as GET }`), for the module's top-level bindings. None when `export *` may
    add others."""
    out: dict[str, set[str]] = {}
    for statement in root.named_children:
        if statement.type != "export_statement":
            continue
        if any(child.type == "*" for child in statement.children):
            return None
        decl = statement.child_by_field_name("declaration")
        if decl is not None:
            for name, value in _declared(decl):
                if name in HTTP_METHODS:
                    out.setdefault(name, set()).add(name)
                    if value is not None and value.type == "identifier":
                        out.setdefault(ts.text(value), set()).add(name)
            continue
        for clause in statement.named_children:
            if clause.type != "export_clause":
                continue
            for spec in clause.named_children:
                local = spec.child_by_field_name("name")
                alias = spec.child_by_field_name("alias") or local
                if local is not None and alias is not None and ts.text(alias) in HTTP_METHODS:
                    out.setdefault(ts.text(local), set()).add(ts.text(alias))
    return out


def _declared(decl: Node) -> list[tuple[str, Node | None]]:
    """(name, value) of a function or variable declaration."""
    if decl.type in ("function_declaration", "generator_function_declaration"):
        name = decl.child_by_field_name("name")
        return [(ts.text(name), None)] if name is not None else []
    out: list[tuple[str, Node | None]] = []
    if decl.type in ("lexical_declaration", "variable_declaration"):
        for declarator in decl.named_children:
            name = declarator.child_by_field_name("name")
            if declarator.type == "variable_declarator" and name is not None and name.type == "identifier":
                value = declarator.child_by_field_name("value")
                out.append((ts.text(name), ts.unwrap(value) if value is not None else None))
    return out


def _top_level_names(node: Node) -> list[str]:
    """The names the top-level statement around `node` declares (the handler a header write is inside)."""
    current = node
    while current.parent is not None and current.parent.parent is not None:
        current = current.parent
    decl = current.child_by_field_name("declaration") if current.type == "export_statement" else current
    return [name for name, _ in _declared(decl)] if decl is not None else []


def _pairs(obj: Node) -> dict[str, Node]:
    """`key → pair node` of an object literal (the pair, so hits point at the line of the key)."""
    out: dict[str, Node] = {}
    if obj.type != "object":
        return out
    for member in obj.named_children:
        if member.type == "pair":
            key = member.child_by_field_name("key")
            name = ts.string_value(key) if key is not None and key.type == "string" else ts.text(key)
            out[name or ""] = member
    return out


def _pair_value(pair: Node) -> Node | None:
    return pair.child_by_field_name("value")


def _string_pair(pairs: dict[str, Node], keys: frozenset[str], values: frozenset[str]) -> Node | None:
    for key in keys:
        pair = pairs.get(key)
        value = _pair_value(pair) if pair is not None else None
        if pair is not None and value is not None and ts.string_value(value) in values:
            return pair
    return None


def _gcs_public_option(options: Node) -> Node | None:
    """The pair of a Cloud Storage options object that makes the object public (`predefinedAcl:
    "publicRead"` and the like, or `public: true`)."""
    pairs = _pairs(ts.unwrap(options))
    public = _string_pair(pairs, frozenset({"predefinedAcl"}), GCS_PUBLIC_ACLS)
    flag = pairs.get("public")
    flag_value = _pair_value(flag) if flag is not None else None
    if public is None and flag_value is not None and ts.text(flag_value) == "true":
        public = flag
    return public


def _enclosing_function(node: Node) -> Node | None:
    current = node.parent
    while current is not None:
        if current.type in FUNCTION_TYPES:
            return current
        current = current.parent
    return None


class _Module:
    def __init__(self, ctx: ScanContext, f: SourceFile, llm: FileLlm, language: Language) -> None:
        self.file = f
        self.is_route_handler = ctx.index.is_route_handler(f)
        self.llm = llm
        self.language = language
        imports = ctx.index.imports_of(f)
        self.fs_functions = {i.local for i in imports if i.source in FS_MODULES and i.imported in FS_WRITERS}
        self.fs_streams = {i.local for i in imports if i.source in FS_MODULES and i.imported == "createWriteStream"}
        self.fs_namespaces = {i.local for i in imports if i.source in FS_MODULES and i.imported in ("*", "default")}
        self.blob_put = {i.local for i in imports if i.source == VERCEL_BLOB_MODULE and i.imported == "put"}
        self.blob_namespaces = {
            i.local for i in imports if i.source == VERCEL_BLOB_MODULE and i.imported in ("*", "default")
        }

    def hit(self, at: Node, message: str, evidence: str, key: str) -> Hit:
        line, column = at.start_point
        return Hit(path=self.file.rel, line=line + 1, column=column + 1, message=message, evidence=evidence, key=key)

    def hits(self, root: Node) -> Iterator[Hit]:
        for node in ts.nodes_of_types(self.language, ("call_expression", "object"), root):
            if node.type == "call_expression":
                yield from self._call(node)
            elif node.type == "object":
                yield from self._s3_object(node)
        yield from self._shared_cache(root)

    def _is_fs_writer(self, callee: str) -> bool:
        if callee in self.fs_functions:
            return True
        if "." not in callee:
            return False
        receiver, method = callee.rsplit(".", 1)
        return method in FS_WRITERS and (receiver in FS_RECEIVERS or receiver in self.fs_namespaces)

    def _call(self, node: Node) -> Iterator[Hit]:
        callee = ts.callee_path(node.child_by_field_name("function") or node)
        if not callee:
            return
        args = call_arguments(node)
        method = callee.rsplit(".", 1)[-1]
        if self._is_fs_writer(callee) and len(args) >= 2:
            if is_public_path(args[0]) and self.llm.is_llm(args[1]):
                yield self.hit(
                    node,
                    "LLM data is written to a file under public/, which the app serves to anyone",
                    f"{callee}(public/…)",
                    f"public-file:{callee}",
                )
        elif self._is_blob_put(callee) and len(args) >= 3:
            access = _string_pair(_pairs(ts.unwrap(args[2])), frozenset({"access"}), frozenset({"public"}))
            if access is not None and self.llm.is_llm(args[1]):
                yield self.hit(
                    access,
                    "LLM data is stored in a public Vercel Blob (readable by anyone with the URL)",
                    "put(…, { access: 'public' })",
                    "vercel-blob-public",
                )
        elif method == "save" and "." in callee and len(args) >= 2:
            public = _gcs_public_option(args[1])
            if public is not None and self.llm.is_llm(args[0]):
                yield self.hit(
                    public,
                    "LLM data is saved as a public Cloud Storage object",
                    f"{callee}(…, {{ {' '.join(ts.text(public).split())} }})",
                    f"gcs-public:{callee}",
                )
        elif method == "upload" and "." in callee and len(args) >= 2:
            # `bucket.upload(localPath, { public: true })`: public if that local file was written with LLM
            # data earlier in the same function.
            public = _gcs_public_option(args[1])
            if public is not None and self._wrote_llm_to_file(args[0], node):
                yield self.hit(
                    public,
                    "a local file holding LLM data is uploaded as a public Cloud Storage object",
                    f"{callee}(…, {{ {' '.join(ts.text(public).split())} }})",
                    f"gcs-public-upload:{callee}",
                )
        elif method in ("write", "end") and args and self._writes_public_stream(node):
            if self.llm.is_llm(args[0]):
                yield self.hit(
                    node,
                    "LLM data is written to a file stream under public/, which the app serves to anyone",
                    f"{callee}(…) on createWriteStream(public/…)",
                    f"public-stream:{method}",
                )
        elif method == "makePublic" and "." in callee and self._saved_llm_to(callee.rsplit(".", 1)[0], node):
            yield self.hit(
                node,
                "a Cloud Storage object holding LLM data is made public",
                f"{callee}()",
                f"gcs-make-public:{callee}",
            )

    def _writes_public_stream(self, call: Node) -> bool:
        fn = ts.unwrap(call.child_by_field_name("function") or call)
        obj = fn.child_by_field_name("object") if fn.type == "member_expression" else None
        return obj is not None and self._public_stream(obj)

    def _is_stream_opener(self, callee: str) -> bool:
        if callee in self.fs_streams:
            return True
        receiver, _, method = callee.rpartition(".")
        return method == "createWriteStream" and (receiver in FS_RECEIVERS or receiver in self.fs_namespaces)

    def _public_stream(self, receiver: Node) -> bool:
        """`receiver` is (bound to) `fs.createWriteStream(<a path under public/>)`."""
        value = ts.unwrap(receiver)
        if value.type == "identifier":
            bound = ts.declared_value(value, ts.text(value))
            if bound is None:
                return False
            value = ts.unwrap(bound)
        if value.type != "call_expression":
            return False
        args = call_arguments(value)
        callee = ts.callee_path(value.child_by_field_name("function") or value)
        return bool(args) and self._is_stream_opener(callee) and is_public_path(args[0])

    def _is_blob_put(self, callee: str) -> bool:
        if callee in self.blob_put:
            return True
        receiver, _, method = callee.rpartition(".")
        return method == "put" and receiver in self.blob_namespaces

    def _saved_llm_to(self, receiver: str, at: Node) -> bool:
        """`receiver.save(llmData)` happens in the same function as `receiver.makePublic()`."""
        scope = _enclosing_function(at) or at.parent
        if scope is None:
            return False
        for node in self.file.nodes_in(scope, "call_expression"):
            callee = ts.callee_path(node.child_by_field_name("function") or node)
            args = call_arguments(node)
            if callee == f"{receiver}.save" and args and self.llm.is_llm(args[0]):
                return True
        return False

    def _wrote_llm_to_file(self, path: Node, at: Node) -> bool:
        """An fs write of LLM data to the same path expression (`tmp`, `"/tmp/chat.json"`) precedes `at`
        in its function."""
        scope = _enclosing_function(at) or at.parent
        if scope is None:
            return False
        target = " ".join(ts.text(ts.unwrap(path)).split())
        for node in self.file.nodes_in(scope, "call_expression"):
            if node.start_byte >= at.start_byte:
                continue
            args = call_arguments(node)
            if len(args) < 2 or " ".join(ts.text(ts.unwrap(args[0])).split()) != target:
                continue
            callee = ts.callee_path(node.child_by_field_name("function") or node)
            if self._is_fs_writer(callee) and self.llm.is_llm(args[1]):
                return True
        return False

    def _s3_object(self, obj: Node) -> Iterator[Hit]:
        pairs = _pairs(obj)
        acl = _string_pair(pairs, ACL_KEYS, PUBLIC_ACLS)
        if acl is None:
            return
        body = pairs.get("Body") or pairs.get("body")
        value = _pair_value(body) if body is not None else None
        if value is not None and self.llm.is_llm(value):
            acl_value = _pair_value(acl)
            yield self.hit(
                acl,
                "LLM data is uploaded to object storage with a public-read ACL",
                f"ACL: {ts.text(acl_value) if acl_value is not None else ''}",
                "s3-public-acl",
            )

    def _shared_cache(self, root: Node) -> Iterator[Hit]:
        methods: dict[str, set[str]] | None = None
        for write in header_writes(self.file):
            header = (write.name or "").lower()
            if header not in SHARED_CACHE_HEADERS:
                continue
            shape = _literal_shape(write.value)
            if shape is None or not shares_cache(header, shape):
                continue
            if methods is None:
                methods = exported_methods(root) or {}
            if not self._cacheable_request(write.at, methods):
                continue
            if self._response_carries_llm(write.response, write.at):
                # The Cache-Control key and evidence are kept as they were (fingerprints, baselines).
                shown = "Cache-Control" if header == "cache-control" else write.name
                key = (
                    f"shared-cache:{shape[:60]}" if header == "cache-control" else f"shared-cache:{header}:{shape[:60]}"
                )
                yield self.hit(
                    write.at,
                    "a response carrying LLM data is marked cacheable by shared caches (CDN, proxies)",
                    f"{shown}: {shape[:60]}",
                    key,
                )

    def _cacheable_request(self, at: Node, methods: dict[str, set[str]]) -> bool:
        """The header goes on an answer to GET/HEAD, as far as the module says: not when it is written inside a
        handler exported only as POST/PUT/PATCH/DELETE/OPTIONS, nor anywhere in a route handler module that
        exports no GET or HEAD handler."""
        handler_methods = {m for name in _top_level_names(at) for m in methods.get(name, set())}
        if handler_methods:
            return bool(handler_methods & CACHEABLE_METHODS)
        if self.is_route_handler and methods:
            return any(names & CACHEABLE_METHODS for names in methods.values())
        return True

    def _response_carries_llm(self, response: Node | None, at: Node) -> bool:
        if response is not None:
            return self.llm.is_llm(response)
        # `res.setHeader(...)` of the Pages API: the function's `res.*.json/send/write/end(...)` carry the body.
        scope = _enclosing_function(at)
        if scope is None:
            return False
        for node in ts.nodes_of_types(self.language, ("call_expression",), scope):
            callee = ts.callee_path(node.child_by_field_name("function") or node)
            sends = callee.startswith("res") and callee.endswith((".json", ".send", ".write", ".end"))
            if sends and any(self.llm.is_llm(a) for a in call_arguments(node)):
                return True
        return False


def source_pattern(source: str) -> re.Pattern[str] | None:
    """A next.config `headers()` `source` (path-to-regexp syntax) as a regex over URL paths.

    `/:name` is one segment, `/:name?` an optional one, `/:name+` one or more, `/:name*` zero or more;
    `(.*)` is a regex group. Anything else is literal.
    """
    out: list[str] = []
    i = 0
    while i < len(source):
        param = _SLASH_PARAM.match(source, i)
        if param is not None:
            out.append(_SEGMENTS[param.group(2)])
            i = param.end()
        elif source.startswith("(.*)", i):
            out.append(".*")
            i += len("(.*)")
        else:
            out.append(re.escape(source[i]))
            i += 1
    try:
        return re.compile("".join(out) + "/?")
    except re.error:
        return None


def _sample_url(url: str) -> str:
    """A concrete URL for a route with dynamic segments (`/api/chat/[id]` → `/api/chat/x`)."""
    return "/".join("x" if part.startswith("[") else part for part in url.split("/"))


def _config_shared_cache(ctx: ScanContext) -> Iterator[Hit]:
    """next.config `headers()` / vercel.json `headers`: a `Cache-Control: public` / `s-maxage` entry whose
    `source` covers a route that returns LLM data (header values resolved by `ctx.headers`)."""
    # Imported here: a shard worker needs the header analysis only when the app's config mentions caching.
    from leakline.scan.headers import DYNAMIC, HeaderOrigin

    config_origins = (HeaderOrigin.NEXT_CONFIG, HeaderOrigin.VERCEL_JSON)
    settings = [s for name in sorted(SHARED_CACHE_HEADERS) for s in ctx.headers.named(name)]
    for setting in sorted(settings, key=lambda s: (s.path, s.line, s.column)):
        if setting.origin not in config_origins or setting.route is None or setting.value is None:
            continue
        value = setting.value.value
        if not shares_cache(setting.name, value.replace(DYNAMIC, "*")):
            continue
        pattern = source_pattern(setting.route)
        if pattern is None:
            continue
        routes = [
            url
            for url, route in sorted(ctx.index.routes_by_url.items())
            if pattern.fullmatch(_sample_url(url)) and ctx.llm.route_returns_llm(route) and _answers_get(ctx, route)
        ]
        if routes:
            shown = value.replace(DYNAMIC, "…")[:60]
            cache_control = setting.name == "cache-control"
            header = "Cache-Control" if cache_control else _spelled(setting.name)
            yield Hit(
                path=setting.path,
                line=setting.line,
                column=setting.column,
                message=f"LLM route {routes[0]} is served with a shared-cache {header} ({setting.origin.value})",
                evidence=f"{setting.route}: {header}: {shown}",
                key=f"config-shared-cache:{setting.route}"
                if cache_control
                else f"config-{setting.name}:{setting.route}",
            )


def _spelled(header: str) -> str:
    """A lower-cased header name as it is usually written (`vercel-cdn-cache-control` → Vercel-CDN-Cache-Control)."""
    return "-".join("CDN" if part == "cdn" else part.capitalize() for part in header.split("-"))


def _answers_get(ctx: ScanContext, route: SourceFile) -> bool:
    """A page, an API route (one handler for every method) or a route handler exporting GET or HEAD (or one
    whose exports leakline cannot list)."""
    if not ctx.index.is_route_handler(route) or route.root is None:
        return True
    methods = exported_methods(route.root)
    return methods is None or not methods or any(names & CACHEABLE_METHODS for names in methods.values())


def _owns_app_level(ctx: ScanContext) -> bool:
    """In a sharded run, app-level files (next.config, vercel.json) are judged by one shard only: the one
    holding the app's first source file."""
    if ctx.only is None:
        return True
    first = min((f.rel for f in ctx.index.sources), default=None)
    return any(f.rel == first for f in ctx.targets)


class LlmDataPubliclyStored(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        configs = [f for f in (ctx.index.next_config, ctx.index.get("vercel.json")) if f is not None]
        if any(keyword in f.data() for f in configs for keyword in KEYWORDS) and _owns_app_level(ctx):
            yield from _config_shared_cache(ctx)
        for f in ctx.targets:
            data = f.data()
            if f.rel in NEXT_CONFIG_NAMES or not _KEYWORDS.in_bytes(data) or f.root is None:
                continue
            llm = ctx.llm.file(f)
            language = f.language
            if llm is None or language is None:
                continue
            yield from _Module(ctx, f, llm, language).hits(f.root)


RULE_CLASS = LlmDataPubliclyStored
