"""The LLM-data analysis looks only at what can matter: the returns of functions the solver never asks about are
not walked, calls of names no function or project import has are not read, and what they decide is unchanged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from leakline.configfile import load_scan_settings
from leakline.scan.context import ScanContext
from leakline.scan.engine import build_index, scan
from leakline.scan.walker import WalkStats

ROUTE = """import OpenAI from "openai";
import { shout } from "@/lib/shout";
const client = new OpenAI();

export function formatPrice(cents: number) {
  const value = (cents / 100).toFixed(2);
  return value;
}

function answerOf(completion: any) {
  const pick = (choice: any) => {
    return choice.message.content;
  };
  return pick(completion.choices[0]);
}

export async function POST(req: Request) {
  const { question } = await req.json();
  const completion = await client.chat.completions.create({
    model: "m",
    messages: [{ role: "user", content: shout(question) }],
  });
  console.log(formatPrice(3));
  console.log(answerOf(completion));
  return Response.json({ ok: true });
}
"""
SHOUT = "export function shout(s: string) {\n  return s.toUpperCase();\n}\n"


def _app(make_app: Callable[..., Path]) -> Path:
    return make_app(
        {
            "app/api/x/route.ts": ROUTE,
            "lib/shout.ts": SHOUT,
            "tsconfig.json": '{"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["./*"]}}}',
        }
    )


def test_only_asked_functions_have_their_returns_read(make_app: Callable[..., Path]) -> None:
    app = _app(make_app)
    index = build_index(app, load_scan_settings(app / "leakline.toml"), WalkStats(), set())
    ctx = ScanContext(index)
    f = index.files["app/api/x/route.ts"]
    llm = ctx.llm.file(f)
    assert llm is not None
    calls = {(c.text or b"").decode().split("(", 1)[0]: c for c in f.nodes("call_expression")}
    assert llm.is_llm(calls["answerOf"])
    assert not llm.is_llm(calls["formatPrice"])
    functions = {name: nodes[0] for name, nodes in llm._functions.items()}
    asked = llm.__dict__["_returned_cache"]
    # `pick`'s return is its own, not `answerOf`'s; formatPrice mentions nothing the solver follows.
    assert [(v.text or b"").decode() for v in asked[functions["answerOf"].id]] == ["pick(completion.choices[0])"]
    assert functions["formatPrice"].id not in asked
    # Calls of names that are neither a function here nor a project import are decided from the index alone.
    assert "shout" in llm._wrapper_names and "toFixed" not in llm._wrapper_names
    assert llm._wrapper_names == frozenset({"formatPrice", "answerOf", "pick", "POST", "shout"})


def test_findings_of_the_route(make_app: Callable[..., Path]) -> None:
    app = _app(make_app)
    found = [(f.rule, f.path, f.line) for f in scan(app, rule_ids=["LL007"], jobs=1).findings]
    assert found == [("LL007", "app/api/x/route.ts", 24)]


def test_released_analyses_are_freed_without_the_cyclic_collector(make_app: Callable[..., Path]) -> None:
    import gc
    import weakref

    app = _app(make_app)
    index = build_index(app, load_scan_settings(app / "leakline.toml"), WalkStats(), set())
    ctx = ScanContext(index)
    llm = ctx.llm.file(index.files["app/api/x/route.ts"])
    assert llm is not None
    module = weakref.ref(llm)
    analysis = weakref.ref(ctx.llm)
    del llm
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        ctx.release()
        assert module() is None
        assert analysis() is None
        assert "llm" not in ctx.__dict__
    finally:
        if was_enabled:
            gc.enable()


def test_call_last_names_of_every_callee_shape(make_app: Callable[..., Path]) -> None:
    source = (
        "ask(q);\nclient.chat.completions.create(x);\n(await getClient()).send(y);\nobj?.run(z);\n"
        "handlers[name](w);\n(fn as any)(v);\nnew Foo().bar();\nthis.#secret();\n"
    )
    app = make_app({"lib/calls.ts": source})
    index = build_index(app, load_scan_settings(app / "leakline.toml"), WalkStats(), set())
    f = index.files["lib/calls.ts"]
    names = f.call_last_names
    got = [((c.text or b"").decode(), names[c.id]) for c in f.nodes("call_expression")]
    assert got == [
        ("ask(q)", "ask"),
        ("client.chat.completions.create(x)", "create"),
        ("(await getClient()).send(y)", "send"),
        ("getClient()", "getClient"),
        ("obj?.run(z)", "run"),
        ("handlers[name](w)", None),
        ("(fn as any)(v)", "fn"),
        ("new Foo().bar()", "bar"),
        ("this.#secret()", "#secret"),
    ]
