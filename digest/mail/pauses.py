"""Domain-group pauses: a receiving provider answered 421 or 4.7.x, so every worker holds
back mail to that group (and only that group) until the pause ends. Kept in the
database because the next message for the group may be in another worker's batch.

The group EVERYTHING is the circuit breaker: sends kept failing, so no worker sends
anything until the pause ends or an admin lifts it. The failures are counted in the
database (`delivery_counters`), across all workers: with four workers the breaker still
trips after `breaker_failures` failed sends, not four times as many."""

from __future__ import annotations

from datetime import datetime
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.db import dialect_of, fit, rows_affected, upsert_insert
from digest.mail import outbox
from digest.models import DeliveryCounter, DomainPause

EVERYTHING = "*"
# What a message held back by the breaker says, for the operator (resuming finds such
# messages by their `held_by_breaker` mark, not by this text).
HELD_BY_BREAKER = "sending stopped by the circuit breaker"
FAILURES_IN_A_ROW = "failures_in_a_row"


def count_failure(session: Session) -> int:
    """One more send failed, on any worker; how many failed in a row now (one atomic
    statement, so concurrent workers never lose a count)."""
    table = cast(sa.Table, DeliveryCounter.__table__)
    stmt: Any = upsert_insert(dialect_of(session), table).values(name=FAILURES_IN_A_ROW, value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.name], set_={"value": table.c.value + 1}
    ).returning(table.c.value)
    return int(session.execute(stmt).scalar_one())


def reset_failures(session: Session) -> None:
    """A send went through (or the breaker tripped): the run of failures is over."""
    session.execute(
        sa.update(DeliveryCounter)
        .where(DeliveryCounter.name == FAILURES_IN_A_ROW, DeliveryCounter.value != 0)
        .values(value=0)
    )


# Read with each message's send-time checks (no extra round trip): when the breaker
# stopped sending, and the shared run of failures.
BREAKER_STATE = (
    sa.select(DomainPause.paused_until)
    .where(DomainPause.domain_group == EVERYTHING)
    .scalar_subquery(),
    sa.select(DeliveryCounter.value)
    .where(DeliveryCounter.name == FAILURES_IN_A_ROW)
    .scalar_subquery(),
)


def pause(session: Session, group: str, until: datetime, reason: str) -> None:
    """Pause `group` until `until`; an existing longer pause is kept."""
    table = cast(sa.Table, DomainPause.__table__)
    stmt: Any = upsert_insert(dialect_of(session), table).values(
        domain_group=group, paused_until=until, reason=fit(DomainPause.reason, reason)
    )
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
    outbox.release_held_by_breaker(session, now)
    reset_failures(session)
    return rows_affected(result) > 0


def stopped_until(session: Session, now: datetime) -> tuple[datetime, str] | None:
    """When the circuit breaker lets sending resume, and why it tripped; None if sending."""
    row = session.scalar(
        sa.select(DomainPause).where(
            DomainPause.domain_group == EVERYTHING, DomainPause.paused_until > now
        )
    )
    return (row.paused_until, row.reason) if row is not None else None
