"""Apply returned messages to our records: which message and address a report is about,
and what it does to them (see `record`). Never commits."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session

from digest.bounces import record
from digest.bounces.classify import classify
from digest.bounces.parse import Failure, Report, parse
from digest.models import BounceKind, OutboxMessage, OutboxStatus

# A bounce may name only an address we have actually mailed; anything else is noise or
# an attempt to get a stranger suppressed.
_MAILED = (OutboxStatus.SENT, OutboxStatus.SENDING, OutboxStatus.FAILED)


@dataclass
class BounceSummary:
    counts: Counter[str] = field(default_factory=Counter)
    details: list[str] = field(default_factory=list)

    def add(self, outcome: str, detail: str = "") -> None:
        self.counts[outcome] += 1
        if detail:
            self.details.append(detail)

    def line(self) -> str:
        order = ("hard", "soft", "complaint", "policy", "duplicate", "ignored", "unrecognised")
        parts = [f"{self.counts[k]} {k}" for k in order if self.counts[k]]
        total = sum(self.counts.values())
        return f"{total} processed: " + (", ".join(parts) if parts else "nothing to do")


def process_message(
    session: Session, raw: bytes, *, secret_key: str, now: datetime, summary: BounceSummary
) -> None:
    report = parse(raw, secret_key)
    if report.forged:
        summary.add("ignored", "a VERP address with a bad signature (forged or mangled)")
        return
    if report.kind == "autoreply":
        summary.add("ignored", "an auto-reply")
        return
    if report.kind == "unrecognised":
        summary.add("unrecognised")
        return
    row = _our_message(session, report)
    if report.kind == "complaint":
        _complaint(session, report, row, secret_key=secret_key, now=now, summary=summary)
        return
    for failure in report.failures:
        _failure(session, report, failure, row, secret_key=secret_key, now=now, summary=summary)
    if not report.failures:
        summary.add("unrecognised")


def _our_message(session: Session, report: Report) -> OutboxMessage | None:
    if report.verp_id is not None:
        return session.get(OutboxMessage, report.verp_id)
    if report.original_message_id:
        return session.scalar(
            sa.select(OutboxMessage)
            .where(OutboxMessage.message_id == report.original_message_id)
            .limit(1)
        )
    return None


def _mailed(session: Session, address: str) -> bool:
    return (
        session.scalar(
            sa.select(OutboxMessage.id)
            .where(OutboxMessage.recipient == address, OutboxMessage.status.in_(_MAILED))
            .limit(1)
        )
        is not None
    )


def _failure(
    session: Session,
    report: Report,
    failure: Failure,
    row: OutboxMessage | None,
    *,
    secret_key: str,
    now: datetime,
    summary: BounceSummary,
) -> None:
    if failure.action in ("delivered", "relayed", "expanded"):
        return
    if row is not None:
        # Our messages have one recipient each, so the row names the address even when
        # the reporting MTA rewrote it (forwarding, aliases).
        address = row.recipient
    elif failure.recipient and _mailed(session, failure.recipient):
        address = failure.recipient
    else:
        summary.add("ignored", f"{failure.recipient or 'no address'}: not an address we mailed")
        return
    if failure.action == "delayed" or failure.status.startswith("4."):
        kind = BounceKind.SOFT
    else:
        kind = classify(failure.status, failure.smtp_code)
    outcome = record.record(
        session,
        secret_key,
        email=address,
        kind=kind,
        now=now,
        status=failure.status,
        diagnostic=failure.diagnostic,
        occurred_at=report.date,
        outbox_message_id=row.id if row is not None else None,
        subscriber_id=row.subscriber_id if row is not None else None,
    )
    if not outcome.recorded:
        summary.add("duplicate")
        return
    summary.add(kind.value, f"{address}: {kind.value} {failure.status}".strip())


def _complaint(
    session: Session,
    report: Report,
    row: OutboxMessage | None,
    *,
    secret_key: str,
    now: datetime,
    summary: BounceSummary,
) -> None:
    if report.feedback_type not in ("abuse", "fraud", "virus", "other", ""):
        # not-spam, auth-failure reports: nothing to do with the recipient's wishes.
        summary.add("ignored", f"feedback report of type {report.feedback_type}")
        return
    if row is not None:
        address = row.recipient
    elif report.complaint_recipient and _mailed(session, report.complaint_recipient):
        address = report.complaint_recipient
    else:
        summary.add("ignored", "complaint about a message we cannot identify")
        return
    outcome = record.record(
        session,
        secret_key,
        email=address,
        kind=BounceKind.COMPLAINT,
        now=now,
        status=report.feedback_type,
        diagnostic=f"ARF {report.feedback_type} report",
        occurred_at=report.date,
        outbox_message_id=row.id if row is not None else None,
        subscriber_id=row.subscriber_id if row is not None else None,
    )
    summary.add("complaint" if outcome.recorded else "duplicate", f"{address}: complaint")
