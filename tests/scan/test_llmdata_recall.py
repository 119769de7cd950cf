"""LLM data the analysis used to lose (review h2): each test is a vulnerable app and, beside it, the safe
look-alike a naive fix would also flag; findings are pinned to the exact file and line."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from leakline.config import Settings
from leakline.scan.engine import build_index, scan
from leakline.scan.walker import WalkStats
from tests.scan.apps import rule_lines

PACKAGE = json.dumps(
    {
        "name": "shop",
        "private": True,
        "dependencies": {"next": "15.5.7", "react": "19.1.2", "ai": "4.3.16", "ollama": "0.5.15", "openai": "4.77.0"},
    }
)


def _found(app: Path, rule: str = "LL007") -> list[tuple[str, int]]:
    return rule_lines(app, rule)


# ---- #14: metadata of a response is not LLM data ------------------------------------------------------------------

METADATA_ROUTE = """import ollama from "ollama";
export async function POST(req: Request) {
  const { prompt } = await req.json();
  const res = await ollama.generate({ model: "llama3.1", prompt });
  console.log("stats", res.model, res.done_reason, res.eval_count, res.prompt_eval_count);
  console.log("created", res.created_at);
  console.log("timings", res.prompt_eval_duration, res.eval_duration, res.load_duration, res.total_duration);
  console.log("answer", res.response);
  return Response.json({ text: res.response });
}
"""
METADATA_STREAM = """import { streamText } from "ai";
import { createOllama } from "ollama-ai-provider";
const ollama = createOllama({ baseURL: process.env.OLLAMA_BASE_URL });
export async function POST(req: Request) {
  const { messages, chatId } = await req.json();
  const result = streamText({
    model: ollama("llama3.1"),
    messages,
    onFinish: ({ text, usage, finishReason, response }) => {
      console.log("done", { chatId, usage, finishReason });
      console.log("response", response.id, response.modelId);
      console.log("at", response.timestamp);
      console.log("text", text);
    },
  });
  return result.toDataStreamResponse();
}
"""


def test_model_ids_timestamps_and_ollama_timings_are_metadata(make_app: Callable[..., Path]) -> None:
    app = make_app(
        {"package.json": PACKAGE, "app/api/gen/route.ts": METADATA_ROUTE, "app/api/chat/route.ts": METADATA_STREAM}
    )
    assert _found(app) == [("app/api/chat/route.ts", 13), ("app/api/gen/route.ts", 8)]


# ---- #5 and #6: JSON.parse and TextDecoder.decode carry their argument --------------------------------------------

PARSE_ROUTE = """export async function POST(req: Request) {
  const { messages } = await req.json();
  const upstream = await fetch(`${process.env.OLLAMA_HOST}/api/chat`, {
    method: "POST",
    body: JSON.stringify({ model: "llama3.1", messages, stream: false }),
  });
  const raw = await upstream.text();
  const data = JSON.parse(raw);
  console.log("reply", data.message.content);
  const flags = JSON.parse(process.env.FEATURE_FLAGS ?? "{}");
  console.log("flags", flags);
  return Response.json({ reply: data.message.content });
}
"""
DECODE_ROUTE = """export async function POST(req: Request) {
  const { messages } = await req.json();
  const upstream = await fetch(`${process.env.OLLAMA_HOST}/api/chat`, {
    method: "POST",
    body: JSON.stringify({ model: "llama3.1", messages, stream: true }),
  });
  const reader = upstream.body!.getReader();
  const decoder = new TextDecoder();
  const marker = decoder.decode(new Uint8Array([0x6f, 0x6b]));
  console.log("marker", marker);
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    const text = decoder.decode(value, { stream: true });
    console.log("text", text);
  }
  return new Response("ok");
}
"""


def test_json_parse_and_decode_carry_their_argument(make_app: Callable[..., Path]) -> None:
    app = make_app(
        {"package.json": PACKAGE, "app/api/parse/route.ts": PARSE_ROUTE, "app/api/dec/route.ts": DECODE_ROUTE}
    )
    assert _found(app) == [("app/api/dec/route.ts", 15), ("app/api/parse/route.ts", 9)]


# ---- #1: a request field that flows into the prompt through a binding is prompt data ------------------------------

PROMPT_TEMPLATE = """import { generateText } from "ai";
import { createOllama } from "ollama-ai-provider";
const ollama = createOllama({ baseURL: process.env.OLLAMA_BASE_URL });
export async function POST(req: Request) {
  const { question, userId } = await req.json();
  console.log("user asked", question);
  console.log("user", userId);
  const prompt = `You are the ACME shop assistant. Customer question: ${question.trim()}`;
  const { text } = await generateText({ model: ollama("llama3.1"), prompt });
  return Response.json({ text });
}
"""
PROMPT_MESSAGES = """import ollama from "ollama";
export async function POST(req: Request) {
  const { question } = await req.json();
  console.log("user asked", question);
  const messages = [{ role: "user", content: question }];
  const res = await ollama.chat({ model: "llama3.1", messages });
  return Response.json({ answer: res.message.content });
}
"""
PROMPT_HISTORY = """import OpenAI from "openai";
import { loadHistory } from "@/lib/history";
const client = new OpenAI();
export async function POST(req: Request) {
  const body = await req.json();
  const sessionId = body.sessionId;
  console.log("session", sessionId);
  console.log("asked", body.question);
  const history = await loadHistory(sessionId);
  const turn = { role: "user" as const, content: "Question: " + body.question };
  const messages = [...history, turn];
  const c = await client.chat.completions.create({ model: "m", messages });
  return Response.json({ answer: c.choices[0].message.content });
}
"""
HISTORY = """export async function loadHistory(sessionId: string) {
  return [] as { role: "user" | "assistant"; content: string }[];
}
"""


def test_request_fields_built_into_a_prompt_variable_are_prompt_data(make_app: Callable[..., Path]) -> None:
    app = make_app(
        {
            "package.json": PACKAGE,
            "tsconfig.json": json.dumps({"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["./*"]}}}),
            "app/api/a/route.ts": PROMPT_TEMPLATE,
            "app/api/b/route.ts": PROMPT_MESSAGES,
            "app/api/c/route.ts": PROMPT_HISTORY,
            "lib/history.ts": HISTORY,
        }
    )
    # Not `userId` (never sent), not `sessionId` (only the argument of the call that loads the history).
    assert _found(app) == [("app/api/a/route.ts", 6), ("app/api/b/route.ts", 4), ("app/api/c/route.ts", 8)]


# ---- #3: barrels (`export * from`, `export { a as b, default as c } from`) ----------------------------------------

SUMMARIZE = """import ollama from "ollama";
export async function summarize(text: string) {
  const res = await ollama.generate({ model: "llama3.1", prompt: `Summarize: ${text}` });
  return res.response;
}
export default summarize;
"""
WORDS = """export function countWords(text: string) {
  return text.split(" ").length;
}
"""
BARREL = """import { summarize as inner } from "./summarize";
import { countWords as counted } from "./words";
export * from "./summarize";
export * from "./words";
export { summarize as summarise, default as summary } from "./summarize";
export { countWords as wordCount } from "./words";
export { inner as digest, counted as tally };
"""


def _barrel_route(name: str) -> str:
    return f"""import {{ {name} }} from "../../../lib/ai";
