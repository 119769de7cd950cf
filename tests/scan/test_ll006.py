"""LL006 edge cases beyond the fixture pair: no middleware at all, a middleware that never checks a
country, `request.geo` on Next 15, configured country headers, server actions, rewrites to an LLM."""

from __future__ import annotations

from pathlib import Path

from leakline.configfile import load_scan_settings
from leakline.scan.engine import scan
from leakline.scan.rules.ll006 import OFF_HINT

PACKAGE_15 = '{"dependencies":{"next":"15.1.0","openai":"4.77.0"}}'
PACKAGE_14 = '{"dependencies":{"next":"14.2.3","openai":"4.77.0"}}'
LLM_LIB = (
    "import OpenAI from 'openai';\n"
    "const client = new OpenAI({ baseURL: process.env.OLLAMA_BASE_URL });\n"
    "export async function ask(q: string) {\n"
    "  const r = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: q }] });\n"
    "  return r.choices[0].message.content;\n"
    "}\n"
)
CHAT_ROUTE = (
    "import { ask } from '../../../lib/llm';\n"
    "\n"
    "export async function POST(req: Request) {\n"
    "  const { q } = await req.json();\n"
    "  return Response.json({ a: await ask(q) });\n"
    "}\n"
)


def _app(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _hits(app: Path) -> list[tuple[str, int, str]]:
    """(path, line, message) of each finding, the message without the closing how-to-switch-off hint, which every
    finding of an app without `[residency] allowed_regions` ends with (pinned by the tests of that hint)."""
    result = scan(app, rule_ids=["LL006"])
    assert result.stats.rule_errors == []
    if not load_scan_settings(app / "leakline.toml").residency.allowed_regions:
        assert all(f.message.endswith(OFF_HINT) for f in result.findings), [f.message for f in result.findings]
    return [(f.path, f.line, f.message.removesuffix(OFF_HINT)) for f in result.findings]


def _places(app: Path) -> set[tuple[str, int]]:
    return {(path, line) for path, line, _ in _hits(app)}


def test_without_middleware_every_llm_route_is_reported_at_its_handler(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": LLM_LIB,
            "app/api/chat/route.ts": CHAT_ROUTE,
            "app/api/health/route.ts": "export function GET() { return Response.json({ ok: true }); }\n",
            "pages/api/summarize.ts": (
                "import { ask } from '../../lib/llm';\n"
                "\n"
                "export default async function handler(req, res) {\n"
                "  res.json({ summary: await ask(req.body.text) });\n"
                "}\n"
            ),
            "app/actions.ts": (
                "'use server';\n"
                "import { ask } from '../lib/llm';\n"
                "export async function ping() { return 'pong'; }\n"
                "export async function suggest(q: string) {\n"
                "  return ask(q);\n"
                "}\n"
            ),
        },
    )
    hits = _hits(app)
    assert {(p, line) for p, line, _ in hits} == {
        ("app/api/chat/route.ts", 3),
        ("pages/api/summarize.ts", 3),
        ("app/actions.ts", 4),
    }
    assert all("no middleware/proxy" in message for _, _, message in hits)


def test_middleware_without_country_branch_is_reported_at_its_export(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": LLM_LIB,
            "app/api/chat/route.ts": CHAT_ROUTE,
            "proxy.ts": (
                "import { NextResponse } from 'next/server';\n"
                "\n"
                "export function proxy(req) {\n"
                "  // reads the country, but only to log it: no decision is made\n"
                "  console.log('visitor from', req.headers.get('x-vercel-ip-country'));\n"
                "  return NextResponse.next();\n"
                "}\n"
                "export const config = { matcher: '/api/:path*' };\n"
            ),
        },
    )
    hits = _hits(app)
    assert [(p, line) for p, line, _ in hits] == [("proxy.ts", 3)]
    assert "app/api/chat/route.ts" in hits[0][2]


def test_request_geo_is_no_check_on_next_15_but_is_one_on_next_14(tmp_path: Path) -> None:
    middleware = (
        "import { NextResponse } from 'next/server';\n"
        "export default function middleware(req) {\n"
        "  const country = req.geo?.country;\n"
        "  if (country !== 'DE') return NextResponse.redirect(new URL('/blocked', req.url));\n"
        "}\n"
    )
    files = {"lib/llm.ts": LLM_LIB, "app/api/chat/route.ts": CHAT_ROUTE, "middleware.ts": middleware}
    new = _app(tmp_path / "new", {"package.json": PACKAGE_15, **files})
    old = _app(tmp_path / "old", {"package.json": PACKAGE_14, **files})
    hits = _hits(new)
    assert [(p, line) for p, line, _ in hits] == [("middleware.ts", 2)]
    assert "request.geo (line 3)" in hits[0][2]
    assert _hits(old) == []


