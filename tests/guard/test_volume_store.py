"""Volume baselines shared by processes: two replicas (separate processes) add to the same counters and
evaluate at the same time; every minute is judged once, on the summed counts, whatever the store."""

from __future__ import annotations

import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from leakline.guard.anomaly import VolumeMonitor
from leakline.guard.settings import AnomalySettings
from tests.store.helpers import Postgres, shared_postgres

CFG = dict(warmup_minutes=3, threshold=6.0, alpha=0.5, window_minutes=10)
QUIET = range(100, 106)
BURST = 107


def _monitor(kind: str, where: str) -> VolumeMonitor:
    settings = AnomalySettings(**CFG)  # type: ignore[arg-type]
    return VolumeMonitor.on_file(Path(where), settings) if kind == "file" else VolumeMonitor.on_database(where, settings)


def _replica(kind: str, where: str, name: str, barrier: Any, out: Any) -> None:
    monitor = _monitor(kind, where)
    series = ("edge:DE/fra1", f"key:{name}")
    for minute in QUIET:
        monitor.record(minute, series, {"requests": 5.0})
    monitor.record(BURST, series, {"requests": 150.0})
    monitor.flush()
    barrier.wait()  # both replicas' counts are in: now race to judge
    found = []
    for now in range(QUIET.start + 2, BURST + 3):
        found += monitor.evaluate(now)
    monitor.close()
    out.put([(a.minute, a.series, a.metric, a.value, a.median) for a in found])


@pytest.fixture(scope="module")
def postgres() -> Postgres:
    return shared_postgres()


@pytest.fixture(params=["file", "database-sqlite", pytest.param("database-postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> tuple[str, str, str]:
    """(monitor kind, location, SQLAlchemy URL to inspect the tables)."""
    if request.param == "file":
        path = tmp_path / "state.sqlite"
        return "file", str(path), f"sqlite:///{path}"
    if request.param == "database-sqlite":
        url = f"sqlite:///{tmp_path / 'leakline.db'}"
        return "database", url, url
    server: Postgres = request.getfixturevalue("postgres")
    url = server.fresh_database()
    return "database", url, url


def test_two_replicas_share_counts_and_judge_each_minute_once(store: tuple[str, str, str]) -> None:
    kind, where, url = store
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    out = ctx.Queue()
    replicas = [ctx.Process(target=_replica, args=(kind, where, name, barrier, out)) for name in ("a", "b")]
    for p in replicas:
        p.start()
    results = [out.get(timeout=120) for _ in replicas]
    for p in replicas:
        p.join(timeout=60)
        assert p.exitcode == 0
    found = sorted(x for result in results for x in result)
    assert found == [
        (BURST, "edge:DE/fra1", "requests", 300.0, 10.0),  # both replicas' bursts, against both quiet counts
        (BURST, "key:a", "requests", 150.0, 5.0),
        (BURST, "key:b", "requests", 150.0, 5.0),
    ]
    engine = create_engine(url)
    with engine.connect() as conn:
        judged = conn.execute(text("SELECT minute FROM gateway_minutes_done ORDER BY minute")).scalars().all()
        left = conn.execute(text("SELECT COUNT(*) FROM gateway_volume")).scalar_one()
        baselines = conn.execute(text("SELECT COUNT(*) FROM gateway_baselines")).scalar_one()
    engine.dispose()
    assert judged == [*QUIET, BURST]
    assert left == 0
    assert baselines == 3


def test_a_late_count_for_a_judged_minute_is_dropped(tmp_path: Path) -> None:
    monitor = _monitor("file", str(tmp_path / "state.sqlite"))
    monitor.record(100, ("key:a",), {"requests": 1.0})
    assert monitor.evaluate(103) == []
    late = _monitor("file", str(tmp_path / "state.sqlite"))
    late.record(100, ("key:a",), {"requests": 7.0})  # a slow worker, after minute 100 was judged
    late.flush()
    monitor.evaluate(104)
    engine = create_engine(f"sqlite:///{tmp_path / 'state.sqlite'}")
    with engine.connect() as conn:
        assert conn.execute(text("SELECT COUNT(*) FROM gateway_volume")).scalar_one() == 0
    engine.dispose()
    monitor.close()
    late.close()


def test_the_store_setting_is_checked_and_chooses_the_database(tmp_path: Path) -> None:
    from leakline.config import parse_settings
    from leakline.errors import ConfigError
    from leakline.guard.build import default_events

    with pytest.raises(ConfigError) as caught:
        parse_settings({"gateway": {"anomalies": {"store": "redis"}}}, source="leakline.toml")
    assert caught.value.message.startswith("leakline.toml: gateway.anomalies.store: ")
    assert "'file'" in caught.value.message and "'database'" in caught.value.message

    url = f"sqlite:///{tmp_path / 'shared.db'}"
    settings = parse_settings(
        {"gateway": {"anomalies": {"store": "database"}}, "database": {"url": url}}, source=str(tmp_path / "l.toml")
    )
    worker = default_events(settings)
    monitor = worker.monitor
    assert monitor is not None
    monitor.record(100, ("key:a",), {"requests": 3.0})
    monitor.flush()
    engine = create_engine(url)
    with engine.connect() as conn:
        assert conn.execute(text("SELECT series, value FROM gateway_volume")).all() == [("key:a", 3.0)]
    engine.dispose()
