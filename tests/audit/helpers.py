"""Shared builders for the audit tests: fixed keys, deterministic writers, record offsets."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from leakline.audit import format as fmt
from leakline.audit import log as log_module
from leakline.audit.keys import AuditKeys, parse_keys
from leakline.audit.log import AuditLog, CommitPolicy
from leakline.audit.verify import parse_header

FIXED_KEY_MATERIAL = {
    "format": "leakline-audit-key",
    "version": 1,
    "kek": "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=",  # bytes 0..31
    "signing_key": "ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=",  # bytes 32..63
}
OTHER_KEY_MATERIAL = {
    "format": "leakline-audit-key",
    "version": 1,
    "kek": "QEFCQ0RFRkdISUpLTE1OT1BRUlNUVVZXWFlaW1xdXl8=",  # bytes 64..95
    "signing_key": "YGFiY2RlZmdoaWprbG1ub3BxcnN0dXZ3eHl6e3x9fn8=",  # bytes 96..127
}


def fixed_keys() -> AuditKeys:
    return parse_keys(dict(FIXED_KEY_MATERIAL), source="fixed")


def other_keys() -> AuditKeys:
    return parse_keys(dict(OTHER_KEY_MATERIAL), source="other")


def make_deterministic(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fix every input the writer takes from the world: log id, data key, clock, writer identity."""
    clock = itertools.count(1_750_000_000_000_000, 1000)
    monkeypatch.setattr(log_module, "_now_us", lambda: next(clock))
    monkeypatch.setattr(log_module, "_new_log_id", lambda: bytes(range(0xA0, 0xB0)))
    monkeypatch.setattr(log_module, "new_data_key", lambda: bytes(range(0xC0, 0xE0)))
    monkeypatch.setattr(log_module, "_writer_identity", lambda: {"host": "kat", "pid": 1})


def quiet_policy(**overrides: Any) -> CommitPolicy:
    """Checkpoints and heartbeats only when the test asks for them."""
    values: dict[str, Any] = {
        "mode": "group",
        "group_commit_ms": 10_000,
        "checkpoint_every_records": 1_000_000,
        "checkpoint_every_seconds": 1_000_000.0,
        "heartbeat_seconds": 1_000_000,
    }
    values.update(overrides)
    return CommitPolicy(**values)


@dataclass(frozen=True)
class RecordSpan:
    seq: int
    start: int
    stop: int


def record_spans(log: bytes) -> list[RecordSpan]:
    header = parse_header(log)
    spans = []
    offset = header.size
    seq = 0
    while offset < len(log):
        length = fmt.RECORD_FIXED.unpack_from(log, offset)[0]
        spans.append(RecordSpan(seq, offset, offset + length))
        offset += length
        seq += 1
    return spans


def write_sample_log(directory: Path, *, records: int = 24, checkpoint_every: int = 7) -> None:
    """A log with several checkpoints, the last one covering every record (a clean shutdown)."""
    policy = quiet_policy(checkpoint_every_records=checkpoint_every, mode="record")
    with AuditLog.open(directory, fixed_keys(), policy=policy, background=False) as log:
        for i in range(records):
            log.append(kind="test.event", actor="tester", incident=f"INC-{i % 3}",
                       payload={"i": i, "text": "x" * (i * 7 % 50)}, meta={"hits": ["email"] if i % 2 else []})
