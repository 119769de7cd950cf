"""Provider-anchored secret detection over text, plus the allow-list of keys that are public by design.

`find_secrets(text)` returns where credentials with a recognisable shape sit in `text`: OpenAI,
Anthropic, AWS, GitHub, Stripe secret and restricted keys, Slack, Google, Hugging Face, JWTs, PEM
private keys and passwords inside URLs; in `.env` context also `PASSWORD=`-style assignments. Every
pattern is anchored on a provider prefix or on the key's name next to it: a bare "high-entropy string"
rule fires on every hash and every minified identifier in a build, so there is none. All patterns run
as one compiled alternation, so a scan is a single pass over the text. `publishable_reason()` says
when a key is meant to ship to browsers (Stripe `pk_`, PostHog `phc_`, Sentry DSNs, Supabase anon
JWTs, Firebase web API keys, Algolia search-only keys), so callers do not report it.
"""

# Names of secret kinds and of credential-ish variables are labels, not hard-coded passwords:
# ruff: noqa: S105
from __future__ import annotations

import base64
import binascii
import itertools
import json
import re
import threading
from collections.abc import Collection, Iterable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class SecretKind(StrEnum):
    OPENAI_KEY = "openai-api-key"
    ANTHROPIC_KEY = "anthropic-api-key"
    AWS_ACCESS_KEY_ID = "aws-access-key-id"
    AWS_SECRET_KEY = "aws-secret-access-key"
    GITHUB_TOKEN = "github-token"
    STRIPE_SECRET_KEY = "stripe-secret-key"
    SLACK_TOKEN = "slack-token"
    GOOGLE_API_KEY = "google-api-key"
    HUGGINGFACE_TOKEN = "huggingface-token"
    JWT = "jwt"
    PRIVATE_KEY = "private-key"
    GITLAB_TOKEN = "gitlab-token"
    URL_PASSWORD = "url-password"
    PASSWORD_ASSIGNMENT = "password-assignment"

    @property
    def label(self) -> str:
        return _LABELS[self]


_LABELS = {
    SecretKind.OPENAI_KEY: "OpenAI API key",
    SecretKind.ANTHROPIC_KEY: "Anthropic API key",
    SecretKind.AWS_ACCESS_KEY_ID: "AWS access key id",
    SecretKind.AWS_SECRET_KEY: "AWS secret access key",
    SecretKind.GITHUB_TOKEN: "GitHub token",
    SecretKind.STRIPE_SECRET_KEY: "Stripe secret key",
    SecretKind.SLACK_TOKEN: "Slack token",
    SecretKind.GOOGLE_API_KEY: "Google API key",
    SecretKind.HUGGINGFACE_TOKEN: "Hugging Face token",
    SecretKind.JWT: "JSON Web Token",
    SecretKind.PRIVATE_KEY: "PEM private key",
    SecretKind.GITLAB_TOKEN: "GitLab personal access token",
    SecretKind.URL_PASSWORD: "password inside a URL",
    SecretKind.PASSWORD_ASSIGNMENT: "password/secret assignment",
}


class Context(StrEnum):
    """Where the text comes from; it decides which of the weaker, name-anchored patterns apply."""

    TEXT = "text"
    """Source code, build output, model output: provider-anchored patterns only."""
    ENV = "env"
    """`KEY=value` lines of a `.env` file: also `PASSWORD=`-style assignments by name."""


@dataclass(frozen=True, slots=True)
class SecretMatch:
    """A secret found in a text: `text[start:end]` is the secret itself (not the name in front of it)."""

    kind: SecretKind
    start: int
    end: int

    def value(self, text: str) -> str:
        return text[self.start : self.end]


# Token characters on either side of a key: a key glued to more token characters is part of a longer word.
_B = r"(?<![A-Za-z0-9_\-])"
_E = r"(?![A-Za-z0-9_\-])"
_E_NO_DASH = r"(?![A-Za-z0-9_])"
# PEM bodies are base64 lines; in JS strings the newlines appear as `\n` escapes.
_PEM_MAX_BODY = 12_000
# Context window around a Google key in which Firebase's web config markers make it a publishable key.
_FIREBASE_WINDOW = 400
_FIREBASE_MARKERS = ("firebaseapp.com", "authDomain", "firebase", "FIREBASE")
_MIN_DISTINCT_CHARS = 6
_MIN_ASSIGNED_SECRET_LEN = 8
_JWT_SAMPLE_SUBJECT = "1234567890"


