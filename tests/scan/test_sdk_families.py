"""The Anthropic, Google GenAI (`@google/genai` and the older `@google/generative-ai`) and Mistral SDKs as LLM clients:
their calls are model calls when the client comes from the package (built here, in a project module that exports it,
or in a class field), whatever the variable is called. Each app has the SDK's vulnerable shapes and, beside them, the
near misses a name-based matcher would flag: metadata only, a project object with the same method names, and
an object of an unrelated package. Findings are pinned to the exact file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakline.configfile import ScanAppSettings
from leakline.scan import prefilter
from leakline.scan.engine import build_index, scan
from leakline.scan.llmdata import CLIENT_FAMILIES, LLM_CLIENT_PACKAGES
from leakline.scan.routes import may_call_llm
from leakline.scan.walker import WalkStats
from tests.scan.apps import assert_dropped_files_hold_no_llm_data, write_app

SDKS = ("@anthropic-ai/sdk", "@google/genai", "@google/generative-ai", "@mistralai/mistralai")
DEPENDENCIES: dict[str, str] = {"next": "15.5.7", "react": "19.1.2", **dict.fromkeys(SDKS, "1.0.0")}
PACKAGE: dict[str, object] = {"name": "shop", "dependencies": DEPENDENCIES}


def _answer_page(url: str) -> str:
    """A client page that renders what the app's own route `url` answers as HTML: LL010 on line 10."""
    return f""""use client";
import {{ useState }} from "react";
export default function Ask() {{
  const [answer, setAnswer] = useState("");
  async function ask(question: string) {{
    const res = await fetch("{url}", {{ method: "POST", body: JSON.stringify({{ question }}) }});
    const data = await res.json();
    setAnswer(data.answer);
  }}
  return <div onClick={{() => ask("hi")}} dangerouslySetInnerHTML={{{{ __html: answer }}}} />;
}}
"""


def _app(root: Path, files: dict[str, str]) -> Path:
    return write_app(root, files, package=PACKAGE)


def _sdk_files_are_candidates(app: Path) -> None:
    """Every file that imports one of the SDKs is kept by the byte prefilter, on its Python path and on its Hyperscan
    pass alike (rules that report LLM data skip a dropped file unparsed); and no file it drops holds LLM data."""
    index = build_index(app, ScanAppSettings(), WalkStats(), set())
    scanner = prefilter._literal_scanner()
    for f in index.sources:
        if any(sdk.encode() in f.data() for sdk in SDKS):
            assert f.rel in index.llm_candidates, f.rel
            assert prefilter.calls_model_maybe_python(f.data()), f.rel
            assert scanner is None or scanner.decide(f.data()), f.rel
    assert_dropped_files_hold_no_llm_data(index)


def _found(app: Path, rule: str = "LL007") -> list[tuple[str, int]]:
    _sdk_files_are_candidates(app)
    result = scan(app, rule_ids=[rule], jobs=1)
    assert result.stats.rule_errors == []
    return sorted((f.path, f.line) for f in result.findings if f.rule == rule)


# ---- @anthropic-ai/sdk -------------------------------------------------------------------------------------------

