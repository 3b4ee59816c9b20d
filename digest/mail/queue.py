"""Render a templated email and put it in the outbox, in the caller's transaction."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from typing import Any

from sqlalchemy.orm import Session

from digest.config import Config
from digest.links import Links
from digest.mail import outbox
from digest.mail.outbox import MessagePurpose
from digest.mail.render import render_email
from digest.site import Site


@dataclass(frozen=True)
class MailQueue:
    config: Config
    links: Links

    @cached_property
    def site(self) -> Site:
        # Worked out once: the config does not change, and every queued email asks.
        return Site.from_config(self.config)

    @property
    def domain(self) -> str:
        return self.site.domain

    def common_context(self) -> dict[str, Any]:
        return self.site.mail_context()

    def queue(
        self,
        session: Session,
        *,
        template: str,
        purpose: MessagePurpose,
        reference: str,
        recipient: str,
        now: datetime,
        context: dict[str, Any],
        subscriber_id: int | None = None,
        subscription_id: int | None = None,
        council_id: int | None = None,
    ) -> int | None:
        """Render `template` and enqueue it; None if this exact message was queued before."""
        rendered = render_email(template, **self.common_context(), **context)
        return outbox.enqueue(
            session,
            purpose=purpose,
            reference=reference,
            recipient=recipient,
            now=now,
            domain=self.domain,
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html,
            subscriber_id=subscriber_id,
            subscription_id=subscription_id,
            council_id=council_id,
        )

    def queue_for_send_time(
        self,
        session: Session,
        *,
        purpose: MessagePurpose,
        reference: str,
        recipient: str,
        now: datetime,
        subscriber_id: int,
        subscription_id: int | None = None,
        council_id: int | None = None,
    ) -> int | None:
        """Queue a subscription email that is rendered when it is sent (see
        digest.subscriptions.emails); the row carries only what identifies it."""
        return outbox.enqueue(
            session,
            purpose=purpose,
            reference=reference,
            recipient=recipient,
            now=now,
            domain=self.domain,
            subscriber_id=subscriber_id,
            subscription_id=subscription_id,
            council_id=council_id,
        )
