"""The database: one SQLAlchemy 2 engine and session factory per URL, migrated by Alembic on first use.

`open_store(url)` returns a `Store` whose database has every migration shipped in
`leakline/store/migrations` applied (programmatically, under a lock, so several processes may start at
once). SQLite (the default, `sqlite:///leakline.db`) runs in WAL mode with writers serialised by
`BEGIN IMMEDIATE`; PostgreSQL (`postgresql+psycopg://...`) is used for several workers, which claim
rows with `FOR UPDATE SKIP LOCKED`. Domains declare their tables on `Base` and pass sessions around;
they never open their own engines.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from leakline.store.engine import Base, Store, open_store
    from leakline.store.errors import StoreError

__all__ = ["Base", "Store", "StoreError", "open_store"]

# Imported lazily: leakline.config reads `leakline.store.settings`, and `leakline scan` must not pay for
# SQLAlchemy at start-up.
_EXPORTS = {
    "Base": "leakline.store.engine",
    "Store": "leakline.store.engine",
    "open_store": "leakline.store.engine",
    "StoreError": "leakline.store.errors",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'leakline.store' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
