"""SARIF locations as GitHub code scanning reads them: relative to the repository, whatever folder was scanned.

Code scanning resolves a relative `artifactLocation.uri` against the root of the repository (it ignores
`originalUriBaseIds`), so a scan of `apps/web` must report `apps/web/app/...`, while JSON and text keep paths
relative to the scanned folder and fingerprints stay the ones baselines already hold.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from leakline.reports.sarif import app_fingerprint
from tests.scan.test_cli import LOGGING_ROUTE

Cli = Callable[..., tuple[int, str, str]]
MakeApp = Callable[..., Path]
ROUTE = "app/api/chat/route.ts"


def _sarif(cli: Cli, path: Path, *extra: str) -> dict[str, Any]:
    code, out, err = cli("scan", str(path), "--format", "sarif", "--rule", "LL007", "--no-progress", *extra)
    assert code == 1, err
    log: dict[str, Any] = json.loads(out)
    return log


def _locations(log: dict[str, Any]) -> list[tuple[str, str, int, str]]:
    """(uri, uriBaseId, startLine, leakline fingerprint) of every result."""
    out = []
    for result in log["runs"][0]["results"]:
        physical = result["locations"][0]["physicalLocation"]
        artifact = physical["artifactLocation"]
        fp = result["partialFingerprints"]["leakline/v1"]
        out.append((artifact["uri"], artifact["uriBaseId"], physical["region"]["startLine"], fp))
    return out


def _srcroot(log: dict[str, Any]) -> str:
    uri: str = log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    return uri


def _json_findings(cli: Cli, path: Path) -> list[tuple[str, int, str]]:
    code, out, _ = cli("scan", str(path), "--format", "json", "--rule", "LL007", "--no-progress")
    assert code == 1
    return [(f["path"], f["line"], f["fingerprint"]) for f in json.loads(out)["findings"]]


def _no_git_above(path: Path) -> bool:
    return not any((folder / ".git").exists() for folder in (path, *path.parents))


def test_a_subfolder_of_a_git_work_tree_reports_uris_from_the_repository_root(
    cli: Cli, make_app: MakeApp, tmp_path: Path
) -> None:
    (tmp_path / ".git").mkdir()
    app = make_app({ROUTE: LOGGING_ROUTE}, name="apps/web")
    log = _sarif(cli, app)
    [(uri, base, line, fp)] = _locations(log)
    assert (uri, base, line) == ("apps/web/app/api/chat/route.ts", "%SRCROOT%", 7)
    assert _srcroot(log) == tmp_path.resolve().as_uri() + "/"
    assert (tmp_path / uri).is_file()
    # JSON keeps paths relative to the scanned folder; SARIF tells the fingerprint apart by the app's folder.
    [(path, json_line, json_fp)] = _json_findings(cli, app)
    assert (path, json_line, fp) == (ROUTE, 7, app_fingerprint(json_fp, "apps/web"))


def test_a_git_file_marks_the_root_of_a_worktree_or_submodule(cli: Cli, make_app: MakeApp, tmp_path: Path) -> None:
    # `git worktree add` and submodules leave a `.git` file pointing at the real git directory.
    (tmp_path / ".git").write_text("gitdir: /somewhere/else/.git/worktrees/web\n")
    app = make_app({ROUTE: LOGGING_ROUTE}, name="apps/web")
    log = _sarif(cli, app)
    assert [loc[:3] for loc in _locations(log)] == [("apps/web/app/api/chat/route.ts", "%SRCROOT%", 7)]
    assert _srcroot(log) == tmp_path.resolve().as_uri() + "/"


def test_the_nearest_git_root_wins(cli: Cli, make_app: MakeApp, tmp_path: Path) -> None:
    """A submodule (or a nested repository) is its own root: its files are not in the outer repository."""
    (tmp_path / ".git").mkdir()
    (tmp_path / "apps" / ".git").mkdir(parents=True)
    app = make_app({ROUTE: LOGGING_ROUTE}, name="apps/web")
    log = _sarif(cli, app)
    assert [loc[:3] for loc in _locations(log)] == [("web/app/api/chat/route.ts", "%SRCROOT%", 7)]
    assert _srcroot(log) == (tmp_path / "apps").resolve().as_uri() + "/"


def test_outside_a_git_work_tree_uris_stay_relative_to_the_scanned_folder(cli: Cli, make_app: MakeApp) -> None:
    app = make_app({ROUTE: LOGGING_ROUTE}, name="apps/web")
    assert _no_git_above(app), "the test needs a tmp_path outside any git work tree"
    log = _sarif(cli, app)
    assert [loc[:3] for loc in _locations(log)] == [(ROUTE, "%SRCROOT%", 7)]
    assert _srcroot(log) == app.resolve().as_uri() + "/"


def test_fingerprints_do_not_depend_on_the_folder_scanned(cli: Cli, make_app: MakeApp, tmp_path: Path) -> None:
    """In a git work tree, scanning the repository root or the app folder gives the same partialFingerprints: the
    JSON (baseline) fingerprint told apart by the app's folder from the repository root. Without git the scanned
    app is the root, and its fingerprints are the JSON ones. A baseline written for the app suppresses the
    SARIF result."""
    app = make_app({ROUTE: LOGGING_ROUTE}, name="apps/web")
    outside_git = _locations(_sarif(cli, app))
    (tmp_path / ".git").mkdir()
    from_app = _locations(_sarif(cli, app))
    from_root = _locations(_sarif(cli, tmp_path))
    assert from_app == from_root
    json_fps = [fp for *_, fp in _json_findings(cli, app)]
    assert [fp for *_, fp in outside_git] == json_fps
    assert [fp for *_, fp in from_app] == [app_fingerprint(fp, "apps/web") for fp in json_fps]

    baseline = tmp_path / "web-baseline.json"
    assert cli("scan", str(app), "--rule", "LL007", "--write-baseline", "--baseline", str(baseline))[0] == 0
    code, out, _ = cli("scan", str(app), "--format", "sarif", "--rule", "LL007", "--baseline", str(baseline))
    assert code == 0
    [result] = json.loads(out)["runs"][0]["results"]
    assert result["suppressions"] == [{"kind": "external", "status": "accepted", "justification": "baseline"}]
    assert result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "apps/web/" + ROUTE


def test_uris_are_percent_encoded(cli: Cli, make_app: MakeApp, tmp_path: Path) -> None:
    """A SARIF uri is an RFC 3986 reference: upload-sarif rejects one with a space, and `[` `]` may not appear in a
    path. Route groups and parallel routes keep their `(` `)` and `@`; decoded, the uri names the file."""
    (tmp_path / ".git").mkdir()
    rel = "app/(shop)/@modal/api/chat/[id]/route.ts"
    app = make_app({rel: LOGGING_ROUTE}, name="apps/my web")
    [(uri, *_)] = _locations(_sarif(cli, app))
    assert uri == "apps/my%20web/app/(shop)/@modal/api/chat/%5Bid%5D/route.ts"
    assert (tmp_path / unquote(uri)).is_file()
    assert _json_findings(cli, app)[0][0] == rel


def test_a_folder_name_that_is_not_utf8_is_encoded_from_its_bytes(cli: Cli, make_app: MakeApp, tmp_path: Path) -> None:
    """Between the git root and the scanned folder the real bytes are known: they are percent-encoded as they are
    (`%E9`), which names the folder, rather than failing on Python's surrogate escapes."""
    import os

    (tmp_path / ".git").mkdir()
    app = make_app({ROUTE: LOGGING_ROUTE}, name=os.fsdecode(b"caf\xe9") + "/web")
    [(uri, *_)] = _locations(_sarif(cli, app))
    assert uri == "caf%E9/web/" + ROUTE


