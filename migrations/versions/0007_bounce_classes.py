"""Bounce classes: "policy" becomes "about_us", "not_bounce" is recorded, and each event
keeps the evidence that decided its class

Revision ID: 0007_bounce_classes
Revises: 0005_ids_never_reused
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_bounce_classes"
down_revision = "0006_delivery_counters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("bounce_events") as batch:
        batch.add_column(sa.Column("reason", sa.String(length=200), nullable=False, server_default=""))
    op.execute("UPDATE bounce_events SET kind = 'about_us' WHERE kind = 'policy'")


def downgrade() -> None:
    op.execute("DELETE FROM bounce_events WHERE kind = 'not_bounce'")
    op.execute("UPDATE bounce_events SET kind = 'policy' WHERE kind = 'about_us'")
    with op.batch_alter_table("bounce_events") as batch:
        batch.drop_column("reason")
