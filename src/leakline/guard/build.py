"""Assembling the gateway from settings: cross-section checks, the event thread, the `/v1` routes.

`router(settings)` is the factory listed in `leakline.web.app.ROUTERS`: it returns an `APIRouter`
whose routes are the pipeline's pure-ASGI endpoints (no FastAPI request parsing on the hot path).
Nothing is opened when the router is built (the app may be created in a process that never serves);
its startup handler builds the sanitizers, the event thread (audit sinks, volume store) and the
upstream session inside the serving worker before it accepts a request, and its shutdown handler
closes the session and drains the event thread. `preflight(settings)` lets `leakline serve` refuse a
broken configuration before it binds a port.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from leakline.errors import LeaklineError
from leakline.guard.errors import GatewayConfigError, display_url
from leakline.guard.settings import (
    POLICY_ROUTES,
    REGION_NAME_LIMITS,
    REGION_NAME_RULE,
    REJECT,
    RegionSettings,
    region_name_suggestion,
)

if TYPE_CHECKING:
    from fastapi import APIRouter

    from leakline.config import Settings
    from leakline.guard.events import EventWorker
    from leakline.guard.keys.refresh import DatabaseKeys
    from leakline.guard.outbox import SignalOutbox

_REGION_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")
ROUTES = (
    ("/v1/chat/completions", "chat", "/chat/completions", "POST"),
    ("/v1/completions", "completions", "/completions", "POST"),
    ("/v1/embeddings", "embeddings", "/embeddings", "POST"),
    ("/v1/models", "models", "/models", "GET"),
    ("/v1/models/{model:path}", "model", "/models", "GET"),
)


def check_gateway_settings(settings: Settings) -> None:
    """Rules that span sections; each error names the key (and the file) that is wrong."""
    source = settings.source or "leakline.toml"
    regions = settings.regions
    for name in regions:
        if not _REGION_NAME.match(name):
            guess = region_name_suggestion(name)
            raise GatewayConfigError(
                f"{source}: regions.{name}: {REGION_NAME_RULE}"
                + (f" (did you mean {guess!r}?)" if guess else REGION_NAME_LIMITS),
                hint=f"rename [regions.{name}] (and where clients.*.regions or gateway.on_missing_country name it)",
            )
    for name, settings_of in regions.items():
        _check_upstream_url(source, name, settings_of.upstream)
    missing = settings.gateway.on_missing_country
    if missing != REJECT and missing not in regions:
        raise GatewayConfigError(
            f"{source}: gateway.on_missing_country: expected 'reject' or a region name, got {missing!r}"
        )
    for index, client in enumerate(settings.clients):
        for region in client.regions:
            if region not in regions:
                raise GatewayConfigError(f"{source}: clients.{index}.regions: no region named {region!r}")
    names = [c.name for c in settings.clients]
    for index, name in enumerate(names):
        if name in names[:index]:
            raise GatewayConfigError(f"{source}: clients.{index}.name: {name!r} is used twice")
    # Fail closed on residency of the audit trail too: a region's exchanges may only be recorded in
    # that region's sink, so a region without one could never be audited.
    if regions:
        for name in regions:
            if name not in settings.audit.sinks:
                raise GatewayConfigError(
                    f"{source}: regions.{name}: no audit sink for this region",
                    hint=f"add [audit.sinks.{name}] path = ... (exchanges are audited in their region only)",
                )
    _check_policies(settings, source)


def _check_upstream_url(source: str, name: str, url: str) -> None:
    """The gateway appends the endpoint (`/chat/completions`) to the upstream URL as written, so a query
    string or a fragment would swallow it: every request would reach the upstream's root path, or carry
    `?api_key=…/chat/completions`. Refused here rather than by the settings model, whose error would quote
    the value, and a query string is where people put a key."""
    # By character, not by urlsplit's parts: a bare `…/v1?` has an empty query and still swallows the path.
    found = [what for mark, what in (("?", "a query string (?…)"), ("#", "a fragment (#…)")) if mark in url]
    if found:
        raise GatewayConfigError(
            f"{source}: regions.{name}.upstream: expected the upstream's base URL (e.g. "
            f"'{display_url(url)}'), but it has {' and '.join(found)}; the gateway appends the endpoint's "
            "path (/chat/completions) to it, so every request would miss (the value is not shown)",
            hint=f"remove the query string; a key for the upstream goes in an environment variable named by "
            f"regions.{name}.api_key_env (sent as a bearer key)",
        )


def _check_policies(settings: Settings, source: str) -> None:
    """Route tables name a policy route, overrides name detectors, canaries exist where they are planted."""
    gw = settings.gateway
    tables = [(f'gateway.routes."{path}"', path, route) for path, route in gw.routes.items()]
    for index, client in enumerate(settings.clients):
        _check_detectors(source, f"clients.{index}.sanitize_actions", client.sanitize_actions)
        tables += [(f'clients.{index}.routes."{path}"', path, route) for path, route in client.routes.items()]
    expected = ", ".join(f'"{path}"' for path in POLICY_ROUTES)
    for key, path, route in tables:
        if path not in POLICY_ROUTES:
            raise GatewayConfigError(f"{source}: {key}: unknown route; expected one of {expected}")
        _check_detectors(source, f"{key}.sanitize_actions", route.sanitize_actions)
        if path == "/v1/embeddings" and route.insert_canary:
            raise GatewayConfigError(
                f"{source}: {key}.insert_canary: expected false or no value: embeddings carry no text in "
                "which a canary could come back"
            )
    if not settings.sanitize.canaries:
        planted = [f"{key}.insert_canary" for key, _, route in tables if route.insert_canary]
        if gw.insert_canary:
            planted.insert(0, "gateway.insert_canary")
        if planted:
            raise GatewayConfigError(
                f"{source}: {planted[0]}: is true but sanitize.canaries is empty; expected at least one canary",
                hint='add [sanitize] canaries = ["<token>"]; generate one with: '
                'python -c "import secrets; print(secrets.token_urlsafe(24))"',
            )


def _check_detectors(source: str, key: str, actions: Mapping[str, str]) -> None:
    if not actions:
        return
    from leakline.guard.sanitize.matchers import DETECTORS

    for name in actions:
        if name not in DETECTORS:
            raise GatewayConfigError(
                f"{source}: {key}.{name}: unknown detector; expected one of {', '.join(DETECTORS)}"
            )


def _base(settings: Settings) -> Path:
    return Path(settings.source).resolve().parent if settings.source else Path.cwd()


def database_keys_url(settings: Settings) -> str:
    """leakline's `[database]` URL, a relative SQLite path made relative to leakline.toml."""
    from leakline.store.engine import resolve_url

    return resolve_url(settings.database.url, base=_base(settings))