def test_security_severity_is_each_rules_common_case(cli: Cli, make_app: MakeApp) -> None:
    """GitHub reads `security-severity` from the rule (reportingDescriptor) only; a result cannot override it.
    So each rule carries the score of its common case: LL003/LL004 report mostly high findings (a secret-ish
    name), critical only for a provider key by value, and must not show every one of them as Critical."""
    app = make_app(
        {
            ROUTE: LOGGING_ROUTE,
            "app/components/Widget.tsx": "'use client';\nexport const k = process.env.STRIPE_SECRET_KEY;\n",
            ".env": "NEXT_PUBLIC_SUPPORT_TOKEN=abc\n",
        }
    )
    code, out, err = cli(
        "scan", str(app), "--format", "sarif", "--rule", "LL003", "--rule", "LL004", "--rule", "LL007",
        "--rule", "LL020", "--no-progress",
    )  # fmt: skip
    assert code == 1, err
    run = json.loads(out)["runs"][0]
    scores = {rule["id"]: rule["properties"]["security-severity"] for rule in run["tool"]["driver"]["rules"]}
    assert scores == {"LL003": "8.0", "LL004": "8.0", "LL007": "8.0", "LL020": "3.0"}
    assert {(r["ruleId"], r["properties"]["severity"]) for r in run["results"]} == {
        ("LL003", "high"),
        ("LL004", "high"),
        ("LL007", "high"),
        ("LL020", "low"),
    }


def test_rules_whose_highest_severity_is_rare_keep_their_common_score() -> None:
    from leakline.reports.sarif import security_severity
    from leakline.scan.rules import registry

    assert {rule_id: security_severity(meta) for rule_id, meta in registry().items() if rule_id <= "LL008"} == {
        "LL001": "5.5",
        "LL002": "5.5",
        "LL003": "8.0",
        "LL004": "8.0",
        "LL005": "9.5",
        "LL006": "8.0",
        "LL007": "8.0",
        "LL008": "9.5",
    }
