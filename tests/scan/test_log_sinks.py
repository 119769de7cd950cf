"""LL007 sinks known by what they are bound to, not by their name: pino, winston and bunyan loggers made by a
call (in the file or exported by a project module), and dd-trace spans."""

from __future__ import annotations

from pathlib import Path

from leakline.scan.engine import scan
from tests.scan.apps import write_app

PACKAGE: dict[str, object] = {
    "dependencies": {"next": "15.2.4", "ai": "5.0.0", "@ai-sdk/openai": "2.0.0", "pino": "9.0.0"}
}
ROUTE = "app/api/t/route.ts"
LOGGERS = """import { generateText } from "ai";
import { openai } from "@ai-sdk/openai";
import winston, { createLogger } from "winston";
import bunyan from "bunyan";
import pino from "pino";
import { audit as auditLog } from "@/lib/log";
import { createLogger as createMetrics } from "@/lib/metrics";
import dlog, { notes } from "@/lib/dlog";

const wlog = winston.createLogger({ transports: [new winston.transports.Console()] });
const w2 = createLogger({});
const blog = bunyan.createLogger({ name: "app" });
const plog = pino();
const audit = pino().child({ module: "audit" });
const metrics = createMetrics();
const plain = { info(_m: unknown) {} };

export async function POST(req: Request) {
  const { prompt } = await req.json();
  const { text } = await generateText({ model: openai("gpt-4o"), prompt });
  wlog.info("answer", { text });
  w2.warn(text);
  blog.info({ text }, "answer");
  plog.info({ text });
  audit.info({ text });
  auditLog.error({ text });
  pino().info(text);
  plog.child({ text }).info("bound");
  metrics.info(text);
  plain.info(text);
  dlog.warn(text);
  notes.error(text);
  const viaParameter = (pino: () => typeof plain) => {
    const local = pino();
    local.info(text);
  };
  viaParameter(() => plain);
  {
    const pino = () => plain;
    const inner = pino();
    inner.info(text);
  }
  return Response.json({ ok: true });
}
"""
LOG_MODULE = """import pino from "pino";
const base = pino({ level: "info" });
export const audit = base.child({ module: "audit" });
"""
DEFAULT_LOG_MODULE = """import pino from "pino";
export const notes = { error(_m: unknown) {} };
export default pino();
"""
METRICS = """export function createLogger() {
  return { info(_m: unknown) {}, warn(_m: unknown) {} };
}
"""


def test_loggers_known_by_their_binding(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {ROUTE: LOGGERS, "lib/log.ts": LOG_MODULE, "lib/metrics.ts": METRICS, "lib/dlog.ts": DEFAULT_LOG_MODULE},
        package=PACKAGE,
    )
    result = scan(app, rule_ids=["LL007"], jobs=1)
    assert result.stats.rule_errors == []
    # metrics (a project createLogger), plain, notes (an object a logger module exports), the parameter `pino`
    # and the local `pino` are not loggers.
    assert [(f.rule, f.path, f.line, f.message) for f in result.findings] == [
        ("LL007", ROUTE, line, f"LLM data (prompt or model output) is written to {sink}")
        for line, sink in [
            (21, "wlog.info"),
            (22, "w2.warn"),
            (23, "blog.info"),
            (24, "plog.info"),
            (25, "audit.info"),
            (26, "auditLog.error"),
            (27, "pino().info"),
            (28, "plog.child"),
            (31, "dlog.warn"),
        ]
    ]


def test_a_logger_named_like_a_factory_but_bound_to_something_else(tmp_path: Path) -> None:
    """`plog` bound to an analytics buffer, `pino` a local function (no import from "pino")."""
    route = """import { generateText } from "ai";
import { openai } from "@ai-sdk/openai";
const pino = (_o?: unknown) => ({ info(_m: unknown) {} });
const plog = pino();
const w2 = new Map<string, string>();
export async function POST(req: Request) {
  const { prompt } = await req.json();
  const { text } = await generateText({ model: openai("gpt-4o"), prompt });
  plog.info(text);
  w2.set("t", text);
  return Response.json({ ok: true });
}
"""
    app = write_app(tmp_path, {ROUTE: route}, package=PACKAGE)
    result = scan(app, rule_ids=["LL007"], jobs=1)
    assert result.stats.rule_errors == []
    assert result.findings == []


DD_ROUTE = """import tracer from "dd-trace";
import { generateText } from "ai";
import { openai } from "@ai-sdk/openai";
import { TagSet } from "@/lib/tags";

export async function POST(req: Request) {
  const { prompt } = await req.json();
  const { text } = await generateText({ model: openai("gpt-4o"), prompt });
  tracer.trace("llm", (s) => s.setTag("llm.output", text));
  tracer.trace("llm", { resource: "chat" }, (s) => { s.addTags({ "llm.output": text }); });
  const active = tracer.scope().active();
  active?.setTag("llm.output", text);
  tracer.scope().active()?.addTags({ prompt });
  active?.setTag("llm.output_chars", text.length);
  const tags = new TagSet();
  tags.setTag("llm.output", text);
  tags.trace("llm", (t: TagSet) => t.setTag("llm.output", text));
  const current = tags.scope().active();
  current.addTags({ text });
  return Response.json({ ok: true });
}
"""
TAGS = """export class TagSet {
  setTag(_k: string, _v: unknown) {}
  addTags(_t: object) {}
  trace(_n: string, fn: (t: TagSet) => void) { fn(this); }
  scope() { return { active: () => this }; }
}
"""


def test_dd_trace_span_tags(tmp_path: Path) -> None:
    app = write_app(tmp_path, {ROUTE: DD_ROUTE, "lib/tags.ts": TAGS}, package=PACKAGE)
    result = scan(app, rule_ids=["LL007"], jobs=1)
    assert result.stats.rule_errors == []
    # Lines 14 (a length) and 15-19 (a TagSet, whose `trace` and `scope` are not dd-trace's) are not findings.
    assert [(f.rule, f.path, f.line, f.message) for f in result.findings] == [
        ("LL007", ROUTE, line, f"LLM data (prompt or model output) is written to {sink}")
        for line, sink in [
            (9, "s.setTag"),
            (10, "s.addTags"),
            (12, "active.setTag"),
            (13, "tracer.scope().active().addTags"),
        ]
    ]
