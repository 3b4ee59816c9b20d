"""Which meetings go into a council's digest for an ISO week, by section (SPEC §8).

- reported: meetings dated in the week before, with their outcomes;
- cancelled: meetings in the two weeks covered that are cancelled, and later meetings whose
  cancellation was noticed last week, each told once;
- minutes: older meetings whose minutes appeared last week, unless an earlier digest
  already showed them with those minutes;
- upcoming: meetings dated in the week itself.

"Last week" for changes is the report week, Monday 00:00 to Monday 00:00 local time, so
consecutive digests neither overlap nor leave a gap, whenever they are built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.models import (
    ChangeKind,
    Digest,
    DigestMeeting,
    DigestSection,
    Meeting,
    MeetingChange,
    MeetingStatus,
)
from digest.weekly.weeks import IsoWeek


@dataclass(frozen=True)
class Selection:
    reported: list[int]
    cancelled: list[int]
    minutes: list[int]
    upcoming: list[int]

    @property
    def is_empty(self) -> bool:
        return not (self.reported or self.cancelled or self.minutes or self.upcoming)

    def sections(self) -> list[tuple[DigestSection, list[int]]]:
        return [
            (DigestSection.REPORTED, self.reported),
            (DigestSection.CANCELLED, self.cancelled),
            (DigestSection.MINUTES, self.minutes),
            (DigestSection.UPCOMING, self.upcoming),
        ]


def _ids(session: Session, stmt: sa.Select[int]) -> list[int]:
    return list(session.scalars(stmt))


def _shown_elsewhere(
    council_id: int, week: IsoWeek, section: DigestSection, *also: sa.ColumnElement[bool]
) -> sa.Exists:
    """The meeting is in another week's digest of this council, in `section` (and meets
    `also`, conditions on that Digest)."""
    return (
        sa.select(DigestMeeting.meeting_id)
        .join(Digest, Digest.id == DigestMeeting.digest_id)
        .where(
            Digest.council_id == council_id,
            Digest.week != week.label,
            Digest.topics == "",
            DigestMeeting.meeting_id == Meeting.id,
            DigestMeeting.section == section,
            *also,
        )
        .exists()
    )


def _change_seen(
    kind: ChangeKind, start: datetime, end: datetime
) -> tuple[sa.ColumnElement[bool], ...]:
    """The meeting had a change of `kind` noticed in [start, end)."""
    return (
        MeetingChange.meeting_id == Meeting.id,
        MeetingChange.kind == kind,
        MeetingChange.seen_at >= start,
        MeetingChange.seen_at < end,
    )


def select_meetings(session: Session, council_id: int, week: IsoWeek, tz: ZoneInfo) -> Selection:
    report = week.previous()
    changes_from: datetime = report.starts_at(tz)
    changes_to: datetime = week.starts_at(tz)
    ordered = sa.select(Meeting.id).where(Meeting.council_id == council_id)
    order = (Meeting.start_at, Meeting.id)

    def not_cancelled_in(dates: IsoWeek) -> list[int]:
        return _ids(
            session,
            ordered.where(
                Meeting.start_date.between(dates.monday, dates.sunday),
                Meeting.status != MeetingStatus.CANCELLED,
            ).order_by(*order),
        )

    cancellation_seen = (
        sa.select(MeetingChange.id)
        .where(*_change_seen(ChangeKind.CANCELLED, changes_from, changes_to))
        .exists()
    )
    cancelled = _ids(
        session,
        ordered.where(
            Meeting.status == MeetingStatus.CANCELLED,
            sa.or_(
                Meeting.start_date.between(report.monday, week.sunday),
                sa.and_(Meeting.start_date > week.sunday, cancellation_seen),
            ),
            ~_shown_elsewhere(council_id, week, DigestSection.CANCELLED),
        ).order_by(*order),
    )
    minutes_seen = (
        sa.select(sa.func.max(MeetingChange.seen_at))
        .where(*_change_seen(ChangeKind.MINUTES_PUBLISHED, changes_from, changes_to))
        .scalar_subquery()
    )
    # A digest built after the minutes were seen already showed its outcomes.
    reported_with_minutes = _shown_elsewhere(
        council_id, week, DigestSection.REPORTED, Digest.built_at >= minutes_seen
    )
    minutes = _ids(
        session,
        ordered.where(
            Meeting.start_date < report.monday,
            Meeting.status != MeetingStatus.CANCELLED,
            Meeting.minutes_published.is_(True),
            minutes_seen.is_not(None),
            ~_shown_elsewhere(council_id, week, DigestSection.MINUTES),
            ~reported_with_minutes,
        ).order_by(*order),
    )
    return Selection(
        reported=not_cancelled_in(report),
        cancelled=cancelled,
        minutes=minutes,
        upcoming=not_cancelled_in(week),
    )
