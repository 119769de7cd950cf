"""Alembic environment: runs on the connection `leakline.store.engine.migrate` hands over (no ini file)."""

from __future__ import annotations

from alembic import context

import leakline.guard.keys.models
import leakline.incidents.models
import leakline.notify.models  # noqa: F401  (registers the tables on Base.metadata)
from leakline.store.engine import Base

connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=Base.metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
