"""What a failed send does, as one worker records it: the message is retried or fails;
the installation's run of failed sends is counted (tripping the circuit breaker after
`breaker_failures`); a reply asking us to back off pauses the domain group; and a final
refusal of the recipient is handed to the Refusals hook (digest.mail.hooks)."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from digest.config import Config
from digest.mail import outbox, pauses
from digest.mail.hooks import Refusals
from digest.mail.replies import DeliveryError, find_status, pauses_domain
from digest.mail.report import Outcome

log = logging.getLogger("digest.delivery")


class FailedSends:
    def __init__(self, config: Config, refusals: Refusals | None) -> None:
        self.config = config
        # Told about each final refusal of a recipient (a bounce at SMTP time).
        self.refusals = refusals
        # The installation's run of failed sends as last seen (shared by all workers in
        # the database), so a success resets it only when there is something to reset.
        self.in_a_row = 0
        # Addresses suppressed by a refusal during this batch, for messages to them
        # that were already prepared.
        self.refused: set[str] = set()

    def went_through(self, session: Session) -> None:
        """Sends went through: the shared run of failures ends."""
        if self.in_a_row:
            pauses.reset_failures(session)
            self.in_a_row = 0

    def count(
        self, session: Session, now: datetime, exc: DeliveryError, paused: dict[str, datetime]
    ) -> None:
        """Trip the breaker when too many sends in a row failed: a relay refusing
        everything would otherwise fail the whole queue, one message at a time."""
        threshold = self.config.mail.breaker_failures
        if not threshold:
            return
        failures = pauses.count_failure(session)
        self.in_a_row = failures
        if failures < threshold:
            return
        until = now + timedelta(seconds=self.config.mail.breaker_pause_seconds)
        reason = f"{failures} sends in a row failed; the last: {exc}"
        pauses.pause(session, pauses.EVERYTHING, until, reason)
        pauses.reset_failures(session)
        paused[pauses.EVERYTHING] = until
        self.in_a_row = 0
        log.error("all sending stopped until %s: %s", until, reason)

    def record(
        self,
        session: Session,
        now: datetime,
        exc: DeliveryError,
        *,
        message_id: int,
        recipient: str,
        attempts: int,
        group: str,
        paused: dict[str, datetime],
    ) -> Outcome:
        """Record a failed send of a claimed message (in a transaction that has recorded
        the sends accepted before it, so the shared run of failures was reset first)."""
        mail = self.config.mail
        status = exc.enhanced or find_status(str(exc))
        self.count(session, now, exc, paused)
        delay = outbox.backoff(attempts)
        if exc.about_recipient and pauses_domain(exc.code, status):
            until = now + timedelta(seconds=mail.domain_pause_seconds)
            pauses.pause(session, group, until, str(exc))
            paused[group] = until
            delay = max(delay, until - now)
            log.warning("pausing mail to %s until %s: %s", group, until, exc)
        if exc.temporary and attempts < mail.max_attempts:
            outbox.mark_retry(session, message_id, now, str(exc), delay)
            return Outcome.RETRIED
        outbox.mark_failed(session, message_id, now, str(exc))
        if (
            exc.about_recipient
            and self.refusals is not None
            and self.refusals(
                session,
                recipient=recipient,
                error=exc,
                status=status,
                attempts=attempts,
                message_id=message_id,
                now=now,
            )
        ):
            self.refused.add(recipient)
        return Outcome.FAILED
