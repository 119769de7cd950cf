"""LL001 edge cases beyond the fixture pair: where it is reported and which places count as a policy."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakline.scan.engine import scan

PACKAGE = json.dumps({"name": "t", "dependencies": {"next": "15.2.4"}})


def _app(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "package.json").write_text(PACKAGE, encoding="utf-8")
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def _found(app: Path) -> list[tuple[str, int, str]]:
    result = scan(app, rule_ids=["LL001"])
    assert result.stats.rule_errors == []
    return [(f.path, f.line, f.message) for f in result.findings]


def test_without_next_config_the_finding_goes_on_package_json(tmp_path: Path) -> None:
    app = _app(tmp_path, {"app/page.tsx": "export default function P() { return null; }\n"})
    assert [(p, line) for p, line, _ in _found(app)] == [("package.json", 1)]


def test_report_only_is_named_in_the_message(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.mjs": (
                "export default { async headers() { return [{ source: '/(.*)', headers: [\n"
                "  { key: 'Content-Security-Policy-Report-Only', value: \"default-src 'self'\" },\n"
                "] }] } };\n"
            )
        },
    )
    ((path, line, message),) = _found(app)
    assert (path, line) == ("next.config.mjs", 1)
    assert "only Content-Security-Policy-Report-Only (next.config.mjs:2)" in message


@pytest.mark.parametrize(
    "files",
    [
        {
            "app/layout.tsx": 'export default () => <meta httpEquiv="Content-Security-Policy" content="default-src \'self\'" />;\n'
        },
        {"middleware.ts": "import { createMiddleware } from '@nosecone/next';\nexport default createMiddleware();\n"},
        {
            "vercel.json": '{"headers": [{"source": "/(.*)", "headers": [{"key": "content-security-policy", "value": "x"}]}]}'
        },
        {
            "next.config.js": (
                "const { createSecureHeaders } = require('next-secure-headers');\n"
                "module.exports = { headers: async () => [{ source: '/(.*)', headers: createSecureHeaders({\n"
                "  contentSecurityPolicy: { directives: { defaultSrc: \"'self'\" } } }) }] };\n"
            )
        },
        {
            "src/proxy.ts": (
                "import { NextResponse } from 'next/server';\n"
                "export function proxy() {\n"
                "  return NextResponse.next({ headers: { 'Content-Security-Policy': policy() } });\n"
                "}\n"
            )
        },
        {
            "pages/_app.tsx": (
                "import withSecureHeaders from 'next-secure-headers';\n"
                "const App = ({ Component, pageProps }) => <Component {...pageProps} />;\n"
                "export default withSecureHeaders({ contentSecurityPolicy: { directives: { defaultSrc: \"'self'\" } } })(App);\n"
            )
        },
    ],
    ids=["meta", "nosecone", "vercel-json", "next-secure-headers", "proxy-init-headers", "with-secure-headers-app"],
)
def test_each_place_that_sets_a_policy_counts(tmp_path: Path, files: dict[str, str]) -> None:
    assert _found(_app(tmp_path, files)) == []


def test_next_secure_headers_without_a_policy_is_still_missing_one(tmp_path: Path) -> None:
    # next-secure-headers sets HSTS, nosniff and X-Frame-Options by default, but no CSP.
    app = _app(
        tmp_path,
        {
            "next.config.js": (
                "const { createSecureHeaders } = require('next-secure-headers');\n"
                "module.exports = { headers: async () => [{ source: '/(.*)', headers: createSecureHeaders() }] };\n"
            )
        },
    )
    assert [(p, line) for p, line, _ in _found(app)] == [("next.config.js", 1)]


def test_a_layout_meta_that_is_not_a_policy_does_not_count(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.ts": "export default {};\n",
            "app/layout.tsx": 'export default () => <meta httpEquiv="refresh" content="30" />;\n',
        },
    )
    assert [(p, line) for p, line, _ in _found(app)] == [("next.config.ts", 1)]


def test_a_policy_set_outside_the_app_is_recorded_with_an_inline_suppression(tmp_path: Path) -> None:
    app = _app(tmp_path, {"next.config.mjs": "// leakline-ignore LL001: set by the CDN\nexport default {};\n"})
    (finding,) = scan(app, rule_ids=["LL001"]).findings
    assert (finding.path, finding.line, finding.suppressed) == ("next.config.mjs", 1, "set by the CDN")


CSP_MIDDLEWARE = (
    "import { NextResponse } from 'next/server';\n"
    "export function middleware() {\n"
    "  const res = NextResponse.next();\n"
    "  res.headers.set('Content-Security-Policy', \"default-src 'self'; script-src 'self'; frame-ancestors 'none'\");\n"
    "  return res;\n"
    "}\n"
)


def test_a_policy_set_by_a_middleware_next_never_runs_does_not_count(tmp_path: Path) -> None:
    # The reviewer's srcapp: routes in src/app, so Next.js only runs src/middleware.ts; the root one sets nothing.
    (tmp_path / "root").mkdir()
    (tmp_path / "src").mkdir()
    app = _app(tmp_path / "root", {"src/app/page.tsx": "export default function P() { return null; }\n"})
    (app / "middleware.ts").write_text(CSP_MIDDLEWARE, encoding="utf-8")
    assert _found(app) == [
        (
            "package.json",
            1,
            "no Content-Security-Policy is set (next.config headers(), middleware/proxy, vercel.json, "
            "<meta http-equiv> and security-header helpers were checked); middleware.ts:4 sets one, but Next.js "
            "never runs middleware.ts: this app's routes are in src/app/, so Next.js only runs middleware.* from "
            "src/; move it to src/middleware.ts",
        )
    ]
    moved = _app(tmp_path / "src", {"src/app/page.tsx": "export default function P() { return null; }\n"})
    (moved / "src" / "middleware.ts").write_text(CSP_MIDDLEWARE, encoding="utf-8")
    assert _found(moved) == []
