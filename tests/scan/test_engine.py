"""The engine on awkward trees: monorepos, symlink loops, bad bytes, broken syntax, huge files, precedence."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path, PurePosixPath

import pytest

from leakline.scan.engine import scan
from leakline.scan.index import SourceFile
from tests.scan.test_cli import LOGGING_ROUTE

MakeApp = Callable[..., Path]


def _places(result_findings: list) -> list[tuple[str, str, int]]:  # type: ignore[type-arg]
    return [(f.rule, f.path, f.line) for f in result_findings]


def test_monorepo_scans_every_next_app_with_its_own_config(tmp_path: Path) -> None:
    for name, toml in (("storefront", '[scan]\nexclude = ["app/legacy/**"]\n'), ("admin", "")):
        app = tmp_path / "apps" / name
        (app / "app/api/chat").mkdir(parents=True)
        (app / "app/legacy").mkdir(parents=True)
        (app / "package.json").write_text(json.dumps({"dependencies": {"next": "15.2.4"}}))
        (app / "leakline.toml").write_text(toml)
        (app / "app/api/chat/route.ts").write_text(LOGGING_ROUTE)
        (app / "app/legacy/route.ts").write_text(LOGGING_ROUTE)
    (tmp_path / "packages/ui").mkdir(parents=True)
    (tmp_path / "packages/ui/package.json").write_text('{"dependencies": {"react": "19.0.0"}}')
    (tmp_path / "package.json").write_text('{"private": true, "workspaces": ["apps/*"]}')
    result = scan(tmp_path, rule_ids=["LL007"])
    assert result.stats.apps == ["apps/admin", "apps/storefront"]
    assert _places(result.findings) == [
        ("LL007", "apps/admin/app/api/chat/route.ts", 7),
        ("LL007", "apps/admin/app/legacy/route.ts", 7),
        ("LL007", "apps/storefront/app/api/chat/route.ts", 7),
    ]
    assert result.stats.skipped["excluded by [scan] exclude"] == 1


def test_nested_app_files_belong_only_to_the_nested_app(make_app: MakeApp) -> None:
    root = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    nested = root / "examples/demo"
    (nested / "app/api/chat").mkdir(parents=True)
    (nested / "package.json").write_text('{"dependencies": {"next": "15.0.0"}}')
    (nested / "app/api/chat/route.ts").write_text(LOGGING_ROUTE)
    result = scan(root, rule_ids=["LL007"])
    assert _places(result.findings) == [
        ("LL007", "app/api/chat/route.ts", 7),
        ("LL007", "examples/demo/app/api/chat/route.ts", 7),
    ]


def test_symlink_loops_invalid_utf8_and_syntax_errors_are_counted_not_fatal(make_app: MakeApp) -> None:
    app = make_app(
        {
            "app/api/chat/route.ts": LOGGING_ROUTE,
            "app/broken/route.ts": "export async function GET( {{{ \n",
            "lib/latin1.ts": b"export const greeting = '\xe9t\xe9';\nconsole.log(greeting);\n",
        }
    )
    (app / "app" / "loop").symlink_to(app / "app")
    result = scan(app, rule_ids=["LL007"])
    assert _places(result.findings) == [("LL007", "app/api/chat/route.ts", 7)]
    assert result.stats.skipped["symlink loop"] >= 1
    assert result.stats.rule_errors == []


def test_files_over_the_size_cap_are_skipped_and_counted(make_app: MakeApp) -> None:
    app = make_app(
        {
            "app/api/chat/route.ts": LOGGING_ROUTE,
            "app/api/big/route.ts": LOGGING_ROUTE + "//" + "x" * 3000 + "\n",
            "leakline.toml": "[scan]\nmax_file_bytes = 2000\n",
        }
    )
    result = scan(app, rule_ids=["LL007"])
    assert _places(result.findings) == [("LL007", "app/api/chat/route.ts", 7)]
    assert result.stats.skipped["larger than [scan] max_file_bytes"] == 1


def test_node_modules_git_and_next_cache_are_never_read(make_app: MakeApp) -> None:
    app = make_app(
        {
            "app/api/chat/route.ts": LOGGING_ROUTE,
            "node_modules/pkg/route.ts": LOGGING_ROUTE,
            ".git/hooks/x.ts": LOGGING_ROUTE,
            ".next/cache/webpack/x.js": "sk-proj-abc",
            ".next/server/app/page.js": "x",
        }
    )
    result = scan(app, rule_ids=["LL007"])
    assert sorted(result_path for result_path in _all_indexed(app)) == [
        "app/api/chat/route.ts",
        "package.json",
    ]
    assert _places(result.findings) == [("LL007", "app/api/chat/route.ts", 7)]


def _all_indexed(app: Path) -> list[str]:
    from leakline.config import Settings
    from leakline.scan.engine import build_index
    from leakline.scan.walker import WalkStats

    return list(build_index(app, Settings(), WalkStats(), set()).files)


def test_ll008_takes_precedence_over_ll007_on_the_same_line(make_app: MakeApp) -> None:
    app = make_app({"app/checkout/route.ts": LOGGING_ROUTE})
    result = scan(app, rule_ids=["LL007", "LL008"])
    assert _places(result.findings) == [("LL008", "app/checkout/route.ts", 7)]


def test_fingerprints_are_stable_across_runs_and_line_shifts(make_app: MakeApp) -> None:
    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    first = scan(app, rule_ids=["LL007"]).findings[0].fingerprint
    (app / "app/api/chat/route.ts").write_text("\n\n" + LOGGING_ROUTE)
    shifted = scan(app, rule_ids=["LL007"]).findings[0]
    assert shifted.line == 9 and shifted.fingerprint == first


def test_sharded_workers_find_exactly_what_one_process_finds(make_app: MakeApp) -> None:
    files = {f"app/api/r{i}/route.ts": LOGGING_ROUTE for i in range(12)}
    files["lib/llm.ts"] = (
        'import OpenAI from "openai";\nconst c = new OpenAI();\nexport async function ask(q: string) {\n'
        '  const r = await c.chat.completions.create({ model: "m", messages: [] });\n  return r.choices[0].message.content;\n}\n'
    )
    files["app/checkout/route.ts"] = 'import { ask } from "@/lib/llm";\nexport async function POST() {\n  console.log(await ask("x"));\n}\n'
    files["tsconfig.json"] = '{"compilerOptions": {"paths": {"@/*": ["./*"]}}}'
    app = make_app(files)
    single = scan(app, rule_ids=["LL007", "LL008"], jobs=1)
    sharded = scan(app, rule_ids=["LL007", "LL008"], jobs=3)
    assert [f.to_dict() for f in sharded.findings] == [f.to_dict() for f in single.findings]
    assert ("LL008", "app/checkout/route.ts", 3) in _places(sharded.findings)
    assert len(sharded.findings) == 13
    assert sharded.stats.files_parsed >= 13


def test_a_module_every_worker_parses_is_counted_once(make_app: MakeApp) -> None:
    """Which workers parse a module that files of several chunks import depends on how the chunks were dealt;
    the parsed-file count and the module's caveat (a syntax error) do not."""
    route = 'import { ask } from "@/lib/llm";\nexport async function POST(req: Request) {\n  console.log(await ask("q"));\n}\n'
    files = {f"app/api/r{i}/route.ts": route for i in range(12)}
    files["lib/llm.ts"] = (
        'import OpenAI from "openai";\nconst c = new OpenAI();\nexport async function ask(q: string) {\n'
        '  const r = await c.chat.completions.create({ model: "m", messages: [] });\n'
        "  return r.choices[0].message.content;\n}\nexport const broken = (;\n"
    )
    files["tsconfig.json"] = '{"compilerOptions": {"paths": {"@/*": ["./*"]}}}'
    app = make_app(files)
    single = scan(app, rule_ids=["LL007"], jobs=1)
    for jobs in (2, 3):
        sharded = scan(app, rule_ids=["LL007"], jobs=jobs)
        assert [f.to_dict() for f in sharded.findings] == [f.to_dict() for f in single.findings]
        assert sharded.stats.files_parsed == single.stats.files_parsed == 13
        assert sharded.stats.notes == single.stats.notes == Counter({"syntax errors (analysed what parsed)": 1})
    assert len(single.findings) == 12


