"""ISO weeks ("2026-W47") in the site's time zone.

A digest for week W reports meetings dated in the week before W and previews meetings
dated in W (SPEC §5), so a Monday-morning digest covers the whole of last week.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from digest.clock import local_today, start_of_day

_LABEL = re.compile(r"^(\d{4})-W(\d{2})$")


class InvalidWeek(ValueError):
    """Not an ISO week like 2026-W47."""


@dataclass(frozen=True, order=True)
class IsoWeek:
    year: int
    week: int

    @classmethod
    def parse(cls, label: str) -> IsoWeek:
        match = _LABEL.match(label.strip())
        if match is None:
            raise InvalidWeek(f"{label!r} is not an ISO week like 2026-W47")
        year, week = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError as exc:
            raise InvalidWeek(f"{label!r}: {year} has no week {week}") from exc
        return cls(year, week)

    @classmethod
    def containing(cls, day: date) -> IsoWeek:
        year, week, _ = day.isocalendar()
        return cls(year, week)

    @classmethod
    def of(cls, moment: datetime, tz: ZoneInfo) -> IsoWeek:
        return cls.containing(local_today(moment, tz))

    @property
    def label(self) -> str:
        return f"{self.year}-W{self.week:02d}"

    def __str__(self) -> str:
        return self.label

    @property
    def monday(self) -> date:
        return date.fromisocalendar(self.year, self.week, 1)

    @property
    def sunday(self) -> date:
        return self.monday + timedelta(days=6)

    def previous(self) -> IsoWeek:
        return IsoWeek.containing(self.monday - timedelta(days=7))

    def next(self) -> IsoWeek:
        return IsoWeek.containing(self.monday + timedelta(days=7))

    def starts_at(self, tz: ZoneInfo) -> datetime:
        """Monday 00:00 local time, in UTC."""
        return start_of_day(self.monday, tz)

    def ends_at(self, tz: ZoneInfo) -> datetime:
        return self.next().starts_at(tz)


def date_range_text(first: date, last: date) -> str:
    """'16 – 22 November 2026', '30 November – 6 December 2026', across years in full."""
    if first.year != last.year:
        return f"{first:%-d %B %Y} – {last:%-d %B %Y}"
    if first.month != last.month:
        return f"{first:%-d %B} – {last:%-d %B %Y}"
    return f"{first:%-d} – {last:%-d %B %Y}"