@dataclass(frozen=True, slots=True)
class _Shape:
    """One provider's key shape, tried only where its literal anchor occurs in the text."""

    kind: SecretKind
    regex: re.Pattern[str]
    value_group: str | int = 0
    """The group holding the secret itself (0: the whole match, which starts at the anchor)."""


def _shape(kind: SecretKind, pattern: str, value_group: str | int = 0) -> _Shape:
    return _Shape(kind, re.compile(pattern, re.DOTALL), value_group)


_PEM = _shape(
    SecretKind.PRIVATE_KEY,
    r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----"
    r"(?:.{0," + str(_PEM_MAX_BODY) + r"}?-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----)?",
)
_SLACK = _shape(SecretKind.SLACK_TOKEN, _B + r"xox[bpas]-[A-Za-z0-9\-]{10,255}" + _E_NO_DASH)
_GITHUB = _shape(SecretKind.GITHUB_TOKEN, _B + r"gh[pousr]_[A-Za-z0-9]{36,255}" + _E)

# Searching each literal anchor with str.find and trying the full pattern only there was ~25x faster
# than one alternation of all patterns: CPython's regex engine cannot skip ahead over lookbehinds.
_BY_ANCHOR: tuple[tuple[str, tuple[_Shape, ...]], ...] = (
    (
        "sk-",
        (
            _shape(SecretKind.ANTHROPIC_KEY, _B + r"sk-ant-[A-Za-z0-9]{2,8}-[A-Za-z0-9_\-]{32,}" + _E),
            _shape(SecretKind.OPENAI_KEY, _B + r"sk-(?!ant-)(?:proj-|svcacct-|admin-|None-)?[A-Za-z0-9_\-]{20,}" + _E),
        ),
    ),
    ("AKIA", (_shape(SecretKind.AWS_ACCESS_KEY_ID, r"(?<![A-Z0-9])AKIA[A-Z0-9]{16}(?![A-Z0-9])"),)),
    ("ASIA", (_shape(SecretKind.AWS_ACCESS_KEY_ID, r"(?<![A-Z0-9])ASIA[A-Z0-9]{16}(?![A-Z0-9])"),)),
    ("github_pat_", (_shape(SecretKind.GITHUB_TOKEN, _B + r"github_pat_[A-Za-z0-9_]{50,255}" + _E),)),
    *((f"gh{c}_", (_GITHUB,)) for c in "pousr"),
    ("sk_live_", (_shape(SecretKind.STRIPE_SECRET_KEY, _B + r"sk_live_[A-Za-z0-9]{20,255}" + _E),)),
    ("rk_live_", (_shape(SecretKind.STRIPE_SECRET_KEY, _B + r"rk_live_[A-Za-z0-9]{20,255}" + _E),)),
    *((f"xox{c}-", (_SLACK,)) for c in "bpas"),
    ("AIza", (_shape(SecretKind.GOOGLE_API_KEY, _B + r"AIza[0-9A-Za-z_\-]{35}" + _E),)),
    ("hf_", (_shape(SecretKind.HUGGINGFACE_TOKEN, _B + r"hf_[A-Za-z0-9]{30,255}" + _E),)),
    ("eyJ", (_shape(SecretKind.JWT, _B + r"eyJ[A-Za-z0-9_\-]{8,}\.eyJ[A-Za-z0-9_\-]{8,}\.[A-Za-z0-9_\-]{16,}" + _E),)),
    ("-----BEGIN ", (_PEM,)),
    (
        "://",
        (
            _shape(
                SecretKind.URL_PASSWORD,
                r"://[^\s:/@\"'`<>]{1,128}:(?P<password>[^\s/@\"'`<>]{3,256})@",
                "password",
            ),
        ),
    ),
)

