"""What the delivery engine is handed by whoever starts it (the runtime, the CLI, the
jobs): the engine itself knows nothing above the models, the config and the database.

* a `SendTimeRenderer` writes the emails whose rows carry no body (the subscription
  emails, topic watch alerts): they are rendered when sent, so they reflect the state
  of things then;
* an `Intake` turns work waiting elsewhere (sign-ups from the subscribe form) into
  outbox messages before each claim;
* `Refusals` records what a relay's refusal says about the address (a bounce at SMTP
  time) and answers whether the address may no longer be mailed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from sqlalchemy.orm import Session

from digest.mail.render import RenderedEmail
from digest.mail.replies import DeliveryError
from digest.models import OutboxMessage


class NotNeeded(Exception):
    """The message no longer applies; the reason is recorded instead of sending it."""


class SendTimeRenderer(Protocol):
    def __call__(self, session: Session, row: OutboxMessage, now: datetime) -> RenderedEmail:
        """The email for `row` as of now; raises NotNeeded when it no longer applies."""
        ...


class Intake(Protocol):
    def __call__(self, session: Session, now: datetime) -> bool:
        """Queue what is waiting, in the given transaction; True when more may be waiting."""
        ...


class Refusals(Protocol):
    def __call__(
        self,
        session: Session,
        *,
        recipient: str,
        error: DeliveryError,
        status: str,
        attempts: int,
        message_id: int,
        now: datetime,
    ) -> bool:
        """Record a final refusal of `recipient` by the relay (in the given transaction);
        True when the address must not be mailed again (a hard bounce)."""
        ...
