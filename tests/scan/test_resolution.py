"""Import resolution the way TypeScript does it: ESM `.js` specifiers of `.ts` files, tsconfig `extends`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from leakline.configfile import ScanAppSettings
from leakline.scan.engine import build_index, scan
from leakline.scan.walker import WalkStats
from tests.scan.apps import write_files

PACKAGE = {"name": "shop", "private": True, "dependencies": {"next": "15.5.7", "ollama": "^0.5.15"}}
LLM = """import ollama from "ollama";

export async function ask(question: string) {
  const r = await ollama.chat({ model: "llama3.1", messages: [{ role: "user", content: question }] });
  return r.message.content;
}
"""
ROUTE = """import {{ ask }} from "{spec}";

export async function POST(req: Request) {{
  const {{ question }} = await req.json();
  const answer = await ask(question);
  console.log("answer", answer);
  return Response.json({{ answer }});
}}
"""


def _logged(root: Path) -> list[tuple[str, str, int]]:
    result = scan(root, rule_ids=["LL007"])
    return [(f.rule, f.path, f.line) for f in result.findings]


def _resolved(app: Path, from_rel: str, spec: str) -> str | None:
    index = build_index(app, ScanAppSettings(), WalkStats(), set())
    return index.resolve_import(from_rel, spec)


@pytest.mark.parametrize(
    ("source", "spec"),
    [
        ("server/llm.ts", "../../../server/llm.js"),
        ("server/llm.tsx", "../../../server/llm.js"),
        ("server/llm.tsx", "../../../server/llm.jsx"),
        ("server/llm.mts", "../../../server/llm.mjs"),
        ("server/llm.cts", "../../../server/llm.cjs"),
    ],
)
def test_an_esm_specifier_names_the_typescript_file_it_is_emitted_from(tmp_path: Path, source: str, spec: str) -> None:
    app = write_files(
        tmp_path,
        {"package.json": json.dumps(PACKAGE), source: LLM, "app/api/ask/route.ts": ROUTE.format(spec=spec)},
    )
    assert _resolved(app, "app/api/ask/route.ts", spec) == source
    assert _logged(app) == [("LL007", "app/api/ask/route.ts", 6)]


def test_a_js_file_that_exists_is_what_a_js_specifier_names(tmp_path: Path) -> None:
    # The safe look-alike: `llm.js` is the module (a plain JS file beside an unrelated `llm.ts`, which no
    # LLM call reaches through this import).
    app = write_files(
        tmp_path,
        {
            "package.json": json.dumps(PACKAGE),
            "server/llm.ts": LLM,
            "server/llm.js": "export async function ask(q) {\n  return q.length;\n}\n",
            "app/api/ask/route.ts": ROUTE.format(spec="../../../server/llm.js"),
        },
    )
    assert _resolved(app, "app/api/ask/route.ts", "../../../server/llm.js") == "server/llm.js"
    assert _logged(app) == []


def _extends_app(root: Path, tsconfig: object, extra: dict[str, str]) -> Path:
    return write_files(
        root,
        {
            "package.json": json.dumps(PACKAGE),
            "tsconfig.json": json.dumps(tsconfig),
            "src/server/llm.ts": LLM,
            "src/app/api/ask/route.ts": ROUTE.format(spec="@/server/llm"),
            **extra,
        },
    )


BASE = {"compilerOptions": {"baseUrl": ".", "paths": {"@/*": ["./src/*"]}}}


@pytest.mark.parametrize(
    ("extends", "extra"),
    [
        # relative, with and without `.json`
        ("./tsconfig.base.json", {"tsconfig.base.json": json.dumps(BASE)}),
        ("./tsconfig.base", {"tsconfig.base.json": json.dumps(BASE)}),
        # two steps, comments and trailing commas
        (
            "./config/tsconfig.app.json",
            {
                "config/tsconfig.app.json": '// app\n{ "extends": "../tsconfig.base.json", "include": ["../src"], }',
                "tsconfig.base.json": json.dumps(BASE),
            },
        ),
        # a package id from node_modules: baseUrl and paths relative to the app, as the base says
        (
            "@acme/tsconfig/nextjs.json",
            {
                "node_modules/@acme/tsconfig/nextjs.json": json.dumps(
                    {"compilerOptions": {"baseUrl": "../../..", "paths": {"@/*": ["./src/*"]}}}
                )
            },
        ),
        # a package's tsconfig.json; an array of bases, the last one's paths win
        (
            ["@acme/strict", "./tsconfig.base.json"],
            {
                "node_modules/@acme/strict/tsconfig.json": '{"compilerOptions": {"paths": {"@/*": ["./nowhere/*"]}}}',
                "tsconfig.base.json": json.dumps(BASE),
            },
        ),
    ],
)
def test_paths_are_read_through_extends(tmp_path: Path, extends: object, extra: dict[str, str]) -> None:
    app = _extends_app(tmp_path, {"extends": extends, "compilerOptions": {"strict": True}}, extra)
    assert _resolved(app, "src/app/api/ask/route.ts", "@/server/llm") == "src/server/llm.ts"
    assert _logged(app) == [("LL007", "src/app/api/ask/route.ts", 6)]


def test_a_base_url_is_relative_to_the_file_that_declares_it(tmp_path: Path) -> None:
    # The base in config/ says baseUrl "..": the app's root. Read from the extending file, it would be
    # the app's parent, where there is no src/server/llm.ts.
    extra = {"config/base.json": json.dumps({"compilerOptions": {"baseUrl": "..", "paths": {"@/*": ["src/*"]}}})}
    app = _extends_app(tmp_path / "app", {"extends": "./config/base.json"}, extra)
    assert _resolved(app, "src/app/api/ask/route.ts", "@/server/llm") == "src/server/llm.ts"
    # The extending file's own `paths`, without a baseUrl of its own, keep the base's baseUrl.
    (app / "tsconfig.json").write_text(
        json.dumps({"extends": "./config/base.json", "compilerOptions": {"paths": {"~/*": ["src/*"]}}})
    )
    assert _resolved(app, "src/app/api/ask/route.ts", "~/server/llm") == "src/server/llm.ts"
    assert _resolved(app, "src/app/api/ask/route.ts", "@/server/llm") is None


def test_an_extends_cycle_or_a_missing_base_is_not_followed(tmp_path: Path) -> None:
    extra = {
        "a.json": json.dumps({"extends": "./b.json", "compilerOptions": {"paths": {"@/*": ["./src/*"]}}}),
        "b.json": json.dumps({"extends": "./a.json"}),
    }
    app = _extends_app(tmp_path, {"extends": ["./a.json", "./missing.json", "@acme/none"]}, extra)
    assert _resolved(app, "src/app/api/ask/route.ts", "@/server/llm") == "src/server/llm.ts"
    (app / "tsconfig.json").write_text(json.dumps({"extends": "./tsconfig.json"}))
    assert _resolved(app, "src/app/api/ask/route.ts", "@/server/llm") is None


def test_a_jsconfig_gives_the_paths_a_tsconfig_without_them_does_not(tmp_path: Path) -> None:
    app = _extends_app(tmp_path, {"include": ["src"]}, {"jsconfig.json": json.dumps(BASE)})
    assert _resolved(app, "src/app/api/ask/route.ts", "@/server/llm") == "src/server/llm.ts"
