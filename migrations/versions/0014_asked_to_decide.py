"""What each upcoming agenda item asks the meeting to decide, read from its agenda text

Revision ID: 0014_asked_to_decide
Revises: 0005_ids_never_reused
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014_asked_to_decide"
down_revision = "0005_ids_never_reused"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Existing rows get an empty list; the collector fills it when agenda text next
    # changes, and summaries read the text meanwhile (digest.summaries.meeting.asked_of).
    with op.batch_alter_table("agenda_items") as batch:
        batch.add_column(
            sa.Column("asked_to_decide", sa.JSON(), nullable=False, server_default=sa.text("'[]'"))
        )


def downgrade() -> None:
    with op.batch_alter_table("agenda_items") as batch:
        batch.drop_column("asked_to_decide")
