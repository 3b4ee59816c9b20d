"""Sign-ups from the subscribe form: accepted in the request, acted on by the delivery loop.

The form is the busiest write in the service. Accepting a sign-up is one INSERT of what
the person sent; deciding what it means (new, pending, already active, suppressed,
capped for the day) and writing the subscription, the consent record and the email is
done moments later by `take_in`, which the delivery loop runs before each claim. The
person's answer never depended on that decision, so nothing they see changes, and the
write lock is held for one row instead of five statements.

Nothing is lost on a crash: the row is committed before the form answers, and it is
deleted in the same transaction that acts on it. A row that fails is kept with its error
and retried; after MAX_ATTEMPTS it waits for an operator, and the weekly purge of
unconfirmed sign-ups (digest.subscriptions.purge_unconfirmed) forgets it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest import subscriptions
from digest.db import UTCDateTime, rows_affected
from digest.mail.queue import MailQueue
from digest.models import Council, SignupIntake, SubscriptionKind
from digest.subscriptions import Origin

log = logging.getLogger(__name__)

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
            "source": origin.source[:300],
            "ip": (origin.ip or "")[:64] or None,
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
                plan = subscriptions.plan_subscribe(
                    session,
                    mail.config,
                    council=councils[row.council_id],
                    email=row.email,
                    now=row.received_at,
                    kind=row.kind,
                )
                subscriptions.apply_subscribe(
                    session, mail, plan, now=row.received_at, origin=Origin(row.source, row.ip)
                )
        except Exception as exc:  # one bad sign-up must not hold up the ones behind it
            row.attempts += 1
            row.last_error = f"{type(exc).__name__}: {exc}"[:500]
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
