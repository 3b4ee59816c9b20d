"""Delivery counters, computed from the outbox and bounce tables, for the admin
dashboard, metrics and `digest send`. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from digest.db import is_postgres
from digest.mail import claims, outbox, pauses
from digest.models import BounceEvent, BounceKind, OutboxMessage, OutboxStatus


@dataclass(frozen=True)
class DeliveryCounts:
    queue: dict[OutboxStatus, int]  # every row, by state, now
    due: int  # pending and due now, or claimed by a worker whose lease ran out
    oldest_due_at: datetime | None  # how far behind delivery is
    sent: int  # since `since`
    failed: int  # since `since` (last attempt in the window)
    bounces: dict[BounceKind, int]  # since `since`, by kind (complaints included)
    paused_groups: dict[str, datetime]


@dataclass(frozen=True)
class WeekCounts:
    week: str  # ISO week, e.g. 2026-W47
    sent: int
    failed: int
    bounces: int  # hard and soft: about the recipient
    complaints: int
    about_us: int = 0  # refusals about the sender (blocklists, authentication, rate)


def counts(session: Session, *, now: datetime, since: datetime) -> DeliveryCounts:
    due, oldest = claims.count_due(session, now)
    sent = session.scalar(
        sa.select(sa.func.count()).where(
            OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.sent_at >= since
        )
    )
    failed = session.scalar(
        sa.select(sa.func.count()).where(
            OutboxMessage.status == OutboxStatus.FAILED, OutboxMessage.last_attempt_at >= since
        )
    )
    bounces = dict.fromkeys(BounceKind, 0)
    for kind, n in session.execute(
        sa.select(BounceEvent.kind, sa.func.count())
        .where(BounceEvent.occurred_at >= since)
        .group_by(BounceEvent.kind)
    ):
        bounces[kind] = n
    return DeliveryCounts(
        queue=outbox.depth_by_status(session),
        due=int(due or 0),
        oldest_due_at=oldest,
        sent=int(sent or 0),
        failed=int(failed or 0),
        bounces=bounces,
        paused_groups=pauses.active(session, now),
    )


def _day(session: Session, column: InstrumentedAttribute[Any]) -> sa.ColumnElement[str]:
    # Both dialects store UTC; group by the UTC calendar day as text (YYYY-MM-DD).
    if is_postgres(session):
        return sa.func.to_char(sa.func.timezone("UTC", column), "YYYY-MM-DD")
    return sa.func.date(column)


def _per_day(
    session: Session, column: InstrumentedAttribute[Any], where: sa.ColumnElement[bool]
) -> dict[date, int]:
    day = _day(session, column)
    rows = session.execute(sa.select(day, sa.func.count()).where(where).group_by(day))
    return {date.fromisoformat(str(d)): int(n) for d, n in rows}


def _iso_week(day: date) -> str:
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def weekly(session: Session, *, now: datetime, weeks: int = 8) -> list[WeekCounts]:
    """Sent, failed, bounced and complained per ISO week (UTC), the current week last."""
    today = now.date()
    start_day = today - timedelta(days=today.isoweekday() - 1) - timedelta(weeks=weeks - 1)
    start = datetime.combine(start_day, datetime.min.time(), tzinfo=now.tzinfo)
    sent = _per_day(
        session,
        OutboxMessage.sent_at,
        sa.and_(OutboxMessage.status == OutboxStatus.SENT, OutboxMessage.sent_at >= start),
    )
    failed = _per_day(
        session,
        OutboxMessage.last_attempt_at,
        sa.and_(
            OutboxMessage.status == OutboxStatus.FAILED, OutboxMessage.last_attempt_at >= start
        ),
    )
    bounced = _per_day(
        session,
        BounceEvent.occurred_at,
        sa.and_(
            BounceEvent.occurred_at >= start,
            BounceEvent.kind.in_((BounceKind.HARD, BounceKind.SOFT)),
        ),
    )
    about_us = _per_day(
        session,
        BounceEvent.occurred_at,
        sa.and_(BounceEvent.occurred_at >= start, BounceEvent.kind == BounceKind.ABOUT_US),
    )
    complained = _per_day(
        session,
        BounceEvent.occurred_at,
        sa.and_(BounceEvent.occurred_at >= start, BounceEvent.kind == BounceKind.COMPLAINT),
    )
    labels = [_iso_week(start_day + timedelta(weeks=n)) for n in range(weeks)]

    def total(per_day: dict[date, int], label: str) -> int:
        return sum(n for d, n in per_day.items() if _iso_week(d) == label)

    return [
        WeekCounts(
            week=label,
            sent=total(sent, label),
            failed=total(failed, label),
            bounces=total(bounced, label),
            complaints=total(complained, label),
            about_us=total(about_us, label),
        )
        for label in labels
    ]


def recent_about_us(session: Session, limit: int = 20) -> list[BounceEvent]:
    """The latest refusals about us, for the operator: they never suppress anyone, so
    this list is where they are seen. Shows the receiver's words, not the address."""
    return list(
        session.scalars(
            sa.select(BounceEvent)
            .where(BounceEvent.kind == BounceKind.ABOUT_US)
            .order_by(BounceEvent.occurred_at.desc(), BounceEvent.id.desc())
            .limit(limit)
        )
    )