export async function POST(req: Request) {{
  const {{ text }} = await req.json();
  const s = await {name}(text);
  console.log("result", s);
  return Response.json({{ ok: true }});
}}
"""


def test_functions_re_exported_through_barrels_are_followed(make_app: Callable[..., Path]) -> None:
    files = {"package.json": PACKAGE, "lib/ai/summarize.ts": SUMMARIZE, "lib/ai/words.ts": WORDS}
    files["lib/ai/index.ts"] = BARREL
    for name in ("summarize", "summarise", "summary", "digest", "countWords", "wordCount", "tally"):
        files[f"app/api/{name.lower()}/route.ts"] = _barrel_route(name)
    app = make_app(files)
    # The count functions, re-exported the same ways, return no content.
    assert _found(app) == [
        ("app/api/digest/route.ts", 5),
        ("app/api/summarise/route.ts", 5),
        ("app/api/summarize/route.ts", 5),
        ("app/api/summary/route.ts", 5),
    ]


# ---- #12: wrappers called on a function (`withRetry(fn)`, `pRetry(() => f(q))`) ----------------------------------

RETRY_LIB = """import ollama from "ollama";
export function withRetry<A extends unknown[], R>(fn: (...args: A) => Promise<R>, tries = 3) {
  return async (...args: A): Promise<R> => {
    for (let i = 0; ; i++) {
      try {
        return await fn(...args);
      } catch (e) {
        if (i + 1 >= tries) throw e;
      }
    }
  };
}
export async function rawAnswer(question: string) {
  const r = await ollama.chat({ model: "llama3.1", messages: [{ role: "user", content: question }] });
  return r.message.content;
}
export async function countTokens(question: string) {
  return question.length;
}
export const answer = withRetry(rawAnswer);
export const tokens = withRetry(countTokens);
"""
RETRY_ROUTE = """import pRetry from "p-retry";
import { answer, countTokens, rawAnswer, tokens, withRetry } from "@/lib/llm";
const safeAsk = withRetry(rawAnswer);
const safeCount = withRetry(countTokens);
export async function POST(req: Request) {
  const { question } = await req.json();
  const a = await answer(question);
  console.log("a", a);
  const b = await safeAsk(question);
  console.log("b", b);
  const c = await pRetry(() => rawAnswer(question));
  console.log("c", c);
  console.log("counts", await tokens(question), await safeCount(question), await pRetry(() => countTokens(question)));
  return Response.json({ a, b, c });
}
"""


def test_functions_wrapped_by_a_retry_helper_return_what_they_wrap(make_app: Callable[..., Path]) -> None:
    app = make_app(
        {
            "package.json": PACKAGE,
            "tsconfig.json": json.dumps({"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["./*"]}}}),
            "lib/llm.ts": RETRY_LIB,
            "app/api/ask/route.ts": RETRY_ROUTE,
        }
    )
    assert _found(app) == [("app/api/ask/route.ts", 8), ("app/api/ask/route.ts", 10), ("app/api/ask/route.ts", 12)]


# ---- #4: class-based services ---------------------------------------------------------------------------------------

AI_SERVICE = """import OpenAI from "openai";
export class AiService {
  private client = new OpenAI({ baseURL: process.env.VLLM_BASE_URL, apiKey: "unused" });
  async ask(question: string): Promise<string> {
    const res = await this.client.chat.completions.create({
      model: "meta-llama/Llama-3.1-8B-Instruct",
      messages: [{ role: "user", content: question }],
    });
    return res.choices[0].message.content ?? "";
  }
  async count(question: string): Promise<number> {
    return question.split(" ").length;
  }
}
export class FaqService {
  async ask(question: string): Promise<string> {
    return question === "hours" ? "9 to 5" : "see our FAQ";
  }
}
export const aiService = new AiService();
export const faqService = new FaqService();
"""
SERVICE_ROUTES = {
    "app/api/a/route.ts": """import { AiService, FaqService } from "../../../lib/ai-service";
