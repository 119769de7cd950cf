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


# ---- values Next serializes for the browser (server component props, getServerSideProps props) ----------

OPENAI = "sk-proj-FdnXsiVpzz63FfkCzJr4i0B3JrTAwR4y9ojfljoQoaF1Llqs"
TSCONFIG = '{ "compilerOptions": { "baseUrl": ".", "paths": { "@/*": ["./*"] } } }'
CHAT_WIDGET = (
    "'use client';\n"
    "export function ChatWidget({ apiKey, baseUrl }: { apiKey: string; baseUrl: string }) {\n"
    "  return <button onClick={() => fetch(`${baseUrl}/v1`, { headers: { Authorization: `Bearer ${apiKey}` } })}>Ask</button>;\n"
    "}\n"
)


def test_a_server_page_passing_a_secret_to_a_client_component_is_reported_at_the_prop(tmp_path: Path) -> None:
    # The reviewer's repro: the prerendered assistant.html / .rsc carried "apiKey":"sk-proj-…".
    app = _app(
        tmp_path,
        {
            ".env": f"OPENAI_API_KEY={OPENAI}\n",
            "tsconfig.json": TSCONFIG,
            "components/ChatWidget.tsx": CHAT_WIDGET,
            "app/assistant/page.tsx": (
                "import { ChatWidget } from '@/components/ChatWidget';\n"
                "export default function AssistantPage() {\n"
                "  return <ChatWidget apiKey={process.env.OPENAI_API_KEY!} baseUrl={process.env.LLM_URL!} />;\n"
                "}\n"
            ),
        },
    )
    [finding] = _findings(app)
    assert (finding.path, finding.line, finding.column, finding.severity) == (
        "app/assistant/page.tsx",
        3,
        30,
        Severity.CRITICAL,
    )
    assert finding.message == (
        "process.env.OPENAI_API_KEY as `apiKey` (OpenAI API key), process.env.LLM_URL as `baseUrl` (name says it "
        "holds an LLM endpoint or setting) are passed by a server component to the client component <ChatWidget>: "
        "Next serializes its props into the page's HTML and RSC payload"
    )
    assert finding.evidence == "process.env.OPENAI_API_KEY, process.env.LLM_URL"
    assert OPENAI not in repr(finding.to_dict())


def test_get_server_side_props_returning_a_secret_is_reported(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            ".env": f"OPENAI_API_KEY={OPENAI}\n",
            "pages/assistant.tsx": (
                "import type { GetServerSideProps } from 'next';\n"
                "export const getServerSideProps: GetServerSideProps = async () => {\n"
                "  return { props: { llmConfig: { baseURL: process.env.LLM_URL, apiKey: process.env.OPENAI_API_KEY } } };\n"
                "};\n"
                "export default function Assistant({ llmConfig }: { llmConfig: { baseURL: string } }) {\n"
                "  return <div data-endpoint={llmConfig.baseURL}>assistant</div>;\n"
                "}\n"
            ),
        },
    )
    [finding] = _findings(app)
    # One finding for the line, graded by the worse value on it (the scan keeps one per rule and line).
    assert (finding.path, finding.line, finding.column, finding.severity) == (
        "pages/assistant.tsx",
        3,
        43,
        Severity.CRITICAL,
    )
    assert finding.message.startswith(
        "process.env.LLM_URL (name says it holds an LLM endpoint or setting), process.env.OPENAI_API_KEY "
        "(OpenAI API key) are returned in the props of getServerSideProps"
    )


FLOW_PAGE = """\
import Chat, { Panel } from '@/components/Chat';
import { Chat2 } from '@/components';
import * as UI from '@/components/Chat';
import { ServerBox } from '@/components/ServerBox';
import { llm } from '@/lib/llm';
import { env } from '@/lib/env';
import dynamic from 'next/dynamic';
const Lazy = dynamic(() => import('@/components/Chat'));
const { STRIPE_SECRET_KEY: stripe } = process.env;
export default async function Page() {
  const key = process.env.OPENAI_API_KEY ?? '';
  const cfg = { auth: { token: process.env.GITHUB_TOKEN }, region: 'eu' };
  return (
    <main>
      <Chat x={key.trim()} />
      <Panel y={`Bearer ${process.env.OPENAI_API_KEY}`} />
      <Chat2 z={stripe} />
      <UI.Panel w={cfg.auth} />
      <Lazy v={llm.apiKey} />
      <Chat k={env.OPENAI_API_KEY} />
      <Chat region={cfg.region} model={llm.model} site={env.NEXT_PUBLIC_SITE} />
      <Chat hasKey={Boolean(process.env.OPENAI_API_KEY)} on={!!process.env.OPENAI_API_KEY} n={process.env.OPENAI_API_KEY?.length} />
      <Chat label={process.env.OPENAI_API_KEY ? 'on' : 'off'} same={process.env.OPENAI_API_KEY === 'x'} />
      <Chat ask={async (q: string) => { 'use server'; return q + process.env.OPENAI_API_KEY; }} />
      <ServerBox apiKey={process.env.OPENAI_API_KEY} />
      <meta name="k" content={process.env.OPENAI_API_KEY} />
      <Chat>{process.env.GITHUB_TOKEN}</Chat>
      <Chat hashed={hash(process.env.OPENAI_API_KEY)} />
    </main>
  );
}
function hash(value?: string) { return String(value?.length); }
"""


