"""The on-disk cache of the prefilter's compiled Hyperscan database (`leakline.scan.hscache`): a cached database
decides as a fresh compile does, and a file that is corrupt, truncated, made by another Hyperscan or for other
patterns, or in a folder that cannot be written, costs a compile and never an error."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from leakline.scan import hscache, prefilter
from leakline.scan.engine import scan
from tests.scan.apps import write_app
from tests.scan.test_cli import LOGGING_ROUTE

hyperscan = pytest.importorskip("hyperscan")

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REPO = Path(__file__).resolve().parents[2]

OLLAMA_CALL = """export async function summarise(text: string) {
  const res = await fetch(`${process.env.OLLAMA_BASE_URL}/api/generate`, { method: "POST", body: JSON.stringify({ prompt: text }) });
  const out = await res.json();
  console.log(out.response);
  return out;
}
"""
FILLER = "export function price{n}(cents: number): string {{\n  return (cents / 100).toFixed(2);\n}}\n"

# LL007 on every route (a model call decides alone) and every summarise module (an HTTP client together with
# an LLM URL hint): each needs the prefilter to keep its file.
EXPECTED_LL007 = sorted(
    [("LL007", f"app/api/chat{n}/route.ts", 7) for n in range(10)]
    + [("LL007", f"lib/summarise{n}.ts", 4) for n in range(5)]
)


def _patterns() -> tuple[list[bytes], list[int], list[int], int]:
    return (*prefilter._hs_patterns(hyperscan), hyperscan.HS_MODE_BLOCK)


def _entry(folder: Path) -> hscache.CachedDatabase:
    return hscache.CachedDatabase(hyperscan, folder, prefilter._CACHE_NAME, *_patterns())


def _load(folder: Path) -> object | None:
    return _entry(folder).load()


def _cache_file(folder: Path) -> Path:
    return _entry(folder).path


def _store_fresh(folder: Path) -> Path:
    expressions, ids, flags, mode = _patterns()
    database = hyperscan.Database(mode=mode)
    database.compile(expressions=expressions, ids=ids, flags=flags)
    assert _entry(folder).store(database) is True
    return _cache_file(folder)


@pytest.fixture
def fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """No scanner made by an earlier test in this process: the cache folder is read."""
    monkeypatch.setattr(prefilter, "_SCANNERS", {})


@pytest.fixture
def debug_lines(caplog: pytest.LogCaptureFixture) -> Callable[[], list[str]]:
    caplog.set_level(logging.DEBUG, logger="leakline.scan.cache")
    return lambda: [r.getMessage() for r in caplog.records if r.name == "leakline.scan.cache"]


def _mid_sized_app(root: Path) -> Path:
    files = {f"lib/util{n}.ts": FILLER.format(n=n) for n in range(100)}
    files |= {f"app/api/chat{n}/route.ts": LOGGING_ROUTE for n in range(10)}
    files |= {f"lib/summarise{n}.ts": OLLAMA_CALL for n in range(5)}
    root.mkdir(parents=True)
    app = write_app(root, files)
    assert prefilter.HYPERSCAN_CACHED_MIN_FILES <= len(files) < prefilter.HYPERSCAN_MIN_FILES
    return app


def _places(folder: Path, monkeypatch: pytest.MonkeyPatch, app: Path, *, cache: bool = True) -> list[tuple[str, str, int]]:
    monkeypatch.setenv(hscache.CACHE_DIR_ENV, str(folder))
    return sorted((f.rule, f.path, f.line) for f in scan(app, cache=cache, jobs=1).findings)


def test_a_cached_database_finds_exactly_the_hits_of_a_fresh_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_process: None
) -> None:
    app = _mid_sized_app(tmp_path / "app")
    folder = tmp_path / "cache"
    loaded: list[bool] = []
    real_load = hscache.CachedDatabase.load

    def spy(self: hscache.CachedDatabase) -> object | None:
        database = real_load(self)
        loaded.append(database is not None)
        return database

    monkeypatch.setattr(hscache.CachedDatabase, "load", spy)
    without_cache = _places(folder, monkeypatch, app, cache=False)
    assert not folder.exists() and loaded == []
    # First scan: nothing cached; the Python tests decide while a thread compiles the database into the cache.
    first = _places(folder, monkeypatch, app)
    assert loaded == [False] and _cache_file(folder).is_file()
    # Second scan, as a new process would: the database comes from the file.
    monkeypatch.setattr(prefilter, "_SCANNERS", {})
    second = _places(folder, monkeypatch, app)
    assert loaded == [False, True]
    assert [p for p in second if p[0] == "LL007"] == EXPECTED_LL007
    assert first == second == without_cache
    assert ("LL006", "app/api/chat3/route.ts", 3) in second


def test_the_loaded_database_decides_every_fixture_file_as_a_fresh_compile(tmp_path: Path, fresh_process: None) -> None:
    _store_fresh(tmp_path)
    database = _load(tmp_path)
    assert database is not None
    cached = prefilter._LiteralScanner(hyperscan, database)
    compiled = prefilter._compile(hyperscan, None)
    texts = [path.read_bytes() for path in FIXTURES.rglob("*.[jt]s*") if path.is_file()]
    texts += [OLLAMA_CALL.encode(), LOGGING_ROUTE.encode(), FILLER.format(n=1).encode()]
    verdicts = [cached.decide(text) for text in texts]
    assert verdicts == [compiled.decide(text) for text in texts]
    assert verdicts == [prefilter.calls_model_maybe_python(text) for text in texts]
    assert 50 < sum(verdicts) < len(verdicts)


@pytest.mark.parametrize(
    ("damage", "logged"),
    [
        (lambda data: data[: len(data) // 2], "checksum mismatch (corrupt or truncated)"),
        (lambda data: data[: len(hscache.FORMAT) + 2], "not a leakline database file (or truncated)"),
        (lambda data: data[:100], "made for other patterns or another Hyperscan build"),
        (lambda data: b"", "unexpected size 0"),
        (lambda data: data[:-100] + bytes(b ^ 0xFF for b in data[-100:]), "checksum mismatch (corrupt or truncated)"),
        (lambda data: b"\x7fELF" + data[4:], "not a leakline database file (or truncated)"),
    ],
    ids=["truncated", "header only", "key cut", "empty", "corrupt payload", "foreign file"],
)
def test_a_damaged_cache_file_is_compiled_again_and_replaced(
    tmp_path: Path,
    fresh_process: None,
    debug_lines: Callable[[], list[str]],
    damage: Callable[[bytes], bytes],
    logged: str,
) -> None:
    path = _store_fresh(tmp_path)
    good = path.read_bytes()
    path.write_bytes(damage(good))
    assert _load(tmp_path) is None
    assert debug_lines() == [f"hyperscan cache {path}: {logged}"]
    scanner = prefilter._literal_scanner(tmp_path)
    assert scanner is not None and scanner.decide(LOGGING_ROUTE.encode()) is True
    # Replaced whole (a compile serializes to the same bytes), with no temporary file left beside it.
    assert path.read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]
    assert _load(tmp_path) is not None


def test_a_file_made_by_another_hyperscan_build_is_not_loaded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_process: None, debug_lines: Callable[[], list[str]]
) -> None:
    """Its key (inside the file) names another version; copied under this build's name, it is refused."""
    path = _store_fresh(tmp_path)
    monkeypatch.setattr(hyperscan, "__version__", "0.0.1-other")
    other = _store_fresh(tmp_path)
    assert other != path
    monkeypatch.undo()
    other.replace(path)
    assert _load(tmp_path) is None
    assert debug_lines() == [f"hyperscan cache {path}: made for other patterns or another Hyperscan build"]


