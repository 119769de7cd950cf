"""Keyword prefilters answer alike before and after they switch to a Hyperscan pass, and rules relying on them
still find what is there when an app has more files than the switch needs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from leakline.scan import keywords
from leakline.scan.engine import scan
from leakline.scan.keywords import HYPERSCAN_AFTER, Keywords

pytest.importorskip("hyperscan")

WORDS = (b"dangerouslySetInnerHTML", b"eval", b"Function(", b"<script", b"use server", b"a.b", b"x+y")

CASES = [
    b"",
    b"eval",
    b"const x = evaluate(1)",  # a word inside another still counts, as with `in`
    b"new Function(body)",
    b"new Function (body)",
    b"<Script src=x>",
    b"<script>",
    b'"use server";',
    b"use  server",
    b"a.b",
    b"aXb",  # `.` is literal, not any byte
    b"x+y",
    b"xxy",
    b"\xff\xfe eval \x00",
    b"nothing here",
    b"dangerouslySetInnerHTML={{ __html: x }}",
]


def _asked_past_switch(k: Keywords) -> None:
    for _ in range(HYPERSCAN_AFTER + 1):
        k.in_bytes(b"nothing")


def test_hyperscan_answers_as_the_substring_tests() -> None:
    k = Keywords(WORDS)
    plain = [any(word in case for word in WORDS) for case in CASES]
    assert [k.in_bytes(case) for case in CASES] == plain
    _asked_past_switch(k)
    assert isinstance(k._scanner, keywords._Scanner)
    assert [k.in_bytes(case) for case in CASES] == plain
    expected = [False, True, True, True, False, False, True, True, False, True, False, True, False, True, False, True]
    assert plain == expected


def test_caseless_answers_as_lowering_the_bytes() -> None:
    words = (b"checkout", b"cart", b"billing", b"Order")  # an upper-case word cannot occur in lowered bytes
    k = Keywords(words, caseless=True)
    cases = [b"CHECKOUT", b"myCart", b"Order", b"ORDER", b"order", b"nothing", b"\xc3\x84CART"]
    plain = [any(word in case.lower() for word in words) for case in cases]
    assert plain == [True, True, False, False, False, False, True]
    assert [k.in_bytes(case) for case in cases] == plain
    _asked_past_switch(k)
    assert isinstance(k._scanner, keywords._Scanner)
    assert [k.in_bytes(case) for case in cases] == plain


def test_random_bytes_agree() -> None:
    rng = random.Random(7)
    alphabet = b"evalFunction(<script>x+ya.b "
    k = Keywords(WORDS)
    _asked_past_switch(k)
    for _ in range(2000):
        data = bytes(rng.choice(alphabet) for _ in range(rng.randrange(0, 40)))
        assert k.in_bytes(data) == any(word in data for word in WORDS), data


def test_small_sets_and_small_scans_stay_in_python() -> None:
    few = Keywords((b"a", b"b"))
    _asked_past_switch(few)
    assert few._scanner is False
    many = Keywords(WORDS)
    for _ in range(HYPERSCAN_AFTER):
        many.in_bytes(b"nothing")
    assert many._scanner is None


def test_rule_finds_a_hit_in_a_file_asked_after_the_switch(tmp_path: Path) -> None:
    """LL010's keyword test decides most files of this app with Hyperscan: the one unsafe render is still found."""
    (tmp_path / "package.json").write_text('{"dependencies": {"next": "15.5.7", "openai": "4.77.0"}}')
    widgets = tmp_path / "components"
    widgets.mkdir()
    for i in range(HYPERSCAN_AFTER + 20):
        (widgets / f"W{i:03d}.tsx").write_text(f"export function W{i}() {{\n  return <p>plain {i}</p>;\n}}\n")
    (widgets / "Z_Answer.tsx").write_text(
        '"use client";\n'
        'import { useState } from "react";\n'
        "export function Answer() {\n"
        '  const [html, setHtml] = useState("");\n'
        "  async function ask(q: string) {\n"
        "    const res = await fetch(`${process.env.NEXT_PUBLIC_ASSISTANT_URL}/v1/chat/completions`, "
        '{ method: "POST", body: JSON.stringify({ q }) });\n'
        "    const data = await res.json();\n"
        "    setHtml(data.choices[0].message.content);\n"
        "  }\n"
        '  return <div onClick={() => ask("hi")} dangerouslySetInnerHTML={{ __html: html }} />;\n'
        "}\n"
    )
    result = scan(tmp_path, rule_ids=["LL010"], jobs=1, cache=False)
    assert [(f.rule, f.path, f.line) for f in result.findings] == [("LL010", "components/Z_Answer.tsx", 10)]


WRITE_CASES = {
    b"await client.chat.completions.create({ model })": False,  # a model call writes no record
    b"await prisma.reservation.create({ data })": True,
    b"completions.createMany(x)": False,  # the writer-call shape inside a method call hidden by it
    b"x.completions.createMany(x); saveReservation (r)": True,
    b"res.headers.set('x', y)": False,
    b"kv.set<string>(key, v)": True,
    b"createReservation(r)": True,
    b"increateReservation(r)": False,  # not at a word start
    b"addEventListener": False,  # no call
    b"": False,
}


def test_write_hint_decides_as_its_regex_after_the_switch() -> None:
    from leakline.scan.rules import ll015

    before = {case: ll015._may_write(case) for case in WRITE_CASES}
    for _ in range(HYPERSCAN_AFTER + 1):
        ll015._may_write(b"nothing")
    assert ll015._WRITE_HINT_SCAN._scanner
    after = {case: ll015._may_write(case) for case in WRITE_CASES}
    assert before == after == WRITE_CASES


ACCESS_CASES = {
    b"const r = await client.chat.completions.create({ model })": False,  # AI words, no data access
    b"const c = await prisma.conversation.findUnique({ where: { id } })": True,
    b"await db.select().from(chats).where(eq(chats.id, id))": True,
    b"await kv.get(`chat:${id}`)": True,
    b"const a = await getAnswerById(id)": True,
    b"get" + b"x" * 100 + b"Answer": False,  # a match of the whole bytes, not within 80 bytes of its AI word
    b"": False,
}


def test_access_hint_decides_as_its_windows_after_the_switch() -> None:
    from leakline.scan.rules import ll015

    before = {case: ll015.has_access_hint(case) for case in ACCESS_CASES}
    for _ in range(HYPERSCAN_AFTER + 1):
        ll015.has_access_hint(b"nothing")
    assert isinstance(ll015._ACCESS_HINT_SCAN._scanner, keywords._Scanner)
    after = {case: ll015.has_access_hint(case) for case in ACCESS_CASES}
    assert before == after == ACCESS_CASES
