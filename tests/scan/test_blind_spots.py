"""R2b item 6: an LLM client the app depends on and imports, whose calls the scan never recognised as LLM calls,
is named in stats.warnings: a scan that sees nothing there must not look like a clean one."""

from __future__ import annotations

import json
from pathlib import Path

from leakline.scan.engine import scan
from tests.scan.apps import write_app

COHERE_ROUTE = """import { CohereClient } from "cohere-ai";
const cohere = new CohereClient({ token: process.env.CO_API_KEY });
export async function POST(req: Request) {
  const { question } = await req.json();
  const res = await cohere.chat({ model: "command-r", message: question });
  console.log(res.text);
  return Response.json({ ok: true });
}
"""
EMBEDDINGS_ROUTE = """import OpenAI from "openai";
const openai = new OpenAI();
export async function POST(req: Request) {
  const { text } = await req.json();
  const e = await openai.embeddings.create({ model: "text-embedding-3-small", input: text });
  return Response.json({ n: e.data.length });
}
"""
CHAT_ROUTE = """import OpenAI from "openai";
const openai = new OpenAI();
export async function POST(req: Request) {
  const { q } = await req.json();
  const r = await openai.chat.completions.create({ model: "m", messages: [{ role: "user", content: q }] });
  return Response.json({ a: r.choices[0].message.content });
}
"""


def _package(*deps: str) -> dict[str, object]:
    return {"dependencies": {"next": "15.2.4", **{dep: "1.0.0" for dep in deps}}}


def test_an_imported_client_whose_calls_are_not_recognised_is_named(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {"app/api/chat/route.ts": COHERE_ROUTE, "app/api/embed/route.ts": EMBEDDINGS_ROUTE},
        package=_package("cohere-ai", "openai"),
    )
    assert scan(app, rule_ids=["LL007"]).stats.warnings == [
        "package.json: openai is a dependency and app/api/embed/route.ts imports it, but no call through it was "
        "recognised as an LLM call: LL006, LL007 and the other LLM-data rules cannot see what it sends or returns",
        "package.json: cohere-ai is a dependency and app/api/chat/route.ts imports it, but no call through it "
        "was recognised as an LLM call: LL006, LL007 and the other LLM-data rules cannot see what it sends or returns",
    ]


def test_a_recognised_call_anywhere_in_the_app_clears_the_client(tmp_path: Path) -> None:
    # The client is built in one module and called in another: still recognised (no per-file verdict).
    app = write_app(
        tmp_path,
        {
            "app/api/embed/route.ts": EMBEDDINGS_ROUTE,
            "app/api/chat/route.ts": CHAT_ROUTE,
            "lib/llm.ts": 'import { ChatOpenAI } from "@langchain/openai";\nexport const llm = new ChatOpenAI({});\n',
            "app/api/ask/route.ts": 'import { llm } from "@/lib/llm";\n'
            "export async function POST() { return Response.json(await llm.invoke('hi')); }\n",
            "lib/unused.ts": "export const x = 1;\n",
        },
        package=_package("openai", "@langchain/openai", "ollama", "@google/genai"),
    )
    # ollama and @google/genai are dependencies nothing imports: nothing there for the rules to miss.
    assert scan(app, rule_ids=["LL007"]).stats.warnings == []


def test_the_reviewers_legacy_and_langgraph_apps_are_no_longer_blind(tmp_path: Path) -> None:
    (tmp_path / "legacy").mkdir()
    write_app(
        tmp_path / "legacy",
        {
            "app/api/chat/route.ts": 'import { Configuration, OpenAIApi } from "openai-edge";\n'
            "const openai = new OpenAIApi(new Configuration({}));\n"
            "export async function POST(req: Request) {\n"
            "  const { messages } = await req.json();\n"
            "  return openai.createChatCompletion({ model: 'gpt-3.5-turbo', messages, stream: true });\n}\n",
            "app/api/graph/route.ts": 'import { Client } from "@langchain/langgraph-sdk";\n'
            "const client = new Client({});\n"
            "export async function POST() { return Response.json(await client.runs.wait(null, 'agent', {})); }\n",
        },
        package=_package("openai-edge", "@langchain/langgraph-sdk"),
    )
    assert scan(tmp_path / "legacy", rule_ids=["LL006", "LL007"]).stats.warnings == []


def test_only_scans_running_an_llm_data_rule_warn_and_monorepo_apps_are_named(tmp_path: Path) -> None:
    (tmp_path / "apps/web").mkdir(parents=True)
    write_app(tmp_path / "apps/web", {"app/api/chat/route.ts": COHERE_ROUTE}, package=_package("cohere-ai"))
    (tmp_path / "package.json").write_text(json.dumps({"private": True, "workspaces": ["apps/*"]}))
    assert scan(tmp_path, rule_ids=["LL001"]).stats.warnings == []
    assert scan(tmp_path, rule_ids=["LL009"]).stats.warnings == [
        "apps/web/package.json: cohere-ai is a dependency and apps/web/app/api/chat/route.ts imports it, but "
        "no call through it was recognised as an LLM call: LL006, LL007 and the other LLM-data rules cannot see what "
        "it sends or returns"
    ]


def test_scan_workers_report_the_same_blind_spots_without_the_parent_analysing_every_file(tmp_path: Path) -> None:
    """With workers, the client families each recognised are unioned in the parent: analysing every file again
    there doubled a 5,000-file scan's time and memory (bench/scan_bench.py). The verdicts must not change."""
    files = {f"app/api/r{i}/route.ts": CHAT_ROUTE for i in range(40)}
    files["app/api/chat/route.ts"] = COHERE_ROUTE
    files["app/api/embed/route.ts"] = EMBEDDINGS_ROUTE
    app = write_app(tmp_path, files, package=_package("cohere-ai", "openai"))
    single = scan(app, rule_ids=["LL007"], jobs=1).stats.warnings
    assert single == [
        "package.json: cohere-ai is a dependency and app/api/chat/route.ts imports it, but no call through it "
        "was recognised as an LLM call: LL006, LL007 and the other LLM-data rules cannot see what it sends or returns",
    ]
    assert scan(app, rule_ids=["LL007"], jobs=2).stats.warnings == single
