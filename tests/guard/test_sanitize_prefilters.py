"""The sanitizer's shortcuts reject only what the full checks would reject: the number matcher's shape plan
never drops a span `_classify` accepts, its letter-prefix checks never skip an identifier that
`_letter_prefixed` finds, the secret windows find what a whole-text scan finds, on random texts built to
hit every branch."""

from __future__ import annotations

import random
import re
import string

import pytest

from leakline.guard.sanitize.matchers import (
    _REGION,
    _REGION_REACH,
    IPV4_GROUPS,
    MIN_REGION_CHARS,
    PHONE_MIN_DIGITS,
    NumberMatcher,
    _groups,
    _is_alnum,
    _Span,
    shape_may_match,
)

_WORDS = (" ssn ", " steuer ", " pesel ", " bsn ", " personnummer ", " tax id ", " tin ", "X", "Y", "Z", "L", "+", "(")
_SEPARATORS = (" ", "-", ".", "/", ") ", " ", "-")


def _number_soup(seed: int, numbers: int) -> str:
    """Numbers of 1-8 digit groups (every length, one or mixed separators, leading zeros) after `+`, `(`, id
    keywords or letters, followed by DNI letters, dots or words."""
    rng = random.Random(seed)
    out: list[str] = []
    for _ in range(numbers):
        out.append(rng.choice(_WORDS))
        separator = rng.choice(_SEPARATORS)
        for i in range(rng.choice((1, 1, 2, 3, 4, 4, 5, 6, 7, 8))):
            if i:
                out.append(separator if rng.random() < 0.8 else rng.choice(_SEPARATORS))
            size = rng.choice((1, 2, 2, 3, 3, 4, 4, 6, 8, 9, 10, 11, 12, 13, 15, 16, 19))
            lead = rng.choice(("", "", "", "", "0", "00")) if i < 2 else ""
            out.append(lead + "".join(rng.choice(string.digits) for _ in range(size))[: max(size - len(lead), 0)])
        out.append(rng.choice((" ", " ", ".", "A", "Z", " Z", "-Z", ".5")))
    return "".join(out)


@pytest.mark.parametrize("regions", [("DE", "FR", "GB", "US"), ("US",), ("GB",), ()])
def test_the_shape_plan_never_drops_a_span_classify_accepts(regions: tuple[str, ...]) -> None:
    matcher = NumberMatcher(regions)
    national_prefix = any(r not in ("US", "CA") for r in regions)
    nanp = any(r in ("US", "CA") for r in regions)
    checked = accepted = 0
    for seed in range(6):
        text = _number_soup(seed, 2000)
        for p, ch in enumerate(text):
            if not ch.isdigit() or (p and _is_alnum(text[p - 1])):
                continue
            region = _REGION.match(text, p, p + _REGION_REACH)
            if region is None or region.end() - p < MIN_REGION_CHARS:
                continue
            groups, between = _groups(region.group())
            digits = "".join(groups)
            zeros = 2 if digits.startswith("00") else 1 if digits.startswith("0") else 0
            plus = p > 0 and text[p - 1] == "+"
            end = p
            for k in range(1, len(groups) + 1):
                end += len(groups[k - 1]) + (len(between[k - 2]) if k > 1 else 0)
                sizes = tuple(map(len, groups[:k]))
                seps = tuple(between[: k - 1])
                if sum(sizes) < PHONE_MIN_DIGITS and k != IPV4_GROUPS:
                    continue
                found = matcher._classify(text, _Span(p, end, "".join(groups[:k]), sizes, seps))
                checked += 1
                if found is not None:
                    accepted += 1
                    assert shape_may_match(sizes, seps, plus, zeros, national_prefix, nanp), (
                        regions, text[max(0, p - 50) : end + 2], found
                    )
    # The texts must exercise the classifier, not only its rejections.
    assert checked > 20_000
    assert accepted > 200