def test_values_followed_through_bindings_imports_and_re_exports_and_near_misses(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            ".env": f"OPENAI_API_KEY={OPENAI}\n",
            "tsconfig.json": TSCONFIG,
            "components/Chat.tsx": (
                "'use client';\nexport default function Chat(props: any) { return <b />; }\n"
                "export function Panel(props: any) { return <i />; }\n"
            ),
            "components/index.ts": "export { default as Chat2 } from './Chat';\nexport * from './Chat';\n",
            "components/ServerBox.tsx": "export function ServerBox({ apiKey }: { apiKey?: string }) { return <div />; }\n",
            "lib/llm.ts": "export const llm = { apiKey: process.env.OPENAI_API_KEY, model: 'llama3' };\n",
            "lib/env.ts": (
                "import { createEnv } from '@t3-oss/env-nextjs';\n"
                "export const env = createEnv({\n"
                "  server: {}, client: {},\n"
                "  runtimeEnv: { OPENAI_API_KEY: process.env.OPENAI_API_KEY, NEXT_PUBLIC_SITE: process.env.NEXT_PUBLIC_SITE },\n"
                "});\n"
            ),
            "app/flow/page.tsx": FLOW_PAGE,
        },
    )
    found = [(f.path, f.line, f.confidence.value) for f in _findings(app)]
    assert found == [
        ("app/flow/page.tsx", 15, "high"),  # through `key`, a string method
        ("app/flow/page.tsx", 16, "high"),  # a template
        ("app/flow/page.tsx", 17, "medium"),  # destructured from process.env (graded by name: SECRET)
        ("app/flow/page.tsx", 18, "medium"),  # a property of a local object, through a namespace import
        ("app/flow/page.tsx", 19, "high"),  # an exported constant of lib/llm.ts, next/dynamic component
        ("app/flow/page.tsx", 20, "high"),  # a t3-env runtimeEnv entry
        ("app/flow/page.tsx", 26, "high"),  # rendered into a <meta> attribute
        ("app/flow/page.tsx", 27, "medium"),  # children of a client component
        ("app/flow/page.tsx", 28, "medium"),  # through a project function: it may return it
    ]


def test_a_client_component_rendering_another_is_reported_once_as_a_client_read(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "tsconfig.json": TSCONFIG,
            "components/ChatWidget.tsx": CHAT_WIDGET,
            "components/Shell.tsx": (
                "'use client';\nimport { ChatWidget } from './ChatWidget';\n"
                "export const Shell = () => <ChatWidget apiKey={process.env.SHOP_API_KEY ?? ''} baseUrl='/' />;\n"
            ),
        },
    )
    [finding] = _findings(app)
    assert (finding.path, finding.line) == ("components/Shell.tsx", 3)
    assert finding.message == "process.env.SHOP_API_KEY is read in a 'use client' module (name contains KEY)"


def test_props_of_get_static_props_through_a_wrapper_and_a_local_object(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "pages/help.tsx": (
                "export const getStaticProps = withSession(async () => {\n"
                "  const props = { llm: { key: process.env.HELP_API_KEY } };\n"
                "  await fetch('https://llm.example/v1', { headers: { a: process.env.HELP_SECRET! } });\n"
                "  if (!process.env.HELP_TOKEN) return { notFound: true };\n"
                "  return { props, revalidate: 60 };\n"
                "});\n"
                "export default function Help() { return <p>help</p>; }\n"
            ),
        },
    )
    assert [(f.path, f.line, f.column) for f in _findings(app)] == [("pages/help.tsx", 5, 12)]


PAGES_CHAT = """\
import type { GetServerSideProps } from 'next';
import { Footer } from '@/components/Footer';
const MODULE_KEY = process.env.SUPPORT_API_KEY;
export const getServerSideProps: GetServerSideProps = async () => {
  const res = await fetch('https://llm.example/v1', { headers: { a: process.env.OPENAI_API_KEY! } });
  return { props: { ok: res.ok, page: <b>{process.env.GITHUB_TOKEN}</b> } };
};
export async function getStaticPaths() { return { paths: [<i key={1}>{process.env.GITHUB_TOKEN}</i>], fallback: false }; }
export default function Chat({ ok }: { ok: boolean }) {
  const key = process.env.OPENAI_API_KEY;
  const on = Boolean(process.env.STRIPE_SECRET_KEY);
  return (
    <main data-key={key}>
      <p>{key ? 'configured' : 'missing'}</p>
      <p>{key === 'x'} {key?.length} {on} {!!process.env.STRIPE_SECRET_KEY}</p>
      <li key={process.env.GITHUB_TOKEN} onClick={() => alert(process.env.GITHUB_TOKEN)}>x</li>
      <Footer token={MODULE_KEY} />
      <p>{key}</p>
    </main>
  );
}
"""


