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


# vercel/ai-chatbot's `removeChat` as published (the reviewer's `up` app), with the owner's variable renamed.
REMOVE_CHAT = (
    "'use server'\n"
    "import { revalidatePath } from 'next/cache'\n"
    "import { kv } from '@vercel/kv'\n"
    "import { auth } from '@/auth'\n"
    "export async function removeChat({ id, path }: { id: string; path: string }) {\n"
    "  const session = await auth()\n"
    "  if (!session) {\n"
    "    return { error: 'Unauthorized' }\n"
    "  }\n"
    "  const NAME = await kv.hget<string>(`chat:${id}`, 'userId')\n"
    "  if (NAME !== session?.user?.id) {\n"
    "    return { error: 'Unauthorized' }\n"
    "  }\n"
    "  await kv.del(`chat:${id}`)\n"
    "  revalidatePath('/')\n"
    "  return revalidatePath(path)\n"
    "}\n"
)


@pytest.mark.parametrize("name", ["uid", "ownerId", "x"])
def test_upstream_remove_chat_reads_only_the_owner(tmp_path: Path, name: str) -> None:
    """Reading who owns a chat is how an owner check starts: reported high on every fork of the template."""
    assert _hits(_app(tmp_path, {"app/actions.ts": REMOVE_CHAT.replace("NAME", name)})) == []


def test_a_single_field_that_is_content_is_still_a_read_of_the_chat(tmp_path: Path) -> None:
    action = REMOVE_CHAT.replace("NAME", "title").replace("'userId')", "'title')")
    hits = _hits(_app(tmp_path, {"app/actions.ts": action}))
    assert hits == [
        (
            "app/actions.ts",
            10,
            "stored AI content (kv.hget(chat:…)) is read with a user-controlled id: the request is authenticated, "
            "but the record's owner is never compared with the session user",
        )
    ]


@pytest.mark.parametrize("name", ["uid", "who", "x"])
def test_an_owner_read_compared_with_the_session_guards_the_content_read(tmp_path: Path, name: str) -> None:
    action = (
        "'use server'\n"
        "import { kv } from '@vercel/kv'\n"
        "import { auth } from '@/auth'\n"
        "export async function loadChat(id: string) {\n"
        "  const session = await auth()\n"
        f"  const {name} = await kv.hget<string>(`chat:${{id}}`, 'userId')\n"
        "  if (%s) return null\n"
        "  return kv.hgetall(`chat:${id}`)\n"
        "}\n"
    )
    compared = f"!session?.user || {name} !== session.user.id"
    assert _hits(_app(tmp_path / "s", {"app/actions.ts": action % compared})) == []
    # near misses: the owner only checked to exist, or compared with what the caller sent
    assert _places(_app(tmp_path / "v1", {"app/actions.ts": action % f"!{name}"})) == [("app/actions.ts", 8)]
    caller = _hits(_app(tmp_path / "v2", {"app/actions.ts": action % f"{name} !== id"}))
    assert caller == [
        (
            "app/actions.ts",
            8,
            "stored AI content (kv.hgetall(chat:…)) is read with a user-controlled id: the request is authenticated, "
            "but the record's owner is compared only with `id`, a value the caller supplies, not the session "
            "user's id",
        )
    ]


@pytest.mark.parametrize(
    ("read", "owner_only"),
    [
        ("prisma.chat.findUnique({ where: { id }, select: { userId: true } })", True),
        ("prisma.chat.findUnique({ where: { id }, select: { userId: true, title: true } })", False),
        ("prisma.chat.findUnique({ where: { id }, include: { messages: { select: { userId: true } } } })", False),
        ("supabase.from('chats').select('user_id').eq('id', id).single()", True),
        ("supabase.from('chats').select('user_id, title').eq('id', id).single()", False),
        ("sql`SELECT user_id FROM chats WHERE id = ${id}`", True),
        ("sql`SELECT user_id, content FROM chats WHERE id = ${id}`", False),
        ("db.select({ userId: chats.userId }).from(chats).where(eq(chats.id, id))", True),
        ("db.select({ userId: chats.userId, title: chats.title }).from(chats).where(eq(chats.id, id))", False),
        ("kv.hmget(`chat:${id}`, 'userId', 'ownerId')", True),
        ("kv.hmget(`chat:${id}`, 'userId', 'messages')", False),
    ],
)
def test_reads_of_the_owner_alone_in_every_store(tmp_path: Path, read: str, owner_only: bool) -> None:
    route = (
        "import { auth } from '@/auth'\n"
        "export async function DELETE(req: Request, { params }: { params: Promise<{ id: string }> }) {\n"
        "  const session = await auth()\n"
        "  const { id } = await params\n"
        f"  const row = await {read}\n"
        "  return Response.json(row)\n"
        "}\n"
    )
    rel = "app/api/chats/[id]/route.ts"
    assert _places(_app(tmp_path, {rel: route})) == ([] if owner_only else [(rel, 5)])


