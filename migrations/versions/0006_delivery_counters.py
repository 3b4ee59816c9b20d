"""Installation-wide delivery counters (the circuit breaker's sends failed in a row)

Revision ID: 0006_delivery_counters
Revises: 0004_signup_intake
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_delivery_counters"
down_revision = "0004_signup_intake"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_delivery_counters")),
    )


def downgrade() -> None:
    op.drop_table("delivery_counters")
