"""Refusals at SMTP time: what the delivery engine's relay said about an address,
recorded like any other bounce (digest.mail.hooks.Refusals)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from digest.bounces import classify, record
from digest.config import Config
from digest.mail.replies import DeliveryError
from digest.models import BounceKind


class SmtpRefusals:
    """Classifies a final refusal of a recipient and records it (suppressing, counting
    or only reporting, as `record` decides)."""

    def __init__(self, config: Config) -> None:
        self.config = config

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
        verdict = classify.classify(
            action="delayed" if error.temporary else "failed",
            status=status,
            smtp_code=error.code,
            diagnostic=str(error),
        )
        detail = str(error) if not error.temporary else f"gave up after {attempts}: {error}"
        record.record(
            session,
            self.config.site.secret_key,
            email=recipient,
            kind=verdict.kind,
            now=now,
            status=verdict.status or status or str(error.code or ""),
            diagnostic=detail,
            reason=verdict.reason,
            outbox_message_id=message_id,
            rules=record.Rules.of(self.config.mail),
        )
        return verdict.kind == BounceKind.HARD
