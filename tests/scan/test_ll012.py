"""LL012 edge cases beyond the fixture pair: the error-detail carrier on single expressions (property
based), inline server actions, promise rejections, AI SDK UI stream error text, and error-boundary props."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.scan import parse as ts
from leakline.scan.engine import scan
from leakline.scan.rules.ll012 import SAFE_PROPS, carrier
from tests.scan.apps import write_app

PACKAGE = {"name": "t", "private": True, "dependencies": {"next": "15.2.4", "ai": "5.0.0"}}
ERROR = frozenset({"e"})
DETAIL_PROPS = ("message", "stack", "cause", "response", "data")


def _expression(source: str) -> ts.Node:
    tree = ts.parse(f"({source});".encode(), ts.language_for(".ts"))  # type: ignore[arg-type]
    statement = tree.root_node.named_children[0]
    return statement.named_children[0]


@settings(max_examples=40, deadline=None)
@given(
    prop=st.sampled_from(DETAIL_PROPS),
    wrap=st.sampled_from(["X", "{ error: X }", "`failed: ${X}`", "String(X)", "X ?? 'x'", "[X]"]),
)
def test_details_of_the_error_are_carried_through_every_wrapper(prop: str, wrap: str) -> None:
    expr = _expression(wrap.replace("X", f"e.{prop}"))
    found = carrier(expr, ERROR)
    assert found is not None
    assert ts.text(found) in (f"e.{prop}", f"String(e.{prop})")


@settings(max_examples=40, deadline=None)
@given(
    prop=st.sampled_from(sorted(SAFE_PROPS)),
    wrap=st.sampled_from(["X", "{ error: X }", "`code ${X}`", "String(X)"]),
)
def test_identifying_properties_of_the_error_are_not_details(prop: str, wrap: str) -> None:
    assert carrier(_expression(wrap.replace("X", f"e.{prop}")), ERROR) is None


def test_operators_that_keep_no_content_are_not_details() -> None:
    for source in ("e instanceof Error", "e === null", "typeof e", "!e", "'generic' + 1", "other.message"):
        assert carrier(_expression(source), ERROR) is None, source


def _app(tmp_path: Path, files: dict[str, str]) -> Path:
    return write_app(tmp_path, files, package=PACKAGE)


def _found(app: Path) -> set[tuple[str, int]]:
    result = scan(app, rule_ids=["LL012"])
    assert result.stats.rule_errors == []
    return {(f.path, f.line) for f in result.findings if f.rule == "LL012"}


def _line(app: Path, rel: str, needle: str) -> tuple[str, int]:
    lines = (app / rel).read_text().splitlines()
    matches = [n for n, text in enumerate(lines, start=1) if needle in text]
    assert len(matches) == 1, (rel, needle, matches)
    return rel, matches[0]


INLINE_ACTION = """export default function Page() {
  async function subscribe(form: FormData) {
    "use server";
    try {
      await save(form);
    } catch (err) {
      const why = (err as Error).stack;
      return { error: why };
    }
  }
  async function helper() {
    try {
      await save(null);
    } catch (err) {
      return { error: (err as Error).message };
    }
  }
  return <form action={subscribe} />;
}
declare function save(x: unknown): Promise<void>;
"""


def test_inline_server_action_returns_are_sinks_but_plain_helpers_are_not(tmp_path: Path) -> None:
    app = _app(tmp_path, {"app/newsletter/form.tsx": INLINE_ACTION})
    assert _found(app) == {_line(app, "app/newsletter/form.tsx", "return { error: why }")}


ROUTE = """import { streamText, createUIMessageStream, createUIMessageStreamResponse } from "ai";
export async function POST(req: Request) {
  const result = streamText({ model: m, prompt: "x", onError: ({ error }) => console.error(error) });
  return result.toUIMessageStreamResponse({
    onError: (error) => {
      if (error == null) return "unknown";
      return `Model failed: ${String(error)}`;
    },
  });
}
export async function GET() {
  return fetch("http://127.0.0.1:11434/api/tags").then(
    (r) => r,
    (reason) => Response.json({ detail: reason.message }),
  );
}
export async function PUT() {
  const stream = createUIMessageStream({ execute: () => {}, onError: () => "Something went wrong" });
  return createUIMessageStreamResponse({ stream });
}
declare const m: never;
"""


def test_ui_stream_on_error_and_promise_rejection_handlers(tmp_path: Path) -> None:
    app = _app(tmp_path, {"app/api/chat/route.ts": ROUTE})
    rel = "app/api/chat/route.ts"
    assert _found(app) == {_line(app, rel, "Model failed"), _line(app, rel, "reason.message")}


BOUNDARY = """"use client";
export default function Error({ error: failure }: { error: Error & { digest?: string } }) {
  const lines = failure.stack?.split("\\n") ?? [];
  return (
    <ul data-digest={failure.digest}>
      {lines.map((line) => <li key={line}>{line}</li>)}
      <li key={failure.name}>{failure.name}</li>
    </ul>
  );
}
"""


def test_error_boundary_with_renamed_error_prop_and_derived_lines(tmp_path: Path) -> None:
    app = _app(tmp_path, {"app/shop/error.tsx": BOUNDARY})
    assert _found(app) == {_line(app, "app/shop/error.tsx", "lines.map")}


def test_same_code_outside_an_error_boundary_is_not_a_boundary_finding(tmp_path: Path) -> None:
    app = _app(tmp_path, {"app/shop/error-panel.tsx": BOUNDARY})
    assert _found(app) == set()


def test_modules_with_a_catch_but_no_way_to_the_client_are_not_parsed(tmp_path: Path) -> None:
    from leakline.config import Settings
    from leakline.scan.context import ScanContext
    from leakline.scan.engine import build_index
    from leakline.scan.rules import load_rule
    from leakline.scan.walker import WalkStats

    lib = """export async function stock(sku: string) {
  try {
    const res = await fetch(`http://127.0.0.1:9000/stock/${sku}`);
    return await res.json();
  } catch (err) {
    return { error: (err as Error).message };
  }
}
"""
    app = _app(tmp_path, {"lib/stock.ts": lib, "pages/api/stock.ts": lib.replace("stock(sku", "handler(sku")})
    index = build_index(app, Settings(), WalkStats(), set())
    assert list(load_rule("LL012").check(ScanContext(index))) == []
    assert "tree" not in index.files["lib/stock.ts"].__dict__
    assert "tree" in index.files["pages/api/stock.ts"].__dict__


def test_deeply_nested_generated_expressions_do_not_raise() -> None:
    deep = "(" * 400 + "e.message" + ")" * 400
    nested_objects = "{ a: " * 400 + "e.message" + " }" * 400
    assert carrier(_expression(nested_objects), ERROR) is None  # beyond MAX_NESTING: given up, no RecursionError
    found = carrier(_expression(deep), ERROR)  # parentheses are unwrapped, not nested calls
    assert found is not None and ts.text(found) == "e.message"


CHAIN_ROUTE = """import { NextResponse } from "next/server";
import { errorBody, retryBody } from "@/lib/body";
export async function POST() {
  try {
    return NextResponse.json({ ok: await run() });
  } catch (e) {
    return NextResponse.json(errorBody(e), { status: 500 });
  }
}
export async function PUT() {
  try {
    return NextResponse.json({ ok: await run() });
  } catch (e) {
    return NextResponse.json(retryBody(e), { status: 500 });
  }
}
declare function run(): Promise<string>;
"""
CHAIN_BODY = """import { messageOf } from "@/lib/message";
export function errorBody(error: unknown) {
  return { error: wrap(error), retry: true };
}
function wrap(error: unknown) {
  return `failed: ${messageOf(error)}`;
}
// Recursive, and only ever returns a count: nothing to report, and the analysis must end.
export function retryBody(error: unknown, again = true): { retries: number } {
  return again ? retryBody(error, false) : { retries: 1 };
}
"""
CHAIN_MESSAGE = """export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
"""


def test_error_details_are_followed_through_helpers_of_helpers_and_recursion_ends(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {"app/api/a/route.ts": CHAIN_ROUTE, "lib/body.ts": CHAIN_BODY, "lib/message.ts": CHAIN_MESSAGE},
    )
    assert _found(app) == {_line(app, "app/api/a/route.ts", "errorBody(e)")}
