"""LL015 beyond the fixture pair: Pages Router data fetching, Clerk / Supabase / NextAuth shapes,
tagged SQL, KV keys, in-memory arrays, and what the message says about authentication."""

from __future__ import annotations

from pathlib import Path

import pytest

from leakline.scan.engine import scan
from leakline.scan.rules.ll015 import has_access_hint
from tests.scan.annotations import expected_findings

PACKAGE = '{"dependencies":{"next":"15.1.0"}}'


def _app(root: Path, files: dict[str, str]) -> Path:
    for rel, text in {"package.json": PACKAGE, **files}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def _hits(app: Path) -> list[tuple[str, int, str]]:
    result = scan(app, rule_ids=["LL015"])
    assert result.stats.rule_errors == []
    return [(f.path, f.line, f.message) for f in result.findings]


def _places(app: Path) -> list[tuple[str, int]]:
    return [(path, line) for path, line, _ in _hits(app)]


def test_get_server_side_props_with_mongoose_model(tmp_path: Path) -> None:
    vulnerable = (
        "import { Conversation } from '../../models';\n"
        "export async function getServerSideProps(context) {\n"
        "  const id = context.params.id;\n"
        "  const conversation = await Conversation.findById(id).lean();\n"
        "  return { props: { conversation } };\n"
        "}\n"
        "export default function Page() { return null; }\n"
    )
    safe = (
        "import { getSession } from 'next-auth/react';\n"
        "import { Conversation } from '../../models';\n"
        "export async function getServerSideProps(context) {\n"
        "  const session = await getSession(context);\n"
        "  const conversation = await Conversation.findById(context.params.id).lean();\n"
        "  if (!session || conversation.ownerId.toString() !== session.user.id) return { notFound: true };\n"
        "  return { props: { conversation } };\n"
        "}\n"
        "export default function Page() { return null; }\n"
    )
    hits = _hits(_app(tmp_path / "v", {"pages/chats/[id].tsx": vulnerable}))
    assert [(p, line) for p, line, _ in hits] == [("pages/chats/[id].tsx", 4)]
    assert hits[0][2].endswith("no authentication check and no ownership comparison")
    assert _hits(_app(tmp_path / "s", {"pages/chats/[id].tsx": safe})) == []


def test_clerk_user_id_in_the_where_clause_is_an_ownership_check(tmp_path: Path) -> None:
    page = (
        "import { auth } from '@clerk/nextjs/server';\n"
        "import { prisma } from '../../../lib/prisma';\n"
        "export default async function Page({ params }) {\n"
        "  const { userId } = await auth();\n"
        "  const chat = await prisma.chat.findFirst({ where: { id: params.id%s } });\n"
        "  return <p>{chat?.title}</p>;\n"
        "}\n"
    )
    assert _places(_app(tmp_path / "s", {"app/chat/[id]/page.tsx": page % ", userId"})) == []
    hits = _hits(_app(tmp_path / "v", {"app/chat/[id]/page.tsx": page % ""}))
    assert [(p, line) for p, line, _ in hits] == [("app/chat/[id]/page.tsx", 5)]
    assert "authenticated, but the record's owner is never compared" in hits[0][2]


def test_supabase_chain_with_and_without_the_owner_filter(tmp_path: Path) -> None:
    route = (
        "import { createClient } from '@/utils/supabase/server';\n"
        "export async function GET(req, { params }) {\n"
        "  const supabase = await createClient();\n"
        "  const { data: { user } } = await supabase.auth.getUser();\n"
        "  const { id } = await params;\n"
        "  const { data } = await supabase\n"
        "    .from('conversations')\n"
        "    .select('*')\n"
        "    .eq('id', id)%s\n"
        "    .single();\n"
        "  return Response.json(data);\n"
        "}\n"
    )
    rel = "app/api/conversations/[id]/route.ts"
    assert _places(_app(tmp_path / "s", {rel: route % "\n    .eq('user_id', user.id)"})) == []
    assert _places(_app(tmp_path / "v", {rel: route % ""})) == [(rel, 6)]


def test_nextauth_route_wrapper_with_owner_comparison(tmp_path: Path) -> None:
    route = (
        "import { auth } from '@/auth';\n"
        "import { db } from '@/lib/db';\n"
        "export const GET = auth(async function GET(req, { params }) {\n"
        "  const summary = await db.summary.findUnique({ where: { id: (await params).id } });\n"
        "  if (summary?.authorId !== req.auth?.user?.id) return new Response(null, { status: 404 });\n"
        "  return Response.json(summary);\n"
        "});\n"
    )
    assert _places(_app(tmp_path, {"app/api/summaries/[id]/route.ts": route})) == []


