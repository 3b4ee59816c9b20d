"""What a bounce or complaint does to an address, whichever way it reached us (an SMTP
refusal during delivery, a DSN, an ARF report). Never commits.

* hard: suppress now.
* soft: suppress once `soft_bounce_limit` deliveries in a row have failed, with no
  delivery between them, over any time span: a subscriber gets one digest a week, so a
  window of days would never fill. A delivery that did not fail resets the count.
* about_us: recorded, never suppresses; a burst of them within an hour stops all sending
  (the circuit breaker), because carrying on would only deepen a block on us.
* complaint: unsubscribe from everything and suppress.
* not_bounce: recorded for the operator; it proves the mailbox took the message.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import subscriptions, suppressions, watches
from digest.addresses import email_hash
from digest.config import MailConfig
from digest.db import fit
from digest.mail import pauses
from digest.models import (
    BounceEvent,
    BounceKind,
    OutboxMessage,
    OutboxStatus,
    Subscriber,
    SuppressionReason,
)

SOFT_LIMIT = 3
ABOUT_US_WINDOW = timedelta(hours=1)
_FAILED = (BounceKind.SOFT, BounceKind.HARD)


@dataclass(frozen=True)
class Rules:
    """The configured limits: `[mail] soft_bounce_limit`, and the circuit breaker's
    threshold and pause for bursts of refusals about us."""

    soft_limit: int = SOFT_LIMIT
    about_us_burst: int = 25
    pause_seconds: int = 1800

    @classmethod
    def of(cls, mail: MailConfig) -> Rules:
        return cls(mail.soft_bounce_limit, mail.breaker_failures, mail.breaker_pause_seconds)


DEFAULT_RULES = Rules()


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
    reason: str = "",
    occurred_at: datetime | None = None,
    outbox_message_id: int | None = None,
    subscriber_id: int | None = None,
    rules: Rules = DEFAULT_RULES,
) -> Outcome:
    """Record one event of class `kind` and apply its consequence (module docstring).

    Idempotent: the same event processed twice (a mailbox read again) counts once, and a
    message counts as at most one soft bounce however many delay notices it produced.
    """
    email = email.strip().lower()
    hashed = email_hash(secret_key, email)
    when = occurred_at or now
    if subscriber_id is None:
        subscriber_id = session.scalar(sa.select(Subscriber.id).where(Subscriber.email == email))
    same = sa.select(BounceEvent.id).where(
        BounceEvent.email_hash == hashed, BounceEvent.kind == kind
    )
    if outbox_message_id is not None and kind == BounceKind.SOFT:
        same = same.where(BounceEvent.outbox_message_id == outbox_message_id)
    else:
        same = same.where(
            BounceEvent.status_code == fit(BounceEvent.status_code, status),
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
            status_code=fit(BounceEvent.status_code, status),
            diagnostic=fit(BounceEvent.diagnostic, diagnostic),
            reason=fit(BounceEvent.reason, reason),
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
        in_a_row = failed_in_a_row(session, hashed, email, outbox_message_id)
        if in_a_row >= rules.soft_limit:
            suppressions.suppress(
                session,
                secret_key,
                email,
                SuppressionReason.SOFT_BOUNCE,
                now,
                f"{in_a_row} deliveries in a row failed with no delivery between them; "
                f"last: {status} {diagnostic}".strip(),
            )
            suppressed = True
    elif kind == BounceKind.ABOUT_US:
        _stop_sending_on_a_burst(session, now, rules)
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


def failed_in_a_row(
    session: Session, hashed: str, email: str, outbox_message_id: int | None
) -> int:
    """How many deliveries to the address failed in a row, in the run that holds this
    message (in the order they were sent), with no delivery that worked between them.

    A message whose bounce has not come back yet counts as delivered, so the count is
    taken again when each bounce arrives; bounces arriving out of order still join up.
    Messages refused for reasons about us tell nothing about the address and are skipped.
    """
    kinds: dict[int | None, set[BounceKind]] = {}
    unattached = 0
    for message_id, kind in session.execute(
        sa.select(BounceEvent.outbox_message_id, BounceEvent.kind).where(
            BounceEvent.email_hash == hashed
        )
    ):
        kinds.setdefault(message_id, set()).add(kind)
        if message_id is None and kind in _FAILED:
            unattached += 1
    order = sa.func.coalesce(OutboxMessage.sent_at, OutboxMessage.last_attempt_at)
    messages = session.execute(
        sa.select(OutboxMessage.id, OutboxMessage.status)
        .where(OutboxMessage.recipient == email)
        .where(OutboxMessage.status.in_((OutboxStatus.SENT, OutboxStatus.FAILED)))
        .order_by(order, OutboxMessage.id)
    ).all()
    outcomes: list[tuple[int, bool]] = []  # (message id, failed)
    for message_id, status in messages:
        seen = kinds.get(message_id, set())
        if seen & set(_FAILED):
            outcomes.append((message_id, True))
        elif status == OutboxStatus.SENT and not seen - {BounceKind.NOT_BOUNCE}:
            outcomes.append((message_id, False))
        # else: failed for a reason about us, or without a word about the address.
    if outbox_message_id is None:
        # A bounce we could not tie to a message: the run that ends with the last send.
        return _trailing(failed for _, failed in outcomes) + unattached
    index = next((i for i, (mid, _) in enumerate(outcomes) if mid == outbox_message_id), None)
    if index is None:
        return 1 + unattached
    before = _trailing(failed for _, failed in outcomes[:index])
    after = _trailing(failed for _, failed in reversed(outcomes[index + 1 :]))
    return before + 1 + after


def _trailing(flags: Iterable[bool]) -> int:
    run = 0
    for failed in flags:
        run = run + 1 if failed else 0
    return run


def _stop_sending_on_a_burst(session: Session, now: datetime, rules: Rules) -> None:
    """Trip the circuit breaker when receivers keep refusing us for reasons about us (a
    blocklist, failing authentication): the same alarm as sends failing in a row."""
    if not rules.about_us_burst:
        return
    recent = session.scalar(
        sa.select(sa.func.count())
        .select_from(BounceEvent)
        .where(
            BounceEvent.kind == BounceKind.ABOUT_US, BounceEvent.occurred_at > now - ABOUT_US_WINDOW
        )
    )
    if (recent or 0) < rules.about_us_burst or pauses.stopped_until(session, now) is not None:
        return
    last = session.scalar(
        sa.select(BounceEvent)
        .where(BounceEvent.kind == BounceKind.ABOUT_US)
        .order_by(BounceEvent.occurred_at.desc(), BounceEvent.id.desc())
        .limit(1)
    )
    detail = f"{last.reason}: {last.status_code} {last.diagnostic}" if last else ""
    pauses.pause(
        session,
        pauses.EVERYTHING,
        now + timedelta(seconds=rules.pause_seconds),
        f"{recent} refusals about us (our IP, domain, authentication or content) within "
        f"an hour; the last: {detail}",
    )
