"""One subscriber as a whole, read-side: found by address, the emails we queued them,
the kind a council they add takes, and everything the admin's look-up shows. The
export (`subscriptions.export`) and the admin's look-up read the same rows through
these functions."""

from __future__ import annotations

from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import subscriptions, suppressions
from digest.models import (
    BounceEvent,
    ConsentEvent,
    Council,
    OutboxMessage,
    Subscriber,
    Subscription,
    SubscriptionKind,
    Suppression,
)
from digest.subscriptions.rights import emails_of

ADMIN_MESSAGES = 50  # the look-up shows the latest emails; the export gives them all


def by_email(session: Session, address: str) -> Subscriber | None:
    """The subscriber with this normalised address, if any."""
    return session.scalar(sa.select(Subscriber).where(Subscriber.email == address))


def kind_for_added_council(session: Session, subscriber_id: int) -> SubscriptionKind:
    """A subscriber who takes any council as a professional (an approved request) takes
    the councils they add from the manage page the same way."""
    professional = session.scalar(
        sa.select(sa.literal(True)).where(
            Subscription.subscriber_id == subscriber_id,
            Subscription.kind == SubscriptionKind.PROFESSIONAL,
        )
    )
    return SubscriptionKind.PROFESSIONAL if professional else SubscriptionKind.RESIDENT


@dataclass(frozen=True)
class Lookup:
    """What the admin's subscriber look-up shows for one address."""

    suppression: Suppression | None
    subscriber: Subscriber | None = None
    subscriptions: list[tuple[Subscription, Council]] = field(default_factory=list)
    consent: list[ConsentEvent] = field(default_factory=list)
    messages: list[OutboxMessage] = field(default_factory=list)  # newest first
    bounces: list[BounceEvent] = field(default_factory=list)


def look_up(session: Session, secret_key: str, address: str) -> Lookup:
    """Everything held about a normalised address, for the admin (an erased address has
    only its suppression hash left)."""
    suppression = suppressions.find(session, secret_key, address)
    subscriber = by_email(session, address)
    if subscriber is None:
        return Lookup(suppression=suppression)
    return Lookup(
        suppression=suppression,
        subscriber=subscriber,
        subscriptions=subscriptions.subscriptions_of(session, subscriber.id),
        consent=subscriptions.consent_record(session, subscriber.id),
        messages=emails_of(session, subscriber.id, newest_first=True, limit=ADMIN_MESSAGES),
        bounces=subscriptions.bounces_of(session, subscriber.id),
    )
