"""Deliver what is due in the outbox: claim, re-check, compose, send, record.

Sending happens outside any database transaction, so a slow relay never holds a lock.
A message is marked sent only after the server accepted it; if the process dies in
between, the lease runs out and the message is sent again with the same Message-ID.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy.orm import Session, sessionmaker

from digest import suppressions
from digest.config import Config
from digest.mail import outbox
from digest.mail.backends import DeliveryError, MailBackend
from digest.mail.compose import Composer
from digest.mail.outbox import LIST_PURPOSES
from digest.models import OutboxMessage, OutboxStatus, Subscription, SubscriptionStatus


@dataclass
class DeliveryReport:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    suppressed: int = 0
    errors: list[str] = field(default_factory=list)

    def add(self, other: DeliveryReport) -> None:
        self.sent += other.sent
        self.retried += other.retried
        self.failed += other.failed
        self.suppressed += other.suppressed
        self.errors.extend(other.errors)

    @property
    def handled(self) -> int:
        return self.sent + self.retried + self.failed + self.suppressed

    def summary(self) -> str:
        return (
            f"{self.sent} sent, {self.retried} to retry, {self.failed} failed, "
            f"{self.suppressed} suppressed"
        )


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def why_not_send(session: Session, row: OutboxMessage, secret_key: str) -> str | None:
    """A reason this message must not go out now, or None. Checked at send time because
    people unsubscribe, bounce and erase after a message was queued."""
    if suppressions.is_suppressed(session, secret_key, row.recipient):
        return "address is suppressed"
    if row.purpose in LIST_PURPOSES:
        subscription = (
            session.get(Subscription, row.subscription_id) if row.subscription_id else None
        )
        if subscription is None or subscription.status != SubscriptionStatus.ACTIVE:
            return "subscription is no longer active"
    return None


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
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.composer = composer
        self.backend = backend
        self.worker = worker or default_worker_id()
        self.clock = clock
        # Checked between messages: a worker asked to stop finishes the message in hand
        # and hands the rest of its batch back.
        self.should_stop: Callable[[], bool] = lambda: False

    def run_once(self, limit: int | None = None) -> DeliveryReport:
        """Deliver one batch of due messages."""
        report = DeliveryReport()
        batch = min(limit, self.config.mail.batch_size) if limit else self.config.mail.batch_size
        with self.sessions.begin() as session:
            ids = outbox.claim(
                session,
                now=self.clock(),
                worker=self.worker,
                limit=batch,
                lease=timedelta(seconds=self.config.mail.lease_seconds),
            )
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
        now = self.clock()
        with self.sessions.begin() as session:
            row = session.get(OutboxMessage, message_id)
            if row is None or row.status != OutboxStatus.SENDING or row.worker != self.worker:
                return
            reason = why_not_send(session, row, self.config.site.secret_key)
            if reason:
                outbox.mark_suppressed(session, message_id, now, reason)
                report.suppressed += 1
                return
            if row.attempts > self.config.mail.max_attempts:
                outbox.mark_failed(
                    session,
                    message_id,
                    now,
                    f"gave up after {row.attempts - 1} attempts: {row.last_error}",
                )
                report.failed += 1
                return
            composed = self.composer.compose(session, row, now)
            attempts = row.attempts
        raw = composed.as_bytes()
        try:
            self.backend.send(composed.sender, composed.recipient, raw)
        except DeliveryError as exc:
            with self.sessions.begin() as session:
                if exc.temporary and attempts < self.config.mail.max_attempts:
                    outbox.mark_retry(
                        session, message_id, self.clock(), str(exc), outbox.backoff(attempts)
                    )
                    report.retried += 1
                else:
                    outbox.mark_failed(session, message_id, self.clock(), str(exc))
                    report.failed += 1
            report.errors.append(f"{composed.recipient}: {exc}")
            return
        with self.sessions.begin() as session:
            outbox.mark_sent(session, message_id, self.clock())
        report.sent += 1
