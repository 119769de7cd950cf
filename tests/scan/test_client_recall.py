"""LLM clients reached in the ways real apps write them and the analysis did not follow: a client made by a project
function (`getAnthropic().messages.create()`, a lazy singleton, an ollama-js client), the SDK imported as a namespace
or with `require`, and SDK methods that were missing (Anthropic's beta `messages.stream`, Mistral's `fim.stream` and
agents). Each app has the vulnerable shapes and, beside them, the near misses a name-based matcher would flag; every
finding is pinned to its file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakline.configfile import ScanAppSettings
from leakline.scan import prefilter
from leakline.scan.engine import build_index, scan
from leakline.scan.index import import_specs
from leakline.scan.walker import WalkStats
from tests.scan.apps import rule_lines, write_app

SDKS = ("@anthropic-ai/sdk", "@mistralai/mistralai", "ollama", "openai")
PACKAGE: dict[str, object] = {
    "name": "shop",
    "dependencies": {"next": "15.5.7", "react": "19.1.2", **dict.fromkeys(SDKS, "1.0.0")},
}


def _found(app: Path, rule: str = "LL007") -> list[tuple[str, int]]:
    return rule_lines(app, rule)


def _warnings(app: Path) -> list[str]:
    return scan(app, rule_ids=["LL007"], jobs=1).stats.warnings


# ---- clients made by a project function ------------------------------------------------------------------------

FACTORIES = {
    "lib/clients.ts": """import Anthropic from "@anthropic-ai/sdk";
import { Ollama } from "ollama";
let cached: Anthropic | undefined;
let lazy: Anthropic | null = null;
export function getAnthropic() {
  return new Anthropic({ apiKey: process.env.ANTHROPIC_API_KEY });
}
export function client() {
  return (cached ??= new Anthropic());
}
export const lazyClient = () => {
  if (!lazy) lazy = new Anthropic();
  return lazy;
};
export async function getOllama() {
  return new Ollama({ host: process.env.OLLAMA_HOST });
}
""",
    # Near miss: a project function handing out an object with the SDK's method names (an outbox, not a model).
    "lib/outbox.ts": """export function getOutbox() {
  return { messages: { create: async (m: { body: string }) => ({ content: [{ text: m.body }] }) } };
}
export function chatRoom() {
  return { chat: async (m: { text: string }) => ({ message: { content: m.text } }) };
}
""",
    "app/api/factory/route.ts": """import { getAnthropic, client, lazyClient, getOllama } from "@/lib/clients";
import { getOutbox, chatRoom } from "@/lib/outbox";
export async function POST(req: Request) {
  const { question } = await req.json();
  const direct = await getAnthropic().messages.create({ model: "claude-sonnet-4-5", max_tokens: 256, messages: [{ role: "user", content: question }] });
  console.log("direct", direct.content);
  const ai = client();
  const bound = await ai.messages.create({ model: "claude-sonnet-4-5", max_tokens: 256, messages: [{ role: "user", content: "hi" }] });
  console.log("bound", bound.content, bound.usage);
  const once = await lazyClient().messages.create({ model: "claude-sonnet-4-5", max_tokens: 256, messages: [] });
  console.log("once", once.content);
  const llama = await getOllama();
  const reply = await llama.chat({ model: "llama3.1", messages: [{ role: "user", content: "hi" }] });
  console.log("llama", reply.message.content, reply.eval_count);
  const sent = await getOutbox().messages.create({ body: question });
  console.log("sent", sent.content);
  const room = chatRoom();
  const echoed = await room.chat({ text: question });
  console.log("echoed", echoed.message.content);
  return Response.json({ ok: true });
}
""",
    # The factory in the same module, called on its own line and chained.
    "app/api/local/route.ts": """import Anthropic from "@anthropic-ai/sdk";
