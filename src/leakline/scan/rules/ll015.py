"""LL015: stored AI content served by a user-controlled id without authentication or ownership check.

An insecure direct object reference on what the assistant produced: a page, route handler, API
route or server action reads a conversation, chat, message, summary, recommendation, completion,
answer or transcript (an ORM model or table with such a name, a SQL `FROM` clause, a KV key like
`chat:${id}`, or a project function such as `getChatById`) — or any kind of record the project writes
LLM data to (`createReservation({ details: { ...toolArgs, modelPrice } })` makes `getReservationById` one) —
with an id taken from the request
(`params` — also `await params` in Next 15 —, `searchParams`, `req.query`, the request body, a
server action's arguments), and nothing in the same function ties the record to the signed-in user: no
authentication call (`auth()`, `getServerSession`, `currentUser`, Supabase `getUser`, a verified
JWT or session cookie) or no ownership check (the session user's id in the query, or compared with
the record's owner field or with a variable holding the owner). Reported at the line of the data access.

Not reported: reads of the owner alone (`kv.hget(`chat:${id}`, 'userId')`, `select: { userId: true }`), which
start an owner check; share links, whose read gives up unless the record was published (`if (!chat.sharePath)
return null`); and calls of a project function that is judged on its own (a server action) or whose every read
has such a publication gate.

The analysis is per function and name-based: a name is user-controlled (or a session value) if any
declaration in that function binds it from a user-controlled (session) expression.
"""

from __future__ import annotations

import re
import weakref
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from tree_sitter import Node

from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.index import ProjectIndex, SourceFile
from leakline.scan.keywords import Expressions, Keywords, Prefilter
from leakline.scan.rules.base import Hit, Rule

AI_CONTENT = re.compile(
    r"conversation|chat|message|summar(?:y|ies)|recommendation|completion|answer|transcript|prompt|repl(?:y|ies)",
    re.IGNORECASE,
)
# Summaries, recommendations, answers, completions and prompts are as often public catalogue content (a
# product's review summary, a FAQ answer, a prompt library) as a customer's own; conversations, chats,
# messages, transcripts and replies are always someone's.
CATALOGUE_CAPABLE = re.compile(r"summar(?:y|ies)|recommendation|completion|answer|prompt", re.IGNORECASE)
PERSONAL_CONTENT = re.compile(r"conversation|chat|message|transcript|repl(?:y|ies)", re.IGNORECASE)
# Words of a model, table or function name, or of an id's name, that say "public catalogue": what a
# storefront shows every visitor (`productRecommendation`, `faqAnswer`, `getReviewSummary`, `productSlug`).
CATALOGUE_WORDS = frozenset(
    {
        "product",
        "item",
        "catalog",
        "catalogue",
        "faq",
        "article",
        "blog",
        "post",
        "review",
        "category",
        "categorie",
        "help",
        "doc",
        "guide",
        "course",
        "lesson",
        "listing",
        "recipe",
        "brand",
    }
)
# A slug (or a SKU) names public content by its title: nobody's record is addressed by one.
CATALOGUE_KEYS = frozenset({"slug", "sku"})
_WORD = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
# `Params` finds `searchParams`; plain `in` tests are much cheaper than a regex over every file.
INPUT_HINTS = (b"params", b"Params", b"query", b"use server", b".json(", b".body", b".formData(")
_INPUT_HINT_SET = Keywords(INPUT_HINTS)
AI_WORDS = (
    b"conversation",
    b"chat",
    b"message",
    b"summar",
    b"recommendation",
    b"completion",
    b"answer",
    b"transcript",
    b"prompt",
    b"repl",
)
_AI = b"(?:" + b"|".join(AI_WORDS) + b")"
# Around each AI word of the lower-cased bytes: a superset of every data access `_Module.access`
# recognises. Files without one are not parsed.
_ACCESS_HINT = re.compile(
    _AI
    + rb"\w*\s*\.\s*(?:find|get|select|aggregate)"  # prisma.conversation.findunique, chat.findbyid
    + rb"|\b(?:from|table|collection|selectfrom|innerjoin|leftjoin)\s*\(\s*[\"'`]?[\w.]*"
    + _AI  # .from('chats'), .from(chats)
    + rb"|\b(?:from|join)\s+[\"'`\[]?[\w.]*"
    + _AI  # SQL
    + rb"|[\"'`][\w:./-]*"
    + _AI
    + rb"[\w./-]*[:/]"  # KV keys: `chat:${id}`
    + rb"|(?:get|load|fetch|find|read|query|select|retrieve)\w*"
    + _AI  # project wrappers: getchatbyid
)
_ACCESS_HINT_SCAN = Prefilter(_ACCESS_HINT.pattern)
HINT_WINDOW = 80


def _ai_word_offsets(lowered: bytes, extra: Iterable[bytes] = ()) -> Iterator[tuple[int, int]]:
    """(start, end) of every AI-content word in lower-cased bytes (plain `find`: much faster than a regex), and of
    the project's own `extra` words (entities written with model output)."""
    for word in (*AI_WORDS, *extra):
        at = lowered.find(word)
        while at >= 0:
            yield at, at + len(word)
            at = lowered.find(word, at + 1)


def has_access_hint(data: bytes) -> bool:
    lowered = data.lower()
    # A match inside a window is a match of the whole bytes (the expression looks at no byte after its match, and
    # the windows' searches read the bytes before them for `\b`): with none anywhere, there is none in a window.
    # Most files that mention AI words have none (a model-calling route's `completions.create(`).
    if _ACCESS_HINT_SCAN.may_match(lowered) is False:
        return False
    # Overlapping windows around nearby AI words are searched once, as one merged window.
    windows = sorted((max(0, start - HINT_WINDOW), end + HINT_WINDOW) for start, end in _ai_word_offsets(lowered))
    merged: list[tuple[int, int]] = []
    for lo, hi in windows:
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return any(_ACCESS_HINT.search(lowered, lo, hi) for lo, hi in merged)


