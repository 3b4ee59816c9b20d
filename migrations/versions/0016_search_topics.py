"""Search: each entry carries its topics (the topic filter); entries are rebuilt

Revision ID: 0016_search_topics
Revises: 0009_council_systems
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016_search_topics"
down_revision = "0015_held_by_breaker"
branch_labels = None
depends_on = None


# PostgreSQL: the topics join the tsvector as lexemes of their own ('topic=transport', no
# word of text can make one: the parser splits at '='), so one GIN index finds the words
# and the topic together instead of reading every match's row for a LIKE.
POSTGRES_VECTOR = (
    "setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "to_tsvector('english'::regconfig, coalesce(body, ''))"
)
POSTGRES_TOPICS = (
    " || array_to_tsvector(string_to_array(btrim(regexp_replace(topics, '(\\S+)', "
    "'topic=\\1', 'g')), ' '))"
)


def _postgres_vector(expression: str) -> None:
    op.execute("DROP INDEX ix_search_entries_vector")
    op.execute("ALTER TABLE search_entries DROP COLUMN search_vector")
    op.execute(
        "ALTER TABLE search_entries ADD COLUMN search_vector tsvector "
        f"GENERATED ALWAYS AS ({expression}) STORED"
    )
    op.execute("CREATE INDEX ix_search_entries_vector ON search_entries USING gin (search_vector)")


def upgrade() -> None:
    with op.batch_alter_table("search_entries") as batch:
        batch.add_column(sa.Column("topics", sa.String(400), nullable=False, server_default=""))
        batch.create_index("ix_search_entries_key_topics", ["sort_key", "topics"], unique=False)
    # Entries written before have no topics and no document text: dropped here, they are
    # written again by `digest init` (search.index_missing), which indexes every meeting
    # without entries. The triggers (SQLite) and the generated column (PostgreSQL) keep
    # the full-text index in step.
    op.execute("DELETE FROM search_entries")
    if op.get_bind().dialect.name == "postgresql":
        _postgres_vector(POSTGRES_VECTOR + POSTGRES_TOPICS)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _postgres_vector(POSTGRES_VECTOR)
    with op.batch_alter_table("search_entries") as batch:
        batch.drop_index("ix_search_entries_key_topics")
        batch.drop_column("topics")