def test_configured_country_header_counts_as_a_signal(tmp_path: Path) -> None:
    files = {
        "package.json": PACKAGE_15,
        "lib/llm.ts": LLM_LIB,
        "app/api/chat/route.ts": CHAT_ROUTE,
        "middleware.ts": (
            "export function middleware(req) {\n"
            "  const c = req.headers.get('x-shop-country');\n"
            "  return c === 'DE' ? undefined : Response.json({ error: 'region' }, { status: 451 });\n"
            "}\n"
        ),
    }
    without = _app(tmp_path / "without", files)
    configured = _app(tmp_path / "with", {**files, "leakline.toml": '[scan]\ncountry_headers = ["X-Shop-Country"]\n'})
    assert _places(without) == {("middleware.ts", 1)}
    assert _places(configured) == set()


def test_country_branch_without_a_blocking_response_is_no_check(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": LLM_LIB,
            "app/api/chat/route.ts": CHAT_ROUTE,
            "middleware.ts": (
                "import { NextResponse } from 'next/server';\n"
                "export function middleware(req) {\n"
                "  const res = NextResponse.next();\n"
                "  if (req.headers.get('cf-ipcountry') === 'US') res.headers.set('x-us', '1');\n"
                "  return res;\n"
                "}\n"
            ),
        },
    )
    assert _places(app) == {("middleware.ts", 2)}


def test_matcher_with_digit_only_id_misses_the_dynamic_route(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": LLM_LIB,
            "app/api/chat/[id]/route.ts": CHAT_ROUTE.replace("../../../", "../../../../"),
            "middleware.ts": (
                "export function middleware(req) {\n"
                "  if (req.headers.get('x-vercel-ip-country') !== 'DE') {\n"
                "    return new Response(null, { status: 403 });\n"
                "  }\n"
                "}\n"
                "export const config = {\n"
                "  matcher: ['/api/chat/:id(\\\\d+)'],\n"
                "};\n"
            ),
        },
    )
    hits = _hits(app)
    assert [(p, line) for p, line, _ in hits] == [("middleware.ts", 7)]
    assert "/api/chat/abc" in hits[0][2]


def test_server_action_is_judged_by_the_pages_that_use_it(tmp_path: Path) -> None:
    files = {
        "package.json": PACKAGE_15,
        "lib/llm.ts": LLM_LIB,
        "app/assistant/actions.ts": (
            "'use server';\nimport { ask } from '../../lib/llm';\nexport async function suggest(q: string) {\n"
            "  return ask(q);\n}\n"
        ),
        "app/assistant/Box.tsx": (
            "'use client';\nimport { suggest } from './actions';\n"
            "export function Box() { return <button onClick={() => suggest('x')}>go</button>; }\n"
        ),
        "app/assistant/page.tsx": "import { Box } from './Box';\nexport default function Page() { return <Box />; }\n",
    }
    middleware = (
        "export function middleware(req) {\n"
        "  if (req.headers.get('x-vercel-ip-country') !== 'DE') return new Response(null, { status: 451 });\n"
        "}\n"
        "export const config = {\n"
        "  matcher: [%s],\n"
        "};\n"
    )
    narrow = _app(tmp_path / "narrow", {**files, "middleware.ts": middleware % "'/api/:path*'"})
    wide = _app(tmp_path / "wide", {**files, "middleware.ts": middleware % "'/api/:path*', '/assistant'"})
    hits = _hits(narrow)
    assert [(p, line) for p, line, _ in hits] == [("middleware.ts", 5)]
    assert "/assistant" in hits[0][2]
    assert _hits(wide) == []


def test_middleware_rewriting_to_an_llm_upstream_needs_a_check(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "middleware.ts": (
                "import { NextResponse } from 'next/server';\n"
                "\n"
                "export function middleware(req) {\n"
                "  return NextResponse.rewrite(new URL(req.nextUrl.pathname, process.env.OLLAMA_URL));\n"
                "}\n"
                "export const config = { matcher: '/llm/:path*' };\n"
            ),
        },
    )
    hits = _hits(app)
    assert [(p, line) for p, line, _ in hits] == [("middleware.ts", 3)]
    assert "its own rewrite to an LLM upstream" in hits[0][2]


