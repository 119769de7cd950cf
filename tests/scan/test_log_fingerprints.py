"""Fingerprints of LL007 and LL008: a log line is known by its function, its sink and the redacted shape of
what it logs, not by its rank among the file's log lines. A new log line added above an accepted one, or left
behind when the accepted one is fixed, is reported; baselines written when the key was the sink's name alone
still match."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tree_sitter import Node

from leakline.findings import fingerprint
from leakline.scan import parse as ts
from leakline.scan.engine import scan
from leakline.scan.sinks import argument_shape, sink_key
from tests.scan.apps import write_app

Cli = Callable[..., tuple[int, str, str]]
ROUTE = "app/api/chat/route.ts"
HEAD = """import { openai } from "@ai-sdk/openai";
import { generateText } from "ai";

export async function POST(req: Request) {
  const { prompt } = await req.json();
"""
NEW_LINES = """  const { text: draft } = await generateText({ model: openai("gpt-4o-mini"), prompt: "draft" });
  console.log("draft", draft);
"""
ACCEPTED = """  const { text } = await generateText({ model: openai("gpt-4o-mini"), prompt });
  console.log("assistant said:", text);
"""
TAIL = """  return Response.json({ ok: true });
}
"""
PACKAGE: dict[str, object] = {"dependencies": {"next": "15.2.4", "ai": "5.0.0", "@ai-sdk/openai": "2.0.0"}}


def _findings(cli: Cli, app: Path, *rules: str) -> tuple[int, list[tuple[str, str, int, str | None]]]:
    args = [arg for rule in rules for arg in ("--rule", rule)]
    baseline = app / ".leakline-baseline.json"
    code, out, err = cli("scan", str(app), *args, "--format", "json", "--no-progress", "--baseline", str(baseline))
    assert code in (0, 1), err
    return code, [(f["rule"], f["path"], f["line"], f["suppressed"]) for f in json.loads(out)["findings"]]


def _accept(cli: Cli, app: Path, *rules: str) -> None:
    args = [arg for rule in rules for arg in ("--rule", rule)]
    assert cli("scan", str(app), *args, "--write-baseline", "--no-progress")[0] == 0


def test_a_log_line_added_above_an_accepted_one_is_the_one_reported(cli: Cli, tmp_path: Path) -> None:
    app = write_app(tmp_path, {ROUTE: HEAD + ACCEPTED + TAIL}, package=PACKAGE)
    _accept(cli, app, "LL007")
    assert _findings(cli, app, "LL007") == (0, [("LL007", ROUTE, 7, "baseline")])

    (app / ROUTE).write_text(HEAD + NEW_LINES + ACCEPTED + TAIL)
    assert _findings(cli, app, "LL007") == (1, [("LL007", ROUTE, 7, None), ("LL007", ROUTE, 9, "baseline")])

    # The accepted line is fixed: the new one is still reported, and CI still fails.
    (app / ROUTE).write_text(HEAD + NEW_LINES + ACCEPTED.splitlines(keepends=True)[0] + TAIL)
    assert _findings(cli, app, "LL007") == (1, [("LL007", ROUTE, 7, None)])


def test_the_same_log_line_added_in_another_function_is_reported(cli: Cli, tmp_path: Path) -> None:
    """Two handlers logging alike are told apart by the function around the call."""
    other = HEAD.replace("POST", "PUT") + ACCEPTED + TAIL
    app = write_app(tmp_path, {ROUTE: HEAD + ACCEPTED + TAIL}, package=PACKAGE)
    _accept(cli, app, "LL007")
    (app / ROUTE).write_text(other + HEAD + ACCEPTED + TAIL)
    assert _findings(cli, app, "LL007") == (1, [("LL007", ROUTE, 7, None), ("LL007", ROUTE, 16, "baseline")])


CHECKOUT = "app/checkout/actions.ts"
CHECKOUT_HEAD = """'use server';
import pino from "pino";
const logger = pino();
export async function placeOrder(cartId: string, email: string, phone: string) {
"""
CHECKOUT_ACCEPTED = """  logger.info({ cartId, email }, "order placed");
"""
CHECKOUT_NEW = """  logger.info({ cartId, phone }, "order placed");
"""


def test_ll008_a_new_line_above_an_accepted_one_is_the_one_reported(cli: Cli, tmp_path: Path) -> None:
    app = write_app(tmp_path, {CHECKOUT: CHECKOUT_HEAD + CHECKOUT_ACCEPTED + TAIL})
    _accept(cli, app, "LL008")
    (app / CHECKOUT).write_text(CHECKOUT_HEAD + CHECKOUT_NEW + CHECKOUT_ACCEPTED + TAIL)
    assert _findings(cli, app, "LL008") == (1, [("LL008", CHECKOUT, 5, None), ("LL008", CHECKOUT, 6, "baseline")])
    (app / CHECKOUT).write_text(CHECKOUT_HEAD + CHECKOUT_NEW + TAIL)
    assert _findings(cli, app, "LL008") == (1, [("LL008", CHECKOUT, 5, None)])


HELPER = """export function remember(kind: string, text: string) {
  console.info(kind, text);
}
"""


def test_unrelated_edits_keep_every_fingerprint(tmp_path: Path) -> None:
    """Lines added above, reformatting, a trailing comma, a comment, and a changed message literal: the same
    log lines, the same fingerprints (the key holds names and punctuation, never a literal's value)."""
    route = (
        'import { remember } from "@/lib/remember";\n'
        + HEAD
        + ACCEPTED
        + '  remember("answer", text);\n'
        + TAIL
        + 'export async function GET() {\n  const { text } = await generateText({ model: openai("m"), prompt: "p" });\n'
        + '  console.log("sk-live-0123456789abcdef", { text, at: 1 });\n'
        + TAIL
    )
    app = write_app(tmp_path, {ROUTE: route, "lib/remember.ts": HELPER}, package=PACKAGE)
    before = scan(app, rule_ids=["LL007"], jobs=1).findings
    assert [(f.path, f.line) for f in before] == [(ROUTE, 8), (ROUTE, 9), (ROUTE, 14)]

    edited = (
        route.replace("export async function POST", "const unrelated = 1;\n// a note\n\nexport async function POST")
        .replace(
            'console.log("assistant said:", text);', 'console.log(\n    "the assistant said", // why\n    text,\n  );'
        )
        .replace('"sk-live-0123456789abcdef", { text, at: 1 }', '"sk-live-fedcba9876543210", { text, at: 2, }')
    )
    (app / ROUTE).write_text(edited)
    after = scan(app, rule_ids=["LL007"], jobs=1).findings
    assert [(f.path, f.line) for f in after] == [(ROUTE, 11), (ROUTE, 15), (ROUTE, 20)]
    assert [f.fingerprint for f in after] == [f.fingerprint for f in before]


def test_a_baseline_of_the_previous_keys_still_suppresses(cli: Cli, tmp_path: Path) -> None:
    """Baselines written when the key was the sink's name (LL007), the callee and sink (helper calls),
    `sink:what` (LL008) and the telemetry option alone, with the rank among equal keys."""
    route = (
        'import { remember } from "@/lib/remember";\n'
        + HEAD
        + ACCEPTED
        + '  console.log("again", text);\n'
        + '  remember("answer", text);\n'
        + '  await generateText({ model: openai("m"), prompt, experimental_telemetry: { isEnabled: true } });\n'
        + TAIL
    )
    app = write_app(
        tmp_path,
        {
            ROUTE: route,
            "lib/remember.ts": HELPER,
            CHECKOUT: CHECKOUT_HEAD + CHECKOUT_NEW + CHECKOUT_ACCEPTED + TAIL,
        },
        package=PACKAGE,
    )
    old = [
        ("LL007", ROUTE, fingerprint("LL007", ROUTE, "console.log", 0)),
        ("LL007", ROUTE, fingerprint("LL007", ROUTE, "console.log", 1)),
        ("LL007", ROUTE, fingerprint("LL007", ROUTE, "remember->console.info", 0)),
        ("LL007", ROUTE, fingerprint("LL007", ROUTE, "generateText->experimental_telemetry", 0)),
        ("LL008", CHECKOUT, fingerprint("LL008", CHECKOUT, "logger.info:payment or contact fields", 0)),
        ("LL008", CHECKOUT, fingerprint("LL008", CHECKOUT, "logger.info:payment or contact fields", 1)),
    ]
    entries = [{"rule": rule, "path": path, "fingerprint": fp} for rule, path, fp in old]
    (app / ".leakline-baseline.json").write_text(json.dumps({"version": 1, "findings": entries}))
    code, found = _findings(cli, app, "LL007", "LL008")
    assert found == [
        ("LL007", ROUTE, 8, "baseline"),
        ("LL007", ROUTE, 9, "baseline"),
        ("LL007", ROUTE, 10, "baseline"),
        ("LL007", ROUTE, 11, "baseline"),
        ("LL008", CHECKOUT, 5, "baseline"),
        ("LL008", CHECKOUT, 6, "baseline"),
    ]
    assert code == 0
    # Rewritten, the baseline holds the new keys' fingerprints, and they match too.
    _accept(cli, app, "LL007", "LL008")
    written = {e["fingerprint"] for e in json.loads((app / ".leakline-baseline.json").read_text())["findings"]}
    assert written.isdisjoint(fp for *_, fp in old)
    assert _findings(cli, app, "LL007", "LL008") == (0, found)


def _call_arguments(source: str) -> tuple[list[Node], Node]:
    tree = ts.parse(source.encode(), ts.language_for(".ts"))  # type: ignore[arg-type]
    call = next(n for n in ts.walk(tree.root_node) if n.type == "call_expression")
    args = call.child_by_field_name("arguments")
    assert args is not None
    return [a for a in args.named_children if a.type != "comment"], call


def test_the_key_holds_no_literal_value() -> None:
    args, call = _call_arguments(
        'function POST() { console.log("sk-live-0123456789abcdef", 4242, `to ${user.mail} now`, /x+/g, { k: "v", text }) }'
    )
    assert argument_shape(args) == '"…",#,`…${user.mail}…`,/…/,{k:"…",text}'
    assert sink_key(call, "console.log", args) == 'POST: console.log("…",#,`…${user.mail}…`,/…/,{k:"…",text})'


def test_a_long_expression_gives_a_bounded_key_without_deep_recursion() -> None:
    args, _ = _call_arguments("console.log(" + " + ".join(f"a{i}" for i in range(20_000)) + ");")
    shape = argument_shape(args)
    assert shape.startswith("a0+a1+") and shape.endswith("…") and len(shape) < 200
