"""LL014 edge cases beyond the fixture pair: how a path under public/ is recognised (property based),
other storage APIs (S3 v2 / lib-storage, GCS predefinedAcl, Blob namespaces), and shared-cache headers."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.scan import parse as ts
from leakline.scan.engine import scan
from leakline.scan.rules.ll014 import is_public_path, source_pattern

PACKAGE = {"name": "t", "private": True, "dependencies": {"next": "15.2.4", "openai": "4.77.0"}}
PRELUDE = """import OpenAI from "openai";
import fs from "node:fs";
import * as blob from "@vercel/blob";
import { Upload } from "@aws-sdk/lib-storage";
const client = new OpenAI({ baseURL: process.env.OLLAMA_BASE_URL });
export async function GET(req: Request) {
  const q = new URL(req.url).searchParams.get("q") ?? "";
  const c = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: q }] });
  const text = c.choices[0].message.content ?? "";
"""


def _path_expr(source: str) -> ts.Node:
    tree = ts.parse(f"const p = ({source});".encode(), ts.language_for(".ts"))  # type: ignore[arg-type]
    declarator = tree.root_node.named_children[0].named_children[0]
    value = declarator.child_by_field_name("value")
    assert value is not None
    return value


SEGMENT = st.text(alphabet="abcdefghij-_", min_size=1, max_size=8)


@settings(max_examples=50, deadline=None)
@given(tail=st.lists(SEGMENT, min_size=1, max_size=3), form=st.sampled_from(["literal", "template", "join"]))
def test_paths_under_public_are_recognised_in_every_form(tail: list[str], form: str) -> None:
    rest = "/".join(tail)
    source = {
        "literal": f'"./public/{rest}"',
        "template": f"`${{process.cwd()}}/public/{rest}/${{id}}.json`",
        "join": "path.join(process.cwd(), " + ", ".join(f'"{s}"' for s in ["public", *tail]) + ")",
    }[form]
    assert is_public_path(_path_expr(source))


@settings(max_examples=50, deadline=None)
@given(
    name=SEGMENT.filter(lambda s: s != "public"),
    form=st.sampled_from(["literal", "template", "join"]),
)
def test_other_folders_are_not_public_even_when_their_name_contains_public(name: str, form: str) -> None:
    folder = f"{name}public" if len(name) % 2 else f"public{name}"
    source = {
        "literal": f'"./{folder}/a.txt"',
        "template": f"`${{process.cwd()}}/{folder}/${{id}}.json`",
        "join": f'path.join(process.cwd(), "{folder}", "a.txt")',
    }[form]
    assert not is_public_path(_path_expr(source))


def _route(tmp_path: Path, body: str) -> tuple[Path, list[str]]:
    (tmp_path / "package.json").write_text(json.dumps(PACKAGE))
    route = tmp_path / "app/api/chat/route.ts"
    route.parent.mkdir(parents=True)
    source = PRELUDE + body + "}\n"
    route.write_text(source)
    return tmp_path, source.splitlines()


def _found_lines(app: Path) -> list[int]:
    result = scan(app, rule_ids=["LL014"])
    assert result.stats.rule_errors == []
    return sorted(f.line for f in result.findings if f.rule == "LL014")


@pytest.mark.parametrize(
    "body",
    [
        '  const dir = "public/answers";\n  const file = `${dir}/${Date.now()}.txt`;\n'
        "  fs.writeFileSync(file, text); // HIT\n  return new Response(text);\n",
        "  await s3.putObject({ Bucket: 'b', Key: 'k', Body: JSON.stringify({ q, text }),\n"
        "    ACL: 'public-read-write' }); // HIT\n  return new Response(text);\n",
        "  await new Upload({ client: s3, params: { Bucket: 'b', Key: 'k', Body: text, ACL: 'public-read' } }).done(); // HIT\n"
        "  return new Response(text);\n",
        "  await blob.put('a.txt', text, { access: 'public' }); // HIT\n  return new Response(text);\n",
        "  await gcs.file('a').save(q, { predefinedAcl: 'publicRead' }); // HIT\n  return new Response(text);\n",
        '  return Response.json({ text }, { headers: { "cache-control": "max-age=0, s-maxage=60" } }); // HIT\n',
        '  const res = new Response(text);\n  res.headers.set("Cache-Control", "public, max-age=30"); // HIT\n  return res;\n',
    ],
)
def test_public_writes_of_llm_data_are_reported(tmp_path: Path, body: str) -> None:
    app, lines = _route(tmp_path, body)
    assert _found_lines(app) == [n for n, line in enumerate(lines, start=1) if "// HIT" in line]


@pytest.mark.parametrize(
    "body",
    [
        # Not LLM data: a public write of something else.
        '  fs.writeFileSync("public/robots.txt", "User-agent: *");\n  return new Response(text);\n',
        # A local `put` that is not Vercel Blob's.
        "  const put = (k: string, v: string, o: object) => [k, v, o];\n"
        "  put('a', text, { access: 'public' });\n  return new Response(text);\n",
        # GCS makePublic of an object that was not saved with LLM data in this function.
        "  await gcs.file('logo.png').makePublic();\n  return new Response(text);\n",
        # private wins over s-maxage; public on a response that carries no LLM data.
        '  return Response.json({ text }, { headers: { "Cache-Control": "private, s-maxage=0" } });\n',
        '  return Response.json({ ok: true }, { headers: { "Cache-Control": "public, max-age=60" } });\n',
    ],
)
def test_lookalikes_are_not_reported(tmp_path: Path, body: str) -> None:
    app, _ = _route(tmp_path, body)
    assert _found_lines(app) == []


@pytest.mark.parametrize(
    ("source", "url", "matches"),
    [
        ("/api/:path*", "/api", True),
        ("/api/:path*", "/api/chat/x", True),
        ("/api/:path+", "/api", False),
        ("/api/:path+", "/api/chat", True),
        ("/api/:slug", "/api/chat", True),
        ("/api/:slug", "/api/chat/x", False),
        ("/api/:slug?", "/api", True),
        ("/:path*", "/api/chat", True),
        ("/api/(.*)", "/api/chat", True),
        ("/images/:path*", "/api/chat", False),
        ("/api/chat", "/api/chatbot", False),
    ],
)
def test_next_config_sources_match_urls_like_path_to_regexp(source: str, url: str, matches: bool) -> None:
    pattern = source_pattern(source)
    assert pattern is not None
    assert bool(pattern.fullmatch(url)) is matches


def test_next_config_shared_cache_on_a_non_llm_route_is_not_reported(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps(PACKAGE))
    (tmp_path / "next.config.js").write_text(
        "module.exports = { async headers() { return [{ source: '/api/stock/:sku',\n"
        "  headers: [{ key: 'Cache-Control', value: 'public, s-maxage=60' }] }]; } };\n"
    )
    stock = tmp_path / "app/api/stock/[sku]/route.ts"
    stock.parent.mkdir(parents=True)
    stock.write_text("export async function GET() { return Response.json({ inStock: 3 }); }\n")
    chat = tmp_path / "app/api/chat/route.ts"
    chat.parent.mkdir(parents=True)
    chat.write_text(PRELUDE + "  return Response.json({ text });\n}\n")
    assert _found_lines(tmp_path) == []
    (tmp_path / "next.config.js").write_text(
        (tmp_path / "next.config.js").read_text().replace("/api/stock/:sku", "/api/:path*")
    )
    assert _found_lines(tmp_path) == [2]


def test_long_generated_concatenations_neither_recurse_nor_hide_public_paths() -> None:
    chain = " + ".join(['"./public/"', *[f'"part{n}/"' for n in range(3000)], "id"])
    assert is_public_path(_path_expr(chain))
    assert not is_public_path(_path_expr(chain.replace("./public/", "./private/")))


VERCEL_JSON = """{
  "headers": [
    { "source": "/images/(.*)", "headers": [{ "key": "Cache-Control", "value": "public, max-age=86400" }] },
    {
      "source": "/api/(.*)",
      "headers": [{ "key": "Cache-Control", "value": "public, s-maxage=60" }]
    }
  ]
}
"""


def test_vercel_json_shared_cache_on_llm_routes_is_reported_once_also_when_sharded(tmp_path: Path) -> None:
    app, _ = _route(tmp_path, "  return Response.json({ text });\n")
    (app / "vercel.json").write_text(VERCEL_JSON)
    for n in range(5):
        (app / f"lib/util{n}.ts").parent.mkdir(exist_ok=True)
        (app / f"lib/util{n}.ts").write_text(f"export const n{n} = {n};\n")
    for jobs in (1, 2):
        result = scan(app, rule_ids=["LL014"], jobs=jobs)
        assert result.stats.rule_errors == []
        assert [(f.path, f.line) for f in result.findings] == [("vercel.json", 6)]


@pytest.mark.parametrize(
    "body",
    [
        "  return Response.json({ text }, { headers: { 'CDN-Cache-Control': 'max-age=3600' } }); // HIT\n",
        "  const res = new Response(text);\n  res.headers.set('Vercel-CDN-Cache-Control', 'max-age=86400'); // HIT\n"
        "  return res;\n",
        "  return new Response(text, { headers: { 'Cloudflare-CDN-Cache-Control': 's-maxage=600' } }); // HIT\n",
        "  return new Response(text, { headers: { 'Surrogate-Control': 'max-age=60' } }); // HIT\n",
        "  const ttl = 60;\n  return new Response(text, { headers: { 'CDN-Cache-Control': `max-age=${ttl}` } }); // HIT\n",
        # Near misses: a zero lifetime, no-store / private, a targeted header on a response without LLM data.
        "  return new Response(text, { headers: { 'CDN-Cache-Control': 'max-age=0' } });\n",
        "  return new Response(text, { headers: { 'Vercel-CDN-Cache-Control': 'no-store' } });\n",
        "  return new Response(text, { headers: { 'Surrogate-Control': 'private, max-age=60' } });\n",
        "  return Response.json({ ok: true }, { headers: { 'CDN-Cache-Control': 'max-age=3600' } });\n",
    ],
)
def test_cdn_targeted_cache_headers_are_shared_caches(tmp_path: Path, body: str) -> None:
    """The reviewer's lab/app/api/h: CDN-Cache-Control / Vercel-CDN-Cache-Control on a GET answer were missed."""
    app, lines = _route(tmp_path, body)
    assert _found_lines(app) == [n for n, line in enumerate(lines, start=1) if "// HIT" in line]


