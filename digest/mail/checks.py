"""The checks made on a message just before it is sent: people unsubscribe, bounce and
erase after a message was queued, and another worker may have tripped the breaker."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.addresses import email_hash
from digest.mail import pauses
from digest.mail.compose import CURRENT, Current, current_parameters
from digest.mail.outbox import LIST_PURPOSES, MessagePurpose
from digest.models import (
    BLOCKING_SUPPRESSIONS,
    OutboxMessage,
    Subscription,
    SubscriptionStatus,
    Suppression,
    Watch,
)

# Built once: this runs for every message, and building the statement costs more than
# running it.
_SEND_TIME_CHECK = sa.select(
    sa.exists().where(
        Suppression.email_hash == sa.bindparam("email_hash"),
        # The hash erasure leaves blocks nothing by itself: an erased address that
        # subscribes and confirms anew is mailed again, as the privacy notice promises.
        # Equalities rather than IN: an IN list is expanded anew at every execution.
        sa.or_(*(Suppression.reason == reason for reason in sorted(BLOCKING_SUPPRESSIONS))),
    ),
    sa.select(Subscription.status)
    .where(Subscription.id == sa.bindparam("subscription_id"))
    .scalar_subquery(),
    sa.select(Watch.status).where(Watch.id == sa.bindparam("watch_id")).scalar_subquery(),
    *pauses.BREAKER_STATE,
    # What composing the message reads afresh, in the same round trip.
    *CURRENT,
)


@dataclass(frozen=True)
class SendTimeCheck:
    """What the send-time checks found: a reason not to send (or None), and the circuit
    breaker's shared state as of this moment."""

    reason: str | None
    stopped_until: datetime | None = None
    failures_in_a_row: int = 0
    # For composing the message (digest.mail.compose).
    current: Current | None = None


def send_time_check(session: Session, row: OutboxMessage, secret_key: str) -> SendTimeCheck:
    """Checked at send time because people unsubscribe, bounce and erase after a message
    was queued, and because another worker may have tripped the breaker; the same query
    reads what composing the message needs afresh (one query)."""
    values = (
        session.connection()
        .execute(
            _SEND_TIME_CHECK,
            {
                **current_parameters(row),
                "email_hash": email_hash(secret_key, row.recipient),
                "watch_id": row.watch_id or 0,
            },
        )
        .one()
    )
    suppressed, status, watch_status, stopped_until, failures = values[:5]
    reason = None
    if suppressed:
        reason = "address is suppressed"
    elif row.purpose in LIST_PURPOSES and status != SubscriptionStatus.ACTIVE:
        reason = "subscription is no longer active"
    elif row.purpose == MessagePurpose.WATCH_ALERT and watch_status != SubscriptionStatus.ACTIVE:
        reason = "topic watch is no longer active"
    elif row.purpose == MessagePurpose.CONFIRM_WATCH and watch_status != SubscriptionStatus.PENDING:
        reason = "topic watch was confirmed or stopped since"
    if stopped_until is not None and stopped_until.tzinfo is None:
        stopped_until = stopped_until.replace(tzinfo=UTC)  # SQLite keeps no zone
    return SendTimeCheck(reason, stopped_until, int(failures or 0), Current.of(row, values[5:]))
