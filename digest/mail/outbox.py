"""The outbox: every email is a row written in the same transaction as the change that
caused it, so a crash can neither lose a message nor send one for a change that rolled back.

Rows are unique per (purpose, reference, recipient), which makes enqueueing idempotent.
Functions here never commit; the caller owns the transaction.
"""

from __future__ import annotations

import enum
import hashlib
import random
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.db import (
    UTCDateTime,
    count_by,
    dialect_of,
    fit,
    insert_many_ignoring,
    rows_affected,
    upsert_insert,
)
from digest.models import OutboxMessage, OutboxStatus


class MessagePurpose(enum.StrEnum):
    CONFIRM_SUBSCRIPTION = "confirm_subscription"
    ALREADY_SUBSCRIBED = "already_subscribed"
    WELCOME = "welcome"
    WEEKLY_DIGEST = "weekly_digest"
    COUNCIL_LIVE = "council_live"
    CONFIRM_REQUEST = "confirm_request"
    REQUEST_RECEIVED = "request_received"
    REQUEST_DECIDED = "request_decided"
    ADMIN_NOTICE = "admin_notice"
    CONFIRM_WATCH = "confirm_watch"
    WATCH_ALERT = "watch_alert"
    MANAGE_LINK = "manage_link"


# Mail that belongs to a subscription: carries List-* headers and one-click unsubscribe,
# and is dropped at send time if the subscription is no longer active.
LIST_PURPOSES = frozenset(
    {MessagePurpose.WELCOME, MessagePurpose.WEEKLY_DIGEST, MessagePurpose.COUNCIL_LIVE}
)

# Mail queued without a body and written when it is sent, by the renderer the delivery
# engine is handed (digest.mail.hooks.SendTimeRenderer).
RENDERED_AT_SEND_TIME = frozenset(
    {
        MessagePurpose.CONFIRM_SUBSCRIPTION,
        MessagePurpose.ALREADY_SUBSCRIBED,
        MessagePurpose.WELCOME,
        MessagePurpose.WATCH_ALERT,
        MessagePurpose.MANAGE_LINK,
    }
)

_UNIQUE = ("purpose", "reference", "recipient")


def make_message_id(purpose: str, reference: str, recipient: str, domain: str) -> str:
    """The same Message-ID every time this message is (re)sent, so a duplicate after a
    crash is recognisable; unique across messages because the triple is (104 bits).

    Short enough that `Message-ID: <…>` fits one 78-character line for domains of up to
    37 characters: some software mishandles a folded Message-ID.
    """
    digest = hashlib.sha256(f"{purpose}\0{reference}\0{recipient}".encode()).hexdigest()[:26]
    return f"<{digest}@{domain}>"


def enqueue(
    session: Session,
    *,
    purpose: MessagePurpose,
    reference: str,
    recipient: str,
    now: datetime,
    domain: str,
    subject: str = "",
    body_text: str | None = None,
    body_html: str | None = None,
    subscriber_id: int | None = None,
    subscription_id: int | None = None,
    council_id: int | None = None,
    digest_id: int | None = None,
    watch_id: int | None = None,
) -> int | None:
    """Queue one message; its id, or None when it was already queued.

    One INSERT ... ON CONFLICT DO NOTHING: no check-then-insert race, and nothing more
    inside the caller's write transaction than the row itself. A message without a body
    is one of the emails rendered at send time (RENDERED_AT_SEND_TIME).
    """
    row = _prepared(
        {
            "purpose": purpose,
            "reference": reference,
            "recipient": recipient,
            "subject": subject,
            "body_text": body_text,
            "body_html": body_html,
            "subscriber_id": subscriber_id,
            "subscription_id": subscription_id,
            "council_id": council_id,
            "digest_id": digest_id,
            "watch_id": watch_id,
        },
        now=now,
        domain=domain,
    )
    found = session.connection().execute(_insert_ignoring_duplicates(session), row).first()
    return int(found[0]) if found else None


def _prepared(row: dict[str, Any], *, now: datetime, domain: str) -> dict[str, Any]:
    purpose = str(row["purpose"])
    return {
        "subject": "",
        "body_text": None,
        "body_html": None,
        "subscriber_id": None,
        "subscription_id": None,
        "council_id": None,
        "digest_id": None,
        "watch_id": None,
        "payload": None,
        **row,
        "purpose": purpose,
        "message_id": make_message_id(purpose, row["reference"], row["recipient"], domain),
        "status": OutboxStatus.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
    }


def _insert_ignoring_duplicates(session: Session) -> Any:
    table = cast(sa.Table, OutboxMessage.__table__)
    return (
        upsert_insert(dialect_of(session), table)
        .on_conflict_do_nothing(index_elements=list(_UNIQUE))
        .returning(table.c.id)
    )


def enqueue_many(
    session: Session, rows: Iterable[dict[str, Any]], *, now: datetime, domain: str
) -> int:
    """Bulk-queue messages, skipping any already queued; returns how many were added.

    Each row needs purpose, reference and recipient, and may carry the other columns.
    """
    prepared = [_prepared(row, now=now, domain=domain) for row in rows]
    table = cast(sa.Table, OutboxMessage.__table__)
    return insert_many_ignoring(session, table, prepared, _UNIQUE)


