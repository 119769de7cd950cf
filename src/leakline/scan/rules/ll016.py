"""LL016: the installed `next` / `react-server-dom-*` version lies inside a known advisory's affected range.

The advisories are data (`leakline/scan/advisories.toml`, one entry per advisory with its ids, ranges
per package, fixed versions, summary, sources and applicability conditions). The version is read from
the app's lockfile, else from a monorepo's workspace lockfile above the app, else from package.json (a
range is judged by the lowest version it admits, with medium confidence). An advisory is reported only
when its conditions hold in the app (a middleware bypass needs a middleware; a Pages Router cache
poisoning needs a pages/ tree), and the finding sits on the package.json line that declares the
dependency.
"""

from __future__ import annotations

import datetime as dt
import itertools
import posixpath
import tomllib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from functools import cache
from importlib import resources
from typing import NamedTuple

from leakline.errors import IntegrityError
from leakline.findings import Confidence, Severity
from leakline.scan import parse as ts
from leakline.scan.context import ScanContext
from leakline.scan.index import ProjectIndex, _strip_app_prefix
from leakline.scan.lockfiles import (
    JsonKeyPosition,
    ResolvedVersion,
    SemVer,
    dependency_position,
    is_exact_version,
    lockfile_entry_position,
    resolve_installed,
)
from leakline.scan.routes import MIDDLEWARE_STEMS, _next_before_proxy, locate_middleware, page_extensions
from leakline.scan.rules.base import Hit, Rule, RuleMeta
from leakline.scan.walker import WALKED_PATHS

ADVISORIES_RESOURCE = "advisories.toml"
CONDITIONS = frozenset({"app_router", "pages_router", "middleware", "server_actions", "i18n", "dynamic_routes"})
_CONDITION_TEXT = {
    "app_router": "App Router",
    "pages_router": "Pages Router",
    "middleware": "middleware/proxy present",
    "server_actions": "Server Actions",
    "i18n": "i18n configured",
    "dynamic_routes": "dynamic routes",
}


class AdvisoryDataError(IntegrityError):
    """The advisory data file is malformed; the message names the entry and the field."""


class VersionRange(NamedTuple):
    """[introduced, upper): `upper` is the first patched version of the release line when `patched`,
    else an exclusive bound of a line that got no fix (`until` in the data file)."""

    introduced: SemVer
    upper: SemVer
    patched: bool

    @property
    def fixed(self) -> SemVer | None:
        return self.upper if self.patched else None

    def contains(self, version: SemVer) -> bool:
        return self.introduced <= version < self.upper


class AffectedPackage(NamedTuple):
    package: str
    ranges: tuple[VersionRange, ...]

    def matching_range(self, version: SemVer) -> VersionRange | None:
        return next((r for r in self.ranges if r.contains(version)), None)


class Advisory(NamedTuple):
    ids: tuple[str, ...]
    title: str
    summary: str
    severity: Severity
    published: dt.date
    sources: tuple[str, ...]
    applies_when: frozenset[str]
    affected: tuple[AffectedPackage, ...]

    def affected_package(self, name: str) -> AffectedPackage | None:
        return next((a for a in self.affected if a.package == name), None)


# ---- loading and validating the data file ---------------------------------------------------------


def _get(entry: Mapping[str, object], key: str, where: str) -> object:
    if key not in entry:
        raise AdvisoryDataError(f"{where}: missing field `{key}`")
    return entry[key]


def _wrong_type(where: str, key: str, expected: str, value: object) -> AdvisoryDataError:
    return AdvisoryDataError(f"{where}: field `{key}` must be {expected}, got {type(value).__name__}")


def _str(entry: Mapping[str, object], key: str, where: str) -> str:
    value = _get(entry, key, where)
    if not isinstance(value, str) or not value.strip():
        raise _wrong_type(where, key, "a non-empty string", value)
    return value


def _list(entry: Mapping[str, object], key: str, where: str) -> list[object]:
    value = _get(entry, key, where)
    if not isinstance(value, list):
        raise _wrong_type(where, key, "a list", value)
    return value


def _str_list(entry: Mapping[str, object], key: str, where: str, *, allow_empty: bool = False) -> tuple[str, ...]:
    out: list[str] = []
    for item in _list(entry, key, where):
        if not isinstance(item, str) or not item:
            raise AdvisoryDataError(f"{where}: field `{key}` must be a list of non-empty strings")
        out.append(item)
    if not out and not allow_empty:
        raise AdvisoryDataError(f"{where}: field `{key}` must not be empty")
    return tuple(out)


