"""Runs the rules over every app under a path and turns their hits into findings.

Per app: load its leakline.toml, walk its files, build the index, run each rule. Then, for all
hits: registry metadata, one finding per (rule, file, line), precedence between rules (LL008 over
LL007), inline `leakline-ignore` suppressions, fingerprints, and the baseline (baselined findings are
kept, marked suppressed, so SARIF can carry them as suppressions).
"""

from __future__ import annotations

import gc
import os
import posixpath
import signal
import stat
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from leakline.configfile import CONFIG_FILENAME, ScanAppSettings, inherited_scan_settings, load_scan_settings
from leakline.errors import UsageError
from leakline.findings import Finding, Severity, fingerprint
from leakline.scan.context import ScanContext
from leakline.scan.hscache import default_cache_dir
from leakline.scan.ignores import ignore_warnings, inline_ignore, precedence_warnings
from leakline.scan.index import (
    EXPORT_PREFIX,
    NOTE_PREFIX,
    ProjectIndex,
    SourceFile,
    WorkspaceLink,
    exports_statically,
)
from leakline.scan.lockfiles import (
    LOCKFILE_MAX_BYTES,
    LOCKFILE_NAMES,
    LOCKFILE_TOO_LARGE,
    forget_lockfiles,
    oversized_workspace_lockfiles,
)
from leakline.scan.routes import RouteFacts, find_llm_routes, route_facts, seed_llm_routes
from leakline.scan.rules import available_rule_ids, load_rule, registry, rule_meta
from leakline.scan.rules.base import Hit, Rule, RuleMeta
from leakline.scan.walker import (
    BROKEN_SYMLINK,
    WALKED_PATHS,
    WalkStats,
    WorkspacePackage,
    app_workspace_packages,
    discover_apps,
    find_workspace,
    packages_above,
    walk_app,
    workspace_packages,
)

if TYPE_CHECKING:
    # Read only when a baseline is configured or given (it brings json writing and tempfile along).
    from leakline.scan.baseline import Baseline

ProgressCallback = Callable[[str, int, int], None]


class ScanStats:
    # Plain classes here and for the scan's other mutable records (not dataclasses): each dataclass generates and
    # compiles its methods when its module is imported, ~1 ms apiece before a scan can start its workers.
    def __init__(self, apps: list[str] | None = None) -> None:
        self.apps: list[str] = apps if apps is not None else []
        self.files_seen = 0
        self.files_indexed = 0
        self.files_parsed = 0
        self.skipped: Counter[str] = Counter()
        self.skipped_files: list[tuple[str, str]] = []
        """`(path relative to the scanned root, reason)` of each file skipped whose path is known (all but
        those the walk skips by folder or by `[scan] exclude`, which `skipped` counts only), sorted."""
        self.notes: Counter[str] = Counter()
        """Files analysed with a caveat (invalid UTF-8, syntax errors)."""
        self.rule_errors: list[str] = []
        """`LLxxx: path: what failed`: each makes the scan incomplete (exit 2), see `leakline.scan.command`."""
        self.warnings: list[str] = []
        """Problems with the scanned code's own leakline markup (`path:line: message`), e.g. a mistyped
        rule id in a `leakline-ignore` comment."""
        self.rule_seconds: dict[str, float] = {}
        self.duration_s = 0.0
        self.disabled_rules: dict[str, list[str]] = {}
        """Rule id -> what switched it off (`--skip-rule`, `apps/web/leakline.toml: scan.disable_rules`): a
        rule that did not run must not read as one that found nothing."""

    def to_dict(self) -> dict[str, object]:
        return {
            "apps": self.apps,
            "files_seen": self.files_seen,
            "files_indexed": self.files_indexed,
            "files_parsed": self.files_parsed,
            "skipped": dict(sorted(self.skipped.items())),
            "skipped_files": [{"path": path, "reason": reason} for path, reason in self.skipped_files],
            "notes": dict(sorted(self.notes.items())),
            "rule_errors": self.rule_errors,
            "warnings": self.warnings,
            "rule_seconds": {rule: round(seconds, 3) for rule, seconds in sorted(self.rule_seconds.items())},
            "duration_s": round(self.duration_s, 3),
            "disabled_rules": dict(sorted(self.disabled_rules.items())),
        }


class ScannedApp(NamedTuple):
    prefix: str
    """The app's folder relative to the scanned root ("." for the root itself)."""
    root: Path
    settings: ScanAppSettings


class Suppression(NamedTuple):
    kind: str
    """"baseline" or "inline" (a `leakline-ignore` comment)."""
    reason: str | None
    """The reason written after the comment's ids (None: none written, and for baselines)."""