# AWS secret keys have no prefix: only a 40-character value right after its well-known name counts.
_AWS_SECRET_NAMES = ("aws_secret", "AWS_SECRET", "awsSecret", "AwsSecret", "secretAccessKey", "SecretAccessKey")
# Every name `_AWS_SECRET` accepts holds "secret", and the usual spellings write it "ecret" or "ECRET":
# the key is looked for where those occur (aws_S / awsS / S before them), in one pass of str.find each,
# instead of a case-insensitive search over the whole text (20x slower on a large bundle).
_AWS_NAME_PARTS = ("ecret", "ECRET")
_AWS_NAME_STARTS = (5, 4, 1)
_AWS_SECRET = re.compile(
    r"(?i:aws_?secret_?(?:access_?)?key|secretAccessKey)[\"']?\s*[:=]\s*[\"']?"
    r"(?P<value>[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+])"
)

# `.env` context: a value assigned to a name that says it is a credential.
_SECRET_NAME_WORDS = (
    r"PASSWORD|PASSWD|PASSPHRASE|PWD|SECRET|TOKEN|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|CREDENTIALS?|AUTH_?KEY"
)
_ASSIGNMENT_REGEX = re.compile(
    r"^[ \t]*(?:export[ \t]+)?[A-Za-z0-9_.]*(?i:" + _SECRET_NAME_WORDS + r")[A-Za-z0-9_.]*[ \t]*=[ \t]*[\"']?"
    r"(?P<value>[^\s\"'#]+)",
    re.MULTILINE,
)

# Values people leave in .env.example files; they are not secrets.
_PLACEHOLDER_WORDS = (
    "example",
    "EXAMPLE",
    "changeme",
    "change-me",
    "change_me",
    "placeholder",
    "your-",
    "your_",
    "YOUR_",
    "<",
    "xxxx",
    "XXXX",
    "****",
    "...",
    "${",
    "dummy",
    "redacted",
    "REDACTED",
)
_PLACEHOLDER_VALUES = frozenset({"password", "secret", "pass", "token", "test", "null", "none", "undefined", "true"})


def is_placeholder(value: str) -> bool:
    """Values that only stand in for a secret (`sk-xxxx`, `your-api-key`, `${SECRET}`, `changeme`)."""
    if value.lower() in _PLACEHOLDER_VALUES:
        return True
    if any(word in value for word in _PLACEHOLDER_WORDS):
        return True
    return len(set(value)) < _MIN_DISTINCT_CHARS


def _jwt_payload(token: str) -> dict[str, object] | None:
    parts = token.split(".")
    if len(parts) != 3:
        return None
    segment = parts[1] + "=" * (-len(parts[1]) % 4)
    try:
        payload = json.loads(base64.urlsafe_b64decode(segment))
    except (binascii.Error, ValueError, RecursionError):
        return None
    return payload if isinstance(payload, dict) else None


def _plausible(kind: SecretKind, value: str, text: str, start: int) -> bool:
    """Rejects look-alikes the shape alone lets through; a pattern match that fails here is not a secret."""
    if kind is SecretKind.PRIVATE_KEY:
        return True
    if kind is SecretKind.JWT:
        payload = _jwt_payload(value)
        # Supabase's anon key is a JWT meant for browsers; its row-level security does the protecting.
        # jwt.io's sample token (subject "1234567890") sits in many libraries' docs and tests.
        return payload is not None and payload.get("role") != "anon" and payload.get("sub") != _JWT_SAMPLE_SUBJECT
    if kind is SecretKind.URL_PASSWORD:
        return value.lower() not in _PLACEHOLDER_VALUES and not any(w in value for w in _PLACEHOLDER_WORDS)
    if is_placeholder(value):
        return False
    if kind in (SecretKind.OPENAI_KEY, SecretKind.ANTHROPIC_KEY) and not (
        any(c.isdigit() for c in value) and any(c.isalpha() for c in value[3:])
    ):
        return False
    if kind is SecretKind.GOOGLE_API_KEY:
        window = text[max(0, start - _FIREBASE_WINDOW) : start + len(value) + _FIREBASE_WINDOW]
        return not any(marker in window for marker in _FIREBASE_MARKERS)
    return True