def test_a_file_of_an_older_layout_is_not_loaded(
    tmp_path: Path, fresh_process: None, debug_lines: Callable[[], list[str]]
) -> None:
    path = _store_fresh(tmp_path)
    path.write_bytes(b"leakline-hsdb-0\n" + path.read_bytes()[len(hscache.FORMAT) :])
    assert _load(tmp_path) is None
    assert debug_lines() == [f"hyperscan cache {path}: not a leakline database file (or truncated)"]


def test_a_whole_file_that_hyperscan_refuses_is_not_loaded(
    tmp_path: Path, fresh_process: None, debug_lines: Callable[[], list[str]]
) -> None:
    """Right key and checksum, but not a serialized database (as a database of another platform would be)."""
    import zlib

    path = _store_fresh(tmp_path)
    key = hscache.database_key(hyperscan, *_patterns())
    payload = b"not a hyperscan database" * 10
    checksum = zlib.crc32(payload).to_bytes(4, "little")
    path.write_bytes(hscache.FORMAT + len(key).to_bytes(4, "little") + key + checksum + payload)
    assert _load(tmp_path) is None
    [line] = debug_lines()
    assert line.startswith(f"hyperscan cache {path}: hyperscan refused it: ")


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="needs root to hand a file to another user")
def test_a_file_of_another_user_is_not_loaded(
    tmp_path: Path, fresh_process: None, debug_lines: Callable[[], list[str]]
) -> None:
    path = _store_fresh(tmp_path)
    os.chown(path, 65534, 65534)
    assert _load(tmp_path) is None
    assert debug_lines() == [f"hyperscan cache {path}: not owned by this user, ignored"]