def _version(raw: object, where: str) -> SemVer:
    version = SemVer.parse(raw) if isinstance(raw, str) else None
    if version is None:
        raise AdvisoryDataError(f"{where}: {raw!r} is not a SemVer version")
    return version


def _parse_range(raw: object, where: str) -> VersionRange:
    if not isinstance(raw, dict):
        raise AdvisoryDataError(f"{where}: a range must be a table {{ introduced = ..., fixed = ... }}")
    unknown = set(raw) - {"introduced", "fixed", "until"}
    if unknown:
        raise AdvisoryDataError(f"{where}: unknown range field(s) {', '.join(sorted(unknown))}")
    if ("fixed" in raw) == ("until" in raw):
        raise AdvisoryDataError(f"{where}: a range needs exactly one of `fixed` or `until`")
    introduced = _version(raw.get("introduced"), f"{where}.introduced")
    patched = "fixed" in raw
    upper = _version(raw["fixed" if patched else "until"], f"{where}.{'fixed' if patched else 'until'}")
    if not introduced < upper:
        raise AdvisoryDataError(f"{where}: introduced {introduced} is not below {upper}")
    return VersionRange(introduced, upper, patched)


def _parse_affected(raw: object, where: str) -> AffectedPackage:
    if not isinstance(raw, dict):
        raise AdvisoryDataError(f"{where}: must be a table with `package` and `ranges`")
    package = _str(raw, "package", where)
    ranges_raw = _list(raw, "ranges", where)
    if not ranges_raw:
        raise AdvisoryDataError(f"{where}: `ranges` must not be empty")
    ranges = tuple(_parse_range(r, f"{where}.ranges[{i}]") for i, r in enumerate(ranges_raw))
    ordered = sorted(ranges, key=lambda r: r.introduced)
    for low, high in itertools.pairwise(ordered):
        if high.introduced < low.upper:
            raise AdvisoryDataError(f"{where}: ranges starting at {low.introduced} and {high.introduced} overlap")
    return AffectedPackage(package, ranges)


def _parse_advisory(raw: object, where: str) -> Advisory:
    if not isinstance(raw, dict):
        raise AdvisoryDataError(f"{where}: must be a table")
    ids = _str_list(raw, "ids", where)
    severity_raw = _str(raw, "severity", where)
    try:
        severity = Severity(severity_raw)
    except ValueError:
        raise AdvisoryDataError(f"{where}: severity {severity_raw!r} is not one of critical/high/medium/low") from None
    published = _get(raw, "published", where)
    if not isinstance(published, dt.date) or isinstance(published, dt.datetime):
        raise _wrong_type(where, "published", "a TOML date (YYYY-MM-DD)", published)
    sources = _str_list(raw, "sources", where)
    for url in sources:
        if not url.startswith("https://"):
            raise AdvisoryDataError(f"{where}: source {url!r} must be an https:// URL")
    conditions = _str_list(raw, "applies_when", where, allow_empty=True)
    unknown = set(conditions) - CONDITIONS
    if unknown:
        raise AdvisoryDataError(
            f"{where}: unknown condition(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(CONDITIONS))}"
        )
    affected_raw = _list(raw, "affected", where)
    if not affected_raw:
        raise AdvisoryDataError(f"{where}: needs at least one [[advisory.affected]] table")
    return Advisory(
        ids=ids,
        title=_str(raw, "title", where),
        summary=_str(raw, "summary", where),
        severity=severity,
        published=published,
        sources=sources,
        applies_when=frozenset(conditions),
        affected=tuple(_parse_affected(a, f"{where}.affected[{i}]") for i, a in enumerate(affected_raw)),
    )


def load_advisories(text: str, source: str = ADVISORIES_RESOURCE) -> tuple[Advisory, ...]:
    """Parse and validate advisory data; every problem raises `AdvisoryDataError` naming entry and field."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise AdvisoryDataError(f"{source}: not valid TOML: {exc}") from None
    entries = data.get("advisory")
    if not isinstance(entries, list) or not entries:
        raise AdvisoryDataError(f"{source}: expected one or more [[advisory]] tables")
    return tuple(_parse_advisory(e, f"{source}: advisory[{i}]") for i, e in enumerate(entries))


@cache
def default_advisories() -> tuple[Advisory, ...]:
    text = resources.files("leakline.scan").joinpath(ADVISORIES_RESOURCE).read_text(encoding="utf-8")
    return load_advisories(text)


# ---- applicability: facts about the scanned app ---------------------------------------------------

_FIRST_STATEMENT_QUERY = "(statement_block . (expression_statement (string) @directive))"
_PAIR_KEY_QUERY = "(pair key: (_) @key)"


def _present_paths(index: ProjectIndex) -> Collection[str]:
    """Every file path of the app the walk found, read or not: an App Router whose `app/**` `[scan] exclude`
    leaves out, or a middleware too large or unreadable to index, still runs in production."""
    walked: Collection[str] | None = index.__dict__.get(WALKED_PATHS)
    return walked if walked is not None else index.files.keys()


def _router_sources(index: ProjectIndex, router: str) -> Iterator[str]:
    """The paths of the app's source files in its App Router (`router` "app") or Pages Router ("pages")."""
    for rel in _present_paths(index):
        split = _strip_app_prefix(rel)
        if split is None or split[0] != router or rel.endswith(".d.ts"):
            continue
        if posixpath.splitext(rel)[1].lower() in ts.SOURCE_SUFFIXES:
            yield rel


