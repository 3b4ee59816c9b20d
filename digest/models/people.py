"""Subscribers, their subscriptions and consent record, sign-ups waiting to be acted on, and
professional enablement requests."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from digest.db import Base
from digest.models.enums import (
    ConsentEventKind,
    RequestStatus,
    SubscriptionKind,
    SubscriptionStatus,
)

if TYPE_CHECKING:
    from digest.models.council import Council


def new_link_secret() -> str:
    return secrets.token_urlsafe(16)


class Subscriber(Base):
    """One person, identified by a normalised email address."""

    __tablename__ = "subscribers"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(sa.String(320), unique=True)
    created_at: Mapped[datetime]
    # Signed into every manage and unsubscribe link, and checked: links die with the
    # row, so after erasure they can never reach a later subscriber. Empty for people
    # who subscribed before links carried it (migration 0005); their old links (the id
    # alone) keep working, and only theirs.
    link_secret: Mapped[str] = mapped_column(
        sa.String(32), default=lambda: new_link_secret(), server_default=""
    )

    subscriptions: Mapped[list[Subscription]] = relationship(
        back_populates="subscriber", lazy="raise_on_sql", passive_deletes=True
    )


class Subscription(Base):
    __tablename__ = "subscriptions"
    __table_args__ = (
        sa.UniqueConstraint("subscriber_id", "council_id"),
        # Covers the demand ranking (count and earliest confirmation of active
        # subscriptions per council) so it never reads the table itself.
        sa.Index("ix_subscriptions_demand", "council_id", "status", "confirmed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(sa.ForeignKey("subscribers.id", ondelete="CASCADE"))
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id", ondelete="CASCADE"))
    kind: Mapped[SubscriptionKind] = mapped_column(default=SubscriptionKind.RESIDENT)
    status: Mapped[SubscriptionStatus] = mapped_column(default=SubscriptionStatus.PENDING)
    # A fresh random value per confirmation request; cleared on confirm so a link works once.
    confirm_nonce: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime]
    requested_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # Topic slugs this subscriber wants from the council's digest; empty means all.
    topics: Mapped[list[str]] = mapped_column(default=list)

    subscriber: Mapped[Subscriber] = relationship(
        back_populates="subscriptions", lazy="raise_on_sql"
    )
    council: Mapped[Council] = relationship(lazy="raise_on_sql")


class Watch(Base):
    """A topic watch: topics and/or keywords over some councils (none listed: all),
    mailed daily or weekly when new agenda items or decisions match (SPEC §12.3)."""

    __tablename__ = "watches"
    __table_args__ = (sa.Index("ix_watches_status_frequency", "status", "frequency"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[SubscriptionStatus] = mapped_column(default=SubscriptionStatus.PENDING)
    frequency: Mapped[str] = mapped_column(sa.String(10), default="weekly")
    topics: Mapped[list[str]] = mapped_column(default=list)
    keywords: Mapped[list[str]] = mapped_column(default=list)
    council_ids: Mapped[list[int]] = mapped_column(default=list)
    confirm_nonce: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    unsubscribed_at: Mapped[datetime | None]
    # The end of the window the last alert covered: the next one matches what the
    # collector recorded after it.
    matched_until: Mapped[datetime | None]
    last_sent_at: Mapped[datetime | None]
    ip_hash: Mapped[str] = mapped_column(sa.String(64), default="")


class SignupIntake(Base):
    """A subscribe form accepted but not yet acted on.

    The busiest form only writes this row; the delivery loop turns it into a pending
    subscription, a consent record and an email (digest.subscriptions.signup), then
    deletes it. A row that keeps failing stays, with its error, for an operator to see.
    """

    __tablename__ = "signup_intake"

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(sa.ForeignKey("councils.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(sa.String(320), index=True)
    kind: Mapped[SubscriptionKind] = mapped_column(default=SubscriptionKind.RESIDENT)
    source: Mapped[str] = mapped_column(sa.String(300), default="")
    ip: Mapped[str | None] = mapped_column(sa.String(64))
    received_at: Mapped[datetime]
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str] = mapped_column(sa.String(500), default="")


class ConsentEvent(Base):
    """Append-only record of what a person agreed to, when, where and in which words."""

    __tablename__ = "consent_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    subscription_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subscriptions.id", ondelete="SET NULL")
    )
    council_slug: Mapped[str] = mapped_column(sa.String(80), default="")
    event: Mapped[ConsentEventKind]
    occurred_at: Mapped[datetime]
    source: Mapped[str] = mapped_column(sa.String(300), default="")
    wording_version: Mapped[str] = mapped_column(sa.String(40), default="")
    wording_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    ip_hash: Mapped[str] = mapped_column(sa.String(64), default="")


class EnablementRequest(Base):
    """A professional's request that a waitlisted council be enabled."""

    __tablename__ = "enablement_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    council_id: Mapped[int] = mapped_column(
        sa.ForeignKey("councils.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(sa.String(200))
    organisation: Mapped[str] = mapped_column(sa.String(200))
    email: Mapped[str] = mapped_column(sa.String(320), index=True)
    reason: Mapped[str] = mapped_column(sa.Text)
    status: Mapped[RequestStatus] = mapped_column(default=RequestStatus.OPEN)
    confirm_nonce: Mapped[str | None] = mapped_column(sa.String(32))
    created_at: Mapped[datetime]
    confirmed_at: Mapped[datetime | None]
    decided_at: Mapped[datetime | None]
    decided_by_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("admins.id", ondelete="SET NULL")
    )
    decision_note: Mapped[str] = mapped_column(sa.Text, default="", info={"max_length": 2000})
    ip_hash: Mapped[str] = mapped_column(sa.String(64), default="")

    council: Mapped[Council] = relationship(lazy="raise_on_sql")