function claude() {
  return new Anthropic();
}
const drafts = () => ({ messages: { create: async (o: { text: string }) => ({ content: o.text }) } });
export async function POST(req: Request) {
  const { text } = await req.json();
  const c = claude();
  const res = await c.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, messages: [{ role: "user", content: text }] });
  console.log("local", res.content);
  const draft = await drafts().messages.create({ text });
  console.log("draft", draft.content);
  return Response.json({ ok: true });
}
""",
}


def test_clients_made_by_project_functions_are_llm_clients(tmp_path: Path) -> None:
    app = write_app(tmp_path, FACTORIES, package=PACKAGE)
    # `bound.usage` and `reply.eval_count` ride along with content on their lines; the outbox, the chat room and the
    # drafts are not models.
    assert _found(app) == [
        ("app/api/factory/route.ts", 6),
        ("app/api/factory/route.ts", 9),
        ("app/api/factory/route.ts", 11),
        ("app/api/factory/route.ts", 14),
        ("app/api/local/route.ts", 10),
    ]
    # The calls through the factories count: neither package is a blind spot any more.
    assert _warnings(app) == []


# ---- methods: Anthropic's beta `messages.stream`, Mistral's `fim.stream` and agents ------------------------------

METHODS = {
    "app/api/beta/route.ts": """import Anthropic from "@anthropic-ai/sdk";
const anthropic = new Anthropic();
export async function POST(req: Request) {
  const { question } = await req.json();
  const stream = anthropic.beta.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 1024, betas: ["files-api-2025-04-14"], messages: [{ role: "user", content: question }] });
  stream.on("text", (delta) => console.log("delta", delta));
  const final = await stream.finalMessage();
  console.log("final", final.content);
  const count = await anthropic.beta.messages.countTokens({ model: "claude-sonnet-4-5", messages: [{ role: "user", content: "hi" }] });
  console.log("tokens", count.input_tokens);
  return Response.json({ ok: true });
}
""",
    "app/api/mistral/route.ts": """import { Mistral } from "@mistralai/mistralai";
const mistral = new Mistral({ apiKey: process.env.MISTRAL_API_KEY ?? "" });
export async function POST(req: Request) {
  const { code, question } = await req.json();
  const fim = await mistral.fim.stream({ model: "codestral-latest", prompt: code, suffix: "" });
  for await (const ev of fim) console.log(ev.data.choices[0].delta.content);
  const agent = await mistral.agents.complete({ agentId: process.env.AGENT_ID ?? "", messages: [{ role: "user", content: question }] });
  console.log("agent", agent.choices[0].message.content);
  const streamed = await mistral.agents.stream({ agentId: "ag-1", messages: [{ role: "user", content: "and then?" }] });
  for await (const ev of streamed) console.log("more", ev.data.choices[0].delta.content);
  const models = await mistral.models.list();
  console.log("models", models.data);
  return Response.json({ ok: true });
}
""",
    # Near misses: a support desk's agents and a project object with `fim.stream`.
    "app/api/desk/route.ts": """import { Desk } from "helpdesk-sdk";
const desk = new Desk();
const editor = { fim: { stream: async (o: { prompt: string }) => [{ data: { choices: [{ delta: { content: o.prompt } }] } }] } };
export async function POST(req: Request) {
  const { ticket, code } = await req.json();
  const handled = await desk.agents.complete({ ticket });
  console.log("handled", handled.choices);
  for await (const ev of await editor.fim.stream({ prompt: code })) console.log(ev.data.choices[0].delta.content);
  return Response.json({ ok: true });
}
""",
}


def test_beta_message_streams_fim_streams_and_mistral_agents_are_llm_calls(tmp_path: Path) -> None:
    app = write_app(tmp_path, METHODS, package=PACKAGE)
    # Not the token count nor the model list, and nothing of the desk or the editor.
    assert _found(app) == [
        ("app/api/beta/route.ts", 6),
        ("app/api/beta/route.ts", 8),
        ("app/api/mistral/route.ts", 6),
        ("app/api/mistral/route.ts", 8),
        ("app/api/mistral/route.ts", 10),
    ]


# ---- namespace imports and CommonJS requires -------------------------------------------------------------------

MODULE_FORMS = {
    "app/api/namespace/route.ts": """import * as sdk from "@anthropic-ai/sdk";
