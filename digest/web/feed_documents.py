"""A council's Atom feed (digests and meetings) and iCalendar of upcoming meetings.

Both are built with libraries that own the syntax (lxml for XML, icalendar for RFC 5545
folding and escaping), so council text can never break the document.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import icalendar
import sqlalchemy as sa
from lxml import etree
from sqlalchemy.orm import Session

from digest.clock import local_today
from digest.links import Links
from digest.models import ChangeKind, Council, Digest, Meeting, MeetingChange, MeetingStatus
from digest.site import Site
from digest.weekly.meeting import heading_of, local_date, local_time
from digest.weekly.render import header_line

ATOM = "http://www.w3.org/2005/Atom"
FEED_DIGESTS = 20
FEED_MEETINGS = 50
CALENDAR_LIMIT = 500
# Changes that move or cancel an event: calendar clients apply an update only when
# SEQUENCE goes up.
_REVISIONS = (ChangeKind.RESCHEDULED, ChangeKind.CANCELLED, ChangeKind.REINSTATED)
_END_TIME = re.compile(
    r"^\s*(\d{1,2})(?:[.:](\d{2}))?\s*([ap])\.?m\.?\s*$|^\s*(\d{1,2}):(\d{2})\s*$", re.I
)


def upcoming_meetings(
    session: Session, council: Council, now: datetime, tz: ZoneInfo
) -> list[Meeting]:
    today = local_today(now, tz)
    return list(
        session.scalars(
            sa.select(Meeting)
            .where(Meeting.council_id == council.id, Meeting.start_date >= today)
            .order_by(Meeting.start_at, Meeting.id)
            .limit(CALENDAR_LIMIT)
        )
    )


def _revisions(session: Session, meeting_ids: Sequence[int]) -> dict[int, int]:
    if not meeting_ids:
        return {}
    rows = session.execute(
        sa.select(MeetingChange.meeting_id, sa.func.count())
        .where(MeetingChange.meeting_id.in_(list(meeting_ids)), MeetingChange.kind.in_(_REVISIONS))
        .group_by(MeetingChange.meeting_id)
    )
    return {meeting_id: count for meeting_id, count in rows}


def parse_end_time(text: str, on: date, tz: ZoneInfo) -> datetime | None:
    """ModernGov's planned finish time ('2.00 pm', '14:00') on the meeting's date."""
    match = _END_TIME.match(text or "")
    if match is None:
        return None
    if match.group(4):
        hour, minute = int(match.group(4)), int(match.group(5))
    else:
        hour, minute = int(match.group(1)) % 12, int(match.group(2) or 0)
        if match.group(3).lower() == "p":
            hour += 12
    if hour > 23 or minute > 59:
        return None
    return datetime.combine(on, time(hour, minute), tzinfo=tz).astimezone(UTC)


def calendar(session: Session, council: Council, now: datetime, site: Site, links: Links) -> bytes:
    """One VEVENT per upcoming meeting; cancelled ones stay in, marked CANCELLED, so
    calendars that already hold them update instead of keeping a stale event."""
    meetings = upcoming_meetings(session, council, now, site.tz)
    revisions = _revisions(session, [m.id for m in meetings])
    cal = icalendar.Calendar()
    cal.add("prodid", f"-//{site.name}//Council meetings//EN")
    cal.add("version", "2.0")
    cal.add("calscale", "GREGORIAN")
    cal.add("method", "PUBLISH")
    cal.add("x-wr-calname", f"{council.name} meetings")
    cal.add("x-wr-caldesc", f"Committee meetings of {council.name}, from {site.name}")
    for meeting in meetings:
        cal.add_component(_event(meeting, now, site, links, council, revisions.get(meeting.id, 0)))
    return bytes(cal.to_ical())


def _event(
    meeting: Meeting, now: datetime, site: Site, links: Links, council: Council, sequence: int
) -> icalendar.Event:
    event = icalendar.Event()
    cancelled = meeting.status == MeetingStatus.CANCELLED
    heading = heading_of(meeting)
    event.add("uid", f"meeting-{meeting.id}@{site.domain}")
    event.add("dtstamp", now.astimezone(UTC))
    event.add("last-modified", meeting.updated_at.astimezone(UTC))
    event.add("sequence", sequence)
    if meeting.time_known:
        event.add("dtstart", meeting.start_at.astimezone(UTC))
        end = parse_end_time(meeting.end_time_text, meeting.start_date, site.tz)
        if end is not None and end > meeting.start_at:
            event.add("dtend", end)
    else:
        event.add("dtstart", meeting.start_date)
        event.add("dtend", meeting.start_date + timedelta(days=1))
    event.add("summary", f"CANCELLED: {heading}" if cancelled else heading)
    event.add("status", "CANCELLED" if cancelled else "CONFIRMED")
    if meeting.venue:
        event.add("location", meeting.venue)
    page = links.meeting(council.slug, meeting.id)
    event.add("url", page)
    lines = [f"{meeting.title}", f"Summary: {page}"]
    if meeting.source_url:
        lines.append(f"Agenda and papers on the council's website: {meeting.source_url}")
    if cancelled:
        lines.insert(0, "This meeting has been cancelled.")
    event.add("description", "\n".join(lines))
    return event


def _text(parent: etree._Element, tag: str, value: str, **attrs: str) -> etree._Element:
    child = etree.SubElement(parent, f"{{{ATOM}}}{tag}", attrib=attrs)
    child.text = value
    return child


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def atom(
    session: Session, council: Council, now: datetime, site: Site, links: Links, self_url: str
) -> bytes:
    """The council's weekly digests and its recently changed meetings, newest first."""
    digests = session.scalars(
        sa.select(Digest)
        .where(Digest.council_id == council.id, Digest.topics == "", Digest.is_quiet.is_(False))
        .order_by(Digest.week.desc())
        .limit(FEED_DIGESTS)
    ).all()
    meetings = session.scalars(
        sa.select(Meeting)
        .where(Meeting.council_id == council.id)
        .order_by(Meeting.updated_at.desc(), Meeting.id.desc())
        .limit(FEED_MEETINGS)
    ).all()
    entries: list[tuple[datetime, etree._Element]] = []
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap={None: ATOM})
    _text(feed, "title", f"{council.name}: meetings and weekly digests")
    _text(feed, "subtitle", f"What {council.name} decided and will discuss, from {site.name}")
    _text(feed, "id", links.council(council.slug))
    etree.SubElement(
        feed, f"{{{ATOM}}}link", rel="self", href=self_url, type="application/atom+xml"
    )
    etree.SubElement(feed, f"{{{ATOM}}}link", rel="alternate", href=links.council(council.slug))
    author = etree.SubElement(feed, f"{{{ATOM}}}author")
    _text(author, "name", site.name)
    updated = _text(feed, "updated", _iso(now))
    for digest in digests:
        entry = etree.Element(f"{{{ATOM}}}entry")
        url = links.digest(council.slug, digest.week)
        _text(entry, "title", digest.subject)
        _text(entry, "id", url)
        etree.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=url, type="text/html")
        _text(entry, "updated", _iso(digest.built_at))
        _text(entry, "category", "", term="digest", label="Weekly digest")
        _text(entry, "summary", header_line(_counts(digest)))
        entries.append((digest.built_at, entry))
    for meeting in meetings:
        entry = etree.Element(f"{{{ATOM}}}entry")
        url = links.meeting(council.slug, meeting.id)
        when = local_date(meeting.start_at, site.tz)
        if meeting.time_known:
            when += f", {local_time(meeting.start_at, site.tz)}"
        cancelled = " (cancelled)" if meeting.status == MeetingStatus.CANCELLED else ""
        _text(entry, "title", f"{heading_of(meeting)}: {when}{cancelled}")
        _text(entry, "id", url)
        etree.SubElement(entry, f"{{{ATOM}}}link", rel="alternate", href=url, type="text/html")
        _text(entry, "updated", _iso(meeting.updated_at))
        _text(entry, "category", "", term="meeting", label="Meeting")
        summary = meeting.venue or meeting.committee
        if meeting.minutes_published:
            summary += ". Minutes published."
        elif meeting.agenda_published:
            summary += ". Agenda published."
        _text(entry, "summary", summary)
        entries.append((meeting.updated_at, entry))
    entries.sort(key=lambda pair: pair[0], reverse=True)
    if entries:
        updated.text = _iso(entries[0][0])
    for _, entry in entries:
        feed.append(entry)
    return bytes(etree.tostring(feed, xml_declaration=True, encoding="utf-8"))


def _counts(digest: Digest) -> dict[str, int]:
    keys = ("reported", "decisions", "cancelled", "minutes", "upcoming")
    return {key: int(digest.counts.get(key, 0)) for key in keys}
