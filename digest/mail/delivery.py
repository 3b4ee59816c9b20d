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
   milliseconds later, through one hand-off whose invariant keeps it from being lost
   or handed back (`AcceptedSends`, digest.mail.accepted).
 * While waiting for the relay's verdict on a message the worker renews the lease
   (every quarter of it), so a slow relay never lets another worker take the message
   over; if renewing fails, the send is abandoned before the lease can lapse.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from digest.config import Config
from digest.db import fit
from digest.mail import claims, outbox, pauses
from digest.mail.accepted import AcceptedSends
from digest.mail.backends import MailBackend, SplitSending
from digest.mail.checks import send_time_check
from digest.mail.claims import Leases
from digest.mail.compose import Composed, Composer
from digest.mail.failures import FailedSends
from digest.mail.hooks import Intake, NotNeeded, Refusals
from digest.mail.replies import DeliveryError
from digest.mail.report import DeliveryReport, Outcome
from digest.mail.throttle import Throttle, domain_group
from digest.models import OutboxMessage

log = logging.getLogger("digest.delivery")


def _describe(exc: Exception) -> str:
    return fit(OutboxMessage.last_error, f"{type(exc).__name__}: {exc}")


def default_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _signals_to_the_main_thread() -> None:
    """Run in the signing thread: SIGTERM and SIGINT go to the main thread, which then
    wakes at once from what it waits on, as it did when it was the only thread."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})


# Waits for a rate-limit slot up to this long; beyond it the message is put off instead,
# so one slow domain group never holds a worker (and its lease) hostage.
MAX_RATE_WAIT = 1.0


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
        take_in: Intake | None = None,
        refusals: Refusals | None = None,
    ) -> None:
        self.sessions = sessions
        # Run before each claim: sign-ups from the subscribe form become outbox messages.
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
        self._rows: dict[int, OutboxMessage] = {}
        self.failed = FailedSends(config, refusals)
        # Every transaction goes through this hand-off (`self.accepted.recording()`).
        self.accepted = AcceptedSends(sessions, clock, self.failed.went_through)
        self.leases = Leases(self.worker, self.lease, self.accepted, clock)
        # Set when a round stopped half-way (the database went away): the next round
        # first records what was accepted and hands the rest of the batch back, so
        # sending resumes at once instead of after the lease.
        self._interrupted = False
        # Messages failed outside `_record_failure` (composing raised), for the report.
        self._unexpected: list[str] = []
        # Checked between messages: a worker asked to stop finishes the message in hand
        # and hands the rest of its batch back.
        self.should_stop: Callable[[], bool] = lambda: False
        # DKIM's private-key operations, off the delivery thread (see _prepare); a thread
        # for the length of a batch, so an idle worker is a single thread again.
        self._signing: ThreadPoolExecutor | None = None

    def run_once(self, limit: int | None = None) -> DeliveryReport:
        """Take in waiting sign-ups, then deliver one batch of due messages."""
        try:
            return self._run_once(limit)
        except BaseException:
            self._interrupted = True
            raise

    def _run_once(self, limit: int | None) -> DeliveryReport:
        with self.accepted.one_connection():
            return self._run_batch(limit)

    def _run_batch(self, limit: int | None) -> DeliveryReport:
        if self._interrupted or self.accepted:
            # The last round broke off (database gone): settle it before anything else.
            self.release_unsent()
            self._interrupted = False
        self._take_in()
        report = DeliveryReport()
        batch = min(limit, self.config.mail.batch_size) if limit else self.config.mail.batch_size
        with self.accepted.recording() as session:
            now = self.clock()
            # Pauses are shared through the table; while the breaker is open no worker
            # claims anything.
            self._pauses = pauses.active(session, now)
            if pauses.EVERYTHING in self._pauses:
                return report
            ids = claims.claim(session, now=now, worker=self.worker, limit=batch, lease=self.lease)
            if ids:
                # Rates are installation-wide: take an equal share among the workers
                # sending now.
                self.throttle.set_share(claims.active_workers(session))
                self._rows = {
                    row.id: row
                    for row in session.scalars(
                        sa.select(OutboxMessage).where(OutboxMessage.id.in_(ids))
                    )
                }
                self.leases.took(ids, now)
        if ids:
            # Only a relay's exchange leaves time to sign in; a Maildir signs inline.
            if isinstance(self.backend, SplitSending):
                self._signing = ThreadPoolExecutor(
                    max_workers=1,
                    thread_name_prefix="dkim",
                    initializer=_signals_to_the_main_thread,
                )
            try:
                self._send_batch(ids, report)
            finally:
                if self._signing is not None:
                    self._signing.shutdown()  # waits for a signature nobody will use
                    self._signing = None
                self.accepted.record()
                self.failed.refused = set()
                report.errors.extend(self._unexpected)
                self._unexpected = []
        if self.should_stop():
            self.release_unsent()
        self._rows = {}
        self.leases.clear()
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
            broken: Exception | None = None
            if more:
                # While the relay digests the message just sent.
                try:
                    upcoming = self._prepare(ids[position + 1])
                except Exception as exc:
                    # Still collect the verdict on the message in flight (and keep it if
                    # accepted) before giving up on the batch.
                    broken = exc
            if isinstance(current, _Ready):
                if in_flight:
                    self._finish(current, report, split)
            elif current is not None:
                report.count(current)
            if broken is not None:
                raise broken
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
        """Give back messages this worker claimed but has not sent; those the relay
        accepted are recorded as sent in the same transaction, never given back."""
        with self.accepted.recording() as session:
            return claims.release(session, worker=self.worker, now=self.clock())

    def _prepare(self, message_id: int) -> _Ready | Outcome | None:
        """Lease, send-time checks and composition. Returns the message to send, or what
        became of it instead, or None when the message is no longer ours."""
        try:
            return self._prepare_in_transaction(message_id)
        except sa.exc.SQLAlchemyError:
            raise  # the database, not this message: nothing to blame the message for
        except Exception as exc:
            # Composing this one message failed (a bug, or data no relay could take): it
            # fails alone, with the reason, and the batch carries on.
            log.exception("message %s could not be prepared", message_id)
            return self._fail_alone(message_id, exc)

    def _fail_alone(self, message_id: int, exc: Exception) -> Outcome:
        """Record an unexpected error as this message's failure; counts for the breaker,
        so a bug that fails every message stops sending after `breaker_failures`."""
        row = self._rows[message_id]
        error = _describe(exc)
        with self.accepted.recording() as session:
            now = self.clock()
            outbox.mark_failed(session, message_id, now, error)
            self.failed.count(session, now, DeliveryError(error, temporary=False), self._pauses)
        self._unexpected.append(f"{row.recipient}: {error}")
        return Outcome.FAILED

    def _prepare_in_transaction(self, message_id: int) -> _Ready | Outcome | None:
        """One short transaction (which also records the sends accepted since the last
        one)."""
        mail = self.config.mail
        row = self._rows[message_id]
        with self.accepted.recording() as session:
            now = self.clock()
            if not self.leases.keep(session, message_id, now):
                return None  # our lease ran out; the message is someone else's now
            check = send_time_check(session, row, self.config.site.secret_key)
            # Another worker may have tripped the breaker, or be failing too.
            self.failed.in_a_row = check.failures_in_a_row
            if check.stopped_until is not None:
                self._pauses[pauses.EVERYTHING] = check.stopped_until
            else:
                self._pauses.pop(pauses.EVERYTHING, None)
            reason = check.reason
            if reason:
                outbox.mark_suppressed(session, message_id, now, reason)
                return Outcome.SUPPRESSED
            if row.attempts > mail.max_attempts:
                outbox.mark_failed(
                    session,
                    message_id,
                    now,
                    f"gave up after {row.attempts - 1} attempts: {row.last_error}",
                )
                return Outcome.FAILED
            try:
                composed = self.composer.compose(session, row, now, check.current)
            except NotNeeded as exc:
                outbox.mark_suppressed(session, message_id, now, f"not needed: {exc}")
                return Outcome.SUPPRESSED
        # Serialised and signed outside the transaction: it is the slowest step. With a
        # relay, the private-key operation runs on the signing thread (it releases the
        # GIL) while this one sends the message before and opens this one's exchange.
        if self._signing is not None:
            composed.sign_in(self._signing)
        else:
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
        if ready.recipient in self.failed.refused:
            with self.accepted.recording() as session:
                outbox.mark_suppressed(session, ready.message_id, now, "address is suppressed")
            report.count(Outcome.SUPPRESSED)
            return False
        stopped_until = self._pauses.get(pauses.EVERYTHING)
        if stopped_until is not None and stopped_until > now:
            self._defer(ready, stopped_until, pauses.HELD_BY_BREAKER, held_by_breaker=True)
            report.count(Outcome.DEFERRED)
            return False
        paused_until = self._pauses.get(ready.group)
        if paused_until is not None and paused_until > now:
            self._defer(ready, paused_until, f"domain group {ready.group} paused")
            report.count(Outcome.DEFERRED)
            return False
        wait = self.throttle.reserve(ready.group, MAX_RATE_WAIT)
        if wait > MAX_RATE_WAIT:
            self._defer(ready, now + timedelta(seconds=wait), f"rate limit for {ready.group}")
            report.count(Outcome.DEFERRED)
            return False
        if wait > 0:
            self.sleep(wait)
        # Normally renewed moments ago by `_prepare`, but the verdict on the message
        # before may have taken minutes.
        if not self.leases.kept_before_send(ready.message_id):
            return False
        composed = ready.composed
        try:
            if split:
                cast(SplitSending, self.backend).begin(
                    composed.sender, ready.recipient, composed.as_bytes
                )
            else:
                self.backend.send(composed.sender, ready.recipient, composed.as_bytes())
        except DeliveryError as exc:
            self._record_failure(ready, exc, report)
            return False
        except Exception as exc:
            self._unexpected_send_error(ready, exc, report)
            return False
        return True

    def _finish(self, ready: _Ready, report: DeliveryReport, split: bool) -> None:
        if split:
            try:
                cast(SplitSending, self.backend).finish(
                    lambda: self.leases.keep_all(ready.message_id),
                    self.lease.total_seconds() / 4,
                )
            except DeliveryError as exc:
                if exc.abandoned:
                    # Not ours any more, or the database is away: record nothing.
                    report.errors.append(f"{ready.recipient}: {exc}")
                    self._interrupted = True
                    return
                self._record_failure(ready, exc, report)
                return
            except Exception as exc:
                self._unexpected_send_error(ready, exc, report)
                return
        self.accepted.add(ready.message_id)
        report.count(Outcome.SENT)

    def _unexpected_send_error(self, ready: _Ready, exc: Exception, report: DeliveryReport) -> None:
        """The backend raised something other than DeliveryError (e.g. smtplib unable to
        encode an address): the message fails with the error and the connection, whose
        state is unknown, is closed; the next message opens a fresh one."""
        log.exception("sending message %s failed unexpectedly", ready.message_id)
        with contextlib.suppress(Exception):
            self.backend.close()
        self._record_failure(ready, DeliveryError(_describe(exc), temporary=False), report)

    def _defer(
        self, ready: _Ready, until: datetime, reason: str, *, held_by_breaker: bool = False
    ) -> None:
        with self.accepted.recording() as session:
            outbox.defer(session, ready.message_id, until, reason, held_by_breaker=held_by_breaker)

    def _record_failure(self, ready: _Ready, exc: DeliveryError, report: DeliveryReport) -> None:
        report.errors.append(f"{ready.recipient}: {exc}")
        with self.accepted.recording() as session:
            outcome = self.failed.record(
                session,
                self.clock(),
                exc,
                message_id=ready.message_id,
                recipient=ready.recipient,
                attempts=ready.attempts,
                group=ready.group,
                paused=self._pauses,
            )
        report.count(outcome)
