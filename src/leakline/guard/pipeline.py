"""The gateway's request pipeline: a pure-ASGI app per OpenAI route, streaming end to end.

authenticate → check the body (type, size, JSON) → residency (country → region → model) →
forward to the region's upstream on a pooled aiohttp session → sanitize (whole message, or per choice
and field through a hold-back `StreamSanitizer` for streams) → filter headers → respond. The audit
record, the signals and the volume counters are handed to `EventWorker` (a queue), never awaited.

Fail closed: if the sanitizer is missing or raises, nothing of the upstream's answer is sent after
that point (a 500 JSON error before the first byte, a `content_filter` finish and `[DONE]` after).
Response headers of a stream go out only with its first sanitized event, so an upstream that sends
malformed SSE from the start gets a clean 502 JSON error instead of a half-open stream.
"""

from __future__ import annotations

import asyncio
import importlib
import ipaddress
import json
import logging
import math
import os
import re
import sys
import time
import traceback
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard
from urllib.parse import urlsplit

from leakline.errors import LeaklineError
from leakline.findings import Severity
from leakline.guard import fastjson
from leakline.guard.anomaly import pop_from_header
from leakline.guard.auth import Client, KeyStore
from leakline.guard.errors import (
    AuditUnavailable,
    BadRequest,
    GatewayConfigError,
    GatewayError,
    MalformedJson,
    ModelNotFound,
    PayloadTooLarge,
    ResidencyDenied,
    SanitizerFailed,
    UnsupportedMediaType,
    UpstreamProtocolError,
    UpstreamTimeout,
    UpstreamUnavailable,
    display_url,
    os_reason,
)
from leakline.guard.events import EventWorker, Exchange, Hit
from leakline.guard.fields import (
    FUNCTION_KEYS,
    PART_TEXT,
    Dropped,
    drop_unknown,
    sanitize_message,
    screen_answer,
    screen_call,
    screen_choice,
    screen_part,
)
from leakline.guard.headers import filter_upstream_headers, response_headers, retry_headers
from leakline.guard.metrics import GatewayMetrics
from leakline.guard.policies import RoutePolicies, RoutePolicy, TextSanitizer, hits_of, redact_prompt, with_canary
from leakline.guard.residency import (
    Decision,
    agreed_country,
    decide,
    parse_networks,
    peer_is_trusted,
    visitor_country,
)
from leakline.guard.sanitize.across import WHERE as ACROSS_FIELDS
from leakline.guard.sanitize.across import CanaryWatch, across_fields, refuses, split_joined
from leakline.guard.sanitize.fold import strip_invisible
from leakline.guard.sanitize.jsontext import JsonQuoter, JsonStringDecoder, decode_strings, sanitize_json
from leakline.guard.sse import DONE, MalformedStream, SseReader, encode_event, encode_json_event
from leakline.guard.surrogates import has_surrogate_escape, lone_surrogate_field, without_lone_surrogates
from leakline.signals import Signal, SignalKind

if TYPE_CHECKING:
    import aiohttp

    from leakline.config import Settings
    from leakline.guard.keys.refresh import DatabaseKeys
    from leakline.guard.settings import GatewaySettings

log = logging.getLogger("leakline.guard")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

JSON_TYPE = b"application/json"
SSE_TYPE = b"text/event-stream; charset=utf-8"
MAX_UPSTREAM_BODY_BYTES = 32 * 1024 * 1024
_DECISION_CACHE_SIZE = 4096
UPSTREAM_ERROR_BODY_BYTES = 65536
"""How much of an upstream's error answer is read for its reason."""
IP_ADDRESS = "ip_address"
REDACTED_IP = "[REDACTED:IP_ADDRESS]"
UPSTREAM_AUTH_STATUSES = frozenset({401, 403, 407})
"""Upstream answers that refuse the gateway itself (its api_key_env, a proxy's credentials): a 502."""


def load_sanitizer(settings: Settings) -> TextSanitizer:
    """The configured sanitizer, compiled once. Raises if the sanitize package cannot build one."""
    sanitize = importlib.import_module("leakline.guard.sanitize")
    base_dir = Path(settings.source).resolve().parent if settings.source else None
    policy = sanitize.Policy.from_settings(settings.sanitize, base_dir=base_dir)
    sanitizer: TextSanitizer = sanitize.Sanitizer(policy)
    return sanitizer


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _header_values(scope: Scope, name: bytes) -> list[str]:
    """Every value of header `name`, in the order received (a proxy may append its own to the visitor's)."""
    return [bytes(value).decode("latin-1") for key, value in scope.get("headers", ()) if key == name]


CONFLICT_LOG_EVERY_SECONDS = 60.0
"""At most one warning per header this often about requests whose copies of it disagree (any visitor can
send a second copy through an edge that appends; the rest are counted in the next warning)."""


class ClientDisconnected(Exception):
    """The client closed its connection before the request's body was read: nobody is left to answer
    (audited and counted as 499 `client_disconnected`, as a client leaving during the answer is)."""


class RequestTimeout(GatewayError):
    """The body did not arrive within `body_read_timeout_seconds` (a stalled or slow-dripping client)."""

    status, kind, code = 408, "invalid_request_error", "request_timeout"


class ShuttingDown(GatewayError):
    """A request still running when the server stops (the end of `shutdown_grace_seconds`, or a second
    SIGTERM or Ctrl-C): the client is told to retry, rather than seeing its answer cut off unexplained."""

    status, kind, code = 503, "server_error", "shutting_down"


SHUTDOWN_SEND_SECONDS = 1.0
"""How long a request ended by the server stopping may take to hand its client the last error: a client
that does not read must not hold the stop (the record is written before)."""
CLOSE = (("connection", "close"),)


class _NonFinite(ValueError):
    """A token Python's json reads but JSON (RFC 8259) has not: NaN, Infinity, a number beyond a float's
    range or with more digits than Python converts. The audit log (strict JSON) could not record the request."""


def _refuse_constant(token: str) -> Any:
    raise _NonFinite(token)


def _finite_float(token: str) -> float:
    value = float(token)
    if math.isinf(value):
        raise _NonFinite(token)
    return value


_REQUEST_JSON = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float)
"""Decodes request bodies; refuses what `_NonFinite` names instead of passing `NaN` on to the upstream."""

_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|-?Infinity|NaN|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?', re.DOTALL)


class _Marker:
    """Stands for a refused token while the body is decoded again to find the field that holds it."""


def _is_refused(token: str) -> bool:
    if token in ("NaN", "Infinity", "-Infinity"):
        return True
    if any(c in token for c in ".eE"):
        return math.isinf(float(token))
    return len(token.lstrip("-")) > sys.get_int_max_str_digits() > 0


def _marking(token: str, convert: Callable[[str], Any]) -> Any:
    return _Marker() if _is_refused(token) else convert(token)


def _marker_field(value: Any, path: str = "") -> str | None:
    """The path (`messages[0].content`, `temperature`) of the first refused token, or None."""
    if isinstance(value, _Marker):
        return path or "(body)"
    if isinstance(value, dict):
        for key, item in value.items():
            found = _marker_field(item, f"{path}.{key}" if path else str(key))
            if found is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            found = _marker_field(item, f"{path}[{i}]")
            if found is not None:
                return found
    return None


def _non_finite_error(text: str) -> MalformedJson:
    """The 400 for a body with a `_NonFinite` token: its byte offset, what it is, and its field."""
    offset, token = None, ""
    for match in _JSON_TOKEN.finditer(text):
        if match.group().startswith('"') or not _is_refused(match.group()):
            continue
        offset, token = len(text[: match.start()].encode("utf-8")), match.group()
        break
    if token in ("NaN", "Infinity", "-Infinity"):
        what = f"{token} is not a JSON number (JSON has no NaN or Infinity)"
    elif any(c in token for c in ".eE"):
        what = "a number beyond the range of a double"
    else:
        what = f"a number with more than {sys.get_int_max_str_digits()} digits"
    field_path = None
    try:
        marking = json.JSONDecoder(
            parse_constant=lambda t: _Marker(),
            parse_float=lambda t: _marking(t, float),
            parse_int=lambda t: _marking(t, int),
        )
        field_path = _marker_field(marking.decode(text))
    except ValueError:  # a syntax error after the refused token: the token is still what is wrong first
        pass
    where = f"at byte offset {offset}" if offset is not None else "somewhere"
    named = f" (field {field_path})" if field_path else ""
    return MalformedJson(f"request body is not valid JSON {where}: {what}{named}", param=field_path)


