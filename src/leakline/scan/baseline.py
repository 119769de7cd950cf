"""Baselines: the findings a team has accepted, so that CI fails only on new ones.

A baseline stores, per finding, its rule, its fingerprint, the app it was found in and its file — both as
paths relative to the baseline file's folder, so that an entry names the same app and file whatever folder
is scanned — never evidence, never a hash of a secret (fingerprints are computed from redacted text only; see
`leakline.findings.fingerprint`). Fingerprints hash the path inside the app, so two identical apps of a
monorepo give the same ones: an entry accepts a finding only in the app and file it names. Entries written
before apps were stored (no "app") keep matching where their path names the finding's file, as the scan
that wrote them saw it or as seen from the baseline's folder.
"""

from __future__ import annotations

import json
import os
import posixpath
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple, Protocol

from leakline.findings import Finding
from leakline.scan.errors import BaselineError

BASELINE_VERSION = 1
"""Unchanged by the optional "app" key: older leaklines read such files as before."""


class AppOf(Protocol):
    """Where a finding's app is (`leakline.scan.engine.ScannedApp` is one)."""

    @property
    def prefix(self) -> str:
        """The app's folder relative to the scanned root ("." for the root itself)."""

    @property
    def root(self) -> Path:
        """The app's folder, resolved."""


class BaselineEntry(NamedTuple):
    rule: str
    path: str
    """The finding's file relative to the baseline's folder (old entries: relative to the folder scanned)."""
    fingerprint: str
    app: str | None = None
    """The app's folder relative to the baseline's folder ("." for that folder); None in old entries."""


def _inside_app(finding: Finding, app: AppOf) -> str:
    """The finding's path inside its app (the path its fingerprint hashes)."""
    if app.prefix in ("", "."):
        return finding.path
    return finding.path.removeprefix(app.prefix + "/")


class _Places:
    """An app's folder and a finding's file as seen from a baseline's folder, computed once per app."""

    def __init__(self, folder: Path) -> None:
        self._folder = folder
        self._apps: dict[Path, str] = {}

    def app(self, app: AppOf) -> str:
        key = self._apps.get(app.root)
        if key is None:
            key = self._apps[app.root] = Path(os.path.relpath(app.root, self._folder)).as_posix()
        return key

    def file(self, finding: Finding, app: AppOf) -> str:
        return posixpath.normpath(posixpath.join(self.app(app), _inside_app(finding, app)))


class Baseline:
    """The accepted findings of one baseline file (`folder`: the folder holding it, resolved)."""

    def __init__(self, entries: frozenset[BaselineEntry], folder: Path) -> None:
        self.entries = entries
        self.folder = folder
        self._places = _Places(folder)
        self._by_key: dict[tuple[str, str], list[BaselineEntry]] = {}
        for entry in entries:
            self._by_key.setdefault((entry.rule, entry.fingerprint), []).append(entry)

    def contains(self, finding: Finding, legacy_fingerprint: str | None = None, app: AppOf | None = None) -> bool:
        """Whether the baseline accepts `finding` of `app`, by its fingerprint or by the one an older leakline
        gave it, in the app and file the entry names."""
        candidates = [
            *self._by_key.get((finding.rule, finding.fingerprint), ()),
            *(self._by_key.get((finding.rule, legacy_fingerprint), ()) if legacy_fingerprint else ()),
        ]
        return any(self._accepts(entry, finding, app) for entry in candidates)

    def _accepts(self, entry: BaselineEntry, finding: Finding, app: AppOf | None) -> bool:
        here = self._places.file(finding, app) if app is not None else None
        if entry.app is None:
            # Written before apps were stored: its path is the one the scan that wrote it showed, relative to
            # the folder scanned, which is usually the baseline's folder.
            return entry.path == finding.path or (here is not None and posixpath.normpath(entry.path) == here)
        return app is not None and entry.app == self._places.app(app) and posixpath.normpath(entry.path) == here

    @classmethod
    def load(cls, path: Path, create_command: str = "leakline scan PATH --write-baseline") -> Baseline:
        """`create_command` is the hint given when the file is missing: the command that writes this file."""
        try:
            raw = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise BaselineError(f"{path}: baseline file not found", hint=f"create it with `{create_command}`") from None
        except (OSError, UnicodeDecodeError) as exc:
            raise BaselineError(f"{path}: cannot read baseline: {exc}") from None
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise BaselineError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(data, dict) or data.get("version") != BASELINE_VERSION:
            raise BaselineError(f'{path}: not a leakline baseline (expected "version": {BASELINE_VERSION})')
        items = data.get("findings")
        if not isinstance(items, list):
            raise BaselineError(f'{path}: key "findings": expected an array')
        entries = set()
        for i, item in enumerate(items):
            if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("rule", "path", "fingerprint")
            ):
                raise BaselineError(f"{path}: findings[{i}]: expected an object with string rule, path, fingerprint")
            app = item.get("app")
            if app is not None and not isinstance(app, str):
                raise BaselineError(f'{path}: findings[{i}].app: expected a string (the app\'s folder), got {app!r}')
            entries.add(BaselineEntry(item["rule"], item["path"], item["fingerprint"], app))
        return cls(frozenset(entries), path.resolve().parent)


def write_baseline(
    path: Path,
    findings: list[Finding],
    only_rules: frozenset[str] | None = None,
    app_of: Callable[[Finding], AppOf | None] | None = None,
) -> int:
    """Write a baseline atomically: every finding not suppressed inline (already-baselined ones included,
    so rewriting a baseline never drops accepted findings), each with its app and file as seen from the
    baseline's folder (`app_of` tells a finding's app; without it, or for a finding of no app, the entry is
    written as older leaklines did). With `only_rules` (`--rule`), the entries the file already holds for
    the rules that did not run are kept. Returns how many were written."""
    places = _Places(path.resolve().parent)
    entries: set[BaselineEntry] = set()
    for f in findings:
        if f.suppressed not in (None, "baseline"):
            continue
        app = app_of(f) if app_of is not None else None
        if app is None:
            entries.add(BaselineEntry(f.rule, f.path, f.fingerprint))
        else:
            entries.add(BaselineEntry(f.rule, places.file(f, app), f.fingerprint, places.app(app)))
    if only_rules is not None and path.is_file():
        # A scan of some rules knows nothing of the others: rewriting the file from it alone would drop
        # every finding the team accepted for them, and the next full CI run would fail on all of them.
        entries |= {entry for entry in Baseline.load(path).entries if entry.rule not in only_rules}
    items = [
        {"rule": e.rule, **({"app": e.app} if e.app is not None else {}), "path": e.path, "fingerprint": e.fingerprint}
        for e in sorted(entries, key=lambda e: (e.path, e.rule, e.fingerprint, e.app or ""))
    ]
    payload = json.dumps({"version": BASELINE_VERSION, "findings": items}, indent=2) + "\n"
    if path.is_dir():
        raise BaselineError(f"{path}: is a directory", hint="pass a file path to --baseline")
    tmp: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=path.parent, prefix=".baseline-", suffix=".json")
        tmp = Path(tmp_name)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(payload)
        tmp.replace(path)
    except OSError as exc:
        if tmp is not None:
            tmp.unlink(missing_ok=True)
        raise BaselineError(f"{path}: cannot write baseline: {exc.strerror or exc}") from None
    return len(items)
