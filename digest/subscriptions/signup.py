"""Sign-up: plan what a subscribe request means, then apply it; from the subscribe form
the same two halves run in two stages, `accept` in the request and `take_in` moments later.

The public response to a sign-up never depends on the address's state; what differs is
only which email (if any) is queued, and that email goes to the address itself.

The form is the busiest write in the service. Accepting a sign-up is one INSERT of what
the person sent; deciding what it means (new, pending, already active, suppressed,
capped for the day) and writing the subscription, the consent record and the email is
done moments later by `take_in`, which the delivery loop runs before each claim (it is
handed to the delivery engine as its intake hook). The person's answer never depended
on that decision, so nothing they see changes, and the write lock is held for one row
instead of five statements.

Nothing is lost on a crash: the row is committed before the form answers, and it is
deleted in the same transaction that acts on it. A row that fails is kept with its error
and retried; after MAX_ATTEMPTS it waits for an operator, and the weekly purge of
unconfirmed sign-ups (`rights.purge_unconfirmed`) forgets it.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import suppressions
from digest.addresses import email_hash, normalise_email
from digest.config import Config
from digest.db import UTCDateTime, fit, rows_affected
from digest.mail.outbox import MessagePurpose
from digest.mail.queue import MailQueue
from digest.models import (
    ConsentEventKind,
    Council,
    OutboxMessage,
    SignupIntake,
    Subscriber,
    Subscription,
    SubscriptionKind,
    SubscriptionStatus,
    Suppression,
    SuppressionReason,
)
from digest.subscriptions import records
from digest.subscriptions.records import Origin


class SubscribeAction(enum.Enum):
    NOTHING = "nothing"  # suppressed after a bounce or complaint, or capped for the day
    CONFIRM = "confirm"  # new, pending or unsubscribed: (re)start and send a confirmation
    ALREADY = "already"  # active: tell the address it is already subscribed


@dataclass(frozen=True)
class SubscribePlan:
    address: str
    council_id: int
    council_slug: str
    kind: SubscriptionKind
    action: SubscribeAction


def plan_subscribe(
    session: Session,
    config: Config,
    *,
    council: Council,
    email: str,
    now: datetime,
    kind: SubscriptionKind = SubscriptionKind.RESIDENT,
) -> SubscribePlan:
    """Decide what a subscribe request does, by reading only (one query).

    Raises InvalidEmail for text that is not an address.
    """
    address = normalise_email(email)

    def plan(action: SubscribeAction) -> SubscribePlan:
        return SubscribePlan(address, council.id, council.slug, kind, action)

    # One query for the three facts the decision needs.
    # Through the session's connection: plain Core execution skips the ORM's machinery,
    # which costs more than these small statements on the busiest form.
    suppressed, sent_today, status = (
        session.connection()
        .execute(
            _PLAN_FACTS,
            {
                "email_hash": email_hash(config.site.secret_key, address),
                "email": address,
                "council_id": council.id,
                "purposes": [
                    MessagePurpose.CONFIRM_SUBSCRIPTION.value,
                    MessagePurpose.ALREADY_SUBSCRIBED.value,
                ],
                "since": now - timedelta(days=1),
            },
        )
        .one()
    )
    if suppressed is not None and SuppressionReason(suppressed) not in (
        suppressions.CLEARED_BY_CONFIRMATION
    ):
        return plan(SubscribeAction.NOTHING)
    if (sent_today or 0) >= config.mail.confirmations_per_day:
        # Someone is using our form to flood this inbox; stay silent until tomorrow.
        return plan(SubscribeAction.NOTHING)
    return plan(
        SubscribeAction.ALREADY
        if status == SubscriptionStatus.ACTIVE.value
        else SubscribeAction.CONFIRM
    )


_PLAN_FACTS = sa.select(
    sa.select(Suppression.reason)
    .where(Suppression.email_hash == sa.bindparam("email_hash"))
    .scalar_subquery(),
    sa.select(sa.func.count())
    .select_from(OutboxMessage)
    .where(
        OutboxMessage.recipient == sa.bindparam("email"),
        OutboxMessage.purpose.in_(sa.bindparam("purposes", expanding=True)),
        OutboxMessage.created_at >= sa.bindparam("since", type_=UTCDateTime()),
    )
    .scalar_subquery(),
    sa.select(sa.cast(Subscription.status, sa.String))
    .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
    .where(
        Subscriber.email == sa.bindparam("email"),
        Subscription.council_id == sa.bindparam("council_id"),
    )
    .scalar_subquery(),
)


def apply_subscribe(
    session: Session, mail: MailQueue, plan: SubscribePlan, *, now: datetime, origin: Origin
) -> None:
    """Write what the plan decided, in a few statements that settle races themselves: if
    the subscription became active since the plan was made, the address is told it is
    already subscribed instead of being asked to confirm again."""
    if plan.action is SubscribeAction.NOTHING:
        return
    subscriber_id = records.ensure_subscriber(session, plan.address, now)
    reference_stamp = f"{now.timestamp():.6f}"
    subscription_id: int | None = None
    purpose = MessagePurpose.ALREADY_SUBSCRIBED
    if plan.action is SubscribeAction.CONFIRM:
        subscription_id = records.request(
            session,
            subscriber_id=subscriber_id,
            council_id=plan.council_id,
            kind=plan.kind,
            now=now,
        )
        if subscription_id is not None:
            purpose = MessagePurpose.CONFIRM_SUBSCRIPTION
            records.record_consent(
                session,
                mail.config.site.secret_key,
                subscriber_id=subscriber_id,
                subscription_id=subscription_id,
                council_slug=plan.council_slug,
                event=ConsentEventKind.REQUESTED,
                now=now,
                origin=origin,
            )
    if subscription_id is None:
        subscription_id = records.subscription_id(session, subscriber_id, plan.council_id)
        assert subscription_id is not None
    mail.queue_for_send_time(
        session,
        purpose=purpose,
        reference=f"subscription:{subscription_id}:{reference_stamp}",
        recipient=plan.address,
        now=now,
        subscriber_id=subscriber_id,
        subscription_id=subscription_id,
        council_id=plan.council_id,
    )


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
    """Start (or restart) a subscription and queue the right email for the address, in
    one session. (Sign-ups from the web form reach the same two halves through
    `accept` and `take_in`.)

    Raises InvalidEmail for text that is not an address; otherwise behaves the same from
    the outside whatever the address's state.
    """
    plan = plan_subscribe(session, mail.config, council=council, email=email, now=now, kind=kind)
    apply_subscribe(session, mail, plan, now=now, origin=origin)


log = logging.getLogger("digest.intake")

MAX_ATTEMPTS = 5
BATCH = 100


@dataclass
class IntakeReport:
    taken: int = 0
    failed: int = 0

    @property
    def handled(self) -> int:
        return self.taken + self.failed


_ACCEPT = sa.insert(SignupIntake).values(
    council_id=sa.bindparam("council_id"),
    email=sa.bindparam("email"),
    kind=sa.bindparam("kind"),
    source=sa.bindparam("source"),
    ip=sa.bindparam("ip"),
    received_at=sa.bindparam("received_at", type_=UTCDateTime()),
    attempts=0,
    last_error="",
)


def accept(
    session: Session,
    *,
    council_id: int,
    address: str,
    now: datetime,
    origin: Origin,
    kind: SubscriptionKind = SubscriptionKind.RESIDENT,
) -> None:
    """Record a sign-up for `address` (already normalised) to be acted on shortly."""
    session.connection().execute(
        _ACCEPT,
        {
            "council_id": council_id,
            "email": address,
            "kind": kind.value,
            "source": fit(SignupIntake.source, origin.source),
            "ip": fit(SignupIntake.ip, origin.ip or "") or None,
            "received_at": now,
        },
    )


def take_in(
    session: Session, mail: MailQueue, *, now: datetime, limit: int = BATCH
) -> IntakeReport:
    """Act on up to `limit` waiting sign-ups, oldest first, each as of when it was sent.

    Each runs in a savepoint, so one that fails is rolled back alone and recorded on its
    row. Concurrent callers on PostgreSQL take different rows (SKIP LOCKED); on SQLite
    the caller's write transaction already serialises them.
    """
    report = IntakeReport()
    rows = list(
        session.scalars(
            sa.select(SignupIntake)
            .where(SignupIntake.attempts < MAX_ATTEMPTS)
            .order_by(SignupIntake.id)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
    )
    if not rows:
        return report
    councils = {
        council.id: council
        for council in session.scalars(
            sa.select(Council).where(Council.id.in_({row.council_id for row in rows}))
        )
    }
    for row in rows:
        try:
            with session.begin_nested():
                plan = plan_subscribe(
                    session,
                    mail.config,
                    council=councils[row.council_id],
                    email=row.email,
                    now=row.received_at,
                    kind=row.kind,
                )
                apply_subscribe(
                    session, mail, plan, now=row.received_at, origin=Origin(row.source, row.ip)
                )
        except Exception as exc:  # one bad sign-up must not hold up the ones behind it
            row.attempts += 1
            row.last_error = fit(SignupIntake.last_error, f"{type(exc).__name__}: {exc}")
            log.exception(
                "sign-up %s failed (attempt %s of %s)", row.id, row.attempts, MAX_ATTEMPTS
            )
            report.failed += 1
            continue
        session.delete(row)
        report.taken += 1
    session.flush()
    return report


def waiting(session: Session) -> tuple[int, int]:
    """(sign-ups waiting to be acted on, sign-ups that gave up after MAX_ATTEMPTS)."""
    stuck = SignupIntake.attempts >= MAX_ATTEMPTS
    counts = session.execute(
        sa.select(
            sa.func.count().filter(sa.not_(stuck)),
            sa.func.count().filter(stuck),
        ).select_from(SignupIntake)
    ).one()
    return int(counts[0]), int(counts[1])


def stuck(session: Session, limit: int = 20) -> list[tuple[SignupIntake, str]]:
    """Sign-ups that gave up, newest first, with their council's slug: for the admin."""
    rows = session.execute(
        sa.select(SignupIntake, Council.slug)
        .join(Council, Council.id == SignupIntake.council_id)
        .where(SignupIntake.attempts >= MAX_ATTEMPTS)
        .order_by(SignupIntake.id.desc())
        .limit(limit)
    )
    return [(row, slug) for row, slug in rows]


def retry_stuck(session: Session) -> int:
    """Give every sign-up that gave up a fresh set of attempts (after a fix)."""
    result = session.execute(
        sa.update(SignupIntake)
        .where(SignupIntake.attempts >= MAX_ATTEMPTS)
        .values(attempts=0, last_error="")
    )
    return rows_affected(result)
