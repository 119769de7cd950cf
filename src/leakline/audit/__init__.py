"""The audit log: append-only, AES-256-GCM encrypted, hash-chained, with signed Merkle checkpoints.

Other domains (gateway, incidents, notify, weights) record what happened through this API::

    from leakline.audit import default_audit_log

    audit = default_audit_log(settings)          # sinks from leakline.toml, or ./leakline-audit/
    seq = audit.append(
        kind="gateway.exchange", actor="gateway", region="eu", incident="INC-42",
        payload={"prompt": ..., "response": ...},   # encrypted; never stored in clear
        meta={"detector_hits": ["email"]},          # clear metadata: no secrets, no personal data
    )
    audit.flush()                                 # durable from here on (group commit)
    audit.close()                                 # final signed checkpoint (clean shutdown)

`append` returns the record's sequence number in its region's sink. A record whose region has no sink
raises `ResidencyRefused` and is written nowhere. For one log directory, use
`AuditLog.open(directory, keys, region=...)` with keys from `load_keys(path)` (a key file from
`leakline audit keygen`, or $LEAKLINE_AUDIT_KEY); it has the same `append`, `flush` and `close`.
Verification is `verify_log(directory, data_key=None)`, pure over the log's bytes.

Several processes may append to one log at once: they take turns under a file lock per batch (see
`leakline.audit.log`). Format: docs/audit-format.md. Operations: docs/audit.md. Modules: `format`
(byte layout), `merkle` (RFC 6962), `keys`, `log` (writer), `verify`, `sinks` (residency routing),
`settings` (`[audit]`), `cli`. This package imports its submodules lazily, because leakline.config
imports `leakline.audit.settings` and must stay fast to load.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leakline.audit.errors import AuditIntegrityError, ResidencyRefused
    from leakline.audit.keys import AuditKeys, load_keys
    from leakline.audit.log import AuditLog, CommitPolicy
    from leakline.audit.sinks import AuditRouter, default_audit_log
    from leakline.audit.verify import VerifyReport, verify_log

_EXPORTS = {
    "AuditLog": "leakline.audit.log",
    "CommitPolicy": "leakline.audit.log",
    "AuditRouter": "leakline.audit.sinks",
    "default_audit_log": "leakline.audit.sinks",
    "AuditKeys": "leakline.audit.keys",
    "load_keys": "leakline.audit.keys",
    "verify_log": "leakline.audit.verify",
    "VerifyReport": "leakline.audit.verify",
    "AuditIntegrityError": "leakline.audit.errors",
    "ResidencyRefused": "leakline.audit.errors",
}

__all__ = [
    "AuditIntegrityError",
    "AuditKeys",
    "AuditLog",
    "AuditRouter",
    "CommitPolicy",
    "ResidencyRefused",
    "VerifyReport",
    "default_audit_log",
    "load_keys",
    "verify_log",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'leakline.audit' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
