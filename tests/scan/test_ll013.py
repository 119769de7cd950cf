"""LL013 beyond the fixture pair: the position-keeping JSON reader, vercel.json globs, apps without a
residency policy, unpinned preferredRegion values, malformed vercel.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.scan.engine import scan
from leakline.scan.rules.ll013 import (
    DuplicateKey,
    InvalidEscape,
    Located,
    TrailingData,
    UnexpectedCharacter,
    UnterminatedString,
    VercelJsonError,
    glob_to_regex,
    read_located_json,
)

PACKAGE = '{"dependencies":{"next":"15.1.0","openai":"4.77.0"}}'
LLM_LIB = (
    "import OpenAI from 'openai';\n"
    "const client = new OpenAI({ baseURL: process.env.OLLAMA_BASE_URL });\n"
    "export async function ask(q: string) {\n"
    "  const r = await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: q }] });\n"
    "  return r.choices[0].message.content;\n"
    "}\n"
)


def _route(segment_config: str) -> str:
    return (
        "import { ask } from '../../../lib/llm';\n"
        f"{segment_config}\n"
        "export async function POST(req: Request) {\n"
        "  return Response.json({ a: await ask((await req.json()).q) });\n"
        "}\n"
    )


def _app(root: Path, files: dict[str, str]) -> Path:
    for rel, text in {"package.json": PACKAGE, "lib/llm.ts": LLM_LIB, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _found(app: Path) -> list[tuple[str, int]]:
    result = scan(app, rule_ids=["LL013"])
    assert result.stats.rule_errors == []
    return [(f.path, f.line) for f in result.findings]


POLICY = '[residency]\nallowed_regions = ["fra1", "cdg1"]\n'


def _plain(node: Located) -> Any:
    if isinstance(node.value, dict):
        return {k: _plain(v) for k, v in node.value.items()}
    if isinstance(node.value, list):
        return [_plain(v) for v in node.value]
    return node.value


def test_located_json_keeps_line_and_column_of_every_value() -> None:
    doc = read_located_json("vercel.json", '{\n  "regions": [\n    "fra1",\n    "iad1"\n  ],\n  "n": -1.5e2\n}\n')
    assert isinstance(doc.value, dict)
    regions = doc.value["regions"]
    assert isinstance(regions.value, list)
    assert [(r.value, r.line, r.column) for r in regions.value] == [("fra1", 3, 5), ("iad1", 4, 5)]
    assert (doc.value["n"].value, doc.value["n"].line, doc.value["n"].column) == (-150.0, 6, 8)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(10**6), 10**6) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=80, deadline=None)
@given(value=_JSON, indent=st.sampled_from([None, 2]))
def test_located_json_reads_what_json_writes(value: object, indent: int | None) -> None:
    assert _plain(read_located_json("vercel.json", json.dumps(value, indent=indent))) == value


@pytest.mark.parametrize(
    ("text", "error", "where"),
    [
        ('{"regions": ["fra1",]}', UnexpectedCharacter, "vercel.json:1:21: expected a JSON value, found ']'"),
        ('{\n  "regions": "fra1\n}', UnterminatedString, "vercel.json:2:14: unterminated string"),
        ('{"a": "\\q"}', InvalidEscape, "vercel.json:1:7: invalid escape sequence in string"),
        ('{"a": 1} {}', TrailingData, "vercel.json:1:10: unexpected data after the JSON value"),
        ('{"a": 1, "a": 2}', DuplicateKey, "vercel.json:1:10: duplicate key 'a'"),
        ('{"a" 1}', UnexpectedCharacter, "vercel.json:1:6: expected ':', found '1'"),
        ("", UnexpectedCharacter, "vercel.json:1:1: expected a JSON value, found end of file"),
    ],
)
def test_malformed_json_gets_a_typed_error_with_position(text: str, error: type[VercelJsonError], where: str) -> None:
    with pytest.raises(error) as info:
        read_located_json("vercel.json", text)
    assert type(info.value) is error
    assert info.value.message.startswith(where)


def test_error_offset_counts_bytes_not_characters() -> None:
    with pytest.raises(UnexpectedCharacter) as info:
        read_located_json("vercel.json", '{"é": x}')
    assert info.value.offset == 7  # `x` is at character offset 6 but byte offset 7: é takes two bytes
    assert info.value.message == "vercel.json:1:7: expected a JSON value, found 'x' (byte offset 7)"


@pytest.mark.parametrize(
    ("glob", "path", "expected"),
    [
        ("app/api/**/*.ts", "app/api/chat/route.ts", True),
        ("app/api/**/*.ts", "app/api/route.ts", True),
        ("app/api/*.ts", "app/api/chat/route.ts", False),
        ("pages/api/*.{js,ts}", "pages/api/chat.ts", True),
        ("/app/api/chat/route.ts", "app/api/chat/route.ts", True),
        ("app/api/chat/route.ts", "app/api/chat/route.tsx", False),
        ("app/**", "app/assistant/page.tsx", True),
    ],
)
def test_vercel_function_globs(glob: str, path: str, expected: bool) -> None:
    assert bool(glob_to_regex(glob).match(path)) is expected


def test_without_policy_only_unpinned_edge_llm_routes_are_reported(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "vercel.json": '{"regions": ["iad1"]}',
            "app/api/a/route.ts": _route("export const runtime = 'edge';"),
            "app/api/b/route.ts": _route("export const runtime = 'edge';\nexport const preferredRegion = 'global';"),
            "app/api/c/route.ts": _route("export const runtime = 'edge';\nexport const preferredRegion = 'iad1';"),
            "app/api/d/route.ts": _route("export const preferredRegion = 'sfo1';"),
            "app/api/e/route.ts": _route("export const runtime = 'nodejs';"),
        },
    )
    assert _found(app) == [("app/api/a/route.ts", 2), ("app/api/b/route.ts", 3)]


def test_with_policy_unpinned_and_outside_values_are_reported(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "leakline.toml": POLICY,
            "app/api/a/route.ts": _route("export const preferredRegion = 'auto';"),
            "app/api/b/route.ts": _route("export const preferredRegion = 'home';"),
            "app/api/c/route.ts": _route("export const preferredRegion = REGIONS;"),
            "app/api/d/route.ts": _route("export const runtime = 'edge';\nexport const preferredRegion = ['cdg1'];"),
            "app/api/e/route.ts": _route("export const preferredRegion = ['fra1', 'lhr1'];"),
        },
    )
    assert _found(app) == [("app/api/a/route.ts", 2), ("app/api/e/route.ts", 2)]


def test_vercel_json_function_globs_and_failover_regions(tmp_path: Path) -> None:
    vercel = (
        "{\n"
        '  "functionFailoverRegions": ["cdg1", "iad1"],\n'
        '  "functions": {\n'
        '    "app/api/**/*.ts": { "regions": ["lhr1"] },\n'
        '    "app/ping/*.ts": { "regions": ["hnd1"] }\n'
        "  }\n"
        "}\n"
    )
    app = _app(
        tmp_path,
        {
            "leakline.toml": POLICY,
            "vercel.json": vercel,
            "app/api/chat/route.ts": _route(""),
            "app/ping/route.ts": "export function GET() { return new Response('pong'); }\n",
        },
    )
    result = scan(app, rule_ids=["LL013"])
    assert [(f.path, f.line, f.column) for f in result.findings] == [("vercel.json", 2, 39), ("vercel.json", 4, 38)]
    assert "app/api/chat/route.ts" in result.findings[1].message


def test_malformed_vercel_json_is_counted_and_the_rest_still_checked(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "leakline.toml": POLICY,
            "vercel.json": '{"regions": ["iad1",]}',
            "app/api/chat/route.ts": _route("export const runtime = 'edge';"),
        },
    )
    result = scan(app, rule_ids=["LL013"])
    assert [(f.path, f.line) for f in result.findings] == [("app/api/chat/route.ts", 2)]
    assert result.stats.skipped["vercel.json is not valid JSON (LL013 skipped it)"] == 1


def test_server_action_modules_are_not_judged_by_segment_config(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "app/actions.ts": (
                "'use server';\nimport { ask } from '../lib/llm';\nexport const runtime = 'edge';\n"
                "export async function suggest(q: string) { return ask(q); }\n"
            ),
        },
    )
    assert _found(app) == []


def test_pages_router_page_on_the_edge_calling_an_llm(tmp_path: Path) -> None:
    page = (
        "import { ask } from '../lib/llm';\n"
        "export const config = { runtime: 'experimental-edge' };\n"
        "export async function getServerSideProps() {\n"
        "  return { props: { tip: await ask('tip') } };\n"
        "}\n"
        "export default function Tips({ tip }) { return <p>{tip}</p>; }\n"
    )
    assert _found(_app(tmp_path, {"pages/tips.tsx": page})) == [("pages/tips.tsx", 2)]


@pytest.mark.parametrize(
    ("vercel", "expected"),
    [
        ('{"functions": []}', []),
        ('{"regions": "sfo1"}', [("vercel.json", 1, 13)]),
        ('{"regions": [5, null, "fra1"]}', []),
        ('{"functions": {"app/**": {"regions": 5}}}', []),
        ('{"functions": {"app/**": "fra1"}}', []),
        ("[1, 2]", []),
        ('"just a string"', []),
    ],
)
def test_unusual_vercel_json_shapes_never_break_the_rule(
    tmp_path: Path, vercel: str, expected: list[tuple[str, int, int]]
) -> None:
    app = _app(tmp_path, {"leakline.toml": POLICY, "vercel.json": vercel, "app/api/chat/route.ts": _route("")})
    result = scan(app, rule_ids=["LL013"])
    assert result.stats.rule_errors == []
    assert [(f.path, f.line, f.column) for f in result.findings] == expected


def test_own_and_function_regions_override_the_top_level_regions(tmp_path: Path) -> None:
    """vercel.json's top-level `regions` is judged only for the LLM routes nothing else pins: a route's own
    preferredRegion (not 'auto'/'home', which defer to the project's regions; not a value leakline cannot read)
    and a matching `functions` entry with regions both override it."""
    vercel = (
        "{\n"
        '  "regions": ["iad1"],\n'
        '  "functions": { "app/api/b/route.ts": { "regions": ["fra1"] }, "app/api/x/*.ts": { "maxDuration": 30 } }\n'
        "}\n"
    )
    pinned = {
        "leakline.toml": POLICY,
        "vercel.json": vercel,
        "app/api/a/route.ts": _route('export const preferredRegion = "fra1";'),
        "app/api/b/route.ts": _route(""),
    }
    assert _found(_app(tmp_path / "pinned", pinned)) == []
    deferring = {
        **pinned,
        "app/api/c/route.ts": _route("export const preferredRegion = 'home';"),
        "app/api/d/route.ts": _route(
            "import { REGIONS } from '../../../lib/regions';\nexport const preferredRegion = REGIONS;"
        ),
        "app/api/x/route.ts": _route(""),
    }
    result = scan(_app(tmp_path / "deferring", deferring), rule_ids=["LL013"])
    assert result.stats.rule_errors == []
    assert [(f.path, f.line, f.column) for f in result.findings] == [("vercel.json", 2, 15)]
    assert "LLM routes (app/api/c/route.ts, app/api/d/route.ts, app/api/x/route.ts) may run there" in (
        result.findings[0].message
    )


def test_reviewer_l13_preferred_region_and_function_regions_are_not_findings(tmp_path: Path) -> None:
    route = _route('export const preferredRegion = "fra1";')
    own = _app(
        tmp_path / "own",
        {"leakline.toml": POLICY, "vercel.json": '{ "regions": ["iad1"] }', "app/api/chat/route.ts": route},
    )
    assert _found(own) == []
    vercel = '{ "functions": { "app/api/chat/route.ts": { "regions": ["fra1"] } }, "regions": ["iad1"] }'
    glob = _app(
        tmp_path / "glob", {"leakline.toml": POLICY, "vercel.json": vercel, "app/api/chat/route.ts": _route("")}
    )
    assert _found(glob) == []
    bare = _app(
        tmp_path / "bare",
        {"leakline.toml": POLICY, "vercel.json": '{ "regions": ["iad1"] }', "app/api/chat/route.ts": _route("")},
    )
    assert _found(bare) == [("vercel.json", 1)]


def test_segment_config_constants_of_the_same_module_are_read(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "leakline.toml": POLICY,
            "lib/regions.ts": "export const US = ['iad1'];\n",
            "app/api/a/route.ts": _route(
                "const REGIONS = ['fra1', 'sfo1'];\nexport const runtime = 'edge';\nexport const preferredRegion = REGIONS;"
            ),
            "app/api/b/route.ts": _route(
                "export const EU = ['fra1', 'cdg1'];\nconst ALL = [...EU, 'iad1'];\nexport const preferredRegion = ALL;"
            ),
            "app/api/c/route.ts": _route(
                "const EDGE = 'edge';\nconst HOME = 'fra1';\nexport const runtime = EDGE;\n"
                "export const preferredRegion = [HOME, 'cdg1'];"
            ),
            "app/api/d/route.ts": _route("const RUNTIME = 'edge';\nexport const runtime = RUNTIME;"),
            "app/api/e/route.ts": _route("let R = ['fra1'];\nR = ['hnd1'];\nexport const preferredRegion = R;"),
            "app/api/f/route.ts": _route(
                "import { US } from '../../../lib/regions';\nexport const preferredRegion = US;"
            ),
        },
    )
    result = scan(app, rule_ids=["LL013"])
    assert result.stats.rule_errors == []
    found = [(f.path, f.line, f.evidence) for f in result.findings]
    assert found == [
        ("app/api/a/route.ts", 4, "preferredRegion: sfo1"),
        ("app/api/b/route.ts", 4, "preferredRegion: iad1"),
        ("app/api/d/route.ts", 3, "runtime: edge"),
    ]
