"""LL004 edge cases beyond the fixture pair: src/ layout with tsconfig paths and an import chain, CommonJS and
TypeScript next.config with shorthand entries, `env:` objects elsewhere in the config, evidence redaction."""

from __future__ import annotations

from pathlib import Path

from leakline.findings import Finding, Severity
from leakline.scan.engine import scan

PACKAGE = '{"dependencies":{"next":"15.3.2"}}'
STRIPE = "sk_live_Z8UzDzV8fUkkibjL5DZPjN0M"


def _app(root: Path, files: dict[str, str]) -> Path:
    for rel, text in {"package.json": PACKAGE, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _findings(app: Path) -> list[Finding]:
    result = scan(app, rule_ids=["LL004"])
    assert result.stats.rule_errors == []
    return [f for f in result.findings if f.suppressed is None]


def _places(app: Path) -> list[tuple[str, int]]:
    return [(f.path, f.line) for f in _findings(app)]


def test_a_read_two_imports_away_from_a_client_component_through_tsconfig_paths(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "tsconfig.json": '{ "compilerOptions": { "paths": { "@/*": ["./src/*"] } } }',
            "src/app/cart/CartButton.tsx": (
                "'use client';\nimport { price } from '@/lib/pricing';\nexport const B = () => <b>{price()}</b>;\n"
            ),
            "src/lib/pricing.ts": "import { rates } from './rates';\nexport const price = () => rates();\n",
            "src/lib/rates.ts": "export const rates = () => fetch(process.env.RATES_API_TOKEN ?? '');\n",
            "src/lib/server.ts": "export const k = process.env.RATES_API_TOKEN;\n",  # not imported by a client
        },
    )
    [finding] = _findings(app)
    assert (finding.path, finding.line, finding.column) == ("src/lib/rates.ts", 1, 46)
    assert finding.message == (
        "process.env.RATES_API_TOKEN is read in a module imported by client components (name contains TOKEN)"
    )


def test_commonjs_config_with_a_literal_secret_and_a_shorthand_entry(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.js": (
                "const AUTH_SECRET = process.env.AUTH_SECRET;\n"
                "module.exports = {\n"
                "  env: {\n"
                f"    stripe: '{STRIPE}',\n"
                "    AUTH_SECRET,\n"
                "    PUBLIC_URL: 'https://shop.example',\n"
                "  },\n"
                "};\n"
            ),
        },
    )
    findings = _findings(app)
    assert [(f.path, f.line, f.severity, f.evidence) for f in findings] == [
        ("next.config.js", 4, Severity.CRITICAL, "env.stripe: sk_…jN0M"),
        ("next.config.js", 5, Severity.HIGH, "env: { AUTH_SECRET }"),
    ]
    assert all(STRIPE not in repr(f.to_dict()) for f in findings)


def test_typescript_config_and_env_value_from_dotenv(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            ".env": f"PAYMENTS={STRIPE}\n",
            "next.config.ts": (
                "import type { NextConfig } from 'next';\n"
                "const config: NextConfig = {\n"
                "  env: { CHECKOUT_CONFIG: process.env.PAYMENTS },\n"
                "};\n"
                "export default config;\n"
            ),
        },
    )
    [finding] = _findings(app)
    assert (finding.path, finding.line, finding.severity) == ("next.config.ts", 3, Severity.CRITICAL)
    assert finding.message == "next.config `env.CHECKOUT_CONFIG` is inlined into every browser bundle (Stripe secret key)"


def test_harmless_env_entries_and_non_env_objects_are_not_reported(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.mjs": (
                "export default {\n"
                "  env: { BUILD_ID: 'v1', SHOP_REGION: process.env.SHOP_REGION },\n"
                "  images: { remotePatterns: [{ hostname: 'cdn.example' }] },\n"
                "};\n"
            ),
        },
    )
    assert _places(app) == []


def test_client_reads_of_builtins_and_public_variables_are_not_reported(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "app/Widget.tsx": (
                "'use client';\n"
                "export const W = () => <i>{process.env.NODE_ENV}{process.env.NEXT_PUBLIC_API_TOKEN}"
                "{process.env.NEXT_RUNTIME}{process.env.SHOP_REGION}</i>;\n"
            ),
        },
    )
    assert _places(app) == []