# The 2023 ai-chatbot template (the reviewer's `legacy` app), trimmed: its helpers trust a caller-supplied userId.
LEGACY_ACTIONS = (
    '"use server";\n'
    'import { kv } from "@vercel/kv";\n'
    "export async function getChats(userId?: string | null) {\n"
    "  if (!userId) {\n"
    "    return [];\n"
    "  }\n"
    "  const chats: string[] = await kv.zrange(`user:chat:${userId}`, 0, -1, { rev: true });\n"
    "  return chats;\n"
    "}\n"
    "export async function getChat(id: string, userId: string) {\n"
    "  const chat = await kv.hgetall<Chat>(`chat:${id}`);\n"
    "  if (!chat || (userId && chat.userId !== userId)) {\n"
    "    return null;\n"
    "  }\n"
    "  return chat;\n"
    "}\n"
    "export async function getSharedChat(id: string) {\n"
    "  const chat = await kv.hgetall<Chat>(`chat:${id}`);\n"
    "  if (!chat || !chat.sharePath) {\n"
    "    return null;\n"
    "  }\n"
    "  return chat;\n"
    "}\n"
)
LEGACY_SHARE_PAGE = (
    "import { notFound } from 'next/navigation'\n"
    "import { getSharedChat } from '@/app/actions'\n"
    "export async function generateMetadata({ params }) {\n"
    "  const chat = await getSharedChat(params.id)\n"
    "  return { title: chat?.title.slice(0, 50) ?? 'Chat' }\n"
    "}\n"
    "export default async function SharePage({ params }) {\n"
    "  const chat = await getSharedChat(params.id)\n"
    "  if (!chat || !chat?.sharePath) {\n"
    "    notFound()\n"
    "  }\n"
    "  return <h1>{chat.title}</h1>\n"
    "}\n"
)
TSCONFIG = '{"compilerOptions":{"baseUrl":".","paths":{"@/*":["./*"]}}}'


def test_legacy_template_caller_supplied_user_ids_say_what_they_trust(tmp_path: Path) -> None:
    """getChats / getChat are true positives; the messages say that their owner check trusts the caller, and
    the share link (getSharedChat, its page and its generateMetadata) is not reported at all."""
    app = _app(
        tmp_path,
        {"tsconfig.json": TSCONFIG, "app/actions.ts": LEGACY_ACTIONS, "app/share/[id]/page.tsx": LEGACY_SHARE_PAGE},
    )
    prefix = "stored AI content (kv.{}(user:chat:…)) is read with a user-controlled id: no authentication check, and "
    assert _hits(app) == [
        (
            "app/actions.ts",
            7,
            prefix.format("zrange")
            + "the records are selected by an owner id (`userId`) that the caller supplies, not the session user's id",
        ),
        (
            "app/actions.ts",
            11,
            prefix.format("hgetall").replace("user:chat:", "chat:")
            + "the record's owner is compared only with `userId`, a value the caller supplies, not the session "
            "user's id",
        ),
    ]


@pytest.mark.parametrize(
    ("gate", "published"),
    [
        ("if (!chat || !chat.sharePath) return null", True),
        ("if (!chat?.sharePath) { notFound() }", True),
        ("if (chat?.isPublic === false) notFound()", True),
        ("if (chat.published !== true) throw new Error('not found')", True),
        ("if (chat?.visibility !== 'public') return new Response(null, { status: 404 })", True),
        ("if (chat.visibility === 'private') return { notFound: true }", True),
        ("if (!chat) return null", False),
        ("if (preview && !chat.sharePath) return null", False),
        ("if (!chat.sharePath) console.warn('unshared chat served')", False),
        ("if (!other.sharePath) return null", False),
        ("if (chat.visibility !== 'private') return null", False),
        ("if (chat.isPublic) return null", False),
    ],
)
def test_publication_gates(tmp_path: Path, gate: str, published: bool) -> None:
    route = (
        "import { notFound } from 'next/navigation'\n"
        "import { kv } from '@vercel/kv'\n"
        "export async function GET(req, { params }) {\n"
        "  const { id } = await params\n"
        "  const { preview, other } = await req.json()\n"
        "  const chat = await kv.hgetall(`chat:${id}`)\n"
        f"  {gate}\n"
        "  return Response.json(chat)\n"
        "}\n"
    )
    rel = "app/api/share/[id]/route.ts"
    assert _places(_app(tmp_path, {rel: route})) == ([] if published else [(rel, 6)])


