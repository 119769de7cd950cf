"""communications.rendered_at: the time a message's text was rendered with, so that a reassessment can tell
whether new facts change an approved notice.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from leakline.store.types import UTCDateTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("communications", sa.Column("rendered_at", UTCDateTime()))


def downgrade() -> None:
    # SQLite cannot drop a column in place; batch mode copies the table.
    with op.batch_alter_table("communications") as batch:
        batch.drop_column("rendered_at")
