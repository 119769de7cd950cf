"""Expected findings of a fixture app, read from semgrep-style annotations.

A line containing `ruleid: LL0NN` (in any comment syntax) announces a finding of that rule on the next
line that is not itself an annotation. Files that cannot hold comments (JSON, binary model files) list
their expected findings in the fixture's `expected.txt`: one `LL0NN path line` per row.
`ok: LL0NN` marks a near miss (a safe look-alike) for readers; it expects nothing.
"""

from __future__ import annotations

import re
from pathlib import Path

ANNOTATION = re.compile(r"\bruleid:\s*((?:LL\d{3}[\s,]*)+)")
OK_ANNOTATION = re.compile(r"\bok:\s*LL\d{3}")
TEXT_SUFFIXES = {
    ".ts",
    ".tsx",
    ".js",
    ".jsx",
    ".mjs",
    ".cjs",
    ".json",
    ".env",
    ".toml",
    ".yaml",
    ".yml",
    ".md",
    ".lock",
    ".html",
    ".map",
}


def _is_text(path: Path) -> bool:
    return path.suffix in TEXT_SUFFIXES or path.name.startswith(".env")


def expected_findings(app: Path, rule: str) -> set[tuple[str, int]]:
    out: set[tuple[str, int]] = set()
    for path in sorted(app.rglob("*")):
        if not path.is_file() or "node_modules" in path.parts or not _is_text(path):
            continue
        rel = path.relative_to(app).as_posix()
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError:
            continue
        pending: list[str] = []
        for number, line in enumerate(lines, start=1):
            match = ANNOTATION.search(line)
            if match:
                pending.extend(re.findall(r"LL\d{3}", match.group(1)))
                continue
            if OK_ANNOTATION.search(line) and line.strip().startswith(("//", "#", "/*", "{/*", "*")):
                continue
            if pending:
                if rule in pending:
                    out.add((rel, number))
                pending = []
    expected_txt = app / "expected.txt"
    if expected_txt.exists():
        for row in expected_txt.read_text(encoding="utf-8").splitlines():
            parts = row.split()
            if len(parts) == 3 and parts[0] == rule:
                out.add((parts[1], int(parts[2])))
    return out