def test_no_llm_routes_means_no_finding(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "app/api/health/route.ts": "export function GET() { return Response.json({ ok: true }); }\n",
        },
    )
    assert _hits(app) == []


def test_fetch_of_an_own_llm_route_makes_a_route_an_llm_route(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": LLM_LIB,
            "app/api/chat/route.ts": CHAT_ROUTE,
            "app/api/proxy/route.ts": (
                "export async function POST(req: Request) {\n"
                "  const res = await fetch('/api/chat', { method: 'POST', body: await req.text() });\n"
                "  return new Response(res.body);\n"
                "}\n"
            ),
        },
    )
    assert _places(app) == {("app/api/chat/route.ts", 3), ("app/api/proxy/route.ts", 1)}


def test_inline_server_actions_are_llm_routes_but_llm_rendering_pages_are_not(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": LLM_LIB,
            "app/assistant/page.tsx": (
                "import { ask } from '../../lib/llm';\n"
                "export default async function Page() {\n"
                "  async function suggest(form: FormData) {\n"
                "    'use server';\n"
                "    return ask(String(form.get('q')));\n"
                "  }\n"
                "  return <form action={suggest}><button>ask</button></form>;\n"
                "}\n"
            ),
            "app/tips/page.tsx": (
                "import { ask } from '../../lib/llm';\n"
                "export default async function Page() {\n"
                "  return <p>{await ask('tip of the day')}</p>;\n"
                "}\n"
            ),
        },
    )
    hits = _hits(app)
    assert [(p, line) for p, line, _ in hits] == [("app/assistant/page.tsx", 3)]
    assert "this server action calls an LLM" in hits[0][2]


def test_early_return_before_the_country_check_bypasses_it(tmp_path: Path) -> None:
    middleware = (
        "import { NextResponse } from 'next/server';\n"
        "export function middleware(req) {\n"
        "  const { pathname } = req.nextUrl;\n"
        "  if (%s) return NextResponse.next();\n"
        "  if (req.headers.get('x-vercel-ip-country') !== 'DE') return new Response(null, { status: 451 });\n"
        "  return NextResponse.next();\n"
        "}\n"
    )
    files = {"package.json": PACKAGE_15, "lib/llm.ts": LLM_LIB, "app/api/chat/route.ts": CHAT_ROUTE}
    bypass = _app(tmp_path / "bypass", {**files, "middleware.ts": middleware % "pathname.startsWith('/api')"})
    listed = _app(
        tmp_path / "listed", {**files, "middleware.ts": middleware % "['/health', '/api/chat'].includes(pathname)"}
    )
    narrowed = _app(
        tmp_path / "narrowed",
        {**files, "middleware.ts": middleware % "pathname.startsWith('/api') && req.method === 'GET'"},
    )
    unrelated = _app(tmp_path / "unrelated", {**files, "middleware.ts": middleware % "pathname === '/health'"})
    hits = _hits(bypass)
    assert [(p, line) for p, line, _ in hits] == [("middleware.ts", 2)]
    assert "line 4 lets /api* through (/api/chat)" in hits[0][2]
    assert _places(listed) == {("middleware.ts", 2)}
    assert _hits(narrowed) == []
    assert _hits(unrelated) == []


SUPPORT_FILES = {
    "package.json": PACKAGE_15,
    "lib/llm.ts": LLM_LIB,
    "app/api/chat/route.ts": CHAT_ROUTE,
    "app/support/actions.ts": (
        "'use server';\nimport { ask } from '../../lib/llm';\n"
        "export async function askSupport(question: string) {\n  return ask(question);\n}\n"
    ),
    "app/support/page.tsx": (
        "'use client';\nimport { askSupport } from './actions';\n"
        "export default function Support() {\n"
        "  return <button onClick={() => askSupport('where is my parcel?')}>ask</button>;\n}\n"
    ),
}
GUARDED_AND = (
    "import { NextResponse, type NextRequest } from 'next/server';\n"
    "export function middleware(request: NextRequest) {\n"
    "  const country = request.headers.get('x-vercel-ip-country') ?? '';\n"
    "  if (request.nextUrl.pathname.startsWith('/api/') && country !== 'DE') {\n"
    "    return new NextResponse('Not available in your region', { status: 451 });\n"
    "  }\n"
    "  return NextResponse.next();\n"
    "}\n"
)
GUARDED_NESTED = (
    "import { NextResponse, type NextRequest } from 'next/server';\n"
    "export function middleware(request: NextRequest) {\n"
    "  const { pathname } = request.nextUrl;\n"
    "  const country = request.headers.get('x-vercel-ip-country') ?? '';\n"
    "  if (pathname.startsWith('/api/')) {\n"
    "    if (country !== 'DE') return NextResponse.json({ error: 'region' }, { status: 451 });\n"
    "  }\n"
    "  return NextResponse.next();\n"
    "}\n"
)