def _secret_soup(seed: int, pieces: int) -> str:
    """Every secret anchor, complete keys and bare anchors, at distances around the sanitizer's windows (512
    characters before an anchor, 2 KiB after), in filler prose."""
    rng = random.Random(seed)
    alnum = string.ascii_letters + string.digits

    def token(n: int, alphabet: str = alnum) -> str:
        return "".join(rng.choice(alphabet) for _ in range(n))

    makers = (
        lambda: "sk-proj-" + token(40),
        lambda: "sk-ant-api03-" + token(40),
        lambda: "AKIA" + token(16, string.ascii_uppercase + string.digits),
        lambda: "ASIA" + token(16, string.ascii_uppercase + string.digits),
        lambda: "ghp_" + token(36),
        lambda: "github_pat_" + token(60, alnum + "_"),
        lambda: "sk_live_" + token(24),
        lambda: "xoxb-" + token(30),
        lambda: "AIza" + token(35),
        lambda: "hf_" + token(34),
        lambda: "https://user:" + token(12) + "@db.example.com",
        lambda: "aws_secret_access_key = " + token(40, alnum + "/+"),
        lambda: "secretAccessKey=" + token(40, alnum + "/+"),
        lambda: rng.choice(("sk-", "AKIA", "ghp_", "eyJ", "://", "AIza", "hf_", "AWS_SECRET", "xoxs-")),
        lambda: "firebase",
        # what only the sanitizer reads (find_secrets(lenient=True)): other cases, look-alike letters, split
        # bodies, fragments, PEM headers with other dashes and spaces, DER bodies without armor
        lambda: "SK-PROJ-" + token(30),
        lambda: "\u0455k-proj-" + token(rng.randint(10, 16)),
        lambda: "AKIA" + token(7, string.ascii_uppercase + string.digits) + rng.choice((" ", "\n")) + token(9),
        lambda: "akia" + token(16, string.ascii_lowercase + string.digits),
        lambda: "gh\u0440_" + token(20) + rng.choice((" ", "\n", "  ")) + token(16),
        lambda: "glpat-" + token(rng.randint(11, 22)),
        lambda: rng.choice(("----begin rsa private  key----", "---BEGIN EC PRIVATE KEY---", "----- BEGIN")) + _b64(),
        lambda: rng.choice(("MIIEowIBAAKCAQEA", "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A", "MHcCAQEEI")) + _b64()[1:],
    )

    def _b64() -> str:
        lines = [token(64, alnum + "+/") for _ in range(rng.randint(0, 6))]
        return "".join("\n" + line for line in lines) + rng.choice(("", "\n----END RSA PRIVATE KEY----", "=="))
    out: list[str] = []
    for _ in range(pieces):
        out.append(" ".join(rng.choice(("the", "order", "a", "shipped", "key")) for _ in range(rng.randint(0, 700))))
        out.append(rng.choice((" ", "\n", " x=", "'")) + rng.choice(makers)() + rng.choice((" ", ".", "", "'")))
    return "".join(out)


@pytest.mark.parametrize("seed", range(4))
def test_secret_windows_find_exactly_what_a_whole_text_scan_finds(seed: int) -> None:
    from leakline.detectors.secrets import Context, find_secrets
    from leakline.guard.sanitize import Policy, Sanitizer
    from leakline.guard.sanitize.matchers import SecretMatcher

    pytest.importorskip("hyperscan")
    text = _secret_soup(seed, 400)
    triggers = Sanitizer(Policy(engine="hyperscan")).engine.scan(text)
    assert triggers.secret_anchors  # the windows are in use, not the whole-text fallback
    windowed = [(c.start, c.end) for c in SecretMatcher().find(text, triggers)]
    whole = [(m.start, m.end) for m in find_secrets(text, Context.TEXT, lenient=True)]
    assert windowed == whole
    assert len(whole) > 300
    # the lenient spellings were in play: a strict scan finds fewer
    assert len(find_secrets(text, Context.TEXT)) < len(whole) - 50


@pytest.mark.parametrize("seed", range(3))
def test_utf8_length_from_the_projection_is_the_encoded_length(seed: int) -> None:
    from leakline.guard.sanitize.core import utf8_length

    rng = random.Random(seed)
    rare = ("é", "€", "\u07ff", "\u0800", "\ud800", "\udfff", "\U0001f600", "\U0010ffff", "?")
    for density in (0, 1, 50, 5000):  # per million characters: none, sparse (counted), dense (encoded)
        text = "".join(rng.choice(rare) if rng.randrange(1_000_000) < density else rng.choice("ab ?1")
                       for _ in range(120_000))  # fmt: skip
        expected = len(text.encode("utf-8", "surrogatepass"))
        assert utf8_length(text, text.encode("ascii", "replace")) == expected
        assert utf8_length(text) == expected
    assert utf8_length("x€", b"x?") == 4
    assert utf8_length("a\U0001f600?", b"a??") == 6


