"""The `[audit]` section of leakline.toml.

Kept free of imports from the rest of leakline (config.py imports this module), so the base class
repeats `leakline.config.Section`'s rules: unknown keys are errors and values are not coerced.

    [audit]
    path = "/var/lib/leakline/audit"        # the sink for records that concern no region
    key = "/etc/leakline/audit.key"         # else $LEAKLINE_AUDIT_KEY
    commit = "group"                        # or "record": fsync before every append returns
    group_commit_ms = 5
    checkpoint_every_records = 1000
    checkpoint_every_seconds = 60
    heartbeat_seconds = 300
    on_failure = "serve"                    # `leakline serve` while a sink cannot be written: or "refuse" (503)

    [audit.sinks.eu]
    path = "/mnt/eu-only/leakline-audit"    # records with region = "eu" go here and nowhere else
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DEFAULT_AUDIT_DIR = "leakline-audit"
DEFAULT_KEY_FILENAME = "audit.key"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class AuditSinkSettings(_Section):
    path: str
    """Directory of this region's log (relative paths are relative to leakline.toml)."""


class AuditSettings(_Section):
    path: str = DEFAULT_AUDIT_DIR
    """Directory of the log for records without a region."""
    key: str | None = None
    """Key file (from `leakline audit keygen`); when absent, the LEAKLINE_AUDIT_KEY variable."""
    commit: Literal["record", "group"] = "group"
    group_commit_ms: int = Field(default=5, ge=1, le=10_000)
    checkpoint_every_records: int = Field(default=1000, ge=1)
    checkpoint_every_seconds: int = Field(default=60, ge=1)
    heartbeat_seconds: int = Field(default=300, ge=1)
    on_failure: Literal["serve", "refuse"] = "serve"
    """What the gateway does while a sink cannot be written (a full disk): "serve" answers the exchanges
    unrecorded (counted, and recorded as lost once the sink takes writes again); "refuse" answers 503
    `audit_unavailable` to the requests whose region's sink fails (docs/gateway.md, Audit failures)."""
    sinks: dict[str, AuditSinkSettings] = Field(default_factory=dict)
    """Per-region sinks: `[audit.sinks.<region>] path = ...`."""