def find_secrets(
    text: str, context: Context = Context.TEXT, *, anchors: Collection[str] | None = None, lenient: bool = False
) -> list[SecretMatch]:
    """Every secret in `text`, in order of position, excluding placeholders and publishable-by-design keys.

    `anchors`, when the caller already knows them (the gateway's sanitizer finds them in one native pass):
    exactly the literal anchors (those of `_BY_ANCHOR` and `_AWS_SECRET_NAMES`) that occur in `text`; the
    others are not searched for. `lenient` adds what only the gateway's sanitizer looks for (see
    `_lenient_secrets`): it is not limited by `anchors`."""
    out: list[SecretMatch] = []
    for anchor, shapes in _BY_ANCHOR:
        if anchors is not None and anchor not in anchors:
            continue
        pos = text.find(anchor)
        while pos >= 0:
            resume = pos + 1
            for shape in shapes:
                match = shape.regex.match(text, pos)
                if match is None:
                    continue
                start, end = match.span(shape.value_group)
                if _plausible(shape.kind, text[start:end], text, start):
                    out.append(SecretMatch(shape.kind, start, end))
                resume = max(resume, match.end())
                break
            pos = text.find(anchor, resume)
    if anchors is None or any(name in anchors for name in _AWS_SECRET_NAMES):
        out.extend(_aws_secret_keys(text))
    if context is Context.ENV:
        for match in _ASSIGNMENT_REGEX.finditer(text):
            start, end = match.span("value")
            value = text[start:end]
            if len(value) < _MIN_ASSIGNED_SECRET_LEN or is_placeholder(value) or "://" in value:
                continue
            if publishable_reason(value) is not None:
                continue
            out.append(SecretMatch(SecretKind.PASSWORD_ASSIGNMENT, start, end))
    if lenient:
        out.extend(_lenient_secrets(text))
    return _without_overlaps(out)


def _aws_secret_keys(text: str) -> list[SecretMatch]:
    """AWS secret keys after their name, in any case of the name (`Aws_Secret_Key: …`)."""
    found: dict[int, SecretMatch] = {}
    for part in _AWS_NAME_PARTS:
        pos = text.find(part)
        while pos >= 0:
            for back in _AWS_NAME_STARTS:
                match = _AWS_SECRET.match(text, pos - back) if pos >= back else None
                if match is not None:
                    start, end = match.span("value")
                    if start not in found and _plausible(SecretKind.AWS_SECRET_KEY, text[start:end], text, start):
                        found[start] = SecretMatch(SecretKind.AWS_SECRET_KEY, start, end)
                    break
            pos = text.find(part, pos + 1)
    return [found[start] for start in sorted(found)]


# ---- lenient: what a model's answer may spell differently -----------------------------------------
# A model told to (or tricked into) hiding a key changes its spelling: an upper-cased prefix, a Cyrillic
# letter in it, a space inside the body, a key cut short, a PEM block without its armor or with four dashes.
# The gateway redacts these; the scanner does not look for them: source code and build output spell keys
# as they are, and a key fragment there (a truncated example in a README) is not a finding.

FRAGMENT_MIN = 12
"""Token characters after a distinctive prefix that make a key fragment worth redacting."""
ANCHOR_CONFUSABLES: dict[str, str] = {
    "a": "\u0430\u0410\u0391", "b": "\u0412\u0392", "c": "\u0441\u0421", "e": "\u0435\u0415\u0395",
    "h": "\u041d\u0397\u04bb", "i": "\u0456\u0406\u0399", "j": "\u0458\u0408", "k": "\u041a\u039a",
    "m": "\u041c\u039c", "n": "\u039d", "o": "\u043e\u041e\u039f\u03bf", "p": "\u0440\u0420\u03a1",
    "s": "\u0455\u0405", "t": "\u0422\u03a4", "x": "\u0445\u0425\u03a7", "y": "\u0443\u0423\u03a5",
}  # fmt: skip
"""Cyrillic and Greek letters drawn like a Latin letter (either case), by the Latin letter in lower case:
read as that letter in a key prefix only (a key's body is never folded)."""


@dataclass(frozen=True, slots=True)
class LenientPrefix:
    kind: SecretKind
    spelling: str
    """The prefix as the provider writes it; matched in any case and with look-alike letters."""
    body: str
    """The character class (regex, without brackets) of the key's body."""
    length: int
    """The body's length (`exact`) or its least length."""
    exact: bool


