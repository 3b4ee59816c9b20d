"""Document kinds and text read from PDF minutes and decision notices

Revision ID: 0008_document_text
Revises: 0014_asked_to_decide
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.db

revision = "0008_document_text"
down_revision = "0011_finding"
branch_labels = None
depends_on = None


# SQLite rebuilds a table to add a foreign key; keep AUTOINCREMENT (migration 0005).
_KEEP = {"sqlite_autoincrement": True}


def upgrade() -> None:
    with op.batch_alter_table("documents", table_kwargs=_KEEP) as batch:
        batch.add_column(sa.Column("kind", sa.String(20), nullable=False, server_default="other"))
        batch.add_column(
            sa.Column("extract_state", sa.String(10), nullable=False, server_default="")
        )
        batch.add_column(
            sa.Column("extract_lease_until", digest.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("extract_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("problem", sa.String(300), nullable=True))
        batch.add_column(sa.Column("content_sha256", sa.String(64), nullable=True))
        batch.add_column(sa.Column("etag", sa.String(300), nullable=True))
        batch.add_column(sa.Column("last_modified", sa.String(100), nullable=True))
        batch.add_column(sa.Column("text", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("pages", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("extracted_at", digest.db.UTCDateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_documents_extract_state", ["extract_state"])
    with op.batch_alter_table("agenda_items", table_kwargs=_KEEP) as batch:
        batch.add_column(sa.Column("minutes_document_id", sa.Integer(), nullable=True))
        batch.add_column(
            sa.Column("report_recommendations", sa.Text(), nullable=False, server_default="")
        )
        batch.create_foreign_key(
            "fk_agenda_items_minutes_document_id_documents",
            "documents",
            ["minutes_document_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("agenda_items", table_kwargs=_KEEP) as batch:
        batch.drop_constraint("fk_agenda_items_minutes_document_id_documents", type_="foreignkey")
        batch.drop_column("report_recommendations")
        batch.drop_column("minutes_document_id")
    with op.batch_alter_table("documents", table_kwargs=_KEEP) as batch:
        batch.drop_index("ix_documents_extract_state")
        for column in (
            "extracted_at",
            "pages",
            "text",
            "last_modified",
            "etag",
            "content_sha256",
            "problem",
            "extract_attempts",
            "extract_lease_until",
            "extract_state",
            "kind",
        ):
            batch.drop_column(column)
