"""The subscriber's rights: seeing what we hold (export), being forgotten (erase), and
the weekly purge of what was never confirmed. Functions here never commit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import suppressions
from digest.models import (
    AdminAction,
    BounceEvent,
    ConsentEvent,
    Council,
    EnablementRequest,
    OutboxMessage,
    SignupIntake,
    Subscriber,
    Subscription,
    SubscriptionStatus,
    SuppressionReason,
    Watch,
)

PENDING_LIFETIME = timedelta(days=7)


def subscriptions_of(session: Session, subscriber_id: int) -> list[tuple[Subscription, Council]]:
    rows = session.execute(
        sa.select(Subscription, Council)
        .join(Council, Council.id == Subscription.council_id)
        .where(Subscription.subscriber_id == subscriber_id)
        .order_by(Council.name)
    )
    return [(s, c) for s, c in rows]


def consent_record(session: Session, subscriber_id: int) -> list[ConsentEvent]:
    """The subscriber's consent events, oldest first."""
    return list(
        session.scalars(
            sa.select(ConsentEvent)
            .where(ConsentEvent.subscriber_id == subscriber_id)
            .order_by(ConsentEvent.id)
        )
    )


def bounces_of(session: Session, subscriber_id: int) -> list[BounceEvent]:
    """Bounces and complaints recorded against the subscriber, oldest first."""
    return list(
        session.scalars(
            sa.select(BounceEvent)
            .where(BounceEvent.subscriber_id == subscriber_id)
            .order_by(BounceEvent.id)
        )
    )


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def emails_of(
    session: Session, subscriber_id: int, *, newest_first: bool = False, limit: int | None = None
) -> list[OutboxMessage]:
    """The emails queued to the subscriber, oldest first unless `newest_first`."""
    order = OutboxMessage.id.desc() if newest_first else OutboxMessage.id
    stmt = sa.select(OutboxMessage).where(OutboxMessage.subscriber_id == subscriber_id)
    return list(session.scalars(stmt.order_by(order).limit(limit)))


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
                "topics": list(s.topics or []),
            }
            for s, council in subscriptions_of(session, subscriber_id)
        ],
        "topic_watches": [
            {
                "status": w.status.value,
                "frequency": w.frequency,
                "topics": list(w.topics or []),
                "keywords": list(w.keywords or []),
                "council_ids": list(w.council_ids or []),
                "created_at": _iso(w.created_at),
                "confirmed_at": _iso(w.confirmed_at),
                "unsubscribed_at": _iso(w.unsubscribed_at),
                "last_sent_at": _iso(w.last_sent_at),
            }
            for w in session.scalars(
                sa.select(Watch).where(Watch.subscriber_id == subscriber_id).order_by(Watch.id)
            )
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
            for e in consent_record(session, subscriber_id)
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
            for m in emails_of(session, subscriber_id)
        ],
        "bounces": [
            {"kind": b.kind.value, "status_code": b.status_code, "occurred_at": _iso(b.occurred_at)}
            for b in bounces_of(session, subscriber_id)
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
ERASED_TABLES = (BounceEvent, OutboxMessage, ConsentEvent, Subscription, Watch)


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
    _erase_requests(session, email)
    # Mail to the address, and any other mail that names it (in any table, the
    # address is the one thing that identifies the person outside the rows above).
    session.execute(
        sa.delete(OutboxMessage).where(
            sa.or_(
                OutboxMessage.recipient == email,
                *(
                    column.contains(email, autoescape=True)
                    for column in (
                        OutboxMessage.subject,
                        OutboxMessage.body_text,
                        OutboxMessage.body_html,
                    )
                ),
            )
        )
    )
    session.execute(sa.delete(SignupIntake).where(SignupIntake.email == email))
    for column in (AdminAction.actor, AdminAction.target, AdminAction.detail):
        session.execute(
            sa.update(AdminAction)
            .where(column.contains(email, autoescape=True))
            .values({column.key: "(erased)"})
        )
    session.expunge(subscriber)
    suppressions.suppress(session, secret_key, email, SuppressionReason.ERASED, now)
    suppressions.forget_address(session, secret_key, email)


def _erase_requests(session: Session, email: str) -> None:
    """The person's professional requests and every copy of what they wrote: the mails
    about them (the admins' "New request" notices carry name, organisation and reason)
    and the notes admins wrote about them in the audit trail."""
    request_ids = list(
        session.scalars(sa.select(EnablementRequest.id).where(EnablementRequest.email == email))
    )
    if not request_ids:
        return
    session.execute(
        sa.delete(OutboxMessage).where(
            OutboxMessage.reference.in_([f"request:{i}" for i in request_ids])
        )
    )
    for request_id in request_ids:
        # Targets are written as "request <id> (<council>)" by the admin console.
        session.execute(
            sa.update(AdminAction)
            .where(AdminAction.target.startswith(f"request {request_id} ", autoescape=True))
            .values(detail="")
        )
    session.execute(sa.delete(EnablementRequest).where(EnablementRequest.id.in_(request_ids)))


def purge_unconfirmed(session: Session, now: datetime) -> int:
    """Forget subscriptions never confirmed within a week, sign-ups never acted on within
    a week (they gave up after errors), and people left with nothing."""
    cutoff = now - PENDING_LIFETIME
    session.execute(sa.delete(SignupIntake).where(SignupIntake.received_at < cutoff))
    stale = sa.select(Subscription.id).where(
        Subscription.status == SubscriptionStatus.PENDING, Subscription.requested_at < cutoff
    )
    stale_ids = list(session.scalars(stale))
    if stale_ids:
        session.execute(
            sa.delete(OutboxMessage).where(OutboxMessage.subscription_id.in_(stale_ids))
        )
        session.execute(sa.delete(Subscription).where(Subscription.id.in_(stale_ids)))
    # Topic watches never confirmed go the same way.
    stale_watches = sa.select(Watch.id).where(
        Watch.status == SubscriptionStatus.PENDING, Watch.created_at < cutoff
    )
    session.execute(sa.delete(OutboxMessage).where(OutboxMessage.watch_id.in_(stale_watches)))
    session.execute(
        sa.delete(Watch).where(
            Watch.status == SubscriptionStatus.PENDING, Watch.created_at < cutoff
        )
    )
    orphans = list(
        session.scalars(
            sa.select(Subscriber.id).where(
                ~sa.exists().where(Subscription.subscriber_id == Subscriber.id),
                ~sa.exists().where(Watch.subscriber_id == Subscriber.id),
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