def test_client_modules_that_import_server_only_and_what_only_they_import_are_skipped(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "app/A.tsx": "'use client';\nimport 'server-only';\nimport { k } from './b';\nexport const s = process.env.A_SECRET;\n",
            "app/b.ts": "export const k = process.env.B_SECRET;\n",
            "app/C.tsx": "'use client';\nexport const s = process.env.C_SECRET;\n",
        },
    )
    assert _places(app) == [("app/C.tsx", 2)]


def test_spreading_process_env_into_env_inlines_everything(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "next.config.mjs": (
                "const publicVars = { SITE: 'acme' };\n"
                "export default {\n"
                "  env: {\n"
                "    ...publicVars,\n"
                "    ...process.env,\n"
                "  },\n"
                "};\n"
            ),
        },
    )
    [finding] = _findings(app)
    assert (finding.path, finding.line, finding.column, finding.severity) == (
        "next.config.mjs",
        5,
        5,
        Severity.CRITICAL,
    )
    assert finding.evidence == "env: { ...process.env }"


AI_LIB = (
    'import { createOpenAI } from "@ai-sdk/openai";\n'
    "export const provider = createOpenAI({ baseURL: process.env.LLM_BASE_URL, apiKey: process.env.LLM_API_KEY });\n"
)
SUPPORT_ACTIONS = (
    '"use server";\n'
    'import { generateText } from "ai";\n'
    'import { provider } from "../../lib/ai";\n'
    "export async function askSupport(question: string) {\n"
    '  const { text } = await generateText({ model: provider.chat("m"), prompt: question });\n'
    "  return text;\n"
    "}\n"
)
SUPPORT_PAGE = (
    '"use client";\n'
    'import { askSupport } from "./actions";\n'
    "export default function Support() {\n"
    '  return <button onClick={() => askSupport("where is my parcel?")}>ask</button>;\n'
    "}\n"
)


def test_a_use_server_module_imported_by_a_client_component_is_a_boundary(tmp_path: Path) -> None:
    # The browser gets a reference to the server action, never the action module nor what it imports.
    app = _app(
        tmp_path,
        {"lib/ai.ts": AI_LIB, "app/support/actions.ts": SUPPORT_ACTIONS, "app/support/page.tsx": SUPPORT_PAGE},
    )
    assert _places(app) == []


def test_a_client_module_importing_the_same_module_directly_is_still_reported(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "lib/ai.ts": AI_LIB,
            "app/support/actions.ts": SUPPORT_ACTIONS,
            "app/support/page.tsx": SUPPORT_PAGE,
            "app/support/Hint.tsx": (
                '"use client";\nimport { provider } from "../../lib/ai";\n'
                "export const Hint = () => <i>{String(provider)}</i>;\n"
            ),
        },
    )
    assert [(f.path, f.line, f.column, f.severity) for f in _findings(app)] == [("lib/ai.ts", 2, 61, Severity.HIGH)]


def test_reads_in_the_use_server_module_itself_are_server_side(tmp_path: Path) -> None:
    actions = SUPPORT_ACTIONS.replace(
        "  return text;\n", "  await fetch(process.env.SUPPORT_WEBHOOK_TOKEN ?? '');\n  return text;\n"
    )
    app = _app(
        tmp_path,
        {"lib/ai.ts": AI_LIB, "app/support/actions.ts": actions, "app/support/page.tsx": SUPPORT_PAGE},
    )
    assert _places(app) == []


def test_a_function_with_an_inline_use_server_directive_runs_on_the_server(tmp_path: Path) -> None:
    # An inline server action in a module client code imports: reads inside it stay on the server, reads
    # next to it do not.
    app = _app(
        tmp_path,
        {
            "lib/feedback.ts": (
                "export function makeSender(channel: string) {\n"
                "  async function send(text: string) {\n"
                "    'use server';\n"
                "    await fetch(process.env.FEEDBACK_API_TOKEN ?? '', { method: 'POST', body: text });\n"
                "  }\n"
                "  return { send, label: process.env.FEEDBACK_SECRET_LABEL ?? channel };\n"
                "}\n"
            ),
            "app/feedback/Form.tsx": (
                "'use client';\nimport { makeSender } from '../../lib/feedback';\n"
                "export const Form = () => <form action={makeSender('web').send} />;\n"
            ),
        },
    )
    assert _places(app) == [("lib/feedback.ts", 6)]
