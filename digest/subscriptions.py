"""Double opt-in subscriptions: subscribe -> confirm -> (unsubscribe), plus the subscriber's
rights: export and erasure.

The public response to `subscribe` never depends on the address's state; what differs is
only which email (if any) is queued, and that email goes to the address itself.
Functions here never commit.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from digest import consent, demand, suppressions
from digest.addresses import ip_hash, normalise_email
from digest.config import Config, cron_trigger
from digest.mail import outbox
from digest.mail.outbox import MessagePurpose
from digest.mail.queue import MailQueue
from digest.models import (
    BounceEvent,
    ConsentEvent,
    ConsentEventKind,
    Council,
    CouncilStatus,
    EnablementRequest,
    OutboxMessage,
    Subscriber,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
    SuppressionReason,
)
from digest.tokens import Purpose, TokenError, TokenExpired, Tokens

PENDING_LIFETIME = timedelta(days=7)


class LinkProblem(Exception):
    """A link from an email cannot be used; subclasses say why."""


class LinkInvalid(LinkProblem):
    pass


class LinkExpired(LinkProblem):
    pass


class LinkUsed(LinkProblem):
    def __init__(self, subscription: Subscription) -> None:
        super().__init__("link already used")
        self.subscription = subscription


@dataclass(frozen=True)
class Origin:
    """Where a request came from, for the consent record."""

    source: str
    ip: str | None


def subscribe(
    session: Session,
    mail: MailQueue,
    *,
    council: Council,
    email: str,
    now: datetime,
    origin: Origin,
    kind: SubscriptionKind = SubscriptionKind.RESIDENT,
) -> None:
    """Start (or restart) a subscription and queue the right email for the address.

    Raises InvalidEmail for text that is not an address; otherwise behaves the same from
    the outside whatever the address's state.
    """
    address = normalise_email(email)
    secret = mail.config.site.secret_key
    suppression = suppressions.find(session, secret, address)
    if suppression is not None and suppression.reason not in suppressions.CLEARED_BY_CONFIRMATION:
        return
    sent_today = outbox.recent_for(
        session,
        address,
        (MessagePurpose.CONFIRM_SUBSCRIPTION, MessagePurpose.ALREADY_SUBSCRIBED),
        now - timedelta(days=1),
    )
    if sent_today >= mail.config.mail.confirmations_per_day:
        # Someone is using our form to flood this inbox; stay silent until tomorrow.
        return
    subscriber = _get_or_create_subscriber(session, address, now)
    subscription = session.scalar(
        sa.select(Subscription).where(
            Subscription.subscriber_id == subscriber.id, Subscription.council_id == council.id
        )
    )
    stamp = f"{now.timestamp():.6f}"
    if subscription is not None and subscription.status == SubscriptionStatus.ACTIVE:
        mail.queue(
            session,
            template="already_subscribed",
            purpose=MessagePurpose.ALREADY_SUBSCRIBED,
            reference=f"subscription:{subscription.id}:{stamp}",
            recipient=address,
            now=now,
            context={"council": council, "manage_url": mail.links.manage(subscriber.id)},
            subscriber_id=subscriber.id,
            subscription_id=subscription.id,
            council_id=council.id,
        )
        return
    if subscription is None:
        subscription = Subscription(
            subscriber_id=subscriber.id,
            council_id=council.id,
            kind=kind,
            status=SubscriptionStatus.PENDING,
            confirm_nonce=_nonce(),
            created_at=now,
            requested_at=now,
        )
        session.add(subscription)
        session.flush()
    else:
        if subscription.status == SubscriptionStatus.UNSUBSCRIBED or not subscription.confirm_nonce:
            subscription.confirm_nonce = _nonce()
        subscription.status = SubscriptionStatus.PENDING
        subscription.requested_at = now
        subscription.kind = kind
    assert subscription.confirm_nonce is not None
    _record(session, mail, subscription, council, ConsentEventKind.REQUESTED, now, origin)
    mail.queue(
        session,
        template="confirm_subscription",
        purpose=MessagePurpose.CONFIRM_SUBSCRIPTION,
        reference=f"subscription:{subscription.id}:{stamp}",
        recipient=address,
        now=now,
        context={
            "council": council,
            "confirm_url": mail.links.confirm(subscription.id, subscription.confirm_nonce),
            "expires_hours": 72,
        },
        subscriber_id=subscriber.id,
        subscription_id=subscription.id,
        council_id=council.id,
    )


def add_confirmed(
    session: Session,
    mail: MailQueue,
    *,
    council: Council,
    email: str,
    now: datetime,
    origin: Origin,
    kind: SubscriptionKind = SubscriptionKind.RESIDENT,
) -> Subscription | None:
    """Subscribe an address whose owner has just proved it (a confirmation link or the
    manage page), so no second confirmation is needed. Queues the welcome email.

    Returns None for addresses suppressed after a bounce or complaint.
    """
    address = normalise_email(email)
    secret = mail.config.site.secret_key
    suppression = suppressions.find(session, secret, address)
    if suppression is not None and suppression.reason not in suppressions.CLEARED_BY_CONFIRMATION:
        return None
    subscriber = _get_or_create_subscriber(session, address, now)
    subscription = session.scalar(
        sa.select(Subscription).where(
            Subscription.subscriber_id == subscriber.id, Subscription.council_id == council.id
        )
    )
    if subscription is not None and subscription.status == SubscriptionStatus.ACTIVE:
        if kind == SubscriptionKind.PROFESSIONAL:
            subscription.kind = kind
        return subscription
    if subscription is None:
        subscription = Subscription(
            subscriber_id=subscriber.id,
            council_id=council.id,
            kind=kind,
            status=SubscriptionStatus.PENDING,
            created_at=now,
            requested_at=now,
        )
        session.add(subscription)
        session.flush()
    subscription.kind = kind
    subscription.status = SubscriptionStatus.ACTIVE
    subscription.requested_at = now
    subscription.confirmed_at = now
    subscription.unsubscribed_at = None
    subscription.confirm_nonce = None
    _record(session, mail, subscription, council, ConsentEventKind.REQUESTED, now, origin)
    _record(session, mail, subscription, council, ConsentEventKind.CONFIRMED, now, origin)
    suppressions.clear_after_confirmation(session, secret, address)
    session.flush()
    _queue_welcome(session, mail, council, subscription, subscriber, now)
    return subscription


def _get_or_create_subscriber(session: Session, address: str, now: datetime) -> Subscriber:
    existing = session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
    if existing is not None:
        return existing
    subscriber = Subscriber(email=address, created_at=now)
    try:
        with session.begin_nested():
            session.add(subscriber)
    except IntegrityError:
        # The same address subscribed in a parallel request a moment ago.
        found = session.scalar(sa.select(Subscriber).where(Subscriber.email == address))
        assert found is not None
        return found
    return subscriber


def _nonce() -> str:
    return secrets.token_urlsafe(16)


def _record(
    session: Session,
    mail: MailQueue,
    subscription: Subscription,
    council: Council,
    event: ConsentEventKind,
    now: datetime,
    origin: Origin,
) -> None:
    session.add(
        ConsentEvent(
            subscriber_id=subscription.subscriber_id,
            subscription_id=subscription.id,
            council_slug=council.slug,
            event=event,
            occurred_at=now,
            source=origin.source[:300],
            wording_version=consent.WORDING_VERSION,
            wording_sha256=consent.WORDING_SHA256,
            ip_hash=ip_hash(mail.config.site.secret_key, origin.ip) if origin.ip else "",
        )
    )


def read_nonce_link(tokens: Tokens, purpose: Purpose, token: str) -> tuple[int, str]:
    """(row id, nonce) from a single-use confirmation link; LinkProblem if it is forged,
    damaged or expired. Whether the nonce is still current is the caller's check."""
    try:
        payload = tokens.read(purpose, token)
    except TokenExpired as exc:
        raise LinkExpired(str(exc)) from exc
    except TokenError as exc:
        raise LinkInvalid(str(exc)) from exc
    if not (
        isinstance(payload, list)
        and len(payload) == 2
        and isinstance(payload[0], int)
        and isinstance(payload[1], str)
    ):
        raise LinkInvalid("unexpected payload")
    return payload[0], payload[1]