export async function POST(req: Request) {
  const { topic } = await req.json();
  const reply = await new AiService().ask("Tell me about " + topic.trim());
  console.log("reply", reply);
  console.log("faq", await new FaqService().ask("hours"), await new AiService().count("static words"));
  return Response.json({ reply });
}
""",
    "app/api/b/route.ts": """import { aiService, faqService } from "../../../lib/ai-service";
export async function POST(req: Request) {
  const { topic } = await req.json();
  const reply = await aiService.ask("Tell me about " + topic);
  console.log("reply", reply);
  const faq = await faqService.ask("hours");
  console.log("faq", faq);
  return Response.json({ reply });
}
""",
    "app/api/c/route.ts": """import { AiService, FaqService } from "../../../lib/ai-service";
class SupportController {
  private faq = new FaqService();
  constructor(private ai: AiService) {}
  async handle(topic: string) {
    const reply = await this.ai.ask("Tell me about " + topic);
    console.log("reply", reply);
    console.log("faq", await this.faq.ask("hours"));
    return reply;
  }
}
export async function POST(req: Request) {
  const { topic } = await req.json();
  return Response.json({ reply: await new SupportController(new AiService()).handle(topic) });
}
""",
    "app/api/d/route.ts": """import ollama from "ollama";
class LocalAssistant {
  async answer(question: string) {
    const r = await ollama.chat({ model: "llama3.1", messages: [{ role: "user", content: question }] });
    return r.message.content;
  }
}
class Greeter {
  async answer(name: string) {
    return "hello " + name;
  }
}
export async function POST(req: Request) {
  const { topic } = await req.json();
  const assistant = new LocalAssistant();
  const greeter = new Greeter();
  const reply = await assistant.answer("Tell me about " + topic);
  console.log("reply", reply);
  console.log("greeting", await greeter.answer("Ann"));
  return Response.json({ reply });
}
""",
}


def test_methods_of_class_based_services_are_followed(make_app: Callable[..., Path]) -> None:
    app = make_app({"package.json": PACKAGE, "lib/ai-service.ts": AI_SERVICE, **SERVICE_ROUTES})
    # `FaqService.ask` and `Greeter.answer` share the method names and return no LLM data.
    assert _found(app) == [
        ("app/api/a/route.ts", 5),
        ("app/api/b/route.ts", 5),
        ("app/api/c/route.ts", 7),
        ("app/api/d/route.ts", 18),
    ]
    assert _found(app, "LL006") == [
        ("app/api/a/route.ts", 2),
        ("app/api/b/route.ts", 2),
        ("app/api/c/route.ts", 12),
        ("app/api/d/route.ts", 13),
    ]


# ---- #9: LangChain LCEL chains ------------------------------------------------------------------------------------

LCEL_ROUTE = """import { ChatOllama } from "@langchain/ollama";
import { ChatPromptTemplate } from "@langchain/core/prompts";
import { StringOutputParser } from "@langchain/core/output_parsers";
import { RunnableSequence } from "@langchain/core/runnables";
const model = new ChatOllama({ baseUrl: process.env.OLLAMA_HOST, model: "llama3.1", temperature: 0 });
const prompt = ChatPromptTemplate.fromMessages([["system", "You are the ACME store assistant."], ["human", "{q}"]]);
const chain = prompt.pipe(model).pipe(new StringOutputParser());
const sequence = RunnableSequence.from([prompt, model, new StringOutputParser()]);
const formatter = prompt.pipe(new StringOutputParser());
export async function POST(req: Request) {
  const { question } = await req.json();
  const answer = await chain.invoke({ q: question });
  console.log("chain answer", answer);
  const stream = await sequence.stream({ q: question });
  for await (const piece of stream) {
    console.log("piece", piece);
  }
  const rendered = await formatter.invoke({ q: "opening hours" });
  console.log("template", rendered);
  return Response.json({ answer });
}
"""


def test_langchain_chains_with_a_model_are_llm_calls(make_app: Callable[..., Path]) -> None:
    package = json.dumps({"name": "shop", "dependencies": {"next": "15.5.7", "@langchain/ollama": "0.2.0"}})
    app = make_app({"package.json": package, "app/api/chain/route.ts": LCEL_ROUTE})
    # A chain without a model (`prompt.pipe(parser)`) only formats the template.
    assert _found(app) == [("app/api/chain/route.ts", 13), ("app/api/chain/route.ts", 16)]
    assert _found(app, "LL006") == [("app/api/chain/route.ts", 10)]
    # The chain's calls are recognised: no blind-spot warning for @langchain/ollama.
    assert scan(app, rule_ids=["LL007"], jobs=1).stats.warnings == []


# ---- #13: fetching the app's own route behind a base URL -----------------------------------------------------------

ASSISTANT_ROUTE = """import ollama from "ollama";
export async function POST(req: Request) {
  const { question } = await req.json();
  const res = await ollama.chat({ model: "llama3.1", messages: [{ role: "user", content: question }] });
  return Response.json({ answer: res.message.content });
}
"""
HEALTH_ROUTE = """export async function GET() {
  return Response.json({ answer: "ok" });
}
"""
# Nothing but the base-URL fetches tells this page apart: the prefilter must keep it.
HELP_PAGE = """"use client";
import { useState } from "react";
export default function Help() {
  const [a, setA] = useState("");
  const [b, setB] = useState("");
  async function go(question: string) {
    const r1 = await fetch(`${process.env.NEXT_PUBLIC_APP_URL}/api/assistant`, { method: "POST", body: question });
    setA((await r1.json()).answer);
    const r2 = await fetch(`${process.env.NEXT_PUBLIC_APP_URL}/api/health`);
    setB((await r2.json()).answer);
  }
  return (
    <div onClick={() => go("where is my order?")}>
      <div dangerouslySetInnerHTML={{ __html: a }} />
      <div dangerouslySetInnerHTML={{ __html: b }} />
    </div>
  );
}
"""


def test_own_routes_fetched_behind_a_base_url_return_their_llm_data(make_app: Callable[..., Path]) -> None:
    app = make_app(
        {
            "package.json": PACKAGE,
            "app/api/assistant/route.ts": ASSISTANT_ROUTE,
            "app/api/health/route.ts": HEALTH_ROUTE,
            "app/help/page.tsx": HELP_PAGE,
        }
    )
    assert _found(app, "LL010") == [("app/help/page.tsx", 14)]
    assert build_index(app, Settings(), WalkStats(), set()).llm_candidates == {
        "app/api/assistant/route.ts",
        "app/help/page.tsx",
    }


# ---- #7: routes streaming through a ReadableStream ------------------------------------------------------------------

STREAM_ROUTE = """import ollama from "ollama";
export async function POST(req: Request) {
  const { question } = await req.json();
  const stream = await ollama.chat({ model: "llama3.1", messages: [{ role: "user", content: question }], stream: true });
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    async start(controller) {
      for await (const part of stream) {
        controller.enqueue(encoder.encode(part.message.content));
      }
      controller.close();
    },
  });
  return new Response(body, { headers: { "Content-Type": "text/plain; charset=utf-8" } });
}
"""
# The same shape, streaming only how many tokens were generated.
PROGRESS_ROUTE = """import ollama from "ollama";
export async function POST(req: Request) {
  const { question } = await req.json();
  const stream = await ollama.chat({ model: "llama3.1", messages: [{ role: "user", content: question }], stream: true });
  const encoder = new TextEncoder();
  const body = new ReadableStream({
    async start(controller) {
      for await (const part of stream) {
        controller.enqueue(encoder.encode(String(part.eval_count)));
      }
      controller.close();
    },
  });
  return new Response(body);
}
"""


def _stream_page(url: str) -> str:
    return f""""use client";