def test_a_country_check_that_runs_only_under_api_skips_a_server_action_of_a_page(tmp_path: Path) -> None:
    anded = _app(tmp_path / "and", {**SUPPORT_FILES, "middleware.ts": GUARDED_AND})
    nested = _app(tmp_path / "nested", {**SUPPORT_FILES, "middleware.ts": GUARDED_NESTED})
    assert _hits(anded) == [
        (
            "middleware.ts",
            4,
            "the middleware's country check only runs for some paths: LLM route(s) /support "
            "(app/support/actions.ts) skip it",
        )
    ]
    assert [(p, line) for p, line, _ in _hits(nested)] == [("middleware.ts", 6)]
    assert "/support (app/support/actions.ts)" in _hits(nested)[0][2]


def test_the_same_path_guard_is_a_check_when_every_llm_route_is_under_it(tmp_path: Path) -> None:
    api_only = {rel: text for rel, text in SUPPORT_FILES.items() if not rel.startswith("app/support/")}
    assert _hits(_app(tmp_path / "and", {**api_only, "middleware.ts": GUARDED_AND})) == []
    assert _hits(_app(tmp_path / "nested", {**api_only, "middleware.ts": GUARDED_NESTED})) == []


def test_a_route_handler_outside_api_and_guards_in_the_else_branch(tmp_path: Path) -> None:
    files = {
        "package.json": PACKAGE_15,
        "lib/llm.ts": LLM_LIB,
        "app/api/chat/route.ts": CHAT_ROUTE,
        "app/assistant/route.ts": CHAT_ROUTE.replace("../../../", "../../"),
    }
    guarded = _app(tmp_path / "guarded", {**files, "middleware.ts": GUARDED_AND})
    assert [(p, line) for p, line, _ in _hits(guarded)] == [("middleware.ts", 4)]
    assert "/assistant (app/assistant/route.ts)" in _hits(guarded)[0][2]
    # The check runs for every path except static files: both routes go through it.
    everywhere = GUARDED_NESTED.replace(
        "  if (pathname.startsWith('/api/')) {\n", "  if (pathname.startsWith('/_next/')) {\n  } else {\n"
    )
    assert _hits(_app(tmp_path / "else", {**files, "middleware.ts": everywhere})) == []
    # Allowed when the path is not an API path, or the country is DE: the refusal follows for the rest.
    inverted = (
        "import { NextResponse } from 'next/server';\n"
        "export function middleware(request) {\n"
        "  const country = request.headers.get('x-vercel-ip-country');\n"
        "  if (!request.nextUrl.pathname.startsWith('/api/') || country === 'DE') return NextResponse.next();\n"
        "  return new Response(null, { status: 451 });\n"
        "}\n"
    )
    assert [(p, line) for p, line, _ in _hits(_app(tmp_path / "inverted", {**files, "middleware.ts": inverted}))] == [
        ("middleware.ts", 4)
    ]


def test_an_early_return_for_every_path_but_api_skips_a_server_action_of_a_page(tmp_path: Path) -> None:
    middleware = (
        "import { NextResponse } from 'next/server';\n"
        "export function middleware(request) {\n"
        "  const { pathname } = request.nextUrl;\n"
        "  if (!pathname.startsWith('/api/')) return NextResponse.next();\n"
        "  if (request.headers.get('x-vercel-ip-country') !== 'DE') return new Response(null, { status: 451 });\n"
        "  return NextResponse.next();\n"
        "}\n"
    )
    hits = _hits(_app(tmp_path / "support", {**SUPPORT_FILES, "middleware.ts": middleware}))
    assert hits == [
        (
            "middleware.ts",
            2,
            "the middleware returns before its country check for LLM routes: "
            "line 4 lets !pathname.startsWith('/api/') through (/support)",
        )
    ]
    api_only = {rel: text for rel, text in SUPPORT_FILES.items() if not rel.startswith("app/support/")}
    assert _hits(_app(tmp_path / "api", {**api_only, "middleware.ts": middleware})) == []


