"""LL010 edge cases beyond the fixture pair: props across files and layers, AI SDK hook shapes, script
sinks that sanitizers do not make safe, and the prefilter that keeps unrelated files unparsed."""

from __future__ import annotations

import json
from pathlib import Path

from leakline.config import Settings
from leakline.scan.context import ScanContext
from leakline.scan.engine import build_index, scan
from leakline.scan.rules import load_rule
from leakline.scan.walker import WalkStats

PACKAGE = {"name": "t", "private": True, "dependencies": {"next": "15.2.4", "openai": "4.77.0", "ai": "4.1.0"}}
TSCONFIG = {"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["./*"]}}}
ASSISTANT = """import OpenAI from "openai";
const client = new OpenAI({ baseURL: process.env.OLLAMA_BASE_URL });
export async function ask(q: string): Promise<string> {
  const c = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: q }] });
  return c.choices[0].message.content ?? "";
}
"""


def _app(root: Path, files: dict[str, str]) -> Path:
    (root / "package.json").write_text(json.dumps(PACKAGE))
    (root / "tsconfig.json").write_text(json.dumps(TSCONFIG))
    (root / "lib").mkdir(exist_ok=True)
    (root / "lib/assistant.ts").write_text(ASSISTANT)
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def _found(app: Path) -> set[tuple[str, int]]:
    result = scan(app, rule_ids=["LL010"])
    assert result.stats.rule_errors == []
    return {(f.path, f.line) for f in result.findings if f.rule == "LL010"}


def _line(app: Path, rel: str, needle: str) -> tuple[str, int]:
    lines = (app / rel).read_text().splitlines()
    matches = [n for n, text in enumerate(lines, start=1) if needle in text]
    assert len(matches) == 1, (rel, needle, matches)
    return rel, matches[0]


PAGE_THROUGH_LAYERS = """import * as UI from "@/components/ui";
import { ask } from "@/lib/assistant";
export default async function Page() {
  const answer = await ask("hi");
  return <UI.Card body={answer} title="static" />;
}
"""
UI = """import Inner from "./inner";
export function Card(props: { body: string; title: string }) {
  return <Inner markup={props.body} heading={props.title} />;
}
"""
INNER = """export default function Inner({ markup, heading, ...rest }: any) {
  return (
    <div>
      <h1 dangerouslySetInnerHTML={{ __html: heading }} />
      <div dangerouslySetInnerHTML={{ __html: markup }} />
    </div>
  );
}
"""


def test_llm_props_flow_through_namespace_imports_and_component_layers(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {"app/page.tsx": PAGE_THROUGH_LAYERS, "components/ui.tsx": UI, "components/inner.tsx": INNER},
    )
    assert _found(app) == {_line(app, "components/inner.tsx", "__html: markup")}


def test_component_whose_callers_pass_static_html_is_not_reported(tmp_path: Path) -> None:
    page = PAGE_THROUGH_LAYERS.replace("body={answer}", 'body="<b>sale</b>"')
    app = _app(tmp_path, {"app/page.tsx": page, "components/ui.tsx": UI, "components/inner.tsx": INNER})
    assert _found(app) == set()


def test_props_of_a_component_in_the_same_module_and_rest_props(tmp_path: Path) -> None:
    page = """import { ask } from "@/lib/assistant";
function Html({ ...rest }: { html: string }) {
  return <article dangerouslySetInnerHTML={{ __html: rest.html }} />;
}
export default async function Page() {
  return <Html html={await ask("hello")} />;
}
"""
    app = _app(tmp_path, {"app/page.tsx": page})
    assert _found(app) == {_line(app, "app/page.tsx", "rest.html")}


CHAT = """"use client";
import { useChat, useCompletion } from "@ai-sdk/react";
export default function Chat() {
  const { messages } = useChat();
  const { completion } = useCompletion();
  const ref = { current: document.body };
  ref.current.outerHTML = completion;
  document.write(completion);
  document.createRange().createContextualFragment(completion);
  return messages.map((m) =>
    m.parts.map((p) => (p.type === "text" ? <div key={m.id} dangerouslySetInnerHTML={{ __html: p.text }} /> : null)),
  );
}
"""


def test_ai_sdk_message_parts_and_html_parsing_sinks(tmp_path: Path) -> None:
    app = _app(tmp_path, {"app/chat/page.tsx": CHAT})
    rel = "app/chat/page.tsx"
    assert _found(app) == {
        _line(app, rel, "outerHTML"),
        _line(app, rel, "document.write"),
        _line(app, rel, "createContextualFragment"),
        _line(app, rel, "__html: p.text"),
    }


def test_script_sinks_are_reported_even_when_sanitized(tmp_path: Path) -> None:
    page = """import Script from "next/script";
import DOMPurify from "isomorphic-dompurify";
import { ask } from "@/lib/assistant";
export default async function Page() {
  const code = await ask("write js");
  return (
    <>
      <Script id="a" dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(code) }} />
      <script dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(code) }} />
      <div dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(code) }} />
    </>
  );
}
"""
    app = _app(tmp_path, {"app/page.tsx": page})
    assert _found(app) == {_line(app, "app/page.tsx", '<Script id="a"'), _line(app, "app/page.tsx", "<script ")}


def test_suppress_hydration_warning_false_and_non_llm_children_are_not_reported(tmp_path: Path) -> None:
    page = """"use client";
import { useCompletion } from "ai/react";
export default function Page() {
  const { completion, isLoading } = useCompletion();
  return (
    <>
      <p suppressHydrationWarning={false}>{completion}</p>
      <p suppressHydrationWarning>{isLoading ? "…" : "done"}</p>
      <p suppressHydrationWarning>{completion.length}</p>
      <span suppressHydrationWarning>
        <b>{completion}</b>
      </span>
    </>
  );
}
"""
    app = _app(tmp_path, {"app/page.tsx": page})
    assert _found(app) == {_line(app, "app/page.tsx", "<span suppressHydrationWarning>")}


def test_files_without_a_sink_keyword_are_not_parsed(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "app/page.tsx": 'export default function P() { return <p>{"hi"}</p>; }\n',
            "app/x/page.tsx": "export default function X({ h }: { h: string }) { return <i dangerouslySetInnerHTML={{ __html: h }} />; }\n",
        },
    )
    index = build_index(app, Settings(), WalkStats(), set())
    hits = list(load_rule("LL010").check(ScanContext(index)))
    assert hits == []
    assert "tree" not in index.files["app/page.tsx"].__dict__
    assert "tree" not in index.files["lib/assistant.ts"].__dict__
    assert "tree" in index.files["app/x/page.tsx"].__dict__


def test_sharded_scan_still_follows_props_into_components_of_other_shards(tmp_path: Path) -> None:
    files = {"app/page.tsx": PAGE_THROUGH_LAYERS, "components/ui.tsx": UI, "components/inner.tsx": INNER}
    for n in range(6):  # filler modules so that the shards differ in content
        files[f"lib/util{n}.ts"] = f"export const n{n} = {n};\n"
    app = _app(tmp_path, files)
    expected = {_line(app, "components/inner.tsx", "__html: markup")}
    for jobs in (1, 2):
        result = scan(app, rule_ids=["LL010"], jobs=jobs)
        assert result.stats.rule_errors == []
        assert {(f.path, f.line) for f in result.findings} == expected


def test_json_ld_with_escaped_markup_is_a_data_block_but_unescaped_json_is_reported(tmp_path: Path) -> None:
    page = """import { ask } from "@/lib/assistant";
export default async function Product() {
  const description = await ask("describe the shoe");
  const jsonLd = { "@context": "https://schema.org", "@type": "Product", description };
  return (
    <>
      <script type="application/ld+json" dangerouslySetInnerHTML={{ __html: JSON.stringify(jsonLd).replace(/</g, "\\\\u003c") }} />
      <script type="application/ld+json" dangerouslySetInnerHTML={{ __html: JSON.stringify(jsonLd) }} />
      <script dangerouslySetInnerHTML={{ __html: JSON.stringify(jsonLd).replace(/</g, "\\\\u003c") }} />
    </>
  );
}
"""
    app = _app(tmp_path, {"app/product/page.tsx": page})
    rel = "app/product/page.tsx"
    lines = (app / rel).read_text().splitlines()
    script_lines = [n for n, text in enumerate(lines, start=1) if "<script" in text]
    assert _found(app) == {(rel, script_lines[1]), (rel, script_lines[2])}


def test_ai_sdk_hook_flags_and_control_functions_are_not_llm_data(tmp_path: Path) -> None:
    page = """"use client";
import { useChat } from "@ai-sdk/react";
export default function Chat() {
  const { messages, isLoading, error, handleSubmit } = useChat();
  const el = document.getElementById("status")!;
  el.innerHTML = `<b>${isLoading ? "…" : "ready"}</b>${error ? "failed" : ""}`;
  el.insertAdjacentHTML("beforeend", String(handleSubmit.name));
  el.outerHTML = messages.map((m) => m.content).join("");
  return null;
}
"""
    app = _app(tmp_path, {"app/chat/page.tsx": page})
    assert _found(app) == {_line(app, "app/chat/page.tsx", "el.outerHTML")}