def test_tagged_sql_and_kv_keys_with_request_ids(tmp_path: Path) -> None:
    route = (
        "import { sql } from '@vercel/postgres';\n"
        "import { kv } from '@vercel/kv';\n"
        "export async function GET(req) {\n"
        "  const id = new URL(req.url).searchParams.get('chat');\n"
        "  const { rows } = await sql`SELECT role, content FROM chat_messages WHERE chat_id = ${id}`;\n"
        "  const cached = await kv.get('answer:' + id);\n"
        "  const settings = await kv.get(`settings:${id}`);\n"
        "  return Response.json({ rows, cached, settings });\n"
        "}\n"
    )
    assert _places(_app(tmp_path, {"app/api/history/route.ts": route})) == [
        ("app/api/history/route.ts", 5),
        ("app/api/history/route.ts", 6),
    ]


def test_arrays_maps_and_ids_not_from_the_request_are_not_findings(tmp_path: Path) -> None:
    page = (
        "import { prisma } from '@/lib/prisma';\n"
        "import { auth } from '@/auth';\n"
        "export default async function Page({ searchParams }) {\n"
        "  const session = await auth();\n"
        "  const mine = await prisma.conversation.findMany({ where: { userId: session.user.id } });\n"
        "  const picked = mine.find((c) => c.id === searchParams.id);\n"
        "  const drafts = new Map();\n"
        "  const draft = drafts.get(searchParams.id);\n"
        "  const latest = await prisma.message.findFirst({ where: { id: FEATURED_ID } });\n"
        "  const pinned = await db.query.chats.findFirst({ where: eq(chats.pinned, true) });\n"
        "  return <p>{picked?.title}{draft}{latest?.content}{pinned?.title}</p>;\n"
        "}\n"
    )
    assert _places(_app(tmp_path, {"app/history/page.tsx": page})) == []


def test_helpers_outside_routes_are_not_judged(tmp_path: Path) -> None:
    helper = "export async function getChat(req) { return prisma.chat.findUnique({ where: { id: req.query.id } }); }\n"
    assert _places(_app(tmp_path, {"lib/chats.ts": helper})) == []


def test_search_params_prop_of_a_page(tmp_path: Path) -> None:
    page = (
        "import { getConversation } from './data';\n"
        "export default async function Page(props) {\n"
        "  const sp = await props.searchParams;\n"
        "  const conversation = await getConversation(sp.id);\n"
        "  return <p>{conversation.title}</p>;\n"
        "}\n"
    )
    data = "export async function getConversation(id) { return null; }\n"
    assert _places(_app(tmp_path, {"app/share/page.tsx": page, "app/share/data.ts": data})) == [
        ("app/share/page.tsx", 4)
    ]


def test_sharded_run_finds_the_same_as_a_single_process(tmp_path: Path) -> None:
    fixture = Path(__file__).resolve().parent.parent / "fixtures" / "rules" / "LL015" / "vulnerable"
    single = scan(fixture, rule_ids=["LL015"], jobs=1)
    sharded = scan(fixture, rule_ids=["LL015"], jobs=3)
    assert sharded.stats.rule_errors == []
    assert [(f.path, f.line, f.message) for f in sharded.findings] == [
        (f.path, f.line, f.message) for f in single.findings
    ]
    assert {(f.path, f.line) for f in single.findings} == expected_findings(fixture, "LL015")


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        (b"await prisma.conversation.findUnique({ where: { id } })", True),
        (b"db.query.chats\n    .findFirst({ where: eq(chats.id, id) })", True),
        (b"Conversation.findById(id)", True),
        (b"supabase.from('conversations').select('*')", True),
        (b"db.select().from(schema.chatMessages)", True),
        (b'pool.query("SELECT body FROM order_summaries WHERE id = $1", [id])', True),
        (b"kv.hgetall(`chat:${id}`)", True),
        (b"kv.get('answer:' + id)", True),
        (b"await getChatById({ id })", True),
        (b'return Response.json({ id, message: "order status" });', False),
        (b"const [messages, setMessages] = useState([]);", False),
        (b"throw new Error(error.message);", False),
    ],
)
def test_byte_prefilter_keeps_every_access_shape(snippet: bytes, expected: bool) -> None:
    filler = b"export const pad = 1;\n" * 20
    assert has_access_hint(filler + snippet + filler) is expected
    assert has_access_hint(snippet.upper()) is expected