def test_every_fixture_and_the_example_shop_scan_the_same_sharded(tmp_path: Path) -> None:
    from tests.conftest import REPO

    apps = [*sorted((REPO / "tests" / "fixtures" / "rules").glob("LL*/vulnerable")), REPO / "examples" / "vulnerable-shop"]
    for app in apps:
        single = [f.to_dict() for f in scan(app, jobs=1).findings]
        sharded = [f.to_dict() for f in scan(app, jobs=2).findings]
        assert sharded == single, app


def test_fifos_and_links_out_of_the_app_are_skipped_not_followed(make_app: MakeApp, tmp_path: Path) -> None:
    import os

    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    os.mkfifo(app / "app" / "page.tsx")
    (app / "lib").mkdir()
    (app / "lib" / "zero.ts").symlink_to("/dev/zero")
    outside = tmp_path / "elsewhere"
    (outside / "x").mkdir(parents=True)
    (outside / "x" / "route.ts").write_text(LOGGING_ROUTE)
    (app / "vendor").symlink_to(outside)
    result = scan(app)
    assert _places([f for f in result.findings if f.rule == "LL007"]) == [("LL007", "app/api/chat/route.ts", 7)]
    assert result.stats.skipped["not a regular file"] == 2
    assert result.stats.skipped["symlinked folder outside the app"] == 1


