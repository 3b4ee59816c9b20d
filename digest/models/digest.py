"""Weekly digests: rendered once per council and ISO week."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from digest.db import Base
from digest.models.enums import DigestSection


class Digest(Base):
    __tablename__ = "digests"
    __table_args__ = (sa.UniqueConstraint("council_id", "week", "topics"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id", ondelete="CASCADE"))
    week: Mapped[str] = mapped_column(sa.String(8))
    # "" for the whole council; otherwise the topic selection it was filtered to
    # (sorted slugs joined by commas), rendered once for everyone who chose it.
    topics: Mapped[str] = mapped_column(sa.String(600), default="")
    subject: Mapped[str] = mapped_column(sa.Text)
    body_text: Mapped[str] = mapped_column(sa.Text)
    body_html: Mapped[str] = mapped_column(sa.Text)
    # The same content as the email, for the web archive (no per-recipient links).
    web_html: Mapped[str] = mapped_column(sa.Text, default="")
    counts: Mapped[dict[str, Any]] = mapped_column(default=dict)
    is_quiet: Mapped[bool] = mapped_column(default=False)
    built_at: Mapped[datetime]


class DigestMeeting(Base):
    __tablename__ = "digest_meetings"

    digest_id: Mapped[int] = mapped_column(
        sa.ForeignKey("digests.id", ondelete="CASCADE"), primary_key=True
    )
    meeting_id: Mapped[int] = mapped_column(
        sa.ForeignKey("meetings.id", ondelete="CASCADE"), primary_key=True, index=True
    )
    section: Mapped[DigestSection] = mapped_column(primary_key=True)
