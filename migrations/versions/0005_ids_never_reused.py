"""Identifiers never reused (SQLite AUTOINCREMENT) and a per-subscriber link secret

Revision ID: 0005_ids_never_reused
Revises: 0004_signup_intake

SQLite gives the id of the highest row again after that row is deleted, so after an
erasure the next subscriber got the erased person's ids, and their old manage and
unsubscribe links. Every table with a generated integer id is rebuilt as AUTOINCREMENT
(SQLite can only do that by rebuilding the table), and subscribers get a random
`link_secret` that every new link carries and that dies with the row. Existing
subscribers keep an empty secret, which is what lets their old links keep working.

The rebuild must run with foreign keys off (SQLite drops a table by deleting its rows,
which would cascade): digest.schema.upgrade arranges that, and this migration refuses
to run otherwise.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_ids_never_reused"
down_revision = "0004_signup_intake"
branch_labels = None
depends_on = None

# Parents before children, as in the schema at revision 0004.
TABLES = (
    "admins",
    "councils",
    "job_runs",
    "subscribers",
    "suppressions",
    "admin_actions",
    "committees",
    "digests",
    "enablement_requests",
    "fetch_validators",
    "meetings",
    "signup_intake",
    "subscriptions",
    "agenda_items",
    "attendees",
    "consent_events",
    "meeting_changes",
    "outbox_messages",
    "bounce_events",
    "documents",
)


def _rebuild(autoincrement: bool) -> None:
    bind = op.get_bind()
    if bind.dialect.name != "sqlite":
        return  # PostgreSQL sequences never hand out an id twice
    if bind.exec_driver_sql("PRAGMA foreign_keys").scalar():
        raise RuntimeError(
            "migration 0005 rebuilds tables and must run with SQLite foreign keys off; "
            "run it through `digest init`"
        )
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    with op.batch_alter_table("subscribers") as batch:
        batch.add_column(
            sa.Column("link_secret", sa.String(length=32), server_default="", nullable=False)
        )
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
    with op.batch_alter_table("subscribers") as batch:
        batch.drop_column("link_secret")
