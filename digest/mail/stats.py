"""Delivery counters, computed from the outbox and bounce tables, for the admin
dashboard, metrics and `digest send`. Read-only."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

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
