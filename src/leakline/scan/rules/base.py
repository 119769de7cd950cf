"""The rule plug-in point: a `Rule` has metadata (from the registry) and one abstract method, `check`.

A rule reads the project index (and, for source rules, the LLM-data analysis) and yields `Hit`s. The
engine turns hits into `Finding`s: it adds severity, confidence and references from the registry,
computes fingerprints, applies inline suppressions and the baseline, and keeps one finding per
(rule, file, line).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from typing import TYPE_CHECKING, ClassVar, NamedTuple

from leakline.findings import Confidence, References, Severity

if TYPE_CHECKING:
    from leakline.scan.context import ScanContext


class RuleMeta(NamedTuple):
    id: str
    name: str
    title: str
    severity: Severity
    confidence: Confidence
    references: References
    common_severity: Severity | None = None
    """The severity most of its findings have (None: `severity`, the highest one can have)."""
    supersedes: tuple[str, ...] = ()
    """Rules whose finding on the same line this rule's finding replaces (LL008 over LL007)."""
    per_file: bool = False
    """The registry's copy of `Rule.per_file`: the engine schedules rules before importing their modules."""
    uses_llm_routes: bool = False
    """The registry's copy of `Rule.uses_llm_routes`."""


class Hit(NamedTuple):
    """What a rule reports: a place and a message. Evidence must already be redacted."""

    path: str
    line: int
    column: int
    message: str
    evidence: str = ""
    key: str = ""
    """Redacted text that identifies this hit across line shifts (for fingerprints); defaults to the message."""
    severity: Severity | None = None
    confidence: Confidence | None = None
    legacy_key: str | None = None
    """The key an older leakline derived this hit's fingerprint from, when the key has changed since: a
    baseline written then still matches. Used for matching only; baselines are written with `key`."""
    text_columns: bool = False
    """`column` counts characters already: the rule read the file as decoded text (build output, vercel.json,
    package.json, lockfiles). Otherwise it is tree-sitter's (a point's UTF-8 byte column + 1), which the
    engine turns into the code point column that reports promise."""


class Rule(ABC):
    meta: RuleMeta
    per_file: ClassVar[bool] = False
    """True when the rule reports only in the files of `ctx.targets`, judging each on its own (cross-file
    facts come through the index and the LLM-data analysis). Such rules run sharded across worker
    processes on large apps: each worker gets a share of the files as `ctx.targets`."""
    uses_llm_routes: ClassVar[bool] = False
    """True when the rule reads `leakline.scan.routes.llm_routes(ctx)`; on large apps the shard workers
    find those routes while they parse, and such rules run after them."""

    def __init__(self, meta: RuleMeta) -> None:
        self.meta = meta

    @abstractmethod
    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        """Yield every hit of this rule in one app."""