USER_INPUT_PROPS = frozenset({"params", "searchParams", "query"})
# `req.body` (Pages Router), `await req.json()` / `req.formData()` (route handlers)
REQUEST_BODY = frozenset({"body", "json", "formData", "text"})
READ_METHODS = frozenset(
    {
        "findUnique",
        "findUniqueOrThrow",
        "findFirst",
        "findFirstOrThrow",
        "findMany",
        "findById",
        "findOne",
        "find",
        "findByPk",
        "findAll",
        "aggregate",
        "get",
        "select",
    }
)
TABLE_METHODS = frozenset({"from", "table", "collection", "selectFrom", "innerJoin", "leftJoin"})
SQL_METHODS = frozenset({"query", "execute", "$queryRaw", "$queryRawUnsafe", "raw", "all", "prepare"})
KV_METHODS = frozenset({"get", "hget", "hmget", "hgetall", "mget", "lrange", "smembers", "zrange", "getItem"})
_SQL_TABLE = re.compile(r"\b(?:from|join)\s+[\"`'\[]?([A-Za-z_][\w.]*)", re.IGNORECASE)
_WRAPPER_NAME = re.compile(r"^(?:get|load|fetch|find|read|query|select|retrieve)[A-Z_]\w*$")
AUTH_CALLS = frozenset(
    {
        "auth",
        "getServerSession",
        "getServerAuthSession",
        "getSession",
        "currentUser",
        "getUser",
        "getAuth",
        "getToken",
        "getIronSession",
        "validateRequest",
        "verifySession",
        "jwtVerify",
        "getKindeServerSession",
        "getClaims",
        "protect",
    }
)
_AUTH_HELPER = re.compile(
    r"^(?:get|require|verify|validate|check|ensure|read)"
    r"(?:Current|Server|Auth|Signed[Ii]n|Logged[Ii]n|Verified)?(?:Session|User|Auth|Viewer|Account)"
    r"(?:OrRedirect|OrThrow|Session|Id)?$"
)
VERIFY_CALLS = frozenset({"jwt.verify", "jsonwebtoken.verify", "jose.jwtVerify"})
_OWNER_FIELD = re.compile(r"(?:user|owner|author|customer|account|member|createdBy|created_by)(?:_?id|Id)?$", re.I)
# `{ id }` in an object literal reads the variable `id`
_REFERENCES = frozenset({"identifier", "shorthand_property_identifier"})
EQUALITY = frozenset({"===", "!==", "==", "!="})
FUNCTION_TYPES = frozenset(
    {"function_declaration", "function_expression", "function", "arrow_function", "method_definition"}
)
# Fields that say a record was published on purpose (a share link, a public chat): a read that gives up unless
# one is set serves only what its owner chose to publish.
PUBLICATION_FIELDS = frozenset(
    {"sharePath", "shareId", "shareToken", "isPublic", "public", "published", "isPublished", "shared", "isShared"}
)
VISIBILITY_FIELDS = frozenset({"visibility", "access", "status"})
PUBLIC_VALUES = frozenset({"public", "published", "shared"})
PRIVATE_VALUES = frozenset({"private"})
# Ways a page, route or helper gives up: Next.js's not-found and redirect calls, a throw, an empty return.
EXIT_CALLS = frozenset({"notFound", "redirect", "permanentRedirect", "unauthorized", "forbidden"})
HASH_FIELD_READS = frozenset({"hget", "hmget"})


class Access(NamedTuple):
    """A read of stored AI content: the call that names it and the whole call chain around it."""

    node: Node
    chain: Node
    what: str
    subject: str
    """The part of `what` that names the content (model path, table, key prefix, function name), not the method."""


def _callee(call: Node) -> str:
    fn = call.child_by_field_name("function")
    return ts.callee_path(fn) if fn is not None else ""


def _chain_top(call: Node) -> Node:
    """The outermost call of a fluent chain (`supabase.from('chats').select().eq('id', id)`)."""
    node = call
    while True:
        parent = node.parent
        if parent is None or parent.type != "member_expression":
            return node
        obj = parent.child_by_field_name("object")
        grand = parent.parent
        if obj is None or obj.id != node.id or grand is None or grand.type != "call_expression":
            return node
        fn = grand.child_by_field_name("function")
        if fn is None or fn.id != parent.id:
            return node
        node = grand


def _literal_text(node: Node) -> str:
    """The literal parts of a string, template or concatenation (`chat:${id}` → 'chat:')."""
    node = ts.unwrap(node)
    if node.type in ("string", "template_string"):
        return "".join(ts.text(c) for c in node.named_children if c.type == "string_fragment")
    if node.type == "binary_expression":
        return " ".join(_literal_text(c) for c in node.named_children)
    return ""


def _call_arguments(chain: Node) -> list[Node]:
    """The argument lists of every call in a chain, not its callees (`db.query.chats` is no `req.query`)."""
    out = []
    for node in ts.walk(chain):
        if node.type == "call_expression":
            args = node.child_by_field_name("arguments")
            if args is not None:
                out.append(args)
    return out


def _first_arg(call: Node) -> Node | None:
    args = call.child_by_field_name("arguments")
    if args is None:
        return None
    if args.type == "template_string":
        return args
    return args.named_children[0] if args.named_children else None


def _owner_columns(text: str) -> bool:
    """`user_id` or `userId, ownerId`: a column list naming only owner fields."""
    columns = [c.strip().strip("\"`'") for c in text.split(",")]
    return bool(columns) and all(c and _OWNER_FIELD.fullmatch(c) for c in columns)


_SQL_SELECT_LIST = re.compile(r"^\s*select\s+(.+?)\s+from\b", re.IGNORECASE | re.DOTALL)


def reads_owner_only(access: Access) -> bool:
    """The read fetches who owns the record and nothing of its content: `kv.hget(`chat:${id}`, 'userId')`,
    `.select('user_id')`, `select: { userId: true }`, `SELECT user_id FROM chats`. That is how an owner check
    starts, not a disclosure of what the assistant wrote."""
    for call in ts.walk(access.chain):
        if call.type != "call_expression":
            continue
        args = call.child_by_field_name("arguments")
        if args is None:
            continue
        method = _callee(call).replace("()", "").rsplit(".", 1)[-1]
        values = args.named_children
        if method in HASH_FIELD_READS and len(values) >= 2:
            fields = [ts.string_value(ts.unwrap(v)) for v in values[1:]]
            return all(f is not None and _OWNER_FIELD.fullmatch(f) for f in fields)
        if method == "select" and values:
            first = ts.unwrap(values[0])
            literal = ts.string_value(first)
            if literal is not None:  # supabase `.select('user_id')`
                return _owner_columns(literal)
            if first.type == "object":  # drizzle `db.select({ userId: chats.userId })`
                return _owner_keys(first)
        if args.type == "template_string" or (method in SQL_METHODS and values):
            sql = _literal_text(args if args.type == "template_string" else values[0])
            match = _SQL_SELECT_LIST.match(sql)
            if match:
                return _owner_columns(match.group(1))
        for value in values:
            # prisma `findUnique({ where: { id }, select: { userId: true } })`; a `select` nested in an
            # `include` still returns the record itself
            if ts.unwrap(value).type != "object":
                continue
            for pair in ts.unwrap(value).named_children:
                if pair.type == "pair" and _pair_key(pair) == "select":
                    selected = pair.child_by_field_name("value")
                    return selected is not None and selected.type == "object" and _owner_keys(selected)
    return False