def load_database_keys(keys: DatabaseKeys, settings: Settings) -> list[str]:
    """The first read of the keys kept in the database, at a worker's start: a database that cannot be read
    stops the worker with a message that names `[database] url` without its password."""
    from sqlalchemy.engine import make_url

    from leakline.guard.readiness import database_unreachable

    source = settings.source or "leakline.toml"
    try:
        return keys.load()
    except Exception as exc:
        url = database_keys_url(settings)
        # Why, without the driver's text (it may quote the URL): the connection's failure, else the error's kind.
        why = database_unreachable(url) or type(exc).__name__
        raise GatewayConfigError(
            f"{source}: database.url: cannot read the gateway keys kept in "
            f"{make_url(url).render_as_string(hide_password=True)} ({why})",
            hint="clients with database_keys = true need leakline's database at start-up",
        ) from exc


def default_events(settings: Settings) -> EventWorker:
    from leakline.audit.sinks import default_audit_log
    from leakline.guard.anomaly import VolumeMonitor
    from leakline.guard.events import FLUSH_EVERY_SECONDS, EventWorker
    from leakline.guard.signals_out import sink_for

    anomalies = settings.gateway.anomalies
    monitor = None
    if anomalies.enabled and anomalies.store == "database":
        from leakline.store.engine import resolve_url

        monitor = VolumeMonitor.on_database(resolve_url(settings.database.url, base=_base(settings)), anomalies)
    elif anomalies.enabled:
        path = Path(anomalies.state_path).expanduser()
        monitor = VolumeMonitor.on_file(path if path.is_absolute() else _base(settings) / path, anomalies)
    # The event thread flushes the audit log every FLUSH_EVERY_SECONDS: its own commit schedule.
    audit = default_audit_log(settings, min_group_commit_ms=round(FLUSH_EVERY_SECONDS * 1000))
    return EventWorker(audit=audit, signals=sink_for(settings), monitor=monitor, outbox=signal_outbox(settings))


