"""What each upcoming agenda item asks the meeting to decide, read from its agenda text

Revision ID: 0014_asked_to_decide
Revises: 0005_ids_never_reused
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_asked_to_decide"
down_revision = "0007_bounce_classes"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows get an empty list; the collector fills it when agenda text next
    # changes, and summaries read the text meanwhile (digest.weekly.meeting.asked_of).
    # A plain ADD COLUMN (SQLite supports it with a constant default), not a batch
    # rebuild: rebuilding the table would drop its AUTOINCREMENT (migration 0005).
    op.add_column(
        "agenda_items",
        sa.Column("asked_to_decide", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    with op.batch_alter_table(
        "agenda_items", table_kwargs={"sqlite_autoincrement": True}
    ) as batch:
        batch.drop_column("asked_to_decide")