def _owner_keys(obj: Node) -> bool:
    keys = [_pair_key(p) for p in obj.named_children if p.type in ("pair", "shorthand_property_identifier")]
    return bool(keys) and all(_OWNER_FIELD.fullmatch(k) for k in keys)


def _pair_key(pair: Node) -> str:
    if pair.type == "shorthand_property_identifier":
        return ts.text(pair)
    key = pair.child_by_field_name("key")
    return (ts.string_value(key) if key is not None and key.type == "string" else ts.text(key)) or ""


# Project functions and stores that write a record: `createReservation(...)`, `prisma.reservation.create(...)`,
# `db.insert(reservations).values(...)`, `supabase.from('reservations').insert(...)`, `kv.hset(`reservation:${id}`)`.
_WRITER_NAME = re.compile(r"^(?:create|save|insert|upsert|update|store|add|persist|record)([A-Z][A-Za-z0-9]*)$")
ORM_WRITES = frozenset({"create", "createMany", "update", "updateMany", "upsert", "insertOne", "insertMany"})
TABLE_WRITES = frozenset({"insert", "upsert", "update", "insertOne", "insertMany"})
KV_WRITES = frozenset({"set", "hset", "hmset", "lpush", "rpush", "zadd", "sadd", "setItem"})
# Bytes of a file that may write a record: checked before a file is parsed for writes.
_WRITER_CALL_HINT = rb"\b(?:create|save|insert|upsert|update|store|add|persist|record)[A-Z]\w*\s*\("
_WRITE_METHOD_HINT = (
    rb"\.(?:create|createMany|update|updateMany|upsert|insert|insertOne|insertMany|set|hset|hmset|lpush|rpush|zadd"
    rb"|sadd|setItem)\s*[(<]"
)
_WRITE_HINT = re.compile(_WRITER_CALL_HINT + b"|" + _WRITE_METHOD_HINT)
_WRITE_HINT_SCAN = Expressions((_WRITER_CALL_HINT, _WRITE_METHOD_HINT))
_NOT_WRITERS = (
    b"completions",
    b"responses",
    b"embeddings",
    b"messages",
    b"images",
    b"runs",
    b"threads",
    b"assistants",
    b"moderations",
    b"headers",
    b"searchParams",
    b"params",
)
"""Receivers of a `.create(` / `.set(` that write no record: the model APIs' own calls (every file calling a
model has `completions.create(`) and a response's headers or a URL's parameters."""


def _may_write(data: bytes) -> bool:
    """Whether a file's bytes hold a call that may write a record: the files this lets through are parsed by
    every scan worker, so a hint every model-calling file matches costs each worker a parse of all of them."""
    starts = _WRITE_HINT_SCAN.starts(data)
    if starts is not None and not starts[0]:
        # No writer call anywhere (overlapping matches included): `finditer` below could find only method calls,
        # and it finds every one of those (a match holds no `.` but its first byte, so none hides another). The
        # common case of a model-calling file (`completions.create(`), decided without a regex over all of it.
        return any(not data.endswith(_NOT_WRITERS, 0, start) for start in starts[1])
    for m in _WRITE_HINT.finditer(data):
        if data[m.start() : m.start() + 1] != b"." or not data.endswith(_NOT_WRITERS, 0, m.start()):
            return True
    return False


# Entities too generic to name a kind of record (`saveData`, `updateState`), or that hold no one's content
# (`recordUsage`, `addEvent`), and the catalogue a storefront shows everyone (`updateProduct` with an AI blurb).
GENERIC_ENTITIES = frozenset(
    {
        "data",
        "item",
        "state",
        "cache",
        "value",
        "result",
        "response",
        "record",
        "entry",
        "object",
        "log",
        "event",
        "file",
        "status",
        "session",
        "token",
        "setting",
        "config",
        "progress",
        "usage",
        "metric",
        "count",
        "analytic",
        "stat",
        "many",
        "one",
        "by",
        "id",
        "to",
        "or",
        "if",
        "new",
        "all",
    }
)


class Written(NamedTuple):
    """A kind of record the project writes with model output (or with what was sent to the model)."""

    words: tuple[str, ...]
    """Its name's words (`reservation`; `flight`, `booking`), as `_words` spells them."""
    path: str
    line: int


def _entity_words(name: str) -> tuple[str, ...] | None:
    """Words naming a kind of record (`Reservation` → reservation; `FlightBookingById` → flight, booking), or None
    for names that say nothing (`Data`), name AI content already, or name public catalogue content."""
    name = re.split(r"(?<=[a-z0-9])(?:By|For|With|From|To)[A-Z]", name, maxsplit=1)[0]
    words = tuple(word for word in _words(name) if not word.isdigit())
    if not words or all(word in GENERIC_ENTITIES for word in words):
        return None
    if AI_CONTENT.search(name) or any(word in CATALOGUE_WORDS for word in words):
        return None
    return tuple(word for word in words if word not in GENERIC_ENTITIES)


def _written_entity(module: _Module, call: Node) -> tuple[str, Node] | None:
    """The kind of record a call writes and the call chain holding what it writes, or None."""
    path = _callee(call).replace("()", "")
    if not path:
        return None
    parts = path.split(".")
    method = parts[-1]
    first = _first_arg(call)
    if len(parts) == 1:
        match = _WRITER_NAME.match(method)
        if match and method in module.project_names:
            return match.group(1), call
        return None
    if method in ORM_WRITES and len(parts) in (3, 4) and not MODEL_CLIENT.search(parts[0]):
        # prisma.reservation.create, ctx.db.reservation.create; not a model API (`openai.beta.threads.runs.create`)
        return parts[-2], call
    if method in ORM_WRITES and len(parts) == 2 and parts[0][:1].isupper():  # Reservation.create (Mongoose)
        return parts[0], call
    if method == "insert" and first is not None and len(parts) == 2:  # drizzle db.insert(reservations)
        name = ts.string_value(ts.unwrap(first)) or ts.text(first)
        return name.rsplit(".", 1)[-1], _chain_top(call)
    if method in TABLE_WRITES:  # supabase.from('reservations').insert(...), db.collection('x').insertOne(...)
        fn = call.child_by_field_name("function")
        obj = fn.child_by_field_name("object") if fn is not None and fn.type == "member_expression" else None
        inner = ts.unwrap(obj) if obj is not None else None
        if inner is not None and inner.type == "call_expression" and _callee(inner).rsplit(".", 1)[-1] in TABLE_METHODS:
            table = _first_arg(inner)
            name = (ts.string_value(ts.unwrap(table)) or ts.text(table)) if table is not None else ""
            return name.rsplit(".", 1)[-1], call
        return None
    if method in KV_WRITES and first is not None:
        literal = _literal_text(first)
        head = re.match(r"[A-Za-z][A-Za-z0-9_-]*", literal)
        if head and ts.unwrap(first).type in ("template_string", "binary_expression"):
            return head.group(0), call
    return None


