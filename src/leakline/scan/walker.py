"""Finding the Next.js apps under a path and the files of each app that the rules look at.

An app is a folder whose package.json depends on `next` (or that has a next.config.*). A monorepo
holds several; each is scanned with its own leakline.toml, and a nested app's files belong to it
alone. Symlinked folders are followed once (loops are detected by device and inode), and every
file the walk skips is counted with its reason so that the scan's stats tell what was not looked at.
"""

from __future__ import annotations

import fnmatch
import json
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from leakline.scan.errors import ScanPathError

SKIPPED_DIRS = frozenset({"node_modules", ".git", ".hg", ".svn", ".turbo", ".vercel", "__pycache__"})
NEXT_CONFIG_NAMES = ("next.config.js", "next.config.mjs", "next.config.ts", "next.config.cjs", "next.config.mts")
BUILD_DIR = ".next"
# Inside .next only what reaches browsers or describes routing matters; the cache is huge and private.
BUILD_KEEP_PREFIXES = (".next/static/", ".next/routes-manifest.json", ".next/prerender-manifest.json")


@dataclass
class WalkStats:
    files_seen: int = 0
    skipped: Counter[str] = field(default_factory=Counter)

    def skip(self, reason: str) -> None:
        self.skipped[reason] += 1


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
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        try:
            st = Path(dirpath).stat()
        except OSError:
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        dirnames[:] = sorted(d for d in dirnames if d not in SKIPPED_DIRS and d != BUILD_DIR)
        folder = Path(dirpath)
        if ("package.json" in filenames or any(n in filenames for n in NEXT_CONFIG_NAMES)) and is_next_app(folder):
            apps.append(folder)
    if not apps:
        raise ScanPathError(
            f"{root}: not a Next.js app: no package.json that depends on `next` and no next.config.* found",
            hint="point leakline scan at the folder that holds your app's package.json",
        )
    return apps


def _inside(link: Path, root: Path) -> bool:
    try:
        return link.resolve().is_relative_to(root.resolve())
    except OSError:
        return False


def walk_app(app_root: Path, *, exclude: list[str], nested_apps: set[Path], stats: WalkStats) -> list[Path]:
    """The files of one app the scanner reads (relative to `app_root`), sorted, with skips counted."""
    out: list[Path] = []
    seen: set[tuple[int, int]] = set()
    for dirpath, dirnames, filenames in os.walk(app_root, followlinks=True):
        folder = Path(dirpath)
        try:
            st = folder.stat()
        except OSError:
            stats.skip("unreadable directory")
            dirnames[:] = []
            continue
        if (st.st_dev, st.st_ino) in seen:
            stats.skip("symlink loop")
            dirnames[:] = []
            continue
        seen.add((st.st_dev, st.st_ino))
        rel_dir = folder.relative_to(app_root).as_posix()
        rel_dir = "" if rel_dir == "." else rel_dir + "/"
        keep_dirs = []
        for d in sorted(dirnames):
            if d in SKIPPED_DIRS:
                continue
            if (folder / d).is_symlink() and not _inside(folder / d, app_root):
                # A link to /proc or to another checkout is not part of this app (and may never end).
                stats.skip("symlinked folder outside the app")
                continue
            if (folder / d) in nested_apps:
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
            if any(fnmatch.fnmatchcase(rel, pattern) for pattern in exclude):
                stats.skip("excluded by [scan] exclude")
                continue
            out.append(Path(rel))
    return out
