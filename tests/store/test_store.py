"""The store: migrations applied on first use (idempotently), URL checks, UTC datetimes on every backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from leakline.config import Settings
from leakline.incidents.runtime import store_for
from leakline.store.engine import forget_store, open_store, resolve_url
from leakline.store.errors import DatabaseUrlError
from leakline.store.types import UTCDateTime

TABLES = {
    "alembic_version",
    "communications",
    "gateway_baselines",
    "gateway_keys",
    "gateway_minutes_done",
    "gateway_volume",
    "incident_facts",
    "incidents",
    "notify_marks",
    "outbox",
    "signals",
    "timeline",
}
HEAD = "0007"


def test_first_use_creates_every_table_at_head(db_url: str) -> None:
    store = open_store(db_url)
    assert set(inspect(store.engine).get_table_names()) == TABLES
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD
    forget_store(db_url)


def test_a_database_at_0001_is_upgraded_keeping_its_rows(db_url: str) -> None:
    from tests.store.helpers import migrate_to

    migrate_to(db_url, "0001", ("INSERT INTO notify_marks (key, at) VALUES ('k', '2026-01-01 00:00:00')", {}))
    store = open_store(db_url)
    assert set(inspect(store.engine).get_table_names()) == TABLES
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == HEAD
        assert conn.execute(text("SELECT key FROM notify_marks")).scalars().all() == ["k"]
    assert {"template_fallback", "rendered_at", "delivery"} <= {
        c["name"] for c in inspect(store.engine).get_columns("communications")
    }
    forget_store(db_url)


def test_migrating_again_changes_nothing(db_url: str) -> None:
    store = open_store(db_url)
    with store.transaction() as session:
        session.execute(text("INSERT INTO notify_marks (key, at) VALUES ('k', '2026-01-01 00:00:00')"))
    forget_store(db_url)
    again = open_store(db_url)
    with again.engine.connect() as conn:
        assert conn.execute(text("SELECT key FROM notify_marks")).scalars().all() == ["k"]
        assert conn.execute(text("SELECT count(*) FROM alembic_version")).scalar_one() == 1
    forget_store(db_url)


def test_relative_sqlite_path_is_relative_to_the_config_file(tmp_path: Path) -> None:
    settings = Settings.model_validate({"database": {"url": "sqlite:///data/ll.db"}}).model_copy(
        update={"source": str(tmp_path / "leakline.toml")}
    )
    (tmp_path / "data").mkdir()
    store = store_for(settings)
    assert store.url == f"sqlite:///{tmp_path / 'data' / 'll.db'}"
    assert (tmp_path / "data" / "ll.db").exists()
    forget_store(store.url)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "database.url: not a database URL: 'not a url'"),
        ("mysql://u@h/db", "database.url: unsupported database 'mysql'; expected sqlite or postgresql"),
    ],
)
def test_unusable_urls_are_named(url: str, message: str) -> None:
    with pytest.raises(DatabaseUrlError) as caught:
        resolve_url(url, base=None)
    assert caught.value.message == message


def test_utc_datetimes_come_back_aware_and_equal(db_url: str) -> None:
    from sqlalchemy import Column, Integer, MetaData, Table, insert, select

    store = open_store(db_url)
    table = Table("t_times", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
    table.create(store.engine)
    moment = datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    with store.transaction() as session:
        session.execute(insert(table).values(id=1, at=moment))
    with store.transaction() as session:
        back = session.execute(select(table.c.at)).scalar_one()
    assert back == moment
    assert back.tzinfo == UTC
    forget_store(db_url)


def test_naive_datetimes_are_refused(db_url: str) -> None:
    from sqlalchemy import Column, Integer, MetaData, Table, insert
    from sqlalchemy.exc import StatementError

    store = open_store(db_url)
    table = Table("t_naive", MetaData(), Column("id", Integer, primary_key=True), Column("at", UTCDateTime()))
    table.create(store.engine)
    with pytest.raises(StatementError, match="naive datetime"), store.transaction() as session:
        session.execute(insert(table).values(id=1, at=datetime(2026, 1, 1)))
    forget_store(db_url)