def read_confirm_link(session: Session, tokens: Tokens, token: str) -> Subscription:
    """The pending subscription a confirmation link is for; LinkProblem if it cannot be used."""
    subscription_id, nonce = read_nonce_link(tokens, Purpose.CONFIRM, token)
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        raise LinkInvalid("no such subscription")
    if subscription.confirm_nonce is None or subscription.confirm_nonce != nonce:
        raise LinkUsed(subscription)
    return subscription


def confirm(
    session: Session, mail: MailQueue, *, token: str, now: datetime, origin: Origin
) -> Subscription:
    """Activate the subscription behind a confirmation link and queue the welcome email."""
    subscription = read_confirm_link(session, mail.links.tokens, token)
    council = session.get_one(Council, subscription.council_id)
    subscriber = session.get_one(Subscriber, subscription.subscriber_id)
    subscription.status = SubscriptionStatus.ACTIVE
    subscription.confirmed_at = now
    subscription.unsubscribed_at = None
    subscription.confirm_nonce = None
    _record(session, mail, subscription, council, ConsentEventKind.CONFIRMED, now, origin)
    suppressions.clear_after_confirmation(session, mail.config.site.secret_key, subscriber.email)
    session.flush()
    _queue_welcome(session, mail, council, subscription, subscriber, now)
    return subscription


