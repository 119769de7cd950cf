"""Signal intake shared by `leakline signal` and `POST /api/v1/signals`: parse, then record idempotently."""

from __future__ import annotations

import json
from datetime import datetime

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from leakline.incidents import service
from leakline.incidents.errors import SignalFileError
from leakline.incidents.models import SignalAccepted
from leakline.incidents.runtime import Runtime
from leakline.obligations.facts import format_errors
from leakline.signals import Signal


def parse_signal(raw: bytes, *, source: str) -> Signal:
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SignalFileError(f"{source}: not valid UTF-8 at byte offset {exc.start}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        offset = len(text[: exc.pos].encode("utf-8"))
        raise SignalFileError(f"{source}: invalid JSON at byte offset {offset}: {exc.msg}") from None
    try:
        return Signal.model_validate(data)
    except ValidationError as exc:
        raise SignalFileError(format_errors(source, exc)) from None


def _record(rt: Runtime, signal: Signal, now: datetime) -> SignalAccepted:
    with rt.store.transaction() as session:
        accepted = service.ingest_signal(session, rt.settings, recorder=rt.recorder, signal=signal, now=now)
    rt.recorder.flush()
    return accepted


def receive(rt: Runtime, signal: Signal, *, now: datetime) -> SignalAccepted:
    """Record `signal` once; a concurrent delivery of the same id that lost the insert race sees it stored."""
    try:
        return _record(rt, signal, now)
    except IntegrityError:
        return _record(rt, signal, now)
