"""Installed package versions, read from the lockfile when there is one (npm, pnpm, yarn classic and berry).

The declared range in package.json says what may be installed; the lockfile says what is. Rules that
judge versions (LL016) prefer the lockfile and fall back to the lowest version the range admits.
"""

from __future__ import annotations

import json
import os
import re
import stat
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from leakline.scan.index import ProjectIndex

_VERSION = re.compile(r"(\d+)\.(\d+)\.(\d+)(?:-([0-9A-Za-z.-]+))?")


class ResolvedVersion(NamedTuple):
    version: str
    source: str
    """The file the version was read from (a lockfile, package.json, or the pnpm-workspace.yaml of a catalog)."""
    declared: str | None = None
    """The range the version stands for (the lowest it admits) when read from package.json or a catalog."""


def _clean(version: str) -> str | None:
    # pnpm appends peer suffixes: "15.1.0(react-dom@19.0.0)(react@19.0.0)"; ranges start with ^ ~ >= =.
    match = _VERSION.search(version.split("(", 1)[0])
    return match.group(0) if match else None


LOCKFILE_NAMES = ("package-lock.json", "pnpm-lock.yaml", "yarn.lock")
LOCKFILE_MAX_BYTES = 256 * 1024 * 1024
"""Lockfiles are read whatever `[scan] max_file_bytes` says (a monorepo's is 5-30 MB, and without it LL016 judges
the package.json range); above this they are skipped and counted: no real lockfile comes near it."""
LOCKFILE_TOO_LARGE = f"lockfile larger than {LOCKFILE_MAX_BYTES // (1024 * 1024)} MB"
"""The skip reason of a lockfile over LOCKFILE_MAX_BYTES."""


class _Lock(ABC):
    """What a lockfile records, kept compact: a 20 MB package-lock.json is parsed once per scan (not once per
    package and app), and only the package -> version facts the lookups need are kept, not its parsed tree."""

    @abstractmethod
    def app_version(self, name: str, declared: str | None) -> str | None:
        """The version the lockfile installs for the app at its own folder (`declared`: its package.json range)."""

    @abstractmethod
    def importer_version(self, name: str, importer: str, declared: str | None) -> str | None:
        """The version a workspace lockfile installs for the app at `importer` (its folder, relative)."""


class _NpmLock(_Lock):
    def __init__(self, data: object) -> None:
        self.paths: dict[str, str] = {}
        """`packages` key (`node_modules/next`, `apps/web/node_modules/next`) -> version (lockfile v2, v3)."""
        self.v1: dict[str, str] = {}
        """Top-level `dependencies` name -> version (lockfile v1)."""
        if not isinstance(data, dict):
            return
        for section, out in (("packages", self.paths), ("dependencies", self.v1)):
            entries = data.get(section)
            if not isinstance(entries, dict):
                continue
            for key, entry in entries.items():
                if isinstance(key, str) and isinstance(entry, dict) and isinstance(entry.get("version"), str):
                    out[key] = entry["version"]

    def app_version(self, name: str, declared: str | None) -> str | None:
        raw = self.paths.get(f"node_modules/{name}") or self.v1.get(name)
        return _clean(raw) if raw else None

    def importer_version(self, name: str, importer: str, declared: str | None) -> str | None:
        # npm hoists to the root node_modules unless the workspace needs a different version.
        raw = self.paths.get(f"{importer}/node_modules/{name}") or self.paths.get(f"node_modules/{name}")
        return _clean(raw) if raw else None


_PNPM_IMPORTER_SECTIONS = ("importers", "dependencies", "devDependencies", "optionalDependencies")
_PNPM_DEPENDENCY_SECTIONS = ("dependencies", "devDependencies", "optionalDependencies")


def _package_key(key: str) -> tuple[str, str] | None:
    """(name, version) of a pnpm `packages` key: `next@15.1.0(react@19.0.0)`, `/next@15.1.0`, `/next/15.1.0`
    (lockfile 5), `'@scope/pkg@1.0.0'`."""
    key = key.strip().removesuffix(":").strip("'\"").lstrip("/")
    scope = ""
    if key.startswith("@"):
        scope, _, key = key.partition("/")
        scope += "/"
    cut = min((i for i in (key.find("@"), key.find("/")) if i > 0), default=-1)
    if cut < 0:
        return None
    return scope + key[:cut], key[cut + 1 :]


