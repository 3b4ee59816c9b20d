"""Arranging collected meetings through the models, as the collector would store them:
plain-text agenda and minutes (via html_to_text), documents, attendees and the changes
it noticed."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import defusedxml.ElementTree as SafeET
import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.htmltext import clean_inline, html_to_text
from digest.models import (
    AgendaItem,
    Attendee,
    ChangeKind,
    Council,
    CouncilStatus,
    Document,
    Meeting,
    MeetingChange,
    MeetingStatus,
)

LONDON = ZoneInfo("Europe/London")
FIXTURES = Path(__file__).parent.parent / "fixtures" / "moderngov"
_ids = itertools.count(1000)


@dataclass
class Item:
    title: str
    agenda: str = ""
    minutes: str = ""
    number: str = ""
    restricted: bool = False
    documents: list[tuple[str, str]] = field(default_factory=list)  # (title, url)


def enable(
    session: Session, slug: str, now: datetime, *, collected: datetime | None = None
) -> Council:
    council = session.scalars(sa.select(Council).where(Council.slug == slug)).one()
    council.status = CouncilStatus.ENABLED
    council.enabled_at = council.enabled_at or now - timedelta(days=30)
    council.last_success_at = collected if collected is not None else now - timedelta(hours=2)
    council.base_url = council.base_url or f"https://democracy.{slug}.gov.uk"
    session.flush()
    return council


def add_meeting(
    session: Session,
    council: Council,
    *,
    on: date,
    at: time | None = time(18, 30),
    committee: str = "Executive",
    title: str | None = None,
    venue: str = "Council Chamber, Town Hall",
    status: MeetingStatus = MeetingStatus.SCHEDULED,
    items: list[Item] | None = None,
    documents: list[tuple[str, str]] | None = None,
    attendees: list[tuple[str, str, str, str]] | None = None,
    minutes_published: bool | None = None,
    seen_at: datetime | None = None,
    changes: list[tuple[ChangeKind, datetime]] | None = None,
) -> Meeting:
    """A meeting with its parts; `changes` are (kind, seen_at) the collector recorded."""
    source_id = str(next(_ids))
    local = datetime.combine(on, at or time(0), tzinfo=LONDON)
    seen = seen_at or datetime(2026, 10, 1, tzinfo=UTC)
    items = items or []
    meeting = Meeting(
        council_id=council.id,
        source_id=source_id,
        committee_source_id="1",
        committee=committee,
        title=title or f"{committee} - {on:%A, %-d %B, %Y}",
        start_date=on,
        start_at=local.astimezone(UTC),
        time_known=at is not None,
        venue=venue,
        status=status,
        status_label=status.value,
        source_url=f"{council.base_url}/ieListDocuments.aspx?CId=1&MId={source_id}",
        agenda_published=bool(items),
        minutes_published=(
            minutes_published if minutes_published is not None else any(i.minutes for i in items)
        ),
        first_seen_at=seen,
        last_seen_at=seen,
        updated_at=seen,
    )
    session.add(meeting)
    session.flush()
    position = itertools.count()
    for index, item in enumerate(items):
        row = AgendaItem(
            meeting_id=meeting.id,
            source_id=f"{source_id}-{index}",
            position=index,
            number=item.number or f"{index + 1}.",
            title=item.title,
            agenda_text=item.agenda,
            minutes_text=item.minutes,
            resolutions=[],
            is_restricted=item.restricted,
        )
        session.add(row)
        session.flush()
        for doc_title, url in item.documents:
            session.add(
                Document(
                    meeting_id=meeting.id,
                    agenda_item_id=row.id,
                    position=next(position),
                    title=doc_title,
                    url=url,
                )
            )
    for doc_title, url in documents or []:
        session.add(
            Document(meeting_id=meeting.id, position=next(position), title=doc_title, url=url)
        )
    for index, (name, role, party, attendance) in enumerate(attendees or []):
        session.add(
            Attendee(
                meeting_id=meeting.id,
                position=index,
                name=name,
                role=role,
                party=party,
                attendance=attendance,
            )
        )
    for kind, when in changes or []:
        session.add(
            MeetingChange(council_id=council.id, meeting_id=meeting.id, kind=kind, seen_at=when)
        )
    session.flush()
    return meeting


def manchester_items() -> tuple[list[Item], list[tuple[str, str]], list[tuple[str, str, str, str]]]:
    """The real Manchester Audit Committee meeting 4967 (GetMeeting fixture) as the
    collector stores it: items, documents and attendees."""
    root = SafeET.parse(FIXTURES / "getmeeting_manchester_with_minutes_trimmed.xml").getroot()
    items = []
    for node in root.findall("agendaitems/agendaitem"):
        items.append(
            Item(
                title=clean_inline(node.findtext("agendaitemtitle")),
                agenda=html_to_text(node.findtext("agendatext")),
                minutes=html_to_text(node.findtext("minutesnonemptyhtmlbody")),
                number=clean_inline(node.findtext("fulldisplaynumberformat")),
                restricted=node.findtext("isrestricted") == "True",
                documents=[
                    (clean_inline(d.findtext("title")), clean_inline(d.findtext("url")))
                    for d in node.findall("linkeddocuments/linkeddoc")
                ],
            )
        )
    attendees = [
        (a.get("name", ""), a.get("roledescription", ""), a.get("politicalparty", ""),
         a.get("attendance", ""))
        for a in root.findall("attendees/attendee")
    ]  # fmt: skip
    return items, [], attendees
