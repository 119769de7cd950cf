"""gateway_keys.models / .regions: what one database key may use, within its client's allowance.

Both hold a JSON list of names; `[]` (every key added before this revision) means "what the client may".

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("gateway_keys") as batch:
        batch.add_column(sa.Column("models", sa.Text(), nullable=False, server_default="[]"))
        batch.add_column(sa.Column("regions", sa.Text(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("gateway_keys") as batch:
        batch.drop_column("regions")
        batch.drop_column("models")