class ScanResult:
    def __init__(
        self,
        root: Path,
        findings: list[Finding],
        stats: ScanStats,
        fail_on: Severity,
        apps: list[ScannedApp] | None = None,
        fail_on_override: Severity | None = None,
    ) -> None:
        self.root = root
        self.findings = findings
        self.stats = stats
        self.fail_on = fail_on
        """The --fail-on given on the command line, else the (first) app's `[scan] fail_on`."""
        self.apps: list[ScannedApp] = apps if apps is not None else []
        self.fail_on_override = fail_on_override
        self.inline: dict[tuple[str, str, int], str | None] = {}
        """(rule, path, line) of each finding an inline comment suppresses -> the reason written, if any."""
        self.rules_run: dict[str, frozenset[str]] = {}
        """Each app's folder -> the ids of the rules run on it (what `--write-baseline` may rewrite there)."""
        self.root_baseline: str | None = None
        """The `[scan] baseline` of a monorepo root's own leakline.toml (relative to the root): the baseline of
        the findings outside every app, in shared workspace packages."""

    def suppression_of(self, finding: Finding) -> Suppression | None:
        """How `finding` is suppressed: `Finding.suppressed` alone cannot tell a baseline from an inline
        comment whose reason is the word "baseline"."""
        if finding.suppressed is None:
            return None
        key = (finding.rule, finding.path, finding.line)
        if key in self.inline:
            return Suppression("inline", self.inline[key])
        if finding.suppressed == "baseline":
            return Suppression("baseline", None)
        return Suppression("inline", finding.suppressed)

    @property
    def active(self) -> list[Finding]:
        return [f for f in self.findings if f.suppressed is None]

    def app_of(self, finding: Finding) -> ScannedApp | None:
        """The app a finding belongs to: the one with the longest folder prefix of its path."""
        best: ScannedApp | None = None
        for app in self.apps:
            inside = app.prefix == "." or finding.path.startswith(app.prefix + "/")
            if inside and (best is None or best.prefix == "." or len(app.prefix) > len(best.prefix)):
                best = app
        return best

    def threshold(self, finding: Finding) -> Severity:
        """Each app is judged by its own `[scan] fail_on`, unless --fail-on overrides them all."""
        if self.fail_on_override is not None:
            return self.fail_on_override
        app = self.app_of(finding)
        return Severity(app.settings.scan.fail_on) if app is not None else self.fail_on

    @property
    def failing(self) -> list[Finding]:
        return [f for f in self.active if f.severity.at_least(self.threshold(f))]

    def thresholds(self) -> dict[str, Severity]:
        """Each scanned app's folder (relative to the root, "." for the root) -> the threshold its findings meet."""
        return {
            app.prefix: self.fail_on_override or Severity(app.settings.scan.fail_on)
            for app in sorted(self.apps, key=lambda a: a.prefix)
        }

    def failing_by_app(self) -> list[tuple[str, Severity, int]]:
        """`(app folder, its threshold, its failing findings)` for the apps with failing findings."""
        counts: Counter[str] = Counter()
        for finding in self.failing:
            app = self.app_of(finding)
            counts[app.prefix if app is not None else "."] += 1
        thresholds = self.thresholds()
        return [(prefix, thresholds.get(prefix, self.fail_on), n) for prefix, n in sorted(counts.items())]


def _rel_to_root(prefix: str, rel: str) -> str:
    """`rel` (inside the app) relative to the scanned root; `prefix` is the app's folder there ("." for the root).
    A workspace package's file, indexed with the app as `../../packages/ai/src/index.ts`, is named from the
    root (`packages/ai/src/index.ts`)."""
    if rel.startswith("../"):
        return posixpath.normpath(rel if prefix in ("", ".") else f"{prefix}/{rel}")
    return rel if prefix in ("", ".") else f"{prefix}/{rel}"


def display_path(path: str) -> str:
    """File names that are not valid UTF-8 (kept as surrogate escapes by the OS layer) shown with \\x escapes."""
    return path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_UNCAPPED_PREFIXES = (".next/", "public/", "out/_next/")
_PACKAGE_BUILD_OUTPUT = (".next/", "out/")


def build_index(
    app: Path,
    settings: ScanAppSettings,
    stats: WalkStats,
    nested: set[Path],
    cache_dir: Path | None = None,
    skipped_files: list[tuple[str, str]] | None = None,
    packages: Sequence[WorkspacePackage] = (),
    walked_packages: set[Path] | None = None,
    apps: Iterable[Path] = (),
) -> ProjectIndex:
    """The app's index; `skipped_files` receives `(path inside the app, reason)` of each file left out.

    `packages`: the monorepo packages the app depends on. Those outside the app's folder are walked too and
    their files indexed under their folder relative to the app (`../../packages/ai/src/index.ts`); a package
    already in `walked_packages` (indexed with an earlier app) is not counted in `stats` again; the `apps`
    inside a package's folder are left out of it, as nested apps are."""
    walked_before = len(stats.skipped_paths)
    excluded: list[str] = []
    rels = walk_app(app, exclude=settings.scan.exclude, nested_apps=nested, stats=stats, excluded=excluded)
    present = frozenset(rels).union(excluded)
    named = skipped_files if skipped_files is not None else []
    named.extend(stats.skipped_paths[walked_before:])  # folders left out by accident, named like files
    workspace: dict[str, WorkspaceLink] = {}
    for package in packages:
        prefix = Path(os.path.relpath(package.folder, app)).as_posix()
        workspace[package.name] = (prefix, package.manifest)
        if not prefix.startswith("../"):
            continue  # inside the app's folder: walked with it
        seen_before = walked_packages is not None and package.folder in walked_packages
        package_stats = WalkStats() if seen_before else stats
        before = len(package_stats.skipped_paths)
        inner = {other for other in apps if package.folder in other.parents}
        walked = walk_app(package.folder, exclude=[], nested_apps=inner, stats=package_stats)
        # A package's own build output (`.next/`, a static export) is no part of the app's: its sources are.
        rels += [f"{prefix}/{rel}" for rel in walked if not rel.startswith(_PACKAGE_BUILD_OUTPUT)]
        named.extend((f"{prefix}/{rel}", why) for rel, why in package_stats.skipped_paths[before:])
        if walked_packages is not None:
            walked_packages.add(package.folder)
    files: dict[str, SourceFile] = {}
    counter: Counter[str] = Counter()
    max_bytes = settings.scan.max_file_bytes
    folder = os.fspath(app)
    oversize: list[str] = []
    for rel_s in rels:
        # Strings and os.stat: a Path join and Path.stat per file cost a 5,000-file tree ~50 ms.
        where = os.path.join(folder, rel_s)  # noqa: PTH118
        try:
            st = os.stat(where)  # noqa: PTH116
        except OSError:
            # A link whose target is gone is a checkout problem (a deleted file, a link made on another
            # machine), not a permission one: told apart so that the reason points at the right fix.
            reason = BROKEN_SYMLINK if os.path.islink(where) else "unreadable file"  # noqa: PTH114
            stats.skip(reason)
            named.append((rel_s, reason))
            continue
        size = st.st_size
        if not stat.S_ISREG(st.st_mode):
            # FIFOs, sockets and devices (or links to them, /dev/zero) would block or never end.
            stats.skip("not a regular file")
            named.append((rel_s, "not a regular file"))
            continue
        if rel_s in LOCKFILE_NAMES:
            # Read by LL016 whatever max_file_bytes says (a monorepo's is tens of MB), never parsed as source.
            if size > LOCKFILE_MAX_BYTES:
                stats.skip(LOCKFILE_TOO_LARGE)
                named.append((rel_s, LOCKFILE_TOO_LARGE))
                continue
        elif size > max_bytes and not rel_s.startswith(_UNCAPPED_PREFIXES):
            oversize.append(rel_s)
        files[rel_s] = SourceFile(rel=rel_s, abs=app / rel_s, size=size, stats=counter)
    # Build output is read by a streaming literal engine; only source files have a size cap. A static export's
    # out/ is build output (its 2 MB chunks were skipped, or parsed as source), known once next.config is read.
    static_export = exports_statically(files)
    for rel_s in oversize:
        if static_export and rel_s.startswith(EXPORT_PREFIX):
            continue
        del files[rel_s]
        stats.skip("larger than [scan] max_file_bytes")
        named.append((rel_s, "larger than [scan] max_file_bytes"))
    index = ProjectIndex(
        root=app,
        settings=settings,
        files=files,
        stats=counter,
        cache_dir=cache_dir,
        static_export=static_export,
        workspace=workspace,
    )
    index.__dict__[WALKED_PATHS] = present
    return index


