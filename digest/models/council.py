"""Councils, their committees and the HTTP validators the collector keeps per URL."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from digest.db import Base
from digest.models.enums import COLLECTABLE_SYSTEMS, CouncilStatus, CouncilSystem

if TYPE_CHECKING:
    from digest.models.meeting import Meeting

STALE_AFTER = timedelta(hours=48)


class Council(Base):
    __tablename__ = "councils"

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(sa.String(80), unique=True)
    name: Mapped[str] = mapped_column(sa.String(200))
    short_name: Mapped[str] = mapped_column(sa.String(120))
    nation: Mapped[str] = mapped_column(sa.String(40))
    gss_code: Mapped[str] = mapped_column(sa.String(12))
    local_authority_code: Mapped[str] = mapped_column(sa.String(8), default="")
    council_type: Mapped[str] = mapped_column(sa.String(80), default="")
    website: Mapped[str] = mapped_column(sa.String(300), default="")
    system: Mapped[CouncilSystem] = mapped_column(default=CouncilSystem.UNKNOWN)
    # Who said so: "list" (the bundled list; refreshed by every import), "probe" or
    # "admin" (an import leaves those alone).
    system_source: Mapped[str] = mapped_column(sa.String(16), default="list", server_default="list")
    base_url: Mapped[str] = mapped_column(sa.String(300), default="")
    shared_install_with: Mapped[str] = mapped_column(sa.String(80), default="")
    # A regular expression on committee titles; set for installs shared by two councils.
    committee_filter: Mapped[str] = mapped_column(sa.String(300), default="")
    status: Mapped[CouncilStatus] = mapped_column(default=CouncilStatus.WAITLIST, index=True)
    enabled_at: Mapped[datetime | None]
    paused_at: Mapped[datetime | None]
    # Collection health.
    last_attempt_at: Mapped[datetime | None]
    last_success_at: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    last_error_at: Mapped[datetime | None]
    consecutive_failures: Mapped[int] = mapped_column(default=0)
    # Running totals for /metrics (counters must only go up).
    collections_ok: Mapped[int] = mapped_column(default=0, server_default="0")
    collections_failed: Mapped[int] = mapped_column(default=0, server_default="0")
    # Last connection test (probe); auto-enable requires one that succeeded.
    last_probe_at: Mapped[datetime | None]
    last_probe_ok: Mapped[bool | None]
    last_probe_message: Mapped[str | None] = mapped_column(sa.Text)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]

    meetings: Mapped[list[Meeting]] = relationship(back_populates="council", lazy="raise_on_sql")

    def last_collection_failed(self) -> bool:
        """Enabled, and the latest attempt to read its website failed (the page says so
        at once, not only after 48 hours when it counts as stale)."""
        if self.status != CouncilStatus.ENABLED or self.last_error_at is None:
            return False
        return self.last_success_at is None or self.last_error_at > self.last_success_at

    def probe_failure_stands(self) -> bool:
        """The latest probe failed and nothing has read the website since: a collection
        that succeeded after it shows the site answers, so the failure is history."""
        if self.last_probe_ok is not False or self.last_probe_at is None:
            return False
        return self.last_success_at is None or self.last_success_at < self.last_probe_at

    @property
    def is_collectable(self) -> bool:
        """We have a source for its system and know where its meetings are."""
        return self.system in COLLECTABLE_SYSTEMS and bool(self.base_url)

    def is_stale(self, now: datetime) -> bool:
        """Enabled but without a successful collection for 48 hours."""
        if self.status != CouncilStatus.ENABLED:
            return False
        since = self.last_success_at or self.enabled_at
        return since is None or now - since > STALE_AFTER


class Committee(Base):
    __tablename__ = "committees"
    __table_args__ = (sa.UniqueConstraint("council_id", "source_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id", ondelete="CASCADE"))
    source_id: Mapped[str] = mapped_column(sa.String(40))
    title: Mapped[str] = mapped_column(sa.String(300))
    category: Mapped[str] = mapped_column(sa.String(200), default="")
    is_expired: Mapped[bool] = mapped_column(default=False)
    first_seen_at: Mapped[datetime]
    last_seen_at: Mapped[datetime]


class FetchValidator(Base):
    """ETag / Last-Modified seen for a URL, so the next poll can be a conditional GET."""

    __tablename__ = "fetch_validators"
    __table_args__ = (sa.UniqueConstraint("council_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(sa.Text)
    etag: Mapped[str | None] = mapped_column(sa.String(300))
    last_modified: Mapped[str | None] = mapped_column(sa.String(100))
    content_sha256: Mapped[str | None] = mapped_column(sa.String(64))
    checked_at: Mapped[datetime]
