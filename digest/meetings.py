"""Read-side queries over collected meetings, for pages, feeds and the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from digest import clock
from digest.models import Council, Meeting


@dataclass(frozen=True)
class MeetingLists:
    recent: list[Meeting]
    upcoming: list[Meeting]


def recent_and_upcoming(
    session: Session,
    council: Council,
    now: datetime,
    tz: ZoneInfo,
    *,
    days_back: int = 28,
    days_ahead: int = 60,
    limit: int = 25,
) -> MeetingLists:
    """Meetings of the last `days_back` days (newest first) and the next `days_ahead`
    (soonest first), split at the start of the site's today."""
    start_of_today = clock.start_of_today(now, tz)
    base = sa.select(Meeting).where(Meeting.council_id == council.id)
    recent = session.scalars(
        base.where(
            Meeting.start_at < start_of_today,
            Meeting.start_at >= start_of_today - timedelta(days=days_back),
        )
        .order_by(Meeting.start_at.desc())
        .limit(limit)
    ).all()
    upcoming = session.scalars(
        base.where(
            Meeting.start_at >= start_of_today,
            Meeting.start_at < start_of_today + timedelta(days=days_ahead),
        )
        .order_by(Meeting.start_at)
        .limit(limit)
    ).all()
    return MeetingLists(recent=list(recent), upcoming=list(upcoming))


def with_parts(session: Session, found: list[Meeting]) -> list[Meeting]:
    """The same meetings with agenda items, documents and attendees loaded."""
    if not found:
        return []
    loaded = {
        m.id: m
        for m in session.scalars(
            sa.select(Meeting)
            .where(Meeting.id.in_([m.id for m in found]))
            .options(
                selectinload(Meeting.items),
                selectinload(Meeting.documents),
                selectinload(Meeting.attendees),
            )
        )
    }
    return [loaded[m.id] for m in found]
