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
   milliseconds later (that of the next message, or the end of the batch), through one
   hand-off (`Deliverer._recording_accepted`): the worker forgets an accepted send only
   once the transaction recording it has committed, so a database blip between the 250
   and the record delays the record instead of losing it, and handing a stopping or
   interrupted worker's claims back never puts back a message the relay accepted.
 * While waiting for the relay's verdict on a message the worker renews the lease
   (every quarter of it), so a slow relay never lets another worker take the message
   over; if renewing fails, the send is abandoned before the lease can lapse.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import cast

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from digest.addresses import email_hash
from digest.config import Config
from digest.mail import outbox, pauses
from digest.mail.backends import MailBackend, SplitSending
from digest.mail.compose import Composed, Composer
from digest.mail.hooks import Intake, NotNeeded, Refusals
from digest.mail.outbox import LIST_PURPOSES, MessagePurpose
from digest.mail.replies import DeliveryError, find_status, pauses_domain
from digest.mail.throttle import Throttle, domain_group
from digest.models import (
    BLOCKING_SUPPRESSIONS,
    OutboxMessage,
    Subscription,
    SubscriptionStatus,
    Suppression,
    Watch,
)

log = logging.getLogger("digest.delivery")


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:2000]


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
    sa.exists().where(
        Suppression.email_hash == sa.bindparam("email_hash"),
        # The hash erasure leaves blocks nothing by itself: an erased address that
        # subscribes and confirms anew is mailed again, as the privacy notice promises.
        Suppression.reason.in_(BLOCKING_SUPPRESSIONS),
    ),
    sa.select(Subscription.status)
    .where(Subscription.id == sa.bindparam("subscription_id"))
    .scalar_subquery(),
    sa.select(Watch.status).where(Watch.id == sa.bindparam("watch_id")).scalar_subquery(),
    *pauses.BREAKER_STATE,
)


@dataclass(frozen=True)
class SendTimeCheck:
    """What the send-time checks found: a reason not to send (or None), and the circuit
    breaker's shared state as of this moment."""

    reason: str | None
    stopped_until: datetime | None = None
    failures_in_a_row: int = 0