# ---- a middleware where Next.js does not run it -----------------------------------------------------

COUNTRY_MIDDLEWARE = (
    "import { NextResponse, type NextRequest } from 'next/server';\n"
    "\n"
    "export function middleware(req: NextRequest) {\n"
    "  const country = req.headers.get('x-vercel-ip-country') ?? '';\n"
    "  if (!['DE', 'FR'].includes(country)) return NextResponse.json({ error: 'geo' }, { status: 451 });\n"
    "  return NextResponse.next();\n"
    "}\n"
)
SRC_CHAT_ROUTE = CHAT_ROUTE.replace("'../../../lib/llm'", "'../../../../lib/llm'")


def test_root_middleware_beside_src_app_is_reported_with_where_it_must_go(tmp_path: Path) -> None:
    # The reviewer's srcapp: Next.js reads middleware from the folder holding app/, here src/.
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": LLM_LIB,
            "src/app/api/chat/route.ts": SRC_CHAT_ROUTE,
            "middleware.ts": COUNTRY_MIDDLEWARE,
        },
    )
    assert _hits(app) == [
        (
            "middleware.ts",
            3,
            "Next.js never runs middleware.ts: this app's routes are in src/app/, so Next.js only runs middleware.* "
            "from src/; move it to src/middleware.ts. Until then no data-residency (visitor country) check runs "
            "before the LLM route(s) src/app/api/chat/route.ts",
        )
    ]


def test_the_same_middleware_in_src_is_a_check(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": LLM_LIB,
            "src/app/api/chat/route.ts": SRC_CHAT_ROUTE,
            "src/middleware.ts": COUNTRY_MIDDLEWARE,
        },
    )
    assert _hits(app) == []


def test_src_middleware_beside_a_root_app_is_reported(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": LLM_LIB,
            "app/api/chat/route.ts": CHAT_ROUTE,
            "src/middleware.ts": COUNTRY_MIDDLEWARE,
        },
    )
    ((path, line, message),) = _hits(app)
    assert (path, line) == ("src/middleware.ts", 3)
    assert "only runs middleware.* from the project root; move it to middleware.ts" in message


def test_proxy_on_next_15_is_reported_with_its_next_15_name(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": LLM_LIB,
            "app/api/chat/route.ts": CHAT_ROUTE,
            "proxy.ts": COUNTRY_MIDDLEWARE.replace("function middleware", "function proxy"),
        },
    )
    ((path, line, message),) = _hits(app)
    assert (path, line) == ("proxy.ts", 3)
    assert message.startswith(
        "Next.js never runs proxy.ts: proxy.* is the Next.js 16 name; next 15.1.0 only runs middleware.*; "
        "move it to middleware.ts."
    )


def test_a_running_middleware_without_a_check_names_the_ignored_one(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "package.json": PACKAGE_15,
            "lib/llm.ts": LLM_LIB,
            "src/app/api/chat/route.ts": SRC_CHAT_ROUTE,
            "src/middleware.ts": "import { NextResponse } from 'next/server';\n"
            "export function middleware() { return NextResponse.next(); }\n",
            "middleware.ts": COUNTRY_MIDDLEWARE,
        },
    )
    ((path, line, message),) = _hits(app)
    assert (path, line) == ("src/middleware.ts", 2)
    assert message.endswith(
        "it never branches on a country signal (x-vercel-ip-country, cf-ipcountry, geolocation()); middleware.ts "
        "is not run instead (this app's routes are in src/app/, so Next.js only runs middleware.* from src/)"
    )


# ---- a country check inside a project helper ---------------------------------------------------------

