"""Installed package versions, read from the lockfile when there is one (npm, pnpm, yarn classic and berry).

The declared range in package.json says what may be installed; the lockfile says what is. Rules that
judge versions (LL016) prefer the lockfile and fall back to the lowest version the range admits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

import yaml

if TYPE_CHECKING:
    from leakline.scan.index import ProjectIndex

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?")


@dataclass(frozen=True)
class ResolvedVersion:
    version: str
    source: str
    """The file the version was read from (a lockfile, or package.json for a declared range)."""


def _clean(version: str) -> str | None:
    # pnpm appends peer suffixes: "15.1.0(react-dom@19.0.0)(react@19.0.0)"; ranges start with ^ ~ >= =.
    match = _VERSION.search(version.split("(", 1)[0])
    return match.group(0) if match else None


def _from_npm(text: str, name: str) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    packages = data.get("packages")
    if isinstance(packages, dict):
        entry = packages.get(f"node_modules/{name}")
        if isinstance(entry, dict) and isinstance(entry.get("version"), str):
            return _clean(entry["version"])
    deps = data.get("dependencies")
    if isinstance(deps, dict):
        entry = deps.get(name)
        if isinstance(entry, dict) and isinstance(entry.get("version"), str):
            return _clean(entry["version"])
    return None


def _from_pnpm(text: str, name: str) -> str | None:
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(data, dict):
        return None
    importers = data.get("importers")
    roots = [importers.get(".")] if isinstance(importers, dict) else [data]
    for root in roots:
        if not isinstance(root, dict):
            continue
        for section in ("dependencies", "devDependencies"):
            deps = root.get(section)
            if isinstance(deps, dict) and name in deps:
                entry = deps[name]
                raw = entry.get("version") if isinstance(entry, dict) else entry
                if isinstance(raw, str):
                    return _clean(raw)
    packages = data.get("packages")
    if isinstance(packages, dict):
        for key in packages:
            key_s = str(key).lstrip("/")
            if key_s.startswith(f"{name}@") or key_s.startswith(f"{name}/"):
                return _clean(key_s[len(name) + 1 :])
    return None


def _from_yarn(text: str, name: str) -> str | None:
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.startswith((" ", "#")) or not line.strip():
            continue
        selectors = [s.strip().strip('"') for s in line.rstrip(":").split(",")]
        if not any(s.startswith(f"{name}@") for s in selectors):
            continue
        for follow in lines[i + 1 : i + 8]:
            stripped = follow.strip()
            if stripped.startswith("version"):
                return _clean(stripped.split(None, 1)[1].strip('"') if " " in stripped else "")
    return None


_LOCKFILES = (("package-lock.json", _from_npm), ("pnpm-lock.yaml", _from_pnpm), ("yarn.lock", _from_yarn))


def resolve_version(index: ProjectIndex, name: str) -> ResolvedVersion | None:
    for filename, reader in _LOCKFILES:
        f = index.files.get(filename)
        if f is None:
            continue
        version = reader(f.text, name)
        if version:
            return ResolvedVersion(version, filename)
    declared = index.declared_dependency(name)
    if declared:
        version = _clean(declared)
        if version:
            return ResolvedVersion(version, "package.json")
    return None


def installed_version(index: ProjectIndex, name: str) -> str | None:
    resolved = resolve_version(index, name)
    return resolved.version if resolved else None
