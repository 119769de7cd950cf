"""The byte-level prefilters that let LL007/LL008 skip files unparsed: exact verdicts, and soundness
against the full LLM-data analysis on every fixture app (no file the prefilter drops holds LLM data)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from leakline.config import Settings
from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.engine import build_index
from leakline.scan.index import import_specs
from leakline.scan.prefilter import calls_model_maybe, names_sensitive_field_maybe
from leakline.scan.walker import WalkStats, discover_apps
from tests.scan.apps import write_app

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize(
    "source",
    [
        'const c = await client.chat.completions.create({ model: "m", messages });',
        "const r = await openai.responses.create({ input });",
        "const { text } = await generateText({ model, prompt });",
        "const { messages } = useChat();",
        "const out = await myOllama.chat({ model: 'llama3' });",
        "const res = await fetch(process.env.OLLAMA_BASE_URL + '/x', { method: 'POST' });",
        "const res = await fetch(`${base}/v1/chat/completions`, { method: 'POST' });",
        'const res = await fetch("/api/assistant", { method: "POST" });',
        "const res = await axios.post(llmUrl, body);",
        "const data = await $fetch('/api/assistant');",
        # the Assistants API, openai-edge / openai v3, LangChain models and the LangGraph SDK
        "const list = await openai.beta.threads.messages.list(thread.id);",
        "const res = await openai.createChatCompletion({ model: 'm', messages });",
        "const res = await api.createCompletion({ model: 'm', prompt });",
        "import { ChatOpenAI } from '@langchain/openai';",
        "import { Client } from '@langchain/langgraph-sdk';",
        "const stream = OpenAIStream(res, { onCompletion });",
    ],
)
def test_files_that_may_call_a_model(source: str) -> None:
    assert calls_model_maybe(source.encode()) is True


@pytest.mark.parametrize(
    "source",
    [
        # an HTTP client aimed at a non-LLM service, built from a non-LLM env var
        "const res = await fetch(`${process.env.INVENTORY_URL}/stock?skus=${skus}`);",
        # a protocol-relative URL is not the app's own route
        'const res = await fetch("//cdn.example.com/x.json");',
        # LLM-ish words without any HTTP client or model call
        "const OLLAMA_DOCS = 'https://ollama.invalid';".replace("ollama", "olama").replace("OLLAMA", "OLAMA"),
        # names that only contain a client's name
        'export function fetchUser(id: string) { return db.get("/users/" + id); }',
        "const sky = 'forgot'; const x = `/api/chat`;",
        "router.prefetch('/checkout');",
    ],
)
def test_files_that_cannot_call_a_model(source: str) -> None:
    assert calls_model_maybe(source.encode()) is False


def test_import_specs_cover_every_import_form() -> None:
    source = b"""import a from "./a";
