"""Scan results as SARIF 2.1.0, in the shape GitHub code scanning accepts.

Rules carry their doc page as help text; results carry stable `partialFingerprints`; baselined and
inline-ignored findings stay in the log with `suppressions` instead of being dropped, so that the
code-scanning UI shows them as dismissed rather than fixed. Locations are percent-encoded URIs relative
to the root of the git work tree holding the scanned folder (`%SRCROOT%`), because code scanning reads a
relative uri from the repository root whatever folder was scanned; outside a work tree they are relative
to the scanned folder. Fingerprints are those of the findings (and of baselines), told apart by app for apps
below the root (identical apps of a monorepo would otherwise share them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote

from leakline import __version__
from leakline.findings import Finding, Severity
from leakline.scan.engine import ScanResult
from leakline.scan.rules import registry
from leakline.scan.rules.base import RuleMeta
from leakline.scan.rules.docs import rule_doc

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "leakline/v1"
_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note"}
# GitHub shows and sorts code-scanning alerts by this CVSS-like number (9.0+ Critical, 7.0+ High, 4.0+ Medium).
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5", Severity.LOW: "3.0"}
SRCROOT = "%SRCROOT%"
# What RFC 3986 allows unencoded in a path besides letters, digits and `-._~`: Next.js route groups `(shop)` and
# parallel routes `@modal` stay readable; `[id]`, spaces and `%` are encoded. `:` is encoded too, since in the
# first segment of a relative reference it would read as a URI scheme.
_PATH_SAFE = "/!$&'()*+,;=@"


def work_tree_root(folder: Path) -> Path | None:
    """The nearest folder at or above `folder` holding `.git`: a directory, or a file as in linked worktrees
    and submodules. Read from the file system, not from `git`, which CI images may lack."""
    for candidate in (folder, *folder.parents):
        marker = candidate / ".git"
        if marker.is_dir() or marker.is_file():
            return candidate
    return None


def security_severity(meta: RuleMeta) -> str:
    """The rule's `security-severity`: that of its common case. GitHub reads it from the rule only (a result's
    properties cannot override it), so a rule's rare critical case must not make all its results Critical."""
    return _SECURITY_SEVERITY[meta.common_severity or meta.severity]


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
            "security-severity": security_severity(meta),
            "precision": {"high": "high", "medium": "medium", "low": "low"}[meta.confidence.value],
            "problem.severity": "error" if meta.severity in (Severity.CRITICAL, Severity.HIGH) else "warning",
        },
    }


def app_fingerprint(fingerprint: str, app: str) -> str:
    """A finding's fingerprint told apart by its app (`app`: the app's folder relative to `%SRCROOT%`).

    Fingerprints hash the path inside the app, so identical apps of a monorepo give identical ones; in one
    SARIF run they would be one alert. An app at the root keeps the finding's own fingerprint (the JSON
    report's and the baseline's), as every single-app repository had before."""
    if app in ("", "."):
        return fingerprint
    import hashlib

    # A folder name that is not UTF-8 is hashed from its bytes (Python holds them as surrogate escapes).
    return hashlib.sha256(f"{app}\x1f{fingerprint}".encode("utf-8", "surrogateescape")).hexdigest()[:32]


def _result(f: Finding, rule_index: int, uri_prefix: str, fp: str, kind: str | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "ruleId": f.rule,
        "ruleIndex": rule_index,
        "level": _LEVEL[f.severity],
        "message": {"text": f.message + (f" ({f.evidence})" if f.evidence else "")},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": uri_prefix + quote(f.path, safe=_PATH_SAFE), "uriBaseId": SRCROOT},
                    "region": {"startLine": f.line, "startColumn": f.column},
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fp},
        "properties": {"severity": f.severity.value, "confidence": f.confidence.value},
    }
    if f.suppressed is not None:
        where = "external" if kind == "baseline" else "inSource"
        out["suppressions"] = [{"kind": where, "status": "accepted", "justification": f.suppressed}]
    return out


def _invocation(result: ScanResult, uri_prefix: str) -> dict[str, object]:
    """Rule errors, warnings about the scanned code's leakline markup and the files skipped, where code
    scanning shows a tool's own problems ("tool status"), not as results."""
    notes: list[dict[str, Any]] = [
        {"level": "error", "message": {"text": f"rule error: {e}"}} for e in result.stats.rule_errors
    ]
    notes += [{"level": "warning", "message": {"text": w}} for w in result.stats.warnings]
    notes += [
        {
            "level": "warning",
            "message": {"text": f"skipped {path}: {reason}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": uri_prefix + quote(path, safe=_PATH_SAFE), "uriBaseId": SRCROOT}
                    }
                }
            ],
        }
        for path, reason in result.stats.skipped_files
    ]
    return {"executionSuccessful": not result.stats.rule_errors, "toolExecutionNotifications": notes}


def render(result: ScanResult, *, color: bool = False) -> str:
    rule_ids = sorted({f.rule for f in result.findings})
    index = {rule_id: i for i, rule_id in enumerate(rule_ids)}
    # `result.root` is resolved, so it lies below the root found by walking up from it.
    base = work_tree_root(result.root) or result.root
    inside = result.root.relative_to(base)
    # From the file system's bytes: a folder name that is not UTF-8 is encoded as it is, not as Python escapes it.
    uri_prefix = quote(os.fsencode(inside.as_posix() + "/"), safe=_PATH_SAFE) if inside.parts else ""
    base_uri = base.as_uri()
    # Each app's folder as code scanning sees it (from the repository root), for its fingerprints.
    apps = {app.prefix: app.root.relative_to(base).as_posix() for app in result.apps}
    results = []
    for f in result.findings:
        owner = result.app_of(f)
        app = apps[owner.prefix] if owner is not None else inside.as_posix()
        how = result.suppression_of(f)
        fp = app_fingerprint(f.fingerprint, app)
        results.append(_result(f, index[f.rule], uri_prefix, fp, how.kind if how is not None else None))
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
                "originalUriBaseIds": {SRCROOT: {"uri": base_uri if base_uri.endswith("/") else base_uri + "/"}},
                "results": results,
                "invocations": [_invocation(result, uri_prefix)],
                "columnKind": "unicodeCodePoints",
            }
        ],
    }
    return json.dumps(log, indent=2, ensure_ascii=False) + "\n"