# Clients of model APIs, whose `create` calls are the model call itself, not a write to the app's store.
MODEL_CLIENT = re.compile(
    r"openai|anthropic|groq|mistral|cohere|gemini|genai|google|ollama|together|replicate|bedrock|llm|ai$", re.IGNORECASE
)
_LLM_VALUE_TYPES = ("identifier", "shorthand_property_identifier", "member_expression", "call_expression")
_written_cache: weakref.WeakKeyDictionary[ProjectIndex, tuple[Written, ...]] = weakref.WeakKeyDictionary()
"""Per app index, not per LLM analysis: a scan worker makes an analysis per chunk of files, and recomputing this
for each chunk read every candidate file's bytes again (LL015 went from 0.18 to 1.7 s of CPU on the 5,000-file
bench). What it finds depends on the files' own LLM data, which no chunk changes."""


def written_with_llm_data(ctx: ScanContext) -> tuple[Written, ...]:
    """Kinds of record the project stores model output in (or what was sent to the model), beyond the words
    LL015 knows: a reservation created from a tool call's arguments and a model-made price is someone's AI
    content as much as a chat is. Computed once per app (and per scan worker), from the files that may hold
    LLM data and write a record."""
    index = ctx.index
    cached = _written_cache.get(index)
    if cached is not None:
        return cached
    llm = ctx.llm
    found: dict[tuple[str, ...], Written] = {}
    for f in index.sources:
        if f.rel not in index.llm_candidates or not _may_write(f.data()):
            continue
        root = f.root
        if root is None:
            continue
        module = _Module(index, f, root)
        facts = None
        for call in f.nodes("call_expression"):
            written = _written_entity(module, call)
            if written is None:
                continue
            words = _entity_words(written[0])
            if words is None or words in found:
                continue
            facts = facts or llm.file(f)
            if facts is None:
                break
            if facts.is_direct_llm_call(call):
                continue
            args = _call_arguments(written[1])
            if any(facts.is_llm(node) for a in args for node in ts.walk(a) if node.type in _LLM_VALUE_TYPES):
                found[words] = Written(words, f.rel, call.start_point[0] + 1)
    result = tuple(found.values())
    _written_cache[index] = result
    return result


def _names_entity(subject: str, written: tuple[Written, ...]) -> Written | None:
    """The written kind of record a read's model, table, key or function name names (`getReservationById`)."""
    if not written:
        return None
    words = set(_words(subject))
    for entity in written:
        if all(word in words for word in entity.words):
            return entity
    return None


_FUNCTION_NAMES = """
(function_declaration name: (identifier) @name)
(variable_declarator name: (identifier) @name value: [(arrow_function) (function_expression)])
"""
# How many enclosing calls of an AI-content word are candidates (`db.select().from(chats).where(...)`).
MAX_CALL_ANCESTORS = 4
_STOP_AT = frozenset({"statement_block", "program", "class_body"})


def _candidate_calls(f: SourceFile, root: Node, extra: tuple[bytes, ...] = ()) -> list[Node]:
    """Calls around each AI-content word of the file (and each `extra` word), found from the word's byte offset
    upwards.

    The words are rare, so this touches a handful of nodes per file instead of the whole tree.
    """
    found: dict[int, Node] = {}
    for start, end in _ai_word_offsets(f.data().lower(), extra):
        node: Node | None = root.descendant_for_byte_range(start, end)
        calls = 0
        while node is not None and calls < MAX_CALL_ANCESTORS and node.type not in _STOP_AT:
            if node.type == "call_expression":
                found.setdefault(node.id, node)
                calls += 1
            node = node.parent
    return sorted(found.values(), key=lambda n: n.start_byte)


