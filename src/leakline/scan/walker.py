"""Finding the Next.js apps under a path and the files of each app that the rules look at.

An app is a folder whose package.json depends on `next` (or that has a next.config.*). A monorepo
holds several; each is scanned with its own leakline.toml, and a nested app's files belong to it
alone. Symlinked folders are followed once (loops are detected by device and inode), and every
file the walk skips is counted with its reason so that the scan's stats tell what was not looked at.
"""

# ruff: noqa: PTH112, PTH114, PTH116, PTH118, PTH208
# (the walk uses strings and os calls on purpose: a Path per folder and per file cost a large tree ~0.2 s)

from __future__ import annotations

import fnmatch
import json
import os
import posixpath
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from leakline.scan.errors import ScanPathError

SKIPPED_DIRS = frozenset({"node_modules", ".git", ".hg", ".svn", ".turbo", ".vercel", "__pycache__"})
NEXT_CONFIG_NAMES = ("next.config.js", "next.config.mjs", "next.config.ts", "next.config.cjs", "next.config.mts")
BUILD_DIR = ".next"
# Inside .next only what reaches browsers or describes routing matters; the cache is huge and private.
BUILD_KEEP_PREFIXES = (".next/static/", ".next/routes-manifest.json", ".next/prerender-manifest.json")
PRERENDER_MANIFEST = ".next/prerender-manifest.json"
PAGES_MANIFEST = ".next/server/pages-manifest.json"
SERVER_APP = ".next/server/app/"
SERVER_PAGES = ".next/server/pages/"
# What `next start` and Vercel serve from .next/server for a prerendered route: the HTML, the RSC payload
# (App Router), the page-props JSON (`/_next/data/…`, Pages Router) and a static route handler's body. The
# server bundles (.js) next to them are never served, and are not read.
PRERENDERED_SUFFIXES = (".html", ".rsc", ".json", ".body")
EXPORT_DIR = "out"
"""Where `next build` writes a static export (`output: 'export'`): a web server serves every file in it as is."""
EXPORT_MARKER = ("_next", "static")
# The text files of a static export, which LL005 searches (HTML, RSC payloads as .txt, chunks, page data, maps,
# styles, feeds); images, fonts and media in it are not read.
EXPORT_KEEP_SUFFIXES = (".html", ".txt", ".js", ".mjs", ".cjs", ".json", ".map", ".css", ".rsc", ".xml", ".webmanifest")
BROKEN_SYMLINK = "broken symlink"
"""The skip reason of a file that is a symbolic link to nothing (its target deleted, or a loop of links)."""
WALKED_PATHS = "_leakline_walked_paths"
"""Key of the index's `__dict__` under which `leakline.scan.engine.build_index` keeps every file path the walk
found in the app itself, also those `[scan] exclude` left out and those too large or unreadable to index: facts
about the app's shape (is there an App Router, a middleware?) hold whatever the scan reads of those files."""
NOTE_PREFIX = "note: "
"""`leakline.scan.index.NOTE_PREFIX` (index imports this module): a caveat, counted apart from the skips."""


class WalkStats:
    def __init__(self) -> None:
        self.files_seen = 0
        self.skipped: Counter[str] = Counter()
        self.skipped_paths: list[tuple[str, str]] = []
        """(path inside the app, reason) of the folders left out by accident (unreadable, a loop, a link out of
        the app), so that the report can name them; files excluded on purpose are only counted."""

    def skip(self, reason: str, path: str | None = None) -> None:
        self.skipped[reason] += 1
        if path is not None:
            self.skipped_paths.append((path, reason))


def _depends_on_next(package_json: Path) -> bool:
    try:
        # npm accepts a UTF-8 byte order mark; so must we.
        data = json.loads(package_json.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, UnicodeDecodeError):
        return False
    if not isinstance(data, dict):
        return False
    for section in ("dependencies", "devDependencies", "peerDependencies"):
        deps = data.get(section)
        if isinstance(deps, dict) and "next" in deps:
            return True
    return False


def is_next_app(folder: Path) -> bool:
    if any((folder / name).is_file() for name in NEXT_CONFIG_NAMES):
        return True
    package_json = folder / "package.json"
    return package_json.is_file() and _depends_on_next(package_json)


