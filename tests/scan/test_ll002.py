"""LL002 edge cases beyond the fixture pair: exact lines inside multi-line policies, policies from other
modules and helpers, run-time values."""

from __future__ import annotations

import json
from pathlib import Path

from leakline.scan.engine import scan

PACKAGE = json.dumps({"name": "t", "dependencies": {"next": "15.2.4"}})


def _app(tmp_path: Path, files: dict[str, str]) -> Path:
    (tmp_path / "package.json").write_text(PACKAGE, encoding="utf-8")
    for rel, text in files.items():
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return tmp_path


def _found(app: Path) -> list[tuple[str, int, int, str]]:
    result = scan(app, rule_ids=["LL002"])
    assert result.stats.rule_errors == []
    return [(f.path, f.line, f.column, f.message) for f in result.findings]


NEXT_DOCS_CONFIG = """\
const cspHeader = `
    default-src 'self';
    script-src 'self' 'unsafe-eval' 'unsafe-inline';
    style-src 'self' 'unsafe-inline';
    img-src 'self' blob: data:;
    font-src 'self';
    object-src 'none';
    base-uri 'self';
    form-action 'self';
    frame-ancestors 'none';
    upgrade-insecure-requests;
`

module.exports = {
  async headers() {
    return [
      {
        source: '/(.*)',
        headers: [
          {
            key: 'Content-Security-Policy',
            value: cspHeader.replace(/\\n/g, ''),
          },
        ],
      },
    ]
  },
}
"""


def test_the_nextjs_docs_example_policy_is_reported_on_its_script_src_line(tmp_path: Path) -> None:
    app = _app(tmp_path, {"next.config.js": NEXT_DOCS_CONFIG})
    assert _found(app) == [
        (
            "next.config.js",
            3,
            23,
            "weak Content-Security-Policy: script-src: 'unsafe-eval' runs strings as code; "
            "script-src: 'unsafe-inline' without a nonce or hash runs injected inline scripts",
        )
    ]


def test_a_policy_defined_in_another_module_is_reported_where_its_text_is(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "lib/csp.ts": "export const policy = [\n  \"default-src 'self'\",\n  'connect-src *',\n].join('; ');\n",
            "middleware.ts": (
                "import { NextResponse } from 'next/server';\n"
                "import { policy } from './lib/csp';\n"
                "export function middleware() {\n"
                "  const res = NextResponse.next();\n"
                "  res.headers.set('Content-Security-Policy', policy);\n"
                "  return res;\n"
                "}\n"
            ),
        },
    )
    assert [(p, line) for p, line, _, _ in _found(app)] == [("lib/csp.ts", 3)]


def test_a_missing_connect_src_without_default_src_is_reported_on_the_policy_line(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "vercel.json": (
                '{\n  "headers": [{"source": "/(.*)", "headers": [\n'
                '    {"key": "Content-Security-Policy", "value": "script-src \'self\'; img-src \'self\'"}\n'
                "  ]}]\n}\n"
            )
        },
    )
    ((path, line, _, message),) = _found(app)
    assert (path, line) == ("vercel.json", 3)
    assert message == (
        "weak Content-Security-Policy: connect-src: missing, and no default-src: fetch/XHR/WebSocket may send data anywhere"
    )


def test_helper_directives_are_judged_at_the_directive_line(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "middleware.ts": (
                "import { createMiddleware, defaults } from '@nosecone/next';\n"
                "export default createMiddleware({\n"
                "  ...defaults,\n"
                "  contentSecurityPolicy: { directives: {\n"
                "    ...defaults.contentSecurityPolicy.directives,\n"
                "    scriptSrc: [\"'self'\", \"'unsafe-inline'\"],\n"
                "  } },\n"
                "});\n"
            )
        },
    )
    assert [(p, line) for p, line, _, _ in _found(app)] == [("middleware.ts", 6)]


def test_run_time_values_are_not_judged(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "middleware.ts": (
                "import { NextResponse } from 'next/server';\n"
                "export function middleware() {\n"
                "  const res = NextResponse.next();\n"
                "  res.headers.set('Content-Security-Policy', process.env.CSP!);\n"
                "  res.headers.set('Content-Security-Policy', `${process.env.BASE}; script-src 'self'`);\n"
                "  return res;\n"
                "}\n"
            )
        },
    )
    assert _found(app) == []


def test_fingerprint_survives_fixing_one_of_two_problems_on_a_line(tmp_path: Path) -> None:
    config = "export default {{ headers: async () => [{{ source: '/', headers: [\n  {{ key: 'Content-Security-Policy', value: \"default-src 'self'; script-src {}\" }},\n] }}] }};\n"
    app = _app(tmp_path, {"next.config.mjs": config.format("'unsafe-inline' 'unsafe-eval'")})
    (before,) = scan(app, rule_ids=["LL002"]).findings
    (app / "next.config.mjs").write_text(config.format("'unsafe-eval'"), encoding="utf-8")
    (after,) = scan(app, rule_ids=["LL002"]).findings
    assert (before.line, after.line) == (2, 2)
    assert before.message != after.message
    assert before.fingerprint == after.fingerprint
