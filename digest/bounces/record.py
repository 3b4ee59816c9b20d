"""What a bounce or complaint does to an address, whichever way it reached us (an SMTP
refusal during delivery, a DSN, an ARF report). Never commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import subscriptions, suppressions, watches
from digest.addresses import email_hash
from digest.models import BounceEvent, BounceKind, Subscriber, SuppressionReason

# Soft bounces (full mailbox, delays, give-ups) suppress an address only when they repeat.
SOFT_LIMIT = 3
SOFT_WINDOW = timedelta(days=14)


@dataclass(frozen=True)
class Outcome:
    kind: BounceKind
    recorded: bool  # False when this exact event was already known
    suppressed: bool


def record(
    session: Session,
    secret_key: str,
    *,
    email: str,
    kind: BounceKind,
    now: datetime,
    status: str = "",
    diagnostic: str = "",
    occurred_at: datetime | None = None,
    outbox_message_id: int | None = None,
    subscriber_id: int | None = None,
) -> Outcome:
    """Record one bounce or complaint and apply its consequence:

    hard -> suppress now; soft -> suppress after SOFT_LIMIT within SOFT_WINDOW;
    complaint -> unsubscribe from everything and suppress; policy (5.7.x) -> recorded
    for the operator only, because the refusal is about us, not the address.

    Idempotent: the same event processed twice (a mailbox read again) counts once, and a
    message counts as at most one soft bounce however many delay notices it produced.
    """
    hashed = email_hash(secret_key, email)
    when = occurred_at or now
    if subscriber_id is None:
        subscriber_id = session.scalar(
            sa.select(Subscriber.id).where(Subscriber.email == email.strip().lower())
        )
    same = sa.select(BounceEvent.id).where(
        BounceEvent.email_hash == hashed, BounceEvent.kind == kind
    )
    if outbox_message_id is not None and kind == BounceKind.SOFT:
        same = same.where(BounceEvent.outbox_message_id == outbox_message_id)
    else:
        same = same.where(
            BounceEvent.status_code == status[:20],
            BounceEvent.outbox_message_id.is_(None)
            if outbox_message_id is None
            else BounceEvent.outbox_message_id == outbox_message_id,
        )
        if occurred_at is not None:
            # Without a date (some bounces carry none) the same status for the same
            # address and message counts once.
            same = same.where(BounceEvent.occurred_at == when)
    if session.scalar(same.limit(1)) is not None:
        return Outcome(kind, recorded=False, suppressed=False)
    session.add(
        BounceEvent(
            email_hash=hashed,
            subscriber_id=subscriber_id,
            outbox_message_id=outbox_message_id,
            kind=kind,
            status_code=status[:20],
            diagnostic=diagnostic[:2000],
            occurred_at=when,
        )
    )
    session.flush()
    suppressed = False
    if kind == BounceKind.HARD:
        suppressions.suppress(
            session, secret_key, email, SuppressionReason.HARD_BOUNCE, now, f"{status} {diagnostic}"
        )
        suppressed = True
    elif kind == BounceKind.SOFT:
        recent = session.scalar(
            sa.select(sa.func.count())
            .select_from(BounceEvent)
            .where(
                BounceEvent.email_hash == hashed,
                BounceEvent.kind == BounceKind.SOFT,
                BounceEvent.occurred_at > when - SOFT_WINDOW,
                BounceEvent.occurred_at <= when,
            )
        )
        if (recent or 0) >= SOFT_LIMIT:
            suppressions.suppress(
                session,
                secret_key,
                email,
                SuppressionReason.SOFT_BOUNCE,
                now,
                f"{SOFT_LIMIT} soft bounces within {SOFT_WINDOW.days} days; last: {status}",
            )
            suppressed = True
    elif kind == BounceKind.COMPLAINT:
        if subscriber_id is not None:
            subscriptions.unsubscribe_all(
                session,
                subscriber_id=subscriber_id,
                now=now,
                origin=subscriptions.Origin(source="spam complaint (ARF report)", ip=None),
                secret_key=secret_key,
            )
            watches.unsubscribe_all(session, subscriber_id, now)
        suppressions.suppress(
            session, secret_key, email, SuppressionReason.COMPLAINT, now, diagnostic
        )
        suppressed = True
    return Outcome(kind, recorded=True, suppressed=suppressed)
