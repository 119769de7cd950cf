"""The gateway's part of `GET /readyz`: can this replica serve, and which of its regions can?

Each region's upstream gets `GET {upstream}/models` (with the region's upstream key, if any) on the
gateway's pooled session, all regions at once, each bounded by `gateway.readiness_timeout_seconds`.
The result is kept for `gateway.readiness_cache_seconds`, and probes arriving while a check runs wait
for it, so that load balancers polling every replica every second do not multiply upstream calls.
With `gateway.readiness = "any"` (the default) the replica is ready while at least one region's upstream
answers: the regions' upstreams are usually shared by every replica, so a 503 for one region's outage
would make the load balancer pull every replica and cut off the visitors of the regions that work. With
"all", every region must answer. The body always lists each region's state, the
`leakline_gateway_upstream_ready{region}` gauge follows it, and each change of a region's state is
logged once (WARNING when it fails, with the upstream's address; INFO when it answers again): with
several workers (`leakline serve --workers N`), each probes for itself, and the file `LEAKLINE_READINESS_STATE`
names (set by `serve`) keeps the state last logged on this host, so that the worker that sees a change
first logs it and the others do not (`SharedStates`).

Reasons name the region and what went wrong (unreachable, timed out, an HTTP status, not a model
list), never the upstream's URL, its key or its body: `/readyz` is served without authentication.
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from leakline.guard.errors import display_url, os_reason

if TYPE_CHECKING:
    from leakline.guard.pipeline import Gateway

ReadinessCheck = Callable[[], Awaitable[tuple[bool, dict[str, Any]]]]
OK = "ok"
FAILING = "failing"
log = logging.getLogger("leakline.guard")


STATE_ENV = "LEAKLINE_READINESS_STATE"
"""A file shared by the workers of one `leakline serve`: the readiness state each check last logged."""


class SharedStates:
    """Which state of a readiness check was last logged on this host, so that N workers log a change once.

    Without a file (one worker) every change this process sees is logged. With one, a worker that sees a
    change logs it only if the file does not already hold the new state (another worker logged it), under
    an exclusive lock; a file that cannot be used means logging anyway: a line twice beats none."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path if path is not None else (os.environ.get(STATE_ENV) or None)

    def first_to_log(self, key: str, failing: bool) -> bool:
        """Whether this worker logs `key` turning `failing` (or answering again); records that it did."""
        if self.path is None:
            return True
        try:
            with open(self.path, "a+", encoding="utf-8") as handle:
                # A POSIX record lock, not flock: each worker holds a shared flock on this file for as long as
                # it lives (`leakline.web.lifecycle.hold_owned`), which an exclusive flock would wait on forever.
                # On Linux the two kinds of lock do not interact.
                fcntl.lockf(handle, fcntl.LOCK_EX)
                handle.seek(0)
                text = handle.read()
                states = json.loads(text) if text else {}
                if not isinstance(states, dict):
                    states = {}
                if states.get(key, False) == failing:
                    return False
                states[key] = failing
                handle.seek(0)
                handle.truncate()
                handle.write(json.dumps(states))
                return True
        except (OSError, ValueError):
            return True


class UpstreamReadiness:
    def __init__(
        self, gateway: Gateway, *, clock: Callable[[], float] = time.monotonic, shared: SharedStates | None = None
    ) -> None:
        self.gateway = gateway
        self._shared = shared or SharedStates()
        self.ttl = gateway.gw.readiness_cache_seconds
        self.timeout = gateway.gw.readiness_timeout_seconds
        self.need_all = gateway.gw.readiness == "all"
        self._clock = clock
        self._lock: asyncio.Lock | None = None
        self._result: tuple[bool, dict[str, Any]] | None = None
        self._at = 0.0
        self._failing: dict[str, bool] = {}
        """Each region's state at the last check, to log changes only."""

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(ready: any or, with readiness = "all", every upstream answers;
        {region: {"status": "ok"} or {"status": "failing", "error": why}})."""
        if not self.gateway.regions:
            return True, {}
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._result is None or self._clock() - self._at >= self.ttl:
                names = list(self.gateway.regions)
                reasons = await asyncio.gather(*(self._probe(name) for name in names))
                regions = {
                    name: {"status": OK} if why is None else {"status": FAILING, "error": why}
                    for name, why in zip(names, reasons, strict=True)
                }
                answering = [why is None for why in reasons]
                ready = all(answering) if self.need_all else any(answering)
                self._record(dict(zip(names, reasons, strict=True)), ready)
                self._result = (ready, regions)
                self._at = self._clock()
            return self._result

    def _record(self, reasons: dict[str, str | None], ready: bool) -> None:
        """Set the gauges; log the regions whose state changed since the last check."""
        if ready:
            replica = "the replica stays ready while another region can serve"
        elif self.need_all:
            replica = 'the replica is not ready (gateway.readiness = "all")'
        else:
            replica = "no region can serve: the replica is not ready"
        for name, why in reasons.items():
            self.gateway.metrics.ready(name, why is None)
            was_failing = self._failing.get(name, False)
            self._failing[name] = why is not None
            if was_failing == (why is not None) or not self._shared.first_to_log(f"region:{name}", why is not None):
                continue
            if why is not None:
                address = display_url(self.gateway.regions[name].upstream)
                log.warning("readiness: region %r cannot serve: %s (%s); %s", name, why, address, replica)
            else:
                log.info("readiness: region %r can serve again", name)

    async def _probe(self, region: str) -> str | None:
        """None when the region's upstream lists its models; else why not."""
        import aiohttp

        gw = self.gateway
        url = gw.regions[region].upstream + "/models"
        headers = gw.upstream_headers_for(region)
        try:
            async with asyncio.timeout(self.timeout):
                async with gw.probe_session().get(url, headers=headers) as answer:
                    if answer.status != 200:
                        return f"the upstream answered HTTP {answer.status} to GET /models"
                    data = await answer.json(content_type=None)
        except TimeoutError:
            return f"the upstream did not answer GET /models within {self.timeout:g} s"
        except aiohttp.ClientConnectorError as exc:
            return f"the upstream is unreachable ({os_reason(exc)})"
        except (aiohttp.ClientError, OSError) as exc:
            return f"the upstream is unreachable ({type(exc).__name__})"
        except ValueError:
            return "the upstream answered GET /models with something that is not JSON"
        if not isinstance(data, dict) or not isinstance(data.get("data"), list):
            return "the upstream answered GET /models without a model list"
        return None