import "./side-effect";
import type { T } from '@/types';
export { b } from "../b";
export * from './c';
const d = await import("./d");
"""
    assert import_specs(source) == ["./a", "./side-effect", "@/types", "../b", "./c", "./d"]


def test_sensitive_names_need_a_whole_name_not_a_substring() -> None:
    assert names_sensitive_field_maybe(b"console.log(order.cardNumber)") is True
    assert names_sensitive_field_maybe(b'log({ "e-mail": x })') is True
    assert names_sensitive_field_maybe(b"<ProductCard /><span>expand company</span>") is False
    # the field word last in a longer name; a name about the field (flag, template, id) is not one
    assert names_sensitive_field_maybe(b"log({ cartId, customerEmail })") is True
    assert names_sensitive_field_maybe(b"log({ cartId, receipt_email })") is True
    assert names_sensitive_field_maybe(b"log({ emailSent, hasPhone, addressValidated, addressId })") is False
    # a name the analysis reads out of a longer run of name characters: `total-customerEmail`, `x.#email`
    assert names_sensitive_field_maybe(b"const d = total-customerEmail;") is True
    assert names_sensitive_field_maybe(b"log(this.#email)") is True


_NAME_PIECES = [
    "email", "Email", "EMAIL", "e", "mail", "phone", "Phone", "Number", "number", "address", "Address", "es", "s",
    "card", "Card", "iban", "IBAN", "customer", "Customer", "billing", "has", "is", "ip", "support", "Sent", "Id",
    "Line1", "date", "Of", "Birth", "cvv2", "$", "_", "-", "i", "x", "2",
]  # fmt: skip
_SEPARATORS = [" ", ".", "-", "#", "/", ":", "é"]


def _name_as_read(rng: random.Random) -> str:
    return "".join(rng.choice(_NAME_PIECES) for _ in range(rng.randint(1, 4)))


def test_the_sensitive_names_prefilter_keeps_every_name_the_analysis_would_accept() -> None:
    """Soundness of `names_sensitive_field_maybe`: a text containing a name (an identifier, a property, an
    object key as written between quotes, with spaces, dots or hyphens) that `is_sensitive_name` accepts is
    kept, wherever the name stands (between other names, after `-` or `#`)."""
    from leakline.scan.sensitive import is_sensitive_name

    rng = random.Random(20261127)
    accepted = 0
    for _ in range(20_000):
        name = _name_as_read(rng)
        if rng.random() < 0.3:  # an object key: several parts
            name += rng.choice(_SEPARATORS) + _name_as_read(rng)
        before = rng.choice(["log(", "x-", "#", "{ ", "'", '"', "a.", ""])
        after = rng.choice([")", "-y", " }", "'", '"', ".b", ""])
        if not is_sensitive_name(name):
            continue
        accepted += 1
        assert names_sensitive_field_maybe(f"{before}{name}{after}".encode()), (before, name, after)
    assert accepted > 2_000


def test_files_the_sensitive_names_prefilter_drops_name_no_sensitive_field() -> None:
    """Soundness on every fixture app: in a file the prefilter drops, no identifier, property, object key or
    declared property is a sensitive name; and the prefilter does keep files that have one."""
    from leakline.scan.sensitive import is_sensitive_name

    kinds = ("identifier", "property_identifier", "shorthand_property_identifier", "private_property_identifier")
    kinds += ("shorthand_property_identifier_pattern", "string")
    dropped = kept = 0
    for app in _fixture_apps():
        index = build_index(app, Settings(), WalkStats(), set())
        for f in index.sources:
            if f.root is None or f.language is None:
                continue
            if names_sensitive_field_maybe(f.data()):
                kept += 1
                continue
            dropped += 1
            for node in ts.nodes_of_types(f.language, kinds, f.root):
                name = ts.text(node).strip("\"'")
                assert not is_sensitive_name(name), (app, f.rel, node.start_point)
    assert dropped > 50 and kept > 10


def test_candidates_are_model_callers_and_everything_importing_them(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {
            "lib/ai.ts": 'import OpenAI from "openai";\nconst c = new OpenAI();\n'
            "export const ask = (q: string) => c.chat.completions.create({ model: 'm', messages: [] });\n",
            "lib/wrap.ts": 'import { ask } from "@/lib/ai";\nexport const wrapped = ask;\n',
            "app/page.tsx": 'import { wrapped } from "../lib/wrap";\nexport default function P() { return null; }\n',
            "lib/price.ts": "export const price = (c: number) => c / 100;\n",
            "app/shop/page.tsx": 'import { price } from "@/lib/price";\nexport default () => price(1);\n',
        },
    )
    index = build_index(app, Settings(), WalkStats(), set())
    assert index.llm_candidates == frozenset({"lib/ai.ts", "lib/wrap.ts", "app/page.tsx"})
    assert not any("tree" in f.__dict__ for f in index.sources), "deciding candidates must not parse"


def _fixture_apps() -> list[Path]:
    roots = [FIXTURES / "rules", EXAMPLES]
    apps: list[Path] = []
    for root in roots:
        apps.extend(discover_apps(root))
    return sorted(set(apps))


def test_no_file_the_prefilter_drops_holds_llm_data() -> None:
    """Soundness: in every fixture app, each expression of a dropped file evaluates clean under the analysis."""
    checked = 0
    kept_with_llm_data = 0
    for app in _fixture_apps():
        index = build_index(app, Settings(), WalkStats(), set())
        ctx = ScanContext(index)
        for f in index.sources:
            if f.root is None or f.language is None:
                continue
            llm = ctx.llm.file(f)
            assert llm is not None
            kept = f.rel in index.llm_candidates
            for node in ts.nodes_of_types(f.language, ("call_expression", "return_statement"), f.root):
                for child in node.named_children:
                    for arg in child.named_children if child.type == "arguments" else [child]:
                        if kept:
                            kept_with_llm_data += llm.is_llm(arg)
                            continue
                        assert not llm.is_llm(arg), (app, f.rel, arg.start_point)
                        checked += 1
    # Both sides are populated: hundreds of expressions in dropped files, and the same check does see
    # LLM data in the files that were kept.
    assert checked > 300
    assert kept_with_llm_data > 200


def test_solver_rejudges_statements_skipped_before_their_name_became_llm_data(tmp_path: Path) -> None:
    """The solver skips statements that mention no LLM-data name yet; one that calls a function found to
    return LLM data only further down the file must still be judged once that function is known."""
    from leakline.scan.engine import scan

    app = write_app(
        tmp_path,
        {
            "app/api/a/route.ts": """import OpenAI from "openai";
