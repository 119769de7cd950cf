"""Pages Router data functions (`getServerSideProps`, `getStaticProps`, `getInitialProps`) hand their props to the
page's default export: the props that carry LLM data are LLM data inside the page component (LL010, LL007) and in
the components it passes them to. Also services reached through a parameter typed with their class. Each
vulnerable app comes with the look-alikes a naive matcher would flag; findings are pinned to file and line."""

from __future__ import annotations

from pathlib import Path

from leakline.configfile import ScanAppSettings
from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.engine import build_index, scan
from leakline.scan.walker import WalkStats
from tests.scan.apps import write_app

RULES = ("LL007", "LL010")
Finding = tuple[str, str, int]

OPENAI_LIB = """import OpenAI from "openai";
const openai = new OpenAI({ baseURL: process.env.OLLAMA_BASE_URL, apiKey: "unused" });
export async function summarise(topic: string): Promise<string> {
  const r = await openai.chat.completions.create({ model: "llama3.1", messages: [{ role: "user", content: topic }] });
  return r.choices[0].message.content ?? "";
}
export async function loadSummaryProps() {
  const summary = await summarise("the catalogue");
  return { props: { summary, generatedAt: Date.now() } };
}
export async function loadStats() {
  return { props: { generatedAt: Date.now(), title: "Stats" } };
}
"""


def _dropped_files_hold_no_llm_data(app: Path) -> None:
    """A file the byte prefilter drops is never analysed by LL007: none of its arguments or returned values may be
    LLM data, page props included (a page's props come from its own data functions or the modules they import)."""
    index = build_index(app, ScanAppSettings(), WalkStats(), set())
    ctx = ScanContext(index)
    for f in index.sources:
        if f.root is None or f.language is None or f.rel in index.llm_candidates:
            continue
        llm = ctx.llm.file(f)
        assert llm is not None
        for node in ts.nodes_of_types(f.language, ("call_expression", "return_statement", "jsx_expression"), f.root):
            for child in node.named_children:
                for arg in child.named_children if child.type == "arguments" else [child]:
                    assert not llm.is_llm(arg), (f.rel, arg.start_point)


def _found(app: Path) -> list[Finding]:
    _dropped_files_hold_no_llm_data(app)
    result = scan(app, rule_ids=list(RULES), jobs=1)
    assert result.stats.rule_errors == []
    return sorted((f.rule, f.path, f.line) for f in result.findings if f.rule in RULES)


def _at(app: Path, rule: str, rel: str, needle: str) -> Finding:
    lines = (app / rel).read_text().splitlines()
    matches = [n for n, text in enumerate(lines, start=1) if needle in text]
    assert len(matches) == 1, (rel, needle, matches)
    return rule, rel, matches[0]


# ---- getServerSideProps / getStaticProps in the page module --------------------------------------------------------

SSR_PAGE = """import OpenAI from "openai";
import { Answer } from "@/components/answer";
const openai = new OpenAI({ baseURL: process.env.OLLAMA_BASE_URL, apiKey: "unused" });
type Props = { summary: string; tokens: number; heading: string };
export async function getServerSideProps() {
  const r = await openai.chat.completions.create({ model: "llama3.1", messages: [{ role: "user", content: "hi" }] });
  return { props: { summary: r.choices[0].message.content, tokens: r.usage.total_tokens, heading: "Today" } };
}
export default function Page({ summary, tokens, heading }: Props) {
  console.log("tokens used", tokens);
  console.log("heading", heading);
  console.log("summary", summary);
  return (
    <main>
      <h1 dangerouslySetInnerHTML={{ __html: heading }} />
      <p suppressHydrationWarning>{tokens}</p>
      <div dangerouslySetInnerHTML={{ __html: summary }} />
      <Answer html={summary} note={heading} />
    </main>
  );
}
"""
ANSWER = """export function Answer({ html, note }: { html: string; note: string }) {
  return (
    <section>
      <aside dangerouslySetInnerHTML={{ __html: note }} />
      <article dangerouslySetInnerHTML={{ __html: html }} />
    </section>
  );
}
"""
# `getStaticProps` as a typed const, the props spread from an object built from the answer, the page a typed
# const exported through a wrapper; `revalidate` next to the props carries nothing.
STATIC_PAGE = """import type { GetStaticProps, NextPage } from "next";
import { summarise } from "@/lib/llm";
import { withLayout } from "@/components/layout";
type Props = { summary: string; model: string; title: string };
export const getStaticProps: GetStaticProps<Props> = async () => {
  const data = { summary: await summarise("new arrivals"), model: "llama3.1", title: "New" };
  return { props: { ...data }, revalidate: 60 };
};
const Page: NextPage<Props> = ({ summary, model, title }) => {
  console.info("rendering", model, title);
  return <div title={title} dangerouslySetInnerHTML={{ __html: summary }} />;
};
export default withLayout(Page);
"""
LAYOUT = """export function withLayout<P extends object>(Inner: (p: P) => JSX.Element) {
  return function Framed(props: P) {
    return <div className="frame"><Inner {...props} /></div>;
  };
}
"""


