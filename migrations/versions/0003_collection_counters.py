"""Collection counters per council, for /metrics

Revision ID: 0003_collection_counters
Revises: 0002_demand_index
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_collection_counters"
down_revision = "0002_demand_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("councils") as batch:
        batch.add_column(sa.Column("collections_ok", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(
            sa.Column("collections_failed", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("councils") as batch:
        batch.drop_column("collections_failed")
        batch.drop_column("collections_ok")