import {{ useState }} from "react";
export default function Assistant() {{
  const [answer, setAnswer] = useState("");
  async function ask(question: string) {{
    const res = await fetch("{url}", {{ method: "POST", body: JSON.stringify({{ question }}) }});
    setAnswer(await res.text());
  }}
  return <div onClick={{() => ask("hi")}} dangerouslySetInnerHTML={{{{ __html: answer }}}} />;
}}
"""


def test_a_readable_stream_carries_what_its_controller_enqueues(make_app: Callable[..., Path]) -> None:
    app = make_app(
        {
            "package.json": PACKAGE,
            "app/api/ask/route.ts": STREAM_ROUTE,
            "app/api/progress/route.ts": PROGRESS_ROUTE,
            "app/assistant/page.tsx": _stream_page("/api/ask"),
            "app/progress/page.tsx": _stream_page("/api/progress"),
        }
    )
    assert _found(app, "LL010") == [("app/assistant/page.tsx", 9)]


# ---- #10: ai/rsc streamable values ---------------------------------------------------------------------------------

STREAMABLE_ACTIONS = """"use server";
import { streamText } from "ai";
import { createStreamableValue } from "ai/rsc";
import { createOllama } from "ollama-ai-provider";
const ollama = createOllama({ baseURL: process.env.OLLAMA_BASE_URL });
export async function ask(question: string) {
  const stream = createStreamableValue("");
  (async () => {
    const { textStream } = streamText({ model: ollama("llama3.1"), prompt: question });
    for await (const delta of textStream) stream.update(delta);
    stream.done();
  })();
  return { output: stream.value };
}
export async function progress(question: string) {
  const stream = createStreamableValue("");
  (async () => {
    const { textStream } = streamText({ model: ollama("llama3.1"), prompt: question });
    let chunks = 0;
    for await (const delta of textStream) stream.update(`${++chunks} chunks (${delta.length} chars)`);
    stream.done();
  })();
  return { output: stream.value };
}
"""


def _streamable_page(action: str) -> str:
    return f""""use client";
