"""Fixtures of the database-backed domains: `db_url` runs each test on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.helpers import Env, Postgres, iter_env, shared_postgres


@pytest.fixture(scope="session")
def postgres() -> Postgres:
    return shared_postgres()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'leakline.db'}"
    server: Postgres = request.getfixturevalue("postgres")
    return server.fresh_database()


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    yield from iter_env(tmp_path, db_url)
