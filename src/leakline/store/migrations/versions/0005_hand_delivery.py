"""communications.delivery: how a message recorded with `leakline incident delivered` went out by hand.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("communications", sa.Column("delivery", sa.Text))


def downgrade() -> None:
    # SQLite cannot drop a column in place; batch mode copies the table.
    with op.batch_alter_table("communications") as batch:
        batch.drop_column("delivery")
