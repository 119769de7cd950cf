"""The `gateway_keys` table (migration 0006) and its Read schema: a key's digest, never the key."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Integer, String
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

    @classmethod
    def of(cls, row: GatewayKey) -> GatewayKeyRead:
        return cls(
            label=row.label,
            client=row.client,
            digest_prefix=row.key_sha256[:12],
            created_at=row.created_at,
            created_by=row.created_by,
            revoked_at=row.revoked_at,
        )


class ActiveKey(BaseModel):
    """One key a gateway accepts: which client, the label its audit records carry, the digest."""

    model_config = ConfigDict(frozen=True)

    client: str
    label: str
    key_sha256: str
