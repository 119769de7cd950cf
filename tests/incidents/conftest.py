"""Fixtures of the database-backed domains: `env` on `db_url` (tests/conftest.py: SQLite, then PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.helpers import Env, iter_env


@pytest.fixture
def env(tmp_path: Path, db_url: str) -> Iterator[Env]:
    yield from iter_env(tmp_path, db_url)
