"""LL019 edge cases beyond the fixture pair."""

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


def _found(app: Path) -> list[tuple[str, int]]:
    result = scan(app, rule_ids=["LL019"])
    assert result.stats.rule_errors == []
    return [(f.path, f.line) for f in result.findings]


def test_option_through_a_constant_and_in_a_wrapped_config(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.js": (
                "const withBundleAnalyzer = require('@next/bundle-analyzer')();\n"
                "const maps = true;\n"
                "module.exports = withBundleAnalyzer({\n"
                "  'productionBrowserSourceMaps': maps,\n"
                "});\n"
            )
        },
    )
    assert _found(app) == [("next.config.js", 4)]


def test_option_known_only_at_run_time_is_not_reported(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {"next.config.mjs": "export default { productionBrowserSourceMaps: process.env.SOURCE_MAPS === '1' };\n"},
    )
    assert _found(app) == []


def test_every_map_file_is_its_own_finding_and_maps_outside_static_are_not(tmp_path: Path) -> None:
    files = {f".next/static/chunks/{n}.js.map": "{}" for n in ("a", "b", "c")}
    files["public/vendor/lib.js.map"] = "{}"
    files["lib/map.ts"] = "export const m = new Map();\n"
    app = _app(tmp_path, files)
    assert _found(app) == [
        (".next/static/chunks/a.js.map", 1),
        (".next/static/chunks/b.js.map", 1),
        (".next/static/chunks/c.js.map", 1),
    ]


def test_inline_map_is_reported_on_its_line(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {".next/static/chunks/x.js": "var a=1;\nvar b=2;\n//# sourceMappingURL=data:application/json;base64,e30=\n"},
    )
    assert _found(app) == [(".next/static/chunks/x.js", 3)]


def test_shorthand_option(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.mjs": (
                "const productionBrowserSourceMaps = true;\nexport default {\n  productionBrowserSourceMaps,\n};\n"
            )
        },
    )
    assert _found(app) == [("next.config.mjs", 3)]


def test_option_in_a_base_config_module(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "config/base.mjs": "export default {\n  productionBrowserSourceMaps: true,\n};\n",
            "next.config.mjs": "import base from './config/base.mjs';\nexport default { ...base };\n",
        },
    )
    assert _found(app) == [("config/base.mjs", 2)]


def test_css_maps_are_low_severity(tmp_path: Path) -> None:
    app = _app(tmp_path, {".next/static/css/a.css.map": "{}", ".next/static/chunks/a.js.map": "{}"})
    result = scan(app, rule_ids=["LL019"])
    assert [(f.path, f.severity.value) for f in result.findings] == [
        (".next/static/chunks/a.js.map", "medium"),
        (".next/static/css/a.css.map", "low"),
    ]


def test_option_on_in_production_builds(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.mjs": "export default {\n  productionBrowserSourceMaps: process.env.NODE_ENV === 'production',\n};\n"
        },
    )
    assert _found(app) == [("next.config.mjs", 2)]


SENTRY_CONFIG = """import type { NextConfig } from 'next';
import { withSentryConfig } from '@sentry/nextjs';

const nextConfig: NextConfig = {
  productionBrowserSourceMaps: true,
};

const sentryOptions = { org: 'shop', project: 'storefront', %s };
export default withSentryConfig(nextConfig, sentryOptions);
"""


def test_maps_that_sentry_deletes_after_upload_are_not_reported_at_the_option(tmp_path: Path) -> None:
    """The reviewer's l19: productionBrowserSourceMaps: true inside withSentryConfig(..., { sourcemaps: {
    deleteSourcemapsAfterUpload: true } }) was reported, though LL019's Fix recommends exactly this."""
    cases = {
        "sourcemaps: { deleteSourcemapsAfterUpload: true }": [],
        "sourcemaps: { filesToDeleteAfterUpload: ['.next/static/**/*.map'] }": [],
        "sourcemaps: { filesToDeleteAfterUpload: './**/*.js.map' }": [],
        # Near misses: nothing deleted, or not the browser maps.
        "sourcemaps: { deleteSourcemapsAfterUpload: false }": [("next.config.ts", 5)],
        "sourcemaps: { disable: true, deleteSourcemapsAfterUpload: true }": [("next.config.ts", 5)],
        "sourcemaps: { filesToDeleteAfterUpload: ['.next/server/**/*.map'] }": [("next.config.ts", 5)],
        "hideSourceMaps: true": [("next.config.ts", 5)],
        "widenClientFileUpload: true": [("next.config.ts", 5)],
    }
    for n, (options, expected) in enumerate(cases.items()):
        (tmp_path / str(n)).mkdir()
        app = _app(tmp_path / str(n), {"next.config.ts": SENTRY_CONFIG % options})
        assert _found(app) == expected, options


def test_maps_left_in_the_build_are_still_reported_when_sentry_should_delete_them(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.ts": SENTRY_CONFIG % "sourcemaps: { deleteSourcemapsAfterUpload: true }",
            ".next/static/chunks/app/page-4f1c.js.map": "{}",
        },
    )
    assert _found(app) == [(".next/static/chunks/app/page-4f1c.js.map", 1)]