def signal_outbox(settings: Settings) -> SignalOutbox:
    """The outbox `[gateway] signal_outbox` names (relative to leakline.toml), not opened yet."""
    from leakline.guard.outbox import SignalOutbox

    gw = settings.gateway
    path = Path(gw.signal_outbox).expanduser()
    return SignalOutbox(
        path if path.is_absolute() else _base(settings) / path,
        max_entries=gw.signal_outbox_max_entries,
        max_bytes=gw.signal_outbox_max_bytes,
        source=settings.source or "leakline.toml",
    )


def preflight(settings: Settings) -> list[str]:
    """Build what a worker builds at its start-up, once, before the server starts: a bad `[sanitize]`
    (unreadable corpus, short canary, unknown detector), a wrong route or key override, an unset key or
    token variable, an audit key or sink, a volume store or a signal outbox that cannot be opened, or
    settings under which a key could never be served (`check_servable`) are reported with the key at
    fault (exit 2) instead of a worker's traceback after uvicorn started, or a gateway refusing every
    request. Returns the warnings (settings that work but are probably not meant, an empty corpus file
    among them), one line each."""
    from leakline.guard.auth import KeyStore
    from leakline.guard.pipeline import load_sanitizer
    from leakline.guard.policies import RoutePolicies
    from leakline.guard.sanitize.native import pure_requested, stream_implementation

    check_gateway_settings(settings)
    source = settings.source or "leakline.toml"
    warnings = check_servable(settings)
    keys = KeyStore.from_settings(settings.clients, source=source)
    _check_upstream_keys(settings, source)
    try:
        sanitizer = load_sanitizer(settings)
        # Policies only: a worker builds their sanitizers at its start-up; compiling them here too
        # would double the time `leakline serve` takes to start.
        RoutePolicies(settings.gateway, lambda: sanitizer).policies(keys.clients())
    except LeaklineError as exc:
        raise _in_file(source, exc) from exc
    except Exception as exc:
        reason = f"{type(exc).__name__}: {exc}"
        raise GatewayConfigError(f"{source}: the output sanitizer cannot be built: {reason}") from exc
    warnings += corpus_warnings(settings)
    streams = stream_implementation()
    if not streams.compiled and not pure_requested():
        warnings.append(
            f"streamed responses are sanitized by the pure-Python stream sanitizer, which does the same work "
            f"more slowly (docs/sanitize.md, 'The compiled stream'): {streams.reason}"
        )
    if keys.database_clients:
        from leakline.guard.keys.refresh import DatabaseKeys, database_reader

        # Read once as a worker will (a database it cannot read stops the start), and say which keys it ignores.
        reader = database_reader(database_keys_url(settings))
        first = DatabaseKeys(keys, reader, refresh_seconds=1, max_stale_seconds=1, log_skipped=False)
        try:
            warnings += [f"{source}: {why}" for why in load_database_keys(first, settings)]
        finally:
            first.close()
    if settings.regions:  # as in a worker: without regions there is no event thread
        try:
            events = default_events(settings)
        except LeaklineError as exc:
            raise _in_file(source, exc) from exc
        try:
            events.open(list(settings.regions), source=source)
        finally:
            events.close()
        if in_process_signals(settings):
            _check_incident_engine(settings, source)
    else:
        # The incident API alone: its every request reads or writes the database (checked first: the
        # default audit sink's key is generated when it is opened, and a refused start writes nothing).
        _check_incident_engine(settings, source)
        _check_incident_api_audit(settings, source)
    return warnings


