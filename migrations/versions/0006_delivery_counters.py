"""Installation-wide delivery counters (the circuit breaker's sends failed in a row),
and meetings whose details could not be read

Revision ID: 0006_delivery_counters
Revises: 0005_ids_never_reused
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.db

revision = "0006_delivery_counters"
down_revision = "0005_ids_never_reused"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "delivery_counters",
        sa.Column("name", sa.String(length=40), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_delivery_counters")),
    )
    op.create_table(
        "meeting_fetch_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("council_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("error", sa.String(length=500), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("first_failed_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_failed_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_meeting_fetch_failures_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_meeting_fetch_failures")),
        sa.UniqueConstraint(
            "council_id", "source_id", name=op.f("uq_meeting_fetch_failures_council_id_source_id")
        ),
        # Ids never reused on SQLite, like every table since 0005.
        sqlite_autoincrement=True,
    )


def downgrade() -> None:
    op.drop_table("meeting_fetch_failures")
    op.drop_table("delivery_counters")