class _Module:
    """Which callees of a module are project functions (defined here or imported from project files)."""

    def __init__(self, index: ProjectIndex, f: SourceFile, root: Node, written: tuple[Written, ...] = ()) -> None:
        self.index = index
        self.file = f
        self.root = root
        self.written = written
        self._project_names: set[str] | None = None
        self._judged_inside: dict[str, bool] = {}

    @property
    def project_names(self) -> set[str]:
        if self._project_names is None:
            names = {imp.local for imp in self.index.imports_of(self.file) if imp.resolved is not None}
            lang = self.file.language
            if lang is not None:
                names.update(ts.text(n) for n in ts.captures(lang, _FUNCTION_NAMES, self.root).get("name", []))
            self._project_names = names
        return self._project_names

    def _content(self, name: str) -> bool:
        """The name says AI content: one of LL015's words, or a kind of record the project writes model output to."""
        return bool(AI_CONTENT.search(name)) or _names_entity(name, self.written) is not None

    def access(self, call: Node) -> Access | None:
        path = _callee(call)
        args = call.child_by_field_name("arguments")
        if args is not None and args.type == "template_string":
            return self._sql(call, ts.text(args))
        if not path:
            return None
        parts = path.replace("()", "").split(".")
        method = parts[-1]
        first = _first_arg(call)
        if method in READ_METHODS and any(self._content(p) for p in parts[:-1]):
            # `prisma.chat.findUnique`, `db.query.chats.findFirst`; two parts only for model classes
            # (`Conversation.findById`): `messages.find(...)` is an array, `chats.get(id)` a Map.
            model_class = len(parts) == 2 and parts[0][:1].isupper() and method not in ("get", "select")
            if len(parts) >= 3 or model_class:
                return Access(call, _chain_top(call), path, ".".join(parts[:-1]))
        if method in TABLE_METHODS and first is not None:
            name = ts.string_value(first) if ts.unwrap(first).type == "string" else ts.text(first)
            if name and self._content(name):
                return Access(call, _chain_top(call), f"{path}({name})", name)
        if method in SQL_METHODS and first is not None:
            return self._sql(call, _literal_text(first))
        if method in KV_METHODS and len(parts) >= 2 and first is not None:
            literal = _literal_text(first)
            dynamic = ts.unwrap(first).type in ("template_string", "binary_expression")
            if dynamic and self._content(literal):
                return Access(call, call, f"{path}({literal}…)", literal)
        name = parts[-1]
        if len(parts) == 1 and name in self.project_names and _WRAPPER_NAME.match(name) and self._content(name):
            return Access(call, call, name, name)
        return None

    def definition(self, name: str) -> tuple[_Module, Node] | None:
        """The module and function node a project function's name refers to (defined here, or imported by name
        from a project file); None for default and namespace imports and for re-exports, which are not followed."""
        target: _Module = self
        exported = name
        for imp in self.index.imports_of(self.file):
            if imp.local == name and imp.resolved is not None:
                f = self.index.get(imp.resolved)
                root = f.root if f is not None else None
                if f is None or root is None or imp.imported in ("default", "*"):
                    return None
                target, exported = _Module(self.index, f, root, self.written), imp.imported
                break
        lang = target.file.language
        if lang is None:
            return None
        for node in ts.captures(lang, _FUNCTION_NAMES, target.root).get("name", []):
            if ts.text(node) != exported or node.parent is None:
                continue
            parent = node.parent
            fn = parent if parent.type == "function_declaration" else parent.child_by_field_name("value")
            if fn is not None:
                return target, fn
        return None

    def judged_inside(self, access: Access) -> bool:
        """A project function whose own reads settle the question, so that its callers are not reported too:
        it sits in a server action module, where LL015 judges it with every argument user-controlled (and
        reports it there if it trusts them), or every read of stored AI content in it gives up unless the
        record was published (`getSharedChat` returning null without a `sharePath`)."""
        name = access.subject
        known = self._judged_inside.get(name)
        if known is None:
            known = self._judged_inside[name] = self._judge_inside(name)
        return known

    def _judge_inside(self, name: str) -> bool:
        found = self.definition(name)
        if found is None:
            return False
        module, fn = found
        reads = []
        for call in ts.walk(fn):
            if call.type == "call_expression":
                read = module.access(call)
                if read is not None:
                    reads.append(read)
        content = [read for read in reads if not reads_owner_only(read)]
        if not content:
            return False
        if module.index.is_server_action_module(module.file):
            return True
        scope = _Scope(fn, action=False, wrapped_by_auth=False)
        scope.owner_reads = [read for read in reads if reads_owner_only(read)]
        return all(scope.published(read) for read in content)

    def _sql(self, call: Node, text: str) -> Access | None:
        for table in _SQL_TABLE.findall(text):
            if self._content(table):
                return Access(call, call, f"SQL from {table}", table)
        return None


