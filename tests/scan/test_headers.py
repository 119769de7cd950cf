"""The header extraction (every place an app sets response headers) and the CSP3 parser."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.config import Settings
from leakline.scan.engine import build_index
from leakline.scan.headers import (
    CSP,
    DYNAMIC,
    UNKNOWN,
    HeaderOrigin,
    WeaknessKind,
    collect_headers,
    has_frame_ancestors,
    header_weaknesses,
    parse_policy,
    parse_policy_list,
)
from leakline.scan.walker import WalkStats

PACKAGE = json.dumps({"name": "t", "dependencies": {"next": "15.2.4"}})


def _app(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "package.json").write_text(PACKAGE, encoding="utf-8")
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def _headers(app: Path) -> set[tuple[str, str | None, str, int, HeaderOrigin]]:
    index = build_index(app, Settings(), WalkStats(), set())
    return {
        (s.name, s.value.value if s.value else None, s.path, s.line, s.origin) for s in collect_headers(index).settings
    }


# ---- CSP3 parsing ---------------------------------------------------------------------------------


def test_parse_policy_splits_directives_and_sources_and_keeps_first_duplicate() -> None:
    policy = parse_policy("Script-Src 'self'  https://a.example ;; script-src *; bad/name x; img-src\t'none'")
    assert [(d.name, [s.text for s in d.sources]) for d in policy.directives] == [
        ("script-src", ["'self'", "https://a.example"]),
        ("img-src", ["'none'"]),
    ]
    assert policy.directives[0].offset == 0
    assert policy.directives[1].sources[0].offset == len(
        "Script-Src 'self'  https://a.example ;; script-src *; bad/name x; img-src\t"
    )


def test_parse_policy_list_splits_on_commas_with_offsets() -> None:
    policies = parse_policy_list("default-src 'self', script-src 'none'")
    assert [p.directives[0].name for p in policies] == ["default-src", "script-src"]
    assert policies[1].directives[0].offset == len("default-src 'self', ")


def _kinds(value: str) -> list[WeaknessKind]:
    return [w.kind for w in header_weaknesses(value)]


def test_unsafe_inline_is_ignored_next_to_a_nonce_a_hash_or_strict_dynamic() -> None:
    assert _kinds("default-src 'self'; script-src 'self' 'unsafe-inline'") == [WeaknessKind.UNSAFE_INLINE]
    assert _kinds(f"default-src 'self'; script-src 'nonce-{DYNAMIC}' 'unsafe-inline'") == []
    assert _kinds("default-src 'self'; script-src 'sha384-abc' 'unsafe-inline'") == []
    assert _kinds("default-src 'self'; script-src 'strict-dynamic' 'unsafe-inline'") == []
    assert _kinds("default-src 'self'; script-src 'NONCE-abc' 'UNSAFE-INLINE'") == []


def test_strict_dynamic_ignores_host_and_scheme_sources_but_not_unsafe_eval() -> None:
    assert _kinds("default-src 'self'; script-src 'nonce-a' 'strict-dynamic' https: http: *") == []
    assert _kinds("default-src 'self'; script-src 'nonce-a' 'strict-dynamic' 'unsafe-eval'") == [
        WeaknessKind.UNSAFE_EVAL
    ]


def test_default_src_is_the_fallback_for_scripts_and_connections() -> None:
    weaknesses = header_weaknesses("default-src * 'unsafe-eval'")
    assert [(w.kind, w.directive, w.offset) for w in weaknesses] == [
        (WeaknessKind.WILDCARD, "default-src (script fallback)", 12),
        (WeaknessKind.UNSAFE_EVAL, "default-src (script fallback)", 14),
        (WeaknessKind.OPEN_CONNECT, "default-src (connect fallback)", 12),
    ]
    assert _kinds("default-src 'self'") == []


def test_missing_script_and_connect_policies() -> None:
    assert _kinds("img-src 'self'") == [WeaknessKind.NO_SCRIPT_SRC, WeaknessKind.NO_CONNECT_SRC]
    assert _kinds("script-src 'self'") == [WeaknessKind.NO_CONNECT_SRC]
    # A run-time part where a directive could stand: absence cannot be concluded.
    assert _kinds(f"img-src 'self'; {DYNAMIC}") == []


def test_wildcards_schemes_and_lookalikes() -> None:
    base = "default-src 'self'; connect-src 'self'; script-src "
    assert _kinds(base + "https:") == [WeaknessKind.SCHEME]
    assert _kinds(base + "data:") == [WeaknessKind.SCHEME]
    assert _kinds(base + "https://*") == [WeaknessKind.WILDCARD]
    assert _kinds(base + "https://*.cdn.example") == []
    assert _kinds(base + "'wasm-unsafe-eval'") == []
    assert _kinds("default-src 'self'; connect-src wss:") == [WeaknessKind.OPEN_CONNECT]
    assert _kinds("default-src 'self'; connect-src https://*.llm.example.eu") == []


def test_several_policies_are_all_enforced() -> None:
    # The second policy forbids inline script, so the page is protected.
    assert _kinds("script-src 'unsafe-inline'; connect-src 'self', script-src 'self'; connect-src 'self'") == []
    assert _kinds("script-src * ; connect-src *, script-src *; connect-src 'self'") == [WeaknessKind.WILDCARD]


def test_frame_ancestors() -> None:
    assert has_frame_ancestors("default-src 'self'; FRAME-ANCESTORS 'none'")
    assert not has_frame_ancestors("default-src 'self'; frame-src 'none'")


_SOURCE = st.sampled_from(
    ["'self'", "'none'", "https://a.example", "'unsafe-inline'", "'unsafe-eval'", "*", "https:", "'nonce-x'", "data:"]
)
_DIRECTIVE = st.tuples(st.sampled_from(["script-src", "default-src", "connect-src", "img-src"]), st.lists(_SOURCE))


@settings(max_examples=150, deadline=None)
@given(st.lists(_DIRECTIVE, max_size=5), st.sampled_from([";", " ; ", ";\n  "]))
def test_parser_round_trips_directives_and_offsets_point_at_names(
    directives: list[tuple[str, list[str]]], separator: str
) -> None:
    text = separator.join(" ".join([name, *sources]) for name, sources in directives)
    policy = parse_policy(text)
    first: dict[str, list[str]] = {}
    for name, sources in directives:
        first.setdefault(name, sources)
    assert [(d.name, [s.text for s in d.sources]) for d in policy.directives] == list(first.items())
    for d in policy.directives:
        assert text[d.offset : d.offset + len(d.name)] == d.name
        for s in d.sources:
            assert text[s.offset : s.offset + len(s.text)] == s.text


@settings(max_examples=150, deadline=None)
@given(st.lists(_SOURCE, max_size=6))
def test_a_nonce_always_neutralises_unsafe_inline(sources: list[str]) -> None:
    value = "connect-src 'self'; script-src " + " ".join([*sources, "'nonce-r4nd0m'", "'unsafe-inline'"])
    assert WeaknessKind.UNSAFE_INLINE not in _kinds(value)


# ---- extraction ---------------------------------------------------------------------------------


def test_next_docs_template_policy_keeps_the_line_of_each_directive(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.js": (
                "const cspHeader = `\n"
                "    default-src 'self';\n"
                "    script-src 'self' 'unsafe-eval';\n"
                "`\n"
                "module.exports = {\n"
                "  async headers() {\n"
                "    return [{ source: '/(.*)', headers: [{ key: 'Content-Security-Policy', "
                "value: cspHeader.replace(/\\n/g, '') }] }]\n"
                "  },\n"
                "}\n"
            )
        },
    )
    index = build_index(app, Settings(), WalkStats(), set())
    (setting,) = collect_headers(index).settings
    assert (setting.name, setting.path, setting.line, setting.origin, setting.route) == (
        CSP,
        "next.config.js",
        7,
        HeaderOrigin.NEXT_CONFIG,
        "/(.*)",
    )
    assert setting.value is not None
    assert setting.value.value == "    default-src 'self';    script-src 'self' 'unsafe-eval';"
    (weakness,) = header_weaknesses(setting.value.value)
    assert setting.value.position_at(weakness.offset) == (3, 23)


def test_headers_from_an_imported_module_a_headers_identifier_and_a_map(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "security.mjs": "export const securityHeaders = [{ key: 'X-Frame-Options', value: 'DENY' }];\n",
            "next.config.mjs": (
                "import { securityHeaders } from './security.mjs';\n"
                "const routes = ['/', '/chat'];\n"
                "async function headers() {\n"
                "  return routes.map((source) => ({ source, headers: securityHeaders }));\n"
                "}\n"
                "export default { headers };\n"
            ),
        },
    )
    assert _headers(app) == {("x-frame-options", "DENY", "security.mjs", 1, HeaderOrigin.NEXT_CONFIG)}


def test_require_and_string_concatenation_in_commonjs_config(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "lib/policy.js": "module.exports = { base: \"default-src 'self'\" };\n",
            "next.config.js": (
                "const { base } = require('./lib/policy');\n"
                "module.exports = { headers: async () => [\n"
                "  { source: '/:p*', headers: [{ key: 'Content-Security-Policy', value: base + '; ' + `img-src ${base}` }] },\n"
                "] };\n"
            ),
        },
    )
    assert _headers(app) == {
        (CSP, "default-src 'self'; img-src default-src 'self'", "next.config.js", 3, HeaderOrigin.NEXT_CONFIG)
    }


def test_unknown_values_are_kept_as_set_but_unknown(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.mjs": (
                "import { buildCsp } from 'some-package';\n"
                "export default { async headers() { return [{ source: '/', headers: [\n"
                "  { key: 'Content-Security-Policy', value: buildCsp() },\n"
                "  { key: computeKey(), value: 'x' },\n"
                "] }] } };\n"
            )
        },
    )
    assert _headers(app) == {(CSP, None, "next.config.mjs", 3, HeaderOrigin.NEXT_CONFIG)}


def test_middleware_response_headers_but_not_request_headers(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "src/middleware.ts": (
                "import { NextResponse, type NextRequest } from 'next/server';\n"
                "import { applyHeaders } from './lib/headers';\n"
                "export function middleware(request: NextRequest) {\n"
                "  const forwarded = new Headers(request.headers);\n"
                "  forwarded.set('Content-Security-Policy', 'request only');\n"
                "  request.headers.set('X-Frame-Options', 'request only');\n"
                "  const out = new Headers({ 'Referrer-Policy': 'no-referrer' });\n"
                "  out.set('X-Content-Type-Options', 'nosniff');\n"
                "  const res = NextResponse.next({ request: { headers: forwarded }, headers: out });\n"
                "  res.headers.append('Strict-Transport-Security', 'max-age=63072000');\n"
                "  return applyHeaders(NextResponse.rewrite(new URL('/x', request.url), {\n"
                "    headers: { 'Permissions-Policy': 'camera=()' },\n"
                "  }));\n"
                "}\n"
            ),
            "src/lib/headers.ts": (
                "export function applyHeaders(response: Response) {\n"
                "  response.headers.set('X-Frame-Options', 'DENY');\n"
                "  return response;\n"
                "}\n"
            ),
        },
    )
    mw = HeaderOrigin.MIDDLEWARE
    assert _headers(app) == {
        ("referrer-policy", "no-referrer", "src/middleware.ts", 7, mw),
        ("x-content-type-options", "nosniff", "src/middleware.ts", 8, mw),
        ("strict-transport-security", "max-age=63072000", "src/middleware.ts", 10, mw),
        ("permissions-policy", "camera=()", "src/middleware.ts", 12, mw),
        ("x-frame-options", "DENY", "src/lib/headers.ts", 2, mw),
    }


def test_vercel_json_headers_and_legacy_routes(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "vercel.json": (
                '{"headers": [{"source": "/(.*)", "headers": [{"key": "X-Frame-Options", "value": "DENY"}]}],\n'
                ' "routes": [{"src": "/a", "headers": {"Referrer-Policy": "same-origin"}}]}\n'
            )
        },
    )
    vj = HeaderOrigin.VERCEL_JSON
    assert _headers(app) == {
        ("x-frame-options", "DENY", "vercel.json", 1, vj),
        ("referrer-policy", "same-origin", "vercel.json", 2, vj),
    }


def test_meta_tags_in_layouts_pages_and_document_only(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "app/layout.tsx": (
                "const policy = \"default-src 'self'\";\n"
                "export default function L({ children }) {\n"
                "  return <html><head>\n"
                '    <meta httpEquiv="Content-Security-Policy" content={policy} />\n'
                '    <meta name="referrer" content="no-referrer" />\n'
                "  </head><body>{children}</body></html>;\n"
                "}\n"
            ),
            "pages/_document.tsx": (
                "export default function D() {\n"
                '  return <Html><Head><meta http-equiv="content-security-policy-report-only" content="x" /></Head></Html>;\n'
                "}\n"
            ),
            "app/chat/page.tsx": (
                'export default () => <><meta httpEquiv="Content-Security-Policy" content="img-src *" /></>;\n'
            ),
            "app/components/banner.tsx": (
                'export const B = () => <meta httpEquiv="Content-Security-Policy" content="img-src *" />;\n'
            ),
        },
    )
    meta = HeaderOrigin.META
    assert _headers(app) == {
        (CSP, "default-src 'self'", "app/layout.tsx", 4, meta),
        ("referrer-policy", "no-referrer", "app/layout.tsx", 5, meta),
        ("content-security-policy-report-only", "x", "pages/_document.tsx", 2, meta),
        (CSP, "img-src *", "app/chat/page.tsx", 1, meta),
    }


def test_next_secure_headers_defaults_and_options(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.js": (
                "const { createSecureHeaders } = require('next-secure-headers');\n"
                "module.exports = { async headers() { return [{ source: '/(.*)', headers: createSecureHeaders({\n"
                "  contentSecurityPolicy: { directives: { defaultSrc: \"'self'\", scriptSrc: [\"'self'\", \"'unsafe-eval'\"] } },\n"
                "  frameGuard: false,\n"
                "  referrerPolicy: 'same-origin',\n"
                "}) }] } };\n"
            )
        },
    )
    helper = HeaderOrigin.HELPER
    assert _headers(app) == {
        ("strict-transport-security", None, "next.config.js", 2, helper),
        ("x-content-type-options", None, "next.config.js", 2, helper),
        ("referrer-policy", "same-origin", "next.config.js", 2, helper),
        (CSP, "default-src 'self'; script-src 'self' 'unsafe-eval'; ", "next.config.js", 2, helper),
    }


def test_nosecone_defaults_and_disabled_csp(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "middleware.ts": (
                "import { createMiddleware, defaults } from '@nosecone/next';\n"
                "export default createMiddleware({ ...defaults, contentSecurityPolicy: false, xFrameOptions: false });\n"
            )
        },
    )
    helper = HeaderOrigin.HELPER
    assert _headers(app) == {
        ("strict-transport-security", "max-age=31536000; includeSubDomains", "middleware.ts", 2, helper),
        ("x-content-type-options", "nosniff", "middleware.ts", 2, helper),
        ("referrer-policy", "no-referrer", "middleware.ts", 2, helper),
    }


def test_nosecone_default_policy_is_strong(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {"proxy.ts": "import { createMiddleware } from '@nosecone/next';\nexport default createMiddleware();\n"},
    )
    index = build_index(app, Settings(), WalkStats(), set())
    (csp,) = collect_headers(index).named(CSP)
    assert csp.value is not None
    assert header_weaknesses(csp.value.value) == []
    assert has_frame_ancestors(csp.value.value)


def test_doubling_chains_stay_bounded(tmp_path: Path) -> None:
    chain = "const v0 = 'ab';\n" + "".join(f"const v{i} = v{i - 1} + v{i - 1};\n" for i in range(1, 41))
    app = _app(
        tmp_path,
        {
            "next.config.mjs": chain
            + "export default { headers: async () => [{ source: '/', headers: [\n"
            + "  { key: 'X-Small', value: v3 },\n"
            + "  { key: 'X-Huge', value: v40 },\n"
            + "] }] };\n"
        },
    )
    assert _headers(app) == {
        ("x-small", "ab" * 8, "next.config.mjs", 43, HeaderOrigin.NEXT_CONFIG),
        ("x-huge", None, "next.config.mjs", 44, HeaderOrigin.NEXT_CONFIG),
    }


def test_import_cycles_terminate(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "a.mjs": "import { b } from './b.mjs';\nexport const a = b + ';';\n",
            "b.mjs": "import { a } from './a.mjs';\nexport const b = a + ';';\n",
            "next.config.mjs": (
                "import { a } from './a.mjs';\n"
                "export default { headers: async () => [{ source: '/', headers: [{ key: 'X-A', value: a }] }] };\n"
            ),
        },
    )
    ((name, value, path, line, origin),) = _headers(app)
    assert (name, path, line, origin) == ("x-a", "next.config.mjs", 2, HeaderOrigin.NEXT_CONFIG)
    assert value is not None and value.replace(DYNAMIC, "").strip(";") == ""


_JUNK = st.text(alphabet=st.sampled_from(list("{}[]()'\"`$;:,.=+ \nabkeyvalueheaders/*\\")), max_size=200)


@settings(max_examples=60, deadline=None)
@given(_JUNK, _JUNK, _JUNK)
def test_arbitrary_input_never_breaks_the_header_rules(config: str, middleware: str, vercel: str) -> None:
    from leakline.scan.engine import scan

    with tempfile.TemporaryDirectory() as tmp:
        app = _app(
            Path(tmp),
            {
                "next.config.js": "module.exports = { async headers() { return " + config + " } }",
                "middleware.ts": "export function middleware(r) { const res = NextResponse.next(); " + middleware,
                "vercel.json": vercel,
                "app/layout.tsx": "export default () => <meta httpEquiv='Content-Security-Policy' content=" + config,
            },
        )
        result = scan(app, rule_ids=["LL001", "LL002", "LL019", "LL020"])
        assert result.stats.rule_errors == []


def test_outgoing_fetch_headers_and_renamed_request_params_are_not_response_headers(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "middleware.ts": (
                "import { NextResponse, type NextRequest } from 'next/server';\n"
                "export async function middleware(r: NextRequest) {\n"
                "  await fetch('https://audit.internal/log', { headers: { 'X-Frame-Options': 'not a response' } });\n"
                "  r.headers.set('Referrer-Policy', 'request only');\n"
                "  const h = new Headers();\n"
                "  h.set('X-Content-Type-Options', 'outgoing');\n"
                "  await fetch('https://audit.internal/ping', { headers: h });\n"
                "  return NextResponse.next({ headers: { 'Strict-Transport-Security': 'max-age=1' } });\n"
                "}\n"
            )
        },
    )
    assert _headers(app) == {("strict-transport-security", "max-age=1", "middleware.ts", 8, HeaderOrigin.MIDDLEWARE)}


def test_pages_router_res_set_header_in_pages_document_but_not_api_routes(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "pages/index.tsx": (
                "export async function getServerSideProps({ res }) {\n"
                "  res.setHeader('Content-Security-Policy', \"default-src 'self'\");\n"
                "  return { props: {} };\n"
                "}\n"
                "export default function Home() { return null; }\n"
            ),
            "pages/_document.tsx": (
                "class D extends Document {\n"
                "  static async getInitialProps(ctx) { ctx.res?.setHeader('X-Frame-Options', 'DENY'); return {}; }\n"
                "}\n"
            ),
            "pages/api/chat.ts": "export default (req, res) => { res.setHeader('Referrer-Policy', 'no-referrer'); };\n",
        },
    )
    page = HeaderOrigin.PAGE_RESPONSE
    assert _headers(app) == {
        (CSP, "default-src 'self'", "pages/index.tsx", 2, page),
        ("x-frame-options", "DENY", "pages/_document.tsx", 2, page),
    }


def test_script_src_elem_and_attr_are_judged_on_their_own() -> None:
    value = "default-src 'self'; script-src 'nonce-a'; script-src-elem 'self' 'unsafe-inline'; script-src-attr *"
    assert [(w.kind, w.directive) for w in header_weaknesses(value)] == [
        (WeaknessKind.UNSAFE_INLINE, "script-src-elem"),
        (WeaknessKind.WILDCARD, "script-src-attr"),
    ]


_INDENT = st.sampled_from(["", "  ", "\t", "    "])
_NAME = st.sampled_from(["default-src", "script-src", "connect-src", "img-src", "frame-ancestors", "style-src"])


@settings(max_examples=120, deadline=None)
@given(st.lists(st.tuples(_INDENT, _NAME, st.lists(_SOURCE, max_size=3)), min_size=1, max_size=6), st.booleans())
def test_positions_inside_template_policies_match_the_source(
    lines: list[tuple[str, str, list[str]]], collapse: bool
) -> None:
    from collections import Counter

    from leakline.scan.headers import Evaluator, StaticString
    from leakline.scan.index import ProjectIndex, SourceFile

    body = "\n".join(f"{indent}{' '.join([name, *sources])};" for indent, name, sources in lines)
    suffix = '.replace(/\\s{2,}/g, " ").trim()' if collapse else ""
    source = f"const x = 1;\nconst policy = `\n{body}\n`{suffix};\n"
    f = SourceFile(rel="next.config.mjs", abs=Path("/nonexistent"), size=0, stats=Counter(), _data=source.encode())
    index = ProjectIndex(root=Path("/nonexistent"), settings=Settings(), files={f.rel: f})
    assert f.root is not None
    value = Evaluator(index, f, f.root).eval_name("policy")
    assert isinstance(value, StaticString)
    source_lines = source.split("\n")
    for directive in parse_policy(value.value).directives:
        path, line, column = value.location_at(directive.offset)
        assert path == "next.config.mjs"
        assert source_lines[line - 1][column - 1 :].startswith(directive.name)


def _eval_const(source: str, name: str) -> object:
    from collections import Counter

    from leakline.scan.headers import Evaluator, StaticString
    from leakline.scan.index import ProjectIndex, SourceFile

    f = SourceFile(rel="next.config.mjs", abs=Path("/nonexistent"), size=0, stats=Counter(), _data=source.encode())
    index = ProjectIndex(root=Path("/nonexistent"), settings=Settings(), files={f.rel: f})
    assert f.root is not None
    value = Evaluator(index, f, f.root).eval_name(name)
    return value.value if isinstance(value, StaticString) else value


def test_string_operations_follow_javascript() -> None:
    assert _eval_const("const a = 'x  y  z'.replace(/\\s+/, '-');", "a") == "x-y  z"
    assert _eval_const("const a = `x  y\n  z`.replace(/\\s+/g, ' ');", "a") == "x y z"
    assert _eval_const("const a = 'a;b;c'.replaceAll(';', '; ');", "a") == "a; b; c"
    assert _eval_const("const a = 'a;b;c'.replace(';', '');", "a") == "ab;c"
    assert _eval_const("const a = ['x', 'y', 2].join('; ');", "a") == "x; y; 2"
    assert _eval_const("const a = ['x', 'y'].join();", "a") == "x,y"
    assert _eval_const("const a = '  x '.trim() + 'y'.concat('z', 1);", "a") == "xyz1"
    assert _eval_const("const n = 5; const a = `max-age=${n}` + '\\u0021\\n';", "a") == "max-age=5!\n"
    assert _eval_const("const a = f('x').trim();", "a") is UNKNOWN
    assert _eval_const("const a = 'x'.replace(/x/, '$&');", "a") is UNKNOWN
    assert _eval_const("const o = { k: 'v' }; const a = o.k + o['k'];", "a") == f"v{DYNAMIC}"


def test_headers_function_in_a_base_config_module(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "config/base.js": (
                "module.exports = {\n"
                "  async headers() { return [{ source: '/(.*)', headers: [{ key: 'X-Frame-Options', value: 'DENY' }] }]; },\n"
                "};\n"
            ),
            "config/unrelated.js": "module.exports = { images: { domains: [] } };\n",
            "next.config.js": (
                "const base = require('./config/base');\n"
                "const other = require('./config/unrelated');\n"
                "module.exports = { ...base, ...other };\n"
            ),
        },
    )
    assert _headers(app) == {("x-frame-options", "DENY", "config/base.js", 2, HeaderOrigin.NEXT_CONFIG)}


def test_policies_are_judged_as_sent_in_production() -> None:
    source = (
        "const isDev = process.env.NODE_ENV === 'development';\n"
        "const a = `script-src 'self' ${isDev ? \"'unsafe-eval'\" : ''}`;\n"
        "const b = `script-src ${process.env.NODE_ENV !== 'production' ? \"'unsafe-eval'\" : \"'self'\"}`;\n"
        "const c = !isDev && 'on';\n"
        "const d = isDev || 'fallback';\n"
        "const e = process.env.OTHER === 'x' ? 'p' : 'q';\n"
        "const f = 1 === '1';\n"
    )
    assert _eval_const(source, "a") == "script-src 'self' "
    assert _eval_const(source, "b") == "script-src 'self'"
    assert _eval_const(source, "c") == "on"
    assert _eval_const(source, "d") == "fallback"
    assert _eval_const(source, "e") is UNKNOWN
    assert _eval_const(source, "f") is UNKNOWN


def test_regexes_that_could_backtrack_are_not_run() -> None:
    assert _eval_const("const a = ('a'.repeat(40) + '!').replace(/(a+)+$/, '');", "a") is UNKNOWN
    assert _eval_const("const a = 'aaaa!'.replace(/(a+)+$/, '');", "a") is UNKNOWN
    assert _eval_const("const a = 'x;y'.replace(/(?<=x);/, '');", "a") is UNKNOWN
    assert _eval_const("const a = 'x  ;y'.replace(/[ ]{2,};/, ';');", "a") == "x;y"
    assert _eval_const("const a = 'x'.replace(/\\s*\\s*\\s*y/, '');", "a") is UNKNOWN
    assert _eval_const("const a = 'x  y'.replace(/\\s{2,}/g, ' ');", "a") == "x y"
    assert _eval_const("const a = 'x ; y'.replace(/\\s*;\\s*/g, ';');", "a") is UNKNOWN
    long_policy = "const a = '" + " " * 9000 + "x'.replace(/\\s+/g, ' ');"
    assert _eval_const(long_policy, "a") is UNKNOWN
    assert _eval_const(long_policy.replace(" " * 9000, " " * 90), "a") == " x"