GEO_LIB = (
    "import type { NextRequest } from 'next/server';\n"
    "export function isAllowedCountry(req: NextRequest): boolean {\n"
    "  return ['DE', 'FR', 'AT'].includes(req.headers.get('x-vercel-ip-country') ?? '');\n"
    "}\n"
    "export function logCountry(req: NextRequest): boolean {\n"
    "  console.info('visitor from', req.headers.get('x-vercel-ip-country'));\n"
    "  return true;\n"
    "}\n"
)
HELPER_MIDDLEWARE = (
    "import { NextResponse, type NextRequest } from 'next/server';\n"
    "import { %s } from './lib/geo';\n"
    "export function middleware(req: NextRequest) {\n"
    "  if (!%s(req)) return new NextResponse('Not available', { status: 451 });\n"
    "  return NextResponse.next();\n"
    "}\n"
    "export const config = { matcher: ['/api/:path*'] };\n"
)


def test_country_check_in_an_imported_helper_given_the_request_counts(tmp_path: Path) -> None:
    # The reviewer's r6: lib/geo.ts reads the header, the middleware branches on the helper's answer.
    files = {
        "package.json": PACKAGE_15,
        "lib/llm.ts": LLM_LIB,
        "lib/geo.ts": GEO_LIB,
        "app/api/chat/route.ts": CHAT_ROUTE,
    }
    checked = _app(tmp_path / "checked", {**files, "middleware.ts": HELPER_MIDDLEWARE % (("isAllowedCountry",) * 2)})
    assert _hits(checked) == []
    # Near miss: the helper reads the country only to log it, and its answer says nothing about it.
    logged = _app(tmp_path / "logged", {**files, "middleware.ts": HELPER_MIDDLEWARE % (("logCountry",) * 2)})
    assert _places(logged) == {("middleware.ts", 3)}


# R2b item 2: the vercel/ai-chatbot middleware (auth only) with the template's matcher, which leaves /api out.
AUTH_ONLY_MIDDLEWARE = (
    "import NextAuth from 'next-auth';\n"
    "import { authConfig } from './auth.config';\n"
    "\n"
    "export default NextAuth(authConfig).auth;\n"
    "\n"
    "export const config = {\n"
    "  matcher: ['/((?!api|_next/static|_next/image|.*\\\\.png$).*)'],\n"
    "};\n"
)
MATCHED_COUNTRY_MIDDLEWARE = (
    "import { NextResponse, type NextRequest } from 'next/server';\n"
    "export function middleware(request: NextRequest) {\n"
    "  const country = request.headers.get('x-vercel-ip-country') ?? '';\n"
    "  if (!['DE', 'FR'].includes(country)) return new NextResponse('Not available', { status: 451 });\n"
    "  return NextResponse.next();\n"
    "}\n"
    "export const config = {\n"
    "  matcher: [%s],\n"
    "};\n"
)
TEMPLATE_MATCHER = "'/((?!api|_next/static|_next/image|.*\\\\.png$).*)'"
CHAT_FILES = {"package.json": PACKAGE_15, "lib/llm.ts": LLM_LIB, "app/api/chat/route.ts": CHAT_ROUTE}


def test_no_country_check_and_a_matcher_that_misses_the_route_are_one_finding_naming_both(tmp_path: Path) -> None:
    """Before, the finding said only "never branches on a country signal"; adding a check then gave a second,
    different LL006 on the matcher: fix one, CI fails again."""
    app = _app(tmp_path / "auth", {**CHAT_FILES, "middleware.ts": AUTH_ONLY_MIDDLEWARE})
    assert _hits(app) == [
        (
            "middleware.ts",
            4,
            "the middleware does no data-residency check for LLM traffic (app/api/chat/route.ts): it never branches"
            " on a country signal (x-vercel-ip-country, cf-ipcountry, geolocation()); and its config.matcher (line 7)"
            " does not cover LLM route(s) /api/chat, so a country check added to it would not run for them either",
        )
    ]
    # Adding the check alone leaves exactly the reason the first finding already named.
    checked = _app(tmp_path / "checked", {**CHAT_FILES, "middleware.ts": MATCHED_COUNTRY_MIDDLEWARE % TEMPLATE_MATCHER})
    assert _hits(checked) == [
        (
            "middleware.ts",
            8,
            "the middleware's config.matcher does not cover LLM route(s) /api/chat (app/api/chat/route.ts): their"
            " requests skip the country check",
        )
    ]
    # Near miss: a matcher that covers the route adds nothing to the no-check finding.
    covering = AUTH_ONLY_MIDDLEWARE.replace("'/((?!api|_next/static|_next/image|.*\\\\.png$).*)'", "'/api/:path*'")
    wide = _app(tmp_path / "wide", {**CHAT_FILES, "middleware.ts": covering})
    ((path, line, message),) = _hits(wide)
    assert (path, line) == ("middleware.ts", 4)
    assert message.endswith("it never branches on a country signal (x-vercel-ip-country, cf-ipcountry, geolocation())")
    # ...and a matcher that covers the route and a country check leave nothing to report.
    fixed = _app(tmp_path / "fixed", {**CHAT_FILES, "middleware.ts": MATCHED_COUNTRY_MIDDLEWARE % "'/api/:path*'"})
    assert _hits(fixed) == []