class _Scope:
    """User-controlled and session names of one top-level function."""

    def __init__(self, fn: Node, *, action: bool, wrapped_by_auth: bool) -> None:
        self.fn = fn
        self.nodes = list(ts.walk(fn))
        self.user: set[str] = set()
        self.session: set[str] = set()
        self.auth_calls: list[Node] = [n for n in self.nodes if n.type == "call_expression" and _is_auth_call(n)]
        self.wrapped_by_auth = wrapped_by_auth
        self.request: str | None = None
        self.bindings: list[tuple[Node, Node]] = []
        self.owner_reads: list[Access] = []
        """Reads of who owns a record (`kv.hget(key, 'userId')`), registered before any access is judged."""
        self._owner_names: set[str] | None = None
        self._seed_parameters(action)
        self._solve()

    def _seed_parameters(self, action: bool) -> None:
        params = self.fn.child_by_field_name("parameters")
        if params is None:
            single = self.fn.child_by_field_name("parameter")
            params_list = [single] if single is not None else []
        else:
            params_list = list(params.named_children)
        first = params_list[0].child_by_field_name("pattern") if params_list else None
        if first is not None and first.type == "identifier":
            # `req` of a route handler / API route: its body is as user-controlled as its query
            self.request = ts.text(first)
        for param in params_list:
            pattern = param.child_by_field_name("pattern") or param
            if action:
                # a server action's arguments come straight from the browser
                self.user.update(_names(pattern))
                continue
            for node in ts.walk(pattern):
                if node.type == "shorthand_property_identifier_pattern" and ts.text(node) in USER_INPUT_PROPS:
                    self.user.add(ts.text(node))
                elif node.type == "pair_pattern":
                    key = ts.text(node.child_by_field_name("key"))
                    value = node.child_by_field_name("value")
                    if key in USER_INPUT_PROPS and value is not None:
                        self.user.update(_names(value))

    def _solve(self) -> None:
        bindings = self.bindings
        for node in self.nodes:
            if node.type == "variable_declarator":
                target, value = node.child_by_field_name("name"), node.child_by_field_name("value")
            elif node.type == "assignment_expression":
                target, value = node.child_by_field_name("left"), node.child_by_field_name("right")
            else:
                continue
            if target is not None and value is not None:
                bindings.append((target, value))
                if target.type == "object_pattern":
                    # `const { searchParams } = new URL(request.url)`: the query string, whatever it is read from
                    self.user |= _input_props(target)
        for _ in range(4):
            before = (len(self.user), len(self.session))
            for target, value in bindings:
                if self.is_user(value):
                    self.user.update(_names(target))
                if self.is_session(value):
                    self.session.update(_names(target))
            if (len(self.user), len(self.session)) == before:
                return

    def is_user(self, node: Node) -> bool:
        for inner in ts.walk(node):
            if inner.type in _REFERENCES and ts.text(inner) in self.user:
                return True
            if inner.type == "member_expression" and ts.text(inner.child_by_field_name("property")) in USER_INPUT_PROPS:
                return True
            if self.request is not None and inner.type in ("member_expression", "call_expression"):
                path = ts.callee_path(inner) if inner.type == "member_expression" else _callee(inner)
                if path in {f"{self.request}.{member}" for member in REQUEST_BODY}:
                    return True
        return False

    def is_session(self, node: Node) -> bool:
        for inner in ts.walk(node):
            if inner.type in _REFERENCES and ts.text(inner) in self.session:
                return True
            if inner.type == "call_expression" and _is_auth_call(inner):
                return True
            # NextAuth's `auth((req) => ...)` puts the session on `req.auth`
            if (
                self.wrapped_by_auth
                and inner.type == "member_expression"
                and ts.text(inner.child_by_field_name("property")) == "auth"
            ):
                return True
        return False

    def _user_refs(self, node: Node) -> Iterator[Node]:
        """The user-controlled reads inside `node`: names bound from the request, `params`/`query`/`searchParams`
        members and the request body."""
        for inner in ts.walk(node):
            named = inner.type in _REFERENCES and ts.text(inner) in self.user
            if named or (
                inner.type == "member_expression" and ts.text(inner.child_by_field_name("property")) in USER_INPUT_PROPS
            ):
                yield inner
            elif self.request is not None and inner.type in ("member_expression", "call_expression"):
                path = ts.callee_path(inner) if inner.type == "member_expression" else _callee(inner)
                if path in {f"{self.request}.{member}" for member in REQUEST_BODY}:
                    yield inner

    def user_keys(self, access: Access) -> set[str]:
        """The names under which the request's values reach the query: `slug` for `{ slug }`, `params.slug`,
        `(await params).slug` or `req.body.slug`."""
        out: set[str] = set()
        for args in _call_arguments(access.chain):
            for ref in self._user_refs(args):
                out.add(_accessed_name(ref))
        return out

    def owner_keyed(self, access: Access) -> bool:
        """The request's value is matched against the record's owner (`where: { userId: params.id }`): the
        records are someone's, whatever they are called."""
        return self.owner_key(access) is not None

    def owner_key(self, access: Access) -> str | None:
        """The request's value that selects records by their owner (`params.userId` of `where: { userId:
        params.userId }`, `userId` of `` kv.zrange(`user:chat:${userId}`) ``), or None."""
        for args in _call_arguments(access.chain):
            for pair in ts.walk(args):
                if pair.type == "shorthand_property_identifier":
                    if _OWNER_FIELD.fullmatch(ts.text(pair)) and ts.text(pair) in self.user:
                        return ts.text(pair)
                    continue
                if pair.type == "template_substitution":
                    # a KV key spelled with the owner's id: `user:chat:${userId}`
                    inner = pair.named_children[0] if pair.named_children else None
                    if inner is not None and _mentions_owner(inner) and self.is_user(inner):
                        return ts.text(inner)
                    continue
                if pair.type != "pair":
                    continue
                key = pair.child_by_field_name("key")
                value = pair.child_by_field_name("value")
                name = (ts.string_value(key) if key is not None and key.type == "string" else ts.text(key)) or ""
                if value is not None and _OWNER_FIELD.fullmatch(name) and self.is_user(value):
                    return ts.text(value)
        return None

    def record_names(self, access: Access) -> set[str]:
        """The names the read's result is bound to (`chat` of `const chat = await kv.hgetall(...)`)."""
        out: set[str] = set()
        for target, value in self.bindings:
            if _contains(value, access.node):
                out |= _names(target)
        return out

    @property
    def owner_names(self) -> set[str]:
        """Names holding a record's owner, whatever they are called: bound from a read of the owner alone
        (`const uid = await kv.hget(key, 'userId')`), from an owner field (`const uid = chat.userId`,
        `const { userId: uid } = chat`)."""
        if self._owner_names is None:
            names: set[str] = set()
            for target, value in self.bindings:
                if any(_contains(value, read.node) for read in self.owner_reads):
                    names |= _names(target)
                    continue
                inner = ts.unwrap(value)
                if (
                    inner.type == "member_expression"
                    and _OWNER_FIELD.fullmatch(ts.text(inner.child_by_field_name("property")))
                    and target.type == "identifier"
                ):
                    names.add(ts.text(target))
                if target.type == "object_pattern":
                    for child in target.named_children:
                        key = child.child_by_field_name("key") if child.type == "pair_pattern" else None
                        pair_value = child.child_by_field_name("value") if child.type == "pair_pattern" else None
                        if key is not None and pair_value is not None and _OWNER_FIELD.fullmatch(_pair_key_text(key)):
                            names |= _names(pair_value)
            self._owner_names = names
        return self._owner_names

    def mentions_owner(self, node: Node) -> bool:
        if _mentions_owner(node):
            return True
        owners = self.owner_names
        return bool(owners) and any(inner.type == "identifier" and ts.text(inner) in owners for inner in ts.walk(node))

    def _owner_comparisons(self) -> Iterator[tuple[Node, Node]]:
        """(owner side, other side) of every equality test that names a record's owner."""
        for node in self.nodes:
            if node.type != "binary_expression":
                continue
            op = node.child_by_field_name("operator")
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            if op is None or ts.text(op) not in EQUALITY or left is None or right is None:
                continue
            for owner, other in ((left, right), (right, left)):
                if self.mentions_owner(owner):
                    yield owner, other

    def compared_with_caller(self, access: Access) -> str | None:
        """The caller-supplied value the record's owner is compared with (`userId` of `chat.userId !== userId`
        in a server action taking `userId`), or None: a check that any caller passes by sending the owner's id."""
        records = self.record_names(access) | self.owner_names
        for owner, other in self._owner_comparisons():
            if not _references(owner, records) or _references(other, records):
                continue
            if self.is_user(other) and not self.is_session(other):
                return ts.text(other)
        return None

    def published(self, access: Access) -> bool:
        """The read gives up unless its record was published (`if (!chat || !chat.sharePath) notFound()`,
        `if (chat.visibility !== 'public') return null`): a share link serves what its owner chose to share."""
        records = self.record_names(access)
        if not records:
            return False
        for node in self.nodes:
            if node.type != "if_statement" or node.start_byte < access.node.end_byte:
                continue
            condition, consequence = node.child_by_field_name("condition"), node.child_by_field_name("consequence")
            if condition is None or consequence is None or not _exits(consequence):
                continue
            if any(_unpublished(test, records) and _decides(test, condition) for test in ts.walk(condition)):
                return True
        return False

    @property
    def authenticated(self) -> bool:
        return self.wrapped_by_auth or bool(self.auth_calls)

    def owns(self, access: Access) -> bool:
        """The session user's id is part of the query, or compared with the record's owner field."""
        if any(self.is_session(arg) for arg in _call_arguments(access.chain)):
            return True
        return any(self.is_session(mine) and not self.is_session(owner) for owner, mine in self._owner_comparisons())