class AuditReadiness:
    """`/readyz`'s `audit`: while an audit sink of this worker cannot be written (a full disk), exchanges are
    served without their records, and the replica is not ready, so that a load balancer sends the traffic to
    replicas that can audit it. Nothing is probed: the event thread knows from its own writes, and tries a
    failing sink again every `events.AUDIT_RETRY_SECONDS` even without traffic. The body names the sink by its
    region ("none": `[audit] path`) and the OS error, never its path; it lists failing sinks only."""

    def __init__(self, gateway: Gateway) -> None:
        self.gateway = gateway

    async def check(self) -> tuple[bool, dict[str, Any]]:
        if not self.gateway.regions:
            return True, {}
        outages = self.gateway.events.audit_outages()
        if not outages:
            return True, {}
        named = {"none" if region is None else region: why for region, why in outages.items()}
        return False, {name: {"status": FAILING, "error": named[name]} for name in sorted(named)}


DATABASE_CONNECT_TIMEOUT_SECONDS = 3
"""How long `leakline serve`'s start-up waits for the database (libpq counts whole seconds, at least 2)."""


def database_unreachable(url: str, *, timeout: float = DATABASE_CONNECT_TIMEOUT_SECONDS) -> str | None:
    """None when a connection to `url` opens within `timeout`; else why not, in a few words that quote
    neither the URL nor its credentials (the driver's own text names host and port, which we drop)."""
    import math

    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import SQLAlchemyError
    from sqlalchemy.pool import NullPool

    parsed = make_url(url)
    args = {"connect_timeout": max(2, math.ceil(timeout))} if parsed.get_backend_name() == "postgresql" else {}
    engine = create_engine(url, poolclass=NullPool, connect_args=args)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        first = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        # libpq: 'connection failed: connection to server at "h", port p failed: Connection refused'
        reason = first.rsplit("failed: ", 1)[-1].strip()[:160] or type(cause).__name__
        if parsed.password:
            reason = reason.replace(parsed.password, "***")
        return reason
    finally:
        engine.dispose()
    return None


class DatabaseReadiness:
    """`/readyz`'s `database`: the incident engine that takes this replica's signals in-process needs
    `[database]`; while it cannot be reached every signal would fail, so the replica is not ready.
    Checked like the upstreams: bounded by `readiness_timeout_seconds`, reused for `readiness_cache_seconds`,
    one log line per change (with the URL, its password masked); the body names the database's kind only."""

    def __init__(
        self,
        url: str,
        *,
        timeout: float,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        shared: SharedStates | None = None,
    ) -> None:
        from sqlalchemy.engine import make_url

        self._shared = shared or SharedStates()

        self.url = url
        self.shown = make_url(url).render_as_string(hide_password=True)
        self.kind = make_url(url).get_backend_name()
        self.timeout = timeout
        self.ttl = ttl
        self._clock = clock
        self._lock: asyncio.Lock | None = None
        self._result: tuple[bool, dict[str, Any]] | None = None
        self._at = 0.0
        self._failing = False

    async def check(self) -> tuple[bool, dict[str, Any]]:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._result is None or self._clock() - self._at >= self.ttl:
                why = await self._probe()
                self._record(why)
                self._result = (why is None, {"status": OK} if why is None else {"status": FAILING, "error": why})
                self._at = self._clock()
            return self._result

    async def _probe(self) -> str | None:
        what = f"the incident engine's database ({self.kind})"
        try:
            async with asyncio.timeout(self.timeout + 0.5):
                why = await asyncio.to_thread(database_unreachable, self.url, timeout=self.timeout)
        except TimeoutError:
            return f"{what} did not answer within {self.timeout:g} s"
        return None if why is None else f"{what} is unreachable ({why})"

    def _record(self, why: str | None) -> None:
        was_failing, self._failing = self._failing, why is not None
        if was_failing == self._failing or not self._shared.first_to_log("database", self._failing):
            return
        if why is not None:
            log.warning("readiness: %s (%s); the replica is not ready", why, self.shown)
        else:
            log.info("readiness: the incident engine's database answers again")
