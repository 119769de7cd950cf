"""Incident tables (incidents, facts versions, signals, timeline) and their Read schemas."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict
from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from leakline.store.engine import Base
from leakline.store.types import UTCDateTime


class Status(StrEnum):
    DETECTED = "detected"
    TRIAGED = "triaged"
    CONTAINED = "contained"
    NOTIFYING = "notifying"
    CLOSED = "closed"

    @property
    def rank(self) -> int:
        return LIFECYCLE.index(self)


LIFECYCLE = (Status.DETECTED, Status.TRIAGED, Status.CONTAINED, Status.NOTIFYING, Status.CLOSED)


class Incident(Base):
    __tablename__ = "incidents"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    title: Mapped[str] = mapped_column(String(300))
    status: Mapped[str] = mapped_column(String(20), index=True)
    severity: Mapped[str] = mapped_column(String(20))
    risk: Mapped[str | None] = mapped_column(String(20))
    fingerprint: Mapped[str | None] = mapped_column(String(200))
    surface: Mapped[str | None] = mapped_column(String(40))
    region: Mapped[str | None] = mapped_column(String(40))
    categories: Mapped[list[str]] = mapped_column(JSON, default=list)
    signal_count: Mapped[int] = mapped_column(Integer, default=0)
    facts_version: Mapped[int] = mapped_column(Integer, default=0)
    assessment: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
    last_signal_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())

    __table_args__ = (Index("ix_incidents_fingerprint_status", "fingerprint", "status"),)


class FactsVersion(Base):
    __tablename__ = "incident_facts"

    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    facts: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(300))
    at: Mapped[datetime] = mapped_column(UTCDateTime())


class SignalRecord(Base):
    __tablename__ = "signals"

    id: Mapped[str] = mapped_column(String(128), primary_key=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(40))
    source: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(20))
    surface: Mapped[str | None] = mapped_column(String(40))
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    summary: Mapped[str] = mapped_column(Text)
    data: Mapped[dict[str, Any]] = mapped_column(JSON)


class TimelineEntry(Base):
    __tablename__ = "timeline"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    incident_id: Mapped[str] = mapped_column(ForeignKey("incidents.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(60))
    detail: Mapped[str] = mapped_column(Text)


class _Read(BaseModel):
    model_config = ConfigDict(from_attributes=True, frozen=True)


class TimelineRead(_Read):
    at: datetime
    actor: str
    event: str
    detail: str


class IncidentSummary(_Read):
    id: str
    title: str
    status: str
    severity: str
    risk: str | None
    signal_count: int
    opened_at: datetime
    updated_at: datetime


class SignalAccepted(BaseModel):
    model_config = ConfigDict(frozen=True)

    signal_id: str
    incident_id: str
    duplicate: bool
    """True when this signal id was already received (nothing changed)."""
    new_incident: bool