import {{ useState }} from "react";
import {{ readStreamableValue }} from "ai/rsc";
import {{ {action} }} from "../actions/ask";
export default function Chat() {{
  const [answer, setAnswer] = useState("");
  async function onAsk(q: string) {{
    const {{ output }} = await {action}(q);
    for await (const delta of readStreamableValue(output)) {{
      setAnswer((cur) => cur + delta);
    }}
  }}
  return <div onClick={{() => onAsk("hi")}} dangerouslySetInnerHTML={{{{ __html: answer }}}} />;
}}
"""


def test_ai_rsc_streamable_values_carry_what_they_are_updated_with(make_app: Callable[..., Path]) -> None:
    app = make_app(
        {
            "package.json": PACKAGE,
            "app/actions/ask.ts": STREAMABLE_ACTIONS,
            "app/chat/page.tsx": _streamable_page("ask"),
            "app/progress/page.tsx": _streamable_page("progress"),
        }
    )
    assert _found(app, "LL010") == [("app/chat/page.tsx", 13)]


# ---- TGI: Hugging Face text-generation-inference's native API ------------------------------------------------------

TGI_ROUTE = """export async function POST(req: Request) {
  const { prompt } = await req.json();
  const r = await fetch(`${process.env.TGI_ENDPOINT}/generate`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ inputs: prompt, parameters: { max_new_tokens: 256 } }),
  });
  const { generated_text } = await r.json();
  console.log("tgi", generated_text);
  const s = await fetch("http://tgi.internal:8080/generate_stream?details=false", { method: "POST", body: "{}" });
  console.log("stream", await s.text());
  const pdf = await fetch(`${process.env.PDF_SERVICE_URL}/generate-invoice`, { method: "POST", body: "{}" });
  console.log("invoice", await pdf.text());
  return Response.json({ text: generated_text });
}
"""


def test_tgi_endpoints_are_llm_urls(make_app: Callable[..., Path]) -> None:
    app = make_app({"package.json": PACKAGE, "app/api/ask/route.ts": TGI_ROUTE})
    # Not the invoice service: `/generate-invoice` is not TGI's `/generate`.
    assert _found(app) == [("app/api/ask/route.ts", 9), ("app/api/ask/route.ts", 11)]


# ---- ollama-js clients made with `new Ollama(...)` (review h2, r07) ------------------------------------------------

OLLAMA_CLIENTS = {
    "lib/llm.ts": """import { Ollama } from "ollama";
