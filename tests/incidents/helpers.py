"""Builders for incident tests: facts files, signals, reading the audit log back."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

FACTS: dict[str, Any] = {
    "aware_at": "2026-11-25T10:00:00+00:00",
    "controller": {"establishments": ["DE"], "role": "controller", "sector": "retail", "size": "large"},
    "breach": {"types": ["confidentiality"], "cause": "hacking", "malicious": True, "exfiltration": "confirmed"},
    "data": {
        "categories": ["identity", "contact"],
        "subjects": 100,
        "subjects_by_jurisdiction": {},
        # Who the people are: without it the notices to authorities keep a placeholder, and approval refuses them.
        "subject_categories": ["customers"],
    },
    # Read only once a notice is due more than 72 hours after awareness (aware_at is fixed, the tests' clock is not).
    "delay_reasons": "the forensic analysis confirmed the breach only after 72 hours",
}


def facts_file(directory: Path, name: str = "facts.json", **changes: Any) -> Path:
    data = copy.deepcopy(FACTS)
    for dotted, value in changes.items():
        node = data
        *parents, leaf = dotted.split("__")
        for part in parents:
            node = node[part]
        node[leaf] = value
    path = directory / name
    path.write_text(json.dumps(data), encoding="utf-8")
    return path


def signal(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "sig_1",
        "kind": "leak-caught",
        "source": "gateway:eu",
        "at": "2026-11-26T08:00:00+00:00",
        "severity": "high",
        "fingerprint": "email-in-output:/api/chat",
        "surface": "frontend",
        "data_categories": ["contact"],
        "subjects_estimate": 3,
        "summary": "e-mail address in a chat answer (j…@…com)",
    }
    base.update(overrides)
    return base


def audit_kinds(directory: Path) -> list[str]:
    """The `kind` of every record in the audit log under `directory` (metadata is in clear)."""
    from leakline.audit.keys import load_keys
    from leakline.audit.log import read_data_key
    from leakline.audit.verify import Record, log_paths, parse_header, verify_log

    kinds: list[str] = []

    def collect(record: Record) -> None:
        kind = record.meta.get("kind")
        if isinstance(kind, str):
            kinds.append(kind)

    log_path, _ = log_paths(directory)
    header = parse_header(log_path.read_bytes()[:4096], file=str(log_path))
    data_key = read_data_key(directory, header, load_keys(directory.parent / "audit.key"))
    verify_log(directory, data_key=data_key, on_record=collect)
    return kinds
