"""Communication tables (messages, the outbox, once-only marks for reminders) and their Read schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict
from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leakline.store.engine import Base
from leakline.store.types import UTCDateTime


class CommState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    ACKED = "acked"


class OutboxState(StrEnum):
    PENDING = "pending"
    LEASED = "leased"
    SENT = "sent"
    DEAD = "dead"


class Communication(Base):
    __tablename__ = "communications"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40))
    regime: Mapped[str | None] = mapped_column(String(40))
    jurisdiction: Mapped[str | None] = mapped_column(String(10))
    obligation_key: Mapped[str | None] = mapped_column(String(300))
    recipient: Mapped[str] = mapped_column(String(200))
    """A contact's name, or the obligation's recipient kind ("supervisory-authority") for external ones."""
    role: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(80))
    to: Mapped[str] = mapped_column(String(300))
    language: Mapped[str] = mapped_column(String(5))
    state: Mapped[str] = mapped_column(String(20), index=True)
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    needs_approval: Mapped[bool] = mapped_column(Boolean)
    withdrawn: Mapped[bool] = mapped_column(Boolean, default=False)
    """The obligation it answers no longer arises after the facts changed (kept, never sent)."""
    template_fallback: Mapped[str | None] = mapped_column(Text)
    """Why the built-in template drafted it: `<file>:<line>: <error>` of the `[notify] templates` override
    that failed (no personal data); None when the configured template rendered."""
    is_alert: Mapped[bool] = mapped_column(Boolean, default=False)
    """A delivery-failure alert: its own failure raises no further alert."""
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    rendered_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    """The `now` its subject and body were rendered with (None before migration 0004: then `created_at`)."""
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    delivery: Mapped[str | None] = mapped_column(Text)
    """How a message delivered by hand went out ("by hand via ICO portal (reference …), recorded by Dana");
    None for a channel delivery."""
    acked_by: Mapped[str | None] = mapped_column(String(200))
    acked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    ack_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_communications_ack", "state", "ack_due_at"),)


class OutboxMessage(Base):
    __tablename__ = "outbox"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    communication_id: Mapped[str] = mapped_column(ForeignKey("communications.id"), index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(20))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime())
    lease_owner: Mapped[str | None] = mapped_column(String(100))
    lease_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_outbox_due", "state", "next_attempt_at"),)


class NotifyMark(Base):
    """A reminder or escalation that happened: the primary key makes it happen once across workers."""

    __tablename__ = "notify_marks"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class CommunicationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)

    id: str
    kind: str
    regime: str | None
    recipient: str
    jurisdiction: str | None
    language: str
    channel: str
    to: str
    state: str
    subject: str
    body: str
    approved_by: str | None
    approved_at: datetime | None
    sent_at: datetime | None
    delivery: str | None
    acked_by: str | None
    acked_at: datetime | None
    withdrawn: bool
    template_fallback: str | None
