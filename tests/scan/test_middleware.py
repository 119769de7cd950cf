"""Next.js matcher semantics (path-to-regexp v6) and the middleware's residency facts."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.config import Settings
from leakline.scan.engine import build_index, scan
from leakline.scan.headers import collect_headers
from leakline.scan.middleware import (
    InvalidGroupPattern,
    MatcherError,
    MissingParameterName,
    NotAbsolute,
    UnbalancedGroup,
    UnexpectedToken,
    analyse_middleware,
    compile_matcher,
    sample_urls,
)
from leakline.scan.routes import Position, locate_middleware, may_call_llm
from leakline.scan.walker import WalkStats


@pytest.mark.parametrize(
    ("matcher", "url", "expected"),
    [
        ("/api/:path*", "/api", True),
        ("/api/:path*", "/api/chat", True),
        ("/api/:path*", "/api/chat/1/messages", True),
        ("/api/:path*", "/apis", False),
        ("/api/:path+", "/api", False),
        ("/api/:path+", "/api/chat/1", True),
        ("/api/:path?", "/api/chat", True),
        ("/api/:path?", "/api/chat/1", False),
        ("/api/chat/:id(\\d+)", "/api/chat/42", True),
        ("/api/chat/:id(\\d+)", "/api/chat/abc", False),
        ("/((?!api|_next/static|_next/image|favicon.ico).*)", "/shop/cart", True),
        ("/((?!api|_next/static|_next/image|favicon.ico).*)", "/api/chat", False),
        ("/(api|trpc)(.*)", "/trpc/chat.send", True),
        ("/About", "/about", True),
        ("/about", "/about.json", True),
        ("/about", "/about/team", False),
        ("/shop{/:slug}?", "/shop", True),
        ("/shop{/:slug}?", "/shop/shoes", True),
        ("/files/\\(x\\)", "/files/(x)", True),
    ],
)
def test_matcher_semantics(matcher: str, url: str, expected: bool) -> None:
    assert bool(compile_matcher(matcher).match(url)) is expected


@pytest.mark.parametrize(
    ("matcher", "error", "offset"),
    [
        ("api/:path*", NotAbsolute, 0),
        ("/api/:", MissingParameterName, 5),
        ("/api/(chat", UnbalancedGroup, 5),
        ("/api/()", InvalidGroupPattern, 5),
        ("/api/(?:x)", InvalidGroupPattern, 6),
        ("/api/(a(b))", InvalidGroupPattern, 7),
        ("/api/{chat", UnbalancedGroup, 10),
        ("/api/(a[)", InvalidGroupPattern, 7),
        ("/api\\", UnexpectedToken, 4),
    ],
)
def test_malformed_matchers_raise_a_typed_error_with_the_offset(
    matcher: str, error: type[MatcherError], offset: int
) -> None:
    with pytest.raises(error) as info:
        compile_matcher(matcher)
    assert type(info.value) is error
    assert info.value.offset == offset
    assert repr(matcher) in info.value.message


_SEGMENT = st.from_regex(r"[a-z][a-z0-9-]{0,8}", fullmatch=True)


@settings(max_examples=60, deadline=None)
@given(prefix=st.lists(_SEGMENT, min_size=1, max_size=3), rest=st.lists(_SEGMENT, max_size=3))
def test_star_parameter_matches_every_path_below_its_prefix(prefix: list[str], rest: list[str]) -> None:
    base = "/" + "/".join(prefix)
    rx = compile_matcher(base + "/:path*")
    assert rx.match("/".join([base, *rest]))
    assert not rx.match(base + "x")


@settings(max_examples=60, deadline=None)
@given(segments=st.lists(_SEGMENT, min_size=1, max_size=4))
def test_literal_matcher_matches_exactly_its_path(segments: list[str]) -> None:
    path = "/" + "/".join(segments)
    rx = compile_matcher(path)
    assert rx.match(path)
    assert rx.match(path.upper())
    assert not rx.match(path + "/more")
    assert not rx.match(re.sub(r"^/", "/x", path))


def test_sample_urls_expand_dynamic_segments() -> None:
    assert sample_urls("/api/chat/[id]") == ["/api/chat/1", "/api/chat/abc"]
    assert sample_urls("/docs/[...slug]") == ["/docs/abc", "/docs/abc/def"]
    assert sample_urls("/docs/[[...slug]]") == ["/docs", "/docs/abc", "/docs/abc/def"]
    assert sample_urls("/") == ["/"]


def _index(tmp_path: Path, files: dict[str, str], settings: Settings | None = None):  # type: ignore[no-untyped-def]
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return build_index(tmp_path, settings or Settings(), WalkStats(), set())


PACKAGE_15 = '{"dependencies":{"next":"15.1.0"}}'
PACKAGE_14 = '{"dependencies":{"next":"14.2.3"}}'


def test_facts_of_a_middleware_with_matcher_object_and_helper_check(tmp_path: Path) -> None:
    index = _index(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "src/lib/geo.ts": (
                "import { NextResponse } from 'next/server';\n"
                "export function residency(req: Request) {\n"
                "  switch (req.headers.get('CF-IPCountry')) {\n"
                "    case 'DE': return undefined;\n"
                "    default: return NextResponse.redirect(new URL('/blocked', req.url));\n"
                "  }\n"
                "}\n"
            ),
            "src/middleware.ts": (
                "import { residency } from './lib/geo';\n"
                "export default function middleware(req: Request) {\n"
                "  return residency(req);\n"
                "}\n"
                "export const config = {\n"
                "  matcher: [{ source: '/api/:path*', missing: [{ type: 'header', key: 'next-router-prefetch' }] }],\n"
                "};\n"
            ),
        },
    )
    facts = analyse_middleware(index)
    assert facts is not None
    assert facts.rel == "src/middleware.ts"
    assert facts.entry == Position(2, 1)
    assert facts.country_check is True
    assert facts.removed_geo is None
    assert facts.matcher is not None and (facts.matcher.line, facts.matcher.column) == (6, 3)
    assert [e.source for e in facts.matcher.entries or ()] == ["/api/:path*"]
    assert facts.covers("/api/chat/[id]") is True
    assert facts.covers("/assistant") is False


def test_request_geo_counts_before_next_15_only(tmp_path: Path) -> None:
    middleware = (
        "import { NextResponse } from 'next/server';\n"
        "export function middleware(req) {\n"
        "  if (req.geo?.country !== 'DE') return new Response('no', { status: 451 });\n"
        "  return NextResponse.next();\n"
        "}\n"
    )
    old = analyse_middleware(_index(tmp_path / "old", {"package.json": PACKAGE_14, "middleware.js": middleware}))
    new = analyse_middleware(_index(tmp_path / "new", {"package.json": PACKAGE_15, "middleware.js": middleware}))
    assert old is not None and old.country_check is True and old.removed_geo is None
    assert new is not None and new.country_check is False and new.removed_geo == Position(3, 7)


def test_unreadable_matcher_gets_the_benefit_of_the_doubt(tmp_path: Path) -> None:
    index = _index(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "middleware.ts": (
                "import { matchers } from './matchers';\n"
                "export function middleware() {}\n"
                "export const config = { matcher: matchers };\n"
            ),
        },
    )
    facts = analyse_middleware(index)
    assert facts is not None and facts.matcher is not None
    assert facts.matcher.entries is None
    assert facts.covers("/api/chat") is True
    assert facts.country_check is False


def test_may_call_llm_is_false_only_without_llm_traces_or_project_imports(tmp_path: Path) -> None:
    index = _index(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": "export const x = 1;\n",
            "app/a/route.ts": "import { NextResponse } from 'next/server';\nexport function GET() { return fetch(u); }\n",
            "app/b/route.ts": "import { x } from '../../lib/llm';\nexport function GET() { return x; }\n",
            "app/c/route.ts": "export async function GET() { return fetch('/api/chat'); }\n",
            "app/d/route.ts": "export async function GET() { return fetch(process.env.OLLAMA_HOST); }\n",
            "app/e/route.ts": "import { streamText } from 'ai';\n",
            "app/f/route.ts": "import { missing } from './nowhere';\nexport const GET = () => missing();\n",
        },
    )
    verdicts = {rel: may_call_llm(index, index.files[rel]) for rel in index.files if rel.startswith("app/")}
    assert verdicts == {
        "app/a/route.ts": False,
        "app/b/route.ts": True,
        "app/c/route.ts": True,
        "app/d/route.ts": True,
        "app/e/route.ts": True,
        "app/f/route.ts": False,
    }
    assert all("tree" not in index.files[rel].__dict__ for rel in verdicts)


def test_allow_then_refuse_and_refusal_helpers_count_as_checks(tmp_path: Path) -> None:
    allow_then_refuse = (
        "import { NextResponse } from 'next/server';\n"
        "export function middleware(req) {\n"
        "  const country = req.headers.get('x-vercel-ip-country');\n"
        "  if (country === 'DE') return NextResponse.next();\n"
        "  return NextResponse.json({ error: 'region' }, { status: 451 });\n"
        "}\n"
    )
    helper = (
        "import { NextResponse } from 'next/server';\n"
        "const refuse = (req) => NextResponse.redirect(new URL('/unavailable', req.url));\n"
        "export function middleware(req) {\n"
        "  if (!['DE', 'FR'].includes(req.headers.get('cf-ipcountry') ?? '')) return refuse(req);\n"
        "}\n"
    )
    allow_only = (
        "import { NextResponse } from 'next/server';\n"
        "export function middleware(req) {\n"
        "  const country = req.headers.get('x-vercel-ip-country');\n"
        "  if (country === 'DE') return NextResponse.next();\n"
        "  return NextResponse.next();\n"
        "}\n"
    )
    verdicts = {}
    for name, text in {"allow_then_refuse": allow_then_refuse, "helper": helper, "allow_only": allow_only}.items():
        facts = analyse_middleware(_index(tmp_path / name, {"package.json": PACKAGE_15, "middleware.ts": text}))
        assert facts is not None
        verdicts[name] = facts.country_check
    assert verdicts == {"allow_then_refuse": True, "helper": True, "allow_only": False}


def test_entries_with_has_conditions_do_not_guarantee_coverage(tmp_path: Path) -> None:
    index = _index(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "middleware.ts": (
                "export function middleware() {}\n"
                "export const config = {\n"
                "  matcher: [\n"
                "    { source: '/api/:path*', has: [{ type: 'header', key: 'x-shop-client' }] },\n"
                "    { source: '/shop/:path*', missing: [{ type: 'header', key: 'next-router-prefetch' }] },\n"
                "  ],\n"
                "};\n"
            ),
        },
    )
    facts = analyse_middleware(index)
    assert facts is not None and facts.matcher is not None
    assert [(e.source, e.line, e.conditional) for e in facts.matcher.entries or ()] == [
        ("/api/:path*", 4, True),
        ("/shop/:path*", 5, False),
    ]
    assert facts.matcher.uncovered("/api/chat") == "/api/chat"
    assert facts.matcher.uncovered("/shop/cart") is None


def test_country_header_named_through_a_constant(tmp_path: Path) -> None:
    middleware = (
        "const COUNTRY_HEADER = 'X-Vercel-IP-Country';\n"
        "const OTHER = 'x-request-id';\n"
        "export function middleware(req) {\n"
        "  if (req.headers.get(%s) !== 'DE') return new Response(null, { status: 451 });\n"
        "}\n"
    )
    verdicts = {}
    for name in ("COUNTRY_HEADER", "OTHER"):
        index = _index(tmp_path / name, {"package.json": PACKAGE_15, "middleware.ts": middleware % name})
        facts = analyse_middleware(index)
        assert facts is not None
        verdicts[name] = facts.country_check
    assert verdicts == {"COUNTRY_HEADER": True, "OTHER": False}


# ---- which middleware Next.js runs ----------------------------------------------------------------

MW = "import { NextResponse } from 'next/server';\nexport function middleware() { return NextResponse.next(); }\n"
PAGE = "export default function Page() { return null; }\n"
PACKAGE_16 = '{"dependencies":{"next":"16.0.10"}}'


def _where(index) -> tuple[str | None, list[tuple[str, str]]]:  # type: ignore[no-untyped-def]
    location = locate_middleware(index)
    active = location.active.rel if location.active is not None else None
    return active, [(m.file.rel, m.should_be) for m in location.ignored]


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        # The reviewer's srcapp: routes in src/app, middleware at the root.
        ({"src/app/page.tsx": PAGE, "middleware.ts": MW}, (None, [("middleware.ts", "src/middleware.ts")])),
        ({"src/app/page.tsx": PAGE, "src/middleware.ts": MW}, ("src/middleware.ts", [])),
        # With src/app a root middleware is ignored even when src/middleware.ts exists too.
        (
            {"src/app/page.tsx": PAGE, "src/middleware.ts": MW, "middleware.js": MW},
            ("src/middleware.ts", [("middleware.js", "src/middleware.js")]),
        ),
        ({"app/page.tsx": PAGE, "src/middleware.ts": MW}, (None, [("src/middleware.ts", "middleware.ts")])),
        ({"app/page.tsx": PAGE, "middleware.ts": MW}, ("middleware.ts", [])),
        # pages/ decides before app/ (rootDir = parent of pagesDir || appDir), each at the root before src/.
        ({"pages/index.tsx": PAGE, "src/app/page.tsx": PAGE, "middleware.ts": MW}, ("middleware.ts", [])),
        (
            {"src/pages/index.tsx": PAGE, "app/page.tsx": PAGE, "middleware.ts": MW},
            (None, [("middleware.ts", "src/middleware.ts")]),
        ),
        # Default pageExtensions are tsx, ts, jsx, js.
        ({"app/page.tsx": PAGE, "middleware.mjs": MW}, (None, [("middleware.mjs", "middleware.js")])),
        (
            {
                "app/page.tsx": PAGE,
                "middleware.mjs": MW,
                "next.config.mjs": "export default { pageExtensions: ['mjs', 'tsx'] };\n",
            },
            ("middleware.mjs", []),
        ),
        # Not readable: the benefit of the doubt.
        (
            {
                "app/page.tsx": PAGE,
                "middleware.mjs": MW,
                "next.config.mjs": "import { exts } from './e.mjs';\nexport default { pageExtensions: exts };\n",
            },
            ("middleware.mjs", []),
        ),
        # No app/ or pages/: Next.js builds nothing here; the look-alike is judged as before.
        ({"middleware.ts": MW}, ("middleware.ts", [])),
    ],
)
def test_locate_middleware_follows_next_conventions(
    tmp_path: Path, files: dict[str, str], expected: tuple[str | None, list[tuple[str, str]]]
) -> None:
    index = _index(tmp_path, {"package.json": PACKAGE_16, **files})
    assert _where(index) == expected


@pytest.mark.parametrize(
    ("package", "expected"),
    [
        # next 15 (lockfile or a range that cannot reach 16) has no proxy.* convention.
        ('{"dependencies":{"next":"^15.2.0"}}', (None, [("proxy.ts", "middleware.ts")])),
        ('{"dependencies":{"next":"15.5.7"}}', (None, [("proxy.ts", "middleware.ts")])),
        # A range that may install 16, or none: proxy.ts gets the benefit of the doubt.
        ('{"dependencies":{"next":">=15.0.0"}}', ("proxy.ts", [])),
        ('{"dependencies":{"next":"latest"}}', ("proxy.ts", [])),
        (PACKAGE_16, ("proxy.ts", [])),
    ],
)
def test_proxy_file_needs_next_16(
    tmp_path: Path, package: str, expected: tuple[str | None, list[tuple[str, str]]]
) -> None:
    index = _index(tmp_path, {"package.json": package, "app/page.tsx": PAGE, "proxy.ts": MW})
    assert _where(index) == expected


def test_proxy_before_next16_read_from_the_lockfile(tmp_path: Path) -> None:
    lock = '{"lockfileVersion":3,"packages":{"node_modules/next":{"version":"15.5.7"}}}'
    files = {"package.json": '{"dependencies":{"next":">=15"}}', "package-lock.json": lock, "app/page.tsx": PAGE}
    index = _index(tmp_path, {**files, "proxy.ts": MW, "middleware.ts": MW})
    # middleware.ts runs; proxy.ts beside it is dead code on 15.
    assert _where(index) == ("middleware.ts", [("proxy.ts", "middleware.ts")])
    location = locate_middleware(index)
    assert location.ignored[0].why == "proxy.* is the Next.js 16 name; next 15.5.7 only runs middleware.*"


def test_both_names_at_the_convention_level_on_next16(tmp_path: Path) -> None:
    # next build refuses this pair ("Please use proxy only"): nothing runs silently, proxy is judged.
    index = _index(tmp_path, {"package.json": PACKAGE_16, "app/page.tsx": PAGE, "proxy.ts": MW, "middleware.ts": MW})
    assert _where(index) == ("proxy.ts", [])


def test_ignored_middleware_is_not_analysed(tmp_path: Path) -> None:
    check = (
        "import { NextResponse } from 'next/server';\n"
        "export function middleware(req) {\n"
        "  if (req.headers.get('x-vercel-ip-country') !== 'DE') return new Response(null, { status: 451 });\n"
        "}\n"
    )
    files = {"package.json": PACKAGE_16, "src/app/api/chat/route.ts": PAGE}
    assert analyse_middleware(_index(tmp_path / "root", {**files, "middleware.ts": check})) is None
    facts = analyse_middleware(_index(tmp_path / "src", {**files, "src/middleware.ts": check}))
    assert facts is not None and facts.rel == "src/middleware.ts" and facts.country_check is True


# ---- country checks inside project helpers given the request ---------------------------------------

GEO_HELPERS = (
    "import type { NextRequest } from 'next/server';\n"
    "const ALLOWED = ['DE', 'FR', 'AT'];\n"
    "export function isAllowedCountry(req: NextRequest): boolean {\n"
    "  return ALLOWED.includes(req.headers.get('x-vercel-ip-country') ?? '');\n"
    "}\n"
    "export const countryOf = (headers: Headers) => headers.get('cf-ipcountry') ?? '';\n"
    "export function isAllowedRegion(request: NextRequest) {\n"
    "  const country = countryOf(request.headers);\n"
    "  return ALLOWED.includes(country);\n"
    "}\n"
    "export function logCountry(req: NextRequest) {\n"
    "  console.log(req.headers.get('x-vercel-ip-country'));\n"
    "  return true;\n"
    "}\n"
    "export function isAllowedLocale(locale: string) {\n"
    "  return ['de', 'fr'].includes(locale);\n"
    "}\n"
)


@pytest.mark.parametrize(
    ("middleware", "checked"),
    [
        # The reviewer's r6: the country is read in lib/geo.ts, the middleware branches on the helper's answer.
        ("import { isAllowedCountry } from './lib/geo';\nif (!isAllowedCountry(req)) return BLOCK;", True),
        # Two helpers deep, through the request's headers.
        ("import { isAllowedRegion } from '@/lib/geo';\nif (!isAllowedRegion(req)) return BLOCK;", True),
        # Namespace import, the result kept in a variable first.
        ("import * as geo from './lib/geo';\nconst ok = geo.isAllowedCountry(req);\nif (!ok) return BLOCK;", True),
        # Re-exported by a barrel module.
        ("import { isAllowedCountry as allowed } from './lib';\nif (!allowed(req)) return BLOCK;", True),
        # Near misses: the helper reads the country but returns nothing computed from it,
        ("import { logCountry } from './lib/geo';\nif (!logCountry(req)) return BLOCK;", False),
        # the helper reads no country from what it is given,
        (
            "import { isAllowedLocale } from './lib/geo';\nif (!isAllowedLocale(req.nextUrl.locale)) return BLOCK;",
            False,
        ),
        # the helper is not given the visitor's request,
        (
            "import { isAllowedCountry } from './lib/geo';\nif (!isAllowedCountry(new Request(URL))) return BLOCK;",
            False,
        ),
        # the helper's answer is never branched on.
        ("import { isAllowedCountry } from './lib/geo';\nconsole.log(isAllowedCountry(req));", False),
    ],
)
def test_country_check_in_a_project_helper_given_the_request(tmp_path: Path, middleware: str, checked: bool) -> None:
    head, body = middleware.split("\n", 1)
    body = body.replace("BLOCK", "new NextResponse('Not available', { status: 451 })")
    text = (
        f"import {{ NextResponse, type NextRequest }} from 'next/server';\n{head}\n"
        f"export function middleware(req: NextRequest) {{\n  {body}\n  return NextResponse.next();\n}}\n"
    )
    files = {
        "package.json": PACKAGE_15,
        "tsconfig.json": '{"compilerOptions":{"baseUrl":".","paths":{"@/*":["./*"]}}}',
        "lib/geo.ts": GEO_HELPERS,
        "lib/index.ts": "export { isAllowedCountry } from './geo';\n",
        "middleware.ts": text,
    }
    facts = analyse_middleware(_index(tmp_path, files))
    assert facts is not None
    assert facts.country_check is checked


def test_headers_of_an_ignored_middleware_reach_no_rule(tmp_path: Path) -> None:
    middleware = (
        "import { NextResponse } from 'next/server';\n"
        "export function middleware() {\n"
        "  const res = NextResponse.next();\n"
        "  res.headers.set('Content-Security-Policy', \"script-src 'self' 'unsafe-inline'\");\n"
        "  res.headers.set('Strict-Transport-Security', 'max-age=63072000; includeSubDomains');\n"
        "  return res;\n"
        "}\n"
    )
    files = {"package.json": PACKAGE_15, "src/app/page.tsx": PAGE}
    ignored = _index(tmp_path / "root", {**files, "middleware.ts": middleware})
    headers = collect_headers(ignored)
    assert [(s.name, s.path) for s in headers.settings] == []
    assert [(s.name, s.path, s.line) for s in headers.ignored] == [
        ("content-security-policy", "middleware.ts", 4),
        ("strict-transport-security", "middleware.ts", 5),
    ]
    result = scan(tmp_path / "root", rule_ids=["LL002", "LL020"])
    assert [(f.rule, f.path, f.line) for f in result.findings] == [("LL020", "package.json", 1)]
    assert "Strict-Transport-Security" in result.findings[0].message
    # Near miss: the same file where Next.js runs it sets both (and its weak policy is LL002's).
    result = scan(
        _index(tmp_path / "src", {**files, "src/middleware.ts": middleware}).root, rule_ids=["LL002", "LL020"]
    )
    assert sorted((f.rule, f.path, f.line) for f in result.findings) == [
        ("LL002", "src/middleware.ts", 4),
        ("LL020", "package.json", 1),
    ]
    (baseline,) = [f for f in result.findings if f.rule == "LL020"]
    assert "Strict-Transport-Security" not in baseline.message
