"""Monorepo workspace packages: an app's dependency on a workspace package brings that package's sources
into the app's scan, and bare imports of it resolve through its package.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakline.configfile import ScanAppSettings
from leakline.scan.engine import _workspace_of, build_index, scan
from leakline.scan.walker import WalkStats
from tests.scan.apps import write_files

NEXT_APP = {"private": True, "dependencies": {"next": "15.5.7", "react": "19.1.2"}}
ASK = """import ollama from "ollama";

export async function askAssistant(question: string) {
  const res = await ollama.chat({ model: "llama3.1", messages: [{ role: "user", content: question }] });
  const answer = res.message.content;
  // the package's own log line
  console.log("shared pkg", answer);
  return answer;
}
"""
ROUTE = """import {{ {name} }} from "{spec}";

export async function POST(req: Request) {{
  const {{ question }} = await req.json();
  const answer = await {name}(question);
  console.log("assistant", answer);
  return Response.json({{ answer }});
}}
"""


def _app(name: str, deps: dict[str, str]) -> dict[str, object]:
    return {**NEXT_APP, "name": name, "dependencies": {**NEXT_APP["dependencies"], **deps}}  # type: ignore[dict-item]


def _places(root: Path, rules: list[str]) -> list[tuple[str, str, int]]:
    result = scan(root, rule_ids=rules)
    assert result.stats.rule_errors == []
    return [(f.rule, f.path, f.line) for f in result.findings]


def _pnpm_monorepo(root: Path) -> Path:
    return write_files(
        root,
        {
            "package.json": {"name": "acme", "private": True, "devDependencies": {"turbo": "^2.3.0"}},
            "pnpm-workspace.yaml": 'packages:\n  - "apps/*"\n  - "packages/*"\n',
            "apps/web/package.json": _app("web", {"@acme/ai": "workspace:*"}),
            "apps/web/app/api/chat/route.ts": ROUTE.format(name="askAssistant", spec="@acme/ai"),
            "apps/web/app/api/server/route.ts": ROUTE.format(name="summarise", spec="@acme/ai/server"),
            "apps/admin/package.json": _app("admin", {"@acme/ai": "workspace:^"}),
            "apps/admin/app/api/chat/route.ts": ROUTE.format(name="askAssistant", spec="@acme/ai"),
            "packages/ai/package.json": {
                "name": "@acme/ai",
                "exports": {
                    ".": "./src/index.ts",
                    "./server": {"types": "./dist/server.d.ts", "import": "./src/server.ts"},
                },
                "dependencies": {"ollama": "^0.5.15"},
            },
            "packages/ai/src/index.ts": ASK,
            "packages/ai/src/server.ts": 'import { askAssistant } from "./index";\n\n'
            "export async function summarise(text: string) {\n  return askAssistant(`Summarise: ${text}`);\n}\n",
            # No app depends on this one: its code is in no app's bundle.
            "packages/scratch/package.json": {"name": "@acme/scratch", "dependencies": {"ollama": "^0.5.15"}},
            "packages/scratch/src/index.ts": ASK,
        },
    )


def test_a_pnpm_workspace_package_is_scanned_with_the_apps_that_depend_on_it(tmp_path: Path) -> None:
    root = _pnpm_monorepo(tmp_path)
    assert _places(root, ["LL006", "LL007"]) == [
        ("LL006", "apps/admin/app/api/chat/route.ts", 3),
        ("LL007", "apps/admin/app/api/chat/route.ts", 6),
        ("LL006", "apps/web/app/api/chat/route.ts", 3),
        ("LL007", "apps/web/app/api/chat/route.ts", 6),
        ("LL006", "apps/web/app/api/server/route.ts", 3),
        ("LL007", "apps/web/app/api/server/route.ts", 6),
        # Found with both apps, reported once, named from the scanned root.
        ("LL007", "packages/ai/src/index.ts", 7),
    ]
    result = scan(root, rule_ids=["LL007"])
    # apps/admin (2 files) + apps/web (3) + packages/ai (3), the package counted once.
    assert result.stats.files_seen == 8
    assert result.stats.warnings == []


@pytest.mark.parametrize(
    "workspaces", [["packages/*"], {"packages": ["packages/*"]}, ["packages/**", "!packages/**/fixtures/**"]]
)
def test_package_json_workspaces_main_subpaths_and_dependencies_of_dependencies(
    tmp_path: Path, workspaces: object
) -> None:
    root = write_files(
        tmp_path,
        {
            "package.json": {"name": "acme", "private": True, "workspaces": workspaces},
            "web/package.json": _app("web", {"@acme/ai": "*"}),
            "web/app/api/a/route.ts": ROUTE.format(name="askAssistant", spec="@acme/ai"),
            "web/app/api/b/route.ts": ROUTE.format(name="recordAnswer", spec="@acme/log/record"),
            # `main` names build output that is not there: the package's sources stand for it.
            "packages/ai/package.json": {
                "name": "@acme/ai",
                "main": "./dist/index.js",
                "dependencies": {"@acme/log": "1.0.0"},
            },
            "packages/ai/src/index.ts": ASK.replace(
                'console.log("shared pkg", answer)', "recordAnswer(answer)"
            ).replace(
                'import ollama from "ollama";',
                'import ollama from "ollama";\nimport { recordAnswer } from "@acme/log/record";',
            ),
            "packages/log/package.json": {"name": "@acme/log"},
            "packages/log/record.ts": "export function recordAnswer(text: string) {\n  console.info(text);\n  return text;\n}\n",
            "packages/log/fixtures/package.json": {"name": "@acme/log-fixtures"},
        },
    )
    assert _places(root, ["LL007"]) == [
        ("LL007", "packages/ai/src/index.ts", 8),
        ("LL007", "web/app/api/a/route.ts", 6),
    ]


def test_the_blind_spot_warning_reads_the_dependencies_of_workspace_packages(tmp_path: Path) -> None:
    unseen = ASK.replace("ollama.chat(", "send(").replace(
        'import ollama from "ollama";', 'import ollama from "ollama";\nconst send = (x: unknown) => ollama.ps();'
    )
    root = write_files(
        tmp_path,
        {
            "pnpm-workspace.yaml": "packages: [apps/*, packages/*]\n",
            "package.json": {"name": "acme", "private": True},
            "apps/web/package.json": _app("web", {"@acme/ai": "workspace:*"}),
            "apps/web/app/api/chat/route.ts": ROUTE.format(name="askAssistant", spec="@acme/ai"),
            "packages/ai/package.json": {
                "name": "@acme/ai",
                "exports": "./src/index.ts",
                "dependencies": {"ollama": "^0.5"},
            },
            "packages/ai/src/index.ts": unseen,
        },
    )
    result = scan(root, rule_ids=["LL007"])
    assert result.stats.warnings == [
        "apps/web/package.json: ollama is a dependency and packages/ai/src/index.ts imports it, but no call through "
        "it was recognised as an LLM call: LL006, LL007 and the other LLM-data rules cannot see what it sends or "
        "returns"
    ]


def test_wildcard_exports_and_a_package_that_is_not_in_the_workspace(tmp_path: Path) -> None:
    root = write_files(
        tmp_path,
        {
            "pnpm-workspace.yaml": "packages:\n  - apps/*\n  - packages/*\n",
            "package.json": {"name": "acme", "private": True},
            "apps/web/package.json": _app("web", {"@acme/ai": "workspace:*", "@vendor/ai": "1.0.0"}),
            "apps/web/app/api/a/route.ts": ROUTE.format(name="askAssistant", spec="@acme/ai/ask"),
            # Same name, but installed from the registry: node_modules is never read.
            "apps/web/app/api/b/route.ts": ROUTE.format(name="askAssistant", spec="@vendor/ai"),
            "apps/web/node_modules/@vendor/ai/package.json": {"name": "@vendor/ai", "main": "index.ts"},
            "apps/web/node_modules/@vendor/ai/index.ts": ASK,
            "packages/ai/package.json": {"name": "@acme/ai", "exports": {"./*": {"default": "./lib/*.ts"}}},
            "packages/ai/lib/ask.ts": ASK,
        },
    )
    assert _places(root, ["LL007"]) == [
        ("LL007", "apps/web/app/api/a/route.ts", 6),
        ("LL007", "packages/ai/lib/ask.ts", 7),
    ]


def test_an_app_scanned_alone_does_not_reach_above_the_scanned_folder(tmp_path: Path) -> None:
    root = _pnpm_monorepo(tmp_path)
    assert _places(root / "apps/web", ["LL007"]) == []


def test_a_packages_build_output_and_the_apps_inside_it_are_not_indexed_with_the_app(tmp_path: Path) -> None:
    root = _pnpm_monorepo(tmp_path)
    write_files(
        root,
        {
            "packages/ai/.next/static/chunks/ai.js": ASK,
            "packages/ai/out/index.js": ASK,
            "packages/ai/playground/package.json": _app("playground", {}),
            "packages/ai/playground/app/api/chat/route.ts": ASK,
        },
    )
    app = root / "apps/web"
    apps = {root / "apps/web", root / "apps/admin", root / "packages/ai/playground"}
    packages = _workspace_of(app, root, {}, apps)
    index = build_index(app, ScanAppSettings(), WalkStats(), set(), packages=packages, apps=apps)
    assert sorted(rel for rel in index.files if rel.startswith("../")) == [
        "../../packages/ai/package.json",
        "../../packages/ai/src/index.ts",
        "../../packages/ai/src/server.ts",
    ]
    assert index.resolve_import("app/api/server/route.ts", "@acme/ai/server") == "../../packages/ai/src/server.ts"


def test_an_app_scanned_alone_warns_about_the_workspace_packages_it_cannot_see(tmp_path: Path) -> None:
    root = _pnpm_monorepo(tmp_path / "repo")
    web = scan(root / "apps/web", rule_ids=["LL007"])
    assert web.stats.warnings == [
        f"package.json: depends on @acme/ai, package(s) of the workspace at {(tmp_path / 'repo').resolve()} outside "
        "the scanned folder: their code is not scanned, and LLM calls made through them are not seen; scan the "
        "workspace's root to include them"
    ]
    # Look-alikes: an app of the same workspace that uses none of its packages, and the same app outside any
    # workspace (its dependency is then an npm package like any other), warn of nothing.
    write_files(root / "apps/docs", {"package.json": _app("docs", {}), "app/page.tsx": "export default () => null;\n"})
    assert scan(root / "apps/docs", rule_ids=["LL007"]).stats.warnings == []
    lone = write_files(tmp_path / "lone", {"package.json": _app("web", {"@acme/ai": "1.0.0"})})
    assert scan(lone, rule_ids=["LL007"]).stats.warnings == []
    # Nor does an app inside the workspace's folder that its globs do not name (`tools/` is no member).
    write_files(root / "tools/web", {"package.json": _app("tools-web", {"@acme/ai": "workspace:*"})})
    assert scan(root / "tools/web", rule_ids=["LL007"]).stats.warnings == []