def test_byte_order_marks_do_not_hide_the_app_or_its_env(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_bytes(b'\xef\xbb\xbf{"dependencies": {"next": "15.2.4"}}')
    (tmp_path / ".env").write_bytes(b"\xef\xbb\xbfNEXT_PUBLIC_OPENAI_KEY=sk-proj-Qw3rTy7uI0pAsDfGhJkLzXcVbNm1234567890\n")
    result = scan(tmp_path, rule_ids=["LL003"])
    assert _places(result.findings) == [("LL003", ".env", 1)]


def test_file_names_that_are_not_utf8_are_reported_with_escapes(tmp_path: Path) -> None:
    import os

    (tmp_path / "package.json").write_text('{"dependencies": {"next": "15.2.4"}}')
    # A Latin-1 folder name: bytes that are not UTF-8, kept by Python as surrogate escapes.
    folder = tmp_path / "app" / "api" / os.fsdecode(b"caf\xe9")
    folder.mkdir(parents=True)
    (folder / "route.ts").write_text(LOGGING_ROUTE)
    result = scan(tmp_path, rule_ids=["LL007"])
    assert _places(result.findings) == [("LL007", "app/api/caf\\xe9/route.ts", 7)]
    from leakline.reports import json as json_report
    from leakline.reports import sarif as sarif_report
    from leakline.reports import text as text_report

    for renderer in (json_report, sarif_report, text_report):
        renderer.render(result).encode("utf-8")  # no surrogates left


def test_the_cyclic_gc_is_off_while_scanning_and_as_it_was_after(make_app: MakeApp) -> None:
    """A scan makes next to no reference cycles; collecting its growing heap only cost time (see `scan`)."""
    import gc

    app = make_app({"app/api/chat/route.ts": LOGGING_ROUTE})
    during: list[bool] = []
    was_enabled = gc.isenabled()
    try:
        for enabled in (True, False):
            (gc.enable if enabled else gc.disable)()
            result = scan(app, rule_ids=["LL007"], progress=lambda *_: during.append(gc.isenabled()))
            assert _places(result.findings) == [("LL007", "app/api/chat/route.ts", 7)]
            assert gc.isenabled() is enabled
    finally:
        (gc.enable if was_enabled else gc.disable)()
    assert during == [False, False]


@pytest.mark.parametrize(
    "rel",
    [".env", ".env.local", "a.b.", "x.TSX", "a..b", "dir.d/file", "noext", "app/page.d.ts", "a/.b", "a/b.c/d.E", "..x"],
)
def test_source_file_name_and_suffix_are_purepath_s(rel: str) -> None:
    f = SourceFile(rel=rel, abs=Path("/nonexistent") / rel, size=0, stats=Counter())
    assert (f.name, f.suffix) == (PurePosixPath(rel).name, PurePosixPath(rel).suffix.lower())


@pytest.mark.parametrize("size_hint", [0, 3, 70_000, 200_000])
def test_source_file_data_is_the_whole_file_whatever_size_the_walk_saw(tmp_path: Path, size_hint: int) -> None:
    """`SourceFile.data` reads with the walk's size as a hint: a file that grew or shrank since is read whole."""
    content = bytes(range(256)) * 400  # 102,400 bytes, NULs and high bytes included
    (tmp_path / "big.ts").write_bytes(content)
    stats: Counter[str] = Counter()
    f = SourceFile(rel="big.ts", abs=tmp_path / "big.ts", size=size_hint, stats=stats)
    assert f.data() == content
    missing = SourceFile(rel="gone.ts", abs=tmp_path / "gone.ts", size=10, stats=stats)
    assert missing.data() == b""
    assert stats == Counter({"unreadable file": 1})
