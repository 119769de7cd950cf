"""Installed package versions, read from the lockfile when there is one (npm, pnpm, yarn classic and berry).

The declared range in package.json says what may be installed; the lockfile says what is. Rules that
judge versions (LL016) prefer the lockfile and fall back to the lowest version the range admits.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from leakline.scan.index import ProjectIndex

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?")


class ResolvedVersion(NamedTuple):
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


def _load_yaml(text: str) -> object:
    """The parsed document, None when it is not YAML. PyYAML is imported here: most apps have no pnpm lockfile."""
    import yaml

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _from_pnpm(text: str, name: str) -> str | None:
    data = _load_yaml(text)
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


# ---- semver (npm flavour) and where a dependency is declared ----------------------------------

_SEMVER = re.compile(
    r"^v?(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)


@dataclass(frozen=True, order=False)
class SemVer:
    """A SemVer 2.0.0 version ordered by its precedence rules (section 11); build metadata is ignored.

    npm's canaries and release candidates are prereleases: `15.6.0-canary.58 < 15.6.0`, and
    `14.3.0-canary.77 > 14.2.35` because the core version decides first.
    """

    major: int
    minor: int
    patch: int
    prerelease: tuple[int | str, ...] = ()

    @classmethod
    def parse(cls, text: str) -> SemVer | None:
        match = _SEMVER.match(text.strip())
        if match is None:
            return None
        pre: tuple[int | str, ...] = ()
        if match.group(4):
            pre = tuple(int(p) if p.isdigit() else p for p in match.group(4).split("."))
        return cls(int(match.group(1)), int(match.group(2)), int(match.group(3)), pre)

    def _key(self) -> tuple[int, int, int, int, tuple[tuple[int, int, str], ...]]:
        # A release sorts after all of its prereleases; numeric identifiers sort before alphanumeric ones.
        pre = tuple((0, p, "") if isinstance(p, int) else (1, 0, p) for p in self.prerelease)
        return (self.major, self.minor, self.patch, 0 if self.prerelease else 1, pre)

    def __lt__(self, other: SemVer) -> bool:
        return self._key() < other._key()

    def __le__(self, other: SemVer) -> bool:
        return self._key() <= other._key()

    def __gt__(self, other: SemVer) -> bool:
        return self._key() > other._key()

    def __ge__(self, other: SemVer) -> bool:
        return self._key() >= other._key()

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return core + ("-" + ".".join(str(p) for p in self.prerelease) if self.prerelease else "")


def is_exact_version(declared: str) -> bool:
    """True when a package.json specifier pins one version ("15.1.0", "=15.1.0"), not a range."""
    return SemVer.parse(declared.strip().lstrip("=").strip()) is not None


_NO_KEY = "\x00"
"""Marks containers that are not the value of an object key (arrays, the document root)."""


class JsonKeyPosition(NamedTuple):
    line: int
    """1-based."""
    column: int
    """1-based, at the key's opening quote."""


def json_key_position(text: str, path: tuple[str, ...]) -> JsonKeyPosition | None:
    """Where the key at `path` (e.g. ("dependencies", "next")) is written in a JSON document.

    A small tokenizer that tracks the path of open objects, so a key of the same name in another
    section (peerDependencies, overrides) is not mistaken for it. Unparseable text yields None.
    """
    # One entry per open container: the key it is the value of; arrays and the root get _NO_KEY.
    open_keys: list[str] = []
    pending_key = _NO_KEY
    last_string: tuple[str, int] | None = None
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            start = i
            i += 1
            while i < n and text[i] != '"':
                i += 2 if text[i] == "\\" else 1
            try:
                value = json.loads(text[start : i + 1])
            except ValueError:
                return None
            last_string = (value, start) if isinstance(value, str) else None
            i += 1
            continue
        if c == ":" and last_string is not None:
            key, start = last_string
            if (*open_keys[1:], key) == path and _NO_KEY not in open_keys[1:]:
                line = text.count("\n", 0, start) + 1
                column = start - (text.rfind("\n", 0, start) + 1) + 1
                return JsonKeyPosition(line, column)
            pending_key = key
        elif c == "{":
            open_keys.append(pending_key)
            pending_key = _NO_KEY
        elif c == "[":
            open_keys.append(_NO_KEY)
            pending_key = _NO_KEY
        elif c in "}]":
            if open_keys:
                open_keys.pop()
            pending_key = _NO_KEY
        elif c == ",":
            pending_key = _NO_KEY
        if not c.isspace():
            last_string = None
        i += 1
    return None


DEPENDENCY_SECTIONS = ("dependencies", "devDependencies", "optionalDependencies", "peerDependencies")


def dependency_position(index: ProjectIndex, name: str) -> JsonKeyPosition | None:
    """The line and column of `name`'s entry in the app's package.json dependency sections."""
    f = index.files.get("package.json")
    if f is None:
        return None
    for section in DEPENDENCY_SECTIONS:
        position = json_key_position(f.text, (section, name))
        if position is not None:
            return position
    return None


# ---- workspaces: the lockfile of a monorepo sits above the app --------------------------------------

WORKSPACE_LOOKUP_LEVELS = 6
"""How many folders above an app are searched for a workspace lockfile (turborepo/nx layouts are shallow)."""


def _from_npm_workspace(text: str, name: str, importer: str) -> str | None:
    try:
        data = json.loads(text)
    except ValueError:
        return None
    packages = data.get("packages") if isinstance(data, dict) else None
    if not isinstance(packages, dict):
        return None
    # npm hoists to the root node_modules unless the workspace needs a different version.
    for key in (f"{importer}/node_modules/{name}", f"node_modules/{name}"):
        entry = packages.get(key)
        if isinstance(entry, dict) and isinstance(entry.get("version"), str):
            return _clean(entry["version"])
    return None


def _from_pnpm_workspace(text: str, name: str, importer: str) -> str | None:
    data = _load_yaml(text)
    importers = data.get("importers") if isinstance(data, dict) else None
    root = importers.get(importer) if isinstance(importers, dict) else None
    if not isinstance(root, dict):
        return None
    for section in ("dependencies", "devDependencies"):
        deps = root.get(section)
        if isinstance(deps, dict) and name in deps:
            entry = deps[name]
            raw = entry.get("version") if isinstance(entry, dict) else entry
            if isinstance(raw, str) and not raw.startswith("link:"):
                return _clean(raw)
    return None


def _from_yarn_workspace(text: str, name: str, importer: str) -> str | None:
    return _from_yarn(text, name)


_WORKSPACE_READERS = (
    ("package-lock.json", _from_npm_workspace),
    ("pnpm-lock.yaml", _from_pnpm_workspace),
    ("yarn.lock", _from_yarn_workspace),
)


def resolve_workspace_version(index: ProjectIndex, name: str) -> ResolvedVersion | None:
    """The version a monorepo's lockfile (in a folder above the app) records for `name`.

    `source` is the lockfile's path relative to the app (`../../pnpm-lock.yaml`). The search stops
    at a repository root (a `.git` entry) or after WORKSPACE_LOOKUP_LEVELS folders.
    """
    app = index.root.resolve()
    folder = app
    for level in range(1, WORKSPACE_LOOKUP_LEVELS + 1):
        if (folder / ".git").exists() or folder.parent == folder:
            return None
        folder = folder.parent
        importer = app.relative_to(folder).as_posix()
        for filename, reader in _WORKSPACE_READERS:
            path = folder / filename
            try:
                text = path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError):
                continue
            version = reader(text, name, importer)
            if version:
                return ResolvedVersion(version, "../" * level + filename)
    return None
