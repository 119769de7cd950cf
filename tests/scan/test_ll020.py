"""LL020 edge cases beyond the fixture pair: the message lists exactly what is missing."""

from __future__ import annotations

import json
from pathlib import Path

from leakline.scan.engine import scan

PACKAGE = json.dumps({"name": "t", "dependencies": {"next": "15.2.4"}})
ALL = (
    "missing baseline security headers: Strict-Transport-Security, X-Content-Type-Options: nosniff, "
    "Referrer-Policy, frame protection (X-Frame-Options or CSP frame-ancestors)"
)


def _app(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "package.json").write_text(PACKAGE, encoding="utf-8")
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def _found(app: Path) -> list[tuple[str, int, str]]:
    result = scan(app, rule_ids=["LL020"])
    assert result.stats.rule_errors == []
    return [(f.path, f.line, f.message) for f in result.findings]


def test_nothing_set_lists_all_four_on_package_json_without_next_config(tmp_path: Path) -> None:
    assert _found(_app(tmp_path, {})) == [("package.json", 1, ALL)]


def test_nosecone_defaults_cover_everything(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.ts": "export default {};\n",
            "middleware.ts": "import { createMiddleware } from '@nosecone/next';\nexport default createMiddleware();\n",
        },
    )
    assert _found(app) == []


def test_next_secure_headers_defaults_lack_only_a_referrer_policy(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.mjs": (
                "import { createSecureHeaders } from 'next-secure-headers';\n"
                "export default { headers: async () => [{ source: '/(.*)', headers: createSecureHeaders() }] };\n"
            )
        },
    )
    assert _found(app) == [("next.config.mjs", 1, "missing baseline security headers: Referrer-Policy")]


def test_wrong_nosniff_value_and_dynamic_csp(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.mjs": "export default {};\n",
            "middleware.ts": (
                "import { NextResponse } from 'next/server';\n"
                "export function middleware() {\n"
                "  const res = NextResponse.next();\n"
                "  res.headers.set('X-Content-Type-Options', 'sniff');\n"
                "  res.headers.set('Strict-Transport-Security', 'max-age=63072000');\n"
                "  res.headers.set('Referrer-Policy', 'no-referrer');\n"
                "  // frame-ancestors may be in a policy built at run time: not reported\n"
                "  res.headers.set('Content-Security-Policy', buildPolicy());\n"
                "  return res;\n"
                "}\n"
            ),
        },
    )
    assert _found(app) == [("next.config.mjs", 1, "missing baseline security headers: X-Content-Type-Options: nosniff")]


def test_fingerprint_is_stable_while_headers_are_added(tmp_path: Path) -> None:
    app = _app(tmp_path, {"next.config.mjs": "export default {};\n"})
    (before,) = scan(app, rule_ids=["LL020"]).findings
    (app / "vercel.json").write_text(
        '{"headers": [{"source": "/(.*)", "headers": [{"key": "X-Frame-Options", "value": "DENY"}]}]}'
    )
    (after,) = scan(app, rule_ids=["LL020"]).findings
    assert before.message != after.message
    assert before.fingerprint == after.fingerprint
