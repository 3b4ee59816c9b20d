"""Covering index for the demand ranking

Revision ID: 0002_demand_index
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002_demand_index"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_index("ix_subscriptions_council_status")
        batch.create_index("ix_subscriptions_demand", ["council_id", "status", "confirmed_at"])


def downgrade() -> None:
    with op.batch_alter_table("subscriptions") as batch:
        batch.drop_index("ix_subscriptions_demand")
        batch.create_index("ix_subscriptions_council_status", ["council_id", "status"])
