"""The one place that reads the wall clock, and the site's calendar.

Everything else is handed `now` (an aware UTC datetime). What "today" and "this week"
mean depends on where the site's readers live, so both are defined here once, in the
site's time zone: UTC midnight is 01:00 in London for half the year.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def utcnow() -> datetime:
    return datetime.now(UTC)


def local_today(now: datetime, tz: ZoneInfo) -> date:
    """The date it is at `now` in the site's time zone."""
    return now.astimezone(tz).date()


def start_of_day(day: date, tz: ZoneInfo) -> datetime:
    """Midnight at the start of `day` in the site's zone, in UTC (for comparing with
    stored timestamps)."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def start_of_today(now: datetime, tz: ZoneInfo) -> datetime:
    """Local midnight of `now`'s day, in UTC: what "before today" means in meeting lists."""
    return start_of_day(local_today(now, tz), tz)


def week_monday(now: datetime, tz: ZoneInfo) -> date:
    """The Monday of `now`'s ISO week in the site's zone."""
    today = local_today(now, tz)
    return today - timedelta(days=today.weekday())


def week_start(now: datetime, tz: ZoneInfo) -> datetime:
    """Monday 00:00 of `now`'s ISO week in the site's zone, in UTC."""
    return start_of_day(week_monday(now, tz), tz)
