"""Deliver what is due in the outbox: claim, re-check, compose, send, record.

Sending happens outside any database transaction, so a slow relay never holds a lock.

Guarantee: no message is lost, and a message goes out twice only if its worker dies
between the server's 250 and recording it; the copy carries the same Message-ID.
 * A claim is a lease. A worker that dies leaves its messages `sending`; once the lease
   runs out any worker claims them again (PostgreSQL: FOR UPDATE SKIP LOCKED, so live
   workers never claim the same row).
 * Before each send the worker makes sure at least three quarters of its lease remain
   (renewing it in the database when needed; a worker whose lease already ran out does
   not send), so two live workers never send one message.
 * The server's acceptance is recorded in the next short transaction, a few
   milliseconds later (that of the next message, or the end of the batch).
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from digest.addresses import email_hash
from digest.bounces import classify, record
from digest.config import Config
from digest.mail import outbox, pauses
from digest.mail.backends import DeliveryError, MailBackend, SplitSending
from digest.mail.compose import Composed, Composer
from digest.mail.outbox import LIST_PURPOSES, MessagePurpose
from digest.mail.throttle import Throttle, domain_group
from digest.mail.transactional import NotNeeded
from digest.models import (
    BounceKind,
    OutboxMessage,
    Subscription,
    SubscriptionStatus,
    Suppression,
    Watch,
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


# Built once: this runs for every message, and building the statement costs more than
# running it.
_SEND_TIME_CHECK = sa.select(
    sa.exists().where(Suppression.email_hash == sa.bindparam("email_hash")),
    sa.select(Subscription.status)
    .where(Subscription.id == sa.bindparam("subscription_id"))
    .scalar_subquery(),
    sa.select(Watch.status).where(Watch.id == sa.bindparam("watch_id")).scalar_subquery(),
)


def why_not_send(session: Session, row: OutboxMessage, secret_key: str) -> str | None:
    """A reason this message must not go out now, or None. Checked at send time because
    people unsubscribe, bounce and erase after a message was queued (one query)."""
    suppressed, status, watch_status = (
        session.connection()
        .execute(
            _SEND_TIME_CHECK,
            {
                "email_hash": email_hash(secret_key, row.recipient),
                "subscription_id": row.subscription_id or 0,
                "watch_id": row.watch_id or 0,
            },
        )
        .one()
    )
    if suppressed:
        return "address is suppressed"
    if row.purpose in LIST_PURPOSES and status != SubscriptionStatus.ACTIVE:
        return "subscription is no longer active"
    if row.purpose == MessagePurpose.WATCH_ALERT and watch_status != SubscriptionStatus.ACTIVE:
        return "topic watch is no longer active"
    if row.purpose == MessagePurpose.CONFIRM_WATCH and watch_status != SubscriptionStatus.PENDING:
        return "topic watch was confirmed or stopped since"
    return None


@dataclass(frozen=True)
class _Ready:
    """A message composed and cleared to send."""

    message_id: int
    attempts: int
    group: str
    composed: Composed

    @property
    def recipient(self) -> str:
        return self.composed.recipient


class Deliverer:
    """Claims batches and sends them one message at a time.

    With an SMTP relay, the next message is prepared (send-time checks, composition,
    recording the previous results) while the relay processes the current one, between
    the end of DATA and its reply. The checks for a message are therefore made while the
    message before it is being accepted, a few milliseconds before its own send; rates
    and domain pauses are applied right before each send.
    """

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
        take_in: Callable[[Session, datetime], bool] | None = None,
    ) -> None:
        self.sessions = sessions
        # Turns work waiting elsewhere (sign-ups from the subscribe form) into outbox
        # messages before each claim, in the given transaction; returns whether more may
        # be waiting.
        self.take_in = take_in
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
        self._leases: dict[int, datetime] = {}
        self._rows: dict[int, OutboxMessage] = {}
        # Messages the server accepted, recorded as sent in the next transaction (that
        # of the next message, or at the end of the batch): one commit per message
        # instead of two. Only the few milliseconds until then widen the window in
        # which a crash means a second copy (with the same Message-ID).
        self._accepted: list[int] = []
        self._recording: list[int] = []
        # Addresses suppressed by a refusal during this batch, for messages to them
        # that were already prepared.
        self._refused: set[str] = set()
        # Sends that failed since the last one that went through, for the breaker.
        self._failures_in_a_row = 0
        # Checked between messages: a worker asked to stop finishes the message in hand
        # and hands the rest of its batch back.
        self.should_stop: Callable[[], bool] = lambda: False

    def run_once(self, limit: int | None = None) -> DeliveryReport:
        """Take in waiting sign-ups, then deliver one batch of due messages."""
        self._take_in()
        report = DeliveryReport()
        batch = min(limit, self.config.mail.batch_size) if limit else self.config.mail.batch_size
        with self.sessions.begin() as session:
            now = self.clock()
            # Pauses are shared through the table; while the breaker is open no worker
            # claims anything.
            self._pauses = pauses.active(session, now)
            if pauses.EVERYTHING in self._pauses:
                return report
            ids = outbox.claim(session, now=now, worker=self.worker, limit=batch, lease=self.lease)
            if ids:
                # Rates are installation-wide: take an equal share among the workers
                # sending now.
                self.throttle.set_share(outbox.active_workers(session))
                self._rows = {
                    row.id: row
                    for row in session.scalars(
                        sa.select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                    )
                }
                self._leases = dict.fromkeys(ids, now + self.lease)
        if ids:
            try:
                self._send_batch(ids, report)
            finally:
                self._record_accepted()
                self._refused = set()
        if self.should_stop():
            self.release_unsent()
        self._rows, self._leases = {}, {}
        return report

    def _send_batch(self, ids: list[int], report: DeliveryReport) -> None:
        split = isinstance(self.backend, SplitSending)
        if self.should_stop():
            return
        upcoming = self._prepare(ids[0])
        for position in range(len(ids)):
            if position and self.should_stop():
                break  # the prepared message goes back with the rest
            current = upcoming
            in_flight = isinstance(current, _Ready) and self._start(current, report, split)
            more = position + 1 < len(ids) and not self.should_stop()
            if more:
                # While the relay digests the message just sent.
                upcoming = self._prepare(ids[position + 1])
            if isinstance(current, _Ready):
                if in_flight:
                    self._finish(current, report, split)
            elif current is not None:
                setattr(report, current, getattr(report, current) + 1)
            if not more:
                break

    def _take_in(self) -> None:
        if self.take_in is None:
            return
        # Short transactions, so web requests waiting on the (SQLite) write lock are
        # held up by one batch at most.
        more = True
        while more:
            with self.sessions.begin() as session:
                more = self.take_in(session, self.clock())

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

    def _prepare(self, message_id: int) -> _Ready | str | None:
        """Lease, send-time checks and composition, in one short transaction. Returns the
        message to send, or the report counter to add one to, or None when the message
        is no longer ours."""
        try:
            return self._prepare_in_transaction(message_id)
        except BaseException:
            # The transaction that was to record earlier sends rolled back: keep them.
            self._accepted[:0] = self._recording
            raise
        finally:
            self._recording = []

    def _prepare_in_transaction(self, message_id: int) -> _Ready | str | None:
        mail = self.config.mail
        row = self._rows[message_id]
        with self.sessions.begin() as session:
            now = self.clock()
            self._recording, self._accepted = self._accepted, []
            if self._recording:
                outbox.mark_all_sent(session, self._recording, now)
            # Renew while a quarter of the lease is used: a message is then never sent
            # with less than three quarters of the lease (3 x smtp_timeout) left, so no
            # other worker can take it over mid-send.
            if self._leases[message_id] - now < self.lease * 0.75:
                if (
                    outbox.renew(session, message_id, worker=self.worker, now=now, lease=self.lease)
                    is None
                ):
                    return None  # our lease ran out; the message is someone else's now
                self._leases[message_id] = now + self.lease
            reason = why_not_send(session, row, self.config.site.secret_key)
            if reason:
                outbox.mark_suppressed(session, message_id, now, reason)
                return "suppressed"
            if row.attempts > mail.max_attempts:
                outbox.mark_failed(
                    session,
                    message_id,
                    now,
                    f"gave up after {row.attempts - 1} attempts: {row.last_error}",
                )
                return "failed"
            try:
                composed = self.composer.compose(session, row, now)
            except NotNeeded as exc:
                outbox.mark_suppressed(session, message_id, now, f"not needed: {exc}")
                return "suppressed"
        # Serialised and signed outside the transaction: it is the slowest step.
        composed.as_bytes()
        return _Ready(
            message_id=message_id,
            attempts=row.attempts,
            group=domain_group(row.recipient),
            composed=composed,
        )

    def _start(self, ready: _Ready, report: DeliveryReport, split: bool) -> bool:
        """Apply rates and pauses, then send (split: up to the end of DATA). True when
        the message is on its way and `_finish` must collect the reply."""
        now = self.clock()
        if ready.recipient in self._refused:
            with self.sessions.begin() as session:
                outbox.mark_suppressed(session, ready.message_id, now, "address is suppressed")
            report.suppressed += 1
            return False
        stopped_until = self._pauses.get(pauses.EVERYTHING)
        if stopped_until is not None and stopped_until > now:
            self._defer(ready, stopped_until, pauses.HELD_BY_BREAKER)
            report.deferred += 1
            return False
        paused_until = self._pauses.get(ready.group)
        if paused_until is not None and paused_until > now:
            self._defer(ready, paused_until, f"domain group {ready.group} paused")
            report.deferred += 1
            return False
        wait = self.throttle.reserve(ready.group, MAX_RATE_WAIT)
        if wait > MAX_RATE_WAIT:
            self._defer(ready, now + timedelta(seconds=wait), f"rate limit for {ready.group}")
            report.deferred += 1
            return False
        if wait > 0:
            self.sleep(wait)
        composed = ready.composed
        try:
            if split:
                cast(SplitSending, self.backend).begin(
                    composed.sender, ready.recipient, composed.as_bytes()
                )
            else:
                self.backend.send(composed.sender, ready.recipient, composed.as_bytes())
        except DeliveryError as exc:
            self._record_failure(ready, exc, report)
            return False
        return True

    def _finish(self, ready: _Ready, report: DeliveryReport, split: bool) -> None:
        if split:
            try:
                cast(SplitSending, self.backend).finish()
            except DeliveryError as exc:
                self._record_failure(ready, exc, report)
                return
        self._accepted.append(ready.message_id)
        self._failures_in_a_row = 0
        report.sent += 1

    def _record_accepted(self) -> None:
        accepted, self._accepted = self._accepted, []
        if accepted:
            with self.sessions.begin() as session:
                outbox.mark_all_sent(session, accepted, self.clock())

    def _defer(self, ready: _Ready, until: datetime, reason: str) -> None:
        with self.sessions.begin() as session:
            outbox.defer(session, ready.message_id, until, reason)

    def _count_failure(self, session: Session, now: datetime, exc: DeliveryError) -> None:
        """Trip the breaker when too many sends in a row failed: a relay refusing
        everything would otherwise fail the whole queue, one message at a time."""
        self._failures_in_a_row += 1
        threshold = self.config.mail.breaker_failures
        if not threshold or self._failures_in_a_row < threshold:
            return
        until = now + timedelta(seconds=self.config.mail.breaker_pause_seconds)
        reason = f"{self._failures_in_a_row} sends in a row failed; the last: {exc}"
        pauses.pause(session, pauses.EVERYTHING, until, reason)
        self._pauses[pauses.EVERYTHING] = until
        self._failures_in_a_row = 0
        log.error("all sending stopped until %s: %s", until, reason)

    def _record_failure(self, ready: _Ready, exc: DeliveryError, report: DeliveryReport) -> None:
        mail = self.config.mail
        status = exc.enhanced or classify.find_status(str(exc))
        report.errors.append(f"{ready.recipient}: {exc}")
        with self.sessions.begin() as session:
            now = self.clock()
            self._count_failure(session, now, exc)
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
            if kind == BounceKind.HARD:
                self._refused.add(ready.recipient)
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