def check_servable(settings: Settings) -> list[str]:
    """Refuse settings under which a key could never be served (every request would be a 451 or a 404 that
    the operator learns of from the clients); return warnings for settings that work but let anyone choose
    their region, and for those `_setting_warnings` finds probably unmeant. Only with regions: without them
    the gateway refuses every /v1 request by design."""
    from leakline.guard.residency import parse_networks

    source = settings.source or "leakline.toml"
    regions = settings.regions
    gw = settings.gateway
    if not regions:
        return []
    for index, client in enumerate(settings.clients):
        usable = [name for name in regions if not client.regions or name in client.regions]
        where = f"{source}: clients.{index}"
        if client.country is not None:
            listing = [name for name, region in regions.items() if client.country in region.countries]
            if not listing:
                raise GatewayConfigError(
                    f"{where}.country: no region serves visitors from {client.country!r} (no regions.*.countries "
                    f"lists it): every request with the key of client {client.name!r} would be refused (451)",
                    hint=f"add {client.country!r} to the countries of the region that should serve this key, or "
                    "correct clients.country (an ISO 3166-1 code such as 'DE')",
                )
            if not set(listing) & set(usable):
                raise GatewayConfigError(
                    f"{where}.regions: visitors from {client.country!r} (clients.{index}.country) are served by "
                    f"region(s) {', '.join(listing)}, none of which this key may use: every request with the key "
                    f"of client {client.name!r} would be refused (451)",
                    hint=f"add one of {', '.join(listing)} to clients.{index}.regions, or correct the country",
                )
        if client.models and not any(_served(regions, usable, model) for model in client.models):
            shown = ", ".join(repr(m) for m in client.models)
            raise GatewayConfigError(
                f"{where}.models: no region this key may use serves {shown} (regions.*.models): every request "
                f"with the key of client {client.name!r} would be refused",
                hint="correct the model names (as the upstreams call them) or add them to a region's models",
            )
    unbound = [client.name for client in settings.clients if client.country is None]
    if not gw.trusted_proxies and gw.on_missing_country == REJECT and unbound:
        names = ", ".join(repr(name) for name in unbound)
        raise GatewayConfigError(
            f"{source}: gateway.trusted_proxies: is empty while gateway.on_missing_country is 'reject': no "
            f"{gw.country_header} header is believed, so every request of client(s) {names} (no clients.country) "
            "would be refused (451)",
            hint="list the addresses of the edge proxies that set the header (e.g. trusted_proxies = "
            '["10.0.0.0/8"]), set on_missing_country to a region, or bind each key to a country',
        )
    warnings: list[str] = []
    for index, network in enumerate(parse_networks(gw.trusted_proxies)):
        if network.prefixlen == 0:
            warnings.append(
                f"{source}: gateway.trusted_proxies.{index}: {gw.trusted_proxies[index]!r} trusts every address: "
                f"anyone who reaches the gateway chooses the region that serves them with a {gw.country_header} "
                "header; list only the edge proxies' addresses"
            )
    for index, client in enumerate(settings.clients):
        if not client.models:
            continue
        usable = [name for name in regions if not client.regions or name in client.regions]
        unserved = [model for model in client.models if not _served(regions, usable, model)]
        if unserved:
            warnings.append(
                f"{source}: clients.{index}.models: no region this key may use serves "
                f"{', '.join(repr(m) for m in unserved)}: requests for them are refused"
            )
    return warnings + _setting_warnings(settings, source)