def test_share_links_are_reported_at_the_helper_not_at_each_caller(tmp_path: Path) -> None:
    unshared = LEGACY_ACTIONS.replace("!chat || !chat.sharePath", "!chat")
    page = LEGACY_SHARE_PAGE.replace("  if (!chat || !chat?.sharePath) {\n    notFound()\n  }\n", "")
    # a server action is judged on its own: reported there once, not again in the page and its metadata
    action_app = _app(
        tmp_path / "action", {"tsconfig.json": TSCONFIG, "app/actions.ts": unshared, "app/share/[id]/page.tsx": page}
    )
    assert _places(action_app) == [("app/actions.ts", 7), ("app/actions.ts", 11), ("app/actions.ts", 18)]
    # a plain helper is not judged itself: its callers are, unless it gives up on an unshared chat
    helper = unshared.replace('"use server";\n', "").replace("@/app/actions", "@/lib/chats")
    lib_page = page.replace("@/app/actions", "@/lib/chats")
    files = {"tsconfig.json": TSCONFIG, "lib/chats.ts": helper, "app/share/[id]/page.tsx": lib_page}
    assert _places(_app(tmp_path / "lib", files)) == [("app/share/[id]/page.tsx", 4), ("app/share/[id]/page.tsx", 8)]
    shared = LEGACY_ACTIONS.replace('"use server";\n', "")
    assert _places(_app(tmp_path / "gated", {**files, "lib/chats.ts": shared})) == []


# The reviewer's `gc` app (vercel-labs/gemini-chatbot), trimmed: a reservation is written from a tool call's
# arguments (the passenger's name) and a model-made price, then served by the id in the query string.
GC_ACTIONS = (
    'import { generateObject } from "ai";\n'
    'import { google } from "@ai-sdk/google";\n'
    'import { z } from "zod";\n'
    "export async function generateReservationPrice(props: { seats: string[]; passengerName: string }) {\n"
    "  const { object: reservation } = await generateObject({\n"
    '    model: google("gemini-1.5-flash"),\n'
    "    prompt: `Generate price for the following reservation ${JSON.stringify(props)}`,\n"
    "    schema: z.object({ totalPriceInUSD: z.number() }),\n"
    "  });\n"
    "  return reservation;\n"
    "}\n"
)
GC_CHAT = (
    'import { streamText } from "ai";\n'
    'import { google } from "@ai-sdk/google";\n'
    'import { z } from "zod";\n'
    'import { generateReservationPrice } from "@/ai/actions";\n'
    'import { auth } from "@/auth";\n'
    'import { createReservation, createInvoice } from "@/db/queries";\n'
    "export async function POST(request: Request) {\n"
    "  const { messages } = await request.json();\n"
    "  const result = await streamText({\n"
    '    model: google("gemini-1.5-pro"),\n'
    "    messages,\n"
    "    tools: {\n"
    "      createReservation: {\n"
    "        parameters: z.object({ seats: z.string().array(), passengerName: z.string() }),\n"
    "        execute: async (props) => {\n"
    "          const { totalPriceInUSD } = await generateReservationPrice(props);\n"
    "          const session = await auth();\n"
    "          const id = crypto.randomUUID();\n"
    "          await createReservation({ id, userId: session.user.id, details: { ...props, totalPriceInUSD } });\n"
    "          await createInvoice({ id, userId: session.user.id, currency: 'USD' });\n"
    "          return { id };\n"
    "        },\n"
    "      },\n"
    "    },\n"
    "  });\n"
    "  return result.toDataStreamResponse();\n"
    "}\n"
)
GC_QUERIES = (
    'import { prisma } from "@/db/client";\n'
    "export async function createReservation({ id, userId, details }) {\n"
    "  return prisma.reservation.create({ data: { id, userId, details } });\n"
    "}\n"
    "export async function getReservationById({ id }: { id: string }) {\n"
    "  return prisma.reservation.findUnique({ where: { id } });\n"
    "}\n"
    "export async function createInvoice({ id, userId, currency }) {\n"
    "  return prisma.invoice.create({ data: { id, userId, currency } });\n"
    "}\n"
    "export async function getInvoiceById({ id }: { id: string }) {\n"
    "  return prisma.invoice.findUnique({ where: { id } });\n"
    "}\n"
)
GC_RESERVATION = (
    'import { getReservationById, getInvoiceById } from "@/db/queries";\n'
    "export async function GET(request: Request) {\n"
    "  const { searchParams } = new URL(request.url);\n"
    '  const id = searchParams.get("id");\n'
    "  const session = { user: { id: 'demo-user' } };\n"
    "  const reservation = await getReservationById({ id });\n"
    "  const invoice = await getInvoiceById({ id });\n"
    "  return Response.json({ reservation, invoice });\n"
    "}\n"
)