def _names(pattern: Node) -> set[str]:
    """The names a binding pattern introduces (`{ params: { id } }` → id, `[a, ...rest]` → a, rest)."""
    kind = pattern.type
    if kind in ("identifier", "shorthand_property_identifier_pattern"):
        return {ts.text(pattern)}
    if kind == "pair_pattern":
        value = pattern.child_by_field_name("value")
        return _names(value) if value is not None else set()
    if kind in ("assignment_pattern", "object_assignment_pattern"):
        left = pattern.child_by_field_name("left") or (pattern.named_children[0] if pattern.named_children else None)
        return _names(left) if left is not None else set()
    if kind in ("object_pattern", "array_pattern", "rest_pattern"):
        out: set[str] = set()
        for child in pattern.named_children:
            out |= _names(child)
        return out
    return set()


def _input_props(pattern: Node) -> set[str]:
    """Names an object pattern binds from `params`, `searchParams` or `query` (`{ searchParams }`, `{ query: q }`)."""
    out: set[str] = set()
    for child in pattern.named_children:
        if child.type == "shorthand_property_identifier_pattern" and ts.text(child) in USER_INPUT_PROPS:
            out.add(ts.text(child))
        elif child.type == "pair_pattern" and ts.text(child.child_by_field_name("key")) in USER_INPUT_PROPS:
            value = child.child_by_field_name("value")
            if value is not None:
                out |= _names(value)
    return out


def _accessed_name(ref: Node) -> str:
    """The last property read off a user-controlled value (`params.slug` → slug, `(await params).slug` → slug), or
    the value's own name when nothing is read off it."""
    node = ref
    name = ts.text(ref) if ref.type in _REFERENCES else ""
    while node.parent is not None:
        parent = node.parent
        if parent.type in ("await_expression", "parenthesized_expression", "non_null_expression"):
            node = parent
            continue
        if parent.type == "member_expression" and _is_object_of(parent, node):
            name = ts.text(parent.child_by_field_name("property"))
            node = parent
            continue
        break
    if not name and ref.type == "member_expression":
        name = ts.text(ref.child_by_field_name("property"))
    return name


def _is_object_of(member: Node, node: Node) -> bool:
    obj = member.child_by_field_name("object")
    return obj is not None and obj.id == node.id


def _words(name: str) -> list[str]:
    """Lower-cased words of a camelCase / snake_case / kebab name, plural `s` dropped (`order_summaries` →
    order, summarie; `productSlugs` → product, slug)."""
    out = []
    for word in _WORD.findall(name):
        lowered = word.lower()
        out.append(lowered[:-1] if len(lowered) > 3 and lowered.endswith("s") else lowered)
    return out


def is_catalogue_content(subject: str, keys: set[str]) -> bool:
    """Stored content that a storefront shows every visitor: a summary, recommendation, answer, completion or
    prompt (never a conversation, chat, message, transcript or reply) whose model, table or function name says
    catalogue (`productRecommendation`, `faqAnswer`, `getReviewSummary`), or that is looked up only by a
    slug, a SKU or a catalogue id (`productSlug`, `articleId`)."""
    if PERSONAL_CONTENT.search(subject) or not CATALOGUE_CAPABLE.search(subject):
        return False
    if any(word in CATALOGUE_WORDS for word in _words(subject)):
        return True
    return bool(keys) and all(
        any(word in CATALOGUE_KEYS or word in CATALOGUE_WORDS for word in _words(key)) for key in keys
    )


def _is_auth_call(call: Node) -> bool:
    path = _callee(call)
    if not path:
        return False
    clean = path.replace("()", "")
    last = clean.rsplit(".", 1)[-1]
    if clean in VERIFY_CALLS:
        return True
    if last == "protect":
        return clean.startswith("auth")
    return last in AUTH_CALLS or bool(_AUTH_HELPER.match(last))


def _mentions_owner(node: Node) -> bool:
    for inner in ts.walk(node):
        if inner.type == "member_expression" and _OWNER_FIELD.search(ts.text(inner.child_by_field_name("property"))):
            return True
        if inner.type == "identifier" and _OWNER_FIELD.fullmatch(ts.text(inner)):
            return True
    return False


def _pair_key_text(key: Node) -> str:
    return (ts.string_value(key) if key.type == "string" else ts.text(key)) or ""


def _contains(outer: Node, inner: Node) -> bool:
    return outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte


def _references(node: Node, names: set[str]) -> bool:
    return bool(names) and any(inner.type in _REFERENCES and ts.text(inner) in names for inner in ts.walk(node))


def _root_name(member: Node) -> str:
    """`chat` of `chat?.sharePath` or `(await res).chat.sharePath`'s `res`."""
    node = member
    while True:
        node = ts.unwrap(node)
        if node.type == "member_expression":
            obj = node.child_by_field_name("object")
            if obj is None:
                return ""
            node = obj
            continue
        return ts.text(node) if node.type == "identifier" else ""


def _publication_member(node: Node, fields: frozenset[str], records: set[str]) -> bool:
    node = ts.unwrap(node)
    return (
        node.type == "member_expression"
        and ts.text(node.child_by_field_name("property")) in fields
        and _root_name(node) in records
    )


def _unpublished(test: Node, records: set[str]) -> bool:
    """`!chat.sharePath`, `chat.isPublic === false`, `chat.visibility !== 'public'`, `chat.visibility === 'private'`."""
    if test.type == "unary_expression":
        arg = test.child_by_field_name("argument")
        return (
            ts.text(test.child_by_field_name("operator")) == "!"
            and arg is not None
            and _publication_member(arg, PUBLICATION_FIELDS, records)
        )
    if test.type != "binary_expression":
        return False
    op = ts.text(test.child_by_field_name("operator"))
    left, right = test.child_by_field_name("left"), test.child_by_field_name("right")
    if op not in EQUALITY or left is None or right is None:
        return False
    negated = op in ("!==", "!=")
    for field, value in ((left, right), (right, left)):
        literal = ts.unwrap(value)
        if _publication_member(field, PUBLICATION_FIELDS, records) and literal.type in ("true", "false"):
            return (literal.type == "false") != negated
        if _publication_member(field, VISIBILITY_FIELDS, records):
            word = ts.string_value(literal)
            if word is not None:
                return word.lower() in PUBLIC_VALUES if negated else word.lower() in PRIVATE_VALUES
    return False


def _decides(test: Node, condition: Node) -> bool:
    """Whether `test` alone makes `condition` true: it is joined to the rest only by `||` (`!chat || !chat.sharePath`),
    never by `&&` (`userId && !chat.sharePath` lets every other request through)."""
    node = test
    while node.id != condition.id:
        parent = node.parent
        if parent is None:
            return False
        if parent.type == "binary_expression" and ts.text(parent.child_by_field_name("operator")) != "||":
            return False
        if parent.type not in ("binary_expression", "parenthesized_expression"):
            return False
        node = parent
    return True