import * as mistralai from "@mistralai/mistralai";
import * as fake from "anthropic-mock";
const claude = new sdk.Anthropic();
const fallback = new sdk.default({ apiKey: process.env.BACKUP_KEY });
const mistral = new mistralai.Mistral({ apiKey: process.env.MISTRAL_API_KEY ?? "" });
const mock = new fake.Anthropic();
export async function POST(req: Request) {
  const { question } = await req.json();
  const a = await claude.messages.create({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: question }] });
  console.log("a", a.content);
  const b = await fallback.messages.create({ model: "claude-haiku-4-5", max_tokens: 64, messages: [] });
  console.log("b", b.content);
  const m = await mistral.chat.complete({ model: "mistral-small-latest", messages: [] });
  console.log("m", m.choices?.[0]?.message?.content);
  const x = await mock.messages.create({ messages: [] });
  console.log("x", x.content);
  const s = await new sdk.APIError().messages.create({});
  console.log("s", s.content);
  return Response.json({ ok: true });
}
""",
    # openai's calls are recognised by their method path whatever the import (they were before `require` was read);
    # the other clients by their class. Near misses: a project module named after the SDK exporting a stand-in class.
    "lib/cjs.js": """const Anthropic = require("@anthropic-ai/sdk");
const { Mistral } = require("@mistralai/mistralai");
const { Ollama } = require("ollama");
const OpenAI = require("openai");
const { Anthropic: Stub } = require("./anthropic-mock");
const Claude = require("./anthropic-mock").Anthropic;
const anthropic = new Anthropic();
const mistral = new Mistral({ apiKey: process.env.MISTRAL_API_KEY });
const llm = new Ollama({ host: process.env.OLLAMA_HOST });
const openai = new OpenAI();
async function answer(question) {
  const a = await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 64, messages: [{ role: "user", content: question }] });
  console.log("a", a.content);
  const m = await mistral.chat.complete({ model: "mistral-small-latest", messages: [] });
  console.log("m", m.choices[0].message.content);
  const o = await llm.chat({ model: "llama3.1", messages: [] });
  console.log("o", o.message.content);
  const c = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [] });
  console.log("c", c.choices[0].message.content);
  const r = await new Stub().messages.create({ messages: [{ role: "user", content: "hi" }] });
  console.log("stub", r.content);
  const s = await new Claude().messages.create({ messages: [] });
  console.log("stub too", s.content);
}
module.exports = { answer };
""",
    "lib/anthropic-mock.js": """class Anthropic {
  constructor() {
    this.messages = { create: async (o) => ({ content: [{ text: o.messages.length }] }) };
  }
}
module.exports = { Anthropic };
""",
}


def test_sdk_namespace_imports_and_commonjs_requires_make_clients(tmp_path: Path) -> None:
    app = write_app(tmp_path, MODULE_FORMS, package=PACKAGE)
    # Not the stand-in classes (a package's, a project module's) nor a class of the SDK that is no client.
    assert _found(app) == [
        ("app/api/namespace/route.ts", 11),
        ("app/api/namespace/route.ts", 13),
        ("app/api/namespace/route.ts", 15),
        ("lib/cjs.js", 13),
        ("lib/cjs.js", 15),
        ("lib/cjs.js", 17),
        ("lib/cjs.js", 19),
    ]
    assert _warnings(app) == []


def test_require_specifiers_are_read_from_the_bytes() -> None:
    data = b'const a = require("./a");\nimport b from "b";\nconst { c } = require ( \'c\' );\nmodule.require(`./d`);'
    assert import_specs(data) == ["./a", "b", "c", "./d"]
    # A name ending in `require`, one starting with it, and a require of a computed path: none is a specifier.
    assert import_specs(b'must_require("./x"); requireAuth("./y"); require(base + "/z");') == []


REQUIRED_PROJECT = {
    "lib/ask.ts": """import OpenAI from "openai";