def _workspace_of(
    app: Path, root: Path, workspaces: dict[Path, dict[str, WorkspacePackage]], apps: set[Path]
) -> list[WorkspacePackage]:
    """The workspace packages `app` depends on (directly or through each other), its monorepo's packages read
    once per workspace (`workspaces`). Packages that are apps themselves are scanned as apps, not with others."""
    found = find_workspace(app, root)
    if found is None:
        return []
    folder, globs = found
    if folder not in workspaces:
        workspaces[folder] = workspace_packages(folder, globs)
    return [p for p in app_workspace_packages(app, workspaces[folder]) if p.folder not in apps]


class _Columns:
    """Turns the UTF-8 byte columns of tree-sitter points into the 1-based Unicode code point columns reports
    promise (SARIF declares `columnKind: unicodeCodePoints`): `é` is 2 bytes, an emoji 4, and a byte column
    put a finding after them too far right. Line starts are found once per file, and only for files that are
    not pure ASCII (where both counts agree)."""

    def __init__(self, index: ProjectIndex) -> None:
        self._index = index
        self._starts: dict[str, list[int] | None] = {}

    def _line_starts(self, f: SourceFile) -> list[int] | None:
        if f.rel not in self._starts:
            data = f.data()
            starts: list[int] | None = None
            if not data.isascii():
                # Rows are counted in "\n" as tree-sitter and the text rules count them.
                starts = [0]
                at = data.find(b"\n")
                while at != -1:
                    starts.append(at + 1)
                    at = data.find(b"\n", at + 1)
            self._starts[f.rel] = starts
        return self._starts[f.rel]

    def code_point_column(self, hit: Hit) -> int:
        column = max(1, hit.column)
        if column == 1 or hit.text_columns:
            return column
        f = self._index.get(hit.path)
        if f is None:
            return column
        starts = self._line_starts(f)
        if starts is None or not 0 < hit.line <= len(starts):
            return column
        line_start = starts[hit.line - 1]
        prefix = f.data()[line_start : line_start + column - 1]
        # Characters begin at every byte that is not a UTF-8 continuation byte (10xxxxxx).
        return 1 + sum(1 for b in prefix if b & 0xC0 != 0x80)


def _to_findings(
    meta: RuleMeta,
    hits: list[Hit],
    index: ProjectIndex,
    root: Path,
    app: Path,
    legacy: dict[str, str],
    inline: dict[tuple[str, str, int], str | None],
    columns: _Columns | None = None,
) -> list[Finding]:
    """Findings for `hits`; `legacy` receives, for hits with a `legacy_key`, fingerprint -> the fingerprint an
    older leakline gave them (baselines written then still match); `inline`, (rule, path, line) -> reason of
    each finding a `leakline-ignore` comment suppresses; `columns` (one per app) converts byte columns."""
    columns = columns if columns is not None else _Columns(index)
    out = []
    occurrences: Counter[tuple[str, str]] = Counter()
    legacy_occurrences: Counter[tuple[str, str]] = Counter()
    prefix = app.relative_to(root).as_posix()  # once per rule, not a Path per hit
    for hit in sorted(hits, key=lambda h: (h.path, h.line, h.column)):
        path = display_path(_rel_to_root(prefix, hit.path))
        key = hit.key or hit.message
        occurrence = occurrences[(path, key)]
        occurrences[(path, key)] += 1
        # Fingerprints use the path inside the app, so they match whether the app or its monorepo is scanned.
        app_path = display_path(hit.path)
        fp = fingerprint(meta.id, app_path, key, occurrence)
        if hit.legacy_key is not None:
            before = legacy_occurrences[(path, hit.legacy_key)]
            legacy_occurrences[(path, hit.legacy_key)] += 1
            legacy[fp] = fingerprint(meta.id, app_path, hit.legacy_key, before)
        ignored = inline_ignore(index.get(hit.path), hit.line, meta.id)
        line = max(1, hit.line)
        if ignored is not None:
            inline[(meta.id, path, line)] = ignored.reason
        out.append(
            Finding(
                rule=meta.id,
                severity=hit.severity or meta.severity,
                confidence=hit.confidence or meta.confidence,
                path=path,
                line=line,
                column=columns.code_point_column(hit),
                message=hit.message,
                evidence=hit.evidence,
                references=meta.references,
                fingerprint=fp,
                suppressed=None if ignored is None else ignored.reason or "inline leakline-ignore",
            )
        )
    return out


def _dedupe(findings: list[Finding]) -> list[Finding]:
    metas = registry()
    by_place: dict[tuple[str, str, int], Finding] = {}
    for f in findings:
        key = (f.rule, f.path, f.line)
        if key not in by_place:
            by_place[key] = f
    superseded = {(old, f.path, f.line) for f in by_place.values() for old in metas[f.rule].supersedes}
    kept = [f for key, f in by_place.items() if key not in superseded]
    return sorted(kept, key=lambda f: (f.path, f.line, f.column, f.rule))


