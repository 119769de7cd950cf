"""`env_reads` (LL003, LL004) finds `process.env` reads from the bytes `process` and the tree around them;
it must return exactly the reads a tree-sitter query for the same three shapes captures, on every fixture
file and on tricky snippets (comments, strings, longer identifiers, optional chaining, casts)."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakline.config import Settings
from leakline.scan import parse as ts
from leakline.scan.engine import build_index
from leakline.scan.index import SourceFile
from leakline.scan.rules.ll003 import EnvRead, _destructured_reads, env_reads
from leakline.scan.walker import WalkStats, discover_apps
from tests.scan.apps import write_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"

# The query env_reads used to run: the reference its byte-anchored search is compared with.
REFERENCE_QUERY = """
(member_expression
  object: (member_expression object: (identifier) @_p property: (property_identifier) @_e)
  property: (property_identifier) @name
  (#eq? @_p "process") (#eq? @_e "env"))
(subscript_expression
  object: (member_expression object: (identifier) @_p property: (property_identifier) @_e)
  index: (string) @key
  (#eq? @_p "process") (#eq? @_e "env"))
(variable_declarator
  name: (object_pattern) @pattern
  value: (member_expression object: (identifier) @_p property: (property_identifier) @_e)
  (#eq? @_p "process") (#eq? @_e "env"))
"""


def _reference(f: SourceFile) -> list[EnvRead]:
    root, lang = f.root, f.language
    assert root is not None and lang is not None
    found = ts.captures(lang, REFERENCE_QUERY, root)
    out = [EnvRead(ts.text(n), n.start_point[0] + 1, n.start_point[1] + 1) for n in found.get("name", [])]
    for node in found.get("key", []):
        value = ts.string_value(node)
        if value:
            out.append(EnvRead(value, node.start_point[0] + 1, node.start_point[1] + 1))
    for pattern in found.get("pattern", []):
        out.extend(_destructured_reads(pattern))  # what a pattern binds is shared; finding the pattern is not
    return sorted(out, key=lambda r: (r.line, r.column))


def test_env_reads_equal_the_reference_query_on_every_fixture_file() -> None:
    apps = sorted({app for root in (FIXTURES / "rules", EXAMPLES) for app in discover_apps(root)})
    files = reads = 0
    for app in apps:
        index = build_index(app, Settings(), WalkStats(), set())
        for f in index.sources:
            if b"process" not in f.data():
                continue
            expected = _reference(f)
            assert env_reads(f) == expected, f.rel
            files += 1
            reads += len(expected)
    assert files > 40
    assert reads > 50


SNIPPET = """const a = process.env.OLLAMA_URL;
const b = process.env["OPENAI_KEY"];
const { DB_URL, "QUOTED": q, RENAMED: r, WITH_DEFAULT = "x", ...rest } = process.env;
const c = process.env?.OPTIONAL;
const d = (process.env as any).CAST;
const e = process.env[name];
const f = myprocess.env.NOT_A_READ + process_.env.NOR_THIS + process.envy.NOR;
// process.env.IN_A_COMMENT
const g = "process.env.IN_A_STRING";
const h = `${process.env.IN_TEMPLATE}`;
const i = process.env.A.B;
const j = globalThis.process.env.NOT_PROCESS_ITSELF;
function k(process: any) { return process.env.SHADOWED; }
"""


@pytest.mark.parametrize("name", ["lib/x.ts", "app/x.tsx", "lib/x.js"])
def test_env_reads_on_tricky_snippets(tmp_path: Path, name: str) -> None:
    app = write_app(tmp_path, {name: SNIPPET})
    index = build_index(app, Settings(), WalkStats(), set())
    f = index.files[name]
    found = env_reads(f)
    assert found == _reference(f)
    assert [(r.name, r.line) for r in found] == [
        ("OLLAMA_URL", 1),
        ("OPENAI_KEY", 2),
        ("DB_URL", 3),
        ("QUOTED", 3),
        ("RENAMED", 3),
        ("WITH_DEFAULT", 3),
        ("OPTIONAL", 4),
        ("IN_TEMPLATE", 10),
        ("A", 11),
        ("SHADOWED", 13),
    ]
