"""Header hygiene: which upstream response headers reach the browser, and what every response carries.

Two modes. "allow" (the default) passes only an allow-list; "deny" passes everything except a
deny-list of fnmatch patterns for headers known to leak internals (server software, model names,
prompt or log echoes, timing that reveals which model ran). Either way hop-by-hop and framing
headers are dropped (the gateway frames its own body) and `cache-control: no-store` plus the security
headers are set on every response. An upstream's refusal (429, 503) passes its well-formed
`retry-after` and `retry-after-ms` in either mode.

A header the upstream sent more than once passes once (its first value), and a value that HTTP/1.1 cannot
carry (a character outside Latin-1, a control character) is dropped, logged by the header's name only:
encoding it would fail the whole response with a 500, and a newline in it would split the header.

The values of the headers the gateway knows are held to their shape (`VALUE_SHAPES`), in either mode:
a header's value is a word the upstream chooses, and a hostile one wrote the canary and an address into
`x-request-id` and `openai-version`. `openai-version` passes only as a date (`2020-10-01`); an
`x-request-id` of more than `SHORT_ID` characters is replaced by a keyed digest in the same shape (a UUID
stays a UUID, hex stays hex, a known prefix such as `req_` is kept), so a client still sees one id per
upstream request and the same id on every retry of it, and a value that is not an id at all is dropped.
Short ids (`r-1`) pass: a secret does not fit in 8 characters. Other headers pass as the mode says: the
operator chose them (`allowed_headers`, or `deny` mode).
"""

from __future__ import annotations

import datetime
import hashlib
import logging
import os
import re
from collections.abc import Callable, Iterable, Sequence
from fnmatch import fnmatchcase

DENY_PATTERNS: tuple[str, ...] = (
    "server",
    "x-powered-by",
    "via",
    "x-*-log",
    "x-*-logs",
    "x-prompt*",
    "x-model*",
    "x-ollama*",
    "x-vllm*",
    "x-llama*",
    "x-envoy-upstream-service-time",
    "x-*-model",
    "x-*-model-*",
    "x-inference*",
    "x-backend*",
    "x-upstream*",
    "openai-model",
    "openai-organization",
    "x-ratelimit-*",
    "x-debug*",
    "x-trace*",
    "set-cookie",
    # Timing tells which model ran and how long the prompt was (`server-timing: model;desc="llama3.1-70b"`).
    "server-timing",
    "x-*-time",
    "x-*-time-*",
    "x-runtime",
    "*-processing-ms",
    # Which host, pod or node answered, and links to the upstream's own (debug) endpoints.
    "x-served-by",
    "x-kubernetes-*",
    "x-pod*",
    "x-node*",
    "link",
    "alt-svc",
    # The upstream's CORS policy is not the gateway's (`access-control-allow-origin: *`).
    "access-control-*",
)
"""Leaky headers in "deny" mode (fnmatch, lowercase)."""

# Framing is the gateway's own; cache and security headers are replaced.
ALWAYS_DROPPED = frozenset(
    {
        "connection",
        "keep-alive",
        "transfer-encoding",
        "content-length",
        "content-encoding",
        "te",
        "trailer",
        "upgrade",
        "proxy-connection",
        "date",
        "cache-control",
        "pragma",
        "expires",
        "etag",
        "last-modified",
        "set-cookie",
    }
)

SECURITY_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"cache-control", b"no-store"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"x-frame-options", b"DENY"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
)


RETRY_HEADERS: dict[str, re.Pattern[str]] = {
    # delta-seconds or an HTTP-date (RFC 9110 10.2.3)
    "retry-after": re.compile(r"\d{1,10}|[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT"),
    # OpenAI's and vLLM's milliseconds (the openai clients read it before retry-after)
    "retry-after-ms": re.compile(r"\d{1,12}(?:\.\d{1,6})?"),
}
"""Passed on an upstream's refusal whatever the header mode: a client's back-off depends on them, and
only a number or a date passes (a value in any other shape could carry text)."""


def retry_headers(headers: Iterable[tuple[str, str]]) -> tuple[tuple[str, str], ...]:
    """The upstream's `retry-after` / `retry-after-ms`, if well-formed (names lowercased)."""
    out: list[tuple[str, str]] = []
    for raw_name, value in headers:
        name = raw_name.lower()
        pattern = RETRY_HEADERS.get(name)
        if pattern is not None and pattern.fullmatch(value.strip()) and all(n != name for n, _ in out):
            out.append((name, value.strip()))
    return tuple(out)


log = logging.getLogger("leakline.guard")
_UNSENDABLE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
"""Control characters (a tab is allowed in a field value, RFC 9110 5.5)."""
_REFUSED_NAMES: set[str] = set()
"""Header names already logged as dropped for their value (bounded: an upstream may invent names)."""
MAX_REFUSED_NAMES = 100


def sendable(name: str, value: str) -> bool:
    """Whether `name: value` can go out as an HTTP/1.1 header (Latin-1, no control characters); logs the
    name (never the value, which may be anything the upstream put there) the first time it cannot."""
    try:
        name.encode("latin-1")
        value.encode("latin-1")
        ok = _UNSENDABLE.search(name) is None and _UNSENDABLE.search(value) is None
    except UnicodeEncodeError:
        ok = False
    if not ok:
        shown = name if name.isascii() and name.isprintable() else "(unprintable name)"
        if shown not in _REFUSED_NAMES and len(_REFUSED_NAMES) < MAX_REFUSED_NAMES:
            _REFUSED_NAMES.add(shown)
            log.warning(
                "dropped the upstream header %s: its value is not Latin-1 or holds control characters", shown[:100]
            )
    return ok


