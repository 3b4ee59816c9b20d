"""Topics on agenda items, topic selections on subscriptions and digests, topic watches

Revision ID: 0010_topics
Revises: 0014_asked_to_decide
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.db

revision = "0010_topics"
down_revision = "0008_document_text"
branch_labels = None
depends_on = None


# Tables SQLite may rebuild here keep the AUTOINCREMENT that 0005 gave them.
KEEP = {"sqlite_autoincrement": True}


def upgrade() -> None:
    # Existing items get no topics and an empty version, so the first retag run (the
    # collect job, or `digest topics retag`) tags them all.
    with op.batch_alter_table("agenda_items", table_kwargs=KEEP) as batch:
        batch.add_column(sa.Column("topics", sa.JSON(), nullable=False, server_default="[]"))
        batch.add_column(
            sa.Column("topics_version", sa.String(length=16), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("first_seen_at", digest.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_index(
            batch.f("ix_agenda_items_topics_version"), ["topics_version"], unique=False
        )
        batch.create_index(batch.f("ix_agenda_items_first_seen_at"), ["first_seen_at"], unique=False)
    with op.batch_alter_table("subscriptions", table_kwargs=KEEP) as batch:
        batch.add_column(sa.Column("topics", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("digests", table_kwargs=KEEP) as batch:
        batch.add_column(
            sa.Column("topics", sa.String(length=600), nullable=False, server_default="")
        )
        batch.drop_constraint("uq_digests_council_id_week", type_="unique")
        batch.create_unique_constraint(
            batch.f("uq_digests_council_id_week_topics"), ["council_id", "week", "topics"]
        )
    op.create_table(
        "watches",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.Integer(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "active",
                "unsubscribed",
                name="subscriptionstatus",
                native_enum=False,
                length=32,
            ),
            nullable=False,
        ),
        sa.Column("frequency", sa.String(length=10), nullable=False),
        sa.Column("topics", sa.JSON(), nullable=False),
        sa.Column("keywords", sa.JSON(), nullable=False),
        sa.Column("council_ids", sa.JSON(), nullable=False),
        sa.Column("confirm_nonce", sa.String(length=32), nullable=True),
        sa.Column("created_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("confirmed_at", digest.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("unsubscribed_at", digest.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("matched_until", digest.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_sent_at", digest.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("ip_hash", sa.String(length=64), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_watches_subscriber_id_subscribers"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_watches")),
        sqlite_autoincrement=True,
    )
    with op.batch_alter_table("watches", table_kwargs=KEEP) as batch:
        batch.create_index(batch.f("ix_watches_subscriber_id"), ["subscriber_id"], unique=False)
        batch.create_index("ix_watches_status_frequency", ["status", "frequency"], unique=False)
    with op.batch_alter_table("outbox_messages", table_kwargs=KEEP) as batch:
        batch.add_column(sa.Column("watch_id", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("payload", sa.JSON(), nullable=True))
        batch.create_foreign_key(
            batch.f("fk_outbox_messages_watch_id_watches"),
            "watches",
            ["watch_id"],
            ["id"],
            ondelete="CASCADE",
        )
        batch.create_index(batch.f("ix_outbox_messages_watch_id"), ["watch_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("outbox_messages", table_kwargs=KEEP) as batch:
        batch.drop_index(batch.f("ix_outbox_messages_watch_id"))
        batch.drop_constraint(batch.f("fk_outbox_messages_watch_id_watches"), type_="foreignkey")
        batch.drop_column("payload")
        batch.drop_column("watch_id")
    with op.batch_alter_table("watches", table_kwargs=KEEP) as batch:
        batch.drop_index("ix_watches_status_frequency")
        batch.drop_index(batch.f("ix_watches_subscriber_id"))
    op.drop_table("watches")
    with op.batch_alter_table("digests", table_kwargs=KEEP) as batch:
        batch.drop_constraint(batch.f("uq_digests_council_id_week_topics"), type_="unique")
        batch.create_unique_constraint("uq_digests_council_id_week", ["council_id", "week"])
        batch.drop_column("topics")
    with op.batch_alter_table("subscriptions", table_kwargs=KEEP) as batch:
        batch.drop_column("topics")
    with op.batch_alter_table("agenda_items", table_kwargs=KEEP) as batch:
        batch.drop_index(batch.f("ix_agenda_items_first_seen_at"))
        batch.drop_index(batch.f("ix_agenda_items_topics_version"))
        batch.drop_column("first_seen_at")
        batch.drop_column("topics_version")
        batch.drop_column("topics")