LENIENT_PREFIXES: tuple[LenientPrefix, ...] = (
    LenientPrefix(SecretKind.OPENAI_KEY, "sk-proj-", r"A-Za-z0-9_\-", 20, False),
    LenientPrefix(SecretKind.ANTHROPIC_KEY, "sk-ant-", r"A-Za-z0-9_\-", 35, False),
    *(LenientPrefix(SecretKind.GITHUB_TOKEN, f"gh{c}_", "A-Za-z0-9", 36, True) for c in "pousr"),
    LenientPrefix(SecretKind.GITHUB_TOKEN, "github_pat_", "A-Za-z0-9_", 50, False),
    LenientPrefix(SecretKind.AWS_ACCESS_KEY_ID, "AKIA", "A-Za-z0-9", 16, True),
    LenientPrefix(SecretKind.AWS_ACCESS_KEY_ID, "ASIA", "A-Za-z0-9", 16, True),
    *(LenientPrefix(SecretKind.SLACK_TOKEN, f"xox{c}-", r"A-Za-z0-9\-", 10, False) for c in "bpas"),
    LenientPrefix(SecretKind.GITLAB_TOKEN, "glpat-", r"A-Za-z0-9_\-", 20, False),
)
DER_PREFIXES: tuple[tuple[str, str, int], ...] = (
    # (literal that starts it, the fixed ASN.1 prefix as a regex, least base64 characters after it)
    ("MII", r"MII[A-Za-z0-9+/]{3}IBA(?:AKCA|AKBgQ|DANBgkqhkiG9w0BAQEFAASC)", 200),  # PKCS#1 RSA, PKCS#8 RSA
    ("MHcCAQEEI", "MHcCAQEEI", 100),  # SEC1 EC P-256: 164 characters in all, so 200 would never be reached
    ("b3BlbnNzaC1rZXktdjEAAAAA", "b3BlbnNzaC1rZXktdjEAAAAA", 200),  # "openssh-key-v1\0"
)
"""DER private keys in base64 without their armor, by the bytes every such key starts with. A public key
(`MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8A`) or a certificate (`MIID...CCA`) starts otherwise."""
PEM_GATES = ("-begin", "- begin", "-\tbegin")
"""Literals (any case) of which every lenient PEM header holds one, at its last dash."""


def _letters(ch: str) -> str:
    lower = ch.lower()
    if lower == ch.upper():
        return re.escape(ch)
    return "[" + lower + ch.upper() + ANCHOR_CONFUSABLES.get(lower, "") + "]"


# Boundaries in any script: `Eurasia` holds no `asia` key, nor `мыsk-proj-` an OpenAI one.
_NOT_AFTER_ALNUM = r"(?<![^\W_])"
_NOT_AFTER_TOKEN = r"(?<![\w-])"
_PEM_WORDS = r"[ \t]+(?:(?i:[A-Z0-9]+)[ \t]+){0,4}?(?i:PRIVATE)[ \t]+(?i:KEY)(?:[ \t]+(?i:BLOCK))?[ \t]?-{3,6}"
_PEM_FOOTER = re.compile(r"(?:\r?\n|(?:\\r)?\\n)?[ \t]{0,16}-{3,6}[ \t]?(?i:END)" + _PEM_WORDS)
_LENIENT_SEARCH = re.compile(
    "|".join(
        [
            *(
                f"(?P<p{i}>"
                + (_NOT_AFTER_ALNUM if p.kind is SecretKind.AWS_ACCESS_KEY_ID else _NOT_AFTER_TOKEN)
                + "".join(_letters(c) for c in p.spelling)
                + ")"
                for i, p in enumerate(LENIENT_PREFIXES)
            ),
            r"(?P<pem>-{3,6}[ \t]?(?i:BEGIN)" + _PEM_WORDS + ")",
            *(rf"(?P<d{i}>(?<![A-Za-z0-9+/]){regex})" for i, (_, regex, _) in enumerate(DER_PREFIXES)),
        ]
    )
)
_LENIENT_BODIES = tuple(re.compile(f"[{p.body}]*") for p in LENIENT_PREFIXES)
_ONE_BREAK = re.compile(r"(?:[ \t]|\r?\n)")
_B64_RUN = re.compile(r"[A-Za-z0-9+/]*")
_B64_BREAK = re.compile(r"(?:\r?\n|(?:\\r)?\\n)[ \t]{0,16}")
_B64_LINE_END = re.compile(r"={0,2}(?=\r?\n|\\[rn]|[\"'`]|\Z)")
_B64_PADDING = re.compile(r"={1,2}")
_FULL_LINE = 40
"""A base64 line this long may be followed by another (PEM writes 64, OpenSSH 70, MIME 76); a shorter one is
the last (a word on the next line is not taken for more key)."""


