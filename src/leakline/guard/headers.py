"""Header hygiene: which upstream response headers reach the browser, and what every response carries.

Two modes. "allow" (the default) passes only an allow-list; "deny" passes everything except a
deny-list of fnmatch patterns for headers known to leak internals (server software, model names,
prompt or log echoes, timing that reveals which model ran). Either way hop-by-hop and framing
headers are dropped (the gateway frames its own body) and `cache-control: no-store` plus the security
headers are set on every response. An upstream's refusal (429, 503) passes its well-formed
`retry-after` and `retry-after-ms` in either mode.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
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


def _denied(name: str, patterns: Sequence[str]) -> bool:
    return any(fnmatchcase(name, pattern) for pattern in patterns)


def filter_upstream_headers(
    headers: Iterable[tuple[str, str]],
    *,
    mode: str,
    allowed: frozenset[str],
    denied: Sequence[str],
) -> list[tuple[str, str]]:
    """The upstream headers that may be passed on (names lowercased, order kept)."""
    out: list[tuple[str, str]] = []
    for raw_name, value in headers:
        name = raw_name.lower()
        if name in ALWAYS_DROPPED:
            continue
        if mode == "allow":
            if name in allowed:
                out.append((name, value))
        elif not _denied(name, denied):
            out.append((name, value))
    return out


def response_headers(passed: Iterable[tuple[str, str]], *, content_type: bytes) -> list[tuple[bytes, bytes]]:
    """ASGI headers for a gateway response: passed upstream headers, our content type, security headers."""
    out = [(b"content-type", content_type)]
    out.extend((name.encode("latin-1"), value.encode("latin-1")) for name, value in passed if name != "content-type")
    out.extend(SECURITY_HEADERS)
    return out