ANTHROPIC = {
    "app/api/claude/route.ts": """import Anthropic from "@anthropic-ai/sdk";
const claude = new Anthropic({ apiKey: process.env.ANTHROPIC_API_KEY });
export async function POST(req: Request) {
  const { question } = await req.json();
  const msg = await claude.messages.create({
    model: "claude-sonnet-4-5",
    max_tokens: 1024,
    system: "You are the shop's assistant.",
    messages: [{ role: "user", content: question }],
  });
  console.log("claude usage", msg.usage, msg.stop_reason, msg.id, msg.model, msg.usage.output_tokens);
  const first = msg.content[0];
  const text = first.type === "text" ? first.text : "";
  console.log("claude said", text);
  return Response.json({ answer: text });
}
""",
    # A streamed answer: the `text` listener's delta, the final message and text; not the `error` listener.
    "app/api/claude-stream/route.ts": """import { Anthropic } from "@anthropic-ai/sdk";
const client = new Anthropic();
export async function POST(req: Request) {
  const { question } = await req.json();
  const stream = client.messages.stream({ model: "claude-sonnet-4-5", max_tokens: 1024, messages: [{ role: "user", content: question }] });
  stream.on("text", (delta) => console.log("delta", delta));
  stream.on("error", (err) => console.error("stream failed", err.name));
  const final = await stream.finalMessage();
  console.log("final", final.content);
  console.log("stop", final.stop_reason, final.usage);
  const whole = await stream.finalText();
  console.log("text", whole);
  return Response.json({ ok: true });
}
""",
    # `stream: true` on the beta messages API: the events of a `for await`.
    "app/api/claude-events/route.ts": """import Anthropic from "@anthropic-ai/sdk";
const anthropic = new Anthropic();
export async function POST(req: Request) {
  const { question } = await req.json();
  const events = await anthropic.beta.messages.create({ model: "claude-sonnet-4-5", max_tokens: 1024, messages: [{ role: "user", content: question }], stream: true });
  for await (const event of events) {
    if (event.type === "content_block_delta" && event.delta.type === "text_delta") console.log(event.delta.text);
  }
  return Response.json({ ok: true });
}
""",
    # The client through a project module, and as a class field typed with the SDK's class.
    "lib/anthropic.ts": """import Anthropic from "@anthropic-ai/sdk";
export const anthropic = new Anthropic();
""",
    "app/api/summary/route.ts": """import { anthropic } from "@/lib/anthropic";
export async function POST(req: Request) {
  const { notes } = await req.json();
  const prompt = `Summarise for the customer: ${notes}`;
  console.log("asking claude", notes);
  const res = await anthropic.messages.create({ model: "claude-haiku-4-5", max_tokens: 256, messages: [{ role: "user", content: prompt }] });
  console.log("summary", res.content);
  return Response.json({ ok: true });
}
""",
    "lib/assistant.ts": """import Anthropic from "@anthropic-ai/sdk";
export class Assistant {
  private readonly llm: Anthropic;
  constructor() {
    this.llm = new Anthropic();
  }
  async ask(question: string) {
    const reply = await this.llm.messages.create({ model: "claude-sonnet-4-5", max_tokens: 256, messages: [{ role: "user", content: question }] });
    return reply.content.map((block) => (block.type === "text" ? block.text : "")).join("");
  }
}
""",
    "app/api/assistant/route.ts": """import { Assistant } from "@/lib/assistant";
export async function POST(req: Request) {
  const { question } = await req.json();
  const answer = await new Assistant().ask(question);
  console.log("assistant", answer);
  return Response.json({ ok: true });
}
""",
    # Near misses: twilio's `messages.create` (an SMS), a project object with a `messages.create` method, and a
    # class named `Anthropic` from another package.
    "app/api/notify/route.ts": """import twilio from "twilio";
import { Anthropic } from "anthropic-mock";
const sms = twilio(process.env.TWILIO_SID, process.env.TWILIO_TOKEN);
const inbox = { messages: { create: async (m: { body: string }) => ({ content: [{ text: m.body }] }) } };
const fake = new Anthropic();
export async function POST(req: Request) {
  const { body } = await req.json();
  const sent = await sms.messages.create({ body, to: "+10000000000", from: "+10000000001" });
  console.log("sms", sent.body);
  const saved = await inbox.messages.create({ body });
  console.log("saved", saved.content[0].text);
  const mocked = await fake.messages.create({ messages: [{ role: "user", content: body }] });
  console.log("mocked", mocked.content);
  return Response.json({ ok: true });
}
""",
}
ANTHROPIC_PAGE = """import Anthropic from "@anthropic-ai/sdk";
const anthropic = new Anthropic();
export default async function Banner() {
  const msg = await anthropic.messages.create({ model: "claude-sonnet-4-5", max_tokens: 512, messages: [{ role: "user", content: "Write today's banner" }] });
  const block = msg.content[0];
  const html = block.type === "text" ? block.text : "";
  return (
    <main>
      <p dangerouslySetInnerHTML={{ __html: `${msg.usage.output_tokens} tokens, ${msg.stop_reason}` }} />
      <div dangerouslySetInnerHTML={{ __html: html }} />
    </main>
  );
}
"""


