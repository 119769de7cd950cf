"""The shared currency of the prevent side: `Finding`, its severity, confidence and references.

A `Finding` is a risk found in code, configuration, build output or a live endpoint. It is made by
`scan` and `probe`, and read by reports and the incident workflow. Evidence is always redacted before
it reaches a Finding (see `redact`), so a Finding can be printed, stored in a baseline or uploaded as
SARIF without carrying a secret or a person's data.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any, NamedTuple

REDACTION_ELLIPSIS = "…"
_KEEP_PREFIX = 3
_KEEP_SUFFIX = 4
_MIN_LEN_TO_SHOW_ENDS = 16


class Severity(StrEnum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return _SEVERITY_RANK[self]

    def at_least(self, other: Severity) -> bool:
        return self.rank >= other.rank


_SEVERITY_RANK = {Severity.LOW: 1, Severity.MEDIUM: 2, Severity.HIGH: 3, Severity.CRITICAL: 4}


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


# NamedTuples, not dataclasses: every scan imports this module, and a dataclass generates and compiles its methods
# at import (~1 ms each), besides `dataclasses` itself pulling in `inspect` (~9 ms before a scan can start).
class References(NamedTuple):
    """Where a risk is described in the frameworks compliance people map controls to."""

    owasp_llm: tuple[str, ...] = ()
    """OWASP Top 10 for LLM Applications 2025 ids with titles, e.g. "LLM02:2025 Sensitive Information Disclosure"."""
    cwe: tuple[str, ...] = ()
    """CWE ids, e.g. "CWE-532"."""
    nist_ai_rmf: tuple[str, ...] = ()
    """NIST AI RMF 1.0 subcategories, e.g. "MEASURE 2.10"."""
    iso27001: tuple[str, ...] = ()
    """ISO/IEC 27001:2022 Annex A controls, e.g. "A.8.12 Data leakage prevention"."""
    urls: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, list[str]]:
        return {
            "owasp_llm": list(self.owasp_llm),
            "cwe": list(self.cwe),
            "nist_ai_rmf": list(self.nist_ai_rmf),
            "iso27001": list(self.iso27001),
            "urls": list(self.urls),
        }


class Finding(NamedTuple):
    """One risk at one place. `path` is POSIX and relative to the scanned root; `line`/`column` are 1-based."""

    rule: str
    severity: Severity
    confidence: Confidence
    path: str
    line: int
    column: int
    message: str
    evidence: str = ""
    references: References = References()
    fingerprint: str = ""
    suppressed: str | None = None
    """Why the finding is suppressed ("baseline" or an inline reason), or None when it is active."""

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "rule": self.rule,
            "severity": self.severity.value,
            "confidence": self.confidence.value,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "message": self.message,
            "evidence": self.evidence,
            "fingerprint": self.fingerprint,
            "references": self.references.to_dict(),
        }
        if self.suppressed is not None:
            out["suppressed"] = self.suppressed
        return out


def redact(value: str) -> str:
    """Show just enough of a secret to recognise it (`sk-…9f2a`), never enough to use or brute-force it."""
    value = value.strip()
    if len(value) >= _MIN_LEN_TO_SHOW_ENDS:
        return f"{value[:_KEEP_PREFIX]}{REDACTION_ELLIPSIS}{value[-_KEEP_SUFFIX:]}"
    if len(value) >= _KEEP_SUFFIX * 2:
        return f"{REDACTION_ELLIPSIS}{value[-2:]}"
    return REDACTION_ELLIPSIS


def fingerprint(rule: str, path: str, key: str, occurrence: int = 0) -> str:
    """A stable id for a finding that survives line shifts.

    `key` must be redacted text (the shape of the offending code, never a secret): a baseline stores
    fingerprints, and a hash of a low-entropy secret could be brute-forced.
    """
    # Imported here: loading OpenSSL's hashes (~5 ms) then happens in a sharded scan's main process while
    # its workers run, not on the start-up path every scan waits for.
    import hashlib

    material = "\x1f".join((rule, path, " ".join(key.split()), str(occurrence)))
    return hashlib.sha256(material.encode("utf-8")).hexdigest()[:32]