def send_time_check(session: Session, row: OutboxMessage, secret_key: str) -> SendTimeCheck:
    """Checked at send time because people unsubscribe, bounce and erase after a message
    was queued, and because another worker may have tripped the breaker (one query)."""
    suppressed, status, watch_status, stopped_until, failures = (
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
    return SendTimeCheck(reason, stopped_until, int(failures or 0))


def why_not_send(session: Session, row: OutboxMessage, secret_key: str) -> str | None:
    """A reason this message must not go out now, or None (see `send_time_check`)."""
    return send_time_check(session, row, secret_key).reason


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
        # Told about each final refusal of a recipient (a bounce at SMTP time).
        self.refusals = refusals
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
        # which a crash means a second copy (with the same Message-ID). Entries leave
        # this list only after the transaction recording them committed
        # (`_recording_accepted`).
        self._accepted: list[int] = []
        # Set when a round stopped half-way (the database went away): the next round
        # first records what was accepted and hands the rest of the batch back, so
        # sending resumes at once instead of after the lease.
        self._interrupted = False
        # Addresses suppressed by a refusal during this batch, for messages to them
        # that were already prepared.
        self._refused: set[str] = set()
        # The installation's run of failed sends as last seen (shared by all workers in
        # the database), so a success resets it only when there is something to reset.
        self._shared_failures = 0
        # Messages failed outside `_record_failure` (composing raised), for the report.
        self._unexpected: list[str] = []
        # Checked between messages: a worker asked to stop finishes the message in hand
        # and hands the rest of its batch back.
        self.should_stop: Callable[[], bool] = lambda: False

    @contextlib.contextmanager
    def _recording_accepted(self) -> Iterator[Session]:
        """A transaction that first records the sends the relay accepted (after DATA
        250) and not yet recorded. They are forgotten only once it committed: if it
        fails they stay for the next transaction, and nothing in it can release them."""
        accepted = list(self._accepted)
        with self.sessions.begin() as session:
            if accepted:
                outbox.mark_all_sent(session, accepted, self.clock())
                if self._shared_failures:
                    # Sends go through again: the shared run of failures ends.
                    pauses.reset_failures(session)
                    self._shared_failures = 0
            yield session
        del self._accepted[: len(accepted)]

    def run_once(self, limit: int | None = None) -> DeliveryReport:
        """Take in waiting sign-ups, then deliver one batch of due messages."""
        try:
            return self._run_once(limit)
        except BaseException:
            self._interrupted = True
            raise

    def _run_once(self, limit: int | None) -> DeliveryReport:
        if self._interrupted or self._accepted:
            # The last round broke off (database gone): settle it before anything else.
            self.release_unsent()
            self._interrupted = False
        self._take_in()
        report = DeliveryReport()
        batch = min(limit, self.config.mail.batch_size) if limit else self.config.mail.batch_size
        with self._recording_accepted() as session:
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
                report.errors.extend(self._unexpected)
                self._unexpected = []
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
                setattr(report, current, getattr(report, current) + 1)
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
        with self._recording_accepted() as session:
            return outbox.release(session, worker=self.worker, now=self.clock())

    def _prepare(self, message_id: int) -> _Ready | str | None:
        """Lease, send-time checks and composition. Returns the message to send, or the
        report counter to add one to, or None when the message is no longer ours."""
        try:
            return self._prepare_in_transaction(message_id)
        except sa.exc.SQLAlchemyError:
            raise  # the database, not this message: nothing to blame the message for
        except Exception as exc:
            # Composing this one message failed (a bug, or data no relay could take): it
            # fails alone, with the reason, and the batch carries on.
            log.exception("message %s could not be prepared", message_id)
            return self._fail_alone(message_id, exc)

    def _fail_alone(self, message_id: int, exc: Exception) -> str:
        """Record an unexpected error as this message's failure; counts for the breaker,
        so a bug that fails every message stops sending after `breaker_failures`."""
        row = self._rows[message_id]
        error = _describe(exc)
        with self._recording_accepted() as session:
            now = self.clock()
            outbox.mark_failed(session, message_id, now, error)
            self._count_failure(session, now, DeliveryError(error, temporary=False))
        self._unexpected.append(f"{row.recipient}: {error}")
        return "failed"

    def _prepare_in_transaction(self, message_id: int) -> _Ready | str | None:
        """One short transaction (which also records the sends accepted since the last
        one)."""
        mail = self.config.mail
        row = self._rows[message_id]
        with self._recording_accepted() as session:
            now = self.clock()
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
            check = send_time_check(session, row, self.config.site.secret_key)
            # Another worker may have tripped the breaker, or be failing too.
            self._shared_failures = check.failures_in_a_row
            if check.stopped_until is not None:
                self._pauses[pauses.EVERYTHING] = check.stopped_until
            else:
                self._pauses.pop(pauses.EVERYTHING, None)
            reason = check.reason
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
            with self._recording_accepted() as session:
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
        # Normally renewed moments ago by `_prepare`, but the verdict on the message
        # before may have taken minutes.
        if not self._lease_kept(ready.message_id):
            return False
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
        except Exception as exc:
            self._unexpected_send_error(ready, exc, report)
            return False
        return True

    def _finish(self, ready: _Ready, report: DeliveryReport, split: bool) -> None:
        if split:
            try:
                cast(SplitSending, self.backend).finish(
                    lambda: self._keep_leases(ready.message_id),
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
        self._accepted.append(ready.message_id)
        report.sent += 1

    def _unexpected_send_error(self, ready: _Ready, exc: Exception, report: DeliveryReport) -> None:
        """The backend raised something other than DeliveryError (e.g. smtplib unable to
        encode an address): the message fails with the error and the connection, whose
        state is unknown, is closed; the next message opens a fresh one."""
        log.exception("sending message %s failed unexpectedly", ready.message_id)
        with contextlib.suppress(Exception):
            self.backend.close()
        self._record_failure(ready, DeliveryError(_describe(exc), temporary=False), report)

    def _keep_leases(self, message_id: int) -> None:
        """While the relay takes its time over a message: renew this worker's leases, so
        no other worker takes the message (or the rest of the batch) over. Raises if the
        message is no longer ours, which abandons the wait."""
        with self._recording_accepted() as session:
            now = self.clock()
            kept = outbox.renew_all(session, worker=self.worker, now=now, lease=self.lease)
        for kept_id in kept:
            self._leases[kept_id] = now + self.lease
        if message_id not in kept:
            raise RuntimeError("the lease on this message ran out")

    def _lease_kept(self, message_id: int) -> bool:
        """Make sure most of the lease remains before a send (renewing it when needed);
        False when it ran out and the message may be someone else's."""
        now = self.clock()
        if self._leases[message_id] - now >= self.lease * 0.75:
            return True
        with self._recording_accepted() as session:
            if (
                outbox.renew(session, message_id, worker=self.worker, now=now, lease=self.lease)
                is None
            ):
                return False
        self._leases[message_id] = now + self.lease
        return True

    def _record_accepted(self) -> None:
        if self._accepted:
            with self._recording_accepted():
                pass

    def _defer(self, ready: _Ready, until: datetime, reason: str) -> None:
        with self._recording_accepted() as session:
            outbox.defer(session, ready.message_id, until, reason)

    def _count_failure(self, session: Session, now: datetime, exc: DeliveryError) -> None:
        """Trip the breaker when too many sends in a row failed: a relay refusing
        everything would otherwise fail the whole queue, one message at a time."""
        threshold = self.config.mail.breaker_failures
        if not threshold:
            return
        failures = pauses.count_failure(session)
        self._shared_failures = failures
        if failures < threshold:
            return
        until = now + timedelta(seconds=self.config.mail.breaker_pause_seconds)
        reason = f"{failures} sends in a row failed; the last: {exc}"
        pauses.pause(session, pauses.EVERYTHING, until, reason)
        pauses.reset_failures(session)
        self._pauses[pauses.EVERYTHING] = until
        self._shared_failures = 0
        log.error("all sending stopped until %s: %s", until, reason)

    def _record_failure(self, ready: _Ready, exc: DeliveryError, report: DeliveryReport) -> None:
        mail = self.config.mail
        status = exc.enhanced or find_status(str(exc))
        report.errors.append(f"{ready.recipient}: {exc}")
        # Recording the sends accepted before it first, so the shared run of failures
        # is reset before this one is counted.
        with self._recording_accepted() as session:
            now = self.clock()
            self._count_failure(session, now, exc)
            delay = outbox.backoff(ready.attempts)
            if exc.about_recipient and pauses_domain(exc.code, status):
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
            if self.refusals is not None and self.refusals(
                session,
                recipient=ready.recipient,
                error=exc,
                status=status,
                attempts=ready.attempts,
                message_id=ready.message_id,
                now=now,
            ):
                self._refused.add(ready.recipient)


# Database errors that mean "not reachable right now" rather than a bug: a restart,
# a failover, a cut connection, SQLite's lock timeout.
DATABASE_GONE = (sa.exc.OperationalError, sa.exc.InterfaceError)


class Outages:
    """Backoff and logging for a loop that must outlive faults: each outage is logged
    once when it starts and once when it ends, and the pause between tries grows from
    `first` to `longest` seconds, so a database that comes back is used again within
    `longest` seconds."""

    def __init__(
        self,
        what: str,
        *,
        first: float = 0.5,
        longest: float = 5.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.what = what
        self.first = first
        self.longest = longest
        self.monotonic = monotonic
        self.started: float | None = None
        self.pause = first

    def failed(self, exc: BaseException) -> float:
        """Note a failed round; how long to wait before the next."""
        if self.started is None:
            self.started = self.monotonic()
            self.pause = self.first
            if isinstance(exc, DATABASE_GONE):
                log.error(
                    "%s: the database is unavailable (%s); retrying", self.what, _first_line(exc)
                )
            else:
                log.exception("%s failed; retrying", self.what)
            return self.pause
        self.pause = min(self.longest, self.pause * 2)
        return self.pause

    def succeeded(self) -> None:
        if self.started is not None:
            log.warning(
                "%s: working again after %.1f s", self.what, self.monotonic() - self.started
            )
            self.started = None


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def work_until_stopped(
    deliverer: Deliverer,
    *,
    stopped: Callable[[], bool],
    wait: Callable[[float], object],
    idle: float,
    beat: Callable[[], None],
    also: Callable[[], bool] | None = None,
) -> DeliveryReport:
    """The worker loop: deliver, beat, rest when idle; survive database outages (and any
    other failed round) by waiting with backoff and carrying on. On the way out, hand
    back the unsent claims (trying for a few seconds if the database is away). `also`
    is other work done each round (reading queued PDFs); True when it found some, so
    the worker does not rest."""
    total = DeliveryReport()
    outages = Outages(f"delivery worker {deliverer.worker}")
    while not stopped():
        try:
            report = deliverer.run_once()
            total.add(report)
            if report.handled:
                log.info("batch: %s", report.summary())
            busy = also() if also is not None else False
            beat()
        except Exception as exc:
            wait(outages.failed(exc))
            continue
        outages.succeeded()
        if report.handled == 0 and not busy:
            wait(idle)
    for pause in (0.0, 0.5, 1.0, 2.0, 4.0):
        time.sleep(pause)  # not `wait`: once stopped, it would return at once
        try:
            deliverer.release_unsent()
            break
        except Exception as exc:
            outages.failed(exc)
    return total
