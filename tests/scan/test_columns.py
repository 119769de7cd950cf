"""`column` is a 1-based Unicode code point column in every report (SARIF declares `columnKind:
"unicodeCodePoints"`): tree-sitter's byte columns put a finding after `é` (2 bytes) or an emoji (4 bytes) too
far right, while rules that read files as text already count characters and must not be converted twice."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

Cli = Callable[..., tuple[int, str, str]]
FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "rules"
WIDE = "é🤖"
"""Two characters, 2 + 4 bytes in UTF-8."""
NARROW = "ab"
"""Two characters, 2 bytes: the same code point columns as WIDE."""
OPENAI = "sk-proj-FdnXsiVpzz63FfkCzJr4i0B3JrTAwR4y9ojfljoQoaF1Llqs"
ROUTE = (
    'import { openai } from "@ai-sdk/openai";\nimport { generateText } from "ai";\n\n'
    "export async function POST(req: Request) {\n  const { prompt } = await req.json();\n"
    '  const { text } = await generateText({ model: openai("gpt-4o"), prompt });\n'
    '  const label = "réponse PAD générée"; console.log(label, text);\n  return Response.json({ text });\n}\n'
)
PACKAGE = json.dumps({"dependencies": {"next": "15.2.4", "ai": "4.0.0", "@ai-sdk/openai": "1.0.0"}})


def _write(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    return root


def _places(cli: Cli, app: Path, rule: str) -> tuple[list[tuple[str, int, int]], list[tuple[str, int, int]]]:
    """(path, line, column) of each finding of `rule`, from the JSON report and from the SARIF one."""
    code, out, err = cli("scan", str(app), "--rule", rule, "--format", "json", "--no-progress")
    assert code in (0, 1), err
    from_json = [(f["path"], f["line"], f["column"]) for f in json.loads(out)["findings"]]
    code, out, err = cli("scan", str(app), "--rule", rule, "--format", "sarif", "--no-progress")
    assert code in (0, 1), err
    run: dict[str, Any] = json.loads(out)["runs"][0]
    assert run["columnKind"] == "unicodeCodePoints"
    from_sarif = []
    for result in run["results"]:
        location = result["locations"][0]["physicalLocation"]
        region = location["region"]
        from_sarif.append((location["artifactLocation"]["uri"], region["startLine"], region["startColumn"]))
    return from_json, from_sarif


def test_a_tree_sitter_column_after_wide_characters_counts_code_points(cli: Cli, tmp_path: Path) -> None:
    app = _write(tmp_path / "shop", {"package.json": PACKAGE, "app/api/chat/route.ts": ROUTE.replace("PAD", "🤖")})
    line = ROUTE.replace("PAD", "🤖").splitlines()[6]
    expected = line.index("console.log") + 1
    assert expected == 38 and len(line[: expected - 1].encode()) + 1 == 45  # the byte column it used to be
    from_json, from_sarif = _places(cli, app, "LL007")
    assert from_json == [("app/api/chat/route.ts", 7, 38)]
    assert from_sarif == [("app/api/chat/route.ts", 7, 38)]
    code, out, _ = cli("scan", str(app), "--rule", "LL007", "--no-progress")
    assert code == 1 and "  7:38  " in out


def _ll005(root: Path, pad: str) -> Path:
    chunk = f'var a="{pad}";var k="{OPENAI}";\n'
    files = {"package.json": PACKAGE, ".env": f"OPENAI_API_KEY={OPENAI}\n", ".next/static/chunks/7-abc.js": chunk}
    return _write(root, files)


def _ll013(root: Path, pad: str) -> Path:
    shutil.copytree(FIXTURES / "LL013" / "vulnerable", root)
    (root / "vercel.json").write_text(f'{{"$schema": "https://x.test/{pad}", "regions": ["iad1"]}}\n')
    return root


def _ll016(root: Path, pad: str) -> Path:
    manifest = f'{{"name": "shop-{pad}", "dependencies": {{"next": "15.0.3"}}}}\n'
    return _write(root, {"package.json": manifest, "app/page.tsx": "export default function P() { return null; }\n"})


def _ll002(root: Path, pad: str) -> Path:
    csp = "default-src 'self' http:"
    headers = (
        f'{{"headers": [{{"source": "/{pad}", "headers": [{{"key": "Content-Security-Policy", "value": "{csp}"}}]}}]}}'
    )
    files = {"package.json": PACKAGE, "vercel.json": headers + "\n", "app/page.tsx": "export default function P() {}\n"}
    return _write(root, files)


def _ll002_inside(root: Path, pad: str) -> Path:
    """The wide characters inside the header value, before the weak source the finding points at."""
    csp = f"default-src 'self' https://cdn-{pad}.test http:"
    headers = f'{{"headers": [{{"source": "/", "headers": [{{"key": "Content-Security-Policy", "value": "{csp}"}}]}}]}}'
    files = {"package.json": PACKAGE, "vercel.json": headers + "\n", "app/page.tsx": "export default function P() {}\n"}
    return _write(root, files)


@pytest.mark.parametrize(
    ("rule", "build", "path", "column_of"),
    [
        # Columns counted over decoded text: build output, vercel.json, package.json.
        ("LL005", _ll005, ".next/static/chunks/7-abc.js", OPENAI),
        ("LL013", _ll013, "vercel.json", '"iad1"'),
        ("LL016", _ll016, "package.json", '"next"'),
        # vercel.json headers are read by tree-sitter (as a JS expression): byte columns, converted.
        ("LL002", _ll002, "vercel.json", "default-src"),
        ("LL002", _ll002_inside, "vercel.json", "http:"),
    ],
    ids=[
        "LL005-build-output",
        "LL013-vercel.json",
        "LL016-package.json",
        "LL002-vercel.json-headers",
        "LL002-inside-the-value",
    ],
)
def test_every_kind_of_column_counts_code_points(
    cli: Cli, tmp_path: Path, rule: str, build: Callable[[Path, str], Path], path: str, column_of: str
) -> None:
    narrow = build(tmp_path / "narrow", NARROW)
    wide = build(tmp_path / "wide", WIDE)
    line = (wide / path).read_text(encoding="utf-8").splitlines()[0]
    assert WIDE in line[: line.index(column_of)]
    narrow_json, narrow_sarif, wide_json, wide_sarif = (
        [place for place in places if place[0] == path]
        for places in (*_places(cli, narrow, rule), *_places(cli, wide, rule))
    )
    assert len(wide_json) == 1, wide_json
    (_, found_line, column) = wide_json[0]
    assert found_line == 1
    # Same characters before the finding, same column, whatever their width in bytes.
    assert wide_json == narrow_json == wide_sarif == narrow_sarif
    if build is not _ll002:  # there LL002 points at the start of the value's weak part, not its first word
        assert column == line.index(column_of) + 1
