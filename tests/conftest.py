"""Shared test helpers: building small Next.js apps in tmp_path, running the CLI in-process, and `db_url`, which
runs a database-backed test on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from typer.testing import CliRunner

if TYPE_CHECKING:
    from tests.store.helpers import Postgres

REPO = Path(__file__).resolve().parent.parent


def _shared() -> Path:
    """The workplace's shared folder (reference schemas): beside the checkout, as in /work; a clone elsewhere
    (CI's, in a temporary folder) finds it through LEAKLINE_SHARED_DIR or at /work/shared."""
    candidates = [Path(os.environ["LEAKLINE_SHARED_DIR"])] if os.environ.get("LEAKLINE_SHARED_DIR") else []
    candidates += [REPO.parent / "shared", Path("/work/shared")]
    return next((path for path in candidates if (path / "schemas").is_dir()), candidates[0])


SHARED = _shared()


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., Path]:
    """Write a minimal Next.js app: `make_app({"app/page.tsx": "..."}, name="shop")`."""

    def build(files: dict[str, str | bytes], *, name: str = "app", next_version: str = "15.2.4") -> Path:
        root = tmp_path / name
        root.mkdir(parents=True, exist_ok=True)
        if "package.json" not in files:
            (root / "package.json").write_text(json.dumps({"name": name, "dependencies": {"next": next_version}}))
        for rel, content in files.items():
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return root

    return build


@pytest.fixture
def cli() -> Callable[..., tuple[int, str, str]]:
    """Run `leakline ARGS...` in-process; returns (exit code, stdout, stderr)."""
    from leakline import cli_app

    cli_app.register_once()
    runner = CliRunner()

    def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
        result = runner.invoke(cli_app.app, list(args), input=input, catch_exceptions=True)
        code = result.exit_code
        stderr = result.stderr
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            from leakline.errors import LeaklineError

            if isinstance(result.exception, LeaklineError):
                return result.exception.exit_code, result.stdout, result.exception.diagnostics()
            raise result.exception
        return code, result.stdout, stderr

    return run


@pytest.fixture(scope="session")
def postgres() -> Postgres:
    """One PostgreSQL server for the session (started in a temporary directory on first use)."""
    from tests.store.helpers import shared_postgres

    return shared_postgres()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database: a SQLite file in tmp_path, then a new database on the PostgreSQL server."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'leakline.db'}"
    server: Postgres = request.getfixturevalue("postgres")
    return server.fresh_database()
