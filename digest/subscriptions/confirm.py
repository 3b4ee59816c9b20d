"""Confirming and withdrawing: the links in our emails (and what is wrong with one that
cannot be used), confirmation, subscribing an address already proved, unsubscribing.
Functions here never commit."""

from __future__ import annotations

import hmac
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import suppressions
from digest.addresses import normalise_email
from digest.mail.queue import MailQueue
from digest.models import (
    ConsentEventKind,
    Council,
    Subscriber,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
)
from digest.subscriptions import emails, records
from digest.subscriptions.records import Origin
from digest.tokens import Purpose, TokenError, TokenExpired, Tokens


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
    subscriber = session.get_one(Subscriber, records.ensure_subscriber(session, address, now))
    pending_id = records.request(
        session, subscriber_id=subscriber.id, council_id=council.id, kind=kind, now=now
    )
    subscription = session.scalars(
        sa.select(Subscription)
        .where(Subscription.subscriber_id == subscriber.id, Subscription.council_id == council.id)
        .execution_options(populate_existing=True)
    ).one()
    if pending_id is None:  # already active: `request` wrote nothing
        if kind == SubscriptionKind.PROFESSIONAL:
            subscription.kind = kind
        return subscription
    records.activate(subscription, now)
    for event in (ConsentEventKind.REQUESTED, ConsentEventKind.CONFIRMED):
        _record(session, secret, subscription, council, event, now, origin)
    suppressions.clear_after_confirmation(session, secret, address)
    session.flush()
    emails.queue_welcome(session, mail, council, subscription, subscriber, now)
    return subscription


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


def _id_and_secret(tokens: Tokens, purpose: Purpose, token: str) -> tuple[int, str | None]:
    """(row id, link secret) from a manage or unsubscribe link; None for the secret in
    links made before links carried one. LinkInvalid for anything not made by us."""
    try:
        payload = tokens.read(purpose, token)
    except TokenError as exc:
        raise LinkInvalid(str(exc)) from exc
    if isinstance(payload, int) and not isinstance(payload, bool):
        return payload, None
    if (
        isinstance(payload, list)
        and len(payload) == 2
        and isinstance(payload[0], int)
        and isinstance(payload[1], str)
    ):
        return payload[0], payload[1]
    raise LinkInvalid("unexpected payload")


def _secret_matches(subscriber: Subscriber, given: str | None) -> bool:
    # A link without a secret is from before links carried one: only subscribers from
    # then (whose secret is empty) accept it. Ids are never reused, so it names them.
    if given is None:
        return subscriber.link_secret == ""
    return hmac.compare_digest(subscriber.link_secret.encode(), given.encode())


def read_manage_link(session: Session, tokens: Tokens, token: str) -> Subscriber:
    """The subscriber a manage link belongs to; LinkInvalid when the link is not ours or
    its subscriber is gone (erased: the link died with the data)."""
    subscriber_id, secret = _id_and_secret(tokens, Purpose.MANAGE, token)
    subscriber = session.get(Subscriber, subscriber_id)
    if subscriber is None or not _secret_matches(subscriber, secret):
        raise LinkInvalid("no such subscriber")
    return subscriber


def read_unsubscribe_link(session: Session, tokens: Tokens, token: str) -> Subscription | None:
    """The subscription an unsubscribe link is for, or None when it no longer exists
    (the link is genuine, so the answer is still "unsubscribed"); LinkInvalid when the
    link is not ours."""
    subscription_id, secret = _id_and_secret(tokens, Purpose.UNSUBSCRIBE, token)
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        return None
    subscriber = session.get_one(Subscriber, subscription.subscriber_id)
    return subscription if _secret_matches(subscriber, secret) else None


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
    records.activate(subscription, now)
    secret = mail.config.site.secret_key
    _record(session, secret, subscription, council, ConsentEventKind.CONFIRMED, now, origin)
    suppressions.clear_after_confirmation(session, secret, subscriber.email)
    session.flush()
    emails.queue_welcome(session, mail, council, subscription, subscriber, now)
    return subscription


def unsubscribe(
    session: Session, *, subscription_id: int, now: datetime, origin: Origin, secret_key: str
) -> Subscription | None:
    """Stop a subscription. Idempotent; None when it no longer exists (e.g. erased)."""
    subscription = session.get(Subscription, subscription_id)
    if subscription is None:
        return None
    if subscription.status != SubscriptionStatus.UNSUBSCRIBED:
        records.withdraw(subscription, now)
        council = session.get_one(Council, subscription.council_id)
        _record(
            session, secret_key, subscription, council, ConsentEventKind.UNSUBSCRIBED, now, origin
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


def _record(
    session: Session,
    secret_key: str,
    subscription: Subscription,
    council: Council,
    event: ConsentEventKind,
    now: datetime,
    origin: Origin,
) -> None:
    records.record_consent(
        session,
        secret_key,
        subscriber_id=subscription.subscriber_id,
        subscription_id=subscription.id,
        council_slug=council.slug,
        event=event,
        now=now,
        origin=origin,
    )