def discover_apps(root: Path) -> list[Path]:
    """Every Next.js app at or under `root`, outermost first."""
    if not root.exists():
        raise ScanPathError(f"{root}: no such file or directory")
    if not root.is_dir():
        raise ScanPathError(f"{root}: not a directory", hint="pass the folder of a Next.js app or a monorepo")
    apps: list[Path] = []
    seen: set[tuple[int, int]] = set()
    # Strings and os.stat below, not Path objects: a Path per folder cost a 5,000-file tree ~80 ms.
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = os.stat(dirpath)
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(
            d for d in dirnames
            if d not in SKIPPED_DIRS and d != BUILD_DIR and not _links_out(os.path.join(dirpath, d), root)
        )  # fmt: skip
        if "package.json" in filenames or any(n in filenames for n in NEXT_CONFIG_NAMES):
            folder = Path(dirpath)
            if is_next_app(folder):
                apps.append(folder)
    if not apps:
        raise ScanPathError(
            f"{root}: not a Next.js app: no package.json that depends on `next` and no next.config.* found",
            hint="point leakline scan at the folder that holds your app's package.json",
        )
    return apps


PNPM_WORKSPACE = "pnpm-workspace.yaml"
MAX_WORKSPACE_DEPTH = 6
"""How deep a `**` workspace glob (`packages/**`) looks for package folders."""
DEPENDENCY_SECTIONS = ("dependencies", "devDependencies", "peerDependencies", "optionalDependencies")


class WorkspacePackage(NamedTuple):
    """A package of a monorepo workspace (pnpm-workspace.yaml `packages`, package.json `workspaces`)."""

    name: str
    folder: Path
    manifest: dict[str, object]
    """Its package.json (`exports`, `main`, `module`, `types`, dependencies)."""


def _read_manifest(path: Path) -> dict[str, object] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError, UnicodeDecodeError):
        return None
    return data if isinstance(data, dict) else None


def dependency_names(manifest: dict[str, object]) -> list[str]:
    """Every package a package.json depends on, in any section (an internal package is often a devDependency:
    bundled all the same)."""
    out: list[str] = []
    for section in DEPENDENCY_SECTIONS:
        deps = manifest.get(section)
        if isinstance(deps, dict):
            out += [name for name in deps if isinstance(name, str)]
    return out