MAX_FILE_ERRORS = 5
"""Files a failing per-file rule is retried on and named, after which the rest are counted."""
DEEP_NESTING = "input nested too deeply for the analysis (a very long expression or deeply nested code)"


def _failure(exc: BaseException) -> str:
    """What went wrong in a rule, for its rule error: never the exception's text, which may quote the code."""
    if isinstance(exc, RecursionError):
        return DEEP_NESTING
    import traceback

    where = traceback.extract_tb(exc.__traceback__)[-1]
    return f"internal error {type(exc).__name__} at {Path(where.filename).name}:{where.lineno}"


def _file_in_traceback(exc: BaseException) -> SourceFile | None:
    """The innermost file a failed rule was reading (a `SourceFile` in the locals of its frames): how a rule
    error names a file when the rule cannot be run per file."""
    found: SourceFile | None = None
    tb = exc.__traceback__
    while tb is not None:
        for value in tb.tb_frame.f_locals.values():
            if isinstance(value, SourceFile):
                found = value
        tb = tb.tb_next
    return found


def _run_rule(rule: Rule, ctx: ScanContext, errors: list[str], seconds: dict[str, float], prefix: str) -> list[Hit]:
    """Run one rule; an internal error of a rule is recorded, not raised, so the other rules still report.

    A per-file rule that fails is run again file by file (each on a fresh context: the failed one may hold
    half-made analyses), so that one file it cannot analyse (a 2,000-term string concatenation) costs its
    findings in that file only, and the error names that file. Rule errors make the scan exit 2."""
    started = time.perf_counter()
    try:
        try:
            return list(rule.check(ctx))
        except Exception as exc:
            if not rule.per_file or len(ctx.targets) <= 1:
                culprit = ctx.targets[0] if rule.per_file and ctx.targets else _file_in_traceback(exc)
                where = f"{display_path(_rel_to_root(prefix, culprit.rel))}: " if culprit is not None else ""
                scope = "" if rule.per_file else f"; {rule.meta.id} was not run on the rest of the app"
                errors.append(f"{rule.meta.id}: {where}not checked: {_failure(exc)}{scope}")
                return []
        hits: list[Hit] = []
        retry = ScanContext(ctx.index)
        failed = 0
        targets = ctx.targets
        for n, f in enumerate(targets):
            retry.only = [f]
            try:
                hits.extend(rule.check(retry))
            except Exception as exc:
                errors.append(
                    f"{rule.meta.id}: {display_path(_rel_to_root(prefix, f.rel))}: not checked: {_failure(exc)}"
                )
                retry = ScanContext(ctx.index)
                failed += 1
                if failed >= MAX_FILE_ERRORS and n + 1 < len(targets):
                    # A rule broken for every file: name a few, not thousands, and spend no more time on it.
                    errors.append(f"{rule.meta.id}: not checked in {len(targets) - n - 1} more file(s)")
                    break
        return hits
    finally:
        seconds[rule.meta.id] = seconds.get(rule.meta.id, 0.0) + time.perf_counter() - started


# Below this many source files per worker, forking costs more than it saves (measured with plain forks: two
# workers win from ~150 source files on two cores, also with one core busy elsewhere; at 100 it is a draw).
MIN_SOURCES_PER_WORKER = 75
MAX_WORKERS = 8