def _has_app_router(index: ProjectIndex) -> bool:
    return any(True for _ in _router_sources(index, "app"))


def _has_pages_router(index: ProjectIndex) -> bool:
    return any(True for _ in _router_sources(index, "pages"))


def _convention_folder(paths: Collection[str]) -> str | None:
    """`leakline.scan.routes.convention_folder` over paths: "" or "src/" by where `pages/` or `app/` lies."""
    for router in ("pages", "app"):
        for folder in ("", "src/"):
            if any(rel.startswith(f"{folder}{router}/") for rel in paths):
                return folder
    return None


def _has_middleware(index: ProjectIndex) -> bool:
    # A middleware.ts Next.js ignores (root level beside src/app) is never built: its bypasses do not apply.
    if locate_middleware(index).active is not None:
        return True
    paths = _present_paths(index)
    unindexed = [rel for rel in paths if rel not in index.files]
    if not unindexed:
        return False
    # A middleware/proxy the walk found but the index lacks (excluded, too large, unreadable): judged by its
    # place and name alone, as `locate_middleware` judges an indexed one.
    folder = _convention_folder(paths)
    stems = ("middleware",) if _next_before_proxy(index) is not None else MIDDLEWARE_STEMS
    extensions = page_extensions(index)
    for rel in unindexed:
        head, dot, ext = rel.rpartition(".")
        at, _, stem = head.rpartition("/")
        at = at + "/" if at else ""
        if not dot or stem not in stems or at not in ("", "src/") or f".{ext}" not in ts.SOURCE_SUFFIXES:
            continue
        if (folder is None or at == folder) and (extensions is None or ext in extensions):
            return True
    return False


def _has_server_actions(index: ProjectIndex) -> bool:
    for f in index.sources:
        if b"use server" not in f.data():
            continue
        if f.directive == "use server":
            return True
        root, lang = f.root, f.language
        if root is None or lang is None:
            continue
        # Inline Server Actions: a function whose body starts with the 'use server' directive.
        if any(
            ts.string_value(n) == "use server"
            for n in ts.captures(lang, _FIRST_STATEMENT_QUERY, root).get("directive", [])
        ):
            return True
    return False


def _has_i18n(index: ProjectIndex) -> bool:
    f = index.next_config
    if f is None or b"i18n" not in f.data() or f.root is None or f.language is None:
        return False
    for key in ts.captures(f.language, _PAIR_KEY_QUERY, f.root).get("key", []):
        name = ts.string_value(key) if key.type == "string" else ts.text(key)
        if name == "i18n":
            return True
    return False


def _has_dynamic_routes(index: ProjectIndex) -> bool:
    for rel in itertools.chain(_router_sources(index, "app"), _router_sources(index, "pages")):
        if any(part.startswith("[") for part in rel.split("/")):
            return True
    return False


_CONDITION_CHECKS: dict[str, Callable[[ProjectIndex], bool]] = {
    "app_router": _has_app_router,
    "pages_router": _has_pages_router,
    "middleware": _has_middleware,
    "server_actions": _has_server_actions,
    "i18n": _has_i18n,
    "dynamic_routes": _has_dynamic_routes,
}


class AppFacts:
    """Applicability conditions, each computed at most once per app."""

    def __init__(self, index: ProjectIndex) -> None:
        self._index = index
        self._known: dict[str, bool] = {}

    def holds(self, condition: str) -> bool:
        if condition not in self._known:
            self._known[condition] = _CONDITION_CHECKS[condition](self._index)
        return self._known[condition]

    def all_hold(self, conditions: Iterable[str]) -> bool:
        return all(self.holds(c) for c in sorted(conditions))