const client = new OpenAI();
export async function POST() {
  const answer = await summarise();
  const copy = answer;
  console.log("answer", copy);
  return Response.json({ ok: true });
}
async function summarise() {
  const c = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] });
  return c.choices[0].message.content ?? "";
}
""",
        },
    )
    result = scan(app, rule_ids=["LL007"], jobs=1)
    assert [(f.rule, f.path, f.line) for f in result.findings] == [("LL007", "app/api/a/route.ts", 6)]


def test_nodes_in_equals_a_query_over_the_subtree() -> None:
    """`SourceFile.nodes_in` reads the shared per-file index; it must return exactly what a query over
    the subtree returns, for every function body and statement block of every fixture file."""
    kinds = [
        ("call_expression", "new_expression", "return_statement"),
        ("variable_declarator", "assignment_expression"),
        tuple(sorted({"function_declaration", "arrow_function", "function_expression", "method_definition"})),
    ]
    compared = 0
    for app in _fixture_apps():
        index = build_index(app, Settings(), WalkStats(), set())
        for f in index.sources:
            if f.root is None or f.language is None:
                continue
            scopes = [f.root, *ts.nodes_of_types(f.language, ("statement_block", "arrow_function"), f.root)]
            for scope in scopes:
                for types in kinds:
                    expected = ts.nodes_of_types(f.language, types, scope)
                    assert [n.id for n in f.nodes_in(scope, *types)] == [n.id for n in expected], (f.rel, scope)
                    compared += 1
    assert compared > 1000


def test_the_hyperscan_pass_agrees_with_the_python_tests() -> None:
    from leakline.scan import prefilter

    scanner = prefilter._literal_scanner()
    if scanner is None:
        pytest.skip("hyperscan is not installed")
    texts = [path.read_bytes() for root in (FIXTURES, EXAMPLES) for path in root.rglob("*.[jt]s*") if path.is_file()]
    texts += [
        b"const r = await fetch('/api/chat')",
        b"fetch(x) // OLLAMA",
        b"const ollamaUrl = 1",
        b"prefetch('/x')",
        b"const y = `/`",
        b"import x from './y'; x.fetch(u)",
        b"$fetch('/a')",
    ]
    decided = [scanner.decide(text) for text in texts]
    assert decided == [prefilter.calls_model_maybe_python(text) for text in texts]
    assert 50 < sum(decided) < len(decided)


def _calls_model_with_every_needle(data: bytes) -> bool:
    """`calls_model_maybe_python` as written before its needle lists were pruned: every word searched."""
    from leakline.scan import prefilter as p

    if any(word in data for word in (*p._OPENAI_WORDS, *p._SDK_NAMES, *p._CLIENT_WORDS)):
        return True
    if b"ollama" in data.lower():
        return True
    if not any(p._has_word(data, word) for word in p._HTTP_CLIENT_WORDS):
        return False
    if any(path in data for path in p._URL_PATHS) or p._has_own_path(data):
        return True
    upper = data.upper()
    return any(marker in upper for marker in p._ENV_MARKERS)


def test_the_pruned_needle_lists_decide_as_the_full_ones() -> None:
    """Needles holding another needle (searched in the same pass or before) are not searched for; texts made of
    every needle, pieces of them and case changes get the same verdict as with all of them searched."""
    import random

    from leakline.scan import prefilter as p

    assert len(p._DECIDING_WORDS) < len(p._OPENAI_WORDS) + len(p._SDK_NAMES) + len(p._CLIENT_WORDS)
    assert len(p._URL_PATHS_LEFT) < len(p._URL_PATHS) and len(p._ENV_MARKERS_LEFT) < len(p._ENV_MARKERS)
    needles = [*p._OPENAI_WORDS, *p._SDK_NAMES, *p._CLIENT_WORDS, *p._URL_PATHS, *p._ENV_MARKERS, *p._HTTP_CLIENT_WORDS, b"ollama"]
    pieces = [*needles, *(n[: len(n) // 2] for n in needles), *(n[len(n) // 2 :] for n in needles)]
    pieces += [b" ", b".", b"'/", b"`/x`", b"$", b"_", b"(", b"\n"]
    rng = random.Random(20261126)
    verdicts = []
    for _ in range(20_000):
        text = b"".join(rng.choice(pieces) for _ in range(rng.randint(0, 6)))
        text = bytes(c ^ 0x20 if 65 <= c & ~0x20 <= 90 and rng.random() < 0.2 else c for c in text)
        verdicts.append(p.calls_model_maybe_python(text))
        assert verdicts[-1] == _calls_model_with_every_needle(text), text
    assert 1_000 < sum(verdicts) < 19_000