def test_a_cache_folder_that_cannot_be_written_only_costs_a_compile(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_process: None, debug_lines: Callable[[], list[str]]
) -> None:
    # A file where the folder should be: mkdir fails even for root (who writes into read-only folders).
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    folder = blocker / "leakline"
    scanner = prefilter._literal_scanner(folder)
    assert scanner is not None and scanner.decide(OLLAMA_CALL.encode()) is True
    assert debug_lines() == [
        f"hyperscan cache {_cache_file(folder)}: cannot open: Not a directory",
        f"hyperscan cache {_cache_file(folder)}: cannot write: Not a directory",
    ]
    # A whole scan through the environment's folder: same findings as without a cache, nothing on stderr.
    app = _mid_sized_app(tmp_path / "app")
    monkeypatch.setattr(prefilter, "_SCANNERS", {})
    assert _places(folder, monkeypatch, app) == _places(folder, monkeypatch, app, cache=False)


def test_a_read_only_cache_folder_only_costs_a_compile(tmp_path: Path, fresh_process: None) -> None:
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o500)
    try:
        scanner = prefilter._literal_scanner(folder)
        assert scanner is not None and scanner.decide(LOGGING_ROUTE.encode()) is True
        # Root writes there all the same; anyone else leaves it empty. Either way no temporary file stays.
        assert [p.name for p in folder.iterdir()] in ([], [_cache_file(folder).name])
    finally:
        folder.chmod(0o700)


def test_the_key_is_the_same_in_every_process(tmp_path: Path) -> None:
    """The patterns come from sets: with another hash seed their order must not change the file's name."""
    code = (
        "import hyperscan; from leakline.scan import hscache, prefilter as p;"
        "print(hscache.database_key(hyperscan, *p._hs_patterns(hyperscan), hyperscan.HS_MODE_BLOCK).hex())"
    )
    keys = {
        subprocess.run(
            [sys.executable, "-c", code],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        for seed in (1, 2, 3, 4)
    }
    assert keys == {hscache.database_key(hyperscan, *_patterns()).hex()}


def test_the_key_changes_with_each_input() -> None:
    expressions, ids, flags, mode = _patterns()
    base = hscache.database_key(hyperscan, expressions, ids, flags, mode)
    variants = [
        (expressions[:-1], ids[:-1], flags[:-1], mode),
        ([*expressions[:-1], expressions[-1] + b"x"], ids, flags, mode),
        (expressions, [*ids[:-1], ids[-1] + 1], flags, mode),
        (expressions, ids, [*flags[:-1], flags[-1] ^ hyperscan.HS_FLAG_CASELESS], mode),
        (expressions, ids, flags, hyperscan.HS_MODE_STREAM),
    ]
    keys = {hscache.database_key(hyperscan, *variant) for variant in variants}
    assert len(keys) == len(variants) and base not in keys


WRITER = """
import sys, hyperscan
from pathlib import Path
from leakline.scan import hscache, prefilter as p
e, i, f = p._hs_patterns(hyperscan)
db = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
db.compile(expressions=e, ids=i, flags=f)
entry = hscache.CachedDatabase(hyperscan, Path(sys.argv[1]), p._CACHE_NAME, e, i, f, hyperscan.HS_MODE_BLOCK)
for _ in range(int(sys.argv[2])):
    assert entry.store(db)
"""


def test_concurrent_writers_never_leave_a_half_written_file_to_readers(
    tmp_path: Path, fresh_process: None, debug_lines: Callable[[], list[str]]
) -> None:
    _store_fresh(tmp_path)
    writers = [subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path), "150"]) for _ in range(2)]
    loads = 0
    while any(w.poll() is None for w in writers):
        assert _load(tmp_path) is not None
        loads += 1
    assert [w.wait() for w in writers] == [0, 0]
    assert loads > 0 and debug_lines() == []
    assert [p.name for p in tmp_path.iterdir()] == [_cache_file(tmp_path).name]


