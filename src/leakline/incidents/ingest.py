"""Signal intake shared by `leakline signal`, `POST /api/v1/signals` and the gateway's in-process sink:
parse, redact, then record idempotently.

Whoever makes a signal is meant to redact it, but anything that can post one (a browser's error reporter,
a script, a person) can put a customer's e-mail or a full card number in its summary; from there it would
reach the incident title, the timeline, every alert and the audit log. So every text of a signal passes
the gateway's detectors (all of them set to redact) before anything is stored or sent.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError

from leakline.incidents import service
from leakline.incidents.errors import IncidentError, SignalFileError
from leakline.incidents.models import SignalAccepted
from leakline.incidents.runtime import Runtime
from leakline.incidents.timeline import note
from leakline.obligations.facts import format_errors
from leakline.signals import Signal

if TYPE_CHECKING:
    from leakline.guard.sanitize import Sanitizer

# The stored columns' limits (signals.source/fingerprint are VARCHAR(200), ids 128): a redaction marker is
# longer than what it replaces, and PostgreSQL refuses a value that does not fit.
_LIMITS = {"id": 128, "source": 200, "fingerprint": 200, "summary": 2000, "region": 200}
_REDACTED_ID_PREFIX = "sig_redacted_"


class SignalRedactionFailed(IncidentError):
    """A detector failed on a signal's text: it cannot be told free of personal data, so it is not stored."""


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


@dataclass(frozen=True)
class Redacted:
    signal: Signal
    """The signal with every hit replaced by `[REDACTED:<DETECTOR>]`."""
    hits: dict[str, list[str]]
    """Field (dotted, as redacted) → the detectors that matched in it, in order; never the values."""

    @property
    def count(self) -> int:
        return sum(len(found) for found in self.hits.values())

    def describe(self) -> str:
        """`summary: email, payment_card; details.customer: email`: where and what, never the values."""
        parts = []
        for where, found in self.hits.items():
            kinds = Counter(found)
            parts.append(f"{where}: " + ", ".join(k if n == 1 else f"{k} x{n}" for k, n in kinds.items()))
        return "; ".join(parts)


@lru_cache(maxsize=1)
def _sanitizer() -> Sanitizer:
    return _canary_sanitizer(())


@lru_cache(maxsize=4)
def _canary_sanitizer(canaries: tuple[str, ...]) -> Sanitizer:
    from leakline.guard.sanitize import DETECTORS, Policy, Sanitizer

    # Every detector redacts (the gateway's default only alerts on IP addresses and blocks canaries): here
    # nothing is let through, and a canary is cut out like any other value rather than refusing the signal.
    return Sanitizer(Policy(canaries=canaries).with_actions(dict.fromkeys(DETECTORS, "redact")))


class _Scrubber:
    def __init__(self, canaries: tuple[str, ...] = ()) -> None:
        self.hits: dict[str, list[str]] = {}
        self._canaries = canaries

    def text(self, where: str, value: str) -> str:
        from leakline.guard.sanitize import SanitizerFailed

        try:
            result = (_canary_sanitizer(self._canaries) if self._canaries else _sanitizer()).sanitize(value)
        except SanitizerFailed as exc:
            # Fail closed: a text that could not be checked is not stored (and the error names no value).
            raise SignalRedactionFailed(
                f"signal field {where}: personal-data detector {exc.detector!r} failed; the signal was not "
                "recorded (it could not be checked for personal data)",
                hint="this is a bug in leakline; send the signal again once it is fixed",
            ) from None
        if result.hits:
            self.hits.setdefault(where, []).extend(hit.detector for hit in result.hits)
        return result.text

    def value(self, where: str, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(where, value)
        if isinstance(value, dict):
            out: dict[str, Any] = {}
            for key, item in value.items():
                # A key can carry data too ({"jane@example.com": "..."}); two keys redacted alike stay apart.
                name = self.text(f"{where}.(key)", str(key))
                unique, n = name, 2
                while unique in out:
                    unique, n = f"{name} ({n})", n + 1
                out[unique] = self.value(f"{where}.{unique}", item)
            return out
        if isinstance(value, list | tuple):
            return [self.value(f"{where}[{i}]", item) for i, item in enumerate(value)]
        return value


def redact_signal(signal: Signal, *, canaries: Sequence[str] = ()) -> Redacted:
    """`signal` with e-mails, phone numbers, cards, IBANs, national ids, IP addresses, secrets and the
    `canaries` (`[sanitize] canaries`, in every spelling the gateway's canary detector knows) redacted in
    every text it carries (id, source, fingerprint, region, summary, details keys and values at any depth).
    A canary is a secret planted in system prompts: a signal quoting one (a client's error report that
    copied a leaked answer, a gateway's evidence) must not store it in clear where incidents, alerts and
    the audit log show it.

    Deterministic, so the same leak keeps one fingerprint and dedupes as before (two leaks whose
    fingerprints differ only in the redacted values become one). An id with a hit becomes a digest of the
    original id instead: ids are idempotency keys, and two distinct ids must not collapse into one."""
    scrub = _Scrubber(tuple(canaries))
    update: dict[str, Any] = {}
    for field in ("source", "fingerprint", "summary", "region"):
        original = getattr(signal, field)
        if original is None:
            continue
        text = scrub.text(field, original)[: _LIMITS[field]]
        if text != original:
            update[field] = text
    details = scrub.value("details", signal.details)
    if details != signal.details:
        update["details"] = details
    if scrub.text("id", signal.id) != signal.id:
        update["id"] = _REDACTED_ID_PREFIX + hashlib.sha256(signal.id.encode("utf-8")).hexdigest()[:32]
    if not update:
        return Redacted(signal, {})
    return Redacted(signal.model_copy(update=update), scrub.hits)


def _record(rt: Runtime, redacted: Redacted, now: datetime) -> SignalAccepted:
    signal = redacted.signal
    with rt.store.transaction() as session:
        accepted = service.ingest_signal(session, rt.settings, recorder=rt.recorder, signal=signal, now=now)
        if redacted.hits and not accepted.duplicate:
            count = redacted.count
            note(
                session,
                recorder=rt.recorder,
                incident_id=accepted.incident_id,
                at=now,
                actor=f"signal:{signal.source}",
                event="signal-redacted",
                detail=(
                    f"{count} value{'' if count == 1 else 's'} redacted from signal {signal.id} before it was "
                    f"stored ({redacted.describe()})"
                ),
                data={"signal": signal.id, "redacted": count, "fields": {k: list(v) for k, v in redacted.hits.items()}},
            )
    rt.recorder.flush()
    return accepted


def receive(rt: Runtime, signal: Signal, *, now: datetime) -> SignalAccepted:
    """Redact `signal`, then record it once; a concurrent delivery of the same id that lost the insert race
    sees it stored. Raises `SignalRedactionFailed` (nothing stored) when a detector fails."""
    redacted = redact_signal(signal, canaries=rt.settings.sanitize.canaries)
    try:
        return _record(rt, redacted, now)
    except IntegrityError:
        return _record(rt, redacted, now)