async def send_error(send: Send, error: GatewayError, *, headers: tuple[tuple[str, str], ...] = ()) -> None:
    body = error.to_body()
    await send(
        {
            "type": "http.response.start",
            "status": error.status,
            "headers": [
                *response_headers(headers, content_type=JSON_TYPE),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


@dataclass
class _Request:
    """What one request has established so far (for the audit record if it fails)."""

    route: str
    client: Client | None = None
    country: str | None = None
    pop: str | None = None
    decision: Decision | None = None
    model: str | None = None
    body: Any = None
    prompt_bytes: int = 0
    stream: bool = False
    prompt_hits: list[Hit] = field(default_factory=list)
    started: float = field(default_factory=time.time)
    disconnected: bool = False
    blocked: bool = False
    error: str | None = None
    scan: _Scan | None = None
    """The response's scan once sanitizing began: what a record written on failure (client gone) keeps."""
    error_scan: _Scan | None = None
    """What the detectors found in an upstream's error message, which the client reads in the gateway's
    error: its record keeps the hits, and they raise signals as an answer's do (a canary the upstream
    echoes in an error is the same tripwire)."""
    recorded: bool = False
    """Whether the exchange's audit record is queued (one record per exchange, whatever happens after)."""
    answered: bool = False
    """Whether the last byte of the answer was handed to the server (a disconnect after it is none)."""


@dataclass
class _Scan:
    """Everything the sanitizer saw and did during one response."""

    upstream_parts: list[str] = field(default_factory=list)
    released_parts: list[str] = field(default_factory=list)
    hits: list[Hit] = field(default_factory=list)
    scanned_bytes: int = 0
    invisible_removed: int = 0
    """Invisible characters the sanitizer removed (each whole text's count, each finished stream's)."""
    blocked: bool = False
    judged: list[str] = field(default_factory=list)
    """Every text given to the detectors, in order (JSON strings decoded): a whole answer's fields joined
    are judged again for canaries and protected text split across them (`across.across_fields`)."""



def _judged(scan: _Scan, text: str, result: Any) -> str:
    """Adds what the sanitizer did with `text` (its `SanitizeResult`) to `scan`; the text to release."""
    scan.upstream_parts.append(text)
    scan.judged.append(text)
    scan.scanned_bytes += result.scanned_bytes
    scan.invisible_removed += result.invisible_removed
    scan.hits.extend(hits_of(result.hits))
    scan.blocked = scan.blocked or bool(result.blocked)
    out = str(result.text)
    scan.released_parts.append(out)
    return out

class Gateway:
    """Shared state of all routes: settings, keys, the upstream session, the sanitizer, the event thread."""

    def __init__(
        self,
        settings: Settings,
        *,
        sanitizer_factory: Callable[[Settings], TextSanitizer] | None = None,
        events: EventWorker | None = None,
    ) -> None:
        from leakline.guard.build import check_gateway_settings, default_events

        check_gateway_settings(settings)
        self.settings = settings
        self.gw = settings.gateway
        self.regions = dict(settings.regions)
        self.keys = KeyStore.from_settings(settings.clients, source=settings.source or "leakline.toml")
        self.trusted = parse_networks(self.gw.trusted_proxies)
        self._trusted_peers: dict[str | None, bool] = {}
        self._decisions: dict[tuple[tuple[str, ...], str | None, str, str | None], Decision] = {}
        self._country_header = self.gw.country_header.encode("latin-1")
        self._pop_header = self.gw.pop_header.encode("latin-1")
        self._conflicts: dict[str, tuple[float, int]] = {}
        """Per header: when a disagreement was last logged, and how many since."""
        self.allowed_headers = frozenset(self.gw.allowed_headers)
        from leakline.guard.headers import DENY_PATTERNS

        self.denied_headers = (*DENY_PATTERNS, *self.gw.denied_headers)
        self._sanitizer_factory = sanitizer_factory
        self._sanitizer: TextSanitizer | None = None
        self._detector_versions: dict[str, str] = {}
        self.policies = RoutePolicies(self.gw, self.sanitizer)
        self._events = events
        self._events_factory: Callable[[], EventWorker] = partial(default_events, settings)
        self._session: aiohttp.ClientSession | None = None
        self._session_loop: asyncio.AbstractEventLoop | None = None
        self._probe_session: aiohttp.ClientSession | None = None
        self._probe_loop: asyncio.AbstractEventLoop | None = None
        self._reading: dict[asyncio.Task[Any], _Request] = {}
        """Requests reading their body, watched by `_watch_bodies` (started with the first one)."""
        self._body_watch: asyncio.Future[None] | None = None
        self.metrics = GatewayMetrics()
        self._database_keys: tuple[asyncio.Task[None], DatabaseKeys] | None = None
        """The refresh of the keys kept in the database (clients with `database_keys = true`)."""
        self.refuse_unaudited = settings.audit.on_failure == "refuse"
        """Answer 503 while the region's audit sink cannot be written (`EventWorker.audit_failing`)."""

    # -- shared resources, created on first use (inside the worker process and its event loop) --

    @property
    def events(self) -> EventWorker:
        if self._events is None:
            self._events = self._events_factory()
        return self._events

    async def startup(self) -> None:
        """Build, in the serving worker before it accepts a request, what requests would otherwise build.

        The sanitizer (detectors compiled, corpus fingerprinted) and the sanitizer of every other action
        table that a route or a key resolves to (prompt redaction's too), the event thread (audit sinks,
        volume store, signal sink) and the upstream session. A broken `[sanitize]`, corpus or audit
        setting stops the worker here with an error naming the key, instead of refusing every request
        later.
        """
        source = self.settings.source or "leakline.toml"
        try:
            self._sanitizer = self._build_sanitizer()
            self.policies.reset()
            self.policies.build(self.keys.clients())
            if self.keys.database_clients:
                await self._start_database_keys()
            # Without regions nothing can be served: no thread, and no volume store in the working directory.
            if self.regions:
                self.events.metrics = self.metrics
                self.events.open(list(self.regions), source=source)
                self.events.start()
        except Exception as exc:
            detail = exc.diagnostics() if isinstance(exc, LeaklineError) else f"{type(exc).__name__}: {exc}"
            if not detail.startswith(source):
                detail = f"{source}: {detail}"
            log.error("the gateway cannot start: %s", detail)
            raise GatewayConfigError(f"the gateway cannot start: {detail}") from exc
        self.session()

    async def _start_database_keys(self) -> None:
        from leakline.guard.build import database_keys_url, load_database_keys
        from leakline.guard.keys.refresh import DatabaseKeys, database_reader

        keys = DatabaseKeys(
            self.keys,
            database_reader(database_keys_url(self.settings)),
            refresh_seconds=self.gw.database_keys_refresh_seconds,
            max_stale_seconds=self.gw.database_keys_max_stale_seconds,
            metrics=self.metrics,
        )
        try:
            await asyncio.to_thread(load_database_keys, keys, self.settings)
        except BaseException:
            keys.close()
            raise
        self._stop_database_keys()
        task = asyncio.get_running_loop().create_task(keys.run(), name="leakline-database-keys")
        task.add_done_callback(keys.ended)
        self._database_keys = task, keys

    def _stop_database_keys(self) -> None:
        if self._database_keys is not None:
            task, keys = self._database_keys
            task.cancel()
            keys.close()
            self._database_keys = None

    def _build_sanitizer(self) -> TextSanitizer:
        factory = self._sanitizer_factory or load_sanitizer
        sanitizer = factory(self.settings)
        probe = sanitizer.sanitize("")
        self._detector_versions = {str(k): str(v) for k, v in dict(getattr(probe, "detector_versions", {})).items()}
        return sanitizer

    def sanitizer(self) -> TextSanitizer:
        # Normally built by startup(); built here when the gateway is used without a lifespan.
        if self._sanitizer is None:
            try:
                self._sanitizer = self._build_sanitizer()
            except Exception as exc:
                log.exception("sanitizer unavailable")
                raise SanitizerFailed(
                    "the output sanitizer is unavailable; the response is refused (fail closed)"
                ) from exc
        return self._sanitizer

    def policy_for(self, route: str, client: Client) -> RoutePolicy:
        """The route's policy for this key (built at start-up; built once here if it was not)."""
        try:
            return self.policies.get(route, client)
        except SanitizerFailed:
            raise
        except Exception as exc:  # a bad override refuses this key's answers, never passes them
            log.exception("sanitizer of client %s on %s unavailable", client.name, route)
            raise SanitizerFailed(
                f"the sanitizer of client {client.name!r} on {route} is unavailable; the request is refused"
            ) from exc

    def with_canary(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        """The request with the first of `[sanitize] canaries` planted (see `policies.with_canary`)."""
        canaries = self.settings.sanitize.canaries
        if not canaries:  # check_gateway_settings refuses this; kept so it can never pass silently
            raise SanitizerFailed("gateway.insert_canary is on but [sanitize] canaries is empty; refused")
        return with_canary(kind, body, canaries[0])

    def session(self) -> aiohttp.ClientSession:
        import aiohttp

        loop = asyncio.get_running_loop()
        if self._session is None or self._session.closed or self._session_loop is not loop:
            connector = aiohttp.TCPConnector(
                limit=self.gw.upstream_connections, keepalive_timeout=60, ttl_dns_cache=300
            )
            # `connect` bounds the wait for a free pooled connection plus opening a new one; aiohttp only
            # arms it when the pool has no idle connection, so a reused one costs no timer.
            timeout = aiohttp.ClientTimeout(
                total=None,
                connect=self.gw.upstream_pool_timeout_seconds + self.gw.connect_timeout_seconds,
                sock_connect=self.gw.connect_timeout_seconds,
                sock_read=self.gw.read_timeout_seconds,
            )
            # No cookie jar: upstream cookies never reach the client (set-cookie is dropped) and must
            # not travel from one client's exchange into another's.
            self._session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar()
            )
            self._session_loop = loop
        return self._session

    def probe_session(self) -> aiohttp.ClientSession:
        """The session of `/readyz`'s upstream probes, apart from the requests' pool: with every pooled
        connection busy (long generations), a probe waited for one and reported a healthy upstream as
        down, pulling the replica out of the load balancer for being busy."""
        import aiohttp

        loop = asyncio.get_running_loop()
        session = self._probe_session
        if session is None or session.closed or self._probe_loop is not loop:
            connector = aiohttp.TCPConnector(limit=max(2, len(self.regions)), keepalive_timeout=30)
            timeout = aiohttp.ClientTimeout(total=None, sock_connect=self.gw.connect_timeout_seconds)
            session = self._probe_session = aiohttp.ClientSession(
                connector=connector, timeout=timeout, cookie_jar=aiohttp.DummyCookieJar()
            )
            self._probe_loop = loop
        return session

    async def aclose(self) -> None:
        self._stop_database_keys()
        if self._body_watch is not None:
            self._body_watch.cancel()
            self._body_watch = None
        if self._session is not None and not self._session.closed:
            await self._session.close()
        self._session = None
        if self._probe_session is not None and not self._probe_session.closed:
            await self._probe_session.close()
        self._probe_session = None
        if self._events is not None:
            events, self._events = self._events, None
            await asyncio.to_thread(events.close)

    # -- steps --

    def authenticate(self, scope: Scope, req: _Request) -> Client:
        client = self.keys.authenticate(_header(scope, b"authorization"))
        req.client = client
        return client

    def peer_trusted(self, peer: str | None) -> bool:
        # Parsing the peer's address on every request showed in profiles; peers are few (the edge's).
        trusted = self._trusted_peers.get(peer)
        if trusted is None:
            if len(self._trusted_peers) >= 4096:
                self._trusted_peers.clear()
            trusted = self._trusted_peers[peer] = peer_is_trusted(peer, self.trusted)
        return trusted

    def locate(self, scope: Scope, req: _Request, client: Client, model: str | None) -> Decision:
        peer = (scope.get("client") or (None, None))[0]
        trusted = self.peer_trusted(peer)
        header_value = self.trusted_country(scope, req, peer) if trusted else None
        country, source = visitor_country(client, header_value, trusted)
        req.country = country
        req.pop = self.trusted_pop(scope, req, peer) if trusted else None
        # The answer depends on nothing else, and the settings do not change while serving: deciding
        # once per combination saves the per-request scan of every region's lists. Refusals are not
        # kept (they raise, and are rare); only known models reach the cache, which bounds it.
        key = (client.regions, country, source, model)
        decision = self._decisions.get(key)
        if decision is None:
            decision = decide(
                gateway=self.gw,
                regions=self.regions,
                client=client,
                country=country,
                country_source=source,
                model=model,
            )
            if len(self._decisions) >= _DECISION_CACHE_SIZE:
                self._decisions.clear()
            self._decisions[key] = decision
        req.decision = decision
        return decision

    def trusted_country(self, scope: Scope, req: _Request, peer: str | None) -> str | None:
        """The trusted peer's country header; None when its copies name different countries. The edge may
        append its value to one the visitor sent, so no copy can be told to be the edge's: with none
        believed, `on_missing_country` decides (fail closed), never the visitor's pick."""
        values = _header_values(scope, self._country_header)
        if len(values) < 2:
            return values[0] if values else None
        value, conflict = agreed_country(values)
        if conflict:
            outcome = f"no trusted country: gateway.on_missing_country ({self.gw.on_missing_country!r}) applies"
            self.log_conflict(self.gw.country_header, req, peer, [repr(v.strip()[:8]) for v in values], outcome)
        return value

    def trusted_pop(self, scope: Scope, req: _Request, peer: str | None) -> str | None:
        """The PoP of the trusted peer's pop header; None when its copies name different PoPs."""
        values = _header_values(scope, self._pop_header)
        if len(values) < 2:
            return pop_from_header(values[0]) if values else None
        pops = [pop_from_header(v) for v in values]
        if len(set(pops)) == 1:
            return pops[0]
        self.log_conflict(self.gw.pop_header, req, peer, [repr(p) for p in pops], "no PoP is recorded")
        return None

    def log_conflict(self, header: str, req: _Request, peer: str | None, values: list[str], outcome: str) -> None:
        now = time.monotonic()
        last, since = self._conflicts.get(header, (-math.inf, 0))
        if now - last < CONFLICT_LOG_EVERY_SECONDS:
            self._conflicts[header] = (last, since + 1)
            return
        self._conflicts[header] = (now, 0)
        earlier = f" ({since} more such request(s) since the last warning)" if since else ""
        log.warning(
            "%s on %s from trusted peer %s has %d copies of %s that disagree (%s): %s; "
            "a proxy that appends to the visitor's header?%s",
            req.client.name if req.client else "a request",
            req.route,
            peer,
            len(values),
            header,
            ", ".join(values),
            outcome,
            earlier,
        )

    async def read_json(self, scope: Scope, receive: Receive, req: _Request) -> dict[str, Any]:
        content_type = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
        if content_type != "application/json":
            raise UnsupportedMediaType(
                f"expected content-type application/json, got {content_type or 'none'!r}", param="content-type"
            )
        limit = self.gw.max_body_bytes
        declared = _header(scope, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            raise PayloadTooLarge(f"request body of {declared} bytes is over the limit of {limit} bytes")
        chunks: list[bytes] = []
        size = 0
        # A client may hold a connection and a task only so long by sending its headers and then nothing
        # (or a byte now and then): `_watch_bodies` cancels a read past body_read_timeout_seconds. A timer
        # per request (asyncio.timeout) cost more than the rest of this method.
        task = asyncio.current_task()
        if task is not None:
            if self._body_watch is None:
                self._body_watch = asyncio.ensure_future(self._watch_bodies())
            self._reading[task] = req
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    req.disconnected = True
                    raise ClientDisconnected
                chunk = message.get("body", b"")
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(f"request body is over the limit of {limit} bytes")
                chunks.append(chunk)
                if not message.get("more_body", False):
                    break
        except asyncio.CancelledError:
            if req.error != RequestTimeout.code or task is None:
                raise
            task.uncancel()
            error = RequestTimeout(
                f"the request body did not arrive within {self.gw.body_read_timeout_seconds:g} s "
                f"({size} bytes received)"
            )
            error.headers = CLOSE  # the rest of the body may still come: it is not read as a next request
            raise error from None
        finally:
            if task is not None:
                del self._reading[task]
        raw = b"".join(chunks)
        req.prompt_bytes = len(raw)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise MalformedJson(f"request body is not valid UTF-8 at byte offset {exc.start}") from None
        try:
            data = fastjson.loads_strict(text, _REQUEST_JSON)
        except json.JSONDecodeError as exc:
            offset = len(text[: exc.pos].encode("utf-8"))
            raise MalformedJson(f"request body is not valid JSON at byte offset {offset}: {exc.msg}") from None
        except ValueError:  # _NonFinite, or int() refusing a number of more than 4300 digits
            raise _non_finite_error(text) from None
        if not isinstance(data, dict):
            raise BadRequest("request body must be a JSON object")
        if has_surrogate_escape(text):
            field_path = lone_surrogate_field(data)
            if field_path is not None:
                raise BadRequest(
                    f"request body field {field_path} holds a lone UTF-16 surrogate escape (\\uD800-\\uDFFF "
                    "without its pair): text must be valid Unicode",
                    param=field_path,
                )
        req.body = data
        return data

    async def _watch_bodies(self) -> None:
        """Cancel each request still reading its body `body_read_timeout_seconds` after its headers came
        (`req.started`), its `error` set to `request_timeout` so that `read_json` answers 408. One task per
        worker, waking a few times a second: a request pays one dict entry, not a timer."""
        timeout = self.gw.body_read_timeout_seconds
        every = min(1.0, timeout / 4)
        while True:
            await asyncio.sleep(every)
            if not self._reading:
                continue
            now = time.time()
            for task, req in list(self._reading.items()):
                if now - req.started >= timeout and req.error is None:
                    req.error = RequestTimeout.code
                    task.cancel()

    def record(self, req: _Request, *, status: int, scan: _Scan | None = None, error: str | None = None) -> None:
        response_text = "".join(scan.released_parts) if scan else ""
        req.error = error
        req.recorded = True
        if scan is not None:
            req.blocked = scan.blocked
            for hit in scan.hits:
                self.metrics.action(hit.detector, hit.action)
        for hit in req.prompt_hits:
            self.metrics.prompt_action(req.route, hit.detector, hit.action)
        self.events.submit(
            Exchange(
                route=req.route,
                client=req.client.name if req.client else "(unauthenticated)",
                client_key=req.client.key if req.client else None,
                region=req.decision.region if req.decision else None,
                country=req.country,
                pop=req.pop,
                model=req.model,
                status=status,
                stream=req.stream,
                prompt=req.body,
                response_text=response_text,
                upstream_text="".join(scan.upstream_parts) if scan else "",
                prompt_bytes=req.prompt_bytes,
                response_bytes=len(response_text.encode("utf-8")),
                scanned_bytes=scan.scanned_bytes if scan else 0,
                invisible_removed=scan.invisible_removed if scan else 0,
                detector_versions=self._detector_versions,
                hits=tuple(scan.hits) if scan else (),
                prompt_hits=tuple(req.prompt_hits),
                blocked=scan.blocked if scan else False,
                error=error,
                at=req.started,
            )
        )

    def residency_signal(self, req: _Request, error: ResidencyDenied) -> None:
        self.events.submit(
            Signal(
                kind=SignalKind.RESIDENCY_VIOLATION,
                source="gateway",
                severity=Severity.MEDIUM,
                fingerprint=f"gateway-residency:{error.policy}:{req.country or '--'}",
                country=req.country,
                summary=f"request refused by residency policy {error.policy} (country {req.country or 'unknown'})",
                details={
                    "policy": error.policy,
                    "client": req.client.name if req.client else None,
                    "model": req.model,
                    "route": req.route,
                    "pop": req.pop,
                },
            )
        )

    def log_upstream_failure(self, req: _Request, error: GatewayError) -> None:
        """An upstream that failed goes to the operator's log with its address (without credentials) and
        the reason; the client's message names only the region. Codes and addresses, never a body."""
        if req.decision is None or not isinstance(error, (UpstreamUnavailable, UpstreamTimeout, UpstreamProtocolError)):
            return
        where = display_url(req.decision.upstream)
        log.warning(
            "%s on %s: %s (%s)",
            error.code,
            req.route,
            error.message,
            f"{where}: {error.reason}" if error.reason else where,
        )

    def upstream_headers(self, decision: Decision) -> dict[str, str]:
        return self.upstream_headers_for(decision.region)

    def upstream_headers_for(self, region: str) -> dict[str, str]:
        headers = {"content-type": "application/json", "accept": "application/json, text/event-stream"}
        key_env = self.regions[region].api_key_env
        if key_env:
            headers["authorization"] = f"Bearer {os.environ.get(key_env, '')}"
        return headers

    def passed_headers(self, upstream: aiohttp.ClientResponse, sanitizer: TextSanitizer) -> list[tuple[str, str]]:
        """The upstream's headers the client gets: the mode's, shaped, and none whose value a detector matches."""
        return filter_upstream_headers(
            upstream.headers.items(),
            mode=self.gw.header_mode,
            allowed=self.allowed_headers,
            denied=self.denied_headers,
            judge=lambda value: [str(h.detector) for h in sanitizer.sanitize(value).hits],
        )


def upstream_name(region: str) -> str:
    """How errors name an upstream: by its region. Its address is the operator's (the log has it): it
    tells a browser where the model runs, and an `https://user:token@host/v1` URL carries a credential."""
    return f"the upstream of region {region!r}"


def _upstream_error(
    exc: BaseException, who: str, *, waited: float | None = None, gw: GatewaySettings | None = None
) -> GatewayError:
    """The error for an exception of the upstream call. `waited` (seconds since the request was handed to
    the session) and `gw` tell a full connection pool from an upstream slow to accept: aiohttp raises the
    same `ConnectionTimeoutError` when its `connect` budget (pool wait plus connect) or `sock_connect` ends."""
    import aiohttp

    error: GatewayError
    if (
        gw is not None
        and waited is not None
        and isinstance(exc, getattr(aiohttp, "ConnectionTimeoutError", ()))
        # sock_connect alone ends before the whole budget; 0.05 s absorbs the timer's granularity
        and waited >= gw.upstream_pool_timeout_seconds + gw.connect_timeout_seconds - 0.05
    ):
        error = UpstreamUnavailable(
            f"{who} is busy: no connection to it was free within {gw.upstream_pool_timeout_seconds:g} s; retry later"
        )
        error.status, error.code = 503, "upstream_busy"
        error.reason = (
            f"all gateway.upstream_connections ({gw.upstream_connections}) of this worker stayed in use for "
            f"gateway.upstream_pool_timeout_seconds ({gw.upstream_pool_timeout_seconds:g} s)"
        )
        return error
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        error = UpstreamTimeout(f"{who} did not answer in time")
    elif isinstance(exc, aiohttp.ClientPayloadError):
        # The connection broke before the body's end (chunked framing cut, reset): the upstream went away.
        error = UpstreamUnavailable(f"{who} dropped the connection mid-answer")
    elif isinstance(exc, (aiohttp.ClientConnectionError, OSError)):
        error = UpstreamUnavailable(f"{who} is unreachable")
    elif isinstance(exc, aiohttp.ClientResponseError):
        # aiohttp's parser refused what came back (not HTTP, a broken header): the upstream answered.
        error = UpstreamProtocolError(f"{who} answered with something that is not valid HTTP")
    else:
        # Nothing was sent: the request could not be built from the region's settings (aiohttp's ValueError
        # for an `Authorization` header next to a URL's `user:password@`, an InvalidURL). Calling that
        # "unreachable" sent operators to check a network that was fine.
        error = UpstreamUnavailable(f"the gateway cannot send requests to {who}: its settings are at fault")
        error.code = "upstream_misconfigured"
        error.reason = f"{type(exc).__name__} while building the request; check the region's upstream and api_key_env"
        return error
    error.reason = os_reason(exc)
    return error


class Route:
    """One OpenAI endpoint as an ASGI app: `kind` is chat, completions, embeddings or models."""

    def __init__(self, gateway: Gateway, kind: str, upstream_path: str, path: str | None = None) -> None:
        self.gateway = gateway
        self.kind = kind
        self.upstream_path = upstream_path
        self.path = path or f"/v1{upstream_path}"
        """The served path as metrics, audit records and logs name it: a template for `GET /v1/models/{model}`
        (which was filed under `/v1/models`, the list it is cut from)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        req = _Request(route=self.path)
        state = {"started": False}

        async def tracked_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["started"] = True
            await send(message)

        code: str | None = "internal_error"  # what the metrics see if something unexpected escapes
        try:
            await self.handle(scope, receive, tracked_send, req)
            code = req.error
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None:
                current.uncancel()
            if req.disconnected:
                code = self.client_left(req)
            else:
                # Only the server stopping cancels a request otherwise (uvicorn at the end of the shutdown
                # grace, asyncio.run at a forced exit): the client is told, the exchange is audited.
                code = ShuttingDown.code
                await self.shutting_down(req, send, started=state["started"])
        except ClientDisconnected:
            code = self.client_left(req)
        except GatewayError as error:
            code = error.code
            if isinstance(error, ResidencyDenied):
                self.gateway.residency_signal(req, error)
            self.gateway.log_upstream_failure(req, error)
            if not req.recorded:  # refusals of unknown keys too: one record per exchange
                self.gateway.record(req, status=error.status, scan=req.error_scan, error=error.code)
            if not state["started"]:
                await send_error(send, error, headers=error.headers)
            else:
                log.error("gateway error after the response started: %s", error.code)
        except Exception as exc:
            await self.failed(req, exc, send, started=state["started"])
        finally:
            self.gateway.metrics.request(req.decision.region if req.decision else None, req.route, code, req.blocked)

    def client_left(self, req: _Request) -> str:
        """The client left: the upstream connection is closed; nobody is left to answer. The record keeps
        what the client was sent of a stream (its scan), as an upstream failure's does."""
        code = "client_disconnected"
        if not req.recorded:
            self.gateway.record(req, status=499, scan=req.scan, error=code)
        return code

    async def shutting_down(self, req: _Request, send: Send, *, started: bool) -> None:
        """A request the server's stop ended: recorded (503, with what a stream had sent), then a 503
        `shutting_down` to its client, or a stream's last event, as an upstream failing mid-stream ends it."""
        error = ShuttingDown("the gateway is shutting down; the request was not completed: retry it")
        if not req.recorded:
            self.gateway.record(req, status=error.status, scan=req.scan, error=error.code)
        try:
            if not started:
                await asyncio.wait_for(send_error(send, error, headers=CLOSE), SHUTDOWN_SEND_SECONDS)
            elif req.stream and not req.answered:
                req.answered = True
                last = encode_event(error.to_body().decode())
                message = {"type": "http.response.body", "body": last, "more_body": False}
                await asyncio.wait_for(send(message), SHUTDOWN_SEND_SECONDS)
        except (TimeoutError, OSError, asyncio.CancelledError):
            pass  # a client that does not read (or a forced exit): the record says what it was sent

    async def failed(self, req: _Request, exc: Exception, send: Send, *, started: bool) -> None:
        """A bug (an exception no step expected): a 500 `internal_error` in OpenAI's shape, and the exchange's
        record, which still holds the prompt and what the model said. The log gets the exception's class
        and frames, not its text, which may quote a header value or a piece of the prompt."""
        frames = "".join(traceback.format_tb(exc.__traceback__))
        log.error("unexpected %s on %s; answered 500 internal_error\n%s", type(exc).__name__, req.route, frames)
        error = GatewayError("internal error in the gateway; the request was not completed")
        if not req.recorded:
            self.gateway.record(req, status=error.status, scan=req.scan, error=error.code)
        if not started:
            await send_error(send, error)
        elif req.stream and not req.answered:
            # A stream that had begun ends with an OpenAI error event: a complete body, not a cut one.
            req.answered = True
            event = encode_event(error.to_body().decode())
            await send({"type": "http.response.body", "body": event, "more_body": False})

    async def handle(self, scope: Scope, receive: Receive, send: Send, req: _Request) -> None:
        gw = self.gateway
        client = gw.authenticate(scope, req)
        if self.kind in ("models", "model"):
            decision = gw.locate(scope, req, client, None)
            wanted = str(scope.get("path_params", {}).get("model", "")) if self.kind == "model" else None
            await self.models(send, req, client, decision, wanted)
            return
        body = await gw.read_json(scope, receive, req)
        model = body.get("model")
        if not isinstance(model, str) or not model:
            raise BadRequest("`model` is required and must be a string", param="model")
        req.model = model
        stream = body.get("stream", False)
        if not isinstance(stream, bool):
            raise BadRequest("`stream` must be true or false", param="stream")
        req.stream = stream and self.kind != "embeddings"
        if self.kind == "chat" and not isinstance(body.get("messages"), list):
            raise BadRequest("`messages` is required and must be an array", param="messages")
        if self.kind == "completions" and "prompt" not in body:
            raise BadRequest("`prompt` is required", param="prompt")
        if self.kind == "embeddings" and "input" not in body:
            raise BadRequest("`input` is required", param="input")
        client.check_model(model)
        decision = gw.locate(scope, req, client, model)
        if gw.refuse_unaudited and decision.region in gw.events.audit_failing:
            raise AuditUnavailable(f"the audit log of region {decision.region!r} cannot be written; try again later")
        policy = gw.policy_for(self.path, client)
        sanitizer = policy.sanitizer
        if policy.prompts is not None:
            body = self.redact_prompt(req, policy.prompts, body)
        if policy.insert_canary:
            body = gw.with_canary(self.kind, body)
        url = decision.upstream + self.upstream_path
        payload = fastjson.dumps(body)
        # A client that goes away cancels the request, and so the upstream call: a generation for nobody
        # keeps a GPU busy up to read_timeout_seconds. Streams watch at once; a whole answer only after
        # WATCH_WHOLE_AFTER_SECONDS, since a watcher task per request would cost the many quick answers
        # more than it saves them (a disconnect before the watch starts is seen when it starts).
        watch = _DisconnectWatch(receive, req, delay=0.0 if req.stream else WATCH_WHOLE_AFTER_SECONDS)
        try:
            await self.forward(send, req, sanitizer, url, payload, decision)
        finally:
            watch.stop()

    async def forward(
        self, send: Send, req: _Request, sanitizer: TextSanitizer, url: str, payload: bytes, decision: Decision
    ) -> None:
        gw = self.gateway
        who = upstream_name(decision.region)
        sent = time.perf_counter()
        try:
            upstream_cm = gw.session().post(url, data=payload, headers=gw.upstream_headers(decision))
            upstream = await upstream_cm.__aenter__()
        except Exception as exc:
            raise _upstream_error(exc, who, waited=time.perf_counter() - sent, gw=gw.gw) from None
        gw.metrics.latency(decision.region, time.perf_counter() - sent)
        complete = False
        try:
            if upstream.status != 200:
                await self.upstream_failed(upstream, sanitizer, who, decision.upstream, model=req.model, req=req)
            content_type = upstream.headers.get("content-type", "").split(";", 1)[0].strip().lower()
            if req.stream:
                if content_type != "text/event-stream":
                    raise UpstreamProtocolError(f"{who} answered a stream request with {content_type!r}")
                await self.stream(send, req, sanitizer, upstream, who)
            else:
                if content_type != "application/json":
                    raise UpstreamProtocolError(f"{who} answered with {content_type!r}, not JSON")
                await self.whole(send, req, sanitizer, upstream, who)
            complete = upstream.content.at_eof()
        except (TimeoutError, OSError) as exc:
            raise _upstream_error(exc, who) from None
        except Exception as exc:
            import aiohttp

            if isinstance(exc, aiohttp.ClientError):
                raise _upstream_error(exc, who) from None
            raise
        finally:
            # A fully read response returns its connection to the pool; an abandoned one (block,
            # error, client gone) is closed, which also tells the upstream to stop generating.
            if complete:
                upstream.release()
            else:
                upstream.close()

    async def upstream_failed(
        self,
        upstream: aiohttp.ClientResponse,
        sanitizer: TextSanitizer,
        who: str,
        url: str = "",
        *,
        model: str | None = None,
        req: _Request | None = None,
    ) -> None:
        # read(n) returns what has arrived: an error body sent in pieces would lose its reason.
        parts: list[bytes] = []
        size = 0
        while size < UPSTREAM_ERROR_BODY_BYTES and (
            chunk := await upstream.content.read(UPSTREAM_ERROR_BODY_BYTES - size)
        ):
            parts.append(chunk)
            size += len(chunk)
        raw = b"".join(parts)
        message = f"the upstream answered HTTP {upstream.status}"
        detail = _error_message(raw)
        if detail:
            # Judged whole, then cut: a value straddling the cut would leave a piece no detector matches.
            shown, result = _judge_error_detail(sanitizer, detail, url)
            message += ": " + _cut_detail(shown)
            if req is not None:
                req.error_scan = _Scan(
                    upstream_parts=[detail],
                    released_parts=[message],
                    hits=hits_of(result.hits, where="upstream error"),
                    scanned_bytes=int(result.scanned_bytes),
                    invisible_removed=int(result.invisible_removed),
                    blocked=bool(result.blocked),
                )
        error: GatewayError
        if upstream.status in UPSTREAM_AUTH_STATUSES:
            # The gateway's own credentials were refused, not the caller's: passed on as a 401/403 it would
            # send the storefront's team after their key, while the fix is the region's api_key_env.
            error = UpstreamUnavailable(f"{who} refused the gateway's credentials (HTTP {upstream.status})")
            error.code = "upstream_auth_failed"
            error.reason = f"HTTP {upstream.status}; check the region's api_key_env"
        elif upstream.status in (404, 405) and not _names_model(detail, model):
            # The upstream has no such endpoint: its URL is wrong (no /v1: Ollama's base URL copied), or it
            # is a server without this endpoint (embeddings asked of a server that serves chat only).
            # Passed on as a 404, the OpenAI SDK raises NotFoundError and the storefront looks for a wrong model.
            error = UpstreamUnavailable(
                f"{who} does not serve {self.upstream_path} (HTTP {upstream.status}): the region's upstream URL "
                "is wrong (no /v1?) or that server lacks the endpoint"
            )
            error.code = "upstream_misconfigured"
            error.reason = (
                f"HTTP {upstream.status} for POST {self.upstream_path}; does the region's upstream end in /v1?"
            )
        elif 400 <= upstream.status < 500:
            error = BadRequest(message)
            error.status = upstream.status
            error.code = "upstream_rejected"
        else:
            error = UpstreamUnavailable(message)
        error.headers = retry_headers(upstream.headers.items())
        raise error

    async def read_upstream_json(self, upstream: aiohttp.ClientResponse, who: str) -> Any:
        # read(n) returns what has arrived, not the whole body: read until the end (or over the limit).
        parts: list[bytes] = []
        size = 0
        while chunk := await upstream.content.read(MAX_UPSTREAM_BODY_BYTES + 1 - size):
            parts.append(chunk)
            size += len(chunk)
            if size > MAX_UPSTREAM_BODY_BYTES:
                raise UpstreamProtocolError(f"{who} sent more than {MAX_UPSTREAM_BODY_BYTES} bytes")
        raw = parts[0] if len(parts) == 1 else b"".join(parts)
        try:
            text = raw.decode("utf-8")
            data = fastjson.loads(text)
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise UpstreamProtocolError(f"{who} sent a body that is not JSON") from None
        return without_lone_surrogates(data) if has_surrogate_escape(text) else data

    async def whole(
        self, send: Send, req: _Request, sanitizer: TextSanitizer, upstream: aiohttp.ClientResponse, who: str
    ) -> None:
        data = await self.read_upstream_json(upstream, who)
        if not isinstance(data, dict):
            raise UpstreamProtocolError(f"{who} sent JSON that is not an object")
        screen_answer(data, self.kind, self.gateway.metrics.dropped_field, model=req.model)
        scan = req.scan = _Scan()
        if self.kind in ("chat", "completions"):
            choices = data.get("choices")
            if not isinstance(choices, list):
                raise UpstreamProtocolError(f"{who} sent a completion without `choices`")
            json_mode = _json_mode(req.body)
            try:
                for choice in choices:
                    if isinstance(choice, dict):
                        index = choice.get("index", 0)
                        if not isinstance(index, int) or isinstance(index, bool):
                            raise UpstreamProtocolError(f"{who} sent a malformed choice")
                        self.sanitize_choice(sanitizer, choice, scan, json_mode)
                if not scan.blocked and len(scan.judged) > 1:
                    self.across(sanitizer, scan)
            except GatewayError:
                raise
            except Exception as exc:
                self.sanitizer_alert(req, exc)
                raise SanitizerFailed("a detector failed; the response is refused (fail closed)") from None
            if scan.blocked:
                for choice in choices:
                    if isinstance(choice, dict):
                        _empty_choice(choice, self.kind)
                scan.released_parts = []
        body = fastjson.dumps(data)
        headers = response_headers(self.gateway.passed_headers(upstream, sanitizer), content_type=JSON_TYPE)
        headers.append((b"content-length", str(len(body)).encode()))
        # Recorded before the last byte goes out: a client holding its answer finds it audited.
        self.gateway.record(req, status=200, scan=scan)
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        req.answered = True
        await send({"type": "http.response.body", "body": body})

    def across(self, sanitizer: TextSanitizer, scan: _Scan) -> None:
        """A canary or protected run split across the answer's fields or choices: reported, and the answer
        refused unless its action is `alert` (docs/sanitize.md, "Split across fields")."""
        hits = across_fields(sanitizer, scan.judged)
        if hits:
            scan.hits.extend(hits_of(hits, where=ACROSS_FIELDS))
            scan.blocked = scan.blocked or refuses(hits)

    def sanitize_text(self, sanitizer: TextSanitizer, text: str, scan: _Scan) -> str:
        return _judged(scan, text, sanitizer.sanitize(text))

    def sanitize_json_text(
        self, sanitizer: TextSanitizer, text: str, scan: _Scan, *, content: bool = False, json_mode: bool = False
    ) -> str:
        """Tool arguments (or content that is a JSON document) that are JSON: sanitized as decoded, re-encoded
        if changed. `content` that does not parse (a document cut off at `max_tokens`) is judged as a stream
        judges it: its strings' escapes decoded, then written back; in JSON mode a token outside a string
        is quoted (outside it, such content may be prose: `{ not json: …`)."""
        parts = _Scan()
        out = sanitize_json(text, lambda piece: self.sanitize_text(sanitizer, piece, parts))
        if out is None and content:
            judged, decoder = decode_strings(text)
            out = JsonQuoter(decoder, quote=json_mode).feed(self.sanitize_text(sanitizer, judged, parts))
        elif out is None:
            out = self.sanitize_text(sanitizer, text, parts)
        scan.upstream_parts.append(text)
        scan.released_parts.append(out)
        scan.judged.extend(parts.judged)
        scan.scanned_bytes += parts.scanned_bytes
        scan.invisible_removed += parts.invisible_removed
        scan.hits.extend(parts.hits)
        scan.blocked = scan.blocked or parts.blocked
        return out

    def sanitize_choice(self, sanitizer: TextSanitizer, choice: dict[str, Any], scan: _Scan, json_mode: bool) -> None:
        dropped = self.gateway.metrics.dropped_field
        screen_choice(choice, self.kind, dropped, streamed=False)
        if self.kind == "completions":
            if isinstance(choice.get("text"), str):
                choice["text"] = self.sanitize_text(sanitizer, choice["text"], scan)
            return
        message = choice.get("message")
        if not isinstance(message, dict):
            return
        sanitize_message(
            message,
            "message",
            # Content that is a JSON document (asked for or starting with `{` or `[`, as a stream decides) is
            # judged as the app's parser reads it: as decoded values, or, cut off, as the stream judges it.
            text=lambda name, value: (
                self.sanitize_json_text(sanitizer, value, scan, content=True, json_mode=json_mode)
                if name == "content" and (json_mode or value.lstrip()[:1] in ("{", "["))
                else self.sanitize_text(sanitizer, value, scan)
            ),
            parts=lambda name, parts: self._sanitize_parts(sanitizer, parts, scan, json_mode, name == "content"),
            calls=lambda calls: [self._sanitize_call(sanitizer, c, scan) for c in calls if isinstance(c, dict)],
            function=lambda function: self._sanitize_function(sanitizer, function, scan, "message.function_call"),
            dropped=dropped,
        )

    def _sanitize_parts(
        self, sanitizer: TextSanitizer, parts: list[Any], scan: _Scan, json_mode: bool, content: bool
    ) -> list[Any]:
        """A field's content parts judged joined, as a client renders them and a stream judges its deltas
        (`"jane.doe@"` + `"example.com"`): each part keeps what is left of its own text, a redaction goes to
        the part its match starts in (`across.split_joined`). `content` parts that join to a JSON document
        (as a stream decides: JSON mode, or `{` / `[` first) are judged as one document (`sanitize_json_text`);
        changed, it goes whole in the first part."""
        slots: list[tuple[int, str | None]] = []
        texts: list[str] = []
        for position, part in enumerate(parts):
            if isinstance(part, str):
                slots.append((position, None))
                texts.append(part)
            elif isinstance(part, dict):
                screen_part(part, "message.content[]", self.gateway.metrics.dropped_field)
                for name in PART_TEXT:
                    if isinstance(part.get(name), str):
                        slots.append((position, name))
                        texts.append(part[name])
        if not texts:
            return parts
        joined = "".join(texts)
        if content and (json_mode or joined.lstrip()[:1] in ("{", "[")):
            document = self.sanitize_json_text(sanitizer, joined, scan, content=True, json_mode=json_mode)
            pieces = texts if document == joined else [document] + [""] * (len(texts) - 1)
        else:
            result = sanitizer.sanitize(joined)
            released = _judged(scan, joined, result)
            # Pieces that do not split back (a stand-in sanitizer): the first text holds all that is released.
            pieces = split_joined(texts, released, result.hits) or [released] + [""] * (len(texts) - 1)
        out = list(parts)
        for (position, key), piece in zip(slots, pieces, strict=True):
            if key is None:
                out[position] = piece
            else:
                out[position][key] = piece
        return out

    def _sanitize_call(self, sanitizer: TextSanitizer, call: dict[str, Any], scan: _Scan) -> dict[str, Any]:
        screen_call(call, "message.tool_calls[]", self.gateway.metrics.dropped_field)
        function = call.get("function")
        if isinstance(function, dict):
            self._sanitize_function(sanitizer, function, scan, "message.tool_calls[].function")
        return call

    def _sanitize_function(self, sanitizer: TextSanitizer, function: dict[str, Any], scan: _Scan, where: str) -> None:
        drop_unknown(function, FUNCTION_KEYS, where, self.gateway.metrics.dropped_field)
        if isinstance(function.get("name"), str):
            function["name"] = self.sanitize_text(sanitizer, function["name"], scan)
        if isinstance(function.get("arguments"), str):
            function["arguments"] = self.sanitize_json_text(sanitizer, function["arguments"], scan)

    def redact_prompt(self, req: _Request, sanitizer: TextSanitizer, body: dict[str, Any]) -> dict[str, Any]:
        """Prompts with personal data redacted (input side); a failing detector refuses the request."""
        try:
            out, hits = redact_prompt(self.kind, sanitizer, body)
        except Exception as exc:
            self.sanitizer_alert(req, exc)
            raise SanitizerFailed("a detector failed on the prompt; the request is refused (fail closed)") from None
        req.prompt_hits = hits
        return out

    def sanitizer_alert(self, req: _Request, exc: BaseException) -> None:
        log.error("sanitizer failed: %s", type(exc).__name__)
        self.gateway.events.submit(
            Signal(
                kind=SignalKind.LEAK_CAUGHT,
                source=f"gateway:{req.decision.region if req.decision else 'none'}",
                severity=Severity.HIGH,
                fingerprint="gateway-sanitizer-failure",
                region=req.decision.region if req.decision else None,
                summary=f"a detector raised {type(exc).__name__} on {req.route}; the response was refused",
                details={"route": req.route, "model": req.model, "client": req.client.name if req.client else None},
            )
        )

    async def stream(
        self, send: Send, req: _Request, sanitizer: TextSanitizer, upstream: aiohttp.ClientResponse, who: str
    ) -> None:
        import aiohttp

        relay = _StreamRelay(self, req, sanitizer, self.gateway.metrics.dropped_field)
        req.scan = relay.scan
        reader = SseReader()
        headers = response_headers(self.gateway.passed_headers(upstream, sanitizer), content_type=SSE_TYPE)
        headers.append((b"x-accel-buffering", b"no"))
        started = False
        done = False

        async def emit(out: list[bytes], *, last: bool = False) -> None:
            nonlocal started
            if not out and not last:
                return
            if not started:
                await send({"type": "http.response.start", "status": 200, "headers": headers})
                started = True
            req.answered = last
            await send({"type": "http.response.body", "body": b"".join(out), "more_body": not last})

        # What the upstream's last read gives is held back and sent together with the closing events and
        # the end of the body: one write instead of three (each loopback write costs the serving thread
        # about as much as sanitizing the chunk; docs/gateway.md, Benchmark).
        last: list[bytes] = []
        try:
            async for chunk in upstream.content.iter_any():
                out: list[bytes] = []
                for data in reader.feed(chunk):
                    if data == DONE:
                        done = True
                        break
                    out.extend(relay.event(data, who))
                    if relay.scan.blocked:
                        break
                if done or relay.scan.blocked:
                    last = out
                    break
                await emit(out)
            if not done and not relay.scan.blocked:
                for data in reader.finish():
                    if data == DONE:
                        done = True
                    else:
                        last.extend(relay.event(data, who))
                unfinished = relay.unfinished()
                # The body ended without [DONE]: a success only if every choice said it was finished.
                if not done and not relay.scan.blocked and (unfinished or not relay.choices):
                    what = f"choice {unfinished[0]} finished" if unfinished else "it sent any completion chunk"
                    raise UpstreamProtocolError(f"{who} ended the stream before {what} (no [DONE])")
            tail = relay.close()
        except (MalformedStream, UpstreamProtocolError, TimeoutError, OSError, aiohttp.ClientError) as exc:
            error: GatewayError
            if isinstance(exc, UpstreamProtocolError):
                error = exc
            elif isinstance(exc, MalformedStream):
                error = UpstreamProtocolError(f"{who} sent malformed SSE: {exc}")
            else:  # silent beyond read_timeout_seconds, or the connection broke
                error = _upstream_error(exc, who)
            if not started:
                raise error from None
            # Mid-stream: end the stream with an OpenAI error event (a complete HTTP body, not a cut one);
            # nothing unread is passed on, and the record keeps what the client already got.
            self.gateway.log_upstream_failure(req, error)
            self.gateway.record(req, status=error.status, scan=relay.scan, error=error.code)
            req.answered = True
            await send(
                {"type": "http.response.body", "body": encode_event(error.to_body().decode()), "more_body": False}
            )
            return
        except SanitizerFailed as exc:
            if not started and not last:
                raise
            last += relay.blocked_tail()  # marks the scan blocked before it is recorded
            self.gateway.record(req, status=200, scan=relay.scan, error=exc.code)
            await emit(last, last=True)
            return
        last.extend(tail)
        if not started and not last:
            last = [encode_event(DONE)]
        # Recorded before [DONE] goes out: a client that has read its answer finds it audited.
        self.gateway.record(req, status=200, scan=relay.scan)
        await emit(last, last=True)

    def model_entry(self, req: _Request, sanitizer: TextSanitizer, entry: dict[str, Any]) -> dict[str, Any] | None:
        """An upstream's `/v1/models` entry as the client gets it: `MODEL_KEYS` only, `object` "model",
        `created` a Unix time (else 0), `owned_by` a short word the sanitizer passes unchanged (else
        `DEFAULT_OWNER`). None, and the entry is left out, when its `id` is no printable name or one the
        sanitizer would change: a model's name is what a request names, so it cannot be redacted."""
        model_id, created, owner = entry.get("id"), entry.get("created"), entry.get("owned_by")
        try:
            if not _is_model_id(model_id) or not _unchanged(sanitizer, model_id):
                return None
            if not (isinstance(owner, str) and _OWNER.fullmatch(owner) and _unchanged(sanitizer, owner)):
                owner = DEFAULT_OWNER
        except Exception as exc:
            self.sanitizer_alert(req, exc)
            raise SanitizerFailed("a detector failed; the model list is refused (fail closed)") from None
        if not isinstance(created, int) or isinstance(created, bool) or not 0 <= created <= MAX_CREATED:
            created = 0
        return {"id": model_id, "object": "model", "created": created, "owned_by": owner}

    async def models(self, send: Send, req: _Request, client: Client, decision: Decision, wanted: str | None) -> None:
        """`GET /v1/models`, or `GET /v1/models/{wanted}` (one entry of the same filtered list, else 404).

        The list joins every region that may serve this visitor with this key (those listing the visitor's
        country that the key may use, in leakline.toml order; without a country, `on_missing_country`'s),
        each filtered by its `models`: a request for any model listed is served, from the first of them
        that serves it (residency.decide). The first region listing a model gives its entry, reduced to
        OpenAI's four keys (`model_entry`). A region whose
        upstream fails is left out and logged; the request fails only when none of them answers."""
        gw = self.gateway
        sanitizer = gw.sanitizer()
        if decision.country is None:
            names = [decision.region]
        else:
            names = [
                name
                for name, region in gw.regions.items()
                if decision.country in region.countries and client.may_use_region(name)
            ]

        async def listed(region: str) -> tuple[list[Any], list[tuple[str, str]]] | GatewayError:
            who = upstream_name(region)
            upstream_url = gw.regions[region].upstream.rstrip("/")
            sent = time.perf_counter()
            try:
                async with gw.session().get(upstream_url + "/models", headers=gw.upstream_headers_for(region)) as up:
                    if up.status != 200:
                        raise UpstreamUnavailable(f"the upstream answered HTTP {up.status}")
                    data = await self.read_upstream_json(up, who)
                    passed = gw.passed_headers(up, sanitizer)
                if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                    raise UpstreamProtocolError(f"{who} sent a model list without `data`")
            except GatewayError as error:
                return error
            except Exception as exc:
                # `waited` and `gw` as in `forward`: a pool that stayed full is 503 upstream_busy here too.
                return _upstream_error(exc, who, waited=time.perf_counter() - sent, gw=gw.gw)
            region_models = gw.regions[region].models
            return [
                m
                for m in data["data"]
                if isinstance(m, dict)
                and (not region_models or m.get("id") in region_models)
                and (not client.models or m.get("id") in client.models)
            ], passed

        results = await asyncio.gather(*(listed(name) for name in names))
        models: dict[Any, Any] = {}
        headers_from: list[tuple[str, str]] | None = None
        failed: list[tuple[str, GatewayError]] = []
        for name, result in zip(names, results, strict=True):
            if isinstance(result, GatewayError):
                failed.append((name, result))
                continue
            entries, passed = result
            headers_from = passed if headers_from is None else headers_from
            for m in entries:
                if m.get("id") not in models:
                    entry = self.model_entry(req, sanitizer, m)
                    if entry is not None:
                        models[entry["id"]] = entry
        # When none answers, the first region's error is the answer (Route.__call__ logs it, as for one region).
        for name, error in failed[1:] if headers_from is None else failed:
            where = display_url(gw.regions[name].upstream)
            reason = f"{where}: {error.reason}" if error.reason else where
            log.warning("%s on %s: %s (%s)", error.code, req.route, error.message, reason)
        if headers_from is None:
            raise failed[0][1]
        answer: Any = {"object": "list", "data": list(models.values())}
        if wanted is not None:
            answer = models.get(wanted)
            if answer is None:
                raise ModelNotFound(
                    f"the model {wanted[:200]!r} does not exist or this key may not use it", param="model"
                )
        body = json.dumps(answer, separators=(",", ":")).encode("utf-8")
        headers = [
            *response_headers(headers_from, content_type=JSON_TYPE),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})


MODEL_KEYS = ("id", "object", "created", "owned_by")
"""What a `/v1/models` entry keeps: OpenAI's four. vLLM adds `root` and `parent` (the path it loaded,
`/models/acme-customer-finetune-v3`), llama.cpp a `meta` object: the deployment's names and the upstream's
own words, which no client needs."""
MAX_MODEL_ID = 256
MAX_CREATED = 2**32 - 1
"""A `created` above this is no Unix time in seconds (a card number fits otherwise)."""
_OWNER = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
DEFAULT_OWNER = "system"
"""The `owned_by` sent in place of one that is no short word or that the sanitizer would change."""


def _unchanged(sanitizer: TextSanitizer, text: str) -> bool:
    """Whether the sanitizer passes `text` as it is (an `alert` hit does; a redaction or a block does not)."""
    result = sanitizer.sanitize(text)
    return not result.blocked and str(result.text) == text


def _is_model_id(value: Any) -> TypeGuard[str]:
    return isinstance(value, str) and 0 < len(value) <= MAX_MODEL_ID and value.isprintable() and value.strip() == value


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


ERROR_DETAIL_CHARS = 500
"""How much of an upstream's (sanitized) error message a client is shown."""


def _error_detail(sanitizer: TextSanitizer, detail: str, url: str) -> str:
    """An upstream's error message as the client may read it: sanitized, and without an address of the
    upstream side whatever `ip_address`'s action is (it only alerts by default, which suits answers, not an
    error the upstream wrote about itself) nor the upstream's host name; see Errors in docs/gateway.md."""
    return _judge_error_detail(sanitizer, detail, url)[0]


def _cut_detail(text: str) -> str:
    """`text` cut to `ERROR_DETAIL_CHARS`, not inside a `[REDACTED:…]` / `[UPSTREAM_HOST]` mark."""
    if len(text) <= ERROR_DETAIL_CHARS:
        return text
    cut = text[:ERROR_DETAIL_CHARS]
    mark = cut.rfind("[")
    return cut[:mark] if mark >= 0 and "]" not in cut[mark:] else cut


def _judge_error_detail(sanitizer: TextSanitizer, detail: str, url: str) -> tuple[str, Any]:
    """`_error_detail`, and the sanitizer's result for it (its hits go to the exchange's record)."""
    detail = strip_invisible(detail)[0]  # the hits' offsets below refer to the text without them
    host = urlsplit(url).hostname if url else None
    # A dotted name only (`gpu-7.internal`): a bare one (`ollama`) is as likely a word of the message,
    # and an address is the detector's.
    if host and "." in host and not _is_ip(host):
        detail = re.sub(rf"(?<![\w.-]){re.escape(host)}(?![\w-])", "[UPSTREAM_HOST]", detail, flags=re.IGNORECASE)
    spans = [(h.start, h.end) for h in sanitizer.sanitize(detail).hits if str(h.detector) == IP_ADDRESS]
    for start, end in sorted(spans, reverse=True):
        detail = f"{detail[:start]}{REDACTED_IP}{detail[end:]}"
    result = sanitizer.sanitize(detail)
    return str(result.text), result


def _error_message(raw: bytes) -> str | None:
    """The reason in an upstream's error body, in the shapes the servers use: OpenAI, llama.cpp and Ollama's
    `/v1` nest it (`{"error": {"message": ...}}`), vLLM's is flat (`{"object": "error", "message": ...}`),
    Ollama's native one is a string (`{"error": "..."}`). None when there is none to read."""
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    error = data.get("error")
    if isinstance(error, dict):
        error = error.get("message")
    if not isinstance(error, str):
        error = data.get("message")
    return error if isinstance(error, str) and error else None


_MODEL_WORD = re.compile(r"\bmodels?\b", re.IGNORECASE)


def _names_model(detail: str | None, model: str | None) -> bool:
    """Whether an upstream's 404 is about the model rather than the endpoint. Every server says which:
    Ollama `model "x" not found, try pulling it first`, vLLM `The model `x` does not exist.`, OpenAI `The
    model `x` does not exist or you do not have access to it`, llama.cpp's router `model not found`; an
    unknown path gets Ollama's (gin) plain-text `404 page not found`, vLLM's (FastAPI) `{"detail": "Not
    Found"}`, llama.cpp's `File Not Found`, OpenAI's `Invalid URL (POST /v1/…)`: none of them names a model."""
    if detail is None:
        return False
    return bool(model and model in detail) or _MODEL_WORD.search(detail) is not None


def _empty_choice(choice: dict[str, Any], kind: str) -> None:
    """A refused choice: every text-bearing field emptied or removed (fail closed: only the role stays)."""
    choice["finish_reason"] = "content_filter"
    screen_choice(choice, kind)
    if kind == "completions":
        choice["text"] = ""
        return
    message = choice.get("message")
    if isinstance(message, dict):
        message.clear()
        message.update(role="assistant", content="")


def _json_mode(body: Any) -> bool:
    """Whether the request asked for JSON (`response_format` json_object or json_schema)."""
    fmt = body.get("response_format") if isinstance(body, dict) else None
    return isinstance(fmt, dict) and fmt.get("type") in ("json_object", "json_schema")


WATCH_WHOLE_AFTER_SECONDS = 0.5
"""How long a whole answer's request runs before the gateway watches for its client going away."""


async def _watch_disconnect(receive: Receive, task: asyncio.Task[Any], req: _Request) -> None:
    """Cancel the request's task (and so the upstream call) when the client goes away.

    After the request body, the server's `receive()` returns only `http.disconnect`: when the connection is
    lost, or once the response is complete. A client slow to read its answer is neither (the server waits
    for the socket to drain in `send`), and the end of a response sent in full is not a client gone."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            if not req.answered:
                req.disconnected = True
                task.cancel()
            return


class _DisconnectWatch:
    """Runs `_watch_disconnect` for the current task, from `delay` seconds on, until `stop`."""

    def __init__(self, receive: Receive, req: _Request, *, delay: float) -> None:
        self._receive = receive
        self._req = req
        self._task = asyncio.current_task()
        self._watcher: asyncio.Future[None] | None = None
        self._timer: asyncio.TimerHandle | None = None
        if self._task is None:
            return
        if delay <= 0:
            self._start()
        else:
            self._timer = asyncio.get_running_loop().call_later(delay, self._start)

    def _start(self) -> None:
        self._timer = None
        if self._task is not None and not self._task.done():
            self._watcher = asyncio.ensure_future(_watch_disconnect(self._receive, self._task, self._req))

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        if self._watcher is not None:
            self._watcher.cancel()


_PLAIN_DELTA = frozenset({"content", "role"})
_UNDECIDED = JsonStringDecoder()
"""Stands for a field not yet known to be text or JSON in `_StreamRelay.unescapers` (never fed): one lookup
per piece tells the three apart."""


def _json_values(text: str) -> list[str]:
    """The string values (numbers as written) of JSON `text`, in document order, keys left out; `[text]`
    when it is not JSON."""
    try:
        value = json.loads(text, parse_int=str, parse_float=str, parse_constant=str)
    except (ValueError, RecursionError):
        return [text]
    out: list[str] = []
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            out.append(item)
        elif isinstance(item, dict):
            pending.extend(reversed(list(item.values())))
        elif isinstance(item, list):
            pending.extend(reversed(item))
    return out


def _has_words(value: Any) -> bool:
    """Whether `value` is a non-empty string or a container holding one at any depth."""
    if isinstance(value, str):
        return value != ""
    if isinstance(value, dict):
        return any(_has_words(v) for v in value.values())
    if isinstance(value, list):
        return any(_has_words(v) for v in value)
    return False


def _says_more(choice: dict[str, Any]) -> bool:
    """Whether a streamed choice carries text (besides its role): what a choice may no longer send after
    its finish_reason. An empty delta, or the finish repeated, is still fine."""
    delta = choice.get("delta")
    if isinstance(delta, dict) and any(_has_words(v) for k, v in delta.items() if k != "role"):
        return True
    return any(_has_words(choice.get(k)) for k in ("text", "message"))


@dataclass
class _HeldCall:
    """A streamed tool call's (or legacy function call's) arguments, held until the call is complete."""

    index: int
    pieces: list[str] = field(default_factory=list)
    names: list[str] = field(default_factory=list)
    """The name's pieces: held as the arguments are (a name split in two deltas is one name to a client)."""
    id: str | None = None
    """The call's first `id` (already the gateway's `opaque_id`)."""


class _StreamRelay:
    """Per-response streaming state: one hold-back sanitizer per choice and text field, and each choice's
    tool calls (names and arguments), held whole until the choice ends (arguments are judged as JSON)."""

    def __init__(self, route: Route, req: _Request, sanitizer: TextSanitizer, dropped: Dropped = None) -> None:
        self.route = route
        self.req = req
        self.sanitizer = sanitizer
        self.scan = _Scan()
        self.streams: dict[tuple[int, str], Any] = {}
        self.offsets: dict[tuple[int, str], int] = {}
        self.finished: set[int] = set()
        self.template: dict[str, Any] = {}
        self.choices: set[int] = set()
        self.json_mode = _json_mode(req.body)
        self.quoters: dict[tuple[int, str], JsonQuoter] = {}
        self.unescapers: dict[tuple[int, str], JsonStringDecoder | None] = {}
        """Per field, once its first non-space character came: None for text, else the transducer that
        writes the escapes inside its strings as characters before the detectors (`ann\\u0040example.com`,
        `4111\\n1111…`): content in JSON mode, and content that starts with `{` or `[` (a JSON document, as
        the whole answer's judge takes it). Its `JsonQuoter` in `quoters` writes them back on release."""
        self.held_calls: dict[int, dict[int, _HeldCall]] = {}
        """Per choice and call index: the call's id, name and arguments received so far."""
        self.call_ids: dict[tuple[int, str], int] = {}
        self.call_count: dict[int, int] = {}
        self.functions: dict[int, _HeldCall] = {}
        """Per choice: a legacy `function_call`'s arguments."""
        self.dropped = dropped
        """Told the name of each field dropped from the stream (the gateway's metric)."""
        self.watch = CanaryWatch(sanitizer)
        """Every field's pieces in arrival order: a canary split across fields or choices."""

    def _stream_for(self, key: tuple[int, str]) -> Any:
        stream = self.streams.get(key)
        if stream is None:
            stream = self.streams[key] = self.sanitizer.stream()
        return stream

    def _feed(self, key: tuple[int, str], text: str) -> str:
        stream = self._stream_for(key)
        self.scan.upstream_parts.append(text)
        self.scan.scanned_bytes += len(text.encode("utf-8"))
        unescaper = self.unescapers.get(key, _UNDECIDED)
        if unescaper is _UNDECIDED:
            unescaper = self._json_field(key, text)
        if unescaper is not None:
            # Judged as the app's parser reads the strings; `_after` writes the escapes back.
            text = unescaper.feed(text)
        try:
            # Judged before the field's stream sees the piece: that stream may release text with it.
            if self._watched(self.watch.feed(key, text)):
                return ""
            out = str(stream.feed(text))
        except Exception as exc:
            self.route.sanitizer_alert(self.req, exc)
            raise SanitizerFailed("a detector failed; the stream is refused (fail closed)") from None
        return self._after(key, stream, out, json_text=unescaper is not None)

    def _json_field(self, key: tuple[int, str], text: str) -> JsonStringDecoder | None:
        """Whether field `key` is JSON text, decided at its first non-space character (`_UNDECIDED` before):
        its transducer, or None. A whole answer's content that starts with `{` or `[` is judged as the
        document an app parses (`Route.sanitize_choice`); streamed, it is judged with its escapes decoded
        too, or `{"k": "\\u005aq7X…"}` and `{"card": "4111\\n1111…"}` would pass streamed what is refused
        whole."""
        if key[1] != "content":
            self.unescapers[key] = None
            return None
        if not self.json_mode:
            head = text.lstrip()
            if not head:
                return None  # nothing to decide on yet (whitespace holds no escape)
            if head[0] not in "{[":
                self.unescapers[key] = None
                return None
        unescaper = self.unescapers[key] = JsonStringDecoder()
        self.quoters[key] = JsonQuoter(unescaper)
        return unescaper

    def _finish(self, key: tuple[int, str]) -> str:
        stream = self.streams.pop(key, None)
        if stream is None:
            return ""
        unescaper = self.unescapers.pop(key, None)
        held = unescaper.finish() if unescaper is not None else ""
        try:
            self.watch.feed(key, held)
            # The stream's end releases all it holds: what arrived since the watch last judged is judged first.
            if self._watched(self.watch.judge()):
                return ""
            out = (str(stream.feed(held)) if held else "") + str(stream.finish())
        except Exception as exc:
            self.route.sanitizer_alert(self.req, exc)
            raise SanitizerFailed("a detector failed; the stream is refused (fail closed)") from None
        self.scan.invisible_removed += int(getattr(stream, "invisible_removed", 0))
        self._collect(stream)
        return self._after(key, stream, out, json_text=unescaper is not None)

    def _watched(self, hits: list[Any]) -> bool:
        """Records the watch's across-field hits; True when they refuse the stream."""
        if not hits:
            return False
        self.scan.hits.extend(hits_of(hits, where=ACROSS_FIELDS))
        if refuses(hits):
            self.scan.blocked = True
        return self.scan.blocked

    def _collect(self, stream: Any) -> None:
        seen = self.offsets.setdefault((id(stream), ""), 0)
        if len(stream.hits) == seen:  # called after every event; hits are rare
            return
        hits = list(stream.hits)
        self.scan.hits.extend(hits_of(hits[seen:]))
        self.offsets[(id(stream), "")] = len(hits)

    def _after(self, key: tuple[int, str], stream: Any, out: str, *, json_text: bool) -> str:
        if stream.blocked:
            self._collect(stream)
            self.scan.blocked = True
            return ""
        if json_text and out:
            # Released text stays JSON: decoded line breaks escaped again, a redaction outside a string quoted.
            out = self.quoters[key].feed(out)
        self.scan.released_parts.append(out)
        return out

    def _whole(self, text: str, *, arguments: bool = False) -> str:
        """Text judged whole (a function name, a complete call's arguments), with fail-closed alerting."""
        key = ("arguments" if arguments else "name", len(self.scan.judged))
        try:
            # Released at once: the watch judges it with what came before (a canary's other half). Arguments
            # that are JSON are fed as their values, each its own field: the watch then joins the values
            # as a client reading them does, not with `", "second": "` between two halves.
            for n, value in enumerate(_json_values(text) if arguments else (text,)):
                self.watch.feed((*key, n), value)
            if self._watched(self.watch.judge()):
                return ""
            if arguments:
                return self.route.sanitize_json_text(self.sanitizer, text, self.scan)
            return self.route.sanitize_text(self.sanitizer, text, self.scan)
        except Exception as exc:
            self.route.sanitizer_alert(self.req, exc)
            raise SanitizerFailed("a detector failed; the stream is refused (fail closed)") from None

    def event(self, data: str, who: str) -> list[bytes]:
        try:
            chunk = fastjson.loads(data)
        except json.JSONDecodeError:
            raise UpstreamProtocolError(f"{who} sent an SSE event that is not JSON") from None
        if has_surrogate_escape(data):
            chunk = without_lone_surrogates(chunk)
        if not isinstance(chunk, dict):
            raise UpstreamProtocolError(f"{who} sent an SSE event that is not a JSON object")
        if "error" in chunk and "choices" not in chunk:
            raise UpstreamProtocolError(f"{who} reported an error mid-stream")
        choices = chunk.get("choices")
        if not isinstance(choices, list):
            raise UpstreamProtocolError(f"{who} sent a chunk without `choices`")
        screen_answer(chunk, self.route.kind, self.dropped, model=self.req.model)
        if not self.template:
            self.template = {
                k: chunk[k] for k in ("id", "object", "created", "model", "system_fingerprint") if k in chunk
            }
        elif "created" in chunk:
            # Every chunk of a stream carries the first one's time: a `created` that changes from chunk to chunk
            # would be ~31 bits per chunk for the upstream to say anything with.
            chunk["created"] = self.template.get("created", 0)
        for choice in choices:
            if not isinstance(choice, dict) or not isinstance(choice.get("index", 0), int):
                raise UpstreamProtocolError(f"{who} sent a malformed choice")
            index = int(choice.get("index", 0))
            if self.route.kind == "chat":
                delta = choice.get("delta")
                if delta is not None and type(delta) is not dict:
                    raise UpstreamProtocolError(f"{who} sent a choice whose `delta` is not an object")
            if index in self.finished and _says_more(choice):
                # Its hold-back buffers were released with the finish: a new piece would start a new
                # buffer, and the client's join of both would pass unjudged (`ann.lee@` + `example.com`).
                raise UpstreamProtocolError(f"{who} sent more text for choice {index} after its finish_reason")
            self.choices.add(index)
            screen_choice(choice, self.route.kind, self.dropped, streamed=True)
            self._choice(index, choice)
            if self.scan.blocked:
                return self.blocked_tail()
            if choice.get("finish_reason") is not None:
                self._flush_choice(index, choice)
                if self.scan.blocked:
                    return self.blocked_tail()
        self._collect_all()
        return [encode_json_event(fastjson.dumps(chunk))]

    def _collect_all(self) -> None:
        for stream in self.streams.values():
            self._collect(stream)

    def _choice(self, index: int, choice: dict[str, Any]) -> None:
        if self.route.kind == "completions":
            if isinstance(choice.get("text"), str):
                choice["text"] = self._feed((index, "text"), choice["text"])
            return
        delta = choice.get("delta")
        if not isinstance(delta, dict):
            return
        content = delta.get("content")
        # Almost every event of a stream: text (and the first one's role) only; the walk below costs
        # about a fifth of the relay's time per event.
        if type(content) is str and _PLAIN_DELTA.issuperset(delta) and delta.get("role", "assistant") == "assistant":
            delta["content"] = self._feed((index, "content"), content)
            return
        sanitize_message(
            delta,
            "delta",
            text=lambda name, value: self._feed((index, name), value),
            part=lambda name, part: self._part(index, name, part),
            calls=lambda calls: self._calls(index, calls),
            function=lambda function: self._function(index, function),
            dropped=self.dropped,
        )
        # Calls are held whole (`_calls`): an emptied list or legacy call says nothing, and is not sent.
        if delta.get("tool_calls") == []:
            del delta["tool_calls"]
        if delta.get("function_call") == {}:
            del delta["function_call"]

    def _part(self, index: int, name: str, part: Any) -> Any:
        if isinstance(part, str):
            return self._feed((index, name), part)
        if not isinstance(part, dict):
            return part
        screen_part(part, "delta.content[]", self.dropped)
        for key in PART_TEXT:
            if isinstance(part.get(key), str):
                part[key] = self._feed((index, name), part[key])
        return part

    def _calls(self, index: int, calls: list[Any]) -> list[Any]:
        """The tool-call deltas to send now: none. Each call (id, name, arguments) is held and sent whole,
        in one delta, with the choice's end: servers interleave the pieces of several calls (0, 1, 0, 1), so
        a new index does not end the one before, and a name can come in pieces as arguments do
        (`ann.lee@` + `example.com`). A call's first delta cannot go ahead without its name: clients
        (Vercel's AI SDK) refuse a call whose first delta has none, and ignore name pieces after it."""
        for position, call in enumerate(calls):
            if not isinstance(call, dict):
                continue
            screen_call(call, "delta.tool_calls[]", self.dropped)
            number = self._call_index(index, position, call)
            held = self.held_calls.setdefault(index, {}).setdefault(number, _HeldCall(number))
            if held.id is None and isinstance(call.get("id"), str):
                held.id = call["id"]
            function = call.get("function")
            if isinstance(function, dict):
                self._hold(function, held, "delta.tool_calls[].function")
        return []

    def _call_index(self, index: int, position: int, call: dict[str, Any]) -> int:
        """The call's `index`; without one (older Ollama: several whole calls in one delta), its `id`'s
        slot, else its position in the list."""
        number = call.get("index")
        call_id = call.get("id")
        if not isinstance(number, int) or isinstance(number, bool):
            if isinstance(call_id, str) and (index, call_id) in self.call_ids:
                number = self.call_ids[(index, call_id)]
            elif isinstance(call_id, str):
                number = self.call_count.get(index, 0)
            else:
                number = position
        if isinstance(call_id, str):
            self.call_ids.setdefault((index, call_id), number)
        self.call_count[index] = max(self.call_count.get(index, 0), number + 1)
        return number

    def _hold(self, function: dict[str, Any], held: _HeldCall, where: str) -> None:
        """The name and arguments pieces of `function` taken into `held` (judged whole when released)."""
        drop_unknown(function, FUNCTION_KEYS, where, self.dropped)
        name = function.pop("name", None)
        if isinstance(name, str):
            held.names.append(name)
        arguments = function.pop("arguments", None)
        if isinstance(arguments, str):
            held.pieces.append(arguments)

    def _function(self, index: int, function: dict[str, Any]) -> None:
        self._hold(function, self.functions.setdefault(index, _HeldCall(0)), "delta.function_call")

    def _release_calls(self, index: int) -> list[dict[str, Any]]:
        """The choice's calls, each whole in one delta. Every name is judged before any arguments: each
        judgement is followed by the watch's, which then sees the names side by side and the arguments'
        values side by side (a canary's halves in two parallel calls' `{"q": ...}`)."""
        held = [call for _, call in sorted(self.held_calls.pop(index, {}).items())]
        names = [self._whole("".join(call.names)) if call.names else None for call in held]
        out: list[dict[str, Any]] = []
        for call, name in zip(held, names, strict=True):
            arguments = self._whole("".join(call.pieces), arguments=True)
            delta: dict[str, Any] = {"index": call.index}
            if call.id is not None:
                delta["id"] = call.id
            delta["type"] = "function"
            delta["function"] = {"name": name, "arguments": arguments} if name is not None else {"arguments": arguments}
            out.append(delta)
        return out

    def _flush_choice(self, index: int, choice: dict[str, Any]) -> None:
        """Release what this choice still holds (hold-back buffers, its tool calls whole) into this final
        chunk."""
        self.finished.add(index)
        for key in sorted(k for k in self.streams if k[0] == index):
            tail = self._finish(key)
            if not tail:
                continue
            name = key[1]
            if self.route.kind == "completions":
                choice["text"] = str(choice.get("text") or "") + tail
            else:
                delta = choice.setdefault("delta", {})
                value = delta.get(name)
                if isinstance(value, list):
                    value.append({"type": "text", "text": tail})
                else:
                    delta[name] = str(value or "") + tail
        if index in self.held_calls:
            calls = self._release_calls(index)
            choice.setdefault("delta", {}).setdefault("tool_calls", []).extend(calls)
        held = self.functions.pop(index, None)
        if held is not None:
            legacy = self._whole("".join(held.names)) if held.names else None
            arguments = self._whole("".join(held.pieces), arguments=True)
            function = choice.setdefault("delta", {}).setdefault("function_call", {})
            if legacy is not None:
                function["name"] = legacy
            function["arguments"] = arguments

    def unfinished(self) -> list[int]:
        """The choices that never sent a `finish_reason` (all of them: none when no choice was seen)."""
        return sorted(self.choices - self.finished)

    def close(self) -> list[bytes]:
        """At `[DONE]`: flush choices that never sent a finish_reason, then [DONE]."""
        if self.scan.blocked:
            return []
        # A finished choice holds nothing more (`event` refuses text after the finish; an empty piece may
        # still have opened a buffer): it gets no second closing chunk.
        open_choices = sorted(
            ({k[0] for k in self.streams} | set(self.held_calls) | set(self.functions)) - self.finished
        )
        out: list[bytes] = []
        if open_choices:
            choices = []
            for index in open_choices:
                choice: dict[str, Any] = {"index": index, "finish_reason": None}
                if self.route.kind == "chat":
                    choice["delta"] = {}
                self._flush_choice(index, choice)
                if self.scan.blocked:
                    return self.blocked_tail()
                choices.append(choice)
            out.append(encode_json_event(fastjson.dumps({**self.template, "choices": choices})))
        out.append(encode_event(DONE))
        return out

    def blocked_tail(self) -> list[bytes]:
        """The end of a refused stream: `finish_reason: content_filter` for every choice, then [DONE]."""
        self.scan.blocked = True
        self.streams.clear()
        self.unescapers.clear()
        self.held_calls.clear()
        self.functions.clear()
        choices = []
        for index in sorted(self.choices or {0}):
            choice: dict[str, Any] = {"index": index, "finish_reason": "content_filter"}
            if self.route.kind == "chat":
                choice["delta"] = {}
            else:
                choice["text"] = ""
            choices.append(choice)
        body = json.dumps({**self.template, "choices": choices}, separators=(",", ":"))
        return [encode_event(body), encode_event(DONE)]
