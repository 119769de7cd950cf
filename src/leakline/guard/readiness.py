"""The gateway's part of `GET /readyz`: does every region's upstream answer?

Each region's upstream gets `GET {upstream}/models` (with the region's upstream key, if any) on the
gateway's pooled session, all regions at once, each bounded by `gateway.readiness_timeout_seconds`.
The result is kept for `gateway.readiness_cache_seconds`, and probes arriving while a check runs wait
for it, so that load balancers polling every replica every second do not multiply upstream calls.

Reasons name the region and what went wrong (unreachable, timed out, an HTTP status, not a model
list), never the upstream's URL, its key or its body: `/readyz` is served without authentication.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from leakline.guard.errors import os_reason

if TYPE_CHECKING:
    from leakline.guard.pipeline import Gateway

OK = "ok"
FAILING = "failing"


class UpstreamReadiness:
    def __init__(self, gateway: Gateway, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.gateway = gateway
        self.ttl = gateway.gw.readiness_cache_seconds
        self.timeout = gateway.gw.readiness_timeout_seconds
        self._clock = clock
        self._lock: asyncio.Lock | None = None
        self._result: tuple[bool, dict[str, Any]] | None = None
        self._at = 0.0

    async def check(self) -> tuple[bool, dict[str, Any]]:
        """(every upstream answers, {region: {"status": "ok"} or {"status": "failing", "error": why}})."""
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
                self._result = (all(why is None for why in reasons), regions)
                self._at = self._clock()
            return self._result

    async def _probe(self, region: str) -> str | None:
        """None when the region's upstream lists its models; else why not."""
        import aiohttp

        gw = self.gateway
        url = gw.regions[region].upstream + "/models"
        headers = gw.upstream_headers_for(region)
        try:
            async with asyncio.timeout(self.timeout):
                async with gw.session().get(url, headers=headers) as answer:
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
