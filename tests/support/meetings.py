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
from digest.topics import tag_item

LONDON = ZoneInfo("Europe/London")
FIXTURES = Path(__file__).parent.parent / "fixtures" / "moderngov"


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
    # Deterministic per database, so golden files match on SQLite and PostgreSQL.
    source_id = str(5000 + (session.scalar(sa.select(sa.func.count()).select_from(Meeting)) or 0))
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
            first_seen_at=seen,
        )
        # Tagged as the collector tags what it stores.
        tag_item(row)
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


# The digest for 2026-W48 is built on Monday 23 November 2026 at 07:00 London time; it
# reports 16-22 November and previews 23-29 November.
BUILD_AT = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)
WEEK = "2026-W48"


def arrange_busy_week(session: Session, council: Council) -> dict[str, Meeting]:
    """A realistic week for one council, covering every section of the digest."""
    items, _, attendees = manchester_items()
    pack = "Public reports pack 18th-Nov-2026 18.30 Executive"
    base = council.base_url
    meetings = {
        "audit": add_meeting(
            session,
            council,
            on=date(2026, 11, 17),
            at=time(10),
            committee="Audit Committee",
            title="Audit Committee - Tuesday, 17th November, 2026 10.00 am",
            venue="Council Antechamber, Level 2, Town Hall Extension",
            items=items,
            attendees=attendees,
        ),
        "executive": add_meeting(
            session,
            council,
            on=date(2026, 11, 18),
            committee="Executive",
            items=[
                Item("Apologies for Absence", minutes="Apologies were received from Cllr Rahman."),
                Item("Declarations of Interest", minutes="No declarations of interest were made."),
                Item(
                    "Revenue Budget 2027/28 and Medium Term Financial Strategy",
                    agenda="Report of the Deputy Chief Executive and City Treasurer.",
                    minutes="The Executive considered the report.\n\nRESOLVED:\n\n"
                    "(1) To note the forecast overspend of £4.2m.\n\n"
                    "(2) To recommend to Council a council tax increase of 4.99%.",
                ),
                Item(
                    "SEND Home to School Transport",
                    minutes="Decision\n\nTo approve the revised SEND transport policy.",
                ),
                Item("Disposal of Land at Ancoats", restricted=True),
                Item("Contract Award: Highways Maintenance", restricted=True),
            ],
            documents=[
                ("Agenda frontsheet", f"{base}/documents/g5001/Agenda.pdf"),
                (pack, f"{base}/documents/g5001/Public%20reports%20pack.pdf"),
                ("Agenda frontsheet", f"{base}/documents/g5001/Agenda%20copy.pdf"),
            ],
            attendees=[("Councillor Bev Craig", "Leader", "LAB", "Present")],
        ),
        "licensing": add_meeting(
            session,
            council,
            on=date(2026, 11, 19),
            at=time(10),
            committee="Licensing Sub-Committee",
            status=MeetingStatus.CANCELLED,
            changes=[(ChangeKind.CANCELLED, datetime(2026, 11, 16, 12, tzinfo=UTC))],
        ),
        "scrutiny": add_meeting(
            session,
            council,
            on=date(2026, 11, 20),
            at=time(14),
            committee="Children and Young People Scrutiny Committee",
            items=[
                Item(
                    "Ofsted Inspection of Children's Services",
                    agenda="To receive the report on the recent Ofsted inspection.",
                )
            ],
        ),
        "planning": add_meeting(
            session,
            council,
            on=date(2026, 10, 29),
            at=time(14),
            committee="Planning and Highways Committee",
            items=[
                Item(
                    "126952/FO/2026 - 1 Great Ancoats Street",
                    minutes="RESOLVED that the application be approved subject to a "
                    "Section 106 agreement.",
                )
            ],
            changes=[(ChangeKind.MINUTES_PUBLISHED, datetime(2026, 11, 19, 9, tzinfo=UTC))],
        ),
        "old_minutes": add_meeting(
            session,
            council,
            on=date(2026, 10, 22),
            committee="Health Scrutiny Committee",
            items=[Item("Winter Pressures", minutes="RESOLVED that the update be noted.")],
            changes=[(ChangeKind.MINUTES_PUBLISHED, datetime(2026, 11, 10, 9, tzinfo=UTC))],
        ),
        "council": add_meeting(
            session,
            council,
            on=date(2026, 11, 25),
            at=time(10),
            committee="Council",
            venue="Council Chamber, Level 2, Town Hall Extension",
            items=[
                Item("Minutes", agenda="To approve the minutes of the meeting on 7 October."),
                Item(
                    "Notice of Motion: Free School Meals",
                    agenda="Proposed by Councillor Hughes, seconded by Councillor Igbon.",
                ),
                Item("Proposals from the Executive", agenda="The key decision on the budget."),
            ],
            documents=[("Public reports pack", f"{base}/documents/g5006/Public%20pack.pdf")],
        ),
        "moved_off": add_meeting(
            session,
            council,
            on=date(2026, 12, 10),
            committee="Economy and Regeneration Scrutiny Committee",
            status=MeetingStatus.CANCELLED,
            changes=[(ChangeKind.CANCELLED, datetime(2026, 11, 20, 15, tzinfo=UTC))],
        ),
        "later": add_meeting(session, council, on=date(2026, 12, 2), committee="Executive"),
    }
    return meetings