def test_anthropic_messages_are_llm_calls(tmp_path: Path) -> None:
    app = _app(tmp_path, ANTHROPIC)
    assert _found(app) == [
        ("app/api/assistant/route.ts", 5),
        ("app/api/claude-events/route.ts", 7),
        ("app/api/claude-stream/route.ts", 6),
        ("app/api/claude-stream/route.ts", 9),
        ("app/api/claude-stream/route.ts", 12),
        ("app/api/claude/route.ts", 14),
        ("app/api/summary/route.ts", 5),
        ("app/api/summary/route.ts", 7),
    ]


def test_anthropic_output_rendered_as_html(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {**ANTHROPIC, "app/banner/page.tsx": ANTHROPIC_PAGE, "app/ask/page.tsx": _answer_page("/api/claude")},
    )
    # The server component's text and the page fetching the route that returns it; not the token count.
    assert _found(app, "LL010") == [("app/ask/page.tsx", 10), ("app/banner/page.tsx", 10)]


# ---- @google/genai -----------------------------------------------------------------------------------------------

GENAI = {
    "app/api/gemini/route.ts": """import { GoogleGenAI } from "@google/genai";
const ai = new GoogleGenAI({ apiKey: process.env.GEMINI_API_KEY });
export async function POST(req: Request) {
  const { question } = await req.json();
  const res = await ai.models.generateContent({ model: "gemini-2.5-flash", contents: question });
  console.log("gemini usage", res.usageMetadata, res.modelVersion, res.responseId);
  console.log("gemini said", res.text);
  return Response.json({ answer: res.text });
}
""",
    "app/api/gemini-stream/route.ts": """import { GoogleGenAI } from "@google/genai";
const genai = new GoogleGenAI({});
export async function POST(req: Request) {
  const { question, history } = await req.json();
  const stream = await genai.models.generateContentStream({ model: "gemini-2.5-flash", contents: question });
  for await (const chunk of stream) console.log(chunk.text);
  const chat = genai.chats.create({ model: "gemini-2.5-flash", history });
  const reply = await chat.sendMessage({ message: question });
  console.log("reply", reply.text);
  const parts = await chat.sendMessageStream({ message: "and then?" });
  for await (const part of parts) console.log("part", part.text);
  console.log("tokens", reply.usageMetadata?.totalTokenCount);
  return Response.json({ ok: true });
}
""",
    # What a chat is made with is a prompt too: its history and system instruction (not the history's length).
    "app/api/gemini-history/route.ts": """import { GoogleGenAI } from "@google/genai";
const ai = new GoogleGenAI({});
export async function POST(req: Request) {
  const { history, persona, page } = await req.json();
  console.log("restoring", history.length, page);
  console.log("history", history);
  const chat = ai.chats.create({ model: "gemini-2.5-flash", history, config: { systemInstruction: persona } });
  console.log("persona", persona);
  return Response.json({ ok: true, turns: (await chat.sendMessage({ message: "hi" })).text.length });
}
""",
    # Near misses: a helpdesk SDK whose chats have `sendMessage`, and a project object with `models.generateContent`.
    "app/api/helpdesk/route.ts": """import { Helpdesk } from "helpdesk-sdk";
const desk = new Helpdesk({ token: process.env.HELPDESK_TOKEN });
const templates = { models: { generateContent: async (o: { contents: string }) => ({ text: o.contents.toUpperCase() }) } };
export async function POST(req: Request) {
  const { ticket, note } = await req.json();
  const chat = desk.chats.create({ ticket });
  console.log("ticket", ticket);
  const sent = await chat.sendMessage({ message: note });
  console.log("sent", sent.text);
  const filled = await templates.models.generateContent({ contents: note });
  console.log("filled", filled.text);
  return Response.json({ ok: true });
}
""",
}


def test_google_genai_calls_and_chats_are_llm_calls(tmp_path: Path) -> None:
    app = _app(tmp_path, {**GENAI, "app/ask/page.tsx": _answer_page("/api/gemini")})
    assert _found(app) == [
        ("app/api/gemini-history/route.ts", 6),
        ("app/api/gemini-history/route.ts", 8),
        ("app/api/gemini-stream/route.ts", 6),
        ("app/api/gemini-stream/route.ts", 9),
        ("app/api/gemini-stream/route.ts", 11),
        ("app/api/gemini/route.ts", 7),
    ]
    assert _found(app, "LL010") == [("app/ask/page.tsx", 10)]


