"""Domain-group pauses: a receiving provider answered 421 or 4.7.x, so every worker holds
back mail to that group (and only that group) until the pause ends. Kept in the
database because the next message for the group may be in another worker's batch.

The group EVERYTHING is the circuit breaker: sends kept failing, so no worker sends
anything until the pause ends or an admin lifts it."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from digest.db import is_postgres, rows_affected
from digest.mail import outbox
from digest.models import DomainPause

EVERYTHING = "*"
# What a message held back by the breaker says, so that resuming can release it.
HELD_BY_BREAKER = "sending stopped by the circuit breaker"


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


def resume_everything(session: Session, now: datetime) -> bool:
    """Close the circuit breaker now (an admin fixed the cause): lift the pause and make
    the messages it held back due at once. False if sending was not stopped."""
    result = session.execute(sa.delete(DomainPause).where(DomainPause.domain_group == EVERYTHING))
    outbox.make_due(session, held_because=HELD_BY_BREAKER, now=now)
    return rows_affected(result) > 0


def stopped_until(session: Session, now: datetime) -> tuple[datetime, str] | None:
    """When the circuit breaker lets sending resume, and why it tripped; None if sending."""
    row = session.scalar(
        sa.select(DomainPause).where(
            DomainPause.domain_group == EVERYTHING, DomainPause.paused_until > now
        )
    )
    return (row.paused_until, row.reason) if row is not None else None