@pytest.mark.parametrize(
    ("header", "value", "expected"),
    [
        ("Cache-Control", "public, max-age=30", True),
        ("cache-control", "max-age=3600", False),
        ("Cache-Control", "private, s-maxage=60", False),
        ("CDN-Cache-Control", "max-age=3600", True),
        ("CDN-Cache-Control", "max-age=0", False),
        ("CDN-Cache-Control", "max-age=00", False),
        ("CDN-Cache-Control", "s-maxage=10", True),
        ("Vercel-CDN-Cache-Control", "no-store", False),
        ("Cloudflare-CDN-Cache-Control", "public", True),
        ("Surrogate-Control", "max-age=*", True),
        ("Surrogate-Control", "no-store, max-age=60", False),
        ("X-Cache-Control", "public", False),
    ],
)
def test_shares_cache(header: str, value: str, expected: bool) -> None:
    from leakline.scan.rules.ll014 import shares_cache

    assert shares_cache(header, value) is expected


def _write(root: Path, files: dict[str, str]) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "package.json").write_text(json.dumps(PACKAGE))
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


ASK = (
    'import OpenAI from "openai";\n'
    "const client = new OpenAI({ baseURL: process.env.OLLAMA_BASE_URL });\n"
    "export async function ask(q: string) {\n"
    '  const c = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: q }] });\n'
    '  return c.choices[0].message.content ?? "";\n'
    "}\n"
)
SHARED = "{ headers: { 'Cache-Control': 'public, s-maxage=600' } }"


