"""Fixtures of the gateway tests: two scripted upstreams (eu, us) and leakline serving in front of them."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from leakline.config import Settings
from leakline.guard.upstream import UpstreamThread
from tests.guard.helpers import Served, serve, write_settings


def real_sanitizer_available() -> bool:
    try:
        from leakline.guard.sanitize import Policy, Sanitizer  # noqa: F401
    except ImportError:
        return False
    return "sanitize" in Settings.model_fields


# --- a stand-in for leakline.guard.sanitize, used only while that package has not landed -------------

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class _Hit:
    detector: str
    action: str
    start: int
    end: int
    redacted_preview: str


@dataclass(frozen=True)
class _Result:
    text: str
    hits: list[_Hit]
    blocked: bool
    scanned_bytes: int
    detector_versions: dict[str, str] = field(default_factory=lambda: {"email": "stand-in"})


class StandInSanitizer:
    """Redacts emails, blocks PEM private keys; its stream holds everything back until finish."""

    def sanitize(self, text: str) -> _Result:
        hits = [_Hit("email", "redact", m.start(), m.end(), "…") for m in _EMAIL.finditer(text)]
        blocked = "PRIVATE KEY-----" in text
        if blocked:
            hits.append(_Hit("secret", "block", text.index("-----BEGIN"), len(text), "…"))
        return _Result(_EMAIL.sub("[REDACTED:EMAIL]", text), hits, blocked, len(text.encode()))

    def stream(self) -> StandInStream:
        return StandInStream(self)


class StandInStream:
    def __init__(self, owner: StandInSanitizer) -> None:
        self.owner = owner
        self.buffer = ""
        self.hits: list[_Hit] = []
        self.blocked = False

    def feed(self, delta: str) -> str:
        self.buffer += delta
        if "PRIVATE KEY-----" in self.buffer:
            self.blocked = True
            self.hits = self.owner.sanitize(self.buffer).hits
        return ""

    def finish(self) -> str:
        result = self.owner.sanitize(self.buffer)
        self.hits, self.blocked = result.hits, result.blocked
        return "" if result.blocked else result.text


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
        self.gateway.events.drain()


@pytest.fixture
def use_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    if not real_sanitizer_available():
        from leakline.guard import pipeline

        monkeypatch.setattr(pipeline, "load_sanitizer", lambda settings: StandInSanitizer())


@pytest.fixture
def make_env(tmp_path: Path, use_stand_in: None) -> Iterator[Any]:
    started: list[Any] = []

    def build(**gateway: Any) -> Env:
        from leakline.web.app import create_app

        eu = UpstreamThread().start()
        us = UpstreamThread().start()
        started.extend([eu, us])
        settings = write_settings(tmp_path, eu.upstream_url, us.upstream_url, **gateway)
        served = serve(create_app(settings))
        started.append(served)
        return Env(served, eu, us, settings, tmp_path)

    yield build
    for item in reversed(started):
        item.stop()


@pytest.fixture
def env(make_env: Any) -> Env:
    result: Env = make_env()
    return result
