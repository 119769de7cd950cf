"""The gateway's volume baselines in the shared database (`[gateway.anomalies] store = "database"`).

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "gateway_volume",
        sa.Column("minute", sa.BigInteger, primary_key=True),
        sa.Column("series", sa.Text, primary_key=True),
        sa.Column("metric", sa.String(40), primary_key=True),
        sa.Column("value", sa.Float, nullable=False),
    )
    op.create_table("gateway_minutes_done", sa.Column("minute", sa.BigInteger, primary_key=True))
    op.create_table(
        "gateway_baselines",
        sa.Column("series", sa.Text, primary_key=True),
        sa.Column("metric", sa.String(40), primary_key=True),
        sa.Column("state", sa.Text, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("gateway_baselines")
    op.drop_table("gateway_minutes_done")
    op.drop_table("gateway_volume")