class _PnpmLock(_Lock):
    def __init__(self, text: str) -> None:
        self.importers: dict[str, dict[str, str]] = {}
        """Importer folder ("." for the root) -> dependency name -> version as written (peer suffixes and all)."""
        self.packages: dict[str, str] = {}
        """Package name -> the version of its first `packages` entry."""
        wanted: list[str] = []
        section = ""
        # pnpm writes block YAML with top-level sections at column 0. Only the importers (or lockfile 5's
        # top-level dependencies) are parsed as YAML; `packages` and `snapshots` (nearly all of a large
        # lockfile: PyYAML takes seconds per MB) are only scanned for their keys.
        for line in text.splitlines():
            if line[:1] not in ("", " ", "#", "\t"):
                section = line.split(":", 1)[0].strip().strip("'\"")
                if section in _PNPM_IMPORTER_SECTIONS:
                    wanted.append(line)
                continue
            if section in _PNPM_IMPORTER_SECTIONS:
                wanted.append(line)
            elif section == "packages" and line.startswith("  ") and line[2:3] not in (" ", "#", ""):
                parsed = _package_key(line)
                if parsed is not None:
                    self.packages.setdefault(parsed[0], parsed[1])
        data = _load_yaml("\n".join(wanted)) if wanted else None
        if not isinstance(data, dict):
            return
        importers = data.get("importers")
        roots = dict(importers) if isinstance(importers, dict) else {".": data}
        for importer, root in roots.items():
            if not isinstance(root, dict):
                continue
            deps: dict[str, str] = {}
            for sub in _PNPM_DEPENDENCY_SECTIONS:
                entries = root.get(sub)
                if not isinstance(entries, dict):
                    continue
                for dep, entry in entries.items():
                    raw = entry.get("version") if isinstance(entry, dict) else entry
                    if isinstance(dep, str) and isinstance(raw, str):
                        deps.setdefault(dep, raw)
            self.importers[str(importer)] = deps

    def app_version(self, name: str, declared: str | None) -> str | None:
        raw = self.importers.get(".", {}).get(name)
        if raw:
            return _clean(raw)
        raw = self.packages.get(name)
        return _clean(raw) if raw else None

    def importer_version(self, name: str, importer: str, declared: str | None) -> str | None:
        raw = self.importers.get(importer, {}).get(name)
        # `link:` is a workspace package of the same name, not an installed release.
        if raw and not raw.startswith("link:"):
            return _clean(raw)
        return None


def _selector_name(selector: str) -> tuple[str, str] | None:
    """(name, range) of a yarn.lock selector: `next@^15.0.0`, `@scope/x@npm:^1.0.0` (berry)."""
    cut = selector.find("@", 1)
    return (selector[:cut], selector[cut + 1 :]) if cut > 0 else None


class _YarnLock(_Lock):
    def __init__(self, text: str) -> None:
        self.entries: dict[str, list[tuple[frozenset[str], str]]] = {}
        """Package name -> (the ranges its entry resolves, version) of each entry, in file order."""
        ranges: dict[str, set[str]] = {}
        for line in text.splitlines():
            if not line or line[0] == "#":
                continue
            if line[0] != " ":
                ranges = {}
                for raw in line.rstrip().removesuffix(":").split(","):
                    parsed = _selector_name(raw.strip().strip('"'))
                    if parsed is not None:
                        ranges.setdefault(parsed[0], set()).add(parsed[1])
                continue
            stripped = line.strip()
            # The entry's own `version` is indented once; a dependency named `version` is indented deeper.
            if ranges and stripped.startswith("version") and not line.startswith("    "):
                value = stripped[len("version") :].lstrip(":").strip().strip('"')
                for package, specs in ranges.items():
                    self.entries.setdefault(package, []).append((frozenset(specs), value))
                ranges = {}

    def _version(self, name: str, declared: str | None) -> str | None:
        entries = self.entries.get(name, [])
        if declared:
            # A monorepo's yarn.lock may hold several versions of one package: the app's range picks its own.
            wanted = {declared, f"npm:{declared}"}
            for specs, version in entries:
                if specs & wanted:
                    return _clean(version)
        return _clean(entries[0][1]) if entries else None

    def app_version(self, name: str, declared: str | None) -> str | None:
        return self._version(name, declared)

    def importer_version(self, name: str, importer: str, declared: str | None) -> str | None:
        return self._version(name, declared)


