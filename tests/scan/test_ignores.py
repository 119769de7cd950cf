"""`leakline-ignore` comments that cannot mean what their author meant are named, file and line, in every
output format; well-formed comments (and the marker inside a string) give no warning."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from leakline.scan.engine import scan

PACKAGE = '{"dependencies":{"next":"15.5.16","openai":"4.0.0"}}'
ROUTE = """import OpenAI from "openai";
const client = new OpenAI();
export async function POST(req: Request) {
  const { prompt } = await req.json();
  const r = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: prompt }] });
  const text = r.choices[0].message.content;
{lines}
  return Response.json({ ok: true });
}
"""
# Line numbers of what `_route` writes start here (after the six lines above `{lines}`).
FIRST = 7


def _route(root: Path, lines: list[str], folder: str = "") -> Path:
    app = root / folder if folder else root
    (app / "app/api/chat").mkdir(parents=True)
    (app / "package.json").write_text(PACKAGE, encoding="utf-8")
    (app / "app/api/chat/route.ts").write_text(ROUTE.replace("{lines}", "\n".join(lines)), encoding="utf-8")
    return root


def _ll007(root: Path) -> list[tuple[int, str | None]]:
    result = scan(root, rule_ids=["LL007"])
    return [(f.line, f.suppressed) for f in result.findings if f.rule == "LL007"]


def test_a_mistyped_rule_id_is_named_and_suppresses_nothing(tmp_path: Path) -> None:
    root = _route(tmp_path, ["  console.log(text); // leakline-ignore LL07: hashed only"])
    result = scan(root, rule_ids=["LL007"])
    assert [(f.rule, f.line, f.suppressed) for f in result.findings] == [("LL007", FIRST, None)]
    assert result.stats.warnings == [
        f"app/api/chat/route.ts:{FIRST}: LL07 is not a leakline rule id (did you mean LL007?); "
        "`leakline rules` lists them"
    ]


def test_an_unknown_id_gets_no_guess(tmp_path: Path) -> None:
    root = _route(tmp_path, ["  // leakline-ignore LL999: not a rule", "  console.log(text);"])
    result = scan(root, rule_ids=["LL007"])
    assert [(f.line, f.suppressed) for f in result.findings] == [(FIRST + 1, None)]
    assert result.stats.warnings == [
        f"app/api/chat/route.ts:{FIRST}: LL999 is not a leakline rule id; `leakline rules` lists them"
    ]


def test_a_reason_without_its_separator_is_named_once_and_the_comment_suppresses_nothing(tmp_path: Path) -> None:
    # The warning said the words were misread while the comment still suppressed LL007: now it fails closed.
    root = _route(tmp_path, ["  // leakline-ignore LL007 the log is scrubbed", "  console.log(text);"])
    assert _ll007(root) == [(FIRST + 1, None)]
    assert scan(root, rule_ids=["LL007"]).stats.warnings == [
        f"app/api/chat/route.ts:{FIRST}: 'the log is scrubbed' is read as rule ids, so this comment suppresses "
        "nothing: put the reason after a colon (`leakline-ignore LL007: reason`)"
    ]


def test_a_dash_standing_alone_separates_the_reason_as_a_colon_does(tmp_path: Path) -> None:
    root = _route(
        tmp_path,
        [
            "  console.log(text); // leakline-ignore LL007 - pino redacts answer in prod",
            "  console.info(text); // leakline-ignore LL007 -- reviewed: hashed",
            "  console.warn(text); /* leakline-ignore LL007 \u2014 reviewed */",
            "  console.error(text); // leakline-ignore LL007-scrubbed",
        ],
    )
    result = scan(root, rule_ids=["LL007"])
    assert [(f.line, f.suppressed) for f in result.findings] == [
        (FIRST, "pino redacts answer in prod"),
        (FIRST + 1, "reviewed: hashed"),
        (FIRST + 2, "reviewed"),
        (FIRST + 3, None),
    ]
    # A dash inside a word is no separator: `LL007-scrubbed` is one word, not a rule id.
    assert result.stats.warnings == [
        f"app/api/chat/route.ts:{FIRST + 3}: 'LL007-scrubbed' is read as rule ids, so this comment suppresses "
        "nothing: put the reason after a colon (`leakline-ignore LL007: reason`)"
    ]


def test_a_block_comment_without_ids_suppresses_every_rule_on_its_line(tmp_path: Path) -> None:
    root = _route(tmp_path, ["  console.log(text); /* leakline-ignore */", "  console.info(text); /* leakline */"])
    result = scan(root, rule_ids=["LL007"])
    assert [(f.line, f.suppressed) for f in result.findings] == [
        (FIRST, "inline leakline-ignore"),
        (FIRST + 1, None),
    ]
    assert result.stats.warnings == []


def test_well_formed_comments_and_the_marker_in_a_string_give_no_warning(tmp_path: Path) -> None:
    root = _route(
        tmp_path,
        [
            "  console.log(text); // leakline-ignore ll007, LL006 */",
            "  /* leakline-ignore LL007: reviewed */ console.info(text);",
            '  const help = "leakline-ignore FOO";',
            "  console.warn(text); // leakline-ignore",
        ],
    )
    result = scan(root, rule_ids=["LL007"])
    assert [(f.line, f.suppressed) for f in result.findings] == [
        (FIRST, "inline leakline-ignore"),
        (FIRST + 1, "reviewed"),
        (FIRST + 3, "inline leakline-ignore"),
    ]
    assert result.stats.warnings == []


def test_env_files_and_apps_in_subfolders_are_named_from_the_scanned_root(tmp_path: Path) -> None:
    root = _route(tmp_path, ["  console.log(text);"], folder="apps/web")
    (root / "apps/web/.env").write_text("# leakline-ignore LL3: demo\nNEXT_PUBLIC_DEMO_TOKEN=demo-1234-abcd\n")
    assert scan(root, rule_ids=["LL003"]).stats.warnings == [
        "apps/web/.env:1: LL3 is not a leakline rule id (did you mean LL003?); `leakline rules` lists them"
    ]


def test_the_cli_prints_them_to_stderr_for_json_and_keeps_them_in_the_report(tmp_path: Path) -> None:
    root = _route(tmp_path, ["  console.log(text); // leakline-ignore LL07: hashed only"])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "leakline.cli",
            "scan",
            str(root),
            "--format",
            "json",
            "--no-progress",
            "--rule",
            "LL007",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    warning = (
        f"app/api/chat/route.ts:{FIRST}: LL07 is not a leakline rule id (did you mean LL007?); "
        "`leakline rules` lists them"
    )
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == f"warning: {warning}\n"
    assert json.loads(proc.stdout)["stats"]["warnings"] == [warning]
    text = subprocess.run(
        [sys.executable, "-m", "leakline.cli", "scan", str(root), "--no-progress", "--rule", "LL007"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert f"warning: {warning}" in text.stdout
    assert text.stderr == ""


def _checkout_route(root: Path, lines: list[str]) -> Path:
    (root / "app/api/checkout").mkdir(parents=True)
    (root / "package.json").write_text(PACKAGE, encoding="utf-8")
    (root / "app/api/checkout/route.ts").write_text(ROUTE.replace("{lines}", "\n".join(lines)), encoding="utf-8")
    return root


def test_naming_the_rule_that_another_replaces_on_that_line_is_named(tmp_path: Path) -> None:
    """LL008 takes precedence over LL007 on a line: a comment naming LL007 there suppresses nothing (LL008 is a
    different, more severe finding nobody reviewed), and says which id to name."""
    root = _checkout_route(
        tmp_path,
        [
            "  console.log(text); // leakline-ignore LL007: logs a hashed id only",
            "  // leakline-ignore LL007: the model's answer only",
            "  console.info(text);",
        ],
    )
    result = scan(root, rule_ids=["LL007", "LL008"])
    assert [(f.rule, f.line, f.suppressed) for f in result.findings] == [
        ("LL008", FIRST, None),
        ("LL008", FIRST + 2, None),
    ]
    assert result.stats.warnings == [
        f"app/api/checkout/route.ts:{FIRST}: LL007 is reported as LL008 on this line; name LL008",
        f"app/api/checkout/route.ts:{FIRST + 1}: LL007 is reported as LL008 on the next line; name LL008",
    ]


def test_naming_both_rules_or_the_one_reported_gives_no_such_warning(tmp_path: Path) -> None:
    root = _checkout_route(
        tmp_path,
        [
            "  console.log(text); // leakline-ignore LL007, LL008: logs a hashed id only",
            "  console.info(text); // leakline-ignore LL008: reviewed",
            "  console.warn(text); // leakline-ignore: reviewed",
        ],
    )
    result = scan(root, rule_ids=["LL007", "LL008"])
    assert [(f.rule, f.line, f.suppressed is not None) for f in result.findings] == [
        ("LL008", FIRST, True),
        ("LL008", FIRST + 1, True),
        ("LL008", FIRST + 2, True),
    ]
    assert result.stats.warnings == []
