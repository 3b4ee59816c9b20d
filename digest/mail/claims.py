"""Claims on outbox messages: a worker takes due messages under a lease, renews it while
it works on them, and hands back what it did not send. Functions here never commit.
`Leases` is one worker's view of the leases it holds."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.db import is_postgres, rows_affected
from digest.mail.accepted import AcceptedSends
from digest.models import OutboxMessage, OutboxStatus


def due(now: datetime) -> sa.ColumnElement[bool]:
    """The one definition of a message that is due: pending and its time has come, or
    left `sending` by a worker whose lease ran out. Exactly what `claim` may take."""
    return sa.or_(
        sa.and_(OutboxMessage.status == OutboxStatus.PENDING, OutboxMessage.next_attempt_at <= now),
        # A worker that died mid-send leaves its rows 'sending'; once the lease runs out
        # they are due again.
        sa.and_(OutboxMessage.status == OutboxStatus.SENDING, OutboxMessage.lease_until < now),
    )


def count_due(session: Session, now: datetime) -> tuple[int, datetime | None]:
    """How many messages are due now (what workers may claim), and the oldest one's
    time (None when none is due)."""
    count, oldest = session.execute(
        sa.select(sa.func.count(), sa.func.min(OutboxMessage.next_attempt_at)).where(due(now))
    ).one()
    return int(count or 0), oldest


def claim(
    session: Session, *, now: datetime, worker: str, limit: int, lease: timedelta
) -> list[int]:
    """Take up to `limit` due messages for `worker` until now + lease.

    On PostgreSQL, FOR UPDATE SKIP LOCKED lets any number of workers claim at once without
    overlap. SQLite has no row locks, but our sessions begin IMMEDIATE, which serialises
    claims between processes.
    """
    stmt = (
        sa.select(OutboxMessage.id)
        .where(due(now))
        .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
        .limit(limit)
    )
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True)
    ids = list(session.scalars(stmt))
    if ids:
        session.execute(
            sa.update(OutboxMessage)
            .where(OutboxMessage.id.in_(ids))
            .values(
                status=OutboxStatus.SENDING,
                worker=worker,
                lease_until=now + lease,
                attempts=OutboxMessage.attempts + 1,
                last_attempt_at=now,
                held_by_breaker=False,
            )
            .execution_options(synchronize_session=False)
        )
    return ids


def renew(
    session: Session, message_id: int, *, worker: str, now: datetime, lease: timedelta
) -> OutboxMessage | None:
    """Extend `worker`'s lease on a message just before sending it, and return the row;
    None if the lease already ran out (another worker may have taken the message over),
    in which case the caller must not send.

    Renewing per message means a message is never sent after its lease could have let
    someone else claim it, however long the rest of the batch took.
    """
    stmt = (
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.id == message_id,
            OutboxMessage.worker == worker,
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.lease_until > now,
        )
        .values(lease_until=now + lease)
        .returning(OutboxMessage)
        .execution_options(synchronize_session=False)
    )
    return session.scalars(stmt).one_or_none()


def renew_all(session: Session, *, worker: str, now: datetime, lease: timedelta) -> set[int]:
    """Extend every lease `worker` still holds (while it waits on a slow relay); the ids
    still its own. A message missing from the answer may be someone else's now."""
    stmt = (
        sa.update(OutboxMessage)
        .where(
            OutboxMessage.worker == worker,
            OutboxMessage.status == OutboxStatus.SENDING,
            OutboxMessage.lease_until > now,
        )
        .values(lease_until=now + lease)
        .returning(OutboxMessage.id)
        .execution_options(synchronize_session=False)
    )
    return set(session.scalars(stmt))


def active_workers(session: Session) -> int:
    """How many workers hold claimed messages right now (the caller's claim included).
    Workers divide the configured sending rates by this."""
    return int(
        session.scalar(
            sa.select(sa.func.count(sa.distinct(OutboxMessage.worker))).where(
                OutboxMessage.status == OutboxStatus.SENDING
            )
        )
        or 0
    )


def release(session: Session, *, worker: str, now: datetime) -> int:
    """Hand a stopping worker's unsent claims back to the queue, as if never claimed."""
    result = session.execute(
        sa.update(OutboxMessage)
        .where(OutboxMessage.worker == worker, OutboxMessage.status == OutboxStatus.SENDING)
        .values(
            status=OutboxStatus.PENDING,
            lease_until=None,
            next_attempt_at=now,
            attempts=OutboxMessage.attempts - 1,
        )
        .execution_options(synchronize_session=False)
    )
    return rows_affected(result)


class Leases:
    """The leases this worker holds, as far as it knows. Renewed while a quarter of the
    lease is used: a message is then never sent with less than three quarters of the
    lease (3 x smtp_timeout) left, so no other worker can take it over mid-send."""

    def __init__(
        self,
        worker: str,
        lease: timedelta,
        accepted: AcceptedSends,
        clock: Callable[[], datetime],
    ) -> None:
        self.worker = worker
        self.lease = lease
        self.accepted = accepted
        self.clock = clock
        self._until: dict[int, datetime] = {}

    def took(self, ids: list[int], now: datetime) -> None:
        self._until = dict.fromkeys(ids, now + self.lease)

    def clear(self) -> None:
        self._until = {}

    def keep(self, session: Session, message_id: int, now: datetime) -> bool:
        """Renew the lease on a message if needed, in the caller's transaction; False
        when it ran out (the message may be someone else's now)."""
        if self._until[message_id] - now >= self.lease * 0.75:
            return True
        if renew(session, message_id, worker=self.worker, now=now, lease=self.lease) is None:
            return False
        self._until[message_id] = now + self.lease
        return True

    def kept_before_send(self, message_id: int) -> bool:
        """Make sure most of the lease remains before a send (renewing it when needed);
        False when it ran out and the message may be someone else's."""
        now = self.clock()
        if self._until[message_id] - now >= self.lease * 0.75:
            return True
        with self.accepted.recording() as session:
            if renew(session, message_id, worker=self.worker, now=now, lease=self.lease) is None:
                return False
        self._until[message_id] = now + self.lease
        return True

    def keep_all(self, message_id: int) -> None:
        """While the relay takes its time over a message: renew this worker's leases, so
        no other worker takes the message (or the rest of the batch) over. Raises if the
        message is no longer ours, which abandons the wait."""
        with self.accepted.recording() as session:
            now = self.clock()
            kept = renew_all(session, worker=self.worker, now=now, lease=self.lease)
        for kept_id in kept:
            self._until[kept_id] = now + self.lease
        if message_id not in kept:
            raise RuntimeError("the lease on this message ran out")