def _exits(statement: Node) -> bool:
    """The statement gives up: `notFound()`, `redirect(...)`, `throw`, `return`, `return null`, `return { notFound:
    true }`, `return { error: ... }`, `return new Response(..., { status: 404 })`."""
    kind = statement.type
    if kind == "statement_block":
        return any(_exits(child) for child in statement.named_children)
    if kind == "throw_statement":
        return True
    if kind == "expression_statement":
        inner = statement.named_children[0] if statement.named_children else None
        return inner is not None and _is_exit_call(inner)
    if kind != "return_statement":
        return False
    value = statement.named_children[0] if statement.named_children else None
    if value is None:
        return True
    value = ts.unwrap(value)
    if value.type in ("null", "undefined") or (value.type == "identifier" and ts.text(value) == "undefined"):
        return True
    if _is_exit_call(value):
        return True
    if value.type == "object":
        return any(
            child.type == "pair" and _pair_key(child) in ("notFound", "error", "redirect")
            for child in value.named_children
        )
    # `new Response(null, { status: 404 })`, `NextResponse.json({...}, { status: 403 })`
    return any(
        pair.type == "pair"
        and _pair_key(pair) == "status"
        and ts.text(pair.child_by_field_name("value")) in ("401", "403", "404", "410")
        for pair in ts.walk(value)
    )


def _is_exit_call(node: Node) -> bool:
    node = ts.unwrap(node)
    return node.type == "call_expression" and _callee(node).replace("()", "").rsplit(".", 1)[-1] in EXIT_CALLS


def _quoted(code: str) -> str:
    """Source text for a message: short expressions as written, anything longer described."""
    code = " ".join(code.split())
    return f"`{code}`" if len(code) <= 40 else "a value"


def _why(scope: _Scope, access: Access, owner_key: str | None) -> str:
    """What is missing, in words that match the code: no check at all, an owner check against a value the caller
    sends, owner ids taken from the caller, or authentication without any owner check."""
    compared = scope.compared_with_caller(access)
    if compared is not None:
        trusted = f"the record's owner is compared only with {_quoted(compared)}, a value the caller supplies"
    elif owner_key is not None:
        trusted = f"the records are selected by an owner id ({_quoted(owner_key)}) that the caller supplies"
    else:
        trusted = None
    if trusted is None:
        if scope.authenticated:
            return "the request is authenticated, but the record's owner is never compared with the session user"
        return "no authentication check and no ownership comparison"
    lead = "the request is authenticated, but" if scope.authenticated else "no authentication check, and"
    return f"{lead} {trusted}, not the session user's id"


def _top_function(node: Node, root: Node) -> Node | None:
    """The outermost function around `node` (the handler, page component, action or generateMetadata)."""
    found: Node | None = None
    current = node.parent
    while current is not None and current.id != root.id:
        if current.type in FUNCTION_TYPES:
            found = current
        current = current.parent
    return found


def _wrapped_by_auth(fn: Node) -> bool:
    """`export const GET = withAuth(async (req) => ...)`, NextAuth's `auth((req) => ...)`, Auth0's wrappers."""
    parent = fn.parent
    if parent is None or parent.type != "arguments" or parent.parent is None:
        return False
    callee = _callee(parent.parent).replace("()", "")
    return "auth" in callee.lower()


class AiContentWithoutOwnershipCheck(Rule):
    # each page/route/action is judged alone (imports resolve through the whole index)
    per_file = True

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        index = ctx.index
        for f in ctx.targets:
            data = f.data()
            if not _INPUT_HINT_SET.in_bytes(data):
                continue
            serves = index.is_page(f) or index.is_route_handler(f) or index.is_api_route(f)
            if not serves and (b"use server" not in data or not index.is_server_action_module(f)):
                continue
            written = self._written(ctx, data)
            if not has_access_hint(data) and not written:
                continue
            yield from self._check_file(index, f, written)

    @staticmethod
    def _written(ctx: ScanContext, data: bytes) -> tuple[Written, ...]:
        """The kinds of record written with model output whose every word this file's bytes contain."""
        lowered = data.lower()
        return tuple(
            entity for entity in written_with_llm_data(ctx) if all(word.encode() in lowered for word in entity.words)
        )

    def _check_file(self, index: ProjectIndex, f: SourceFile, written: tuple[Written, ...]) -> Iterator[Hit]:
        root = f.root
        if root is None:
            return
        candidates = _candidate_calls(f, root, tuple(word.encode() for entity in written for word in entity.words))
        if not candidates:
            return
        module = _Module(index, f, root, written)
        action = index.is_server_action_module(f)
        scopes: dict[int, _Scope] = {}
        accesses: list[tuple[Access, _Scope]] = []
        for node in candidates:
            access = module.access(node)
            if access is None:
                continue
            fn = _top_function(node, root)
            if fn is None:
                continue
            scope = scopes.get(fn.id)
            if scope is None:
                scope = scopes[fn.id] = _Scope(fn, action=action, wrapped_by_auth=_wrapped_by_auth(fn))
            if reads_owner_only(access):
                # who owns the record, not what it says: the start of an owner check, known to the whole
                # function before any read in it is judged
                scope.owner_reads.append(access)
            else:
                accesses.append((access, scope))
        for access, scope in accesses:
            node = access.node
            if not any(scope.is_user(arg) for arg in _call_arguments(access.chain)) or scope.owns(access):
                continue
            owner_key = scope.owner_key(access)
            if owner_key is None and is_catalogue_content(access.subject, scope.user_keys(access)):
                continue
            if scope.published(access):
                continue
            if access.subject == access.what and _callee(node) == access.what and module.judged_inside(access):
                continue
            why = _why(scope, access, owner_key)
            line, column = node.start_point
            entity = None if AI_CONTENT.search(access.subject) else _names_entity(access.subject, written)
            what = access.what
            if entity is not None:
                # say why a record LL015 has no word for is AI content: where model output is written to it
                what = (
                    f"{what}: {' '.join(entity.words)} records are written with LLM data at {entity.path}:{entity.line}"
                )
            yield Hit(
                path=f.rel,
                line=line + 1,
                column=column + 1,
                message=f"stored AI content ({what}) is read with a user-controlled id: {why}",
                evidence=access.what,
                key=access.what,
            )


RULE_CLASS = AiContentWithoutOwnershipCheck
