"""Residency routing: one audit log per region, chosen by each record's `region`, never a fallback.

`default_audit_log(settings)` is what other domains call. It returns an `AuditRouter` whose `append`
has the same signature as `AuditLog.append`: a record without a region goes to the `[audit] path`
sink, a record with region R goes to `[audit.sinks.R]` only, and a region without a sink is refused
with `ResidencyRefused` before anything is written. Logs are opened on first use. Without an `[audit]`
section, the sink is `./leakline-audit/` and its key file `./leakline-audit/audit.key` is generated
(mode 0600) the first time a record is written, which is announced once on stderr.
"""

from __future__ import annotations

import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from leakline.audit import format as fmt
from leakline.audit.errors import AuditConfigError, ResidencyRefused
from leakline.audit.keys import KEY_ENV_VAR, AuditKeys, generate_key_file, load_key_file, load_keys
from leakline.audit.log import DIR_MODE, AuditLog, CommitPolicy
from leakline.audit.settings import DEFAULT_AUDIT_DIR, DEFAULT_KEY_FILENAME, AuditSettings

if TYPE_CHECKING:
    from leakline.config import Settings


def _stderr_notice(message: str) -> None:
    sys.stderr.write(f"leakline: {message}\n")


class AuditRouter:
    """Appends each record to the sink of its region; opens sinks lazily; refuses unknown regions."""

    def __init__(
        self,
        sinks: dict[str | None, Path],
        keys: Callable[[], AuditKeys],
        *,
        policy: CommitPolicy | None = None,
    ) -> None:
        self.sinks = dict(sinks)
        self._keys_factory = keys
        self._keys: AuditKeys | None = None
        self._policy = policy or CommitPolicy()
        self._logs: dict[str | None, AuditLog] = {}
        self._mu = threading.Lock()

    @property
    def policy(self) -> CommitPolicy:
        """When this router's logs commit (the same for every sink)."""
        return self._policy

    def log_for(self, region: str | None) -> AuditLog:
        path = self.sinks.get(region)
        if path is None:
            configured = ", ".join(sorted(repr(r) for r in self.sinks if r is not None)) or "none"
            raise ResidencyRefused(
                f"no audit sink for region {region!r}; the record was not written anywhere",
                hint=f"add [audit.sinks.{region}] path = ... to leakline.toml (regions with sinks: {configured})"
                if region is not None
                else "add [audit] path = ... to leakline.toml",
            )
        with self._mu:
            log = self._logs.get(region)
            if log is None:
                if self._keys is None:
                    self._keys = self._keys_factory()
                log = self._logs[region] = AuditLog.open(path, self._keys, region=region, policy=self._policy)
            return log

    def append(
        self,
        *,
        kind: str,
        actor: str,
        region: str | None = None,
        incident: str | None = None,
        payload: Any = None,
        meta: dict[str, Any] | None = None,
    ) -> int:
        """Append to the sink of `region`; return the record's sequence number in that sink."""
        return self.log_for(region).append(
            kind=kind, actor=actor, region=region, incident=incident, payload=payload, meta=meta
        )

    def flush(self) -> None:
        for log in list(self._logs.values()):
            log.flush()

    def close(self) -> None:
        with self._mu:
            logs, self._logs = list(self._logs.values()), {}
        error: Exception | None = None
        for log in logs:
            try:
                log.close()
            except Exception as exc:  # a sink that cannot be written must not leave the others without their
                error = error or exc  # final checkpoint; the first error is raised once all are closed
        if error is not None:
            raise error

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def _resolve(base: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else base / path


def policy_from(audit: AuditSettings, *, min_group_commit_ms: int = 0) -> CommitPolicy:
    return CommitPolicy(
        mode=audit.commit,
        group_commit_ms=max(audit.group_commit_ms, min_group_commit_ms),
        checkpoint_every_records=audit.checkpoint_every_records,
        checkpoint_every_seconds=float(audit.checkpoint_every_seconds),
        heartbeat_seconds=audit.heartbeat_seconds,
    )


def default_key_loader(directory: Path, notice: Callable[[str], None]) -> Callable[[], AuditKeys]:
    """Keys for the default sink: $LEAKLINE_AUDIT_KEY, else <dir>/audit.key, created on first use."""

    def load() -> AuditKeys:
        if os.environ.get(KEY_ENV_VAR):
            return load_keys(None)
        key_path = directory / DEFAULT_KEY_FILENAME
        if key_path.exists():
            return load_key_file(key_path)
        directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
        keys = generate_key_file(key_path)
        notice(
            f"audit log at {directory}/ with a new key {key_path} (mode 0600); for production, "
            "configure [audit] in leakline.toml and keep the key elsewhere"
        )
        return keys

    return load


def default_audit_log(
    settings: Settings,
    *,
    notice: Callable[[str], None] = _stderr_notice,
    cwd: Path | None = None,
    min_group_commit_ms: int = 0,
) -> AuditRouter:
    """The audit sinks that leakline.toml describes, or the out-of-the-box default (see module doc).

    `min_group_commit_ms` lengthens a shorter `group_commit_ms`, for a writer that commits on its own
    schedule anyway (the gateway's event thread flushes every 200 ms: committing its records every 5 ms
    as well only woke one more thread 200 times a second)."""
    audit: AuditSettings = settings.audit
    policy = policy_from(audit, min_group_commit_ms=min_group_commit_ms)
    base = Path(settings.source).parent if settings.source else (cwd or Path.cwd())
    if "audit" not in settings.model_fields_set:
        directory = (cwd or Path.cwd()) / DEFAULT_AUDIT_DIR
        return AuditRouter({None: directory}, default_key_loader(directory, notice), policy=policy)
    source = settings.source or "leakline.toml"
    sinks: dict[str | None, Path] = {None: _resolve(base, audit.path)}
    for region, sink in audit.sinks.items():
        if not fmt.valid_region(region):
            raise AuditConfigError(
                f"{source}: audit.sinks.{region}: a region name is lowercase letters, digits, '-' or '_'"
            )
        sinks[region] = _resolve(base, sink.path)
    if audit.key is None and not os.environ.get(KEY_ENV_VAR):
        raise AuditConfigError(
            f"{source}: audit.key: required key is missing (or set {KEY_ENV_VAR})",
            hint="create a key with `leakline audit keygen KEYFILE` and set audit.key to its path",
        )
    key_path = _resolve(base, audit.key) if audit.key is not None else None
    return AuditRouter(sinks, lambda: load_keys(key_path), policy=policy)
