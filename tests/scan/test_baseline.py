"""Baselines in monorepos: an entry accepts a finding only in the app and file it names, whichever folder is
scanned; entries of older leaklines (no "app") keep working where their path names the finding's file; SARIF
fingerprints differ between the apps of one run."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tests.scan.test_cli import LOGGING_ROUTE

Cli = Callable[..., tuple[int, str, str]]
ROUTE = "app/api/chat/route.ts"


def _monorepo(root: Path) -> Path:
    """Two identical apps, apps/a and apps/b, in a git work tree."""
    (root / ".git").mkdir(parents=True)
    for name in ("a", "b"):
        app = root / "apps" / name
        (app / "app/api/chat").mkdir(parents=True)
        (app / "package.json").write_text('{"dependencies": {"next": "15.2.4"}}')
        (app / ROUTE).write_text(LOGGING_ROUTE)
    return root


def _suppressed(cli: Cli, path: Path, baseline: Path) -> list[tuple[str, str | None]]:
    code, out, err = cli("scan", str(path), "--rule", "LL007", "--format", "json", "--baseline", str(baseline))
    assert code in (0, 1), err
    return [(f["path"], f.get("suppressed")) for f in json.loads(out)["findings"]]


def _fingerprint(cli: Cli, app: Path) -> str:
    """The fingerprint of LL007's one finding in `app` (the same in every copy of the app)."""
    [finding] = json.loads(cli("scan", str(app), "--rule", "LL007", "--format", "json")[1])["findings"]
    fp: str = finding["fingerprint"]
    return fp


def _entries(baseline: Path) -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads(baseline.read_text(encoding="utf-8"))["findings"]
    return data


def test_a_baseline_of_one_app_does_not_suppress_the_same_finding_in_another(cli: Cli, tmp_path: Path) -> None:
    repo = _monorepo(tmp_path / "repo")
    a = repo / "apps" / "a"
    assert cli("scan", str(a), "--rule", "LL007", "--write-baseline")[0] == 0
    baseline = a / ".leakline-baseline.json"
    assert [(e["app"], e["path"]) for e in _entries(baseline)] == [(".", ROUTE)]
    assert _suppressed(cli, repo, baseline) == [
        (f"apps/a/{ROUTE}", "baseline"),
        (f"apps/b/{ROUTE}", None),
    ]
    assert _suppressed(cli, a, baseline) == [(ROUTE, "baseline")]
    assert _suppressed(cli, repo / "apps" / "b", baseline) == [(ROUTE, None)]


def test_a_root_baseline_names_each_app_from_its_own_folder(cli: Cli, tmp_path: Path) -> None:
    repo = _monorepo(tmp_path / "repo")
    baseline = repo / "leakline-baseline.json"
    assert (
        cli("scan", str(repo / "apps" / "a"), "--rule", "LL007", "--write-baseline", "--baseline", str(baseline))[0]
        == 0
    )
    assert [(e["app"], e["path"]) for e in _entries(baseline)] == [("apps/a", f"apps/a/{ROUTE}")]
    assert _suppressed(cli, repo, baseline) == [(f"apps/a/{ROUTE}", "baseline"), (f"apps/b/{ROUTE}", None)]
    assert _suppressed(cli, repo / "apps" / "a", baseline) == [(ROUTE, "baseline")]


def test_an_entry_whose_path_or_app_names_another_place_suppresses_nothing(cli: Cli, tmp_path: Path) -> None:
    repo = _monorepo(tmp_path / "repo")
    a = repo / "apps" / "a"
    fp = _fingerprint(cli, a)
    assert fp == _fingerprint(cli, repo / "apps" / "b")
    baseline = tmp_path / "edited.json"
    for entry in (
        {"rule": "LL007", "path": "somewhere/else.ts", "fingerprint": fp},
        {"rule": "LL007", "app": "repo/apps/b", "path": f"repo/apps/a/{ROUTE}", "fingerprint": fp},
        {"rule": "LL007", "app": "repo/apps/a", "path": f"repo/apps/a/{ROUTE}x", "fingerprint": fp},
    ):
        baseline.write_text(json.dumps({"version": 1, "findings": [entry]}))
        assert _suppressed(cli, a, baseline) == [(ROUTE, None)], entry
    baseline.write_text(
        json.dumps(
            {
                "version": 1,
                "findings": [
                    {"rule": "LL007", "app": "repo/apps/a", "path": f"repo/apps/a/{ROUTE}", "fingerprint": fp}
                ],
            }
        )
    )
    assert _suppressed(cli, a, baseline) == [(ROUTE, "baseline")]
    assert _suppressed(cli, repo, baseline) == [(f"apps/a/{ROUTE}", "baseline"), (f"apps/b/{ROUTE}", None)]