def _workspace_globs(folder: Path) -> list[str] | None:
    """The package globs a workspace root declares, or None when `folder` is no workspace root."""
    pnpm = folder / PNPM_WORKSPACE
    if pnpm.is_file():
        import yaml  # only for monorepos using pnpm

        try:
            data = yaml.safe_load(pnpm.read_text(encoding="utf-8-sig"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            return []
        packages = data.get("packages") if isinstance(data, dict) else None
        return [str(p) for p in packages if isinstance(p, str)] if isinstance(packages, list) else []
    manifest = _read_manifest(folder / "package.json")
    workspaces = manifest.get("workspaces") if manifest is not None else None
    if isinstance(workspaces, dict):  # yarn 1: {"packages": [...], "nohoist": [...]}
        workspaces = workspaces.get("packages")
    if isinstance(workspaces, list):
        return [str(p) for p in workspaces if isinstance(p, str)]
    return None


def find_workspace(app: Path, top: Path) -> tuple[Path, list[str]] | None:
    """The workspace root of `app` (itself or a folder above it, up to the scanned folder `top`) and its
    package globs. A workspace above the scanned folder is not looked for: its packages are not part of the
    scan, and findings in them could not be named from the scanned folder."""
    for folder in (app, *app.parents):
        globs = _workspace_globs(folder)
        if globs is not None:
            return folder, globs
        if folder == top or top not in folder.parents:
            return None
    return None


MAX_WORKSPACE_ASCENT = 8
"""Folders above the scanned one searched for the workspace it belongs to (`packages_above`)."""


def packages_above(app: Path, top: Path) -> tuple[Path, list[str]] | None:
    """When the scanned folder `top` lies inside a workspace above it (`leakline scan apps/web` in a monorepo), that
    workspace's folder and the names of its packages `app` depends on that lie outside `top`: code the scan does not
    read (LLM calls made through them, findings in them). None when there is no such workspace or package."""
    top = top.resolve()
    for folder in top.parents:
        if folder.joinpath(".git").exists() and _workspace_globs(folder) is None:
            return None  # the repository's root, no workspace in it
        globs = _workspace_globs(folder)
        if globs is not None:
            packages = workspace_packages(folder, globs)
            if not any(p.folder.resolve() == app.resolve() for p in packages.values()):
                return None  # a workspace the app is no member of: its names mean npm packages
            outside = [p.name for p in app_workspace_packages(app, packages) if not _inside(p.folder, top)]
            return (folder, outside) if outside else None
        if len(top.parts) - len(folder.parts) >= MAX_WORKSPACE_ASCENT:
            return None
    return None


def _glob_folders(root: Path, pattern: str) -> list[str]:
    """Folders (relative to `root`, POSIX) a workspace glob matches; `**` descends (at most
    MAX_WORKSPACE_DEPTH folders deep), never into node_modules or build output."""
    parts = pattern.split("/")
    fixed: list[str] = []
    for part in parts:
        if any(c in part for c in "*?["):
            break
        fixed.append(part)
    start = os.path.join(os.fspath(root), *fixed)
    if len(fixed) == len(parts):
        return [pattern] if os.path.isdir(start) else []
    recursive = "**" in parts
    out: list[str] = []
    for dirpath, dirnames, _ in os.walk(start):
        rel = os.path.relpath(dirpath, root).replace(os.sep, "/")
        depth = 0 if rel == os.curdir else rel.count("/") + 1
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and d != BUILD_DIR)
        if depth and fnmatch.fnmatchcase(rel, pattern):
            out.append(rel)
        if (not recursive and depth >= len(parts)) or depth >= MAX_WORKSPACE_DEPTH:
            dirnames[:] = []
    return out


def workspace_packages(root: Path, globs: list[str]) -> dict[str, WorkspacePackage]:
    """The named packages of a workspace, by name (`!pattern` globs leave folders out)."""
    include = [g.removeprefix("./").rstrip("/") for g in globs if not g.startswith("!")]
    exclude = [g[1:].removeprefix("./").rstrip("/") for g in globs if g.startswith("!")]
    out: dict[str, WorkspacePackage] = {}
    for pattern in include:
        if not pattern or pattern.startswith(("../", "/")):
            continue
        for rel in _glob_folders(root, pattern):
            if any(fnmatch.fnmatchcase(rel, e) for e in exclude):
                continue
            folder = root / rel
            manifest = _read_manifest(folder / "package.json")
            name = manifest.get("name") if manifest is not None else None
            if manifest is not None and isinstance(name, str) and name not in out:
                out[name] = WorkspacePackage(name, folder, manifest)
    return out


def app_workspace_packages(app: Path, packages: dict[str, WorkspacePackage]) -> list[WorkspacePackage]:
    """The workspace packages `app` depends on, directly or through other workspace packages, in the order
    found. (Only by name: `workspace:*`, `*` or a version range all mean the workspace's copy when it has one.)"""
    manifest = _read_manifest(app / "package.json") or {}
    out: list[WorkspacePackage] = []
    seen: set[str] = set()
    todo = dependency_names(manifest)
    while todo:
        name = todo.pop(0)
        package = packages.get(name)
        if package is None or name in seen:
            continue
        seen.add(name)
        if package.folder == app:
            continue
        out.append(package)
        todo += dependency_names(package.manifest)
    return out


def _links_out(folder: str, root: Path) -> bool:
    """A symlinked folder that leads out of the scanned tree: its apps are not this repository's (a link to
    /tmp or / made discovery scan whatever lay there), and `walk_app` does not read such folders either."""
    return os.path.islink(folder) and not _inside(Path(folder), root)


def _inside(link: Path, root: Path) -> bool:
    try:
        return link.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def exclude_patterns(exclude: list[str]) -> list[str]:
    """`[scan] exclude` as fnmatch patterns over app-relative paths, read the way .gitignore lines are:
    `./` in front is dropped, and a pattern that names a folder (`pages`, `legacy/`) covers everything
    below it. Matched as written, those three spellings excluded nothing, silently."""
    out: list[str] = []
    for pattern in exclude:
        bare = pattern.removeprefix("./").rstrip("/")
        if bare:
            # fnmatch's `*` also matches `/`, so `folder/*` is every file at any depth below the folder.
            out += [bare, f"{bare}/*"]
    return out


def _unlistable(root: str, stats: WalkStats) -> Callable[[OSError], None]:
    """os.walk's error hook: a folder that cannot be listed (no read permission) is skipped and named.
    Without it os.walk drops such a folder silently: its files were neither scanned nor counted."""

    def on_error(exc: OSError) -> None:
        where = exc.filename if isinstance(exc.filename, str) else root
        rel = os.path.relpath(where, root).replace(os.sep, "/")
        stats.skip("unreadable directory", "." if rel == os.curdir else rel + "/")

    return on_error


def walk_app(
    app_root: Path,
    *,
    exclude: list[str],
    nested_apps: set[Path],
    stats: WalkStats,
    excluded: list[str] | None = None,
) -> list[str]:
    """The files of one app the scanner reads (POSIX paths relative to `app_root`), sorted, with skips counted;
    `excluded` receives the paths `[scan] exclude` left out.

    Works on strings and `os` calls: Path objects per folder and per file cost a 5,000-file tree ~0.15 s."""
    out: list[str] = []
    seen: set[tuple[int, int]] = set()
    root = os.fspath(app_root)
    under = root if root.endswith(os.sep) else root + os.sep
    nested = {os.fspath(path) for path in nested_apps}
    patterns = exclude_patterns(exclude)
    export_prefix = EXPORT_DIR + "/" if is_static_export(root) else None
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True, onerror=_unlistable(root, stats)):
        # os.walk yields the root itself, then paths joined under it.
        inner = "" if dirpath == root else dirpath.removeprefix(under) if dirpath.startswith(under) else None
        if inner is None:
            inner = os.path.relpath(dirpath, root)
        rel_dir = "" if inner in ("", os.curdir) else inner.replace(os.sep, "/") + "/"
        try:
            st = os.stat(dirpath)
        except OSError:
            stats.skip("unreadable directory", rel_dir or ".")
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            stats.skip("symlink loop", rel_dir)
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        keep_dirs = []
        for d in sorted(dirnames):
            if d in SKIPPED_DIRS:
                continue
            sub = os.path.join(dirpath, d)
            if os.path.islink(sub) and not _inside(Path(sub), app_root):
                # A link to /proc or to another checkout is not part of this app (and may never end).
                stats.skip("symlinked folder outside the app", rel_dir + d + "/")
                continue
            if sub in nested:
                continue
            if rel_dir == ".next/" and d != "static":
                continue
            keep_dirs.append(d)
        dirnames[:] = keep_dirs
        for name in sorted(filenames):
            rel = rel_dir + name
            stats.files_seen += 1
            if rel.startswith(BUILD_DIR + "/") and not rel.startswith(BUILD_KEEP_PREFIXES):
                continue
            if export_prefix is not None and rel.startswith(export_prefix) and not name.endswith(EXPORT_KEEP_SUFFIXES):
                continue
            if any(fnmatch.fnmatchcase(rel, pattern) for pattern in patterns):
                stats.skip("excluded by [scan] exclude")
                if excluded is not None:
                    excluded.append(rel)
                continue
            out.append(rel)
    if os.path.isdir(os.path.join(root, BUILD_DIR, "server")):
        for rel in prerendered_files(root, stats):
            stats.files_seen += 1
            if any(fnmatch.fnmatchcase(rel, pattern) for pattern in patterns):
                stats.skip("excluded by [scan] exclude")
                continue
            out.append(rel)
    return out


