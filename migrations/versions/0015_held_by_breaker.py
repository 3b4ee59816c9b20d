"""Outbox messages held back by the circuit breaker are marked by a column, not found by
the text of their last error

Revision ID: 0015_held_by_breaker
Revises: 0009_council_systems
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_held_by_breaker"
down_revision = "0009_council_systems"
branch_labels = None
depends_on = None

# What a held message's last error said until now (digest.mail.pauses.HELD_BY_BREAKER).
HELD_TEXT = "sending stopped by the circuit breaker"


def upgrade() -> None:
    # A plain ADD COLUMN on both databases: a batch (table-rebuilding) operation on SQLite
    # would drop the table's AUTOINCREMENT, and with it the promise that ids are never
    # reused (migration 0005).
    op.add_column(
        "outbox_messages",
        sa.Column("held_by_breaker", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    outbox = sa.table(
        "outbox_messages",
        sa.column("status", sa.String),
        sa.column("last_error", sa.Text),
        sa.column("held_by_breaker", sa.Boolean),
    )
    op.execute(
        outbox.update()
        .where(outbox.c.status == "pending", outbox.c.last_error == HELD_TEXT)
        .values(held_by_breaker=True)
    )


def downgrade() -> None:
    # (On SQLite this rebuilds the table, without its AUTOINCREMENT.)
    with op.batch_alter_table("outbox_messages") as batch:
        batch.drop_column("held_by_breaker")
