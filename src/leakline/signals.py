"""`Signal`: something that happened and may be a leak — the type every detector hands to incidents.

Made by the gateway (a leak caught in a response, a residency refusal, a volume anomaly), probes,
scans, the Next.js error reporter (over `POST /api/v1/signals`), drills and people (`leakline signal`).
Read by the incident engine, which dedupes by `fingerprint`, attaches signals to open incidents and
opens new ones. A signal never carries a secret or a person's data in clear: `summary` and `details`
are redacted by whoever makes the signal; full payloads go to the encrypted audit log only.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from leakline.findings import Severity
from leakline.obligations.facts import Category


class SignalKind(StrEnum):
    LEAK_CAUGHT = "leak-caught"
    """A detector matched personal data, a secret, a canary or protected text in model output."""
    RESIDENCY_VIOLATION = "residency-violation"
    VOLUME_ANOMALY = "volume-anomaly"
    CLIENT_ERROR = "client-error"
    """Reported by the Next.js error reporter from a browser or a server component."""
    SCAN_FINDING = "scan-finding"
    PROBE_FINDING = "probe-finding"
    DRILL = "drill"
    MANUAL = "manual"


class Surface(StrEnum):
    """Which owner team a signal concerns (routes owner-team alerts through `[owners]`)."""

    FRONTEND = "frontend"
    BACKEND = "backend"
    INFRASTRUCTURE = "infrastructure"


def _new_id() -> str:
    return f"sig_{uuid.uuid4().hex}"


def _now() -> datetime:
    return datetime.now(UTC)


CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Redacted = Annotated[str, StringConstraints(max_length=2000)]


class Signal(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: Annotated[str, StringConstraints(min_length=1, max_length=128)] = Field(default_factory=_new_id)
    """Idempotency key: the same id posted twice is one signal."""
    kind: SignalKind
    source: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    """Who saw it: "gateway:eu", "probe", "nextjs-error-reporter", "drill:canary-leak", a person's name."""
    at: AwareDatetime = Field(default_factory=_now)
    severity: Severity
    fingerprint: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    """Signals with the same fingerprint within the dedupe window are one occurrence."""
    surface: Surface | None = None
    region: str | None = None
    country: CountryCode | None = None
    data_categories: list[Category] = Field(default_factory=list)
    subjects_estimate: Annotated[int, Field(ge=0)] | None = None
    summary: Redacted
    details: dict[str, str | int | float | bool | None] = Field(default_factory=dict)

    def at_utc(self) -> datetime:
        return self.at.astimezone(UTC)
