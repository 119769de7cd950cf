"""find_secrets(lenient=True): the spellings only the gateway's sanitizer looks for (red team, issue 6), with
their exact kind and span; the scanner's default (strict) reading of the same texts is unchanged."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from leakline.detectors.secrets import SecretKind, SecretMatch, find_secrets

SK = "sk-proj-4fT9kQ2mZx7Lp0aB3nV8cR6sW1yE5uJ2"
AK = "AKIAIOSFODNN7Q2XK4ZT"
GH = "ghp_aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5"
LINES = (
    "MIIEowIBAAKCAQEA3Tz2mr7SZiAMfQyuvBjM9Oi6Zx3lqE2PZ8nRmTq4eK1pQ0wX\n"
    "yL5vB7cD9eF1gH3jK5mN7pQ9rS1tU3vW5xY7zA9bC1dE3fG5hJ7kL9mN1pQ3rS5t\n"
    "Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5Ab3dE5fG7hJ9kL1mN3pQ5rS7tU9v\n"
    "Qm9Lr4Tn8Vw3ZcXy7Kp2Qm9Lr4Tn8Vw3ZcXy7Kp2Qm9Lr4Tn8Vw3ZcXy7Kp2Qm9L\n"
    "W1xY3zA5Ab3dE5fG7h=="
)
PKCS8 = LINES.replace("MIIEowIBAAKCAQEA", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcw")
OPENSSH = "b3BlbnNzaC1rZXktdjEAAAAA" + LINES[24:]
EC = "MHcCAQEEI" + LINES[9:120]

CASES = [
    (SK[:20] + " " + SK[20:], SecretKind.OPENAI_KEY),
    (SK[:20] + "\n" + SK[20:], SecretKind.OPENAI_KEY),
    ("SK-" + SK[3:], SecretKind.OPENAI_KEY),
    ("\u0455k-" + SK[3:], SecretKind.OPENAI_KEY),
    (SK[:20], SecretKind.OPENAI_KEY),  # fragment: prefix and 12
    ("sk-ant-api03-Kj" + "Ig8xNbe3nN" * 2, SecretKind.ANTHROPIC_KEY),  # 35 characters of body
    (AK[:10] + " " + AK[10:], SecretKind.AWS_ACCESS_KEY_ID),
    (AK.lower(), SecretKind.AWS_ACCESS_KEY_ID),
    ("\u0410" + AK[1:], SecretKind.AWS_ACCESS_KEY_ID),
    ("\u0410S\u0406A" + AK[4:], SecretKind.AWS_ACCESS_KEY_ID),
    (GH[:20] + " " + GH[20:], SecretKind.GITHUB_TOKEN),
    ("gh\u0440" + GH[3:], SecretKind.GITHUB_TOKEN),
    ("GITHUB_PAT_11ABCDEFG0abcdefg", SecretKind.GITHUB_TOKEN),
    ("glpat-Xy7Kp2Qm9Lr4Tn8Vw3Zc", SecretKind.GITLAB_TOKEN),
    ("XOXB-34483478245-04000", SecretKind.SLACK_TOKEN),
    (LINES, SecretKind.PRIVATE_KEY),
    (PKCS8, SecretKind.PRIVATE_KEY),
    (OPENSSH, SecretKind.PRIVATE_KEY),
    (EC, SecretKind.PRIVATE_KEY),
    ("----BEGIN RSA PRIVATE KEY----\n" + LINES + "\n----END RSA PRIVATE KEY----", SecretKind.PRIVATE_KEY),
    ("-----begin openssh private key-----\n" + OPENSSH, SecretKind.PRIVATE_KEY),
    ("--- BEGIN EC PRIVATE  KEY ---", SecretKind.PRIVATE_KEY),
    # A body inside a JSON string: its line breaks are escapes, `\n` alone (what JSON.stringify writes) or `\r\n`.
    (PKCS8.replace("\n", "\\n"), SecretKind.PRIVATE_KEY),
    (PKCS8.replace("\n", "\\r\\n"), SecretKind.PRIVATE_KEY),
]


@pytest.mark.parametrize(("secret", "kind"), CASES, ids=[f"{c[1].value}:{c[0][:14]!r}" for c in CASES])
def test_a_respelled_secret_is_found_with_its_exact_span(secret: str, kind: SecretKind) -> None:
    text = f"Here it is:\n{secret}\nDone."
    start = text.index(secret)
    assert find_secrets(text, lenient=True) == [SecretMatch(kind, start, start + len(secret))]
    # The scanner's reading (strict) does not look for these spellings: its findings stay what they were.
    assert all(m.end - m.start < len(secret) for m in find_secrets(text))


NEAR_MISSES = [
    "MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A" + LINES[16:],  # a public key body (SubjectPublicKeyInfo)
    "MIIDdzCCAl+gAwIBAgIEAgAAuTANBgkqhkiG9w0BAQUFADBaMQswCQYDVQQGEwJJ" + LINES[64:],  # a certificate body
    LINES[:150],  # a PKCS#1 prefix with 118 base64 characters after it: fewer than 200
    "xMIIEowIBAAKCAQEA" + LINES[16:],  # glued to a longer base64 token
    "sk-proj-4fT9kQ2 is all",
    "AKIAIOSFOD and NN7Q2XK4ZT",
    "AKIAIOSFODNN7EXAMPLE",
    "akiaiosfodnn7example",
    "Eurasia asiapacificregions ASIA-PACIFIC",
    "ghp_short ghp_xxxxxxxxxxxxxxxx",
    "task-proj-4fT9kQ2mZx7Lp0aB3nV8",  # `sk-proj-` inside a word
    "---\nbegin the rotation of the private key ---",
]


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_are_not_secrets_even_leniently(text: str) -> None:
    assert find_secrets(text, lenient=True) == []


# -- the quick path: only where a match may start --

_PIECES = st.sampled_from([
    "sk-proj-", "SK-PROJ-", "sk-ant-", "ghp_", "GHO_", "github_pat_", "AKIA", "asia", "Eurasia", "xoxb-", "glpat-",
    "-----BEGIN RSA PRIVATE KEY-----", "---- begin private key ----", "-------BEGIN EC PRIVATE KEY-----", "- BEGIN",
    "MIIEowIBAAKCAQEA", "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "MHcCAQEEI", "b3BlbnNzaC1rZXktdjEAAAAA",
    "4fT9kQ2mZx7Lp0aB3nV8cR6sW1yE5uJ2", "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789", " ", "\n", "-", "_", "x", "q",
    "A" * 64 + "\n", "abc+/=" * 11 + "\n",
    "\u0455k-proj-", "\u0410KIA", "gh\u0440_", "BEG\u0130N", "\u212aEY", "\u20ac", "\u00e9", "\u0430", "\u017f",
])  # fmt: skip


@given(st.lists(_PIECES, max_size=40))
@settings(max_examples=400, deadline=None)
def test_the_quick_path_finds_what_a_full_scan_finds(pieces: list[str]) -> None:
    """`_lenient_matches` tries the pattern only after a literal every match starts with (or a few dashes
    before one), look-alike letters folded: it must yield exactly the matches `finditer` yields."""
    from leakline.detectors.secrets import _LENIENT_SEARCH, _lenient_matches

    text = "".join(pieces)
    assert [m.span() for m in _lenient_matches(text)] == [m.span() for m in _LENIENT_SEARCH.finditer(text)]


@given(st.lists(_PIECES, max_size=40))
@settings(max_examples=300, deadline=None)
def test_one_hyperscan_pass_finds_every_literal_the_find_walks_find(pieces: list[str]) -> None:
    """The literals' occurrences, overlapping ones included, from one Hyperscan pass are those of one
    `str.find` walk per literal (the path taken where hyperscan cannot be imported)."""
    from leakline.detectors.secrets import _LENIENT_LITERALS, _LITERAL_SCAN

    lower = "".join(pieces).lower() + "mmiii--begin"
    found = _LITERAL_SCAN.found(lower)
    assert found is not None
    walked = []
    for i, (literal, _) in enumerate(_LENIENT_LITERALS):
        pos = lower.find(literal)
        while pos >= 0:
            walked.append((pos + len(literal), i))
            pos = lower.find(literal, pos + 1)
    assert sorted(found) == sorted(walked)
    assert (len(lower) - 6, 0) not in found  # a sanity check of the offsets: "-begin" is literal 15, not 0
    assert (len(lower), 15) in found


def test_without_hyperscan_the_find_walks_give_the_same_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    from leakline.detectors import secrets

    text = "key AKIAIOSFODNN7EXAMPLE and -----BEGIN RSA PRIVATE KEY----- and sk-proj-abc MIIEow"
    with_hs = secrets._lenient_starts(text)
    monkeypatch.setattr(secrets._LITERAL_SCAN, "found", lambda lower: None)
    assert secrets._lenient_starts(text) == with_hs
    assert text.index("AKIA") in with_hs and text.index("-----BEGIN") in with_hs
