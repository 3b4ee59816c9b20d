"""Addresses that must never be mailed again, stored only as keyed hashes."""

from __future__ import annotations

import re
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.addresses import email_hash
from digest.models import BLOCKING_SUPPRESSIONS, BounceEvent, Suppression, SuppressionReason

# Reasons a person can undo by subscribing again and confirming (a fresh double opt-in).
# Bounces and complaints are not undone by a web form anyone could fill in.
CLEARED_BY_CONFIRMATION = frozenset({SuppressionReason.ERASED})
# Reasons that stop every email to the address, confirmations included. The keyed hash
# that erasure leaves blocks nothing by itself: it only remembers that the address was
# erased, and a suppression for a bounce or complaint outlives erasure (`suppress`).
# (Defined with the reasons, because the delivery engine checks it at send time.)
BLOCKING = BLOCKING_SUPPRESSIONS


_BY_HASH = sa.select(Suppression).where(Suppression.email_hash == sa.bindparam("email_hash"))


def find(session: Session, secret_key: str, email: str) -> Suppression | None:
    return session.scalar(_BY_HASH, {"email_hash": email_hash(secret_key, email)})


def is_suppressed(session: Session, secret_key: str, email: str) -> bool:
    """Whether mail to the address is blocked (an erasure's hash alone does not block)."""
    found = find(session, secret_key, email)
    return found is not None and found.reason in BLOCKING


def suppress(
    session: Session,
    secret_key: str,
    email: str,
    reason: SuppressionReason,
    now: datetime,
    detail: str = "",
) -> Suppression:
    """Add (or keep) the address on the list; a harsher reason replaces a milder one."""
    existing = find(session, secret_key, email)
    if existing is not None:
        if existing.reason in CLEARED_BY_CONFIRMATION and reason not in CLEARED_BY_CONFIRMATION:
            existing.reason = reason
            existing.detail = detail
        return existing
    row = Suppression(
        email_hash=email_hash(secret_key, email), reason=reason, detail=detail, created_at=now
    )
    session.add(row)
    return row


def forget_address(session: Session, secret_key: str, email: str) -> None:
    """On erasure: keep the suppression's reason (a bounce or complaint still blocks), but
    not the receiver's words, which usually quote the address; and drop the bounce
    events recorded under the address's hash."""
    hashed = email_hash(secret_key, email)
    existing = find(session, secret_key, email)
    if existing is not None and existing.detail:
        existing.detail = re.sub(re.escape(email), "(erased)", existing.detail, flags=re.I)
    session.execute(sa.delete(BounceEvent).where(BounceEvent.email_hash == hashed))


def clear_after_confirmation(session: Session, secret_key: str, email: str) -> None:
    existing = find(session, secret_key, email)
    if existing is not None and existing.reason in CLEARED_BY_CONFIRMATION:
        session.delete(existing)


def which_suppressed(session: Session, hashes: list[str]) -> set[str]:
    """Which of these address hashes are suppressed, asked in chunks of 500 per group of
    recipients, so the cost follows the recipients, not the size of the suppression list."""
    found: set[str] = set()
    for start in range(0, len(hashes), 500):
        found.update(
            session.scalars(
                sa.select(Suppression.email_hash).where(
                    Suppression.email_hash.in_(hashes[start : start + 500])
                )
            )
        )
    return found
