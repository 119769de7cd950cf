"""Where `serve` records refused pulls: a one-method interface and a JSON-lines implementation.

The shared audit log (`leakline.audit`) had no writer API when this was built, so refusals go through
`RefusalRecorder`; `JsonLinesRefusalLog` appends one JSON object per line and fsyncs it, so a refusal is on
disk before the client sees the 403. Records name the model, the claimed and certified regions and the
peer address; they hold no key material and no personal data beyond the peer's IP address and the
client certificate's subject.
"""

from __future__ import annotations

import json
import os
import threading
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path


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


class JsonLinesRefusalLog(RefusalRecorder):
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def record(self, refusal: PullRefusal) -> None:
        doc = {"event": "weights.pull.refused", **asdict(refusal)}
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