def is_static_export(root: str) -> bool:
    """Whether the app's `out/` folder is a static export: `next build` with `output: 'export'` always writes
    `out/_next/static` (the browser chunks and build manifest). Judged on the folder, not next.config: the
    walk runs before anything is parsed, and LL005 also reads next.config's `output` (an export folder
    renamed by `distDir` lies elsewhere)."""
    return os.path.isdir(os.path.join(root, EXPORT_DIR, *EXPORT_MARKER))


class _Unreadable(Exception):
    """A build manifest that cannot be read or does not have the shape Next writes."""


def _manifest(root: str, rel: str) -> dict[str, object] | None:
    """The JSON object of a build manifest; None when the file is absent."""
    try:
        with open(os.path.join(root, rel), "rb") as fh:
            data = json.loads(fh.read())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise _Unreadable(rel) from exc
    if not isinstance(data, dict):
        raise _Unreadable(rel)
    return data


def _route_bases(manifest: dict[str, object]) -> list[str]:
    """The file name (without suffix, relative to .next/server/app or /pages) of each prerendered route."""
    routes = manifest.get("routes")
    if not isinstance(routes, dict):
        raise _Unreadable(PRERENDER_MANIFEST)
    out = []
    for route in routes:
        if not isinstance(route, str) or not route.startswith("/"):
            continue
        out.append("index" if route == "/" else route.strip("/"))
    return out


