"""Emails about one subscription (confirm, already subscribed, welcome), rendered when
they are sent rather than when they are queued.

The web request that queues them only writes a row, and the email always reflects the
current state: a confirmation whose subscription has meanwhile been confirmed or
withdrawn is not sent at all, and its link is made at send time, so it is valid for the
full 72 hours from when it arrives.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from digest.cache import TTLCache
from digest.mail.outbox import MessagePurpose
from digest.mail.queue import MailQueue
from digest.mail.render import RenderedEmail, render_email
from digest.models import Council, OutboxMessage, Subscriber, Subscription, SubscriptionStatus
from digest.subscriptions import welcome_context

RENDERED_AT_SEND_TIME = frozenset(
    {
        MessagePurpose.CONFIRM_SUBSCRIPTION,
        MessagePurpose.ALREADY_SUBSCRIBED,
        MessagePurpose.WELCOME,
        MessagePurpose.WATCH_ALERT,
        MessagePurpose.MANAGE_LINK,
    }
)


class NotNeeded(Exception):
    """The message no longer applies; the reason is recorded instead of sending it."""


def render(
    session: Session, row: OutboxMessage, mail: MailQueue, now: datetime, figures: TTLCache
) -> RenderedEmail:
    """The email for `row` as of now; `figures` shares the demand ranking (a waitlist
    welcome names the council's place in the queue) instead of recounting it per email."""
    if row.purpose == MessagePurpose.WATCH_ALERT:
        from digest import watches  # imported here: the watch module queues mail itself

        found = watches.render_alert(session, row, mail.links, mail.common_context(), mail.config)
        if found is None:
            raise NotNeeded("the topic watch or its items no longer exist")
        return found

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
