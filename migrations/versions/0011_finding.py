"""Finding and following: councillors, the meeting search index, cached look-ups

Revision ID: 0011_finding
Revises: 0014_asked_to_decide
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.db

revision = "0011_finding"
down_revision = "0014_asked_to_decide"
branch_labels = None
depends_on = None

# SQLite: an external-content FTS5 table over search_entries, kept in step by triggers, so
# whoever writes search_entries (the collector, in its own transaction) updates the index.
SQLITE_FTS = [
    "CREATE VIRTUAL TABLE search_fts USING fts5(title, body, content='search_entries', "
    "content_rowid='sort_key', tokenize='porter unicode61 remove_diacritics 2')",
    "CREATE TRIGGER search_entries_ai AFTER INSERT ON search_entries BEGIN "
    "INSERT INTO search_fts(rowid, title, body) VALUES (new.sort_key, new.title, new.body); END",
    "CREATE TRIGGER search_entries_ad AFTER DELETE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) "
    "VALUES ('delete', old.sort_key, old.title, old.body); END",
    "CREATE TRIGGER search_entries_au AFTER UPDATE ON search_entries BEGIN "
    "INSERT INTO search_fts(search_fts, rowid, title, body) "
    "VALUES ('delete', old.sort_key, old.title, old.body); "
    "INSERT INTO search_fts(rowid, title, body) VALUES (new.sort_key, new.title, new.body); END",
]
# PostgreSQL: a generated tsvector column (always current, same transaction) and a GIN index.
POSTGRES_FTS = [
    "ALTER TABLE search_entries ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
    "(setweight(to_tsvector('english'::regconfig, coalesce(title, '')), 'A') || "
    "to_tsvector('english'::regconfig, coalesce(body, ''))) STORED",
    "CREATE INDEX ix_search_entries_vector ON search_entries USING gin (search_vector)",
]


def upgrade() -> None:
    op.create_table(
        "councillors",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("council_id", sa.Integer(), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("party", sa.String(length=200), nullable=False),
        sa.Column("ward", sa.String(length=200), nullable=False),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("first_seen_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_seen_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("left_at", digest.db.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_councillors_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_councillors")),
        sa.UniqueConstraint(
            "council_id", "source_id", name=op.f("uq_councillors_council_id_source_id")
        ),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("councillors") as batch:
        batch.create_index("ix_councillors_council_ward", ["council_id", "ward"], unique=False)
    op.create_table(
        "search_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("sort_key", sa.BigInteger(), nullable=False),
        sa.Column("meeting_id", sa.Integer(), nullable=False),
        sa.Column("agenda_item_id", sa.Integer(), nullable=True),
        sa.Column("council_id", sa.Integer(), nullable=False),
        sa.Column("committee", sa.String(length=300), nullable=False),
        sa.Column("start_date", sa.Date(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["agenda_item_id"],
            ["agenda_items.id"],
            name=op.f("fk_search_entries_agenda_item_id_agenda_items"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_search_entries_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meeting_id"],
            ["meetings.id"],
            name=op.f("fk_search_entries_meeting_id_meetings"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_search_entries")),
        sa.UniqueConstraint("sort_key", name=op.f("uq_search_entries_sort_key")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("search_entries") as batch:
        batch.create_index(
            "ix_search_entries_council_key", ["council_id", "sort_key"], unique=False
        )
        batch.create_index(
            batch.f("ix_search_entries_meeting_id"), ["meeting_id"], unique=False
        )
    op.create_table(
        "lookup_cache",
        sa.Column("key", sa.String(length=200), nullable=False),
        sa.Column("value", sa.JSON(), nullable=False),
        sa.Column("fetched_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_lookup_cache")),
    )
    statements = SQLITE_FTS if op.get_bind().dialect.name == "sqlite" else POSTGRES_FTS
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("search_entries_ai", "search_entries_ad", "search_entries_au"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS search_fts")
    op.drop_table("lookup_cache")
    op.drop_table("search_entries")
    op.drop_table("councillors")