# ---- @google/generative-ai ---------------------------------------------------------------------------------------

GEMINI = {
    "app/api/gemini-legacy/route.ts": """import { GoogleGenerativeAI } from "@google/generative-ai";
const genAI = new GoogleGenerativeAI(process.env.GEMINI_API_KEY!);
export async function POST(req: Request) {
  const { question } = await req.json();
  const model = genAI.getGenerativeModel({ model: "gemini-1.5-flash" });
  const result = await model.generateContent(question);
  console.log("usage", result.response.usageMetadata);
  const text = result.response.text();
  console.log("gemini said", text);
  return Response.json({ answer: text });
}
""",
    # The model made in a project module (chained on `new`), streamed and in a chat session.
    "lib/gemini.ts": """import { GoogleGenerativeAI } from "@google/generative-ai";
export const model = new GoogleGenerativeAI(process.env.GEMINI_API_KEY!).getGenerativeModel({ model: "gemini-1.5-flash" });
""",
    "app/api/gemini-chat/route.ts": """import { model } from "@/lib/gemini";
export async function POST(req: Request) {
  const { question } = await req.json();
  const result = await model.generateContentStream(question);
  for await (const chunk of result.stream) console.log(chunk.text());
  const chat = model.startChat({ history: [] });
  const reply = await chat.sendMessage(question);
  console.log("reply", reply.response.text());
  const streamed = await chat.sendMessageStream("more");
  for await (const piece of streamed.stream) console.log("more", piece.text());
  return Response.json({ ok: true });
}
""",
    "app/api/gemini-persona/route.ts": """import { GoogleGenerativeAI } from "@google/generative-ai";
const genAI = new GoogleGenerativeAI(process.env.GEMINI_API_KEY!);
export async function POST(req: Request) {
  const { persona, history } = await req.json();
  const model = genAI.getGenerativeModel({ model: "gemini-1.5-flash", systemInstruction: persona });
  console.log("persona", persona);
  const chat = model.startChat({ history });
  console.log("history", history);
  return Response.json({ ok: true, n: (await chat.sendMessage("hi")).response.text().length });
}
""",
    # Near miss: a CMS SDK with the same method names (`getGenerativeModel`, `generateContent`, `startChat`).
    "app/api/cms/route.ts": """import { ContentStudio } from "content-studio";
const studio = new ContentStudio();
export async function POST(req: Request) {
  const { topic } = await req.json();
  const model = studio.getGenerativeModel({ model: "landing", systemInstruction: topic });
  console.log("topic", topic);
  const draft = await model.generateContent(topic);
  console.log("draft", draft.response.text());
  const chat = model.startChat();
  const reply = await chat.sendMessage(topic);
  console.log("reply", reply.response.text());
  return Response.json({ ok: true });
}
""",
}
GEMINI_PAGE = """import { model } from "@/lib/gemini";
export default async function Tip() {
  const result = await model.generateContent("Write a shopping tip");
  const html = result.response.text();
  const tokens = result.response.usageMetadata?.candidatesTokenCount ?? 0;
  return (
    <section>
      <span dangerouslySetInnerHTML={{ __html: String(tokens) }} />
      <div dangerouslySetInnerHTML={{ __html: html }} />
    </section>
  );
}
"""


def test_google_generative_ai_models_and_chats_are_llm_calls(tmp_path: Path) -> None:
    app = _app(
        tmp_path, {**GEMINI, "app/tip/page.tsx": GEMINI_PAGE, "app/ask/page.tsx": _answer_page("/api/gemini-legacy")}
    )
    assert _found(app) == [
        ("app/api/gemini-chat/route.ts", 5),
        ("app/api/gemini-chat/route.ts", 8),
        ("app/api/gemini-chat/route.ts", 10),
        ("app/api/gemini-legacy/route.ts", 9),
        ("app/api/gemini-persona/route.ts", 6),
        ("app/api/gemini-persona/route.ts", 8),
    ]
    assert _found(app, "LL010") == [("app/ask/page.tsx", 10), ("app/tip/page.tsx", 9)]


# ---- @mistralai/mistralai ----------------------------------------------------------------------------------------

