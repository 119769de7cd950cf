"""A scan that could not look at everything says what it missed: a rule that fails on one file names the rule
and the file, still reports that rule's findings in the other files, and makes the scan exit 2; files left
out (unreadable, too large, not regular) are named in every report format."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path

import jsonschema
import pytest

from leakline.configfile import ScanAppSettings
from leakline.scan import engine
from leakline.scan.context import ScanContext
from leakline.scan.engine import build_index, scan
from leakline.scan.rules import rule_meta
from leakline.scan.rules.base import Hit, Rule
from leakline.scan.walker import WalkStats
from tests.conftest import SHARED
from tests.scan.test_cli import URI_FORMATS

Cli = Callable[..., tuple[int, str, str]]
MakeApp = Callable[..., Path]

PACKAGE = '{"dependencies":{"next":"15.5.16","ai":"5.0.0"}}'
ROUTE = """import { generateText } from 'ai';
import { llm } from '@/lib/llm';
const SYSTEM = {system};
export async function POST(req: Request) {
  const { prompt } = await req.json();
  const { text } = await generateText({ model: llm('m'), system: SYSTEM, prompt });
  console.log(text);
  return Response.json({ text });
}
"""
# The reviewer's app: the same route twice, one with a long system prompt built from string pieces.
LOGGED_LINE = 7


def _concatenation(pieces: int) -> str:
    return " + ".join(f'"line {i} of the system prompt\\n"' for i in range(pieces))


def _app(make_app: MakeApp, pieces: int) -> Path:
    return make_app(
        {
            "package.json": PACKAGE,
            "lib/llm.ts": "export const llm = (m: string) => m;\n",
            "tsconfig.json": '{"compilerOptions":{"paths":{"@/*":["./*"]}}}',
            "app/api/chat/route.ts": ROUTE.replace("{system}", _concatenation(pieces)),
            "app/api/other/route.ts": ROUTE.replace("{system}", '"short"'),
        }
    )


def _ll007(result: engine.ScanResult) -> list[tuple[str, int]]:
    return [(f.path, f.line) for f in result.findings if f.rule == "LL007"]


def test_a_250_term_system_prompt_is_analysed(make_app: MakeApp) -> None:
    # Python's default recursion limit (1,000 frames) gave up at ~240 terms: LL007 was dropped for the whole app.
    result = scan(_app(make_app, 250), rule_ids=["LL007"])
    assert result.stats.rule_errors == []
    assert _ll007(result) == [("app/api/chat/route.ts", LOGGED_LINE), ("app/api/other/route.ts", LOGGED_LINE)]


def test_the_recursion_limit_follows_the_stack_and_is_restored(make_app: MakeApp) -> None:
    assert engine.recursion_limit_for(8 * 1024 * 1024) == 8 * 1024 * 1024 // engine.FRAME_STACK_BYTES
    assert engine.recursion_limit_for(64 * 1024) == 1000
    assert engine.recursion_limit_for(1 << 40) == engine.MAX_RECURSION_LIMIT
    before = sys.getrecursionlimit()
    scan(_app(make_app, 3), rule_ids=["LL007"])
    assert sys.getrecursionlimit() == before


@pytest.mark.parametrize("jobs", [1, 2])
def test_a_file_too_deep_to_analyse_is_named_and_the_other_files_still_report(make_app: MakeApp, jobs: int) -> None:
    # 6,000 terms need ~24,000 frames, more than any stack leakline runs on affords.
    result = scan(_app(make_app, 6000), rule_ids=["LL007"], jobs=jobs)
    assert result.stats.rule_errors == [
        "LL007: app/api/chat/route.ts: not checked: input nested too deeply for the analysis "
        "(a very long expression or deeply nested code)"
    ]
    assert _ll007(result) == [("app/api/other/route.ts", LOGGED_LINE)]


def test_a_rule_error_exits_2_in_every_format_and_is_printed(cli: Cli, make_app: MakeApp, tmp_path: Path) -> None:
    app = _app(make_app, 6000)
    error = (
        "LL007: app/api/chat/route.ts: not checked: input nested too deeply for the analysis "
        "(a very long expression or deeply nested code)"
    )
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--no-progress")
    assert code == 2
    assert f"rule error: {error}" in out
    assert "scan incomplete: 1 rule error(s), the findings they cover are missing (exit 2)" in out
    code, out, err = cli("scan", str(app), "--rule", "LL007", "--format", "json", "--no-progress")
    data = json.loads(out)
    assert (code, data["stats"]["rule_errors"], data["stats"]["complete"]) == (2, [error], False)
    assert [(f["path"], f["line"]) for f in data["findings"]] == [("app/api/other/route.ts", LOGGED_LINE)]
    assert err == f"rule error: {error}\n"
    # Exit 2 even when no finding fails: the missing ones might have.
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--format", "sarif", "--fail-on", "critical")
    invocation = json.loads(out)["runs"][0]["invocations"][0]
    assert code == 2 and invocation["executionSuccessful"] is False
    assert invocation["toolExecutionNotifications"] == [{"level": "error", "message": {"text": f"rule error: {error}"}}]
    code, _, err = cli("scan", str(app), "--rule", "LL007", "--write-baseline", "--baseline", str(tmp_path / "b.json"))
    assert code == 2 and f"rule error: {error}" in err


def test_a_clean_scan_says_it_is_complete(cli: Cli, make_app: MakeApp) -> None:
    code, out, _ = cli("scan", str(_app(make_app, 3)), "--rule", "LL007", "--format", "json", "--fail-on", "critical")
    assert code == 0 and json.loads(out)["stats"]["complete"] is True


class _FailsOn(Rule):
    """A rule that fails (deep recursion) on one file and reports a hit in each other one."""

    culprit = "app/api/chat/route.ts"

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        out = []
        for f in ctx.targets:
            if f.rel == self.culprit:
                raise RecursionError("maximum recursion depth exceeded")
            out.append(Hit(f.rel, 1, 1, "seen"))
        return out


class _PerFile(_FailsOn):
    per_file = True


def test_a_project_wide_rule_error_names_the_file_it_was_reading(make_app: MakeApp) -> None:
    index = build_index(_app(make_app, 3), ScanAppSettings(), WalkStats(), set())
    errors: list[str] = []
    hits = engine._run_rule(_FailsOn(rule_meta("LL006")), ScanContext(index), errors, {}, "apps/web")
    assert hits == []
    assert errors == [
        "LL006: apps/web/app/api/chat/route.ts: not checked: input nested too deeply for the analysis "
        "(a very long expression or deeply nested code); LL006 was not run on the rest of the app"
    ]
    errors.clear()
    hits = engine._run_rule(_PerFile(rule_meta("LL007")), ScanContext(index), errors, {}, ".")
    assert [h.path for h in hits] == ["app/api/other/route.ts", "lib/llm.ts"]
    assert errors == [
        "LL007: app/api/chat/route.ts: not checked: input nested too deeply for the analysis "
        "(a very long expression or deeply nested code)"
    ]


class _AlwaysFails(Rule):
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        raise KeyError(ctx.targets[0].rel)


def test_a_rule_failing_on_every_file_names_five_and_counts_the_rest(make_app: MakeApp) -> None:
    app = _app(make_app, 3)
    for i in range(5):
        (app / f"lib/util{i}.ts").write_text(f"export const u{i} = {i};\n")
    index = build_index(app, ScanAppSettings(), WalkStats(), set())
    errors: list[str] = []
    assert engine._run_rule(_AlwaysFails(rule_meta("LL007")), ScanContext(index), errors, {}, ".") == []
    # The error names where in leakline it failed, never the exception's text (which may quote the code).
    failure = "not checked: internal error KeyError at test_incomplete_scan.py:"
    assert [e.split(failure)[0] for e in errors] == [
        "LL007: app/api/chat/route.ts: ",
        "LL007: app/api/other/route.ts: ",
        "LL007: lib/llm.ts: ",
        "LL007: lib/util0.ts: ",
        "LL007: lib/util1.ts: ",
        "LL007: not checked in 3 more file(s)",
    ]


def _skipping_app(make_app: MakeApp) -> Path:
    app = make_app(
        {
            "package.json": PACKAGE,
            "leakline.toml": "[scan]\nmax_file_bytes = 1000\n",
            "app/api/chat/route.ts": ROUTE.replace("{system}", '"short"'),
            "lib/vendor.min.js": "var a=1;" * 200,
        }
    )
    (app / "lib/gone.ts").symlink_to(app / "lib/missing.ts")
    return app


@pytest.mark.parametrize("jobs", [1, 2])
def test_skipped_files_are_named_with_their_reason(
    make_app: MakeApp, monkeypatch: pytest.MonkeyPatch, jobs: int
) -> None:
    app = _skipping_app(make_app)
    for i in range(3):
        (app / f"lib/util{i}.ts").write_text(f"export const u{i} = {i};\n")
    from leakline.scan import index as index_module

    real_read = index_module._read_file

    def read(path: str, size: int) -> bytes:
        # A file that stats fine and then cannot be read (chmod 000 as a user other than root, an I/O error).
        if path.endswith("route.ts"):
            raise PermissionError(13, "Permission denied", path)
        return real_read(path, size)

    monkeypatch.setattr(index_module, "_read_file", read)
    result = scan(app, rule_ids=["LL007"], jobs=jobs)
    assert result.stats.skipped_files == [
        ("app/api/chat/route.ts", "unreadable file"),
        ("lib/gone.ts", "broken symlink"),
        ("lib/vendor.min.js", "larger than [scan] max_file_bytes"),
    ]
    assert dict(result.stats.skipped) == {
        "unreadable file": 1,
        "broken symlink": 1,
        "larger than [scan] max_file_bytes": 1,
    }


def test_skipped_files_are_named_in_every_report_format(cli: Cli, make_app: MakeApp, tmp_path: Path) -> None:
    app = _skipping_app(make_app)
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--no-progress")
    assert code == 1
    assert "skipped 1: larger than [scan] max_file_bytes\n  lib/vendor.min.js\n" in out
    assert "skipped 1: broken symlink\n  lib/gone.ts\n" in out
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--format", "json")
    stats = json.loads(out)["stats"]
    assert stats["skipped_files"] == [
        {"path": "lib/gone.ts", "reason": "broken symlink"},
        {"path": "lib/vendor.min.js", "reason": "larger than [scan] max_file_bytes"},
    ]
    assert stats["skipped"] == {"broken symlink": 1, "larger than [scan] max_file_bytes": 1}
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--format", "sarif")
    log = json.loads(out)
    schema = json.loads((SHARED / "schemas" / "sarif-schema-2.1.0.json").read_text())
    jsonschema.Draft7Validator(schema, format_checker=URI_FORMATS).validate(log)
    invocation = log["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is True
    uris = [
        (n["level"], n["message"]["text"], n["locations"][0]["physicalLocation"]["artifactLocation"]["uri"])
        for n in invocation["toolExecutionNotifications"]
    ]
    base = log["runs"][0]["originalUriBaseIds"]["%SRCROOT%"]["uri"]
    assert [(level, text) for level, text, _ in uris] == [
        ("warning", "skipped lib/gone.ts: broken symlink"),
        ("warning", "skipped lib/vendor.min.js: larger than [scan] max_file_bytes"),
    ]
    assert [base + uri for _, _, uri in uris] == [
        (app.resolve() / "lib/gone.ts").as_uri(),
        (app.resolve() / "lib/vendor.min.js").as_uri(),
    ]


def test_the_text_report_lists_at_most_20_files_per_reason(make_app: MakeApp) -> None:
    from leakline.reports import text

    app = make_app({"package.json": PACKAGE, "leakline.toml": "[scan]\nmax_file_bytes = 100\n"})
    for i in range(23):
        (app / f"big{i:02d}.ts").write_text("export const x = 1;\n" * 10)
    result = scan(app, rule_ids=["LL007"])
    out = text.render(result)
    listed = [line.strip() for line in out.splitlines() if line.startswith("  big")]
    assert listed == [f"big{i:02d}.ts" for i in range(20)]
    assert "  … and 3 more (JSON stats.skipped_files)" in out