# ---- matching -------------------------------------------------------------------------------------


class AdvisoryMatch(NamedTuple):
    advisory: Advisory
    range: VersionRange


def matching_advisories(
    package: str, version: SemVer, advisories: Iterable[Advisory], facts: AppFacts
) -> list[AdvisoryMatch]:
    out = []
    for advisory in advisories:
        affected = advisory.affected_package(package)
        if affected is None:
            continue
        hit = affected.matching_range(version)
        if hit is not None and facts.all_hold(advisory.applies_when):
            out.append(AdvisoryMatch(advisory, hit))
    # Worst first (the message leads with its title); data-file order among equals.
    return sorted(out, key=lambda m: -m.advisory.severity.rank)


def safe_upgrade(package: str, version: SemVer, advisories: Iterable[Advisory], facts: AppFacts) -> SemVer | None:
    """The lowest patched release above `version` that no applicable advisory affects (None if none is known)."""
    applicable = [
        a for adv in advisories if facts.all_hold(adv.applies_when) for a in adv.affected if a.package == package
    ]
    candidates = sorted({r.upper for a in applicable for r in a.ranges if r.patched and r.upper > version})
    # Prefer stable releases: a canary that happens to carry a fix is not an upgrade path.
    for candidate in [c for c in candidates if not c.prerelease] + [c for c in candidates if c.prerelease]:
        if not any(a.matching_range(candidate) for a in applicable):
            return candidate
    return None


def _lockfile_position(index: ProjectIndex, lockfile: str, package: str) -> JsonKeyPosition | None:
    """For a package that package.json does not declare: where the lockfile records it."""
    f = index.files.get(lockfile)
    return lockfile_entry_position(f.abs, lockfile, package) if f is not None else None


def _origin(resolved: ResolvedVersion, from_range: bool) -> str:
    """Where the version came from, for the evidence: a lockfile, or the range (or pin) of package.json or of a
    pnpm catalog."""
    if resolved.source == "package.json":
        return "lowest version the package.json range allows" if from_range else "package.json"
    if resolved.declared is not None:
        catalog = f"{resolved.source} catalog"
        return f"lowest version the {catalog} range allows" if from_range else catalog
    return resolved.source


def _worst(severities: Iterable[Severity]) -> Severity:
    return max(severities, key=lambda s: s.rank)


class VulnerableFrameworkVersion(Rule):
    def __init__(self, meta: RuleMeta, advisories: tuple[Advisory, ...] | None = None) -> None:
        super().__init__(meta)
        self._advisories = advisories

    @property
    def advisories(self) -> tuple[Advisory, ...]:
        return self._advisories if self._advisories is not None else default_advisories()

    def check(self, ctx: ScanContext) -> Iterable[Hit]:
        index = ctx.index
        advisories = self.advisories
        packages = sorted({a.package for adv in advisories for a in adv.affected})
        facts = AppFacts(index)
        for package in packages:
            # A monorepo app has no lockfile of its own: the workspace's one, above it, says what is installed,
            # also when package.json names no version (`catalog:`, `latest`, `workspace:*`).
            resolved = resolve_installed(index, package)
            version = SemVer.parse(resolved.version) if resolved is not None else None
            if resolved is None or version is None:
                continue
            matches = matching_advisories(package, version, advisories, facts)
            if not matches:
                continue
            path, position = "package.json", dependency_position(index, package)
            if position is None:
                path, position = resolved.source, _lockfile_position(index, resolved.source, package)
            if position is None:
                continue
            from_range = resolved.declared is not None and not is_exact_version(resolved.declared)
            ids = [m.advisory.ids[0] for m in matches]
            conditions = sorted({c for m in matches for c in m.advisory.applies_when})
            context = f" (applies here: {', '.join(_CONDITION_TEXT[c] for c in conditions)})" if conditions else ""
            upgrade = safe_upgrade(package, version, advisories, facts)
            hint = f"upgrade to {upgrade} or later" if upgrade else "upgrade to a supported release line"
            origin = _origin(resolved, from_range)
            yield Hit(
                path=path,
                line=position.line,
                column=position.column,
                message=(
                    f"{package} {version} is affected by {', '.join(ids)}{context}: {matches[0].advisory.title}; {hint}"
                ),
                evidence=f"{package}@{version} ({origin})",
                key=f"{package} {' '.join(ids)}",
                severity=_worst(m.advisory.severity for m in matches),
                confidence=Confidence.MEDIUM if from_range else Confidence.HIGH,
                text_columns=True,
            )


RULE_CLASS = VulnerableFrameworkVersion