export const client = new Ollama({ host: process.env.OLLAMA_HOST });
""",
    "lib/report.ts": """export class ReportBuilder {
  async generate(opts: { title: string }) { return { body: "report " + opts.title }; }
}
""",
    "app/api/a/route.ts": """import { Ollama } from "ollama";
const client = new Ollama({ host: process.env.OLLAMA_HOST });
export async function POST(req: Request) {
  const { question } = await req.json();
  const res = await client.chat({ model: "llama3.1", messages: [{ role: "user", content: question }] });
  console.log("answer", res.message.content);
  return Response.json({ ok: true });
}
""",
    "app/api/b/route.ts": """import { client } from "../../../lib/llm";
export async function POST(req: Request) {
  const { question } = await req.json();
  const res = await client.generate({ model: "llama3.1", prompt: question });
  console.log("answer", res.response);
  return Response.json({ ok: true });
}
""",
    "app/api/c/route.ts": """import { Ollama } from "ollama";
class Assistant {
  private client = new Ollama({ host: process.env.OLLAMA_HOST });
  async ask(question: string) {
    const res = await this.client.chat({ model: "llama3.1", messages: [{ role: "user", content: question }] });
    console.log("answer", res.message.content);
    return res.message.content;
  }
}
export async function POST(req: Request) {
  const { question } = await req.json();
  return Response.json({ answer: await new Assistant().ask(question) });
}
""",
    "app/api/d/route.ts": """import { Ollama } from "ollama";
