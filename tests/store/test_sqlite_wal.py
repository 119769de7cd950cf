"""Opening a SQLite database that another process is switching to WAL, or holds locked, waits instead of failing."""

from __future__ import annotations

import multiprocessing
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import text

from leakline.store.engine import sqlite_engine


def _open_and_write(path: str, barrier: Any, out: Any) -> None:
    barrier.wait()
    try:
        engine = sqlite_engine(f"sqlite:///{path}")
        with engine.begin() as conn:
            conn.execute(text("CREATE TABLE IF NOT EXISTS t (x INTEGER)"))
            conn.execute(text("INSERT INTO t VALUES (1)"))
        engine.dispose()
        out.put("ok")
    except Exception as exc:  # the parent reports it
        out.put(f"{type(exc).__name__}: {exc}")


def test_processes_opening_a_new_file_together_all_get_it_in_wal_mode(tmp_path: Path) -> None:
    """Two gateway replicas opening one new state file at once: the switch to WAL needs the file to itself, and
    one of them failed with 'database is locked' in a CI run (tests/guard/test_volume_store.py)."""
    path = tmp_path / "state.sqlite"
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(4)
    out = ctx.Queue()
    procs = [ctx.Process(target=_open_and_write, args=(str(path), barrier, out)) for _ in range(4)]
    for p in procs:
        p.start()
    results = [out.get(timeout=120) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert results == ["ok"] * 4
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT count(*) FROM t").fetchone()[0] == 4