def test_server_side_props_carrying_llm_data_are_llm_data_in_the_page(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {"pages/summary.tsx": SSR_PAGE, "components/answer.tsx": ANSWER},
    )
    rel = "pages/summary.tsx"
    # `tokens` (usage metadata) and `heading` (a literal) are not LLM data, in the page or in `Answer`.
    assert _found(app) == sorted(
        [
            _at(app, "LL007", rel, 'console.log("summary"'),
            _at(app, "LL010", rel, "__html: summary"),
            _at(app, "LL010", "components/answer.tsx", "__html: html"),
        ]
    )


def test_static_props_spread_from_llm_data_reach_a_const_page_behind_a_wrapper(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {"src/pages/new.tsx": STATIC_PAGE, "lib/llm.ts": OPENAI_LIB, "components/layout.tsx": LAYOUT},
    )
    # `model` and `title` are spread from the same object: only `summary` carries LLM data.
    assert _found(app) == [_at(app, "LL010", "src/pages/new.tsx", "__html: summary")]


# ---- data functions elsewhere: re-exported, helpers returning the props object, getInitialProps -------------------

REEXPORT_PAGE = """export { getServerSideProps } from "@/lib/ssr";
export default function Faq(props: { summary: string; generatedAt: number }) {
  console.log("faq at", props.generatedAt);
  console.log("faq", props.summary);
  return <div dangerouslySetInnerHTML={{ __html: props.summary }} />;
}
"""
SSR_LIB = """import { loadSummaryProps } from "./llm";
export async function getServerSideProps() {
  return loadSummaryProps();
}
"""
HELPER_PAGE = """import { memo } from "react";
import { loadSummaryProps } from "@/lib/llm";
export async function getServerSideProps() {
  return await loadSummaryProps();
}
function Digest({ summary, generatedAt }: { summary: string; generatedAt: number }) {
  console.log("digest", generatedAt);
  return <p dangerouslySetInnerHTML={{ __html: summary }} />;
}
export default memo(Digest);
"""
INITIAL_PAGE = """import { summarise } from "@/lib/llm";
function Brief({ summary, label }: { summary: string; label: string }) {
  console.warn("brief", summary);
  return <div aria-label={label} dangerouslySetInnerHTML={{ __html: summary }} />;
}
Brief.getInitialProps = async () => ({ summary: await summarise("brief"), label: "Brief" });
export default Brief;
"""

# Props whose keys cannot be told (the parsed body of an LLM endpoint's response): every prop but metadata.
OPAQUE_PAGE = """export async function getServerSideProps() {
  const res = await fetch(process.env.OLLAMA_URL + "/api/generate", { method: "POST", body: "{}" });
  const data = await res.json();
  return { props: data };
}
export default function Raw({ response, eval_count }: { response: string; eval_count: number }) {
  console.log("raw stats", eval_count);
  return <pre dangerouslySetInnerHTML={{ __html: response }} />;
}
"""

ALIAS_PAGE = """import { loadSummaryProps } from "@/lib/llm";
export const getServerSideProps = loadSummaryProps;
export default function Alias({ summary }: { summary: string }) {
  return <div dangerouslySetInnerHTML={{ __html: summary }} />;
}
"""

