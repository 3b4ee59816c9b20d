"""Search: each entry carries its topics (the topic filter); entries are rebuilt

Revision ID: 0015_search_topics
Revises: 0009_council_systems
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015_search_topics"
down_revision = "0009_council_systems"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("search_entries") as batch:
        batch.add_column(sa.Column("topics", sa.String(400), nullable=False, server_default=""))
        batch.create_index("ix_search_entries_key_topics", ["sort_key", "topics"], unique=False)
    # Entries written before have no topics and no document text: dropped here, they are
    # written again by `digest init` (search.index_missing), which indexes every meeting
    # without entries. The triggers (SQLite) and the generated column (PostgreSQL) keep
    # the full-text index in step.
    op.execute("DELETE FROM search_entries")


def downgrade() -> None:
    with op.batch_alter_table("search_entries") as batch:
        batch.drop_index("ix_search_entries_key_topics")
        batch.drop_column("topics")
