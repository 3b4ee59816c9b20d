"""Moving councils between the waitlist, enabled and paused.

Every way of enabling a council (the CLI, the admin console, the daily demand job) goes
through `enable`, so they all have the same effects. Functions here never commit.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from digest.models import Council, CouncilStatus


class EnablementError(ValueError):
    """The council cannot be enabled as asked; the message says why."""


@dataclass(frozen=True)
class EnableResult:
    council: Council
    changed: bool  # False when it was already enabled


def enable(
    session: Session, council: Council, now: datetime, *, base_url: str | None = None
) -> EnableResult:
    """Enable (or re-enable) a council. Idempotent: enabling an enabled council only
    updates its base URL, if one is given."""
    if base_url is not None:
        council.base_url = base_url.strip().rstrip("/")
    if not council.base_url:
        raise EnablementError(f"{council.name} has no democracy website address (base URL) yet")
    if council.status == CouncilStatus.ENABLED:
        council.updated_at = now
        return EnableResult(council, changed=False)
    council.status = CouncilStatus.ENABLED
    council.enabled_at = council.enabled_at or now
    council.paused_at = None
    council.updated_at = now
    return EnableResult(council, changed=True)


def pause(session: Session, council: Council, now: datetime) -> bool:
    """Stop collecting and sending for an enabled council; False if it was not enabled."""
    if council.status != CouncilStatus.ENABLED:
        return False
    council.status = CouncilStatus.PAUSED
    council.paused_at = now
    council.updated_at = now
    return True
