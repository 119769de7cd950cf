"""LLM endpoints in configuration values and code: what is one, which are internal, which go over plaintext.

A self-hosted model's address is infrastructure the storefront's visitors should never learn, and a
prompt sent to it over `http://` crosses the network readable by anyone on the path. These helpers
decide, from a URL string and optionally the name of the variable holding it, whether it points at
an LLM, whether that LLM is internal (not a public provider API), and whether the transport is
plaintext to a host that is not this machine. Only loopback (`localhost`, 127.0.0.0/8, ::1) stays on
the machine; private ranges and bare hostnames (`http://ollama:11434`) travel over a network.
"""

from __future__ import annotations

import ipaddress
import itertools
from dataclasses import dataclass
from urllib.parse import urlsplit

from leakline.detectors.secrets import name_words
from leakline.findings import REDACTION_ELLIPSIS

OLLAMA_DEFAULT_PORT = 11434
LLM_URL_PATHS = (
    "/v1/chat/completions",
    "/v1/completions",
    "/v1/responses",
    "/v1/embeddings",
    "/v1/messages",
    "/api/generate",
    "/api/chat",
    "/api/embeddings",
    "/generate_stream",
)
# Ollama's own paths (`/api/chat`) are also common Next.js route names; alone they only count on a
# non-standard port or with an LLM-ish host or variable name.
_AMBIGUOUS_PATHS = ("/api/chat", "/api/generate")
LLM_NAME_WORDS = frozenset(
    {"OLLAMA", "LLM", "VLLM", "LLAMA", "OPENAI", "ANTHROPIC", "INFERENCE", "TGI", "LMSTUDIO", "MISTRAL", "GPT"}
)
LLM_NAME_PAIRS = frozenset({("MODEL", "URL"), ("MODEL", "ENDPOINT"), ("MODEL", "HOST"), ("AI", "URL"), ("AI", "BASE")})
_LLM_HOST_WORDS = frozenset(
    {"ollama", "vllm", "llm", "llama", "inference", "tgi", "lmstudio", "gpu"}
)
PUBLIC_LLM_HOSTS = frozenset(
    {
        "api.openai.com",
        "api.anthropic.com",
        "generativelanguage.googleapis.com",
        "api.mistral.ai",
        "api.groq.com",
        "api.together.xyz",
        "api.together.ai",
        "openrouter.ai",
        "api.cohere.ai",
        "api.cohere.com",
        "api-inference.huggingface.co",
        "router.huggingface.co",
        "api.deepseek.com",
        "api.fireworks.ai",
        "api.perplexity.ai",
        "api.x.ai",
    }
)
_LOCAL_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
# Connecting (not binding) to the unspecified address reaches this machine.
_UNSPECIFIED = frozenset({"0.0.0.0", "::"})  # noqa: S104


@dataclass(frozen=True, slots=True)
class Url:
    """The parts of an absolute http(s) URL the detectors look at (host lower-cased, no brackets)."""

    scheme: str
    host: str
    port: int | None
    path: str

    @property
    def origin(self) -> str:
        """`scheme://host[:port]`, IPv6 hosts in brackets; no user info, path or query."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        port = f":{self.port}" if self.port is not None else ""
        return f"{self.scheme}://{host}{port}"


def parse_url(value: str) -> Url | None:
    """An http(s) URL in `value` (surrounding whitespace and quotes ignored), or None."""
    value = value.strip().strip("\"'`")
    if not value.lower().startswith(("http://", "https://")):
        return None
    try:
        parts = urlsplit(value)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if not host:
        return None
    return Url(parts.scheme.lower(), host, port, parts.path or "/")


def is_loopback_host(host: str) -> bool:
    """localhost, *.localhost (RFC 6761), 127.0.0.0/8, ::1, and the unspecified addresses."""
    host = host.lower().strip("[]").rstrip(".")
    if host in _LOCAL_NAMES or host.endswith(".localhost") or host in _UNSPECIFIED:
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_llm_name(name: str) -> bool:
    """A variable or property name that says it holds an LLM setting (`OLLAMA_HOST`, `llmBaseUrl`)."""
    words = name_words(name)
    if any(word in LLM_NAME_WORDS for word in words):
        return True
    return any(pair in LLM_NAME_PAIRS for pair in itertools.pairwise(words))


def _host_words(host: str) -> set[str]:
    return {w for w in host.replace("-", ".").replace("_", ".").split(".") if w}


def looks_like_llm_url(url: Url, name: str | None = None) -> bool:
    """Whether `url` addresses an LLM API: by port, path, host name, or the variable's name."""
    if url.port == OLLAMA_DEFAULT_PORT or url.host in PUBLIC_LLM_HOSTS:
        return True
    if name is not None and is_llm_name(name):
        return True
    if _host_words(url.host) & _LLM_HOST_WORDS:
        return True
    path = url.path.lower()
    for llm_path in LLM_URL_PATHS:
        if llm_path in path:
            return llm_path not in _AMBIGUOUS_PATHS or url.port not in (None, 80, 443, 3000)
    return False


def is_internal_llm_endpoint(value: str, name: str | None = None) -> bool:
    """A URL of a self-hosted/internal LLM (not a public provider's API), by shape or variable name."""
    url = parse_url(value)
    return url is not None and url.host not in PUBLIC_LLM_HOSTS and looks_like_llm_url(url, name)


def plaintext_remote(value: str) -> Url | None:
    """The URL when `value` is `http://` to a host other than this machine, else None."""
    url = parse_url(value)
    if url is None or url.scheme != "http" or is_loopback_host(url.host):
        return None
    return url


def _host_kind(host: str) -> str:
    """The part of a host that says what kind of network it is on, the rest elided: an IPv4 address's first octet
    (`10.…`, the private range), an IPv6 address's first group (`[fd00:…]`, unique-local), a name's last label
    (`….internal`, `….lan`; `…` for a bare service name such as `ollama`)."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        labels = host.rstrip(".").split(".")
        return f"{REDACTION_ELLIPSIS}.{labels[-1]}" if len(labels) > 1 else REDACTION_ELLIPSIS
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return f"[::ffff:{_host_kind(str(address.ipv4_mapped))}]"
        return f"[{address.exploded.split(':', 1)[0].lstrip('0') or '0'}:{REDACTION_ELLIPSIS}]"
    return f"{host.split('.', 1)[0]}.{REDACTION_ELLIPSIS}"


def shown(url: Url) -> str:
    """The endpoint as a finding shows it: scheme, kind of host and port (the port tells which server, 11434 is
    Ollama's). Not `redact`: the ends it keeps of a secret are, in an address, the parts naming the machine."""
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{_host_kind(url.host)}{port}"


def shown_value(value: str) -> str | None:
    """`shown` of the http(s) URL `value` holds, or None when it holds none."""
    url = parse_url(value)
    return None if url is None else shown(url)
