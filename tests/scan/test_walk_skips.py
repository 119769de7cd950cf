"""Folders the walk leaves out by accident are named, and symlinks out of the scanned tree are not followed,
neither to find apps nor to read files."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

from leakline.scan.walker import WalkStats, _unlistable, discover_apps

Cli = Callable[..., tuple[int, str, str]]
MakeApp = Callable[..., Path]
ROUTE = "app/api/chat/route.ts"
LOGGING_ROUTE = (
    "import OpenAI from 'openai';\nconst client = new OpenAI();\nexport async function POST(req: Request) {\n"
    "  const r = await client.chat.completions.create({ model: 'm', messages: [] });\n"
    "  console.log(r.choices[0].message.content);\n  return Response.json({});\n}\n"
)


def _json(cli: Cli, app: Path) -> dict[str, object]:
    code, out, err = cli("scan", str(app), "--format", "json", "--no-progress")
    assert code in (0, 1), err
    result: dict[str, object] = json.loads(out)
    return result


def test_a_symlink_out_of_the_tree_is_not_followed_to_find_apps(make_app: MakeApp, tmp_path: Path) -> None:
    """A link to /tmp (or /) inside a repository made discovery scan every Next.js app that lay there."""
    elsewhere = make_app({ROUTE: LOGGING_ROUTE}, name="elsewhere/other")
    app = make_app({ROUTE: LOGGING_ROUTE}, name="repo/shop")
    (app / "outside").symlink_to(elsewhere.parent, target_is_directory=True)
    (app / "lib").mkdir()
    (app / "lib" / "inside").symlink_to(app / "app", target_is_directory=True)
    assert discover_apps(app) == [app]


def test_links_out_and_loops_are_named_in_the_report(cli: Cli, make_app: MakeApp, tmp_path: Path) -> None:
    elsewhere = make_app({ROUTE: LOGGING_ROUTE}, name="elsewhere")
    app = make_app({ROUTE: LOGGING_ROUTE}, name="shop")
    (app / "outside").symlink_to(elsewhere, target_is_directory=True)
    (app / "lib").mkdir()
    (app / "lib" / "loop").symlink_to(app / "lib", target_is_directory=True)
    result = _json(cli, app)
    stats = result["stats"]
    assert isinstance(stats, dict)
    assert stats["apps"] == ["."]
    assert stats["skipped"] == {"symlink loop": 1, "symlinked folder outside the app": 1}
    assert stats["skipped_files"] == [
        {"path": "lib/loop/", "reason": "symlink loop"},
        {"path": "outside/", "reason": "symlinked folder outside the app"},
    ]
    findings = result["findings"]
    assert isinstance(findings, list)
    assert {f["path"] for f in findings if f["rule"] == "LL007"} == {ROUTE}


def test_a_folder_that_cannot_be_listed_is_counted_and_named(tmp_path: Path) -> None:
    """os.walk drops a folder it cannot list without a word unless given an error hook: its files were neither
    scanned nor counted. (Root reads any folder, so the hook is driven with the error os.walk passes it.)"""
    stats = WalkStats()
    hook = _unlistable(os.fspath(tmp_path), stats)
    hook(PermissionError(13, "Permission denied", os.fspath(tmp_path / "app" / "admin")))
    assert stats.skipped == {"unreadable directory": 1}
    assert stats.skipped_paths == [("app/admin/", "unreadable directory")]


def test_an_app_folder_whose_name_is_not_utf8_is_listed_with_escapes(cli: Cli, make_app: MakeApp, tmp_path: Path) -> None:
    """`stats.apps` wrote the folder's raw byte (0xE9) into the JSON report, which then was not UTF-8 and
    failed every JSON reader; paths are shown with \\x escapes as everywhere else in the reports."""
    root = tmp_path / "mono"
    make_app({ROUTE: LOGGING_ROUTE}, name="mono/" + os.fsdecode(b"caf\xe9"))
    make_app({ROUTE: LOGGING_ROUTE}, name="mono/web")
    code, out, err = cli("scan", str(root), "--format", "json", "--no-progress")
    assert code == 1, err
    out.encode("utf-8")  # no lone surrogate left to write as a raw byte
    stats = json.loads(out)["stats"]
    assert stats["apps"] == ["caf\\xe9", "web"]
    assert stats["fail_on_by_app"] == {"caf\\xe9": "high", "web": "high"}
    assert {f["app"] for f in json.loads(out)["findings"]} == {"caf\\xe9", "web"}
