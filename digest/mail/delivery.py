"""Deliver what is due in the outbox: claim, re-check, compose, send, record.

Sending happens outside any database transaction, so a slow relay never holds a lock.

Guarantee: no message is lost, and a message goes out twice only if its worker dies
between the server's 250 and recording it; the copy carries the same Message-ID.
 * A claim is a lease. A worker that dies leaves its messages `sending`; once the lease
   runs out any worker claims them again (PostgreSQL: FOR UPDATE SKIP LOCKED, so live
   workers never claim the same row).
 * The lease is renewed, conditionally, right before each send: a worker whose lease
   has already run out does not send, so two live workers never send one message.
 * The result is recorded in its own short transaction straight after the reply.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from digest.addresses import email_hash
from digest.bounces import classify, record
from digest.config import Config
from digest.mail import outbox, pauses
from digest.mail.backends import DeliveryError, MailBackend
from digest.mail.compose import Composed, Composer
from digest.mail.outbox import LIST_PURPOSES
from digest.mail.throttle import Throttle, domain_group
from digest.models import (
    BounceKind,
    OutboxMessage,
    Subscription,
    SubscriptionStatus,
    Suppression,
)

log = logging.getLogger("digest.delivery")

# Waits for a rate-limit slot up to this long; beyond it the message is put off instead,
# so one slow domain group never holds a worker (and its lease) hostage.
MAX_RATE_WAIT = 1.0


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    deferred: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.suppressed += other.suppressed
        self.deferred += other.deferred
        self.errors.extend(other.errors)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.suppressed + self.deferred

    def summary(self) -> str:
        text = (
            f"{self.sent} sent, {self.retried} to retry, {self.failed} failed, "
            f"{self.suppressed} suppressed"
        )
        if self.deferred:
            text += f", {self.deferred} held back by rate limits or domain pauses"
        return text


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def why_not_send(session: Session, row: OutboxMessage, secret_key: str) -> str | None:
    """A reason this message must not go out now, or None. Checked at send time because
    people unsubscribe, bounce and erase after a message was queued (one query)."""
    suppressed = sa.exists().where(Suppression.email_hash == email_hash(secret_key, row.recipient))
    is_list_mail = row.purpose in LIST_PURPOSES
    status = (
        sa.select(Subscription.status)
        .where(Subscription.id == (row.subscription_id or 0))
        .scalar_subquery()
    )
    found = session.execute(sa.select(suppressed, status)).one()
    if found[0]:
        return "address is suppressed"
    if is_list_mail and found[1] != SubscriptionStatus.ACTIVE:
        return "subscription is no longer active"
    return None


@dataclass(frozen=True)
class _Ready:
    """A message composed and cleared to send."""

    message_id: int
    attempts: int
    group: str
    composed: Composed
    wait: float

    @property
    def recipient(self) -> str:
        return self.composed.recipient


class Deliverer:
    def __init__(
        self,
        sessions: sessionmaker[Session],
        config: Config,
        composer: Composer,
        backend: MailBackend,
        *,
        worker: str | None = None,
        clock: Callable[[], datetime],
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.composer = composer
        self.backend = backend
        self.worker = worker or default_worker_id()
        self.clock = clock
        self.sleep = sleep
        mail = config.mail
        self.throttle = Throttle(mail.rate_per_second, dict(mail.domain_rates), monotonic)
        self.lease = timedelta(seconds=mail.lease_seconds)
        self._pauses: dict[str, datetime] = {}
        # Checked between messages: a worker asked to stop finishes the message in hand
        # and hands the rest of its batch back.
        self.should_stop: Callable[[], bool] = lambda: False

    def run_once(self, limit: int | None = None) -> DeliveryReport:
        """Deliver one batch of due messages."""
        report = DeliveryReport()
        batch = min(limit, self.config.mail.batch_size) if limit else self.config.mail.batch_size
        with self.sessions.begin() as session:
            now = self.clock()
            ids = outbox.claim(session, now=now, worker=self.worker, limit=batch, lease=self.lease)
            if ids:
                # Rates are installation-wide: take an equal share among the workers
                # sending now. Pauses are shared through the table.
                self.throttle.set_share(outbox.active_workers(session))
                self._pauses = pauses.active(session, now)
        for message_id in ids:
            if self.should_stop():
                break
            self._deliver(message_id, report)
        if self.should_stop():
            self.release_unsent()
        return report

    def run_until_empty(self, limit: int | None = None) -> DeliveryReport:
        total = DeliveryReport()
        while (limit is None or total.handled < limit) and not self.should_stop():
            report = self.run_once(None if limit is None else limit - total.handled)
            if report.handled == 0:
                break
            total.add(report)
        return total

    def release_unsent(self) -> int:
        """Give back messages this worker claimed but has not started sending."""
        with self.sessions.begin() as session:
            return outbox.release(session, worker=self.worker, now=self.clock())

    def _deliver(self, message_id: int, report: DeliveryReport) -> None:
        ready = self._prepare(message_id, report)
        if ready is None:
            return
        # Serialised and signed outside the transaction: it is the slowest step.
        raw = ready.composed.as_bytes()
        if ready.wait > 0:
            self.sleep(ready.wait)
        try:
            self.backend.send(ready.composed.sender, ready.recipient, raw)
        except DeliveryError as exc:
            self._record_failure(ready, exc, report)
            return
        with self.sessions.begin() as session:
            outbox.mark_sent(session, message_id, self.clock())
        report.sent += 1

    def _prepare(self, message_id: int, report: DeliveryReport) -> _Ready | None:
        """Everything before the send, in one short transaction."""
        mail = self.config.mail
        with self.sessions.begin() as session:
            now = self.clock()
            row = outbox.renew(session, message_id, worker=self.worker, now=now, lease=self.lease)
            if row is None:
                return None  # our lease ran out; the message is someone else's now
            reason = why_not_send(session, row, self.config.site.secret_key)
            if reason:
                outbox.mark_suppressed(session, message_id, now, reason)
                report.suppressed += 1
                return None
            if row.attempts > mail.max_attempts:
                outbox.mark_failed(
                    session,
                    message_id,
                    now,
                    f"gave up after {row.attempts - 1} attempts: {row.last_error}",
                )
                report.failed += 1
                return None
            group = domain_group(row.recipient)
            paused_until = self._pauses.get(group)
            if paused_until is not None and paused_until > now:
                outbox.defer(session, message_id, paused_until, f"domain group {group} paused")
                report.deferred += 1
                return None
            wait = self.throttle.reserve(group, MAX_RATE_WAIT)
            if wait > MAX_RATE_WAIT:
                outbox.defer(
                    session, message_id, now + timedelta(seconds=wait), f"rate limit for {group}"
                )
                report.deferred += 1
                return None
            return _Ready(
                message_id=message_id,
                attempts=row.attempts,
                group=group,
                composed=self.composer.compose(session, row, now),
                wait=wait,
            )

    def _record_failure(self, ready: _Ready, exc: DeliveryError, report: DeliveryReport) -> None:
        mail = self.config.mail
        status = exc.enhanced or classify.find_status(str(exc))
        report.errors.append(f"{ready.recipient}: {exc}")
        with self.sessions.begin() as session:
            now = self.clock()
            delay = outbox.backoff(ready.attempts)
            if exc.about_recipient and classify.pauses_domain(exc.code, status):
                until = now + timedelta(seconds=mail.domain_pause_seconds)
                pauses.pause(session, ready.group, until, str(exc))
                self._pauses[ready.group] = until
                delay = max(delay, until - now)
                log.warning("pausing mail to %s until %s: %s", ready.group, until, exc)
            if exc.temporary and ready.attempts < mail.max_attempts:
                outbox.mark_retry(session, ready.message_id, now, str(exc), delay)
                report.retried += 1
                return
            outbox.mark_failed(session, ready.message_id, now, str(exc))
            report.failed += 1
            if not exc.about_recipient:
                return
            kind = BounceKind.SOFT if exc.temporary else classify.classify(status, exc.code)
            detail = str(exc) if not exc.temporary else f"gave up after {ready.attempts}: {exc}"
            record.record(
                session,
                self.config.site.secret_key,
                email=ready.recipient,
                kind=kind,
                now=now,
                status=status or str(exc.code or ""),
                diagnostic=detail,
                outbox_message_id=ready.message_id,
            )
