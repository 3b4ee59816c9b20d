"""Figures for the admin dashboard, the delivery page and /metrics, read from the tables."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import InstrumentedAttribute, Session

from digest import councils, heartbeats
from digest.clock import start_of_day, week_monday, week_start
from digest.db import count_by
from digest.mail import pauses
from digest.mail import stats as mail_stats
from digest.models import (
    BounceEvent,
    BounceKind,
    Council,
    CouncilStatus,
    Digest,
    JobRun,
    OutboxMessage,
    OutboxStatus,
    Subscription,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)

E = TypeVar("E", bound=StrEnum)


def by_value(counts: Mapping[E, int]) -> dict[str, int]:
    """Counts keyed by the states' string values, for templates and metrics."""
    return {state.value: n for state, n in counts.items()}


def councils_by_status(session: Session) -> dict[CouncilStatus, int]:
    return councils.counts_by_status(session)


def delivery_weeks(
    session: Session, *, now: datetime, tz: ZoneInfo, weeks: int = 8
) -> list[mail_stats.WeekCounts]:
    """Sent, failed, bounced and complained per ISO week in the site's zone (the weeks
    the dashboard counts), the current week last."""
    this_monday = week_monday(now, tz)
    mondays = [this_monday - timedelta(weeks=n) for n in range(weeks - 1, -1, -1)]
    bounds = [start_of_day(monday, tz) for monday in mondays]
    end = start_of_day(this_monday + timedelta(weeks=1), tz)

    def per_week(column: InstrumentedAttribute[datetime | None], *where: Any) -> list[int]:
        # One query per figure: each row's week is the latest start at or before it.
        week = sa.case(
            *((column >= start, n) for n, start in reversed(list(enumerate(bounds)))),
            else_=-1,
        )
        totals = [0] * weeks
        for n, count in session.execute(
            sa.select(week, sa.func.count())
            .where(column >= bounds[0], column < end, *where)
            .group_by(week)
        ):
            totals[n] += count
        return totals

    sent = per_week(OutboxMessage.sent_at, OutboxMessage.status == OutboxStatus.SENT)
    failed = per_week(OutboxMessage.last_attempt_at, OutboxMessage.status == OutboxStatus.FAILED)
    bounced = per_week(
        BounceEvent.occurred_at, BounceEvent.kind.in_((BounceKind.HARD, BounceKind.SOFT))
    )
    complained = per_week(BounceEvent.occurred_at, BounceEvent.kind == BounceKind.COMPLAINT)
    about_us = per_week(BounceEvent.occurred_at, BounceEvent.kind == BounceKind.ABOUT_US)
    labels = [f"{year}-W{week:02d}" for year, week, _ in (m.isocalendar() for m in mondays)]
    return [
        mail_stats.WeekCounts(
            week=labels[n],
            sent=sent[n],
            failed=failed[n],
            bounces=bounced[n],
            complaints=complained[n],
            about_us=about_us[n],
        )
        for n in range(weeks)
    ]


@dataclass(frozen=True)
class LastBuild:
    built_at: datetime
    week: str
    digests: int


def last_build(session: Session) -> LastBuild | None:
    newest = session.execute(
        sa.select(Digest.built_at, Digest.week).order_by(Digest.built_at.desc()).limit(1)
    ).first()
    if newest is None:
        return None
    digests = session.scalar(
        sa.select(sa.func.count()).select_from(Digest).where(Digest.week == newest.week)
    )
    return LastBuild(built_at=newest.built_at, week=newest.week, digests=digests or 0)


@dataclass(frozen=True)
class Overview:
    councils: dict[CouncilStatus, int]
    stale: int
    subscriptions: dict[SubscriptionStatus, int]
    subscribers_active: int
    last_digest_run: JobRun | None
    # Digests built by any route (scheduler, `digest build`, the demo): the scheduler's
    # JobRun alone said "never" after a build from the command line.
    last_build: LastBuild | None
    last_collect_run: JobRun | None
    delivery: mail_stats.DeliveryCounts  # sent, failed and bounces counted since Monday
    scheduler_beat: datetime | None


def active_subscribers(session: Session) -> int:
    """People with at least one active subscription."""
    return (
        session.scalar(
            sa.select(sa.func.count(sa.func.distinct(Subscription.subscriber_id))).where(
                Subscription.status == SubscriptionStatus.ACTIVE
            )
        )
        or 0
    )


@dataclass(frozen=True)
class Health:
    scheduler_beat: datetime | None
    sending_stopped: tuple[datetime, str] | None  # until when, and why


def health(session: Session, now: datetime, heartbeat: str) -> Health:
    """What /healthz reports; raises SQLAlchemyError when the database does not answer."""
    session.execute(sa.text("SELECT 1"))
    return Health(
        scheduler_beat=heartbeats.last_beat(session, heartbeat),
        sending_stopped=pauses.stopped_until(session, now),
    )


def subscriptions_by_status(session: Session) -> dict[SubscriptionStatus, int]:
    return count_by(session, Subscription.status, SubscriptionStatus)


def stale_councils(session: Session, now: datetime) -> list[Council]:
    enabled = session.scalars(sa.select(Council).where(Council.status == CouncilStatus.ENABLED))
    return [c for c in enabled if c.is_stale(now)]


def overview(session: Session, now: datetime, tz: ZoneInfo) -> Overview:
    return Overview(
        councils=councils.counts_by_status(session),
        stale=len(stale_councils(session, now)),
        subscriptions=subscriptions_by_status(session),
        subscribers_active=active_subscribers(session),
        last_digest_run=heartbeats.last_run(session, "weekly_digest"),
        last_build=last_build(session),
        last_collect_run=heartbeats.last_run(session, "collect"),
        delivery=mail_stats.counts(session, now=now, since=week_start(now, tz)),
        scheduler_beat=heartbeats.last_beat(session, "scheduler"),
    )


def recent_failures(session: Session, limit: int = 50) -> list[OutboxMessage]:
    return list(
        session.scalars(
            sa.select(OutboxMessage)
            .where(
                OutboxMessage.last_error.is_not(None),
                OutboxMessage.status.in_([OutboxStatus.FAILED, OutboxStatus.PENDING]),
            )
            .order_by(OutboxMessage.last_attempt_at.desc())
            .limit(limit)
        )
    )


def suppressions_by_reason(session: Session) -> dict[SuppressionReason, int]:
    return count_by(session, Suppression.reason, SuppressionReason)


def recent_suppressions(session: Session, limit: int = 50) -> list[Suppression]:
    return list(
        session.scalars(sa.select(Suppression).order_by(Suppression.created_at.desc()).limit(limit))
    )
