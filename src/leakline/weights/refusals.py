"""Where `serve` records refused pulls: a one-method interface, backed by the audit log.

`AuditLogRefusalRecorder` appends each refusal to leakline's encrypted, hash-chained audit log
(`leakline.audit`) and flushes it, so the refusal is durable before the client sees the 403; this is what
`leakline weights serve` uses. The model, the reason and the regions go into the record's clear metadata;
the peer's IP address and client-certificate subject (data about a person or a site) go into its encrypted
payload. `JsonLinesRefusalLog` is a plain JSON-lines implementation for embedding `WeightsServer` where no
audit log is configured.
"""

from __future__ import annotations

import json
import os
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True)
class PullRefusal:
    at: str
    """UTC, ISO 8601."""
    model_id: str
    reason: str
    """"region-not-allowed", "region-unknown", "region-conflict" or "unknown-model"."""
    claimed_region: str | None
    certified_region: str | None
    allowed_regions: tuple[str, ...]
    peer: str
    client_subject: str | None


class RefusalRecorder(ABC):
    @abstractmethod
    def record(self, refusal: PullRefusal) -> None:
        """Persist one refusal durably before returning."""


class AuditAppender(Protocol):
    """The part of `leakline.audit.AuditRouter` / `AuditLog` this module uses."""

    def append(
        self,
        *,
        kind: str,
        actor: str,
        region: str | None = None,
        incident: str | None = None,
        payload: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> int: ...

    def flush(self) -> None: ...


AUDIT_KIND = "weights.pull.refused"
AUDIT_ACTOR = "weights.serve"


class AuditLogRefusalRecorder(RefusalRecorder):
    def __init__(self, audit: AuditAppender) -> None:
        self.audit = audit
        self._lock = threading.Lock()

    def record(self, refusal: PullRefusal) -> None:
        meta = {
            "at": refusal.at,
            "model_id": refusal.model_id,
            "reason": refusal.reason,
            "claimed_region": refusal.claimed_region,
            "certified_region": refusal.certified_region,
            "allowed_regions": list(refusal.allowed_regions),
        }
        payload = {"peer": refusal.peer, "client_subject": refusal.client_subject}
        with self._lock:  # server threads share one recorder; flush makes this record durable now
            self.audit.append(kind=AUDIT_KIND, actor=AUDIT_ACTOR, payload=payload, meta=meta)
            self.audit.flush()


class JsonLinesRefusalLog(RefusalRecorder):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, refusal: PullRefusal) -> None:
        doc = {"event": AUDIT_KIND, **asdict(refusal)}
        doc["allowed_regions"] = list(refusal.allowed_regions)
        line = (json.dumps(doc, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8")
        with self._lock:
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def read_all(self) -> list[dict[str, object]]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text("utf-8").splitlines() if line.strip()]
