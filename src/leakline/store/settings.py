"""The `[database]` section of leakline.toml: where incidents, communications and the outbox live."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

DEFAULT_DATABASE_URL = "sqlite:///leakline.db"


class DatabaseSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)

    url: str = DEFAULT_DATABASE_URL
    """SQLAlchemy URL: `sqlite:///path` (relative paths are relative to leakline.toml) or
    `postgresql+psycopg://user@host/db`."""
