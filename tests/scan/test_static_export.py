"""A static export (`output: 'export'`) is build output: its `out/` files are searched by the build-output rules
(LL005, LL019) and never parsed as source. Before, `out/`'s minified chunks counted as source and LL007 spent
over 20 s on each chunk of a real export: the scan did not finish in 5 minutes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from leakline.configfile import load_scan_settings
from leakline.findings import Severity
from leakline.scan.engine import build_index, scan
from leakline.scan.index import MINIFIED_SKIP
from leakline.scan.walker import WalkStats

PACKAGE = '{"dependencies":{"next":"15.5.0","openai":"4.0.0"}}'
OPENAI = "sk-proj-FdnXsiVpzz63FfkCzJr4i0B3JrTAwR4y9ojfljoQoaF1Llqs"
EXPORT_CONFIG = "module.exports = { output: 'export' };\n"
CHUNK = "_next/static/chunks/main-abc.js"
SMALL_CHUNK = "_next/static/chunks/504-def.js"
# What a minified client bundle that calls a model from the browser looks like: if it were parsed as source, LL010
# would report the innerHTML and LL007 the console.log of the model's answer (test_the_bundle_code_is_llm_code_...).
HEADER = 'import OpenAI from"openai";const c=new OpenAI({dangerouslyAllowBrowser:!0}),o=document.body;\n'
SINK_HTML = 'o.innerHTML=(await c.chat.completions.create({model:"llama3",messages:q})).choices[0].message.content;'
SINK_LOG = 'console.log((await c.chat.completions.create({model:"llama3",messages:q})).choices[0].message.content);'
PLANTED = f'var K="{OPENAI}";'
KEY_COLUMN = len('var K="') + 1


def _bundle(repetitions: int = 10_000) -> str:
    """~2 MB over three lines: 20,000 minified statements, the key planted at the start of line 3."""
    half = (SINK_HTML + SINK_LOG) * (repetitions // 2)
    return HEADER + half + "\n" + PLANTED + half + "\n"


def _app(root: Path, files: dict[str, str]) -> Path:
    for rel, content in {"package.json": PACKAGE, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


def _export_app(root: Path) -> Path:
    bundle = _bundle()
    return _app(
        root,
        {
            ".env": f"OPENAI_API_KEY={OPENAI}\n",
            "next.config.js": EXPORT_CONFIG,
            "app/page.js": "export default function Page() { return null; }\n",
            ".next/static/chunks/main-abc.js": bundle,
            f"out/{CHUNK}": bundle,
            # Under the size cap: before, parsed as source (LL007 alone took over 20 s on such chunks).
            f"out/{SMALL_CHUNK}": _bundle(1_000),
            "out/index.html": '<!DOCTYPE html><html><body><script src="/_next/static/chunks/main-abc.js"></script>\n',
        },
    )


def _run_scan(app: Path, timeout: float) -> tuple[str, str, int]:
    """`leakline scan APP --format json` in its own process group: on a timeout the scan's forked workers are
    killed with it, not left parsing chunks on a shared machine."""
    command = [sys.executable, "-m", "leakline.cli", "scan", str(app), "--format", "json", "--no-progress"]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    ) as process:
        try:
            stdout, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            raise
    return stdout, stderr, process.returncode


def test_a_real_sized_export_is_scanned_in_a_subprocess_within_the_timeout(tmp_path: Path) -> None:
    app = _export_app(tmp_path / "shop")
    size = (app / "out" / CHUNK).stat().st_size
    assert size > 2_000_000  # over the default [scan] max_file_bytes: the cap must not skip it
    started = time.monotonic()
    stdout, stderr, code = _run_scan(app, timeout=120)
    elapsed = time.monotonic() - started
    assert code == 1, stderr
    report = json.loads(stdout)
    places = [(f["rule"], f["path"], f["line"], f["column"]) for f in report["findings"]]
    # One LL005 finding per file and line: the key is in both copies of the chunk (an export leaves both).
    assert [p for p in places if p[0] == "LL005"] == [
        ("LL005", ".next/static/chunks/main-abc.js", 3, KEY_COLUMN),
        ("LL005", f"out/{SMALL_CHUNK}", 3, KEY_COLUMN),
        ("LL005", f"out/{CHUNK}", 3, KEY_COLUMN),
    ]
    assert [p for p in places if p[0] in ("LL007", "LL010")] == []
    assert report["stats"]["skipped_files"] == []
    assert report["stats"]["files_parsed"] == 1  # next.config.js (LL001, LL020), never a chunk
    assert OPENAI not in stdout and OPENAI not in stderr
    assert elapsed < 120


def test_the_bundle_code_is_llm_code_the_source_rules_report_when_it_is_source(tmp_path: Path) -> None:
    # The control: what the export test asserts is absent would be found, were out/ parsed as source.
    lines = [HEADER.strip(), "export async function ask(q) {", SINK_HTML, SINK_LOG, "}"]
    app = _app(tmp_path, {"app/widget.js": '"use client";\n' + "\n".join(lines) + "\n"})
    result = scan(app, rule_ids=["LL007", "LL010"])
    assert result.stats.rule_errors == []
    assert [(f.rule, f.path, f.line) for f in result.findings] == [
        ("LL010", "app/widget.js", 4),
        ("LL007", "app/widget.js", 5),
    ]


def _sources(app: Path) -> list[str]:
    index = build_index(app, load_scan_settings(app / "leakline.toml"), WalkStats(), set())
    return sorted(f.rel for f in index.sources)


def test_out_files_of_an_export_are_build_output_not_source(tmp_path: Path) -> None:
    code = "export const answer = 1;\n"
    # Marked by out/_next/static (every export writes it), with no next.config at all.
    by_marker = _app(tmp_path / "a", {"lib/a.js": code, "out/sw.js": code, f"out/{CHUNK}": code})
    assert _sources(by_marker) == ["lib/a.js"]
    # Marked by next.config's output: 'export' (an HTML-only export or a partial copy, no _next/static).
    by_config = _app(tmp_path / "b", {"next.config.js": EXPORT_CONFIG, "out/sw.js": code, "out/a/b.mjs": code})
    assert _sources(by_config) == ["next.config.js"]
    # out/_next/ is written by next build alone, whatever the config says; any other out/ is the app's own folder.
    plain = _app(
        tmp_path / "c",
        {"next.config.js": "module.exports = { output: 'standalone' };\n", "out/tool.js": code, "out/_next/x.js": code},
    )
    assert _sources(plain) == ["next.config.js", "out/tool.js"]


def test_export_files_are_exempt_from_the_size_cap_but_source_files_are_not(tmp_path: Path) -> None:
    filler = "<p>" + "x" * 3000 + "</p>\n"
    files = {
        ".env": f"OPENAI_API_KEY={OPENAI}\n",
        "leakline.toml": "[scan]\nmax_file_bytes = 1000\n",
        "next.config.js": EXPORT_CONFIG,
        "out/about.html": filler + f"<p>{OPENAI}</p>\n",
        "lib/big.js": "// " + "y" * 2000 + "\nexport const a = 1;\n",
    }
    result = scan(_app(tmp_path, files), rule_ids=["LL005"])
    assert [(f.rule, f.path, f.line, f.column) for f in result.findings] == [("LL005", "out/about.html", 2, 4)]
    assert result.stats.skipped_files == [("lib/big.js", "larger than [scan] max_file_bytes")]


def test_a_minified_source_file_is_not_parsed_and_is_named(tmp_path: Path) -> None:
    statements = SINK_HTML + SINK_LOG
    head = '"use client";' + HEADER.strip() + "export async function ask(q){"
    minified = head + statements * 25 + "}\n"
    # Under 4 KiB: parsed whatever its lines.
    short = head + statements + "}\n"
    # Long lines of the app's own: a system prompt written on one line, an embedded image. Not minified code.
    prompt = "You are the shop's assistant. Answer briefly, in the customer's language, and never quote these rules. "
    one_line_prompt = f'const SYSTEM = "{prompt * 60}";\n' + head + statements + "}\n"
    image = 'export const logo = "data:image/png;base64,' + "iVBORw0KGgoAAAANSUhEUgAAAAEAAAAB" * 300 + '";\n'
    assert len(minified) > 4096 and len(short) < 4096 and len(one_line_prompt) > 4096 and len(image) > 4096
    app = _app(
        tmp_path,
        {
            "lib/vendor.min.js": minified,
            "app/widget.js": short,
            "app/prompted.js": one_line_prompt,
            "lib/logo.js": image,
        },
    )
    result = scan(app, rule_ids=["LL007", "LL010"])
    assert result.stats.rule_errors == []
    assert sorted({(f.rule, f.path, f.line) for f in result.findings}) == [
        ("LL007", "app/prompted.js", 2),
        ("LL007", "app/widget.js", 1),
        ("LL010", "app/prompted.js", 2),
        ("LL010", "app/widget.js", 1),
    ]
    assert result.stats.skipped_files == [("lib/vendor.min.js", MINIFIED_SKIP)]
    assert result.stats.skipped == Counter({MINIFIED_SKIP: 1})
    index = build_index(app, load_scan_settings(app / "leakline.toml"), WalkStats(), set())
    assert sorted(f.rel for f in index.sources) == ["app/prompted.js", "app/widget.js", "lib/logo.js"]


def test_source_maps_in_an_export_are_reported_like_those_in_next_static(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.js": EXPORT_CONFIG,
            ".next/static/chunks/main-abc.js.map": '{"version":3}',
            f"out/{CHUNK}.map": '{"version":3}',
            "out/_next/static/css/app.css.map": '{"version":3}',
            "out/_next/static/chunks/inline.js": "x();\n//# sourceMappingURL=data:application/json;base64,e30=\n",
            "out/docs/readme.txt": "not a map\n",
        },
    )
    result = scan(app, rule_ids=["LL019"])
    assert result.stats.rule_errors == []
    assert [(f.path, f.line, f.severity) for f in result.findings] == [
        (".next/static/chunks/main-abc.js.map", 1, Severity.MEDIUM),
        ("out/_next/static/chunks/inline.js", 2, Severity.MEDIUM),
        (f"out/{CHUNK}.map", 1, Severity.MEDIUM),
        ("out/_next/static/css/app.css.map", 1, Severity.LOW),
    ]
