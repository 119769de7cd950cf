"""communications.template_fallback: the override template that failed when the built-in one drafted a message.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("communications", sa.Column("template_fallback", sa.Text))


def downgrade() -> None:
    # SQLite cannot drop a column in place; batch mode copies the table.
    with op.batch_alter_table("communications") as batch:
        batch.drop_column("template_fallback")
