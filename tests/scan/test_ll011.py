"""LL011 edge cases beyond the fixture pair: every header-writing API, headers objects held in constants,
request headers (not responses), and model internals that are not LLM data elsewhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakline.scan.engine import scan

PACKAGE = {"name": "t", "private": True, "dependencies": {"next": "15.2.4", "openai": "4.77.0", "ai": "4.1.0"}}
PRELUDE = """import OpenAI from "openai";
import { NextResponse } from "next/server";
import { generateText } from "ai";
const client = new OpenAI({ baseURL: process.env.OLLAMA_BASE_URL });
export async function POST(req: Request) {
  const { prompt } = await req.json();
  const c = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: prompt }] });
  const text = c.choices[0].message.content ?? "";
"""


def _route(tmp_path: Path, body: str) -> tuple[Path, list[str]]:
    (tmp_path / "package.json").write_text(json.dumps(PACKAGE))
    route = tmp_path / "app/api/chat/route.ts"
    route.parent.mkdir(parents=True)
    source = PRELUDE + body + "}\n"
    route.write_text(source)
    return tmp_path, source.splitlines()


def _found_lines(app: Path) -> list[int]:
    result = scan(app, rule_ids=["LL011"])
    assert result.stats.rule_errors == []
    return sorted(f.line for f in result.findings if f.rule == "LL011" and f.path == "app/api/chat/route.ts")


def _lines_with(lines: list[str], marker: str) -> list[int]:
    return [n for n, text in enumerate(lines, start=1) if marker in text]


@pytest.mark.parametrize(
    "body",
    [
        '  return new Response(text, { headers: { "x-answer": text } }); // HIT\n',
        '  return new NextResponse(text, { status: 200, headers: [["x-q", prompt]] }); // HIT\n',
        '  return NextResponse.next({ headers: { "x-fp": c.system_fingerprint } }); // HIT\n',
        '  const init = { "x-model": c.model }; // HIT\n  return Response.json({ ok: true }, { headers: init });\n',
        '  const h = new Headers({ "x-prompt": prompt }); // HIT\n  return new Response("ok", { headers: h });\n',
        '  const out = new Headers();\n  out.append("x-usage", JSON.stringify(c.usage)); // HIT\n  return new Response("ok", { headers: out });\n',
        "  const { usage } = await generateText({ model: client as never, prompt });\n"
        '  return new Response("ok", { headers: { "x-tokens": String(usage.totalTokens) } }); // HIT\n',
        '  res.writeHead(200, { "x-answer": encodeURIComponent(text) }); // HIT\n',
        '  res.appendHeader("x-answer", text); // HIT\n',
    ],
)
def test_header_writes_carrying_llm_data_or_internals_are_reported(tmp_path: Path, body: str) -> None:
    app, lines = _route(tmp_path, body)
    assert _found_lines(app) == _lines_with(lines, "// HIT")


@pytest.mark.parametrize(
    "body",
    [
        # The request's headers, forwarded upstream or to a rewrite, are not response headers.
        '  req.headers.set("x-prompt", prompt);\n  return new Response(text);\n',
        "  const requestHeaders = new Headers(req.headers);\n"
        '  requestHeaders.set("x-prompt", prompt);\n'
        "  return NextResponse.next({ request: { headers: requestHeaders } });\n",
        # Headers sent to the model are configuration of the LLM call.
        '  await fetch("http://127.0.0.1:11434/api/chat", { method: "POST", headers: { "x-trace": "1" }, body: prompt });\n'
        "  return new Response(text);\n",
        # Lengths and counts keep no content; a Map named like headers is not a Headers object.
        '  return new Response(text, { headers: { "x-length": String(text.length) } });\n',
        # Everyday names in an LLM route are not model internals.
        "  const request = req;\n"
        '  return new Response(text, { headers: { "x-request-id": request.headers.get("x-request-id") ?? "" } });\n',
        '  const cache = new Map();\n  cache.set("last", text);\n  return new Response(text);\n',
    ],
)
def test_lookalikes_are_not_reported(tmp_path: Path, body: str) -> None:
    app, _ = _route(tmp_path, body)
    assert _found_lines(app) == []


def test_usage_outside_an_llm_calling_function_is_not_model_internals(tmp_path: Path) -> None:
    (tmp_path / "package.json").write_text(json.dumps(PACKAGE))
    route = tmp_path / "app/api/quota/route.ts"
    route.parent.mkdir(parents=True)
    route.write_text(
        "export async function GET() {\n"
        "  const usage = await fetch('http://127.0.0.1:9000/quota').then((r) => r.json());\n"
        '  return new Response("ok", { headers: { "x-quota": String(usage) } });\n'
        "}\n"
    )
    result = scan(tmp_path, rule_ids=["LL011"])
    assert [(f.path, f.line) for f in result.findings] == []
