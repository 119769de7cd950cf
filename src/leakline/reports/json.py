"""Scan results as JSON for machines: `{"findings": [...], "stats": {...}}` (a contract; add, never rename)."""

from __future__ import annotations

import json

from leakline import __version__
from leakline.scan.engine import ScanResult


def render(result: ScanResult, *, color: bool = False) -> str:
    payload = {
        "tool": {"name": "leakline", "version": __version__},
        "findings": [f.to_dict() for f in result.findings],
        "stats": {
            **result.stats.to_dict(),
            "findings": len(result.active),
            "suppressed": len(result.findings) - len(result.active),
            "failing": len(result.failing),
            "fail_on": result.fail_on.value,
            # Apps of a monorepo each judged by their own [scan] fail_on (all the same under --fail-on).
            "fail_on_by_app": {prefix: severity.value for prefix, severity in result.thresholds().items()},
        },
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