def test_where_the_cache_is(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(hscache.CACHE_DIR_ENV)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    assert hscache.default_cache_dir() == tmp_path / "home" / ".cache" / "leakline"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/is/ignored")
    assert hscache.default_cache_dir() == tmp_path / "home" / ".cache" / "leakline"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert hscache.default_cache_dir() == tmp_path / "xdg" / "leakline"
    monkeypatch.setenv(hscache.CACHE_DIR_ENV, str(tmp_path / "mine"))
    assert hscache.default_cache_dir() == tmp_path / "mine"
    for off in ("1", "yes", "true"):
        monkeypatch.setenv(hscache.NO_CACHE_ENV, off)
        assert hscache.default_cache_dir() is None
    monkeypatch.setenv(hscache.NO_CACHE_ENV, "0")
    assert hscache.default_cache_dir() == tmp_path / "mine"


@pytest.mark.parametrize("off", [["--no-cache"], []], ids=["--no-cache", "LEAKLINE_NO_CACHE=1"])
def test_the_command_line_can_turn_the_cache_off(tmp_path: Path, off: list[str]) -> None:
    app = _mid_sized_app(tmp_path / "app")
    folder = tmp_path / "cache"
    env = {**os.environ, hscache.CACHE_DIR_ENV: str(folder)}
    command = [sys.executable, "-m", "leakline.cli", "scan", str(app), "-f", "json", "--no-progress"]

    def run(*extra: str, **more_env: str) -> list[tuple[str, str, int]]:
        proc = subprocess.run(
            [*command, *extra], env={**env, **more_env}, capture_output=True, text=True, check=False, timeout=120
        )
        assert proc.returncode == 1 and proc.stderr == ""
        return sorted((f["rule"], f["path"], f["line"]) for f in json.loads(proc.stdout)["findings"])

    disabled = run(*off) if off else run(**{hscache.NO_CACHE_ENV: "1"})
    assert not folder.exists()
    assert run() == disabled
    assert [p.name for p in folder.iterdir()] == [_cache_file(folder).name]
    assert run() == disabled and [p for p in disabled if p[0] == "LL007"] == EXPECTED_LL007


def test_a_scan_over_a_corrupt_cache_file_prints_nothing_and_replaces_it(tmp_path: Path) -> None:
    app = _mid_sized_app(tmp_path / "app")
    folder = tmp_path / "cache"
    folder.mkdir()
    path = _cache_file(folder)
    path.write_bytes(hscache.FORMAT + b"\xff" * 300)
    command = [sys.executable, "-m", "leakline.cli", "scan", str(app), "-f", "json", "--no-progress"]
    proc = subprocess.run(
        command, env={**os.environ, hscache.CACHE_DIR_ENV: str(folder)}, capture_output=True, text=True, timeout=120
    )
    assert (proc.returncode, proc.stderr) == (1, "")
    found = sorted((f["rule"], f["path"], f["line"]) for f in json.loads(proc.stdout)["findings"])
    assert [p for p in found if p[0] == "LL007"] == EXPECTED_LL007
    assert [p.name for p in folder.iterdir()] == [path.name] and _load(folder) is not None
