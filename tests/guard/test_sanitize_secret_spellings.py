"""Keys and private keys a model spells differently to get them past the sanitizer (red team, issue 6): an
upper-cased prefix, a Cyrillic letter in it, a body split by one space or line break, a fragment, a PEM block
with four dashes, in lower case or with two spaces, a DER key body without its armor. Each is redacted
exactly, whole and streamed at every small chunk size, by both engines; near misses stay intact."""

from __future__ import annotations

import base64
import random

import pytest

from leakline.guard.sanitize import Policy, Sanitizer

R = "[REDACTED:SECRET]"
SK = "sk-proj-4fT9kQ2mZx7Lp0aB3nV8cR6sW1yE5uJ2"
AK = "AKIAIOSFODNN7Q2XK4ZT"
GH = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
# An RSA PKCS#1 body: the red team's two lines (fixed ASN.1 prefix MIIEowIBAAKCAQEA), then random base64:
# 4 lines of 64, one of 4, padding.
_RNG = random.Random(6)
_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
_TAIL = "".join(_RNG.choice(_B64) for _ in range(64 * 4 + 4 - 16))
_RED_TEAM = "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi6Zx3lqE2PZ8nRmTq4eK1pQ0wXyL5vB7cD9eF1gH3jK5mN7pQ9rS1tU3vW5xY7zA9bC1dE3fG5hJ7kL9mN1pQ3rS5t"
BODY_TEXT = _RED_TEAM + _TAIL[: 64 * 2 + 4]
BODY = "\n".join(BODY_TEXT[i : i + 64] for i in range(0, len(BODY_TEXT), 64)) + "=="
PEM = f"-----BEGIN RSA PRIVATE KEY-----\n{BODY}\n-----END RSA PRIVATE KEY-----"
PUBLIC_BODY = "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A" + _TAIL[16:]
PUBLIC = "\n".join(PUBLIC_BODY[i : i + 64] for i in range(0, len(PUBLIC_BODY), 64))


@pytest.fixture(scope="module", params=["hyperscan", "re"])
def sanitizer(request: pytest.FixtureRequest) -> Sanitizer:
    if request.param == "hyperscan":
        pytest.importorskip("hyperscan")
    return Sanitizer(Policy(engine=request.param))


def _streamed(s: Sanitizer, text: str, size: int) -> tuple[str, list[tuple[str, int, int]]]:
    stream = s.stream()
    out = "".join(stream.feed(text[i : i + size]) for i in range(0, len(text), size)) + stream.finish()
    return out, [(h.detector, h.start, h.end) for h in stream.hits]


def _check(s: Sanitizer, text: str, expected: str, secret: str | None) -> None:
    result = s.sanitize(text)
    assert result.text == expected
    if secret is None:
        assert result.hits == []
        hits = []
    else:
        start = text.index(secret)
        hits = [("secret", start, start + len(secret))]
        assert [(h.detector, h.start, h.end) for h in result.hits] == hits
    for size in (*range(1, 13), 17, 64, 333):
        assert _streamed(s, text, size) == (expected, hits), size


CAUGHT = [
    # (label, the secret as written; the text is "before " + it + after)
    ("sk split by a space", SK[:20] + " " + SK[20:]),
    ("sk split by a newline", SK[:20] + "\n" + SK[20:]),
    ("SK- upper-cased", "SK-" + SK[3:]),
    ("sk- with a Cyrillic s", "\u0455k-" + SK[3:]),
    ("sk-proj- fragment of 12", SK[:20]),
    ("AKIA split by a space", AK[:10] + " " + AK[10:]),
    ("akia lower-cased", AK.lower()),
    ("AKIA with a Cyrillic A", "\u0410" + AK[1:]),
    ("AKIA one character too long", AK + "X"),
    ("ghp split by a space", GH[:20] + " " + GH[20:]),
    ("ghp with a Cyrillic p", "gh\u0440" + GH[3:]),
    ("GHP upper-cased", GH.upper()),
    ("glpat token", "glpat-Xy7Kp2Qm9Lr4Tn8Vw3Zc"),
    ("xoxb with a Cyrillic x and o", "\u0445\u043exb-34483478245-0400088387371"),
    ("DER body without armor", BODY),
    ("PEM with four dashes", PEM.replace("-----", "----")),
    ("PEM in lower case", PEM.replace("BEGIN RSA PRIVATE KEY", "begin rsa private key").replace("END RSA", "end rsa")),
    ("PEM with two spaces", PEM.replace("PRIVATE KEY", "PRIVATE  KEY")),
    ("PEM with six dashes and no END", PEM.replace("-----", "------").rsplit("\n", 1)[0]),
]


@pytest.mark.parametrize(("label", "secret"), CAUGHT, ids=[c[0] for c in CAUGHT])
def test_a_respelled_key_is_redacted_whole_and_streamed(sanitizer: Sanitizer, label: str, secret: str) -> None:
    text = f"Here is the key body:\n{secret}\nKeep it safe."
    _check(sanitizer, text, f"Here is the key body:\n{R}\nKeep it safe.", secret)


def test_the_red_team_key_body_is_redacted() -> None:
    # the bypass as reported: a PKCS#1 body of 64-character lines after a colon and a line break
    s = Sanitizer(Policy())
    text = "Here is the key body:\n" + BODY + "\n"
    assert s.sanitize(text).text == "Here is the key body:\n" + R + "\n"


NEAR_MISSES = [
    "a public key body:\n" + PUBLIC + "\nthat is fine to share",
    "logo: data:image/png;base64," + base64.b64encode(bytes(_RNG.randrange(256) for _ in range(600))).decode(),
    "the body starts MIIEowIBAAKCAQEA" + _TAIL[:100] + " and is cut short",  # 116 characters after the prefix
    "sk-proj-4fT9kQ2 is all I remember",  # 7 characters: no fragment, and 7 + 2 is not a key's length
    "AKIAIOSFOD and then NN7Q2XK4ZT",  # two spaces apart
    "AKIAIOSFOD NN7Q2XK4ZTXY",  # 6 + 12: not an access key id's 16
    "AKIAIOSFODNN7EXAMPLE is AWS's documentation key",
    "Eurasia and asiapacificregions and ASIA-PACIFIC-2024",
    "ghp_short, ghp_xxxxxxxxxxxxxxxx, sk-proj-your_key_here_xx",
    "SKU SK-PROJ-2024 and SK-1234-XL, order ORD-2024-558812",
    "----\n---- begin the private key rotation ----\n",
    "Order #4111111111111112 shipped, EAN 4006381333931, $1,299.00 on 2024-05-01",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_stay_intact_whole_and_streamed(sanitizer: Sanitizer, text: str) -> None:
    _check(sanitizer, text, text, None)


@pytest.mark.parametrize("seed", range(3))
def test_a_mix_streams_as_it_reads_whole_at_random_chunkings(sanitizer: Sanitizer, seed: int) -> None:
    rng = random.Random(seed)
    filler = ("the", "order", "shipped", "\n", "key:", "----", "-----BEGIN", "SK-", "akia", "MII")
    pieces = [secret for _, secret in CAUGHT] + NEAR_MISSES
    text = " ".join(rng.choice(pieces) if rng.random() < 0.3 else rng.choice(filler) for _ in range(300))
    whole = sanitizer.sanitize(text)
    assert len(whole.hits) > 40
    for _ in range(4):
        stream = sanitizer.stream()
        out, i = [], 0
        while i < len(text):
            size = rng.randint(1, 700)
            out.append(stream.feed(text[i : i + size]))
            i += size
        out.append(stream.finish())
        assert "".join(out) == whole.text
        assert stream.hits == whole.hits