def _load_yaml(text: str) -> object:
    """The parsed document, None when it is not YAML. PyYAML is imported here: most apps have no pnpm lockfile."""
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 (a safe loader, libyaml's when there is one)
    except yaml.YAMLError:
        return None


def _parse(filename: str, data: bytes) -> _Lock | None:
    if filename == "package-lock.json":
        try:
            return _NpmLock(json.loads(data))
        except ValueError:
            return None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    return _PnpmLock(text) if filename == "pnpm-lock.yaml" else _YarnLock(text)


_LOCK_CACHE: dict[tuple[str, int, int, int], _Lock | None] = {}
_LOCK_CACHE_SIZE = 4
"""Lockfiles kept parsed: each app of a monorepo reads the same root lockfile. A scan starts and ends with an
empty cache (`forget_lockfiles`): a lockfile rewritten between two scans within the file system's timestamp
granularity, with the same size, is not taken for the old one."""


def forget_lockfiles() -> None:
    _LOCK_CACHE.clear()


def _read_lock(path: Path, filename: str) -> _Lock | None:
    """The parsed lockfile at `path`, None when it is absent, unreadable, not a lockfile or over the hard cap
    (the engine counts and names those, see `oversized_workspace_lockfiles`)."""
    try:
        st = path.stat()
    except OSError:
        return None
    if not stat.S_ISREG(st.st_mode):
        return None
    if st.st_size > LOCKFILE_MAX_BYTES:
        return None
    key = (os.fspath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key not in _LOCK_CACHE:
        try:
            with path.open("rb") as fh:
                data = fh.read(LOCKFILE_MAX_BYTES + 1)
        except OSError:
            return None
        while len(_LOCK_CACHE) >= _LOCK_CACHE_SIZE:
            del _LOCK_CACHE[next(iter(_LOCK_CACHE))]
        _LOCK_CACHE[key] = _parse(filename, data)
    return _LOCK_CACHE[key]


def resolve_version(index: ProjectIndex, name: str) -> ResolvedVersion | None:
    """The version the app's own lockfile records for `name`, else the one its package.json declares
    (a range by the lowest version it admits); None when neither says."""
    declared = index.declared_dependency(name)
    for filename in LOCKFILE_NAMES:
        f = index.files.get(filename)
        if f is None:
            continue
        lock = _read_lock(f.abs, filename)
        version = lock.app_version(name, declared) if lock is not None else None
        if version:
            return ResolvedVersion(version, filename)
    if declared:
        version = _clean(declared)
        if version:
            return ResolvedVersion(version, "package.json", declared)
    return None


def installed_version(index: ProjectIndex, name: str) -> str | None:
    """The best knowledge of `name`'s installed version: the app's lockfile, a monorepo's lockfile above the
    app, the package.json range, a pnpm catalog."""
    resolved = resolve_installed(index, name)
    return resolved.version if resolved else None


def resolve_installed(index: ProjectIndex, name: str) -> ResolvedVersion | None:
    """`resolve_version`, with a monorepo's workspace lockfile preferred to a package.json range, and consulted
    when package.json names no version at all (`catalog:`, `latest`, `*`, `workspace:*`); a pnpm catalog
    (`pnpm-workspace.yaml`) is the last resort."""
    resolved = resolve_version(index, name)
    if resolved is None or resolved.source == "package.json":
        resolved = resolve_workspace_version(index, name) or resolved or resolve_catalog_version(index, name)
    return resolved


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


def lockfile_entry_position(path: Path, filename: str, name: str) -> JsonKeyPosition | None:
    """Where a lockfile records package `name`: npm's `"node_modules/<name>":` key, else the first pnpm or yarn
    entry key for it (`next@15.1.0:`, `"next@^15.0.0", next@15.1.0:`). One regex search over the text, so a
    30 MB lockfile costs a read, not a tokenizer pass."""
    try:
        with path.open("rb") as fh:
            text = fh.read(LOCKFILE_MAX_BYTES + 1).decode("utf-8-sig", errors="replace")
    except OSError:
        return None
    if filename == "package-lock.json":
        match = re.compile(re.escape(json.dumps(f"node_modules/{name}")) + r"\s*:").search(text)
        start = match.start() if match else -1
    else:
        match = re.compile(r"^([ \t]*)['\"]?/?" + re.escape(name) + "@", re.MULTILINE).search(text)
        start = match.start() + len(match.group(1)) if match else -1
    if start < 0:
        return None
    line_start = text.rfind("\n", 0, start) + 1
    return JsonKeyPosition(text.count("\n", 0, start) + 1, start - line_start + 1)


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


def _workspace_folders(app_root: Path) -> list[tuple[Path, str, str]]:
    """(folder, the app's folder relative to it, the way to it from the app: `../../`) of each folder above the
    app searched for a workspace lockfile. The search stops at a repository root (a `.git` entry) or after
    WORKSPACE_LOOKUP_LEVELS folders."""
    app = app_root.resolve()
    folder = app
    out = []
    for level in range(1, WORKSPACE_LOOKUP_LEVELS + 1):
        if (folder / ".git").exists() or folder.parent == folder:
            break
        folder = folder.parent
        out.append((folder, app.relative_to(folder).as_posix(), "../" * level))
    return out


def resolve_workspace_version(index: ProjectIndex, name: str) -> ResolvedVersion | None:
    """The version a monorepo's lockfile (in a folder above the app) records for `name`: the pnpm importer of
    the app's folder, npm's `apps/web/node_modules/next` or hoisted `node_modules/next`, yarn's entry for the
    app's range. `source` is the lockfile's path relative to the app (`../../pnpm-lock.yaml`)."""
    declared = index.declared_dependency(name)
    for folder, importer, up in _workspace_folders(index.root):
        for filename in LOCKFILE_NAMES:
            lock = _read_lock(folder / filename, filename)
            version = lock.importer_version(name, importer, declared) if lock is not None else None
            if version:
                return ResolvedVersion(version, up + filename)
    return None


def oversized_workspace_lockfiles(app_root: Path) -> list[str]:
    """The lockfiles above the app (`../../pnpm-lock.yaml`) that `resolve_workspace_version` would read but
    does not, being over LOCKFILE_MAX_BYTES: the scan counts and names them."""
    out = []
    for folder, _, up in _workspace_folders(app_root):
        for filename in LOCKFILE_NAMES:
            try:
                if (folder / filename).stat().st_size > LOCKFILE_MAX_BYTES:
                    out.append(up + filename)
            except OSError:
                continue
    return out


PNPM_WORKSPACE = "pnpm-workspace.yaml"


def resolve_catalog_version(index: ProjectIndex, name: str) -> ResolvedVersion | None:
    """The version a pnpm catalog gives `name` when package.json says `catalog:` or `catalog:<name>`: the
    `catalog:` (default) or `catalogs:` map of the nearest pnpm-workspace.yaml (the app's folder or above).
    Used when no lockfile says what is installed; a range counts by the lowest version it admits."""
    declared = (index.declared_dependency(name) or "").strip()
    if not declared.startswith("catalog:"):
        return None
    catalog = declared.removeprefix("catalog:").strip() or "default"
    app = index.root.resolve()
    for folder, _, up in [(app, "", ""), *_workspace_folders(index.root)]:
        path = folder / PNPM_WORKSPACE
        try:
            text = path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError):
            continue
        data = _load_yaml(text)
        if not isinstance(data, dict):
            return None
        named = data.get("catalogs")
        entries = named.get(catalog) if isinstance(named, dict) else None
        if catalog == "default" and not isinstance(entries, dict):
            entries = data.get("catalog")
        spec = entries.get(name) if isinstance(entries, dict) else None
        if not isinstance(spec, str):
            return None
        version = _clean(spec)
        return ResolvedVersion(version, up + PNPM_WORKSPACE, spec) if version else None
    return None