def test_old_baselines_without_apps_keep_working(cli: Cli, tmp_path: Path) -> None:
    repo = _monorepo(tmp_path / "repo")
    # A single app's own baseline, as leakline wrote it before: path relative to the scanned app.
    a = repo / "apps" / "a"
    fp = _fingerprint(cli, a)
    own = a / ".leakline-baseline.json"
    own.write_text(json.dumps({"version": 1, "findings": [{"rule": "LL007", "path": ROUTE, "fingerprint": fp}]}))
    assert _suppressed(cli, a, own) == [(ROUTE, "baseline")]
    assert _suppressed(cli, repo, own) == [(f"apps/a/{ROUTE}", "baseline"), (f"apps/b/{ROUTE}", None)]
    # A file kept elsewhere (`--baseline ci/base.json`) matches as the scan that wrote it saw the path.
    elsewhere = tmp_path / "ci" / "base.json"
    elsewhere.parent.mkdir()
    elsewhere.write_text(own.read_text())
    assert _suppressed(cli, a, elsewhere) == [(ROUTE, "baseline")]
    # A root baseline written by a root scan.
    root = repo / ".leakline-baseline.json"
    root.write_text(
        json.dumps({"version": 1, "findings": [{"rule": "LL007", "path": f"apps/b/{ROUTE}", "fingerprint": fp}]})
    )
    assert _suppressed(cli, repo, root) == [(f"apps/a/{ROUTE}", None), (f"apps/b/{ROUTE}", "baseline")]
    assert _suppressed(cli, repo / "apps" / "b", root) == [(ROUTE, "baseline")]
    # Rewriting keeps it accepted and adds the app.
    assert cli("scan", str(repo), "--rule", "LL007", "--write-baseline", "--baseline", str(root))[0] == 0
    assert [(e.get("app"), e["path"]) for e in _entries(root)] == [
        ("apps/a", f"apps/a/{ROUTE}"),
        ("apps/b", f"apps/b/{ROUTE}"),
    ]


def test_sarif_fingerprints_differ_between_the_apps_of_one_run(cli: Cli, tmp_path: Path) -> None:
    repo = _monorepo(tmp_path / "repo")

    def fingerprints(path: Path) -> dict[str, str]:
        code, out, _ = cli("scan", str(path), "--rule", "LL007", "--format", "sarif")
        assert code == 1
        results = json.loads(out)["runs"][0]["results"]
        return {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]: r["partialFingerprints"]["leakline/v1"]
            for r in results
        }

    together = fingerprints(repo)
    assert set(together) == {f"apps/a/{ROUTE}", f"apps/b/{ROUTE}"}
    assert together[f"apps/a/{ROUTE}"] != together[f"apps/b/{ROUTE}"]
    # Still the same however the repository is scanned.
    assert fingerprints(repo / "apps" / "a") == {f"apps/a/{ROUTE}": together[f"apps/a/{ROUTE}"]}


SHARED_ASK = """import OpenAI from "openai";
const openai = new OpenAI();
export async function ask(q: string) {
  const r = await openai.chat.completions.create({ model: "m", messages: [{ role: "user", content: q }] });
  console.log("answer", r.choices[0].message.content);
  return r.choices[0].message.content;
}
"""


def _workspace_monorepo(root: Path) -> Path:
    """apps/web uses packages/ai, a workspace package outside every app whose module logs model output."""
    from tests.scan.apps import write_files

    return write_files(
        root,
        {
            "package.json": {"name": "mono", "private": True, "workspaces": ["apps/*", "packages/*"]},
            "apps/web/package.json": {"name": "web", "dependencies": {"next": "15.5.7", "@shop/ai": "*"}},
            "apps/web/app/api/chat/route.ts": 'import { ask } from "@shop/ai";\n'
            "export async function POST(req: Request) {\n"
            "  const { q } = await req.json();\n"
            "  return Response.json({ a: await ask(q) });\n"
            "}\n",
            "packages/ai/package.json": {"name": "@shop/ai", "main": "src/index.ts"},
            "packages/ai/src/index.ts": SHARED_ASK,
        },
    )


def _states(cli: Cli, repo: Path) -> tuple[int, list[tuple[str, int, str | None]]]:
    code, out, err = cli("scan", str(repo), "--rule", "LL007", "--format", "json")
    assert code in (0, 1), err
    return code, [(f["path"], f["line"], f.get("suppressed")) for f in json.loads(out)["findings"]]


def test_findings_in_a_shared_workspace_package_are_baselined_through_the_root_file(cli: Cli, tmp_path: Path) -> None:
    repo = _workspace_monorepo(tmp_path / "repo")
    # Without a root setting, --write-baseline writes the package's finding but says that no scan will read it.
    code, _, err = cli("scan", str(repo), "--rule", "LL007", "--write-baseline")
    assert code == 0, err
    assert "hint: 1 finding(s) lie outside every app (shared workspace packages)" in err
    assert _states(cli, repo) == (1, [("packages/ai/src/index.ts", 5, None)])
    # With `[scan] baseline` in the root leakline.toml, the same finding is accepted, and a new one is not.
    (repo / "leakline.toml").write_text('[scan]\nbaseline = ".leakline-baseline.json"\n', encoding="utf-8")
    code, _, err = cli("scan", str(repo), "--rule", "LL007", "--write-baseline")
    assert code == 0 and "hint:" not in err, err
    assert _entries(repo / ".leakline-baseline.json")[0]["path"] == "packages/ai/src/index.ts"
    assert _states(cli, repo) == (0, [("packages/ai/src/index.ts", 5, "baseline")])
    module = repo / "packages/ai/src/index.ts"
    module.write_text(
        SHARED_ASK.replace('  return r.choices', '  console.warn("again", r.choices[0].message.content);\n  return r.choices'),
        encoding="utf-8",
    )
    assert _states(cli, repo) == (
        1,
        [("packages/ai/src/index.ts", 5, "baseline"), ("packages/ai/src/index.ts", 6, None)],
    )
