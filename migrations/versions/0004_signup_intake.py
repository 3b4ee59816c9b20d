"""Sign-ups accepted by the subscribe form and waiting to be acted on

Revision ID: 0004_signup_intake
Revises: 0003_collection_counters
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import digest.db

revision = "0004_signup_intake"
down_revision = "0003_collection_counters"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "signup_intake",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("council_id", sa.Integer(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column(
            "kind",
            sa.Enum(
                "resident", "professional", name="subscriptionkind", native_enum=False, length=32
            ),
            nullable=False,
        ),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("received_at", digest.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.ForeignKeyConstraint(
            ["council_id"],
            ["councils.id"],
            name=op.f("fk_signup_intake_council_id_councils"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signup_intake")),
    )
    with op.batch_alter_table("signup_intake") as batch:
        batch.create_index(batch.f("ix_signup_intake_email"), ["email"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("signup_intake") as batch:
        batch.drop_index(batch.f("ix_signup_intake_email"))
    op.drop_table("signup_intake")
