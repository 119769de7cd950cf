"""Scan results as SARIF 2.1.0, in the shape GitHub code scanning accepts.

Rules carry their doc page as help text; results carry stable `partialFingerprints`; baselined and
inline-ignored findings stay in the log with `suppressions` instead of being dropped, so that the
code-scanning UI shows them as dismissed rather than fixed.
"""

from __future__ import annotations

import json
from typing import Any

from leakline import __version__
from leakline.findings import Finding, Severity
from leakline.scan.engine import ScanResult
from leakline.scan.rules import registry
from leakline.scan.rules.docs import rule_doc

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "leakline/v1"
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
# GitHub sorts code-scanning alerts by this CVSS-like number.
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0"}


def _rule_descriptor(rule_id: str) -> dict[str, Any]:
    meta = registry()[rule_id]
    doc = rule_doc(rule_id)
    refs = meta.references
    return {
        "id": rule_id,
        "name": meta.name,
        "shortDescription": {"text": meta.title},
        "fullDescription": {"text": meta.title},
        "helpUri": f"https://github.com/leakline/leakline/blob/main/docs/rules/{rule_id}.md",
        "help": {"text": doc or meta.title, "markdown": doc or meta.title},
        "defaultConfiguration": {"level": _LEVEL[meta.severity]},
        "properties": {
            "tags": ["security", *refs.owasp_llm, *refs.cwe],
            "security-severity": _SECURITY_SEVERITY[meta.severity],
            "precision": {"high": "high", "medium": "medium", "low": "low"}[meta.confidence.value],
            "problem.severity": "error" if meta.severity in (Severity.CRITICAL, Severity.HIGH) else "warning",
        },
    }


def _result(f: Finding, rule_index: int) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": f.message + (f" ({f.evidence})" if f.evidence else "")},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": f.path, "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": f.line, "startColumn": f.column},
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: f.fingerprint},
        "properties": {"severity": f.severity.value, "confidence": f.confidence.value},
    }
    if f.suppressed is not None:
        kind = "external" if f.suppressed == "baseline" else "inSource"
        out["suppressions"] = [{"kind": kind, "status": "accepted", "justification": f.suppressed}]
    return out


def render(result: ScanResult, *, color: bool = False) -> str:
    rule_ids = sorted({f.rule for f in result.findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "leakline",
                        "version": __version__,
                        "semanticVersion": __version__,
                        "informationUri": "https://github.com/leakline/leakline",
                        "rules": [_rule_descriptor(r) for r in rule_ids],
                    }
                },
                "originalUriBaseIds": {"%SRCROOT%": {"uri": result.root.as_uri() + "/"}},
                "results": [_result(f, index[f.rule]) for f in result.findings],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
