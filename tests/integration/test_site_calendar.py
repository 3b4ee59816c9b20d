"""Meeting lists and delivery weeks follow the site's calendar (London), not UTC's."""

from __future__ import annotations

from datetime import UTC, date, datetime, time

import sqlalchemy as sa

from digest import meetings, stats
from digest.mail import outbox
from digest.models import Council, OutboxMessage
from digest.runtime import Runtime
from digest.topic_pages import topic_items
from tests.integration.helpers import queue_notice
from tests.support.meetings import Item, add_meeting, enable


def test_meeting_lists_at_half_past_eleven_utc_in_summer(rt: Runtime) -> None:
    # 23:30 UTC on 14 July is 00:30 on the 15th in London: the evening's meeting is over.
    now = datetime(2026, 7, 14, 23, 30, tzinfo=UTC)
    with rt.sessions.begin() as session:
        council = enable(session, "manchester", now)
        yesterday = add_meeting(
            session,
            council,
            on=date(2026, 7, 14),
            at=time(18, 30),
            committee="Planning",
            items=[Item("Housing allocations policy")],
        )
        later_today = add_meeting(
            session,
            council,
            on=date(2026, 7, 15),
            at=time(10, 0),
            committee="Executive",
            items=[Item("Social housing repairs")],
        )
        ids = (yesterday.id, later_today.id)
    with rt.read_sessions() as session:
        council = session.scalars(sa.select(Council).where(Council.slug == "manchester")).one()
        lists = meetings.recent_and_upcoming(session, council, now, rt.site.tz)
        assert ([m.id for m in lists.recent], [m.id for m in lists.upcoming]) == (
            [ids[0]],
            [ids[1]],
        )
        page = topic_items(session, council, "housing", now, rt.site.tz)
        assert [t.meeting.id for t in page.decided] == [ids[0]]
        assert [t.meeting.id for t in page.upcoming] == [ids[1]]


def test_delivery_weeks_are_the_sites_iso_weeks(rt: Runtime) -> None:
    # Sent at 23:30 UTC on Sunday 18 October 2026 (BST): 00:30 on Monday in London, so
    # in week 43 like the dashboard's "this week", not in week 42 as UTC would have it.
    monday_in_london = datetime(2026, 10, 18, 23, 30, tzinfo=UTC)
    sunday_in_london = datetime(2026, 10, 18, 22, 30, tzinfo=UTC)
    # After the clocks went back, 23:30 UTC on Sunday the 25th is still that Sunday.
    now = datetime(2026, 10, 25, 23, 30, tzinfo=UTC)
    queue_notice(rt, "a@example.net")
    queue_notice(rt, "b@example.net")
    queue_notice(rt, "c@example.net")
    with rt.sessions.begin() as session:
        rows = list(session.scalars(sa.select(OutboxMessage).order_by(OutboxMessage.id)))
        outbox.mark_sent(session, rows[0].id, monday_in_london)
        outbox.mark_sent(session, rows[1].id, sunday_in_london)
        outbox.mark_sent(session, rows[2].id, now)
    with rt.read_sessions() as session:
        weeks = stats.delivery_weeks(session, now=now, tz=rt.site.tz, weeks=3)
        this_week = stats.overview(session, now, rt.site.tz).delivery
    assert [(w.week, w.sent) for w in weeks] == [
        ("2026-W41", 0),
        ("2026-W42", 1),
        ("2026-W43", 2),
    ]
    # The dashboard's "sent this week" and the Delivery page's current week agree.
    assert this_week.sent == weeks[-1].sent