def test_a_route_the_matcher_misses_is_also_judged_by_the_early_exits_and_the_path_guard(tmp_path: Path) -> None:
    """Before, a route the matcher missed was not looked at again: fixing the matcher revealed the early return."""
    middleware = (
        "import { NextResponse } from 'next/server';\n"
        "export function middleware(req) {\n"
        "  const { pathname } = req.nextUrl;\n"
        "  if (pathname.startsWith('/api')) return NextResponse.next();\n"
        "  if (pathname.startsWith('/shop') && req.headers.get('x-vercel-ip-country') !== 'DE') {\n"
        "    return new Response(null, { status: 451 });\n"
        "  }\n"
        "  return NextResponse.next();\n"
        "}\n"
        "export const config = { matcher: [%s] };\n"
    )
    both = _app(tmp_path / "both", {**CHAT_FILES, "middleware.ts": middleware % "'/shop/:path*'"})
    hits = _hits(both)
    assert [(p, line) for p, line, _ in hits] == [("middleware.ts", 2), ("middleware.ts", 5), ("middleware.ts", 10)]
    assert hits[0][2] == (
        "the middleware returns before its country check for LLM routes: line 4 lets /api* through (/api/chat)"
    )
    assert hits[1][2] == (
        "the middleware's country check only runs for some paths: LLM route(s) /api/chat (app/api/chat/route.ts)"
        " skip it"
    )
    assert hits[2][2].startswith("the middleware's config.matcher does not cover LLM route(s) /api/chat")
    # Near miss: the same middleware with no early return and no path guard has only the matcher to fix.
    plain = middleware.replace("  if (pathname.startsWith('/api')) return NextResponse.next();\n", "").replace(
        "pathname.startsWith('/shop') && ", ""
    )
    matcher_only = _app(tmp_path / "matcher", {**CHAT_FILES, "middleware.ts": plain % "'/shop/:path*'"})
    assert _places(matcher_only) == {("middleware.ts", 9)}


def test_every_message_says_how_to_switch_the_rule_off_unless_the_app_declares_residency(tmp_path: Path) -> None:
    bare = _app(tmp_path / "bare", dict(CHAT_FILES))
    result = scan(bare, rule_ids=["LL006"])
    assert [(f.path, f.line, f.message) for f in result.findings] == [
        (
            "app/api/chat/route.ts",
            3,
            "this route handler calls an LLM and the app has no middleware/proxy: no data-residency (visitor country)"
            ' check runs before it (if this app has no data-residency obligation, switch LL006 off in leakline.toml:'
            ' [scan] disable_rules = ["LL006"])',
        )
    ]
    # Near miss: allowed regions declare an obligation; advice to switch the rule off would be wrong there.
    bound = _app(tmp_path / "bound", {**CHAT_FILES, "leakline.toml": '[residency]\nallowed_regions = ["fra1"]\n'})
    result = scan(bound, rule_ids=["LL006"])
    assert [(f.path, f.line, f.message) for f in result.findings] == [
        (
            "app/api/chat/route.ts",
            3,
            "this route handler calls an LLM and the app has no middleware/proxy: no data-residency (visitor country)"
            " check runs before it",
        )
    ]


def _logging_app(root: Path, toml: str | None = None) -> Path:
    files = dict(CHAT_FILES)
    files["app/api/chat/route.ts"] = CHAT_ROUTE.replace(
        "  return Response.json", "  const a = await ask(q);\n  console.log(a);\n  return Response.json"
    )
    if toml is not None:
        files["leakline.toml"] = toml
    return _app(root, files)


