"""Outgoing mail: the outbox, suppressions, bounce events and per-domain pauses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from digest.db import Base
from digest.models.enums import BounceKind, OutboxStatus, SuppressionReason


class OutboxMessage(Base):
    """One email to one recipient. Unique per (purpose, reference, recipient), so
    enqueueing twice is a no-op; the delivery engine moves it pending -> sending -> done."""

    __tablename__ = "outbox_messages"
    __table_args__ = (
        sa.UniqueConstraint("purpose", "reference", "recipient"),
        sa.Index("ix_outbox_messages_due", "status", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[str] = mapped_column(sa.String(40))
    reference: Mapped[str] = mapped_column(sa.String(80))
    recipient: Mapped[str] = mapped_column(sa.String(320), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    # The subscription a list mail belongs to: checked again at send time, and the source
    # of its unsubscribe link.
    subscription_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subscriptions.id", ondelete="CASCADE"), index=True
    )
    council_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("councils.id", ondelete="SET NULL")
    )
    digest_id: Mapped[int | None] = mapped_column(sa.ForeignKey("digests.id", ondelete="CASCADE"))
    # The topic watch an alert (or its confirmation) belongs to: checked at send time,
    # and the source of its unsubscribe link.
    watch_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("watches.id", ondelete="CASCADE"), index=True
    )
    # What a message rendered at send time needs that its row does not say otherwise
    # (a topic watch alert: the matched agenda items).
    payload: Mapped[dict[str, Any] | None]
    # Rendered content for one-off mails; digests are rendered once per council-week and
    # personalised at send time, so their rows carry no body.
    subject: Mapped[str] = mapped_column(sa.Text, default="")
    body_text: Mapped[str | None] = mapped_column(sa.Text)
    body_html: Mapped[str | None] = mapped_column(sa.Text)
    message_id: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[OutboxStatus] = mapped_column(default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    lease_until: Mapped[datetime | None]
    worker: Mapped[str | None] = mapped_column(sa.String(120))
    last_error: Mapped[str | None] = mapped_column(sa.Text, info={"max_length": 2000})
    # Put off while the circuit breaker stops all sending: resuming makes it due at once.
    held_by_breaker: Mapped[bool] = mapped_column(default=False, server_default=sa.false())
    created_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class Suppression(Base):
    """An address that must never be mailed, kept only as a keyed hash."""

    __tablename__ = "suppressions"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    reason: Mapped[SuppressionReason]
    detail: Mapped[str] = mapped_column(sa.Text, default="")
    created_at: Mapped[datetime]


class BounceEvent(Base):
    """One bounce, complaint or returned report about one address, with its class."""

    __tablename__ = "bounce_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    email_hash: Mapped[str] = mapped_column(sa.String(64), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("subscribers.id", ondelete="CASCADE"), index=True
    )
    outbox_message_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("outbox_messages.id", ondelete="SET NULL")
    )
    kind: Mapped[BounceKind]
    status_code: Mapped[str] = mapped_column(sa.String(20), default="")
    diagnostic: Mapped[str] = mapped_column(sa.Text, default="", info={"max_length": 2000})
    # Which evidence decided the kind (digest.bounces.classify), for the operator.
    reason: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    occurred_at: Mapped[datetime]


class DomainPause(Base):
    """A recipient domain group the receiving side asked us to slow down for (421 / 4.7.x)."""

    __tablename__ = "domain_pauses"

    domain_group: Mapped[str] = mapped_column(sa.String(80), primary_key=True)
    paused_until: Mapped[datetime]
    reason: Mapped[str] = mapped_column(sa.Text, default="", info={"max_length": 500})


class DeliveryCounter(Base):
    """A counter shared by every delivery worker: `failures_in_a_row` feeds the circuit
    breaker, so it trips after `breaker_failures` failed sends across all workers."""

    __tablename__ = "delivery_counters"

    name: Mapped[str] = mapped_column(sa.String(40), primary_key=True)
    value: Mapped[int] = mapped_column(default=0)