def _queue_welcome(
    session: Session,
    mail: MailQueue,
    council: Council,
    subscription: Subscription,
    subscriber: Subscriber,
    now: datetime,
) -> None:
    mail.queue(
        session,
        template="welcome",
        purpose=MessagePurpose.WELCOME,
        reference=f"subscription:{subscription.id}:{now.timestamp():.6f}",
        recipient=subscriber.email,
        now=now,
        context=welcome_context(session, mail, council, subscription, now),
        subscriber_id=subscriber.id,
        subscription_id=subscription.id,
        council_id=council.id,
    )


def welcome_context(
    session: Session, mail: MailQueue, council: Council, subscription: Subscription, now: datetime
) -> dict[str, Any]:
    config = mail.config
    context: dict[str, Any] = {
        "council": council,
        "enabled": council.status == CouncilStatus.ENABLED,
        "manage_url": mail.links.manage(subscription.subscriber_id),
        "unsubscribe_url": mail.links.unsubscribe(subscription.id),
        "council_url": mail.links.council(council.slug),
        "position": None,
        "next_digest": None,
    }
    if council.status == CouncilStatus.ENABLED:
        context["next_digest"] = next_digest_label(config, now)
    else:
        row = demand.for_council(session, council, config.demand.professional_weight)
        context["position"] = row.position if row else None
    return context


def next_digest_label(config: Config, now: datetime) -> str | None:
    """When the next weekly digest goes out, e.g. "Monday 23 November"."""
    trigger = cron_trigger(config.schedule.weekly_digest, config.tz)
    when = trigger.get_next_fire_time(None, now.astimezone(config.tz))
    return when.strftime("%A %-d %B") if when else None


