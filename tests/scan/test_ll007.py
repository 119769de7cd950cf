"""LL007 through project functions: LLM data handed to a helper (or a helper's helper) that logs the parameter."""

from __future__ import annotations

from pathlib import Path

from leakline.scan.engine import scan
from tests.scan.apps import write_app

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "rules" / "LL007" / "vulnerable"


def test_the_call_is_reported_naming_the_helper_and_its_sink() -> None:
    result = scan(FIXTURE, rule_ids=["LL007"], jobs=1)
    messages = {(f.path, f.line): f.message for f in result.findings}
    assert messages[("app/api/chat/route.ts", 19)] == (
        "LLM data (prompt or model output) is passed to recordAnswer(), which writes it to logger.info "
        "(lib/telemetry.ts:6)"
    )
    assert messages[("app/api/chat/route.ts", 21)] == (
        "LLM data (prompt or model output) is passed to trace(), which writes it to console.debug "
        "(app/api/chat/route.ts:7)"
    )
    # The helpers themselves log nothing of their own: no finding inside them.
    assert not any(f.path == "lib/telemetry.ts" for f in result.findings)


ROUTE = """import OpenAI from "openai";
import * as telemetry from "@/lib/telemetry";
const client = new OpenAI();
export async function POST(req: Request) {
  const { q } = await req.json();
  const c = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: q }] });
  const answer = c.choices[0].message.content ?? "";
  telemetry.remember({ id: c.id }, answer);
  telemetry.remember({ id: c.id }, "static");
  telemetry.remember({ id: c.id }, "static", answer);
  return Response.json({ ok: true });
}
"""
TELEMETRY = """export function remember(meta: { id: string }, ...parts: string[]) {
  const line = parts.join(" ");
  console.warn("remember", meta.id, line);
}
"""


def test_namespace_imports_rest_parameters_and_derived_values(tmp_path: Path) -> None:
    app = write_app(tmp_path, {"app/api/a/route.ts": ROUTE, "lib/telemetry.ts": TELEMETRY})
    result = scan(app, rule_ids=["LL007"], jobs=1)
    assert [(f.path, f.line) for f in result.findings] == [("app/api/a/route.ts", 8), ("app/api/a/route.ts", 10)]
    assert result.findings[0].message.endswith("which writes it to console.warn (lib/telemetry.ts:3)")


CHAIN_ROUTE = """import OpenAI from "openai";
import { audit, ping } from "@/lib/audit";
const client = new OpenAI();
export async function POST(req: Request) {
  const { q } = await req.json();
  const c = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: q }] });
  const answer = c.choices[0].message.content ?? "";
  audit("chat", answer);
  ping(answer);
  return Response.json({ ok: true });
}
"""
CHAIN_AUDIT = """import { write } from "@/lib/sink";
export function audit(kind: string, text: string) {
  stage(kind, `[${kind}] ${text}`);
}
function stage(kind: string, line: string) {
  write(kind, line);
}
// Recursive helpers that only ever log a length: nothing to report, and the analysis must end.
export function ping(text: string, again = true) {
  if (again) pong(text);
}
function pong(text: string) {
  console.info("size", text.length);
  ping(text, false);
}
"""
CHAIN_SINK = """export function write(kind: string, line: string) {
  console.error(kind, line);
}
"""


def test_helpers_of_helpers_are_followed_to_the_sink_and_recursion_ends(tmp_path: Path) -> None:
    app = write_app(
        tmp_path, {"app/api/a/route.ts": CHAIN_ROUTE, "lib/audit.ts": CHAIN_AUDIT, "lib/sink.ts": CHAIN_SINK}
    )
    result = scan(app, rule_ids=["LL007"], jobs=1)
    assert [(f.path, f.line, f.message) for f in result.findings] == [
        (
            "app/api/a/route.ts",
            8,
            "LLM data (prompt or model output) is passed to audit(), which writes it to console.error (lib/sink.ts:2)",
        )
    ]


def test_sinks_classified_from_the_files_last_names_match_those_classified_from_the_tree() -> None:
    """`SourceFile.call_last_names` (read once per file) lets LL007 and LL008 skip non-sink calls; every
    call of every fixture file and of the example shop is classified the same both ways."""
    from leakline.configfile import load_scan_settings
    from leakline.scan.engine import build_index
    from leakline.scan.sinks import classify_sink
    from leakline.scan.walker import WalkStats

    # The fixture apps as committed (their `next build` output and node_modules are generated, not fixtures).
    roots = [p.parent for p in FIXTURE.parents[2].rglob("package.json") if {"node_modules", ".next"}.isdisjoint(p.parts)]
    roots.append(FIXTURE.parents[4] / "examples" / "vulnerable-shop")
    calls = sinks = 0
    for root in roots:
        index = build_index(root, load_scan_settings(root / "leakline.toml"), WalkStats(), set())
        for f in index.sources:
            if f.root is None:
                continue
            for node in f.nodes("call_expression"):
                plain = classify_sink(node)
                named = classify_sink(node, frozenset(), f.call_last_names)
                assert (plain and (plain.name, [a.id for a in plain.payload])) == (
                    named and (named.name, [a.id for a in named.payload])
                ), (f.rel, node.start_point)
                calls += 1
                sinks += plain is not None
    assert calls > 500 and sinks > 40


