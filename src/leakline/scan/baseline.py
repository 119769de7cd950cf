"""Baselines: the findings a team has accepted, so that CI fails only on new ones.

A baseline stores rule, path and fingerprint per finding — never evidence, never a hash of a secret
(fingerprints are computed from redacted text only; see `leakline.findings.fingerprint`).
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from leakline.findings import Finding
from leakline.scan.errors import BaselineError

BASELINE_VERSION = 1


@dataclass(frozen=True)
class Baseline:
    entries: frozenset[tuple[str, str, str]]

    @property
    def _keys(self) -> frozenset[tuple[str, str]]:
        return frozenset((rule, fp) for rule, _, fp in self.entries)

    def contains(self, finding: Finding, legacy_fingerprint: str | None = None) -> bool:
        """Whether the baseline accepts `finding`, by its fingerprint or by the one an older leakline gave it."""
        # Fingerprints already include the path inside the app, so a baseline written when scanning an app
        # also matches when its monorepo is scanned (where the displayed path has a prefix).
        keys = self._keys
        return (finding.rule, finding.fingerprint) in keys or (finding.rule, legacy_fingerprint) in keys

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
            entries.add((item["rule"], item["path"], item["fingerprint"]))
        return cls(frozenset(entries))


def write_baseline(path: Path, findings: list[Finding], only_rules: frozenset[str] | None = None) -> int:
    """Write a baseline atomically: every finding not suppressed inline (already-baselined ones included,
    so rewriting a baseline never drops accepted findings). With `only_rules` (`--rule`), the entries
    the file already holds for the rules that did not run are kept. Returns how many were written."""
    entries = {(f.rule, f.path, f.fingerprint) for f in findings if f.suppressed in (None, "baseline")}
    if only_rules is not None and path.is_file():
        # A scan of some rules knows nothing of the others: rewriting the file from it alone would drop
        # every finding the team accepted for them, and the next full CI run would fail on all of them.
        entries |= {entry for entry in Baseline.load(path).entries if entry[0] not in only_rules}
    items = [
        {"rule": rule, "path": rel, "fingerprint": fp}
        for rule, rel, fp in sorted(entries, key=lambda e: (e[1], e[0], e[2]))
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