def _worker_count(jobs: int | None, sources: int) -> int:
    if jobs is not None:
        return max(1, jobs) if hasattr(os, "fork") else 1
    if sources < 2 * MIN_SOURCES_PER_WORKER or not hasattr(os, "fork"):
        return 1
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(cores, MAX_WORKERS, sources // MIN_SOURCES_PER_WORKER))


class _ShardOutcome:
    """What a shard worker sends back (pickled)."""

    def __init__(
        self,
        hits: dict[str, list[Hit]],
        errors: list[str],
        seconds: dict[str, float],
        parsed: list[str],
        skipped: Counter[str],
        routes: list[RouteFacts] | None = None,
        caveats: dict[str, list[str]] | None = None,
        families: set[str] | None = None,
    ) -> None:
        self.hits = hits
        self.errors = errors
        self.seconds = seconds
        self.parsed = parsed
        """Every file the worker parsed: its chunks' files, and the project modules they import."""
        self.skipped = skipped
        """The index's stats the worker counted, but for the files' own caveats (`caveats`)."""
        self.routes = routes
        self.caveats = caveats if caveats is not None else {}
        """The caveats (skips, notes) of the files the worker read, found in the worker, by file."""
        self.families = families
        """The LLM client families whose calls the worker recognised (None: no LLM-data rule ran there)."""


def _shell(path: Path | str) -> str:
    """`path` as a shell word: a hint's command must work when pasted, spaces and all."""
    import shlex

    return shlex.quote(str(path))


def _merge_outcomes(stats: ScanStats, outcomes: list[_ShardOutcome]) -> None:
    """The workers' file counts and stats, each file counted once: which worker parses a module that files
    of several chunks import depends on which worker took which chunk, and is not what a scan reports."""
    parsed: set[str] = set()
    caveats: set[tuple[str, str]] = set()
    for outcome in outcomes:
        stats.rule_errors.extend(outcome.errors)
        stats.skipped.update(outcome.skipped)
        parsed.update(outcome.parsed)
        caveats.update((rel, key) for rel, keys in outcome.caveats.items() for key in keys)
    stats.files_parsed += len(parsed)
    stats.skipped.update(key for _, key in caveats)


# Set in the parent just before forking; workers inherit the built index instead of rebuilding it, and the
# read end of the pipe the chunks' numbers come through.
_FORK_STATE: tuple[ProjectIndex, list[Rule], list[list[str]], bool, int, str] | None = None

_CHUNK_RECORD = 4
"""Bytes per chunk number in the pipe the workers take their chunks from."""


def _file_cost(f: SourceFile, candidates: frozenset[str]) -> int:
    """A file's expected share of a worker's time: files that may hold LLM data are parsed and analysed
    (~30x the cost of a file the rules rule out from its bytes)."""
    weight = f.size + 2048
    return weight if f.rel in candidates else weight // 32


def _chunks(index: ProjectIndex, workers: int) -> list[list[str]]:
    """Source files in chunks of decreasing expected cost, the costliest files first. Each worker takes the
    next chunk when it is done with the last, so a worker that shares its core with the main process (or with
    anything else) ends up taking fewer, and the workers finish together; each chunk is a fixed set of files
    whatever worker takes it. A chunk is a share of what is left (guided self-scheduling), down to a floor."""
    candidates = index.llm_candidates
    costed = sorted(((_file_cost(f, candidates), f.rel) for f in index.sources), key=lambda c: (-c[0], c[1]))
    remaining = sum(cost for cost, _ in costed)
    # The floor bounds the count (to ~32 a worker, and 4,096 whatever `jobs` says: the pipe holds their numbers).
    floor = max(remaining // (32 * workers), remaining // 4096)
    chunks: list[list[str]] = []
    current: list[str] = []
    current_cost = 0
    for cost, rel in costed:
        current.append(rel)
        current_cost += cost
        if current_cost >= max(floor, remaining // (2 * workers)):
            chunks.append(current)
            remaining -= current_cost
            current, current_cost = [], 0
    if current:
        chunks.append(current)
    return chunks


def _next_chunk(queue: int) -> int | None:
    """The number of the next chunk nobody has taken, or None when all are taken. Pipe reads of a whole
    record are atomic between the workers: each number reaches one of them."""
    record = os.read(queue, _CHUNK_RECORD)
    return int.from_bytes(record, "little") if record else None


def _run_shard(number: int) -> _ShardOutcome:
    if _FORK_STATE is None:
        raise RuntimeError("shard worker started without fork state")
    index, rules, chunks, want_routes, queue, prefix = _FORK_STATE
    before = Counter(index.stats)
    # What the parent found before the fork is its own to count (it parses nothing before it, as a rule).
    inherited = {rel: frozenset(f.__dict__["caveats"]) for rel, f in index.files.items() if "caveats" in f.__dict__}
    inherited_trees = {rel for rel, f in index.files.items() if "tree" in f.__dict__}
    errors: list[str] = []
    seconds: dict[str, float] = {}
    hits: dict[str, list[Hit]] = {rule.meta.id: [] for rule in rules}
    routes: list[RouteFacts] | None = [] if want_routes else None
    families: set[str] | None = set() if _wants_llm_data(rules) else None
    while (chunk := _next_chunk(queue)) is not None:
        files = [index.files[rel] for rel in chunks[chunk]]
        # A context per chunk, as if it were a shard of its own: what the rules learn from a chunk (props
        # seeded by LL010, analyses of the modules its files import) never depends on which chunks the same
        # worker took before it, so the findings do not depend on how the chunks were dealt.
        ctx = ScanContext(index, only=files)
        for rule in rules:
            hits[rule.meta.id].extend(_run_rule(rule, ctx, errors, seconds, prefix))
        if routes is not None:
            routes.extend(route_facts(find_llm_routes(ctx, files)))
        if families is not None:
            from leakline.scan.llmdata import client_families_in

            families |= client_families_in(ctx.llm, [f.rel for f in files if f.rel in index.llm_candidates])
    parsed = [rel for rel, f in index.files.items() if "tree" in f.__dict__ and rel not in inherited_trees]
    caveats: dict[str, list[str]] = {}
    for rel, f in index.files.items():
        found = f.__dict__.get("caveats", frozenset()) - inherited.get(rel, frozenset())
        if found:
            caveats[rel] = sorted(found)
    skipped = Counter(index.stats) - before
    skipped.subtract(key for keys in caveats.values() for key in keys)
    # A rule failing on every chunk is reported once per worker, as it was when a worker ran one shard.
    errors = list(dict.fromkeys(errors))
    return _ShardOutcome(hits, errors, seconds, parsed, +skipped, routes, caveats, families)


@contextmanager
def _sharded(
    index: ProjectIndex, rules: list[Rule], workers: int, want_routes: bool = False, prefix: str = "."
) -> Iterator[Callable[[], list[_ShardOutcome]]]:
    """Start the shard workers; the caller runs project-wide rules meanwhile, then collects the outcomes.

    Each worker is a plain `os.fork` with a pipe for its pickled outcome: multiprocessing's Pool cost a
    300-file scan ~35 ms of its wall time (import, three handler threads, start and teardown) for the same."""
    global _FORK_STATE
    if not rules or workers <= 1:
        yield list
        return
    index.prepare_for_workers()
    import pickle  # noqa: F401 - imported once here, before the fork, not by every worker after it

    chunks = _chunks(index, workers)
    queue, feed = os.pipe()
    try:
        # Every chunk's number is in the pipe before the first fork (a pipe holds 64 KiB, 16,384 numbers, and
        # `_chunks` makes at most ~4,100), and the write end is closed: a worker reading nothing has no chunk left.
        os.write(feed, b"".join(n.to_bytes(_CHUNK_RECORD, "little") for n in range(len(chunks))))
    finally:
        os.close(feed)
    _FORK_STATE = (index, rules, chunks, want_routes, queue, prefix)
    children: list[_Child] = []
    try:
        # Fork before this process parses anything, so that workers do not inherit (and copy) trees. The
        # workers inherit the scan's disabled GC (see `scan`): a collection would also touch, and so copy,
        # the pages of every inherited object just to find nothing to free.
        for number in range(workers):
            children.append(_fork_shard(number))
        _FORK_STATE = None
        yield lambda: [child.outcome() for child in children]
    finally:
        _FORK_STATE = None
        os.close(queue)
        for child in children:
            child.close()


class _Child:
    """One forked shard worker: its pid and the read end of the pipe its outcome comes through."""

    def __init__(self, number: int, pid: int, read_fd: int) -> None:
        self.number = number
        self.pid = pid
        self.read_fd: int | None = read_fd
        self.status: int | None = None

    def outcome(self) -> _ShardOutcome:
        import pickle

        if self.read_fd is None:
            raise RuntimeError(f"scan worker {self.number} was already collected")
        with os.fdopen(self.read_fd, "rb") as pipe:
            self.read_fd = None
            payload = pipe.read()
        self._reap()
        if not payload:
            raise RuntimeError(f"scan worker {self.number} ended without a result ({self._how_it_ended()})")
        ok, value = pickle.loads(payload)  # noqa: S301 - written by our own forked child, a moment ago
        if not ok:
            raise value
        if not isinstance(value, _ShardOutcome):
            raise RuntimeError(f"scan worker {self.number} sent {type(value).__name__}, not its outcome")
        return value

    def close(self) -> None:
        """Reap the worker; one still running (the scan failed or was interrupted meanwhile) is stopped first."""
        if self.read_fd is not None:
            os.close(self.read_fd)
            self.read_fd = None
        if self.status is None:
            with suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGTERM)
            self._reap()

    def _reap(self) -> None:
        if self.status is None:
            _, self.status = os.waitpid(self.pid, 0)

    def _how_it_ended(self) -> str:
        if self.status is not None and os.WIFSIGNALED(self.status):
            return f"killed by signal {os.WTERMSIG(self.status)}"
        return f"exit status {os.waitstatus_to_exitcode(self.status) if self.status is not None else 'unknown'}"


def _fork_shard(number: int) -> _Child:
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid != 0:
        os.close(write_fd)
        return _Child(number, pid, read_fd)
    # The worker: run the shard, send the outcome (or the exception) and leave without running the parent's
    # exit handlers or flushing its inherited output buffers.
    os.close(read_fd)
    code = 0
    try:
        import pickle

        try:
            payload = pickle.dumps((True, _run_shard(number)), pickle.HIGHEST_PROTOCOL)
        except BaseException as exc:  # handed to the parent, which raises it
            code = 1
            try:
                payload = pickle.dumps((False, exc), pickle.HIGHEST_PROTOCOL)
            except Exception:  # an exception that cannot be pickled is described instead
                failure = RuntimeError(f"scan worker {number} failed: {type(exc).__name__}: {exc}")
                payload = pickle.dumps((False, failure), pickle.HIGHEST_PROTOCOL)
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(payload)
    finally:
        os._exit(code)


def _without_skipped(rule_ids: list[str] | None, skipped: list[str]) -> list[str]:
    """The ids a scan runs: `rule_ids` (all rules when None) less `skipped`, each id checked against the registry."""
    for rule_id in skipped:
        rule_meta(rule_id)  # an unknown id is an error, as it is for --rule
    both = sorted(set(skipped) & set(rule_ids or ()))
    if both:
        raise UsageError(
            f"{', '.join(both)}: given to both --rule and --skip-rule", hint="name each rule in one of them only"
        )
    chosen = rule_ids if rule_ids is not None else available_rule_ids()
    return [rule_id for rule_id in chosen if rule_id not in skipped]


class _SelectedRules:
    """The rules a scan runs: their registry entries at once (an unknown id fails before any work), each
    rule's module imported on first use."""

    def __init__(self, ids: list[str]) -> None:
        self.metas = [rule_meta(rule_id) for rule_id in ids]
        self._loaded: dict[str, Rule] = {}

    def get(self, meta: RuleMeta) -> Rule:
        rule = self._loaded.get(meta.id)
        if rule is None:
            rule = self._loaded[meta.id] = load_rule(meta.id)
        return rule


def _skipped_while_reading(index: ProjectIndex, outcomes: list[_ShardOutcome]) -> list[tuple[str, str]]:
    """`(path inside the app, reason)` of the files found unreadable when read, here or in a worker."""
    found: set[tuple[str, str]] = set()
    for rel, f in index.files.items():
        found.update((rel, key) for key in f.__dict__.get("caveats", ()) if not key.startswith(NOTE_PREFIX))
    for outcome in outcomes:
        found.update(
            (rel, key) for rel, keys in outcome.caveats.items() for key in keys if not key.startswith(NOTE_PREFIX)
        )
    return sorted(found)


FRAME_STACK_BYTES = 1536
"""C stack a Python frame may take in the worst case, with a margin: measured on CPython 3.11, a recursion in
which every Python call re-enters the interpreter from C (a property, `any()` over a generator) crashed an
8 MiB stack at ~26,000 frames, ~320 bytes each; the analyses here re-enter from C far less often."""
MAX_RECURSION_LIMIT = 20_000


def recursion_limit_for(stack_bytes: int) -> int:
    """The recursion limit a thread with `stack_bytes` of stack can afford (never below Python's default)."""
    return max(1000, min(MAX_RECURSION_LIMIT, stack_bytes // FRAME_STACK_BYTES))


def _main_stack_bytes() -> int:
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_STACK)
    # Linux grows an unlimited main stack as far as the address space allows; count it as the cap's worth.
    return MAX_RECURSION_LIMIT * FRAME_STACK_BYTES if soft == resource.RLIM_INFINITY else soft


@contextmanager
def _recursion_headroom() -> Iterator[None]:
    """A recursion limit the stack can afford, for the duration of the scan and in the workers it forks (which
    inherit it with the main thread's stack). Python's default of 1,000 frames made the LLM-data analysis
    give up on a 250-term string concatenation (a long system prompt), ~4 frames a term. Only on the main
    thread, whose stack size is known (RLIMIT_STACK); another thread's may be smaller, and keeps the limit."""
    before = sys.getrecursionlimit()
    wanted = before
    if threading.current_thread() is threading.main_thread() and hasattr(os, "fork"):
        wanted = max(before, recursion_limit_for(_main_stack_bytes()))
    sys.setrecursionlimit(wanted)
    try:
        yield
    finally:
        sys.setrecursionlimit(before)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """The cyclic garbage collector off for the duration. A scan makes next to no reference cycles (the
    same peak RSS without it on the 5,000-file bench), yet the collector kept walking its growing heap of
    index entries, tree nodes and analysis facts: ~5 ms of each worker's CPU on a 300-file app, ~100 ms on
    5,000 files."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _wants_llm_data(rules: Iterable[Rule]) -> bool:
    from leakline.scan.llmdata import LLM_DATA_RULES

    return any(rule.meta.id in LLM_DATA_RULES for rule in rules)


def _blind_spots(
    ctx: ScanContext, rules: _SelectedRules, prefix: str, outcomes: Sequence[_ShardOutcome] = ()
) -> list[str]:
    """LLM clients the app uses whose calls no LLM-data rule could see (named, so that a clean scan is not
    mistaken for a safe app). With scan workers, the client families they recognised are unioned: analysing
    every file again here doubled a large app's scan time and memory."""
    from leakline.scan.llmdata import LLM_DATA_RULES, blind_spots

    if not any(meta.id in LLM_DATA_RULES for meta in rules.metas):
        return []
    seen: set[str] | None = None
    if outcomes and all(outcome.families is not None for outcome in outcomes):
        seen = set().union(*(outcome.families or set() for outcome in outcomes))
    return blind_spots(ctx.llm, lambda rel: display_path(_rel_to_root(prefix, rel)), seen_families=seen)


def scan(
    path: Path,
    *,
    fail_on: Severity | None = None,
    baseline_path: Path | None = None,
    rule_ids: list[str] | None = None,
    progress: ProgressCallback | None = None,
    jobs: int | None = None,
    config_baselines: bool = True,
    cache: bool = True,
    meanwhile: Callable[[], object] | None = None,
    skip_rule_ids: list[str] | None = None,
) -> ScanResult:
    """Scan every app under `path`.

    `baseline_path` suppresses findings of every app; without it, each app's `[scan] baseline` applies
    to that app's findings (unless `config_baselines` is False, as when a baseline is being written).
    `jobs`: worker processes for per-file rules (None: one per core on large apps, 1: in this process).
    `cache`: keep compiled Hyperscan databases in the folder the environment names (`leakline.scan.hscache`).
    `meanwhile`: work for this process while scan workers run (once; the command imports its report's renderer
    there, Rich for a text report), or never when no worker is started.
    `skip_rule_ids` (`--skip-rule`) are not run in any app; each app's `[scan] disable_rules` are not run in that
    app, unless `rule_ids` names them."""
    forget_lockfiles()
    try:
        with _cyclic_gc_paused(), _recursion_headroom():
            return _scan(
                path,
                fail_on=fail_on,
                baseline_path=baseline_path,
                rule_ids=rule_ids,
                progress=progress,
                jobs=jobs,
                config_baselines=config_baselines,
                cache_dir=default_cache_dir() if cache else None,
                meanwhile=meanwhile,
                skip_rule_ids=skip_rule_ids or [],
            )
    finally:
        forget_lockfiles()


def _scan(
    path: Path,
    *,
    fail_on: Severity | None,
    baseline_path: Path | None,
    rule_ids: list[str] | None,
    progress: ProgressCallback | None,
    jobs: int | None,
    config_baselines: bool,
    cache_dir: Path | None,
    meanwhile: Callable[[], object] | None,
    skip_rule_ids: list[str],
) -> ScanResult:
    started = time.perf_counter()
    root = path.resolve()
    apps = discover_apps(root)
    stats = ScanStats(apps=[display_path(a.relative_to(root).as_posix()) or "." for a in apps])
    walk_stats = WalkStats()
    findings: list[Finding] = []
    rules = _SelectedRules(_without_skipped(rule_ids, skip_rule_ids))
    stats.disabled_rules.update({rule_id: ["--skip-rule"] for rule_id in skip_rule_ids})
    rules_run: dict[str, frozenset[str]] = {}
    scanned: list[ScannedApp] = []
    app_baselines: dict[str, Baseline] = {}
    legacy: dict[str, str] = {}
    inline: dict[tuple[str, str, int], str | None] = {}
    skipped_files: set[tuple[str, str]] = set()
    app_set = set(apps)
    workspaces: dict[Path, dict[str, WorkspacePackage]] = {}
    walked_packages: set[Path] = set()
    # A leakline.toml at a monorepo's root belongs to no app: it is every app's default (an app with a file
    # of its own uses that file alone), and it is checked even when no app inherits it, so that a broken file
    # in the place CI users put it never passes unnoticed.
    defaults = load_scan_settings(root / CONFIG_FILENAME) if root not in app_set else None
    if defaults is not None and defaults.source is None:
        defaults = None
    # Findings outside every app (a shared workspace package) are judged by the root file's `[scan] baseline`.
    root_baseline: Baseline | None = None
    if baseline_path is None and config_baselines and defaults is not None and defaults.scan.baseline:
        from leakline.scan.baseline import Baseline

        root_baseline = Baseline.load(
            root / defaults.scan.baseline, create_command=f"leakline scan {_shell(path)} --write-baseline"
        )
    for app in apps:
        app_start = len(findings)
        own = app / CONFIG_FILENAME
        if defaults is not None and not own.exists():
            settings = inherited_scan_settings(defaults, root, app)
        else:
            settings = load_scan_settings(own)
        prefix = app.relative_to(root).as_posix() or "."
        scanned.append(ScannedApp(display_path(prefix), app, settings))
        if baseline_path is None and config_baselines and settings.scan.baseline:
            from leakline.scan.baseline import Baseline

            app_baselines[prefix] = Baseline.load(
                app / settings.scan.baseline, create_command=f"leakline scan {_shell(path)} --write-baseline"
            )
        nested = {other for other in app_set if other != app and app in other.parents}
        # An explicit --rule asks for that rule's findings: the app's own disable_rules does not silence it.
        disabled = set(settings.scan.disable_rules) - set(rule_ids or ())
        metas = [meta for meta in rules.metas if meta.id not in disabled]
        for meta in rules.metas:
            if meta.id in disabled:
                where = display_path(Path(settings.source or own).relative_to(root).as_posix())
                stats.disabled_rules.setdefault(meta.id, []).append(f"{where}: scan.disable_rules")
        rules_run[display_path(prefix)] = frozenset(meta.id for meta in metas)
        skipped_here: list[tuple[str, str]] = []
        packages = _workspace_of(app, root, workspaces, app_set)
        if not packages and find_workspace(app, root) is None:
            above = packages_above(app, root)
            if above is not None:
                folder, names = above
                shown = ", ".join(names[:5]) + (f" and {len(names) - 5} more" if len(names) > 5 else "")
                stats.warnings.append(
                    f"{display_path(_rel_to_root(prefix, 'package.json'))}: depends on {shown}, package(s) of the "
                    f"workspace at {folder} outside the "
                    "scanned folder: their code is not scanned, and LLM calls made through them are not seen; scan "
                    "the workspace's root to include them"
                )
        index = build_index(
            app, settings, walk_stats, nested, cache_dir, skipped_here, packages, walked_packages, app_set
        )
        for rel in oversized_workspace_lockfiles(app):
            # A monorepo's root lockfile, too large to read (every app above which it lies would name it).
            if (display_path(_rel_to_root(prefix, rel)), LOCKFILE_TOO_LARGE) not in skipped_files:
                walk_stats.skip(LOCKFILE_TOO_LARGE)
                skipped_here.append((rel, LOCKFILE_TOO_LARGE))
        ctx = ScanContext(index)
        columns = _Columns(index)
        stats.files_indexed += len(index.files)
        worker_count = _worker_count(jobs, len(index.sources))
        # Scheduling is read from the registry: only the modules of the sharded rules are imported before the
        # workers are forked; the others are imported by this process while the workers parse.
        sharded_ids = {meta.id for meta in metas if meta.per_file} if worker_count > 1 else set()
        local_rules = [meta for meta in metas if meta.id not in sharded_ids]
        sharded = [rules.get(meta) for meta in metas if meta.id in sharded_ids]
        # Rules that need the app's LLM routes run after the workers, which find those routes in the files
        # they parse anyway; the other project-wide rules run meanwhile.
        late = [meta for meta in local_rules if meta.uses_llm_routes] if sharded else []
        early = [meta for meta in local_rules if meta not in late]
        with _sharded(index, sharded, worker_count, want_routes=bool(late), prefix=prefix) as collect:
            for n, meta in enumerate(early, start=1):
                if progress is not None:
                    progress(f"{meta.id} on {app.name}", n, len(local_rules))
                rule = rules.get(meta)
                hits = _run_rule(rule, ctx, stats.rule_errors, stats.rule_seconds, prefix)
                findings.extend(_to_findings(rule.meta, hits, index, root, app, legacy, inline, columns))
            for meta in late:
                rules.get(meta)  # imported while the workers run, not after them
            if meanwhile is not None and sharded:
                meanwhile()
                meanwhile = None
            if progress is not None and sharded:
                progress(f"waiting for {worker_count} workers on {app.name}", len(early), len(local_rules))
            outcomes = collect()
        routes = [fact for outcome in outcomes for fact in (outcome.routes or [])]
        if late and all(outcome.routes is not None for outcome in outcomes):
            seed_llm_routes(ctx, routes)
        for n, meta in enumerate(late, start=len(early) + 1):
            if progress is not None:
                progress(f"{meta.id} on {app.name}", n, len(local_rules))
            rule = rules.get(meta)
            hits = _run_rule(rule, ctx, stats.rule_errors, stats.rule_seconds, prefix)
            findings.extend(_to_findings(rule.meta, hits, index, root, app, legacy, inline, columns))
        _merge_outcomes(stats, outcomes)
        for outcome in outcomes:
            for rule in sharded:
                seconds = outcome.seconds.get(rule.meta.id, 0.0)
                stats.rule_seconds[rule.meta.id] = stats.rule_seconds.get(rule.meta.id, 0.0) + seconds
                findings.extend(
                    _to_findings(
                        rule.meta, outcome.hits.get(rule.meta.id, []), index, root, app, legacy, inline, columns
                    )
                )
        stats.files_parsed += sum(1 for f in index.files.values() if "tree" in f.__dict__)
        commented = [f for f in index.files.values() if f.is_source or f.name.startswith(".env")]
        stats.warnings.extend(
            f"{display_path(_rel_to_root(prefix, w.rel))}:{w.line}: {w.message}"
            for w in ignore_warnings(commented, frozenset(registry()))
            + precedence_warnings(index.get, findings[app_start:], prefix)
        )
        stats.warnings.extend(_blind_spots(ctx, rules, prefix, outcomes))
        stats.skipped.update(index.stats)
        skipped_here += _skipped_while_reading(index, outcomes)
        skipped_files.update((display_path(_rel_to_root(prefix, rel)), reason) for rel, reason in skipped_here)
        ctx.release()
    stats.skipped_files = sorted(skipped_files)
    stats.rule_errors = list(dict.fromkeys(stats.rule_errors))
    stats.files_seen = walk_stats.files_seen
    stats.skipped.update(walk_stats.skipped)
    for key in [k for k in stats.skipped if k.startswith(NOTE_PREFIX)]:
        stats.notes[key.removeprefix(NOTE_PREFIX)] = stats.skipped.pop(key)
    findings = _dedupe(findings)
    effective_fail_on = fail_on or Severity(scanned[0].settings.scan.fail_on)
    result = ScanResult(
        root=root, findings=findings, stats=stats, fail_on=effective_fail_on, apps=scanned, fail_on_override=fail_on
    )
    result.inline = inline
    result.rules_run = rules_run
    result.root_baseline = defaults.scan.baseline if defaults is not None else None
    shared: Baseline | None = None
    if baseline_path is not None:
        from leakline.scan.baseline import Baseline

        # Without --baseline, --write-baseline would write each app's default file, not this one.
        shared = Baseline.load(
            baseline_path,
            create_command=f"leakline scan {_shell(path)} --write-baseline --baseline {_shell(baseline_path)}",
        )
    marked = []
    for f in findings:
        owner = result.app_of(f)
        baseline = shared or (app_baselines.get(owner.prefix) if owner is not None else root_baseline)
        if f.suppressed is None and baseline is not None and baseline.contains(f, legacy.get(f.fingerprint), owner):
            f = f._replace(suppressed="baseline")
        marked.append(f)
    result.findings = marked
    stats.duration_s = time.perf_counter() - started
    return result
