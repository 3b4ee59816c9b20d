"""The subscription emails: queued with the change that causes them and written when
they are sent (confirm, already subscribed, welcome, the manage link; topic watch alerts,
also written when sent, are digest.watches' own).

The web request that queues them only writes a row, and the email always reflects the
current state: a confirmation whose subscription has meanwhile been confirmed or
withdrawn is not sent at all, and its link is made at send time, so it is valid for the
full 72 hours from when it arrives. `SendTimeEmails` is what the delivery engine is
handed to render them (digest.mail.hooks.SendTimeRenderer).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import demand
from digest.addresses import normalise_email
from digest.cache import TTLCache
from digest.config import Config, cron_trigger
from digest.mail.hooks import NotNeeded
from digest.mail.outbox import MessagePurpose
from digest.mail.queue import MailQueue
from digest.mail.render import RenderedEmail, render_email
from digest.models import (
    Council,
    CouncilStatus,
    OutboxMessage,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)


class SendTimeEmails:
    """Renders the emails queued without a body, as of when they are sent; `figures`
    shares the demand ranking (a waitlist welcome names the council's place in the
    queue) instead of recounting it per email."""

    def __init__(self, mail: MailQueue, figures: TTLCache) -> None:
        self.mail = mail
        self.figures = figures

    def __call__(self, session: Session, row: OutboxMessage, now: datetime) -> RenderedEmail:
        return render(session, row, self.mail, now, self.figures)


def render(
    session: Session, row: OutboxMessage, mail: MailQueue, now: datetime, figures: TTLCache
) -> RenderedEmail:
    """The email for `row` as of now; `figures` shares the demand ranking (a waitlist
    welcome names the council's place in the queue) instead of recounting it per email."""
    if row.purpose == MessagePurpose.MANAGE_LINK:
        # Asked for from the "this link does not work" page: a fresh link, made at send
        # time so the outbox never stores a working link.
        subscriber = session.get(Subscriber, row.subscriber_id) if row.subscriber_id else None
        if subscriber is None:
            raise NotNeeded("the subscriber no longer exists")
        return render_email(
            "manage_link",
            **mail.common_context(),
            manage_url=mail.links.manage(subscriber.id, subscriber.link_secret),
        )
    subscription = session.get(Subscription, row.subscription_id) if row.subscription_id else None
    if subscription is None:
        raise NotNeeded("the subscription no longer exists")
    council = session.get_one(Council, subscription.council_id)
    common = mail.common_context()
    if row.purpose == MessagePurpose.CONFIRM_SUBSCRIPTION:
        if subscription.status != SubscriptionStatus.PENDING or not subscription.confirm_nonce:
            raise NotNeeded("already confirmed or withdrawn")
        return render_email(
            "confirm_subscription",
            **common,
            council=council,
            expires_hours=72,
            confirm_url=mail.links.confirm(subscription.id, subscription.confirm_nonce),
        )
    if row.purpose == MessagePurpose.ALREADY_SUBSCRIBED:
        return render_email(
            "already_subscribed",
            **common,
            council=council,
            manage_url=mail.links.manage(
                subscription.subscriber_id,
                session.get_one(Subscriber, subscription.subscriber_id).link_secret,
            ),
        )
    if row.purpose == MessagePurpose.WELCOME:
        if subscription.status != SubscriptionStatus.ACTIVE:
            raise NotNeeded("the subscription is no longer active")
        return render_email(
            "welcome",
            **common,
            **welcome_context(session, mail, council, subscription, now, figures),
        )
    raise ValueError(f"{row.purpose} is not rendered at send time")


def queue_welcome(
    session: Session,
    mail: MailQueue,
    council: Council,
    subscription: Subscription,
    subscriber: Subscriber,
    now: datetime,
) -> None:
    mail.queue_for_send_time(
        session,
        purpose=MessagePurpose.WELCOME,
        reference=f"subscription:{subscription.id}:{now.timestamp():.6f}",
        recipient=subscriber.email,
        now=now,
        subscriber_id=subscriber.id,
        subscription_id=subscription.id,
        council_id=council.id,
    )


def welcome_context(
    session: Session,
    mail: MailQueue,
    council: Council,
    subscription: Subscription,
    now: datetime,
    figures: TTLCache,
) -> dict[str, Any]:
    config = mail.config
    secret = session.get_one(Subscriber, subscription.subscriber_id).link_secret
    context: dict[str, Any] = {
        "council": council,
        "enabled": council.status == CouncilStatus.ENABLED,
        "manage_url": mail.links.manage(subscription.subscriber_id, secret),
        "unsubscribe_url": mail.links.unsubscribe(subscription.id, secret),
        "council_url": mail.links.council(council.slug),
        "position": None,
        "next_digest": None,
    }
    if council.status == CouncilStatus.ENABLED:
        context["next_digest"] = next_digest_label(config, now)
    else:
        row = demand.find(
            demand.ranked(session, config.demand.professional_weight, figures), council.id
        )
        context["position"] = row.position if row else None
    return context


def next_digest_label(config: Config, now: datetime) -> str | None:
    """When the next weekly digest goes out, e.g. "Monday 23 November"."""
    trigger = cron_trigger(config.schedule.weekly_digest, config.tz)
    when = trigger.get_next_fire_time(None, now.astimezone(config.tz))
    return when.strftime("%A %-d %B") if when else None


def send_manage_link(session: Session, mail: MailQueue, *, email: str, now: datetime) -> None:
    """Queue an email with a fresh manage link if `email` belongs to a subscriber; do
    nothing otherwise. The caller answers the same either way, so the form reveals
    nothing about who subscribes. At most one such email per address per day (the
    outbox's unique reference), so the form cannot be used to flood an inbox.

    Raises InvalidEmail for text that is not an address."""
    address = normalise_email(email)
    subscriber = session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
    if subscriber is None:
        return
    mail.queue_for_send_time(
        session,
        purpose=MessagePurpose.MANAGE_LINK,
        reference=f"manage_link:{subscriber.id}:{now.date().isoformat()}",
        recipient=subscriber.email,
        now=now,
        subscriber_id=subscriber.id,
    )