SHORT_ID = 8
"""An `x-request-id` up to this long (letters, digits, `-`, `_`) passes as it is: too short for a card
number (13 digits and more), a canary (24 characters) or an address."""
MAX_ID = 128
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]*")
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_ID_PREFIXES = ("req_", "req-", "chatcmpl-", "cmpl-", "embd-")
_ID_KEY = os.urandom(32)
"""Keys the digests sent in place of an upstream's request ids (one per process)."""
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
FIRST_API_YEAR = 2020
"""`openai-version` is the date of an API version: OpenAI's is 2020-10-01; none is older."""


def _digest(value: str, alphabet: str, size: int) -> str:
    digest = hashlib.blake2b(value.encode("latin-1"), key=_ID_KEY, digest_size=64).digest()
    while len(digest) < size:
        digest += hashlib.blake2b(digest, key=_ID_KEY, digest_size=64).digest()
    return "".join(alphabet[b % len(alphabet)] for b in digest[:size])


def request_id(value: str) -> str | None:
    """The `x-request-id` sent for an upstream's `value`: short ids as they are, longer ones a keyed digest
    in their shape (UUID, hex, letters and digits; a known prefix kept), None when `value` is no id."""
    if len(value) > MAX_ID or _ID.fullmatch(value) is None:
        return None
    if len(value) <= SHORT_ID and re.fullmatch(r"[A-Za-z0-9_-]+", value):
        return value
    if _UUID.fullmatch(value):
        hexed = _digest(value, "0123456789abcdef", 32)
        return "-".join((hexed[:8], hexed[8:12], hexed[12:16], hexed[16:20], hexed[20:]))
    prefix = next((p for p in _ID_PREFIXES if value.startswith(p) and len(value) > len(p)), "")
    rest = value[len(prefix) :]
    if _HEX.fullmatch(rest):
        return prefix + _digest(value, "0123456789abcdef", len(rest))
    return prefix + _digest(value, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", len(rest))


def api_version(value: str) -> str | None:
    """`openai-version` passes as a real date from `FIRST_API_YEAR` to next year, else None."""
    if _DATE.fullmatch(value) is None:
        return None
    try:
        day = datetime.date.fromisoformat(value)
    except ValueError:
        return None
    return value if FIRST_API_YEAR <= day.year <= datetime.date.today().year + 1 else None


VALUE_SHAPES: dict[str, Callable[[str], str | None]] = {
    "x-request-id": request_id,
    "openai-version": api_version,
}
"""Headers whose value is held to a shape, whatever the mode: the value to send, or None to drop it."""
_MISSHAPED_NAMES: set[str] = set()


def _shaped(name: str, value: str) -> str | None:
    shape = VALUE_SHAPES.get(name)
    if shape is None:
        return value
    out = shape(value.strip(" \t"))
    if out is None and name not in _MISSHAPED_NAMES:
        _MISSHAPED_NAMES.add(name)
        log.warning("dropped the upstream header %s: its value is not in the header's shape", name)
    return out


def _denied(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def filter_upstream_headers(
    headers: Iterable[tuple[str, str]],
    *,
    mode: str,
    allowed: frozenset[str],
    denied: Sequence[str],
    judge: Callable[[str], list[str]] | None = None,
) -> list[tuple[str, str]]:
    """The upstream headers that may be passed on (names lowercased, order kept, each name once with its
    first sendable value, held to its shape: `VALUE_SHAPES`). A value with no shape of its own (a header
    the operator allowed, or any header in deny mode) is given to `judge`, which names the detectors that
    match it: such a header is dropped, not redacted (a header is a word the upstream chose, not text a
    reader needs), and its name logged once, never its value."""
    out: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw_name, value in headers:
        name = raw_name.lower()
        if name in ALWAYS_DROPPED or name in seen:
            continue
        if mode == "allow" and name not in allowed:
            continue
        if mode != "allow" and _denied(name, denied):
            continue
        if sendable(name, value):
            shaped = _shaped(name, value)
            if shaped is None:
                continue
            # `content-type` is the gateway's own in every response (`response_headers`): not judged.
            if judge is not None and name not in _NOT_JUDGED and _judged_out(name, shaped, judge):
                continue
            seen.add(name)
            out.append((name, shaped))
    return out


_NOT_JUDGED = frozenset({*VALUE_SHAPES, "content-type"})
"""Headers whose value is never given to the detectors: held to a shape, or replaced by the gateway's own."""
_JUDGED_NAMES: set[str] = set()
"""Header names already logged as dropped for what a detector found (bounded as `_REFUSED_NAMES`)."""


def _judged_out(name: str, value: str, judge: Callable[[str], list[str]]) -> bool:
    try:
        found = judge(value)
    except Exception:  # a detector that raises: the value is not sent (fail closed)
        found = ["(a detector failed)"]
    if found and name not in _JUDGED_NAMES and len(_JUDGED_NAMES) < MAX_REFUSED_NAMES:
        _JUDGED_NAMES.add(name)
        log.warning("dropped the upstream header %s: its value holds %s", name[:100], ", ".join(sorted(set(found))))
    return bool(found)


def response_headers(passed: Iterable[tuple[str, str]], *, content_type: bytes) -> list[tuple[bytes, bytes]]:
    """ASGI headers for a gateway response: passed upstream headers, our content type, security headers.
    A header that cannot be sent is dropped here too, should a caller pass one unfiltered."""
    out = [(b"content-type", content_type)]
    out.extend(
        (name.encode("latin-1"), value.encode("latin-1"))
        for name, value in passed
        if name != "content-type" and sendable(name, value)
    )
    out.extend(SECURITY_HEADERS)
    return out
