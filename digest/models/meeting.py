"""What the collector gathers: meetings, their agenda items, documents, attendees and changes."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from digest.db import Base
from digest.models.enums import ChangeKind, MeetingStatus

if TYPE_CHECKING:
    from digest.models.council import Council


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (
        sa.UniqueConstraint("council_id", "source_id"),
        sa.Index("ix_meetings_council_start", "council_id", "start_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(sa.String(40))
    committee_source_id: Mapped[str] = mapped_column(sa.String(40), default="")
    committee: Mapped[str] = mapped_column(sa.String(300))
    title: Mapped[str] = mapped_column(sa.String(400))
    # The council's local date; start_at is that date and time in UTC (midnight when the
    # council gave no time, which time_known records).
    start_date: Mapped[date]
    start_at: Mapped[datetime]
    time_known: Mapped[bool] = mapped_column(default=True)
    end_time_text: Mapped[str] = mapped_column(sa.String(40), default="")
    venue: Mapped[str] = mapped_column(sa.String(400), default="")
    status: Mapped[MeetingStatus] = mapped_column(default=MeetingStatus.SCHEDULED)
    status_label: Mapped[str] = mapped_column(sa.String(200), default="")
    source_url: Mapped[str] = mapped_column(sa.String(500), default="")
    is_webcast: Mapped[bool] = mapped_column(default=False)
    agenda_published: Mapped[bool] = mapped_column(default=False)
    minutes_published: Mapped[bool] = mapped_column(default=False)
    # Hash of what GetMeetings said about this meeting, and of the last GetMeeting detail:
    # the collector asks for detail only when the first changes or minutes are still due.
    list_signature: Mapped[str] = mapped_column(sa.String(64), default="")
    detail_signature: Mapped[str] = mapped_column(sa.String(64), default="")
    detail_fetched_at: Mapped[datetime | None]
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    council: Mapped[Council] = relationship(back_populates="meetings", lazy="raise_on_sql")
    items: Mapped[list[AgendaItem]] = relationship(
        back_populates="meeting",
        order_by="AgendaItem.position",
        lazy="raise_on_sql",
        cascade="all, delete-orphan",
    )
    documents: Mapped[list[Document]] = relationship(
        back_populates="meeting",
        order_by="Document.position",
        lazy="raise_on_sql",
        cascade="all, delete-orphan",
    )
    attendees: Mapped[list[Attendee]] = relationship(
        back_populates="meeting",
        order_by="Attendee.position",
        lazy="raise_on_sql",
        cascade="all, delete-orphan",
    )


class AgendaItem(Base):
    __tablename__ = "agenda_items"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    source_id: Mapped[str] = mapped_column(sa.String(40))
    position: Mapped[int] = mapped_column(default=0)
    number: Mapped[str] = mapped_column(sa.String(40), default="")
    title: Mapped[str] = mapped_column(sa.Text)
    agenda_text: Mapped[str] = mapped_column(sa.Text, default="")
    minutes_text: Mapped[str] = mapped_column(sa.Text, default="")
    resolutions: Mapped[list[str]] = mapped_column(default=list)
    # "Asked to decide:" bullets from the agenda text (digest.weekly.asks), set by the
    # collector's store whenever the agenda text changes.
    asked_to_decide: Mapped[list[str]] = mapped_column(default=list, server_default=sa.text("'[]'"))
    is_restricted: Mapped[bool] = mapped_column(default=False)
    is_decision: Mapped[bool] = mapped_column(default=False)
    # Set when minutes_text was read from a PDF (printed minutes, decision notice) rather
    # than given by the web service; the collector clears it when HTML minutes arrive.
    minutes_document_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("documents.id", ondelete="SET NULL", use_alter=True)
    )
    # The "Recommendation(s)" section of the item's report PDF, read for upcoming meetings
    # whose agenda text says too little about what is to be decided.
    report_recommendations: Mapped[str] = mapped_column(sa.Text, default="")
    # Topic slugs (digest.topics), strongest first, and the taxonomy version that gave
    # them: items tagged with another version are tagged again.
    topics: Mapped[list[str]] = mapped_column(default=list)
    topics_version: Mapped[str] = mapped_column(sa.String(16), default="", index=True)
    # When the collector first stored the item: topic watches match what is new.
    first_seen_at: Mapped[datetime | None] = mapped_column(index=True)

    meeting: Mapped[Meeting] = relationship(back_populates="items", lazy="raise_on_sql")


class Document(Base):
    __tablename__ = "documents"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    agenda_item_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("agenda_items.id", ondelete="SET NULL")
    )
    source_id: Mapped[str] = mapped_column(sa.String(40), default="")
    position: Mapped[int] = mapped_column(default=0)
    title: Mapped[str] = mapped_column(sa.String(500))
    url: Mapped[str] = mapped_column(sa.String(700))
    published_on: Mapped[date | None]
    is_restricted: Mapped[bool] = mapped_column(default=False)
    # One of digest.documents.kinds.KINDS, from the title and address.
    kind: Mapped[str] = mapped_column(sa.String(20), default="other")
    # Text extraction (PDF minutes and decision notices), run as a job by `digest worker`:
    # '' (not wanted), 'pending', 'working' (claimed until lease_until), 'done', 'failed'.
    extract_state: Mapped[str] = mapped_column(sa.String(10), default="", index=True)
    extract_lease_until: Mapped[datetime | None]
    extract_attempts: Mapped[int] = mapped_column(default=0)
    # Why the text could not be read, in one line (shown to admins and in the API).
    problem: Mapped[str | None] = mapped_column(sa.String(300))
    content_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    etag: Mapped[str | None] = mapped_column(sa.String(300))
    last_modified: Mapped[str | None] = mapped_column(sa.String(100))
    text: Mapped[str] = mapped_column(sa.Text, default="")
    pages: Mapped[int | None]
    extracted_at: Mapped[datetime | None]

    meeting: Mapped[Meeting] = relationship(back_populates="documents", lazy="raise_on_sql")


class Attendee(Base):
    __tablename__ = "attendees"
    __table_args__ = (sa.UniqueConstraint("meeting_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(
        sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    member_source_id: Mapped[str] = mapped_column(sa.String(40), default="")
    position: Mapped[int] = mapped_column(default=0)
    name: Mapped[str] = mapped_column(sa.String(200))
    role: Mapped[str] = mapped_column(sa.String(200), default="")
    party: Mapped[str] = mapped_column(sa.String(120), default="")
    attendance: Mapped[str] = mapped_column(sa.String(80), default="")

    meeting: Mapped[Meeting] = relationship(back_populates="attendees", lazy="raise_on_sql")


class MeetingChange(Base):
    """Something the collector noticed about a meeting, with when it noticed it."""

    __tablename__ = "meeting_changes"
    __table_args__ = (sa.Index("ix_meeting_changes_council_seen", "council_id", "seen_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id", ondelete="CASCADE"))
    meeting_id: Mapped[int] = mapped_column(
        sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[ChangeKind]
    seen_at: Mapped[datetime]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class MeetingFetchFailure(Base):
    """A meeting whose details could not be read (GetMeeting kept failing): the rest of
    its council is stored without it, and it is tried again at every collection until
    it reads completely, when this row goes. Shown on the admin's council page."""

    __tablename__ = "meeting_fetch_failures"
    __table_args__ = (sa.UniqueConstraint("council_id", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(sa.String(40))
    error: Mapped[str] = mapped_column(sa.String(500))
    attempts: Mapped[int] = mapped_column(default=1)
    first_failed_at: Mapped[datetime]
    last_failed_at: Mapped[datetime]