def _handler(method: str, head: str = "") -> str:
    return (
        f"export async function {method}(req: Request) {{\n"
        f"{head}"
        "  const text = await ask(new URL(req.url).searchParams.get('q') ?? '');\n"
        f"  return new Response(text, {SHARED});\n"
        "}\n"
    )


def test_answers_to_post_are_not_kept_by_cdns(tmp_path: Path) -> None:
    """The reviewer's shop/app/api/assist: Cache-Control public on a POST-only chat handler was reported, though
    CDNs store answers to GET and HEAD only."""
    imp = "import { ask } from '@/lib/ask';\n"
    helper = (
        "function cached(text: string) {\n"
        f"  return new Response(text, {SHARED});\n"
        "}\n"
        "export async function POST(req: Request) { return cached(await ask((await req.json()).q)); }\n"
    )
    aliased = (
        "async function handler(req: Request) {\n"
        "  const text = await ask(new URL(req.url).searchParams.get('q') ?? '');\n"
        f"  return new Response(text, {SHARED});\n"
        "}\n"
        "export { handler as GET, handler as POST };\n"
    )
    app = _write(
        tmp_path,
        {
            "tsconfig.json": '{"compilerOptions":{"baseUrl":".","paths":{"@/*":["./*"]}}}',
            "lib/ask.ts": ASK,
            "app/api/post/route.ts": imp + _handler("POST"),
            "app/api/both/route.ts": imp + _handler("POST") + _handler("GET"),
            "app/api/helper/route.ts": imp + helper,
            "app/api/aliased/route.ts": imp + aliased,
            "app/api/const/route.ts": imp
            + _handler("POST").replace("export async function POST", "async function POST")
            + "export { POST };\nexport const GET = POST;\n",
        },
    )
    result = scan(app, rule_ids=["LL014"])
    assert result.stats.rule_errors == []
    assert sorted((f.path, f.line) for f in result.findings) == [
        ("app/api/aliased/route.ts", 4),
        ("app/api/both/route.ts", 8),
        ("app/api/const/route.ts", 4),
    ]


def test_next_config_cdn_headers_on_llm_routes_answering_get(tmp_path: Path) -> None:
    config = (
        "module.exports = { async headers() { return [{ source: '/api/:path*', headers: [\n"
        "  { key: 'Vercel-CDN-Cache-Control', value: 'max-age=86400' },\n"
        "  { key: 'CDN-Cache-Control', value: 'no-store' },\n"
        "] }]; } };\n"
    )
    imp = "import { ask } from '@/lib/ask';\n"
    files = {
        "tsconfig.json": '{"compilerOptions":{"baseUrl":".","paths":{"@/*":["./*"]}}}',
        "lib/ask.ts": ASK,
        "next.config.js": config,
        "app/api/chat/route.ts": imp + _handler("POST").replace(f"text, {SHARED}", "text"),
    }
    assert _found_lines(_write(tmp_path / "post", files)) == []
    files["app/api/tips/route.ts"] = imp + _handler("GET").replace(f"text, {SHARED}", "text")
    result = scan(_write(tmp_path / "get", files), rule_ids=["LL014"])
    assert [(f.path, f.line, f.evidence) for f in result.findings] == [
        ("next.config.js", 2, "/api/:path*: Vercel-CDN-Cache-Control: max-age=86400")
    ]
