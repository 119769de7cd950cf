"""Scan results as JSON for machines: `{"findings": [...], "stats": {...}}` (a contract; add, never rename).

The keys are documented in docs/scan.md ("JSON report").
"""

from __future__ import annotations

import json
from typing import Any

from leakline import __version__
from leakline.findings import Finding
from leakline.scan.engine import ScanResult


def _finding(result: ScanResult, f: Finding) -> dict[str, Any]:
    out = f.to_dict()
    owner = result.app_of(f)
    how = result.suppression_of(f)
    # Every key on every finding, null when it does not apply: a consumer reading `f["suppressed"]` must not
    # fail on active findings.
    out["suppressed"] = f.suppressed
    out["suppression_kind"] = how.kind if how is not None else None
    out["suppression_reason"] = how.reason if how is not None else None
    out["app"] = owner.prefix if owner is not None else "."
    return out


def render(result: ScanResult, *, color: bool = False) -> str:
    payload = {
        "tool": {"name": "leakline", "version": __version__},
        "findings": [_finding(result, f) for f in result.findings],
        "stats": {
            **result.stats.to_dict(),
            "findings": len(result.active),
            "suppressed": len(result.findings) - len(result.active),
            "failing": len(result.failing),
            "fail_on": result.fail_on.value,
            # Apps of a monorepo each judged by their own [scan] fail_on (all the same under --fail-on).
            "fail_on_by_app": {prefix: severity.value for prefix, severity in result.thresholds().items()},
            # A rule failed on a file: its findings there are missing, and the scan exits 2.
            "complete": not result.stats.rule_errors,
        },
    }
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"