def test_ids_from_the_request_body_are_user_controlled(tmp_path: Path) -> None:
    route = (
        "import { prisma } from '@/lib/prisma';\n"
        "export async function POST(request: Request) {\n"
        "  const { chatId } = await request.json();\n"
        "  const chat = await prisma.chat.findUnique({ where: { id: chatId } });\n"
        "  return Response.json(chat);\n"
        "}\n"
    )
    api = (
        "import { prisma } from '../../lib/prisma';\n"
        "export default async function handler(req, res) {\n"
        "  const summary = await prisma.summary.findUnique({ where: { id: req.body.id } });\n"
        "  const other = await prisma.summary.findUnique({ where: { id: res.locals.id } });\n"
        "  res.json({ summary, other });\n"
        "}\n"
    )
    app = _app(tmp_path, {"app/api/chat/route.ts": route, "pages/api/summary.ts": api})
    assert _places(app) == [("app/api/chat/route.ts", 4), ("pages/api/summary.ts", 3)]


def test_catalogue_content_read_by_a_slug_is_public(tmp_path: Path) -> None:
    """A product page keyed by the product's slug needs no login (the reviewer's lab2/shop pages); the same
    models read by the owner's id from the URL, and chats read by a slug, are still findings."""
    page = (
        "import { prisma } from '@/lib/prisma';\n"
        "import { getReviewSummary } from '@/lib/summary';\n"
        "export default async function ProductPage({ params }: { params: Promise<{ slug: string }> }) {\n"
        "  const { slug } = await params;\n"
        "  const recs = await prisma.productRecommendation.findMany({ where: { productSlug: slug }, take: 4 });\n"
        "  const faq = await prisma.faqAnswer.findMany({ where: { productSlug: slug } });\n"
        "  const summary = await getReviewSummary(slug);\n"
        "  const byId = await prisma.faqAnswer.findUnique({ where: { id: (await params).slug } });\n"
        "  return <main>{summary}{recs.length}{faq.length}{byId?.text}</main>;\n"
        "}\n"
    )
    summary = (
        "import { unstable_cache } from 'next/cache';\n"
        "async function summarize(slug: string) { return slug; }\n"
        "export const getReviewSummary = unstable_cache(summarize, ['review-summary'], { revalidate: 3600 });\n"
    )
    personal = (
        "import { prisma } from '@/lib/prisma';\n"
        "export default async function Page({ params }) {\n"
        "  const { slug, userId, id } = await params;\n"
        "  const chat = await prisma.chat.findUnique({ where: { slug } });\n"
        "  const mine = await prisma.productRecommendation.findMany({ where: { userId: userId } });\n"
        "  const rec = await prisma.recommendation.findUnique({ where: { id } });\n"
        "  const promptBySlug = await prisma.prompt.findFirst({ where: { slug } });\n"
        "  const promptById = await prisma.prompt.findFirst({ where: { id } });\n"
        "  return <p>{chat?.title}{mine.length}{rec?.text}{promptBySlug?.text}{promptById?.text}</p>;\n"
        "}\n"
    )
    app = _app(
        tmp_path,
        {
            "app/products/[slug]/page.tsx": page,
            "lib/summary.ts": summary,
            "app/u/[userId]/[slug]/[id]/page.tsx": personal,
        },
    )
    assert _places(app) == [
        ("app/u/[userId]/[slug]/[id]/page.tsx", 4),
        ("app/u/[userId]/[slug]/[id]/page.tsx", 5),
        ("app/u/[userId]/[slug]/[id]/page.tsx", 6),
        ("app/u/[userId]/[slug]/[id]/page.tsx", 8),
    ]


@pytest.mark.parametrize(
    ("subject", "keys", "expected"),
    [
        ("prisma.productRecommendation", {"slug"}, True),
        ("prisma.faqAnswer", {"id"}, True),
        ("getReviewSummary", {"id"}, True),
        ("prisma.summary", {"productSlug"}, True),
        ("prisma.summary", {"articleId"}, True),
        ("prisma.summary", {"slug", "id"}, False),
        ("prisma.summary", {"id"}, False),
        ("prisma.summary", set(), False),
        ("order_summaries", {"id"}, False),
        ("prisma.productChat", {"slug"}, False),
        ("prisma.chatSummary", {"slug"}, False),
        ("localStorage", {"slug"}, False),
    ],
)
def test_catalogue_content_decision(subject: str, keys: set[str], expected: bool) -> None:
    from leakline.scan.rules.ll015 import is_catalogue_content

    assert is_catalogue_content(subject, keys) is expected
