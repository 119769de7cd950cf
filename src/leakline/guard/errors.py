"""Errors of the gateway, each one an HTTP status and an OpenAI-shaped JSON body.

Every way a request can fail has its own class, so the pipeline raises and one place (`to_body`)
renders `{"error": {"message", "type", "param", "code"}}` the way OpenAI's clients expect. Messages
name what was wrong (a header, a field, a byte offset, a policy) and never quote prompt or response
text, which may hold personal data. `GatewayConfigError` is the odd one out: it is a leakline.toml
problem found when the gateway is built, and the CLI reports it like every other `ConfigError`.
"""

from __future__ import annotations

import json
import os
from urllib.parse import urlsplit, urlunsplit

from leakline.errors import ConfigError, LeaklineError


class GatewayConfigError(ConfigError):
    """The [gateway], [regions.*] or [[clients]] settings contradict each other."""


class GatewayError(LeaklineError):
    """A request the gateway refuses or cannot complete; rendered as an OpenAI error response."""

    status: int = 500
    kind: str = "server_error"
    code: str = "internal_error"

    def __init__(self, message: str, *, param: str | None = None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.param = param
        self.reason: str | None = None
        """What only the operator's log gets (e.g. the OS error of an unreachable upstream)."""
        self.headers: tuple[tuple[str, str], ...] = ()
        """Response headers the error carries (an upstream's `retry-after`)."""

    def to_body(self) -> bytes:
        error = {"message": self.message, "type": self.kind, "param": self.param, "code": self.code}
        return json.dumps({"error": error}, separators=(",", ":")).encode("utf-8")


def display_url(url: str) -> str:
    """`url` without user, password, query or fragment: fit for a log line."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port is not None else ""
    return urlunsplit((parts.scheme, host + port, parts.path, "", ""))


def os_reason(exc: BaseException) -> str:
    """Why a connection failed, from its errno (`Connection refused`), else the exception's class name:
    never the exception's text, which names the peer's address (and an upstream URL's credentials)."""
    os_error = getattr(exc, "os_error", exc)  # aiohttp's connector errors wrap the OSError
    errno = os_error.errno if isinstance(os_error, OSError) else None
    return os.strerror(errno) if errno else type(os_error).__name__


class Unauthorized(GatewayError):
    status, kind, code = 401, "invalid_request_error", "invalid_api_key"


class ModelNotAllowed(GatewayError):
    status, kind, code = 403, "invalid_request_error", "model_not_allowed"


class BadRequest(GatewayError):
    status, kind, code = 400, "invalid_request_error", "invalid_request"


class MalformedJson(BadRequest):
    code = "invalid_json"


class UnsupportedMediaType(GatewayError):
    status, kind, code = 415, "invalid_request_error", "unsupported_media_type"


class PayloadTooLarge(GatewayError):
    status, kind, code = 413, "invalid_request_error", "request_too_large"


class ModelNotFound(GatewayError):
    status, kind, code = 404, "invalid_request_error", "model_not_found"


class NotFound(GatewayError):
    status, kind, code = 404, "invalid_request_error", "unknown_url"


class MethodNotAllowed(GatewayError):
    status, kind, code = 405, "invalid_request_error", "method_not_allowed"


class ResidencyDenied(GatewayError):
    """No region may serve this request; `policy` names the rule that refused it."""

    status, kind, code = 451, "residency_error", "residency_refused"

    def __init__(self, message: str, *, policy: str, country: str | None) -> None:
        super().__init__(message, param=policy)
        self.policy = policy
        self.country = country


class UpstreamUnavailable(GatewayError):
    status, kind, code = 502, "upstream_error", "upstream_unavailable"


class UpstreamProtocolError(GatewayError):
    """The upstream answered with something that is not the OpenAI wire protocol."""

    status, kind, code = 502, "upstream_error", "upstream_protocol_error"


class UpstreamTimeout(GatewayError):
    status, kind, code = 504, "upstream_error", "upstream_timeout"


class AuditUnavailable(GatewayError):
    """`[audit] on_failure = "refuse"`: the region's audit sink cannot be written, so the exchange is not made."""

    status, kind, code = 503, "server_error", "audit_unavailable"


class SanitizerFailed(GatewayError):
    """A detector raised: the response is refused rather than passed unchecked (fail closed)."""

    status, kind, code = 500, "server_error", "sanitizer_failed"
