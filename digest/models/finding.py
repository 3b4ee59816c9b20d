"""Finding and following: councillors, the search index and cached look-ups."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from digest.db import Base


class Councillor(Base):
    """A councillor as the council's ModernGov site lists them. Never deleted: someone
    no longer listed keeps their row with `left_at` set, so past meetings still link."""

    __tablename__ = "councillors"
    __table_args__ = (
        sa.UniqueConstraint("council_id", "source_id"),
        sa.Index("ix_councillors_council_ward", "council_id", "ward"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(sa.String(40))
    name: Mapped[str] = mapped_column(sa.String(200))
    party: Mapped[str] = mapped_column(sa.String(200), default="")
    ward: Mapped[str] = mapped_column(sa.String(200), default="")
    roles: Mapped[list[str]] = mapped_column(default=list)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]
    left_at: Mapped[datetime | None]


class SearchEntry(Base):
    """One searchable thing (a meeting, an agenda item with its decisions) with the
    meeting's filters copied in, so a search never joins. Full-text indexing is
    dialect-specific and lives in the migration: an FTS5 table kept by triggers on SQLite,
    a generated tsvector column with a GIN index on PostgreSQL."""

    __tablename__ = "search_entries"
    __table_args__ = (
        sa.Index("ix_search_entries_council_key", "council_id", "sort_key"),
        # The topic filter reads topics from here, not from a row whose long body
        # (document text) stands before it.
        sa.Index("ix_search_entries_key_topics", "sort_key", "topics"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Newest first in one integer (see digest.search.sort_key): both engines read hits in
    # this order straight from an index and stop after a page, however common the words.
    sort_key: Mapped[int] = mapped_column(sa.BigInteger, unique=True)
    meeting_id: Mapped[int] = mapped_column(
        sa.ForeignKey("meetings.id", ondelete="CASCADE"), index=True
    )
    agenda_item_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("agenda_items.id", ondelete="CASCADE")
    )
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id", ondelete="CASCADE"))
    committee: Mapped[str] = mapped_column(sa.String(300), default="")
    start_date: Mapped[date]
    kind: Mapped[str] = mapped_column(sa.String(20), default="item")
    title: Mapped[str] = mapped_column(sa.Text, default="")
    body: Mapped[str] = mapped_column(sa.Text, default="")
    # The topics of the item (of the meeting, for the meeting itself) as " slug slug ",
    # so the topic filter is one LIKE on either engine.
    topics: Mapped[str] = mapped_column(sa.String(400), default="")


class LookupCache(Base):
    """Answers of outside look-up services (postcodes, ward councillors by postcode)."""

    __tablename__ = "lookup_cache"

    key: Mapped[str] = mapped_column(sa.String(200), primary_key=True)
    value: Mapped[dict[str, Any]] = mapped_column(default=dict)
    fetched_at: Mapped[datetime]