_LENIENT_LITERALS: tuple[tuple[str, int], ...] = (
    *((p.spelling.lower(), 0) for p in LENIENT_PREFIXES),
    *((gate, 5) for gate in PEM_GATES),  # found at the last dash; the header may start five dashes before it
    *((literal.lower(), 0) for literal, _, _ in DER_PREFIXES),
)
"""Every match of `_LENIENT_SEARCH` starts at one of these literals (in the text folded by `_FOLD`), or up to
the given number of characters before it."""


_FOLD = str.maketrans(
    {
        **{chr(c): chr(c + 32) for c in range(ord("A"), ord("Z") + 1)},
        **{look: latin for latin, looks in ANCHOR_CONFUSABLES.items() for look in looks},
        # The non-ASCII letters `re`'s case-insensitive matching takes for an ASCII one (`(?i:BEGIN)` matches
        # `BEGİN`): folded too, so that no match of the pattern starts where no literal was found.
        "\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k",
    }
)
"""One character for one, so that offsets stay: ASCII capitals and look-alike letters to lower-case Latin."""
_FOLDED = re.compile("[" + "".join(chr(c) for c in _FOLD if c >= 0x80) + "]")
"""The non-ASCII characters `_FOLD` changes."""


class _LiteralScan:
    """Every occurrence of the `_LENIENT_LITERALS`, overlapping ones included, in one Hyperscan pass: the 21
    `str.find` walks over each window around a key were an eighth of the sanitizer's whole-text scan
    (bench/sanitize_bench.py). Without hyperscan (its import failing), `found` is None and the walks stay."""

    def __init__(self) -> None:
        self._db: Any = None
        self._scratch: Any = None
        self._local = threading.local()
        self._ready = False
        self._lock = threading.Lock()

    def _compile(self) -> None:
        with self._lock:
            if self._ready:
                return
            try:
                import hyperscan
            except ImportError:
                self._ready = True
                return
            db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
            # Each character as `\xHH`: the literals hold `-`, `_` and a tab, which PCRE syntax would read.
            escaped = ["".join(f"\\x{ord(c):02x}" for c in literal) for literal, _ in _LENIENT_LITERALS]
            db.compile(
                expressions=[e.encode() for e in escaped],
                ids=list(range(len(_LENIENT_LITERALS))),
                flags=[0] * len(_LENIENT_LITERALS),
            )
            self._scratch = hyperscan.Scratch(db)
            self._db = db
            self._ready = True

    def found(self, lower: str) -> list[tuple[int, int]] | None:
        """`(end, literal index)` of every occurrence in `lower` (offsets are characters: the ASCII
        projection keeps them), or None without hyperscan."""
        if not self._ready:
            self._compile()
        if self._db is None:
            return None
        # A Scratch must not serve two scans at once: one clone per thread.
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._local.scratch = self._scratch.clone()
        out: list[tuple[int, int]] = []
        self._db.scan(lower.encode("ascii", "replace"), match_event_handler=_on_literal, context=out, scratch=scratch)
        return out


def _on_literal(literal: int, start: int, end: int, flags: int, found: list[tuple[int, int]]) -> None:
    found.append((end, literal))


_LITERAL_SCAN = _LiteralScan()


def _lenient_starts(text: str) -> list[int]:
    """The positions at which a match of `_LENIENT_SEARCH` may start, found by `str.find` on the text folded
    to lower-case Latin (look-alike letters included). `finditer` alone tried its ~20 alternatives, each
    behind a look-behind, at every position: ~10 MB/s, most of a whole-text scan's time when windows around
    keys are many."""
    # `translate` walks the text in Python-object steps; most windows hold no letter it would change other
    # than capitals, and `lower` keeps every offset but U+0130's (which `_FOLDED` looks for).
    lower = text.lower() if text.isascii() or _FOLDED.search(text) is None else text.translate(_FOLD)
    starts: set[int] = set()
    found = _LITERAL_SCAN.found(lower)
    if found is not None:
        for end, i in found:
            literal, back = _LENIENT_LITERALS[i]
            pos = end - len(literal)
            starts.update(range(max(0, pos - back), pos + 1))
        return sorted(starts)
    for literal, back in _LENIENT_LITERALS:
        pos = lower.find(literal)
        while pos >= 0:
            starts.update(range(max(0, pos - back), pos + 1))
            pos = lower.find(literal, pos + 1)
    return sorted(starts)


