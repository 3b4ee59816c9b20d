"""Moving councils between the waitlist, enabled and paused.

Every way of enabling a council (the CLI, the admin console, the daily demand job) goes
through `enable`, so they all have the same effects. Functions here never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import councils, professional_requests, subscriptions
from digest.collector.sources import system_name
from digest.db import rows_affected
from digest.mail import outbox
from digest.mail.compose import MANAGE_PLACEHOLDER, UNSUBSCRIBE_PLACEHOLDER
from digest.mail.outbox import MessagePurpose
from digest.mail.queue import MailQueue
from digest.mail.render import render_email
from digest.models import (
    Admin,
    Council,
    CouncilStatus,
    OutboxMessage,
    OutboxStatus,
    Subscriber,
    Subscription,
    SubscriptionStatus,
)


class EnablementError(ValueError):
    """The council cannot be enabled as asked; the message says why."""


@dataclass(frozen=True)
class EnableResult:
    council: Council
    changed: bool  # False when it was already enabled


def enable(
    session: Session, council: Council, now: datetime, *, base_url: str | None = None
) -> EnableResult:
    """Enable (or re-enable) a council. Idempotent: enabling an enabled council only
    updates its base URL, if one is given."""
    if base_url is not None:
        councils.set_base_url(council, base_url, now)
    if not council.base_url:
        raise EnablementError(f"{council.name} has no democracy website address (base URL) yet")
    if not council.is_collectable:
        # Enabling would tell subscribers it is live and then collect nothing.
        raise EnablementError(
            f"we can't collect {council.name}'s meetings automatically yet: it runs "
            f"{system_name(council.system)} (set its system on the admin council page, or "
            f"`digest councils probe {council.slug}`)"
        )
    if council.status == CouncilStatus.ENABLED:
        council.updated_at = now
        return EnableResult(council, changed=False)
    council.status = CouncilStatus.ENABLED
    council.enabled_at = council.enabled_at or now
    council.paused_at = None
    council.updated_at = now
    return EnableResult(council, changed=True)


def pause(session: Session, council: Council, now: datetime) -> bool:
    """Stop collecting and sending for an enabled council; False if it was not enabled."""
    if council.status != CouncilStatus.ENABLED:
        return False
    council.status = CouncilStatus.PAUSED
    council.paused_at = now
    council.updated_at = now
    return True


@dataclass(frozen=True)
class GoLiveResult:
    council: Council
    changed: bool
    notified: int  # "your council is live" emails queued
    requests_approved: int


@dataclass(frozen=True)
class GoLivePreview:
    """Who `go_live` would email, for the admin's confirmation step."""

    subscribers: int  # active subscriptions: each gets a "your council is live" email
    requests: int  # open, confirmed professional requests: approved, requester emailed


def preview(session: Session, council: Council) -> GoLivePreview:
    """What enabling `council` now would send, counted as `go_live` counts it."""
    subscribers = session.scalar(
        sa.select(sa.func.count())
        .select_from(Subscription)
        .where(
            Subscription.council_id == council.id, Subscription.status == SubscriptionStatus.ACTIVE
        )
    )
    requests = len(professional_requests.open_requests(session, council_id=council.id))
    return GoLivePreview(subscribers=subscribers or 0, requests=requests)


def go_live(
    session: Session,
    mail: MailQueue,
    council: Council,
    now: datetime,
    *,
    admin: Admin | None = None,
    base_url: str | None = None,
) -> GoLiveResult:
    """Enable a council with everything that goes with it: every active subscriber is
    told once, open professional requests are approved and their requesters told.

    A welcome email still waiting in the outbox is withdrawn: it is rendered when sent,
    so it would now say the council is live too, and the subscriber who confirmed
    moments ago would get two near-identical emails. The "is live" email says all it
    would have. A waitlist welcome already sent stays sent, and its promise ("we'll
    email you once, the moment it goes live") is kept by the "is live" email.

    The caller collects the council straight after committing, so the first digest has
    data. Enabling an enabled council changes nothing and queues nothing.
    """
    result = enable(session, council, now, base_url=base_url)
    if not result.changed:
        return GoLiveResult(council, changed=False, notified=0, requests_approved=0)
    withdraw_unsent_welcomes(session, council)
    notified = notify_subscribers(session, mail, council, now)
    approved = professional_requests.approve_open(session, mail, council, admin=admin, now=now)
    return GoLiveResult(council, changed=True, notified=notified, requests_approved=approved)


def withdraw_unsent_welcomes(session: Session, council: Council) -> int:
    """Suppress the council's welcome emails nobody has started sending; how many.

    Only 'pending' rows. On PostgreSQL the UPDATE waits for a worker's claim of the
    same row and then leaves it alone. A welcome a worker holds ('sending') has almost
    always been composed already, as a waitlist welcome, which the "is live" email then
    follows truthfully; only one claimed before this UPDATE but composed after this
    transaction commits (a window of milliseconds) would also say "live".
    """
    result = session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.purpose == MessagePurpose.WELCOME.value,
            OutboxMessage.council_id == council.id,
            OutboxMessage.status == OutboxStatus.PENDING,
        )
        .values(
            status=OutboxStatus.SUPPRESSED,
            lease_until=None,
            last_error="not needed: the council went live; the council-live email replaces it",
        )
        .execution_options(synchronize_session=False)
    )
    return rows_affected(result)


def notify_subscribers(session: Session, mail: MailQueue, council: Council, now: datetime) -> int:
    """Queue one "your council is live" email per active subscription.

    Rendered once with link placeholders that are personalised at send time, like a
    digest. The reference is per council, so a council enabled again later (after a
    pause) does not tell anyone twice.
    """
    rows = session.execute(
        sa.select(Subscription.id, Subscription.subscriber_id, Subscriber.email)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(
            Subscription.council_id == council.id, Subscription.status == SubscriptionStatus.ACTIVE
        )
    ).all()
    if not rows:
        return 0
    rendered = render_email(
        "council_live",
        **mail.common_context(),
        council=council,
        council_url=mail.links.council(council.slug),
        next_digest=subscriptions.next_digest_label(mail.config, now),
        manage_url=MANAGE_PLACEHOLDER,
        unsubscribe_url=UNSUBSCRIBE_PLACEHOLDER,
    )
    return outbox.enqueue_many(
        session,
        (
            {
                "purpose": MessagePurpose.COUNCIL_LIVE,
                "reference": f"council:{council.id}:live",
                "recipient": email,
                "subscriber_id": subscriber_id,
                "subscription_id": subscription_id,
                "council_id": council.id,
                "subject": rendered.subject,
                "body_text": rendered.text,
                "body_html": rendered.html,
            }
            for subscription_id, subscriber_id, email in rows
        ),
        now=now,
        domain=mail.domain,
    )
