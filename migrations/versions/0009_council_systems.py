"""Council systems: who decided a council's system, and Jadu councils named as such

Revision ID: 0009_council_systems
Revises: 0014_asked_to_decide
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_council_systems"
down_revision = "0010_topics"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # 'list' (the bundled council list, refreshed on every import), 'probe' or 'admin'
    # (kept: an import never overwrites what was found or set by hand).
    with op.batch_alter_table("councils") as batch:
        batch.add_column(
            sa.Column("system_source", sa.String(16), nullable=False, server_default="list")
        )
    # The bundled list says Pendle and Rossendale run Jadu's meetings module; earlier
    # imports stored that as 'other'.
    op.execute(
        "UPDATE councils SET system = 'jadu' "
        "WHERE slug IN ('pendle', 'rossendale') AND system = 'other'"
    )


def downgrade() -> None:
    op.execute("UPDATE councils SET system = 'other' WHERE system = 'jadu'")
    with op.batch_alter_table("councils") as batch:
        batch.drop_column("system_source")