def _setting_warnings(settings: Settings, source: str) -> list[str]:
    """Settings that are accepted (each may be meant) but are probably a mistake that the operator would
    otherwise learn of from the clients, or from a leak: one line each, naming the key."""
    regions = settings.regions
    gw = settings.gateway
    warnings: list[str] = []
    for name, region in regions.items():
        parts = urlsplit(region.upstream)
        shown = display_url(region.upstream)
        if not parts.path.rstrip("/").endswith("/v1"):
            warnings.append(
                f"{source}: regions.{name}.upstream: '{shown}' does not end in /v1: the gateway sends "
                f"POST {shown.rstrip('/')}/chat/completions, where Ollama, vLLM and llama.cpp serve nothing (404); "
                f"their OpenAI-compatible base URL is '{shown.rstrip('/')}/v1'"
            )
        if region.api_key_env is None and (parts.username is not None or parts.password is not None):
            clear = " in clear text (http://)" if parts.scheme == "http" and not _loopback(parts.hostname) else ""
            warnings.append(
                f"{source}: regions.{name}.upstream: has credentials in it (user:password@): they go to the "
                f"upstream as HTTP Basic authentication{clear} and stay in the URL wherever it is copied; "
                f"prefer regions.{name}.api_key_env (a bearer key from the environment)"
            )
        if not region.countries and gw.on_missing_country != name:
            warnings.append(
                f"{source}: regions.{name}.countries: is empty and gateway.on_missing_country is "
                f"{gw.on_missing_country!r}: region {name!r} never serves a request (a region serves the "
                "countries it lists, and requests without a trusted country only when on_missing_country "
                "names it)"
            )
    first: dict[str, str] = {}
    for name, region in regions.items():
        for index, country in enumerate(region.countries):
            winner = first.setdefault(country, name)
            if winner != name:
                warnings.append(
                    f"{source}: regions.{name}.countries.{index}: {country!r} is listed by region {winner!r} "
                    f"too, which comes first in {source}: visitors from {country} are served by {winner!r}, "
                    f"and by {name!r} only with a key that may not use {winner!r} (clients.regions) or a model "
                    f"{winner!r} does not serve (regions.{winner}.models)"
                )
    for sink in settings.audit.sinks:
        if sink not in regions:
            warnings.append(
                f"{source}: audit.sinks.{sink}: there is no region {sink!r} (regions.*): nothing is written "
                "to this sink; remove it, or correct the region's name"
            )
    if gw.signals_url:
        parts = urlsplit(gw.signals_url)
        if parts.scheme.lower() == "http" and not _loopback(parts.hostname):
            warnings.append(
                f"{source}: gateway.signals_url: '{display_url(gw.signals_url)}' is plain http to another "
                "host: the bearer token (gateway.signals_token_env) and every signal travel in clear text; "
                "use https://"
            )
    if gw.anomalies.alpha != type(gw.anomalies).model_fields["alpha"].default:  # set to something: it was meant
        warnings.append(
            f"{source}: gateway.anomalies.alpha: is no longer used: each minute is judged against the median and "
            "MAD of its window (window_minutes), not an average of past medians (see docs/gateway.md, Volume "
            "anomalies); remove it"
        )
    seen: dict[str, int] = {}
    for index, canary in enumerate(settings.sanitize.canaries):
        earlier = seen.setdefault(canary, index)
        if earlier != index:
            warnings.append(
                f"{source}: sanitize.canaries.{index}: is the same token as sanitize.canaries.{earlier}: a copy "
                "adds nothing (the token is not shown)"
            )
    return warnings