def defer(
    session: Session,
    message_id: int,
    until: datetime,
    reason: str,
    *,
    held_by_breaker: bool = False,
) -> None:
    """Put a claimed message back until `until` without counting an attempt: it was held
    back by our own rate limits, a domain pause or the circuit breaker (marked, so that
    resuming can release it), not refused."""
    _finish(
        session,
        message_id,
        status=OutboxStatus.PENDING,
        lease_until=None,
        next_attempt_at=until,
        attempts=OutboxMessage.attempts - 1,
        last_error=fit(OutboxMessage.last_error, reason),
        held_by_breaker=held_by_breaker,
    )


def release_held_by_breaker(session: Session, now: datetime) -> int:
    """Make the messages the circuit breaker held back due now (it was closed early)."""
    result = session.execute(
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.held_by_breaker.is_(True),
            OutboxMessage.status == OutboxStatus.PENDING,
            OutboxMessage.next_attempt_at > now,
        )
        .values(next_attempt_at=now, held_by_breaker=False)
        .execution_options(synchronize_session=False)
    )
    return rows_affected(result)


def _finish(session: Session, message_id: int, **values: Any) -> None:
    session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.id == message_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )


def mark_sent(session: Session, message_id: int, now: datetime) -> None:
    mark_all_sent(session, [message_id], now)


_TABLE = cast(sa.Table, OutboxMessage.__table__)
_SENT = {"status": OutboxStatus.SENT.value, "lease_until": None, "last_error": None}
# Built once: recording a send runs for every message.
_MARK_ONE_SENT = (
    _TABLE.update()
    .where(_TABLE.c.id == sa.bindparam("row_id"))
    .values(**_SENT, sent_at=sa.bindparam("sent_now", type_=_TABLE.c.sent_at.type))
)


def mark_all_sent(session: Session, message_ids: Sequence[int], now: datetime) -> None:
    if len(message_ids) == 1:
        session.connection().execute(_MARK_ONE_SENT, {"row_id": message_ids[0], "sent_now": now})
        return
    session.connection().execute(
        _TABLE.update().where(_TABLE.c.id.in_(message_ids)).values(**_SENT, sent_at=now)
    )


def mark_failed(session: Session, message_id: int, now: datetime, error: str) -> None:
    _finish(
        session,
        message_id,
        status=OutboxStatus.FAILED,
        lease_until=None,
        last_error=fit(OutboxMessage.last_error, error),
    )


def mark_suppressed(session: Session, message_id: int, now: datetime, reason: str) -> None:
    _finish(
        session,
        message_id,
        status=OutboxStatus.SUPPRESSED,
        lease_until=None,
        last_error=fit(OutboxMessage.last_error, reason),
    )


def mark_retry(
    session: Session, message_id: int, now: datetime, error: str, delay: timedelta
) -> None:
    _finish(
        session,
        message_id,
        status=OutboxStatus.PENDING,
        lease_until=None,
        next_attempt_at=now + delay,
        last_error=fit(OutboxMessage.last_error, error),
    )


def _failed_since(since: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        OutboxMessage.status == OutboxStatus.FAILED, OutboxMessage.last_attempt_at >= since
    )


def failed_since(session: Session, since: datetime, limit: int = 20) -> list[tuple[str, int]]:
    """Why messages failed since `since`: each reason with how many failed for it, the
    commonest first (what an admin reads before requeueing them)."""
    reason = sa.func.coalesce(OutboxMessage.last_error, "")
    rows = session.execute(
        sa.select(reason, sa.func.count())
        .where(_failed_since(since))
        .group_by(reason)
        .order_by(sa.func.count().desc(), reason)
        .limit(limit)
    ).all()
    return [(str(text), int(n)) for text, n in rows]


def requeue_failed(session: Session, *, since: datetime, now: datetime) -> int:
    """Give messages that failed since `since` a fresh set of attempts, due now (the
    cause was fixed: a relay refusing us, a wrong password). The reason stays on the row
    until the next attempt. Suppressed addresses are still checked at send time."""
    result = session.execute(
        sa.update(OutboxMessage)
        .where(_failed_since(since))
        .values(status=OutboxStatus.PENDING, attempts=0, next_attempt_at=now, lease_until=None)
        .execution_options(synchronize_session=False)
    )
    return rows_affected(result)


def backoff(attempts: int, *, base: float = 300.0, cap: float = 6 * 3600.0) -> timedelta:
    """Exponential backoff with +/-20% jitter, so a throttled batch does not return as one:
    about 5, 10, 20, 40, 80, 160 minutes, then 6 hours (RFC 5321 asks for no hammering;
    a weekly digest is stale after a day or two, so the default 8 attempts span ~10 h)."""
    seconds = min(cap, base * (2 ** max(0, attempts - 1)))
    return timedelta(seconds=seconds * random.uniform(0.8, 1.2))


def depth_by_status(session: Session) -> dict[OutboxStatus, int]:
    return count_by(session, OutboxMessage.status, OutboxStatus)


def recent_for(
    session: Session, recipient: str, purposes: Sequence[MessagePurpose], since: datetime
) -> int:
    """How many messages of these purposes were queued for the address since `since`."""
    found = session.scalar(
        _RECENT_FOR,
        {"recipient": recipient, "purposes": [p.value for p in purposes], "since": since},
    )
    return int(found or 0)


# Built once: the subscribe form asks this on every post.
_RECENT_FOR = (
    sa.select(sa.func.count())
    .select_from(OutboxMessage)
    .where(
        OutboxMessage.recipient == sa.bindparam("recipient"),
        OutboxMessage.purpose.in_(sa.bindparam("purposes", expanding=True)),
        OutboxMessage.created_at >= sa.bindparam("since", type_=UTCDateTime()),
    )
)