def test_scan_disable_rules_switches_ll006_off_for_its_app_only_and_says_so(tmp_path: Path) -> None:
    on = _logging_app(tmp_path / "mono" / "apps" / "on")
    off = _logging_app(tmp_path / "mono" / "apps" / "off", '[scan]\ndisable_rules = ["ll006"]\n')
    assert [f.rule for f in scan(off).findings if f.rule == "LL006"] == []
    result = scan(tmp_path / "mono", rule_ids=None)
    found = {(f.rule, f.path, f.line) for f in result.findings if f.rule in ("LL006", "LL007")}
    assert found == {
        ("LL006", "apps/on/app/api/chat/route.ts", 3),
        ("LL007", "apps/on/app/api/chat/route.ts", 6),
        ("LL007", "apps/off/app/api/chat/route.ts", 6),
    }
    assert result.stats.to_dict()["disabled_rules"] == {"LL006": ["apps/off/leakline.toml: scan.disable_rules"]}
    assert result.rules_run["apps/off"] == result.rules_run["apps/on"] - {"LL006"}
    # An explicit --rule asks for the rule's findings: the app's disable_rules does not silence it.
    named = scan(off, rule_ids=["LL006"])
    assert [(f.path, f.line) for f in named.findings] == [("app/api/chat/route.ts", 3)]
    assert named.stats.disabled_rules == {}
    assert on.is_dir()


def test_skip_rule_ids_leave_a_rule_out_of_every_app(tmp_path: Path) -> None:
    app = _logging_app(tmp_path / "app")
    result = scan(app, skip_rule_ids=["LL006"])
    assert "LL006" not in {f.rule for f in result.findings}
    assert ("LL007", "app/api/chat/route.ts", 6) in {(f.rule, f.path, f.line) for f in result.findings}
    assert result.stats.to_dict()["disabled_rules"] == {"LL006": ["--skip-rule"]}
    # Near miss: without it the same app has its LL006 finding, and nothing is listed as disabled.
    full = scan(app)
    assert ("LL006", "app/api/chat/route.ts", 3) in {(f.rule, f.path, f.line) for f in full.findings}
    assert full.stats.to_dict()["disabled_rules"] == {}


def test_routes_calling_only_langgraph_tgi_assistants_or_openai_v3_are_llm_routes(tmp_path: Path) -> None:
    # Each calls a model through a family whose byte trace the route prefilter once lacked (no `completions`,
    # `ollama` or LLM-ish env var in the file): LL006 skipped them unparsed.
    handler = "export async function POST(req: Request) {{\n  const {{ q }} = await req.json();\n{body}}}\n"
    app = _app(
        tmp_path,
        {
            "package.json": '{"dependencies":{"next":"15.1.0","openai":"3.3.0","@langchain/langgraph-sdk":"0.0.30"}}',
            "app/api/graph/route.ts": "import { Client } from '@langchain/langgraph-sdk';\n"
            "const client = new Client({ apiUrl: 'http://10.0.0.5:2024' });\n"
            + handler.format(
                body="  const out = await client.runs.wait(null, 'agent', { input: { messages: [q] } });\n"
                "  return Response.json(out);\n"
            ),
            "app/api/tgi/route.ts": handler.format(
                body="  const r = await fetch('http://10.0.0.5:8080/generate', { method: 'POST', body: q });\n"
                "  return Response.json(await r.json());\n"
            ),
            "app/api/assist/route.ts": "import OpenAI from 'openai';\nconst ai = new OpenAI();\n"
            + handler.format(
                body="  const run = await ai.beta.threads.createAndRunPoll({ assistant_id: 'a', thread: { messages: [q] } });\n"
                "  return Response.json(run);\n"
            ),
            "app/api/v3/route.ts": "import { OpenAIApi } from 'openai';\nconst api = new OpenAIApi();\n"
            + handler.format(
                body="  const r = await api.createChatCompletion({ model: 'm', messages: [q] });\n"
                "  return Response.json(r.data);\n"
            ),
            # Safe look-alike: a route whose only `threads` are forum threads of the shop's own database.
            "app/api/forum/route.ts": "import { db } from '../../../lib/db';\n"
            + handler.format(body="  return Response.json(await db.threads.find(q));\n"),
            "lib/db.ts": "export const db = { threads: { find: async (q: string) => [q] } };\n",
        },
    )
    assert _places(app) == {
        ("app/api/graph/route.ts", 3),
        ("app/api/tgi/route.ts", 1),
        ("app/api/assist/route.ts", 3),
        ("app/api/v3/route.ts", 3),
    }