import { ReportBuilder } from "../../../lib/report";
const client = new ReportBuilder();
export async function POST(req: Request) {
  const { question } = await req.json();
  const res = await client.generate({ title: question });
  console.log("report", res.body);
  return Response.json({ ok: true, v: Ollama.name });
}
""",
}


def test_ollama_clients_made_with_new_ollama_are_llm_clients_whatever_their_name(
    make_app: Callable[..., Path],
) -> None:
    app = make_app({"package.json": PACKAGE, **OLLAMA_CLIENTS})
    # A local `client`, an instance a project module exports, a class field; not another class's `generate`.
    assert _found(app) == [("app/api/a/route.ts", 6), ("app/api/b/route.ts", 5), ("app/api/c/route.ts", 6)]


# ---- audit 2: a request body whose field is the prompt, logged whole --------------------------------------------

BODY_LOGGED = """import OpenAI from "openai";
const openai = new OpenAI();
export async function POST(req: Request) {
  const body = await req.json();
  console.log("chat request", body);
  console.log("locale", body.locale);
  const r = await openai.chat.completions.create({ model: "m", messages: body.messages });
  return Response.json({ id: r.id });
}
"""
FORM_LOGGED = """import OpenAI from "openai";
const openai = new OpenAI();
export async function POST(request: Request) {
  const form = await request.formData();
  const question = String(form.get("q"));
  logger.info({ form });
  const r = await openai.chat.completions.create({ model: "m", messages: [{ role: "user", content: form.get("q") }] });
  return Response.json({ id: r.id, question: question.length });
}
"""
PAGES_BODY_LOGGED = """import OpenAI from "openai";
const openai = new OpenAI();
export default async function handler(req: any, res: any) {
  console.info(req.body);
  console.info(req.body.locale);
  const r = await openai.chat.completions.create({
    model: "m",
    messages: [{ role: "user", content: req.body.question }],
  });
  res.json({ id: r.id });
}
"""
# Look-alike: a session and a product whose fields go into the prompt are not request bodies; logging them whole is
# not logging the prompt, nor is logging another field of the body.
OTHER_OBJECTS = """import OpenAI from "openai";
const openai = new OpenAI();
async function getSession() { return { user: { name: "Ann" } }; }
export async function POST(req: Request) {
  const body = await req.json();
  const session = await getSession();
  const product = await (await fetch("https://cms.example.com/p/1")).json();
  console.log("asked", body.locale, session, product);
  const content = `${session.user.name} asks about ${product.title}: ${body.question}`;
  const r = await openai.chat.completions.create({ model: "m", messages: [{ role: "user", content }] });
  return Response.json({ id: r.id });
}
"""


def test_a_request_body_whose_field_is_the_prompt_is_llm_data_when_logged_whole(
    make_app: Callable[..., Path],
) -> None:
    app = make_app(
        {
            "package.json": PACKAGE,
            "app/api/a/route.ts": BODY_LOGGED,
            "app/api/b/route.ts": FORM_LOGGED,
            "pages/api/c.ts": PAGES_BODY_LOGGED,
            "app/api/d/route.ts": OTHER_OBJECTS,
        }
    )
    # `body.locale` (line 6 of a, line 5 of c) is another field; d logs no prompt (its `body.question` is not logged).
    assert _found(app) == [("app/api/a/route.ts", 5), ("app/api/b/route.ts", 6), ("pages/api/c.ts", 4)]