def _loopback(host: str | None) -> bool:
    """Whether `host` is this machine (a name other than localhost may resolve anywhere)."""
    if host is None:
        return False
    if host.lower() == "localhost" or host.lower().endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def corpus_warnings(settings: Settings) -> list[str]:
    """`[sanitize] protected_corpus` files that hold no text: nothing in them can ever be recognised, which
    is likely a file truncated by a deployment step rather than meant (read as the sanitizer reads them,
    relative to leakline.toml; an unreadable one is the sanitizer's error, not a warning)."""
    source = settings.source or "leakline.toml"
    warnings: list[str] = []
    for index, name in enumerate(settings.sanitize.protected_corpus):
        path = _base(settings) / name
        try:
            empty = not path.read_bytes().strip()
        except OSError:
            continue
        if empty:
            warnings.append(
                f"{source}: sanitize.protected_corpus.{index}: {name!r} is empty: no text of it can be "
                "recognised, so nothing is protected by it"
            )
    return warnings


def _served(regions: Mapping[str, RegionSettings], names: list[str], model: str) -> bool:
    """Whether one of the regions `names` may serve `model` (a region without `models` serves any)."""
    return any(not regions[name].models or model in regions[name].models for name in names)


def _check_incident_api_audit(settings: Settings, source: str) -> None:
    """The incident API (always served) records each signal in the audit sink without a region, opened on
    its first request: a key it would refuse is refused now, as the event thread's sinks are, instead of
    a 500 on every `POST /api/v1/signals`. Without `[audit]` that is the default sink, whose key file is
    generated under the working directory if missing (as the first signal would)."""
    from leakline.audit.sinks import default_audit_log
    from leakline.guard.events import open_audit_sinks

    try:
        audit = default_audit_log(settings)
    except LeaklineError as exc:
        raise _in_file(source, exc) from exc
    try:
        open_audit_sinks(audit, [], source=source, configured="audit" in settings.model_fields_set)
    finally:
        audit.close()


def in_process_signals(settings: Settings) -> bool:
    """Whether this process's event thread hands signals to its own incident engine (and its database)."""
    return bool(settings.regions) and not settings.gateway.signals_url


def _check_incident_engine(settings: Settings, source: str) -> None:
    """Signals go to the incident engine in-process, which is started on the first one: what it would refuse
    in the settings (a database URL it cannot use, incident settings that contradict each other) is
    refused now, and the database is connected to (within a few seconds), instead of every signal failing
    while requests are served. The error shows the URL with its password masked."""
    from sqlalchemy.engine import make_url

    from leakline.guard.readiness import database_unreachable
    from leakline.incidents.runtime import validate
    from leakline.store.engine import resolve_url

    try:
        validate(settings)
        url = resolve_url(settings.database.url, base=_base(settings))
    except LeaklineError as exc:
        raise _in_file(source, exc) from exc
    why = database_unreachable(url)
    if why is not None:
        raise GatewayConfigError(
            f"{source}: database.url: cannot connect to {make_url(url).render_as_string(hide_password=True)} ({why})",
            hint="start the database or correct [database] url: the incident engine of this process records "
            "the signals and incidents there",
        )


def _in_file(source: str, exc: LeaklineError) -> GatewayConfigError:
    message = exc.message if exc.message.startswith(f"{source}: ") else f"{source}: {exc.message}"
    return GatewayConfigError(message, hint=exc.hint)