def unsubscribe(
    session: Session, *, subscription_id: int, now: datetime, origin: Origin, secret_key: str
) -> Subscription | None:
    """Stop a subscription. Idempotent; None when it no longer exists (e.g. erased)."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        return None
    if subscription.status != SubscriptionStatus.UNSUBSCRIBED:
        subscription.status = SubscriptionStatus.UNSUBSCRIBED
        subscription.unsubscribed_at = now
        subscription.confirm_nonce = None
        council = session.get_one(Council, subscription.council_id)
        session.add(
            ConsentEvent(
                subscriber_id=subscription.subscriber_id,
                subscription_id=subscription.id,
                council_slug=council.slug,
                event=ConsentEventKind.UNSUBSCRIBED,
                occurred_at=now,
                source=origin.source[:300],
                ip_hash=ip_hash(secret_key, origin.ip) if origin.ip else "",
            )
        )
    return subscription


def unsubscribe_all(
    session: Session, *, subscriber_id: int, now: datetime, origin: Origin, secret_key: str
) -> int:
    ids = session.scalars(
        sa.select(Subscription.id).where(
            Subscription.subscriber_id == subscriber_id,
            Subscription.status != SubscriptionStatus.UNSUBSCRIBED,
        )
    ).all()
    for subscription_id in ids:
        unsubscribe(
            session, subscription_id=subscription_id, now=now, origin=origin, secret_key=secret_key
        )
    return len(ids)


def subscriptions_of(session: Session, subscriber_id: int) -> list[tuple[Subscription, Council]]:
    rows = session.execute(
        sa.select(Subscription, Council)
        .join(Council, Council.id == Subscription.council_id)
        .where(Subscription.subscriber_id == subscriber_id)
        .order_by(Council.name)
    )
    return [(s, c) for s, c in rows]


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def export(session: Session, subscriber_id: int) -> dict[str, Any]:
    """Everything we hold about a subscriber, for them to download (UK GDPR Art. 15/20)."""
    subscriber = session.get_one(Subscriber, subscriber_id)
    return {
        "email": subscriber.email,
        "created_at": _iso(subscriber.created_at),
        "subscriptions": [
            {
                "council": council.slug,
                "council_name": council.name,
                "kind": s.kind.value,
                "status": s.status.value,
                "created_at": _iso(s.created_at),
                "confirmed_at": _iso(s.confirmed_at),
                "unsubscribed_at": _iso(s.unsubscribed_at),
            }
            for s, council in subscriptions_of(session, subscriber_id)
        ],
        "consent_events": [
            {
                "event": e.event.value,
                "council": e.council_slug,
                "occurred_at": _iso(e.occurred_at),
                "source": e.source,
                "wording_version": e.wording_version,
                "wording_sha256": e.wording_sha256,
                "ip_hash": e.ip_hash,
            }
            for e in session.scalars(
                sa.select(ConsentEvent)
                .where(ConsentEvent.subscriber_id == subscriber_id)
                .order_by(ConsentEvent.id)
            )
        ],
        "emails": [
            {
                "purpose": m.purpose,
                "subject": m.subject,
                "status": m.status.value,
                "queued_at": _iso(m.created_at),
                "sent_at": _iso(m.sent_at),
                "message_id": m.message_id,
            }
            for m in session.scalars(
                sa.select(OutboxMessage)
                .where(OutboxMessage.subscriber_id == subscriber_id)
                .order_by(OutboxMessage.id)
            )
        ],
        "bounces": [
            {"kind": b.kind.value, "status_code": b.status_code, "occurred_at": _iso(b.occurred_at)}
            for b in session.scalars(
                sa.select(BounceEvent)
                .where(BounceEvent.subscriber_id == subscriber_id)
                .order_by(BounceEvent.id)
            )
        ],
        "enablement_requests": [
            {
                "council_id": r.council_id,
                "name": r.name,
                "organisation": r.organisation,
                "reason": r.reason,
                "status": r.status.value,
                "created_at": _iso(r.created_at),
            }
            for r in session.scalars(
                sa.select(EnablementRequest)
                .where(EnablementRequest.email == subscriber.email)
                .order_by(EnablementRequest.id)
            )
        ],
    }


# Every table that holds a subscriber's personal data, deleted on erasure. A test walks
# the schema and fails if a table referencing subscribers is missing here.
ERASED_TABLES = (BounceEvent, OutboxMessage, ConsentEvent, Subscription)


def _delete_subscriber(session: Session, subscriber_id: int) -> None:
    for model in ERASED_TABLES:
        session.execute(sa.delete(model).where(model.subscriber_id == subscriber_id))
    session.execute(sa.delete(Subscriber).where(Subscriber.id == subscriber_id))


def erase(session: Session, *, subscriber_id: int, now: datetime, secret_key: str) -> None:
    """Delete everything about a subscriber, keeping only a keyed hash of the address so
    it is never mailed again unless its owner subscribes and confirms anew."""
    subscriber = session.get_one(Subscriber, subscriber_id)
    email = subscriber.email
    _delete_subscriber(session, subscriber_id)
    session.execute(sa.delete(OutboxMessage).where(OutboxMessage.recipient == email))
    session.execute(sa.delete(EnablementRequest).where(EnablementRequest.email == email))
    session.expunge(subscriber)
    suppressions.suppress(session, secret_key, email, SuppressionReason.ERASED, now)


def purge_unconfirmed(session: Session, now: datetime) -> int:
    """Forget subscriptions never confirmed within a week, and people left with nothing."""
    cutoff = now - PENDING_LIFETIME
    stale = sa.select(Subscription.id).where(
        Subscription.status == SubscriptionStatus.PENDING, Subscription.requested_at < cutoff
    )
    stale_ids = list(session.scalars(stale))
    if stale_ids:
        session.execute(
            sa.delete(OutboxMessage).where(OutboxMessage.subscription_id.in_(stale_ids))
        )
        session.execute(sa.delete(Subscription).where(Subscription.id.in_(stale_ids)))
    orphans = list(
        session.scalars(
            sa.select(Subscriber.id).where(
                ~sa.exists().where(Subscription.subscriber_id == Subscriber.id)
            )
        )
    )
    for subscriber_id in orphans:
        _delete_subscriber(session, subscriber_id)
    session.execute(
        sa.delete(EnablementRequest).where(
            EnablementRequest.confirmed_at.is_(None), EnablementRequest.created_at < cutoff
        )
    )
    return len(stale_ids)
