"""LL016's applicability (App Router? Pages Router? a middleware?) is read from the files the walk found, not
from those indexed: `[scan] exclude`, the size cap or a read error leave a route or a middleware out of the
analysis, never out of the deployed app."""

from __future__ import annotations

import json
from pathlib import Path

from leakline.findings import Finding
from leakline.scan.engine import scan

PAGE = "export default function Page() { return null; }\n"
MIDDLEWARE = (
    "import { NextResponse } from 'next/server';\nexport function middleware() { return NextResponse.next(); }\n"
)
NEXT_LINE = 5
"""The line of `"next": ...` in the package.json `_app` writes."""


def _app(root: Path, next_version: str, files: dict[str, str], toml: str = "") -> Path:
    root.mkdir(parents=True)
    manifest = {"name": root.name, "private": True, "dependencies": {"next": next_version}}
    (root / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    if toml:
        (root / "leakline.toml").write_text(toml)
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _ids(finding: Finding) -> list[str]:
    head = finding.message.split(" is affected by ", 1)[1]
    return head.split(" (applies here", 1)[0].split(":", 1)[0].split(", ")


def _findings(app: Path) -> list[Finding]:
    result = scan(app, rule_ids=["LL016"])
    assert result.stats.rule_errors == []
    return result.findings


def test_an_app_router_left_out_by_scan_exclude_still_counts(tmp_path: Path) -> None:
    files = {"app/page.tsx": PAGE, "app/api/chat/route.ts": "export async function POST() {}\n"}
    app = _app(tmp_path / "admin", "15.0.3", files, '[scan]\nexclude = ["app/**"]\n')
    (finding,) = _findings(app)
    assert (finding.rule, finding.path, finding.line) == ("LL016", "package.json", NEXT_LINE)
    assert _ids(finding)[0] == "CVE-2025-66478"
    assert finding.severity.value == "critical"
    assert "(applies here: App Router)" in finding.message


def test_without_an_app_folder_the_app_router_advisories_do_not_apply(tmp_path: Path) -> None:
    # Look-alike: `[scan] exclude` of a folder that holds no router; a lib/app/ folder is no App Router either.
    files = {"pages/index.tsx": PAGE, "lib/app/page.tsx": PAGE}
    app = _app(tmp_path / "shop", "15.0.3", files, '[scan]\nexclude = ["lib/**"]\n')
    assert _findings(app) == []


def test_a_pages_router_left_out_by_scan_exclude_still_counts(tmp_path: Path) -> None:
    app = _app(tmp_path / "shop", "14.2.5", {"pages/index.tsx": PAGE}, '[scan]\nexclude = ["pages"]\n')
    (finding,) = _findings(app)
    assert (finding.rule, finding.path, finding.line) == ("LL016", "package.json", NEXT_LINE)
    assert _ids(finding) == ["CVE-2024-46982"]


def test_a_middleware_over_the_size_cap_still_counts(tmp_path: Path) -> None:
    big = MIDDLEWARE + "// " + "x" * 2000 + "\n"
    files = {"app/page.tsx": PAGE, "middleware.ts": big}
    app = _app(tmp_path / "shop", "15.1.7", files, "[scan]\nmax_file_bytes = 1000\n")
    result = scan(app, rule_ids=["LL016"])
    assert result.stats.skipped_files == [("middleware.ts", "larger than [scan] max_file_bytes")]
    (finding,) = result.findings
    assert (finding.rule, finding.path, finding.line) == ("LL016", "package.json", NEXT_LINE)
    assert _ids(finding)[0] == "CVE-2025-29927"
    assert "middleware/proxy present" in finding.message


def test_an_excluded_middleware_still_counts_but_not_one_next_never_runs(tmp_path: Path) -> None:
    toml = '[scan]\nexclude = ["middleware.ts", "src/middleware.ts"]\n'
    app = _app(tmp_path / "shop", "15.1.7", {"app/page.tsx": PAGE, "middleware.ts": MIDDLEWARE}, toml)
    (finding,) = _findings(app)
    assert _ids(finding)[0] == "CVE-2025-29927"
    # Look-alike: a root middleware.ts beside src/app is never built, excluded or not.
    other = _app(tmp_path / "src-app", "15.1.7", {"src/app/page.tsx": PAGE, "middleware.ts": MIDDLEWARE}, toml)
    (finding,) = _findings(other)
    assert "CVE-2025-29927" not in _ids(finding)
    assert "middleware/proxy present" not in finding.message