SESSION_PAGE = """import { withSession } from "@/lib/session";
import { summarise } from "@/lib/llm";
export const getServerSideProps = withSession(async () => {
  const summary = await summarise("account");
  return { props: { summary } };
});
export default function Account({ summary }: { summary: string }) {
  return <div dangerouslySetInnerHTML={{ __html: summary }} />;
}
"""
SESSION = """export function withSession<T>(handler: T): T {
  return handler;
}
"""
NOTES_PAGE = """import { summarise } from "@/lib/llm";
async function loadNotes() {
  return { notes: await summarise("notes") };
}
const Notes = ({ notes }: { notes: string }) => <div dangerouslySetInnerHTML={{ __html: notes }} />;
Notes.getInitialProps = loadNotes;
export default Notes;
"""


def test_props_from_re_exported_and_helper_data_functions_and_get_initial_props(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {
            "lib/llm.ts": OPENAI_LIB,
            "lib/ssr.ts": SSR_LIB,
            "pages/faq.tsx": REEXPORT_PAGE,
            "pages/digest.tsx": HELPER_PAGE,
            "pages/brief.tsx": INITIAL_PAGE,
            "pages/raw.tsx": OPAQUE_PAGE,
            "pages/alias.tsx": ALIAS_PAGE,
            "lib/session.ts": SESSION,
            "pages/account.tsx": SESSION_PAGE,
            "pages/notes.tsx": NOTES_PAGE,
        },
    )
    # `pages/faq.tsx` calls no model and imports nothing but the module it re-exports its data function from.
    assert _found(app) == sorted(
        [
            _at(app, "LL007", "pages/faq.tsx", 'console.log("faq",'),
            _at(app, "LL010", "pages/faq.tsx", "__html: props.summary"),
            _at(app, "LL010", "pages/digest.tsx", "__html: summary"),
            _at(app, "LL007", "pages/brief.tsx", 'console.warn("brief"'),
            _at(app, "LL010", "pages/brief.tsx", "__html: summary"),
            _at(app, "LL010", "pages/raw.tsx", "__html: response"),
            _at(app, "LL010", "pages/alias.tsx", "__html: summary"),
            _at(app, "LL010", "pages/account.tsx", "__html: summary"),
            _at(app, "LL010", "pages/notes.tsx", "__html: notes"),
        ]
    )


# ---- look-alikes ---------------------------------------------------------------------------------------------------

METADATA_PAGE = """import OpenAI from "openai";
const openai = new OpenAI({ baseURL: process.env.OLLAMA_BASE_URL, apiKey: "unused" });
export async function getServerSideProps() {
  const r = await openai.chat.completions.create({ model: "llama3.1", messages: [{ role: "user", content: "hi" }] });
  return { props: { tokens: r.usage.total_tokens, model: r.model, banner: "<b>Sale</b>" } };
}
export default function Usage({ tokens, model, banner }: { tokens: number; model: string; banner: string }) {
  console.log("usage", tokens, model);
  return <div data-model={model} dangerouslySetInnerHTML={{ __html: banner }} />;
}
"""
SANITIZED_PAGE = """import DOMPurify from "isomorphic-dompurify";
import { summarise } from "@/lib/llm";
export async function getServerSideProps() {
  return { props: { summary: await summarise("sale") } };
}
export default function Sale({ summary }: { summary: string }) {
  return <div dangerouslySetInnerHTML={{ __html: DOMPurify.sanitize(summary) }} />;
}
"""
SANITIZED_AT_SOURCE_PAGE = """import DOMPurify from "isomorphic-dompurify";
import { summarise } from "@/lib/llm";
export const getStaticProps = async () => ({ props: { summary: DOMPurify.sanitize(await summarise("x")) } });
export default function Clean({ summary }: { summary: string }) {
  return <div dangerouslySetInnerHTML={{ __html: summary }} />;
}
"""
# Redirects and 404s carry no props, whatever their destination is built from.
REDIRECT_PAGE = """import { summarise } from "@/lib/llm";
export async function getServerSideProps() {
  const slug = await summarise("pick a slug");
  if (!slug) return { notFound: true };
  return { redirect: { destination: "/p/" + slug, permanent: false } };
}
export default function Go({ summary }: { summary: string }) {
  console.log("go", summary);
  return <div dangerouslySetInnerHTML={{ __html: summary }} />;
}
"""
STATS_PAGE = """import { loadStats } from "@/lib/llm";
export const getStaticProps = loadStats;
export async function getServerSideProps() {
  return loadStats();
}
export default function Stats({ title }: { title: string }) {
  return <h1 dangerouslySetInnerHTML={{ __html: title }} />;
}
"""
# The same shape outside the Pages Router: Next.js never calls these, nothing passes the props.
NOT_A_PAGE = """import { summarise } from "@/lib/llm";
export async function getServerSideProps() {
  return { props: { summary: await summarise("x") } };
}
export default function Widget({ summary }: { summary: string }) {
  console.log("widget", summary);
  return <div dangerouslySetInnerHTML={{ __html: summary }} />;
}
"""


