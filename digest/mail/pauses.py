"""Domain-group pauses: a receiving provider answered 421 or 4.7.x, so every worker holds
back mail to that group (and only that group) until the pause ends. Kept in the
database because the next message for the group may be in another worker's batch."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.db import is_postgres
from digest.models import DomainPause


def pause(session: Session, group: str, until: datetime, reason: str) -> None:
    """Pause `group` until `until`; an existing longer pause is kept."""
    table = cast(sa.Table, DomainPause.__table__)
    insert = postgresql.insert if is_postgres(session) else sqlite.insert
    stmt: Any = insert(table).values(domain_group=group, paused_until=until, reason=reason[:500])
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.domain_group],
        set_={"paused_until": stmt.excluded.paused_until, "reason": stmt.excluded.reason},
        where=table.c.paused_until < stmt.excluded.paused_until,
    )
    session.execute(stmt)


def active(session: Session, now: datetime) -> dict[str, datetime]:
    """Paused groups and when each pause ends."""
    return {
        row.domain_group: row.paused_until
        for row in session.scalars(sa.select(DomainPause).where(DomainPause.paused_until > now))
    }