const openai = new OpenAI();
export async function ask(question: string) {
  const r = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: question }] });
  return r.choices[0].message.content ?? "";
}
""",
    "lib/faq.ts": """export async function ask(question: string) {
  return question.length > 80 ? "Please keep it short." : "See the FAQ.";
}
""",
    # Only the `require` links this file to the model: the prefilter keeps it through the require alone.
    "app/api/ask/route.ts": """const { ask } = require("../../../lib/ask");
const faq = require("../../../lib/faq");
export async function POST(req: Request) {
  const { question } = await req.json();
  const answer = await ask(question);
  console.log("answer", answer);
  const canned = await faq.ask(question);
  console.log("canned", canned);
  return Response.json({ answer });
}
""",
}


def test_project_functions_required_with_commonjs_are_followed(tmp_path: Path) -> None:
    app = write_app(tmp_path, REQUIRED_PROJECT, package=PACKAGE)
    assert "app/api/ask/route.ts" in build_index(app, ScanAppSettings(), WalkStats(), set()).llm_candidates
    # The question is a prompt where `ask` sends it; the FAQ's answer is not LLM data.
    assert _found(app) == [("app/api/ask/route.ts", 6)]


# ---- props spread on whole ---------------------------------------------------------------------------------------

ASSISTANT = """import OpenAI from "openai";
const openai = new OpenAI();
export async function ask(topic: string): Promise<string> {
  const r = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: topic }] });
  return r.choices[0].message.content ?? "";
}
"""
SPREAD_PAGE = """import { ask } from "@/lib/assistant";
import { Panel, Card, Trimmed, Themed } from "@/components/wrappers";
import { Frame } from "@/components/frame";
export default async function Home() {
  const summary = await ask("today's deals");
  return (
    <main>
      <Panel summary={summary} title="Deals" />
      <Card summary={summary} title="Deals" />
      <Frame summary={summary} />
      <Trimmed summary={summary} title="Deals" />
      <Themed summary={summary} />
    </main>
  );
}
"""
WRAPPERS = """import { Answer, Excerpt, Teaser } from "./render";
export function Panel(props: { summary: string; title: string }) {
  return <Answer {...props} />;
}
export const Card = ({ ...rest }: { summary: string; title: string }) => <Excerpt {...rest} />;
export function Trimmed({ summary, ...rest }: { summary: string; title: string }) {
  console.info("trimmed", summary.length);
  return <Teaser {...rest} />;
}
export function Themed(props: { summary: string }) {
  const theme = { summary: "<b>Deals</b>", title: "Deals" };
  return <Teaser {...theme} />;
}
"""
RENDER = """export function Answer({ summary, title }: { summary: string; title: string }) {
  return <section><h2 dangerouslySetInnerHTML={{ __html: title }} /><div dangerouslySetInnerHTML={{ __html: summary }} /></section>;
}
export function Excerpt({ summary, title }: { summary: string; title: string }) {
  return <p title={title} dangerouslySetInnerHTML={{ __html: summary }} />;
}
export function Teaser({ summary, title }: { summary?: string; title: string }) {
  return <aside dangerouslySetInnerHTML={{ __html: summary ?? title }} />;
}
"""
# The component that spreads and the one it renders in the same module.
FRAME = """function Body({ summary }: { summary: string }) {
  return <div className="body" dangerouslySetInnerHTML={{ __html: summary }} />;
}
export function Frame(props: { summary: string }) {
  return <div className="frame"><Body {...props} /></div>;
}
"""
# A Pages Router page's props, spread on whole.
SPREAD_PAGES_PAGE = """import { ask } from "@/lib/assistant";
import { Digest } from "@/components/digest";
export async function getServerSideProps() {
  return { props: { summary: await ask("the week"), generatedAt: Date.now() } };
}
export default function Week(props: { summary: string; generatedAt: number }) {
  return <Digest {...props} />;
}
"""
DIGEST = """export function Digest({ summary, generatedAt }: { summary: string; generatedAt: number }) {
  return <article data-at={generatedAt} dangerouslySetInnerHTML={{ __html: summary }} />;
}
"""


def test_props_spread_on_whole_carry_what_the_callers_passed(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {
            "lib/assistant.ts": ASSISTANT,
            "app/page.tsx": SPREAD_PAGE,
            "components/wrappers.tsx": WRAPPERS,
            "components/render.tsx": RENDER,
            "components/frame.tsx": FRAME,
            "pages/week.tsx": SPREAD_PAGES_PAGE,
            "components/digest.tsx": DIGEST,
        },
        package=PACKAGE,
    )
    # Not the titles (literals), and not `Teaser`: `Trimmed`'s rest leaves `summary` out, `Themed` spreads a theme.
    assert _found(app, "LL010") == [
        ("components/digest.tsx", 2),
        ("components/frame.tsx", 2),
        ("components/render.tsx", 2),
        ("components/render.tsx", 5),
    ]


# ---- Pages Router class components -------------------------------------------------------------------------------

CLASS_INITIAL_PAGE = """import React from "react";
import { ask } from "@/lib/assistant";
type Props = { summary: string; label: string };
class Sidebar extends React.Component<Props> {
  render() {
    return <aside dangerouslySetInnerHTML={{ __html: this.props.summary }} />;
  }
}
export default class Brief extends React.Component<Props> {
  static async getInitialProps() {
    const summary = await ask("the brief");
    return { summary, label: "Brief" };
  }
  render() {
    const { summary, label } = this.props;
    console.log("brief", this.props.summary, label);
    return (
      <div>
        <h1 dangerouslySetInnerHTML={{ __html: this.props.label }} />
        <div dangerouslySetInnerHTML={{ __html: this.props.summary }} />
        <p dangerouslySetInnerHTML={{ __html: summary }} />
        <p dangerouslySetInnerHTML={{ __html: label }} />
      </div>
    );
  }
}
"""
CLASS_SSR_PAGE = """import { Component } from "react";
import { ask } from "@/lib/assistant";
export async function getServerSideProps() {
  return { props: { summary: await ask("the week"), title: "Week" } };
}
class Week extends Component<{ summary: string; title: string }> {
  render() {
    const { summary: html, title } = this.props;
    return <div title={title} dangerouslySetInnerHTML={{ __html: html }} />;
  }
}
export default Week;
"""
# Not a page: Next.js never calls its `getInitialProps`, and nothing renders it with those props.
CLASS_COMPONENT = """import React from "react";
import { ask } from "@/lib/assistant";
export default class Legacy extends React.Component<{ summary: string }> {
  static async getInitialProps() {
    return { summary: await ask("legacy") };
  }
  render() {
    return <div dangerouslySetInnerHTML={{ __html: this.props.summary }} />;
  }
}
"""


def test_class_pages_read_their_props_from_get_initial_props_and_data_functions(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {
            "lib/assistant.ts": ASSISTANT,
            "pages/brief.tsx": CLASS_INITIAL_PAGE,
            "pages/week.tsx": CLASS_SSR_PAGE,
            "components/legacy.tsx": CLASS_COMPONENT,
        },
        package=PACKAGE,
    )
    # Not the label (a literal), not the sidebar (a class the page does not export), not the legacy component.
    assert _found(app, "LL010") == [("pages/brief.tsx", 20), ("pages/brief.tsx", 21), ("pages/week.tsx", 9)]
    assert _found(app) == [("pages/brief.tsx", 16)]


QUOTE_PAGE = """import { ask } from "@/lib/assistant";
import { Quote } from "@/components/quote";
export default async function Home() {
  return <Quote text={await ask("a quote")} author="Ann" />;
}
"""
QUOTE = """export function Quote(props: { text: string; author: string }) {
  const { text, author: by } = props;
  return (
    <figure>
      <blockquote dangerouslySetInnerHTML={{ __html: text }} />
      <figcaption dangerouslySetInnerHTML={{ __html: by }} />
    </figure>
  );
}
"""


def test_props_destructured_in_the_body_keep_only_the_keys_a_caller_filled(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {"lib/assistant.ts": ASSISTANT, "app/page.tsx": QUOTE_PAGE, "components/quote.tsx": QUOTE},
        package=PACKAGE,
    )
    # The author is a literal at the only caller.
    assert _found(app, "LL010") == [("components/quote.tsx", 5)]


def test_the_apps_scan_alike_through_the_hyperscan_prefilter(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A large app's candidates come from the Hyperscan pass: the factory, namespace and require files must be kept
    there too (the `require` edges come from the same specifiers on both paths)."""
    if prefilter._literal_scanner() is None:
        pytest.skip("hyperscan is not installed")
    app = write_app(tmp_path, {**FACTORIES, **METHODS, **MODULE_FORMS, **REQUIRED_PROJECT}, package=PACKAGE)
    python = _found(app)
    monkeypatch.setattr(prefilter, "HYPERSCAN_MIN_FILES", 1)
    index = build_index(app, ScanAppSettings(), WalkStats(), set())
    assert {"lib/clients.ts", "lib/cjs.js", "app/api/ask/route.ts", "app/api/factory/route.ts"} <= index.llm_candidates
    assert sorted((f.path, f.line) for f in scan(app, rule_ids=["LL007"], jobs=1).findings) == python
    assert len(python) == 18