def _fallback_bases(manifest: dict[str, object]) -> list[str]:
    """The fallback page of each dynamic route that has one (`"fallback": "/blog/[slug].html"`, Pages Router
    `getStaticPaths` with `fallback: true`): the shell served for every path not prerendered, rendered at build
    time without props but with whatever the page's body read from the environment. Its name, without
    `.html`, relative to .next/server/pages (or /app)."""
    routes = manifest.get("dynamicRoutes", {})
    if not isinstance(routes, dict):
        raise _Unreadable(PRERENDER_MANIFEST)
    out = []
    for route in routes.values():
        fallback = route.get("fallback") if isinstance(route, dict) else None
        if isinstance(fallback, str) and fallback.startswith("/") and fallback.endswith(".html"):
            out.append(fallback.strip("/").removesuffix(".html"))
    return out


def _listing(root: str, folder: str, cache: dict[str, frozenset[str]]) -> frozenset[str]:
    """The names in one folder under the app, listed once (a stat per candidate file cost more)."""
    if folder not in cache:
        try:
            cache[folder] = frozenset(os.listdir(os.path.join(root, folder)))
        except OSError:
            cache[folder] = frozenset()
    return cache[folder]


def _inside_build(rel: str) -> bool:
    """`rel` (built from names a manifest gives) stays inside .next/server/app or /pages."""
    norm = posixpath.normpath(rel)
    return norm == rel and norm.startswith((SERVER_APP, SERVER_PAGES))


def prerendered_files(root: str, stats: WalkStats) -> list[str]:
    """The files under .next/server that are served as they are: those of the routes prerender-manifest.json
    lists (App Router pages and route handlers, Pages Router getStaticProps pages), the fallback pages of its
    dynamic routes, and the static pages pages-manifest.json maps to an .html file. Only these are read, not
    the server bundles beside them.

    A manifest that is there but cannot be read fails closed: every .html/.rsc/.json/.body file under
    .next/server/app and /pages is kept, and a note says why."""
    try:
        prerender = _manifest(root, PRERENDER_MANIFEST)
        pages = _manifest(root, PAGES_MANIFEST)
        bases = _route_bases(prerender) if prerender is not None else []
        fallbacks = _fallback_bases(prerender) if prerender is not None else []
    except _Unreadable as exc:
        stats.skip(f"{NOTE_PREFIX}{exc} unreadable: every prerendered-looking file under .next/server searched")
        return _served_looking_files(root)
    candidates: list[str] = []
    for base in bases:
        candidates += [f"{SERVER_APP}{base}{suffix}" for suffix in (".html", ".rsc", ".body", ".prefetch.rsc")]
        candidates += [f"{SERVER_PAGES}{base}{suffix}" for suffix in (".html", ".json")]
    for base in fallbacks:
        candidates += [f"{SERVER_PAGES}{base}.html", f"{SERVER_APP}{base}.html"]
    for target in (pages or {}).values():
        # `"/about": "pages/about.html"` for a page without data fetching, prerendered at build time.
        if isinstance(target, str) and target.endswith(".html"):
            candidates.append(f"{BUILD_DIR}/server/{target}")
    listings: dict[str, frozenset[str]] = {}
    out = []
    for rel in dict.fromkeys(candidates):
        if not _inside_build(rel):
            continue
        folder, _, name = rel.rpartition("/")
        if name in _listing(root, folder, listings):
            out.append(rel)
    for base in bases:
        # The client segment cache (Next 15 `clientSegmentCache`, on by default since Next 16) also prerenders
        # each route's RSC payload cut by segment, `<route>.segments/**/*.segment.rsc`, served to prefetches.
        segments = f"{SERVER_APP}{base}.segments"
        folder, _, name = segments.rpartition("/")
        if _inside_build(segments) and name in _listing(root, folder, listings):
            out += _files_below(root, segments + "/", (".rsc",))
    return sorted(out)


def _files_below(root: str, top: str, suffixes: tuple[str, ...]) -> list[str]:
    """App-relative paths of the files under folder `top` (relative, ending in /) whose names end so."""
    out = []
    base = os.path.join(root, top)
    for dirpath, _dirnames, filenames in os.walk(base):
        inner = os.path.relpath(dirpath, base)
        prefix = top if inner == os.curdir else top + inner.replace(os.sep, "/") + "/"
        out += [prefix + name for name in filenames if name.endswith(suffixes)]
    return out


def _served_looking_files(root: str) -> list[str]:
    return sorted(name for top in (SERVER_APP, SERVER_PAGES) for name in _files_below(root, top, PRERENDERED_SUFFIXES))
