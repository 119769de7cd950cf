"""The `[incidents]` and `[api]` sections of leakline.toml."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class IncidentsSettings(_Section):
    dedupe_minutes: int = Field(default=60, ge=0)
    """Signals with one fingerprint within this window attach to the same open incident."""


Sha256Hex = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]


class ApiSettings(_Section):
    tokens_sha256: list[Sha256Hex] = Field(default_factory=list)
    """SHA-256 (hex) of each bearer token accepted by `POST /api/v1/signals` and the read endpoints."""
    token_env: str | None = None
    """Name of an environment variable holding one more accepted token (in clear, for containers)."""