def _lenient_matches(text: str) -> Iterable[re.Match[str]]:
    """What `_LENIENT_SEARCH.finditer(text)` yields, trying only where a match may start."""
    resume = 0
    for pos in _lenient_starts(text):
        if pos < resume:
            continue
        m = _LENIENT_SEARCH.match(text, pos)
        if m is not None:
            yield m
            resume = max(m.end(), pos + 1)


def _lenient_secrets(text: str) -> list[SecretMatch]:
    out: list[SecretMatch] = []
    for m in _lenient_matches(text):
        group = m.lastgroup or ""
        start = m.start()
        if group == "pem":
            end, _ = _base64_lines(text, m.end(), _FULL_LINE)
            footer = _PEM_FOOTER.match(text, end)
            out.append(SecretMatch(SecretKind.PRIVATE_KEY, start, footer.end() if footer else end))
        elif group[0] == "d":
            _, _, least = DER_PREFIXES[int(group[1:])]
            end, count = _base64_lines(text, m.end(), m.end() - start)
            if count >= least:
                out.append(SecretMatch(SecretKind.PRIVATE_KEY, start, end))
        else:
            i = int(group[1:])
            found = _prefixed_key(text, m.end(), LENIENT_PREFIXES[i], _LENIENT_BODIES[i])
            if found is not None:
                out.append(SecretMatch(LENIENT_PREFIXES[i].kind, start, found))
    return out


def _prefixed_key(text: str, pos: int, prefix: LenientPrefix, body: re.Pattern[str]) -> int | None:
    """Where a key (or a fragment of one) after a prefix ending at `pos` ends, or None.

    A fragment of `FRAGMENT_MIN` characters counts; a key whose body one space or line break splits in two
    counts from the prefix to the end of the second piece when the two pieces make the key's length."""
    end1 = body.match(text, pos).end()  # type: ignore[union-attr]
    first = end1 - pos
    value = text[pos:end1]
    end = end1 if first >= FRAGMENT_MIN else None
    if first < prefix.length:
        gap = _ONE_BREAK.match(text, end1)
        if gap is not None:
            end2 = body.match(text, gap.end()).end()  # type: ignore[union-attr]
            total = first + end2 - gap.end()
            if end2 > gap.end() and (total == prefix.length if prefix.exact else total >= prefix.length):
                end = end2
                value += text[gap.end() : end2]
    if end is None or is_placeholder(value):
        return None
    # A random body has a digit or both cases; `Asia` before a long word has neither.
    if any(c.isdigit() for c in value) or (any(c.isupper() for c in value) and any(c.islower() for c in value)):
        return end
    return None


def _base64_lines(text: str, pos: int, line: int) -> tuple[int, int]:
    """`(end, count)`: the base64 that goes on at `pos` (the rest of a line already `line` long, then whole
    lines while the previous one was full), with its padding; `count` base64 characters in it."""
    end = _B64_RUN.match(text, pos).end()  # type: ignore[union-attr]
    count = end - pos
    line += count
    while line >= _FULL_LINE and text.startswith("=", end) is False:
        brk = _B64_BREAK.match(text, end)
        if brk is None:
            break
        stop = _B64_RUN.match(text, brk.end()).end()  # type: ignore[union-attr]
        if stop == brk.end() or _B64_LINE_END.match(text, stop) is None:
            break
        line = stop - brk.end()
        count += line
        end = stop
    padding = _B64_PADDING.match(text, end)
    return (padding.end() if padding else end), count


# Kinds found by a name or a URL's shape around the secret; a provider's own shape says more.
_GENERIC_KINDS = frozenset({SecretKind.URL_PASSWORD, SecretKind.PASSWORD_ASSIGNMENT})


def _without_overlaps(matches: list[SecretMatch]) -> list[SecretMatch]:
    """One match per stretch of text (`postgres://u:sk-proj-…@h` is an OpenAI key, not also a password)."""
    kept: list[SecretMatch] = []
    for match in sorted(matches, key=lambda m: (m.kind in _GENERIC_KINDS, m.start, -m.end)):
        if all(match.end <= k.start or k.end <= match.start for k in kept):
            kept.append(match)
    return sorted(kept, key=lambda m: m.start)