def _check_upstream_keys(settings: Settings, source: str) -> None:
    """A region's `api_key_env` must hold a key: an empty bearer would make every request fail upstream
    with a 401 that the client would read as its own key being wrong. Nor may the upstream URL carry
    credentials as well: aiohttp refuses a request with both an `Authorization` header and a `user:password@`
    URL (a ValueError before anything is sent), so every request would fail."""
    for name, region in settings.regions.items():
        parts = urlsplit(region.upstream)
        if region.api_key_env is not None and (parts.username is not None or parts.password is not None):
            raise GatewayConfigError(
                f"{source}: regions.{name}.upstream: has credentials in it (user:password@) while "
                f"regions.{name}.api_key_env is set: the gateway cannot send both, so every request to "
                f"region {name!r} would fail (the credentials are not shown)",
                hint=f"keep one: remove the credentials from the URL ('{display_url(region.upstream)}') and let "
                f"api_key_env hold the upstream's bearer key, or remove regions.{name}.api_key_env",
            )
        if region.api_key_env is not None and not os.environ.get(region.api_key_env):
            raise GatewayConfigError(
                f"{source}: regions.{name}.api_key_env: environment variable {region.api_key_env!r} is unset or empty"
            )


def router(settings: Settings) -> APIRouter:
    """The `/v1` routes, with the extras `leakline.web.app` looks for on a domain's router: `collectors`
    (Prometheus series for `/metrics`), `readiness_checks` (named async checks for `/readyz`) and
    `asgi_endpoints` (the routes again, served before FastAPI's middleware and routing)."""
    from fastapi import APIRouter
    from starlette.routing import Route as StarletteRoute

    from leakline.guard.pipeline import Gateway, Route
    from leakline.guard.readiness import AuditReadiness, DatabaseReadiness, ReadinessCheck, UpstreamReadiness

    gateway = Gateway(settings)
    api = APIRouter()
    api.collectors = gateway.metrics.collectors()  # type: ignore[attr-defined]
    checks: dict[str, ReadinessCheck] = {"upstreams": UpstreamReadiness(gateway).check}
    if in_process_signals(settings):
        from leakline.store.engine import resolve_url

        gw = settings.gateway
        url = resolve_url(settings.database.url, base=_base(settings))
        checks["database"] = DatabaseReadiness(
            url, timeout=gw.readiness_timeout_seconds, ttl=gw.readiness_cache_seconds
        ).check
    checks["audit"] = AuditReadiness(gateway).check
    api.readiness_checks = checks  # type: ignore[attr-defined]
    endpoints = []
    for path, kind, upstream_path, method in ROUTES:
        endpoint = Route(gateway, kind, upstream_path, path.replace(":path}", "}"))
        if "{" not in path:  # the direct table matches exact paths; a template goes through the router
            endpoints.append((path, (method,), endpoint))
        api.routes.append(StarletteRoute(path, endpoint, methods=[method], include_in_schema=False))
    # Last: any other path under /v1, and the served paths with another method.
    api.routes.append(StarletteRoute("/v1/{rest:path}", NotServed(), include_in_schema=False))
    api.asgi_endpoints = endpoints  # type: ignore[attr-defined]
    api.add_event_handler("startup", gateway.startup)
    api.add_event_handler("shutdown", gateway.aclose)
    return api


class NotServed:
    """`/v1/...` requests the gateway has no route for, answered in OpenAI's error shape (404 `unknown_url`,
    405 `method_not_allowed` with `allow`) instead of the framework's `{"detail": ...}`: an OpenAI client
    shows the message, which says what the gateway serves (e.g. to an SDK that calls `/v1/responses`)."""

    def __init__(self) -> None:
        self.methods = {path: method for path, _, _, method in ROUTES}
        served = [f"{method} {path.replace(':path}', '}')}" for path, _, _, method in ROUTES]
        self.served = f"{', '.join(served[:-1])} and {served[-1]}"

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from leakline.guard.errors import GatewayError, MethodNotAllowed, NotFound
        from leakline.guard.pipeline import send_error

        path, method = str(scope["path"])[:200], str(scope["method"])[:20]
        expected = self.methods.get(path)
        error: GatewayError
        if expected is None:
            error = NotFound(f"the gateway has no endpoint {method} {path}; it serves {self.served}")
            await send_error(send, error)
        else:
            error = MethodNotAllowed(f"{method} is not allowed on {path}; use {expected}")
            await send_error(send, error, headers=(("allow", expected),))