def test_records_written_with_llm_data_are_stored_ai_content(tmp_path: Path) -> None:
    """LL015 knew only a fixed list of words (chat, message, summary...): a reservation holding the passenger's
    name and a model-made price was served to anyone with its id. The invoice, written without LLM data, is the
    near miss."""
    from tests.scan.apps import write_app

    app = write_app(
        tmp_path,
        {
            "ai/actions.ts": GC_ACTIONS,
            "app/(chat)/api/chat/route.ts": GC_CHAT,
            "db/queries.ts": GC_QUERIES,
            "db/client.ts": "export const prisma = {};\n",
            "app/(chat)/api/reservation/route.ts": GC_RESERVATION,
        },
    )
    assert _hits(app) == [
        (
            "app/(chat)/api/reservation/route.ts",
            6,
            "stored AI content (getReservationById: reservation records are written with LLM data at "
            "app/(chat)/api/chat/route.ts:19) is read with a user-controlled id: no authentication check and no "
            "ownership comparison",
        )
    ]


@pytest.mark.parametrize(
    ("written", "read", "reported"),
    [
        ("booking", "booking", True),
        ("flightBooking", "flightBooking", True),
        ("booking", "invoice", False),  # the near miss: no LLM data is written to an invoice
        ("product", "product", False),  # catalogue content: an AI blurb on a product page is meant for everyone
        ("data", "data", False),  # too generic to name a kind of record
        # `openai.beta.threads.runs.create` in the route is the model call itself, not a write of runs
        ("booking", "run", False),
    ],
)
def test_which_written_records_count(tmp_path: Path, written: str, read: str, reported: bool) -> None:
    from tests.scan.apps import write_app

    route = (
        'import OpenAI from "openai";\n'
        'import { prisma } from "@/lib/db";\n'
        "const openai = new OpenAI();\n"
        "export async function POST(req: Request) {\n"
        "  const { note } = await req.json();\n"
        "  const completion = await openai.chat.completions.create({ model: 'x', messages: [{ role: 'user', "
        "content: note }] });\n"
        f"  await prisma.{written}.create({{ data: {{ text: completion.choices[0].message.content }} }});\n"
        "  await openai.beta.threads.runs.create('t', { assistant_id: 'a', instructions: note });\n"
        "  return Response.json({ ok: true });\n"
        "}\n"
    )
    page = (
        'import { prisma } from "@/lib/db";\n'
        "export default async function Page({ params }) {\n"
        "  const { id } = await params;\n"
        f"  const row = await prisma.{read}.findUnique({{ where: {{ id }} }});\n"
        "  return <p>{row?.text}</p>;\n"
        "}\n"
    )
    files = {"app/api/x/route.ts": route, "app/x/[id]/page.tsx": page, "lib/db.ts": "export const prisma = {};\n"}
    assert _places(write_app(tmp_path, files)) == ([("app/x/[id]/page.tsx", 4)] if reported else [])


def test_search_params_destructured_from_the_url_are_user_controlled(tmp_path: Path) -> None:
    route = (
        "import { kv } from '@vercel/kv';\n"
        "export async function GET(request: Request) {\n"
        "  const { searchParams } = new URL(request.url);\n"
        "  const { query: q } = { query: searchParams };\n"
        "  const chat = await kv.hgetall(`chat:${searchParams.get('id')}`);\n"
        "  const other = await kv.hgetall(`chat:${q.get('id')}`);\n"
        "  const { userId } = await getDefaults();\n"
        "  const mine = await kv.hgetall(`chat:${userId}`);\n"
        "  return Response.json({ chat, other, mine });\n"
        "}\n"
    )
    rel = "app/api/chat/route.ts"
    assert _places(_app(tmp_path, {rel: route})) == [(rel, 5), (rel, 6)]