def contains_secret(text: str, context: Context = Context.TEXT) -> bool:
    return bool(find_secrets(text, context))


# ---- publishable by design ------------------------------------------------------------------------

_SENTRY_DSN = re.compile(r"^https://[0-9a-f]{16,64}@[A-Za-z0-9.\-]*(?:sentry\.io|sentry)[A-Za-z0-9.\-]*(?::\d+)?/\d+$")
_STRIPE_PUBLISHABLE = re.compile(r"^pk_(?:live|test)_[A-Za-z0-9]{10,}$")
_POSTHOG_PROJECT_KEY = re.compile(r"^phc_[A-Za-z0-9]{20,}$")
_GOOGLE_KEY = re.compile(r"^AIza[0-9A-Za-z_\-]{35}$")
_ALGOLIA_UNSAFE_WORDS = ("ADMIN", "WRITE", "SECRET")
# A Google Maps Platform key (Maps JavaScript, Places, Geocoding in the browser) is a browser key by design,
# restricted by HTTP referrer and API in the Cloud console. Only the variable's name tells it from any other
# `AIza` key (Gemini's among them): a bare GOOGLE_API_KEY stays a secret.
_MAPS_WORDS = frozenset({"MAP", "MAPS", "PLACES", "GEOCODING", "GEOCODE", "GEOCODER"})
_SERVER_SIDE_WORDS = frozenset({"SECRET", "PRIVATE", "SERVER", "BACKEND", "ADMIN"})
_NAME_SPLIT = re.compile(r"[^A-Za-z0-9]+|(?<=[a-z])(?=[A-Z])")


def name_words(name: str) -> list[str]:
    """`NEXT_PUBLIC_supabaseAnonKey` → ['NEXT', 'PUBLIC', 'SUPABASE', 'ANON', 'KEY']."""
    return [w.upper() for w in _NAME_SPLIT.split(name) if w]


def publishable_reason(value: str, name: str | None = None) -> str | None:
    """Why `value` (optionally assigned to the variable `name`) is safe to ship to browsers, or None."""
    value = value.strip()
    words = name_words(name) if name else []
    if _STRIPE_PUBLISHABLE.match(value):
        return "Stripe publishable key"
    if _POSTHOG_PROJECT_KEY.match(value):
        return "PostHog project API key"
    if _SENTRY_DSN.match(value):
        return "Sentry DSN"
    if value.startswith("eyJ"):
        payload = _jwt_payload(value)
        if payload is not None and payload.get("role") == "anon":
            return "Supabase anon key"
    if _GOOGLE_KEY.match(value) and "FIREBASE" in words:
        return "Firebase web API key"
    if _GOOGLE_KEY.match(value) and _says_maps_browser_key(words):
        return "Google Maps Platform browser key"
    if "ALGOLIA" in words and "SEARCH" in words and not any(w in words for w in _ALGOLIA_UNSAFE_WORDS):
        return "Algolia search-only API key"
    return None


def _says_maps_browser_key(words: list[str]) -> bool:
    return any(w in _MAPS_WORDS for w in words) and not any(w in _SERVER_SIDE_WORDS for w in words)


def publishable_name_reason(name: str) -> str | None:
    """Why a variable is publishable by its name alone (when its value is not known), or None."""
    words = name_words(name)
    if "PUBLISHABLE" in words and "STRIPE" in words:
        return "Stripe publishable key"
    if "POSTHOG" in words and "KEY" in words:
        return "PostHog project API key"
    if "SENTRY" in words and "DSN" in words:
        return "Sentry DSN"
    if "SUPABASE" in words and "ANON" in words:
        return "Supabase anon key"
    if "FIREBASE" in words and "SECRET" not in words and "PRIVATE" not in words:
        return "Firebase web config"
    if "GOOGLE" in words and _says_maps_browser_key(words):
        return "Google Maps Platform browser key"
    if "ALGOLIA" in words and "SEARCH" in words and not any(w in words for w in _ALGOLIA_UNSAFE_WORDS):
        return "Algolia search-only API key"
    pairs = set(itertools.pairwise(words))
    if ("SITE", "KEY") in pairs:
        return "CAPTCHA site key"
    if ("PUBLIC", "KEY") in pairs or ("PUBLISHABLE", "KEY") in pairs:
        return "public half of a key pair"
    return None