def test_a_pages_router_page_rendering_a_secret_read_in_its_body_is_reported_at_the_read(tmp_path: Path) -> None:
    # Checked on a real Next 15.5 build: `const key = process.env.X; return <p data-k={key}>` in pages/about.jsx
    # put the key into .next/server/pages/about.html (and out/about.html with output: 'export').
    app = _app(
        tmp_path,
        {
            ".env": f"OPENAI_API_KEY={OPENAI}\n",
            "tsconfig.json": TSCONFIG,
            "pages/chat.tsx": PAGES_CHAT,
            "components/Footer.tsx": (
                "export function Footer({ token }: { token?: string }) {\n"
                "  return <footer title={process.env.FOOTER_SECRET}>{token ? 'x' : 'y'}</footer>;\n"
                "}\n"
            ),
            "pages/api/chat.ts": "export default (req: any, res: any) => res.json({ k: process.env.OPENAI_API_KEY });\n",
        },
    )
    found = [(f.path, f.line, f.column, f.severity, f.confidence.value) for f in _findings(app)]
    assert found == [
        ("components/Footer.tsx", 2, 25, Severity.HIGH, "medium"),  # a component the page renders
        ("pages/chat.tsx", 3, 20, Severity.HIGH, "medium"),  # passed to <Footer>: it may not render it
        ("pages/chat.tsx", 10, 15, Severity.CRITICAL, "high"),  # at the read, rendered twice
    ]
    by_line = {f.line: f for f in _findings(app) if f.path == "pages/chat.tsx"}
    assert by_line[10].message == (
        "process.env.OPENAI_API_KEY (through `key`) as `data-key` (OpenAI API key) is rendered into <main> by a "
        "Pages Router page: Next renders it on the server (SSR/SSG) with the real value into the HTML it sends, "
        "though the browser bundle reads undefined"
    )
    assert by_line[3].message == (
        "process.env.SUPPORT_API_KEY (through `MODULE_KEY`) as `token` (name contains KEY) is passed to <Footer> "
        "by a Pages Router page: what <Footer> renders of it on the server (SSR/SSG) goes into the HTML with the "
        "real value, though the browser bundle reads undefined"
    )
    assert OPENAI not in repr([f.to_dict() for f in _findings(app)])


def test_get_initial_props_returning_a_secret_is_reported_but_not_in_document(tmp_path: Path) -> None:
    app = _app(
        tmp_path,
        {
            "pages/legacy.tsx": (
                "function Legacy() { return <p>legacy</p>; }\n"
                "Legacy.getInitialProps = withAuth(async () => {\n"
                "  return { cfg: { key: process.env.LEGACY_API_KEY }, flag: !!process.env.OTHER_SECRET };\n"
                "});\n"
                "export default Legacy;\n"
            ),
            "pages/old.tsx": (
                "export default class Old extends React.Component {\n"
                "  static async getInitialProps() {\n"
                "    const token = process.env.OLD_TOKEN;\n"
                "    return { token };\n"
                "  }\n"
                "  render() { return <p>old</p>; }\n"
                "}\n"
            ),
            "pages/_app.tsx": (
                "function ShopApp({ Component, pageProps }: any) { return <Component {...pageProps} />; }\n"
                "ShopApp.getInitialProps = async () => ({ pageProps: {}, shop: process.env.SHOP_SECRET });\n"
                "export default ShopApp;\n"
            ),
            "pages/_document.tsx": (
                "import Document, { Html, Head, Main, NextScript } from 'next/document';\n"
                "export default class ShopDocument extends Document {\n"
                "  static async getInitialProps(ctx: any) {\n"
                "    const initial = await Document.getInitialProps(ctx);\n"
                "    return { ...initial, nonce: process.env.CSP_SECRET };\n"
                "  }\n"
                "  render() { return <Html><Head /><body><Main /><NextScript /></body></Html>; }\n"
                "}\n"
            ),
        },
    )
    found = _findings(app)
    assert [(f.path, f.line, f.column) for f in found] == [
        ("pages/_app.tsx", 2, 63),
        ("pages/legacy.tsx", 3, 24),
        ("pages/old.tsx", 4, 14),
    ]
    assert found[1].message == (
        "process.env.LEGACY_API_KEY (name contains KEY) is returned in the props of getInitialProps: Next sends "
        "page props to the browser (__NEXT_DATA__ in the HTML, /_next/data/….json)"
    )