SPANS = """import OpenAI from "openai";
import * as Sentry from "@sentry/nextjs";
import { trace, type Span } from "@opentelemetry/api";
const client = new OpenAI();
const tracer = trace.getTracer("shop");
function annotate(target: Span, value: string) { target.setAttribute("gen_ai.completion", value); }
function label(el: HTMLElement, value: string) { el.setAttribute("title", value); }
export async function POST(req: Request) {
  const { q } = await req.json();
  const c = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: q }] });
  const text = c.choices[0].message.content ?? "";
  trace.getActiveSpan()?.setAttribute("gen_ai.completion", text);
  tracer.startActiveSpan("answer", (s) => { s.setAttribute("gen_ai.completion", text); s.end(); });
  tracer.startActiveSpan("answer", { kind: 1 }, (s) => s.setAttributes({ text }));
  Sentry.startSpan({ name: "answer" }, (sp) => sp.setAttribute("answer", text));
  const current = tracer.startSpan("persist");
  current.addEvent("answer", { text });
  const root = Sentry.getActiveSpan() ?? Sentry.startInactiveSpan({ name: "x" });
  root.setAttribute("answer", text);
  annotate(trace.getActiveSpan()!, text);
  const s = document.createElement("div");
  s.setAttribute("title", text);
  [document.body].forEach((s) => s.setAttribute("title", text));
  label(document.body, text);
  trace.getActiveSpan()?.setAttribute("gen_ai.usage.output_tokens", c.usage?.completion_tokens ?? 0);
  return Response.json({ ok: true });
}
"""


def test_span_attributes_of_spans_bound_under_any_name(tmp_path: Path) -> None:
    """Spans from `getActiveSpan()`, `startSpan()`, `startInactiveSpan()`, the `startActiveSpan` / Sentry
    `startSpan` callback parameter and parameters typed `Span` are sinks whatever they are called; DOM
    elements (`s = document.createElement`, a `forEach` parameter, a parameter typed `HTMLElement`) are not."""
    app = write_app(tmp_path, {"app/api/a/route.ts": SPANS})
    result = scan(app, rule_ids=["LL007"], jobs=1)
    assert result.stats.rule_errors == []
    assert [(f.path, f.line, f.evidence) for f in result.findings] == [
        ("app/api/a/route.ts", 12, "trace.getActiveSpan().setAttribute(…)"),
        ("app/api/a/route.ts", 13, "s.setAttribute(…)"),
        ("app/api/a/route.ts", 14, "s.setAttributes(…)"),
        ("app/api/a/route.ts", 15, "sp.setAttribute(…)"),
        ("app/api/a/route.ts", 17, "current.addEvent(…)"),
        ("app/api/a/route.ts", 19, "root.setAttribute(…)"),
        ("app/api/a/route.ts", 20, "annotate(…) → target.setAttribute(…)"),
    ]


TELEMETRY_ROUTE = """import { generateText, streamText } from "ai";
import { openai } from "@ai-sdk/openai";
const model = openai("gpt-4o");
const quiet = { isEnabled: true, recordInputs: false, recordOutputs: false };
const traced = { isEnabled: true, functionId: "chat" };
export async function POST(req: Request) {
  const { prompt } = await req.json();
  await generateText({ model, prompt, experimental_telemetry: { isEnabled: true } });
  await generateText({ model, prompt, experimental_telemetry: { isEnabled: true, recordInputs: false } });
  await generateText({ model, prompt, experimental_telemetry: traced });
  await generateText({ model, prompt, experimental_telemetry: { ...settings, functionId: "x" } });
  await generateText({ model, prompt, experimental_telemetry: { isEnabled: process.env.TRACE === "1" } });
  // ok: LL007 (telemetry off by default, switched off, or both recordings off)
  await generateText({ model, prompt, experimental_telemetry: { functionId: "stream-text" } });
  await generateText({ model, prompt, experimental_telemetry: { isEnabled: false } });
  await generateText({ model, prompt, experimental_telemetry: quiet });
  await generateText({
    model,
    prompt,
    experimental_telemetry: { isEnabled: true, recordInputs: false, recordOutputs: false },
  });
  const other = { experimental_telemetry: { isEnabled: true } };
  return streamText({ model, prompt }).toDataStreamResponse();
}
"""


def test_ai_sdk_telemetry_that_records_content_is_reported_at_the_option(tmp_path: Path) -> None:
    """R2b item 4: `experimental_telemetry` records prompts and outputs into OpenTelemetry spans once enabled
    (recordInputs/recordOutputs default to true). Off by default, `isEnabled: false`, or both recordings off: not
    reported; a setting that cannot be read (spread, a non-literal isEnabled) counts as enabled."""
    app = write_app(tmp_path, {"app/api/chat/route.ts": TELEMETRY_ROUTE})
    result = scan(app, rule_ids=["LL007"], jobs=1)
    assert [(f.rule, f.path, f.line, f.message) for f in result.findings] == [
        (
            "LL007",
            "app/api/chat/route.ts",
            line,
            f"generateText() has the AI SDK's experimental_telemetry enabled, which records its {records} into "
            "OpenTelemetry span attributes (recordInputs and recordOutputs default to true)",
        )
        for line, records in [
            (8, "prompts and outputs"),
            (9, "outputs"),
            (10, "prompts and outputs"),
            (11, "prompts and outputs"),
            (12, "prompts and outputs"),
        ]
    ]
    assert result.findings[0].evidence == "experimental_telemetry: {…}"