MISTRAL = {
    "app/api/mistral/route.ts": """import { Mistral } from "@mistralai/mistralai";
const mistral = new Mistral({ apiKey: process.env.MISTRAL_API_KEY ?? "" });
export async function POST(req: Request) {
  const { question, code } = await req.json();
  const res = await mistral.chat.complete({ model: "mistral-small-latest", messages: [{ role: "user", content: question }] });
  console.log("mistral usage", res.usage, res.id, res.model, res.choices?.[0]?.finishReason);
  console.log("mistral said", res.choices?.[0]?.message?.content);
  const fim = await mistral.fim.complete({ model: "codestral-latest", prompt: code, suffix: "" });
  console.log("completion", fim.choices?.[0]?.message?.content);
  return Response.json({ answer: res.choices?.[0]?.message?.content });
}
""",
    # Streamed, from a client held in a field that the constructor assigns.
    "app/api/mistral-stream/route.ts": """import { Mistral } from "@mistralai/mistralai";
class Support {
  private readonly client: Mistral;
  constructor() {
    this.client = new Mistral({ apiKey: process.env.MISTRAL_API_KEY });
  }
  async answer(question: string) {
    const stream = await this.client.chat.stream({ model: "mistral-small-latest", messages: [{ role: "user", content: question }] });
    for await (const ev of stream) {
      console.log(ev.data.choices[0].delta.content);
    }
  }
}
export async function POST(req: Request) {
  const { question } = await req.json();
  await new Support().answer(question);
  return Response.json({ ok: true });
}
""",
    # Near misses: a helpdesk SDK's `chat.complete` (closing a chat), and a project class with `chat.stream`.
    "app/api/tickets/route.ts": """import { Desk } from "helpdesk-sdk";
class Feed {
  chat = { stream: async (o: { room: string }) => [{ data: { choices: [{ delta: { content: o.room } }] } }] };
}
const desk = new Desk();
export async function POST(req: Request) {
  const { room } = await req.json();
  const closed = await desk.chat.complete({ room });
  console.log("closed", closed.choices);
  for await (const ev of await new Feed().chat.stream({ room })) console.log(ev.data.choices[0].delta.content);
  return Response.json({ ok: true });
}
""",
}


def test_mistral_chat_and_fim_are_llm_calls(tmp_path: Path) -> None:
    app = _app(tmp_path, {**MISTRAL, "app/ask/page.tsx": _answer_page("/api/mistral")})
    assert _found(app) == [
        ("app/api/mistral-stream/route.ts", 10),
        ("app/api/mistral/route.ts", 7),
        ("app/api/mistral/route.ts", 9),
    ]
    assert _found(app, "LL010") == [("app/ask/page.tsx", 10)]


# ---- blind spots, routes and the prefilter -----------------------------------------------------------------------

COHERE_ROUTE = """import { CohereClient } from "cohere-ai";
const cohere = new CohereClient({ token: process.env.CO_API_KEY });
export async function POST(req: Request) {
  const { question } = await req.json();
  const res = await cohere.chat({ model: "command-r", message: question });
  return Response.json({ text: res.text });
}
"""


def test_recognised_sdks_are_no_blind_spot_and_cohere_still_is(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {**ANTHROPIC, **GENAI, **GEMINI, **MISTRAL, "app/api/cohere/route.ts": COHERE_ROUTE},
        package={"dependencies": {**DEPENDENCIES, "cohere-ai": "7.0.0"}},
    )
    assert scan(app, rule_ids=["LL007"], jobs=1).stats.warnings == [
        "package.json: cohere-ai is a dependency and app/api/cohere/route.ts imports it, but no call through it was "
        "recognised as an LLM call: LL006, LL007 and the other LLM-data rules cannot see what it sends or returns"
    ]
    for sdk, family in zip(SDKS, ("anthropic", "google-genai", "google-generative-ai", "mistral"), strict=True):
        assert LLM_CLIENT_PACKAGES[sdk] == frozenset({family})
        assert family in CLIENT_FAMILIES


