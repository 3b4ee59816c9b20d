"""A council's agenda items on one topic: recent decisions and upcoming items, for the
topic page, its Atom feed and the API (SPEC §12.3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from digest import clock
from digest.models import AgendaItem, Council, Meeting, MeetingStatus
from digest.weekly.meeting import resolutions_of

DAYS_BACK = 120
DAYS_AHEAD = 90
MEETINGS_LIMIT = 400  # bounds the page's work for very busy councils


@dataclass(frozen=True)
class TopicItem:
    meeting: Meeting
    item: AgendaItem
    decisions: list[str]

    @property
    def changed_at(self) -> datetime:
        return self.item.first_seen_at or self.meeting.updated_at


@dataclass(frozen=True)
class TopicPage:
    decided: list[TopicItem]  # newest meeting first
    upcoming: list[TopicItem]  # soonest first


def topic_items(
    session: Session,
    council: Council,
    slug: str,
    now: datetime,
    tz: ZoneInfo,
    *,
    days_back: int = DAYS_BACK,
    days_ahead: int = DAYS_AHEAD,
) -> TopicPage:
    """Public items tagged `slug` in meetings from `days_back` ago to `days_ahead` on:
    those of held meetings (with what the minutes decided) and those still to come."""
    today = clock.start_of_today(now, tz)
    meetings = session.scalars(
        sa.select(Meeting)
        .where(
            Meeting.council_id == council.id,
            Meeting.start_at >= today - timedelta(days=days_back),
            Meeting.start_at < today + timedelta(days=days_ahead),
            Meeting.status != MeetingStatus.CANCELLED,
        )
        .options(selectinload(Meeting.items))
        .order_by(Meeting.start_at, Meeting.id)
        .limit(MEETINGS_LIMIT)
    ).all()
    decided: list[TopicItem] = []
    upcoming: list[TopicItem] = []
    for meeting in meetings:
        for item in meeting.items:
            if item.is_restricted or slug not in (item.topics or ()):
                continue
            if meeting.start_at < today:
                decided.append(TopicItem(meeting, item, resolutions_of(item)))
            else:
                upcoming.append(TopicItem(meeting, item, []))
    decided.reverse()
    return TopicPage(decided=decided, upcoming=upcoming)