def test_pages_whose_props_carry_no_unsanitized_llm_data_and_non_pages_are_not_reported(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {
            "lib/llm.ts": OPENAI_LIB,
            "pages/usage.tsx": METADATA_PAGE,
            "pages/sale.tsx": SANITIZED_PAGE,
            "pages/clean.tsx": SANITIZED_AT_SOURCE_PAGE,
            "pages/go.tsx": REDIRECT_PAGE,
            "pages/stats.tsx": STATS_PAGE,
            "pages/_app.tsx": NOT_A_PAGE,
            "pages/api/widget.tsx": NOT_A_PAGE,
            "lib/x.tsx": NOT_A_PAGE,
            "components/pages/widget.tsx": NOT_A_PAGE,
            "app/report/page.tsx": NOT_A_PAGE,
        },
    )
    assert _found(app) == []


# ---- services reached through a parameter typed with their class ----------------------------------------------------

SERVICES = """import OpenAI from "openai";
const openai = new OpenAI({ baseURL: process.env.VLLM_BASE_URL, apiKey: "unused" });
export class AiService {
  async ask(question: string): Promise<string> {
    const r = await openai.chat.completions.create({ model: "m", messages: [{ role: "user", content: question }] });
    return r.choices[0].message.content ?? "";
  }
}
export class FaqService {
  async ask(question: string): Promise<string> {
    return question === "hours" ? "9 to 5" : "see our FAQ";
  }
}
"""
HANDLERS = """import type { AiService, FaqService } from "@/lib/services";
export async function handle(svc: AiService, q: string) {
  const a = await svc.ask(q);
  console.log("answer", a);
  return a;
}
export const handleLater = async (svc?: AiService) => {
  const later = await svc?.ask("later");
  console.log("later", later);
};
export class Controller {
  async run(ai: AiService, faq: FaqService) {
    console.log("faq", await faq.ask("hours"));
    console.log("run", await ai.ask("run"));
  }
}
export async function lookalike(svc: FaqService, q: string) {
  const a = await svc.ask(q);
  console.log("faq answer", a);
  return a;
}
export async function shadowed(svc: AiService) {
  const inner = (svc: FaqService) => svc.ask("x");
  console.log("inner", await inner(svc as unknown as FaqService));
}
"""

# ollama-js's client class is a class too: a parameter typed with it makes `client.chat()` a model call.
LOCAL = """import { Ollama } from "ollama";
class Room {
  async chat(req: { model: string; messages: { role: string; content: string }[] }) {
    return { message: { content: `${req.messages.length} people here` } };
  }
}
export async function local(client: Ollama, room: Room) {
  const r = await client.chat({ model: "llama3.1", messages: [{ role: "user", content: "hi" }] });
  console.log("local", r.message.content);
  const here = await room.chat({ model: "lobby", messages: [] });
  console.log("room", here.message.content);
}
"""


def test_services_reached_through_a_parameter_typed_with_their_class(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {"lib/services.ts": SERVICES, "lib/handlers.ts": HANDLERS, "lib/local.ts": LOCAL},
        package={"dependencies": {"next": "15.2.4", "openai": "4.77.0", "ollama": "0.5.15"}},
    )
    rel = "lib/handlers.ts"
    # `FaqService.ask` has the same name and calls no model; the inner `svc` is a FaqService, not the outer one;
    # `Room.chat` is no ollama client's.
    assert _found(app) == sorted(
        [
            _at(app, "LL007", rel, 'console.log("answer"'),
            _at(app, "LL007", rel, 'console.log("later"'),
            _at(app, "LL007", rel, 'console.log("run"'),
            _at(app, "LL007", "lib/local.ts", 'console.log("local"'),
        ]
    )