# ---- CommonJS exports and TypeScript's `import x = require()` --------------------------------------------------

COMMONJS_EXPORTS = {
    "lib/ask.js": """const OpenAI = require("openai");
const openai = new OpenAI();
async function ask(question) {
  const r = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: question }] });
  return r.choices[0].message.content ?? "";
}
module.exports = { ask, answer: ask };
""",
    "lib/summarize.js": """const OpenAI = require("openai");
const openai = new OpenAI();
exports.summarize = async (text) => {
  const r = await openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: text }] });
  return r.choices[0].message.content ?? "";
};
module.exports.shorten = function shorten(text) {
  return openai.chat.completions.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: text }] });
};
""",
    # Near miss: the same names exported the same ways, from a module that never calls a model.
    "lib/faq.js": """async function ask(question) {
  return question.length > 80 ? "Please keep it short." : "See the FAQ.";
}
module.exports.ask = ask;
exports.summarize = async (text) => (text.length > 400 ? "Too long to summarize." : "Summaries are in your account.");
""",
    "app/api/ask/route.ts": """import llm = require("../../../lib/ask");
import faq = require("../../../lib/faq");
const { summarize, shorten } = require("../../../lib/summarize");
export async function POST(req: Request) {
  const { question } = await req.json();
  const answer = await llm.ask(question);
  console.log("answer", answer);
  const canned = await faq.ask(question);
  console.log("canned", canned);
  const short = await summarize(question);
  console.log("short", short);
  const brief = await faq.summarize(question);
  console.log("brief", brief);
  const again = await llm.answer(question);
  console.info("again", again, await shorten(question));
  return Response.json({ answer });
}
""",
}


def test_commonjs_exports_and_typescript_import_require_are_followed(tmp_path: Path) -> None:
    app = write_app(tmp_path, COMMONJS_EXPORTS, package=PACKAGE)
    # `module.exports = {…}`, `exports.x =`, `module.exports.x = function x`, read through `require` and through
    # TypeScript's `import x = require()`; the FAQ module's look-alike exports are not LLM calls.
    assert _found(app) == [
        ("app/api/ask/route.ts", 7),
        ("app/api/ask/route.ts", 11),
        ("app/api/ask/route.ts", 15),
    ]
