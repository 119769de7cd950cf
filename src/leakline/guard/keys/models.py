"""The `gateway_keys` table (migrations 0006, 0007) and its Read schema: a key's digest, never the key.

`models` and `regions` narrow what one key may use within its client's allowance: a JSON list of names, `[]`
for "what the client may" (JSON text rather than an array type: the same column on SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leakline.store.engine import Base
from leakline.store.types import UTCDateTime


class GatewayKey(Base):
    __tablename__ = "gateway_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    client: Mapped[str] = mapped_column(String(100), index=True)
    label: Mapped[str] = mapped_column(String(100), unique=True)
    key_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    created_by: Mapped[str] = mapped_column(String(100))
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    models: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")
    regions: Mapped[str] = mapped_column(Text, default="[]", server_default="[]")


def names_of(column: str) -> tuple[str, ...] | None:
    """A `models` / `regions` value read back: None when it is not a JSON list of non-empty names (written by
    hand): such a key is not accepted (its scope is unknown, and an empty one would mean "anything")."""
    try:
        value = json.loads(column)
    except Exception:  # ValueError, TypeError, and RecursionError for '[[[[...' thousands deep: refuse the key
        return None
    if not isinstance(value, list) or not all(isinstance(v, str) and _printable(v) for v in value):
        return None
    return tuple(value)


def _printable(name: str) -> bool:
    """A name a log line, a table and an audit record can show: printable, no lone surrogate."""
    if not name or not name.isprintable():
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def names_column(names: tuple[str, ...]) -> str:
    return json.dumps(list(names))


class GatewayKeyRead(BaseModel):
    """What `leakline gateway-keys list` shows: the digest's first 12 hex digits only (enough to match a
    key an operator holds with `sha256sum`, too few to look anything up)."""

    model_config = ConfigDict(from_attributes=True, frozen=True)

    label: str
    client: str
    digest_prefix: str
    created_at: datetime
    created_by: str
    revoked_at: datetime | None
    models: list[str] | None
    """What this key may use within its client's limits (empty: what the client may; None: the column was
    written by hand and cannot be read, and the gateway refuses the key)."""
    regions: list[str] | None

    @classmethod
    def of(cls, row: GatewayKey) -> GatewayKeyRead:
        return cls(
            label=row.label,
            client=row.client,
            digest_prefix=row.key_sha256[:12],
            created_at=row.created_at,
            created_by=row.created_by,
            revoked_at=row.revoked_at,
            models=_listed(row.models),
            regions=_listed(row.regions),
        )


class ActiveKey(BaseModel):
    """One key a gateway accepts: which client, the label its audit records carry, the digest."""

    model_config = ConfigDict(frozen=True)

    client: str
    label: str
    key_sha256: str
    models: tuple[str, ...] | None = ()
    """Narrower than the client's (empty: the client's); None when the column could not be read (refused)."""
    regions: tuple[str, ...] | None = ()


def _listed(column: str) -> list[str] | None:
    names = names_of(column)
    return None if names is None else list(names)