def test_an_sdk_imported_with_only_look_alike_calls_stays_a_blind_spot(tmp_path: Path) -> None:
    # The package is imported (for a type) but every `messages.create` goes to twilio: nothing was recognised.
    app = write_app(
        tmp_path,
        {
            "app/api/notify/route.ts": 'import type { Message } from "@anthropic-ai/sdk/resources";\n'
            'import Anthropic from "@anthropic-ai/sdk";\nimport twilio from "twilio";\n'
            "const sms = twilio(process.env.TWILIO_SID, process.env.TWILIO_TOKEN);\n"
            "export async function POST(req: Request) {\n  const { body } = await req.json();\n"
            "  const sent = await sms.messages.create({ body, to: '+1', from: '+2' });\n"
            "  return Response.json({ id: sent.sid, m: null as Message | null, c: Anthropic.name });\n}\n",
        },
        package={"dependencies": {"next": "15.5.7", "@anthropic-ai/sdk": "0.60.0", "twilio": "5.0.0"}},
    )
    assert scan(app, rule_ids=["LL007"], jobs=1).stats.warnings == [
        "package.json: @anthropic-ai/sdk is a dependency and app/api/notify/route.ts imports it, but no call through "
        "it was recognised as an LLM call: LL006, LL007 and the other LLM-data rules cannot see what it sends or "
        "returns"
    ]


def test_sdk_routes_are_llm_routes_for_ll006(tmp_path: Path) -> None:
    # No middleware: every route that calls a model is reported at its handler; the look-alikes' routes are not.
    app = _app(tmp_path, {**ANTHROPIC, **GENAI, **GEMINI, **MISTRAL})
    index = build_index(app, ScanAppSettings(), WalkStats(), set())
    assert may_call_llm(index, index.files["app/api/mistral/route.ts"])
    found = _found(app, "LL006")
    assert found == [
        ("app/api/assistant/route.ts", 2),
        ("app/api/claude-events/route.ts", 3),
        ("app/api/claude-stream/route.ts", 3),
        ("app/api/claude/route.ts", 3),
        ("app/api/gemini-chat/route.ts", 2),
        ("app/api/gemini-history/route.ts", 3),
        ("app/api/gemini-legacy/route.ts", 3),
        ("app/api/gemini-persona/route.ts", 3),
        ("app/api/gemini-stream/route.ts", 3),
        ("app/api/gemini/route.ts", 3),
        ("app/api/mistral-stream/route.ts", 14),
        ("app/api/mistral/route.ts", 3),
        ("app/api/summary/route.ts", 2),
    ]


@pytest.mark.parametrize(
    "source",
    [
        'import Anthropic from "@anthropic-ai/sdk";',
        "import { GoogleGenAI } from '@google/genai';",
        'import { GoogleGenerativeAI } from "@google/generative-ai";',
        'import { Mistral } from "@mistralai/mistralai";',
    ],
)
def test_an_sdk_import_keeps_a_file_on_both_prefilter_paths(source: str) -> None:
    data = source.encode()
    assert prefilter.calls_model_maybe_python(data) is True
    scanner = prefilter._literal_scanner()
    if scanner is not None:
        assert scanner.decide(data) is True


def test_the_sdk_apps_scan_alike_through_the_hyperscan_prefilter(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A large app's candidates come from the Hyperscan pass: the SDK files must not be dropped there."""
    if prefilter._literal_scanner() is None:
        pytest.skip("hyperscan is not installed")
    app = _app(tmp_path, {**ANTHROPIC, **GENAI, **GEMINI, **MISTRAL})
    python = _found(app)
    monkeypatch.setattr(prefilter, "HYPERSCAN_MIN_FILES", 1)
    index = build_index(app, ScanAppSettings(), WalkStats(), set())
    assert {"lib/anthropic.ts", "lib/gemini.ts", "app/api/mistral-stream/route.ts"} <= index.llm_candidates
    assert sorted((f.path, f.line) for f in scan(app, rule_ids=["LL007"], jobs=1).findings) == python
    assert len(python) == 23


def test_vendor_names_without_the_sdk_do_not_keep_a_file() -> None:
    data = b'const vendors = ["anthropic", "mistral", "google genai"]; export const pick = (i: number) => vendors[i];'
    assert prefilter.calls_model_maybe_python(data) is False
    scanner = prefilter._literal_scanner()
    if scanner is not None:
        assert scanner.decide(data) is False