_IDS = ("GB29 NWBK 6016 1331 9268 19", "GB29NWBK60161331926819", "DE89370400440532013000", "AB123456C",
        "AB 12 34 56 C", "RSSMRA85T10A562S", "X1234567L", "Y1234567X", "12345678Z", "4111 1111 1111 1111")  # fmt: skip


def _word_soup(seed: int, pieces: int) -> str:
    """Identifiers that start with letters, inside words and after word boundaries of every kind (`_`,
    digits, lower- and upper-case letters, non-ASCII letters), among digit runs and base64-like tokens."""
    rng = random.Random(seed)
    glue = ("", "", " ", "_", "a", "Q", "é", "É", "ß", "-", "/", "\n", "9", "XY", "AB ")
    out: list[str] = []
    for _ in range(pieces):
        roll = rng.random()
        if roll < 0.3:
            out.append(rng.choice(_IDS))
        elif roll < 0.6:
            out.append("".join(rng.choice(string.ascii_letters + string.digits) for _ in range(rng.randint(3, 30))))
        else:
            head = rng.choice(("X", "Y", "Z", "AB", "AB ", "ABCDEF", "IT", "GB"))
            out.append(head + "".join(rng.choice(string.digits + " ") for _ in range(rng.randint(1, 20))))
        out.append(rng.choice(glue))
    return "".join(out)


def test_letter_prefix_checks_never_skip_an_identifier() -> None:
    from leakline.guard.sanitize.matchers import Triggers

    matcher = NumberMatcher(("DE", "FR", "GB", "US"))
    kinds: set[str] = set()
    for seed in range(6):
        text = _word_soup(seed, 4000)
        for p in range(1, len(text)):
            if not text[p].isdigit() or not ("A" <= text[p - 1] <= "Z" or text[p - 1] == " "):
                continue
            expected = list(matcher._letter_prefixed(text, p))
            found = list(matcher.find(text, Triggers(digit=[p])))
            assert all(c in found for c in expected), (text[max(0, p - 10) : p + 20], expected, found)
            kinds.update(f"{c.detector}:{text[c.start]}" for c in expected)
    # IBAN (GB, DE), NINO, codice fiscale and NIE were all found, so each branch was exercised.
    assert {"iban:G", "iban:D", "uk_nino:A", "national_id:R", "national_id:X", "national_id:Y"} <= kinds


def test_ipv6_run_start_is_the_tail_search_start() -> None:
    from leakline.guard.sanitize.matchers import _LAST_NOT_HEX, IPV6_MAX

    tail = re.compile(r"[0-9A-Fa-f:.]{0,45}\Z")  # what the matcher searched before: slow, but plainly right
    rng = random.Random(5)
    text = "".join(rng.choice("0123456789abcdefABCDEF:.:: gx\n€") for _ in range(40_000))
    for p in range(len(text)):
        lo = max(0, p - IPV6_MAX)
        other = _LAST_NOT_HEX.match(text, lo, p)
        expected = tail.search(text, lo, p)
        assert expected is not None
        assert (lo if other is None else other.end()) == expected.start(), p


def test_checksum_shortcuts_agree_with_the_per_character_rules() -> None:
    from leakline.guard.sanitize import checks

    def luhn(digits: str) -> bool:
        total = sum(checks.LUHN_DOUBLED[ord(ch) - 48] if i % 2 else ord(ch) - 48 for i, ch in enumerate(reversed(digits)))
        return total % 10 == 0

    def iban_mod97(compact: str) -> bool:
        value = 0
        for ch in compact[4:] + compact[:4]:
            if not ("0" <= ch <= "9" or "A" <= ch <= "Z"):
                return False
            value = (value * (10 if ch <= "9" else 100) + ord(ch) - (48 if ch <= "9" else 55)) % 97
        return value == 1

    rng = random.Random(11)
    valid_cards = valid_ibans = 0
    for _ in range(50_000):
        digits = "".join(rng.choice(string.digits) for _ in range(rng.randint(1, 20)))
        assert checks.luhn_ok(digits) == luhn(digits), digits
        valid_cards += luhn(digits)
        country = rng.choice(sorted(checks.IBAN_LENGTHS))
        body = "".join(rng.choice(string.digits + string.ascii_uppercase + "a") for _ in range(checks.IBAN_LENGTHS[country] - 4))
        compact = country + rng.choice(string.digits) + rng.choice(string.digits) + body
        assert checks.iban_ok(compact) == iban_mod97(compact), compact
        valid_ibans += iban_mod97(compact)
    assert valid_cards > 4000 and valid_ibans > 100
