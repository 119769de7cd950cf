"""The JSON report's per-finding keys as docs/scan.md documents them: every finding carries `suppressed`,
`suppression_kind`, `suppression_reason` (null when active) and `app`; SARIF tells a baseline from an inline
comment by how the finding was suppressed, not by its reason's text."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.scan.test_cli import LOGGING_ROUTE

Cli = Callable[..., tuple[int, str, str]]
MakeApp = Callable[..., Path]

ROUTE = "app/api/chat/route.ts"
# LOGGING_ROUTE logs at line 7; three more logging lines follow it here.
LOGGED = LOGGING_ROUTE.replace(
    "  console.log(answer);\n",
    "  console.log(answer);\n"
    "  console.info(answer); // leakline-ignore LL007: baseline\n"
    "  console.warn(answer); // leakline-ignore LL007\n"
    "  console.error(answer); // leakline-ignore LL007 - hashed upstream\n",
)
KEYS = [
    "rule",
    "severity",
    "confidence",
    "path",
    "line",
    "column",
    "message",
    "evidence",
    "fingerprint",
    "references",
    "suppressed",
    "suppression_kind",
    "suppression_reason",
    "app",
]


def _suppression(finding: dict[str, object]) -> tuple[object, ...]:
    return (finding["line"], finding["suppressed"], finding["suppression_kind"], finding["suppression_reason"])


def test_every_finding_has_every_key_and_inline_reasons_are_separate(cli: Cli, make_app: MakeApp) -> None:
    app = make_app({ROUTE: LOGGED})
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--format", "json")
    findings = json.loads(out)["findings"]
    assert code == 1
    assert [list(f) for f in findings] == [KEYS] * 4
    assert [_suppression(f) for f in findings] == [
        (7, None, None, None),
        # An inline reason that reads "baseline" is still an inline suppression.
        (8, "baseline", "inline", "baseline"),
        (9, "inline leakline-ignore", "inline", None),
        (10, "hashed upstream", "inline", "hashed upstream"),
    ]
    assert {f["app"] for f in findings} == {"."}


def test_baselined_findings_and_the_app_of_each_finding_in_a_monorepo(
    cli: Cli, make_app: MakeApp, tmp_path: Path
) -> None:
    for name in ("apps/web", "apps/admin"):
        make_app({ROUTE: LOGGING_ROUTE}, name=f"repo/{name}")
    repo = tmp_path / "repo"
    baseline = tmp_path / "baseline.json"
    assert (
        cli("scan", str(repo / "apps/web"), "--rule", "LL007", "--write-baseline", "--baseline", str(baseline))[0] == 0
    )
    code, out, _ = cli("scan", str(repo), "--rule", "LL007", "--format", "json", "--baseline", str(baseline))
    findings = json.loads(out)["findings"]
    assert code == 1
    assert [
        (f["app"], f["path"], f["suppressed"], f["suppression_kind"], f["suppression_reason"]) for f in findings
    ] == [
        ("apps/admin", f"apps/admin/{ROUTE}", None, None, None),
        ("apps/web", f"apps/web/{ROUTE}", "baseline", "baseline", None),
    ]


def test_sarif_marks_an_inline_reason_reading_baseline_as_in_source(
    cli: Cli, make_app: MakeApp, tmp_path: Path
) -> None:
    app = make_app({ROUTE: LOGGED})
    baseline = tmp_path / "b.json"
    # Line 7 goes into the baseline; the inline comments keep their lines suppressed as before.
    cli("scan", str(app), "--rule", "LL007", "--write-baseline", "--baseline", str(baseline))
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--format", "sarif", "--baseline", str(baseline))
    results = json.loads(out)["runs"][0]["results"]
    assert code == 0
    assert [
        (r["locations"][0]["physicalLocation"]["region"]["startLine"], r["suppressions"][0]["kind"]) for r in results
    ] == [(7, "external"), (8, "inSource"), (9, "inSource"), (10, "inSource")]
