"""Fixtures of the gateway tests: two scripted upstreams (eu, us) and leakline serving in front of them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leakline.config import Settings
from leakline.guard.upstream import UpstreamThread
from tests.guard.helpers import Served, serve, write_settings


@dataclass
class Env:
    served: Served
    eu: UpstreamThread
    us: UpstreamThread
    settings: Settings
    tmp: Path

    @property
    def url(self) -> str:
        return self.served.url

    @property
    def gateway(self) -> Any:
        from leakline.guard.pipeline import Route

        pending = list(self.served.app.routes)
        while pending:
            route = pending.pop()
            pending.extend(getattr(getattr(route, "original_router", None), "routes", []))
            endpoint = getattr(route, "endpoint", None)
            if isinstance(endpoint, Route):
                return endpoint.gateway
        raise LookupError("gateway route not mounted")

    def drain(self) -> None:
        # Generous: on a loaded CI machine the first exchange's audit and signal work can take seconds.
        self.gateway.events.drain(timeout=60.0)


def _build(tmp: Path, started: list[Any], **gateway: Any) -> Env:
    from leakline.web.app import create_app

    eu = UpstreamThread().start()
    us = UpstreamThread().start()
    started.extend([eu, us])
    settings = write_settings(tmp, eu.upstream_url, us.upstream_url, **gateway)
    served = serve(create_app(settings))
    started.append(served)
    return Env(served, eu, us, settings, tmp)


@pytest.fixture
def make_env(tmp_path: Path) -> Iterator[Any]:
    """A fresh gateway (own upstreams, audit logs, database), optionally with `[gateway]` overrides."""
    started: list[Any] = []
    yield lambda **gateway: _build(tmp_path, started, **gateway)
    for item in reversed(started):
        item.stop()


@pytest.fixture(scope="module")
def _module_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    started: list[Any] = []
    yield _build(tmp_path_factory.mktemp("gateway"), started)
    for item in reversed(started):
        item.stop()


@pytest.fixture
def env(_module_env: Env) -> Env:
    """One gateway per test module (starting one costs more than most tests); upstreams reset per test.

    Tests that look at audit records or signals, stop an upstream or change settings use `make_env`.
    """
    for upstream in (_module_env.eu, _module_env.us):
        upstream.upstream.requests.clear()
        upstream.upstream.mode = "ok"
    return _module_env


@pytest.fixture
def fresh_env(make_env: Any) -> Env:
    built: Env = make_env()
    return built


@pytest.fixture(scope="module", params=["pure", "compiled"])
def stream_impl(request: pytest.FixtureRequest) -> Iterator[Any]:
    """Runs a module's tests once with the pure-Python `StreamSanitizer` and once with its compiled twin
    (setup.py): `Sanitizer.stream()` returns the chosen one, and the fixture's `.cls` is it. The compiled run
    is skipped only where the twin is missing or stale; `test_stream_native.py` fails then if a C compiler is
    there to build it."""
    from leakline.guard.sanitize import native

    with pytest.MonkeyPatch.context() as patch:
        if request.param == "pure":
            patch.setenv(native.PURE_ENV, "1")
        else:
            patch.delenv(native.PURE_ENV, raising=False)
        native.stream_implementation.cache_clear()
        chosen = native.stream_implementation()
        if request.param == "compiled" and not chosen.compiled:
            native.stream_implementation.cache_clear()
            pytest.skip(f"no compiled stream sanitizer: {chosen.reason}")
        yield chosen
    native.stream_implementation.cache_clear()
